//! The chart (`benchmark_qps.png`, and `.svg` with `--plot-format svg|both`), drawn from the
//! `Report` with plotters.
//!
//! Rows of two panels, 1600 x 400 px each, then the text panel: target vs actual QPS with success
//! rate and verdicts; TTFT and E2E at the run's `--percentiles`; generation speed (per request, and
//! the aggregate output throughput); with pricing, cost per million tokens and errors by kind; with
//! `--metrics-url`, the server's queue and KV cache and its TTFT against redline's. Every plot marks
//! the maximum sustainable level and the saturation point (labelled with the same words as the
//! verdict text), and shades levels whose verdict is not used (client-limited or interrupted).
//! Legends sit beside their plots (`legend.rs`), so they hide no data; the text panel (`text.rs`)
//! wraps long lines and grows to hold them all, so nothing is cut. Text uses DejaVu Sans compiled
//! into the binary. Files are written to a temporary name, then renamed. The panels are in
//! `panels.rs`, the plotting helpers they share in `plot.rs`, the files' names and writing in
//! `file.rs`; `compare.rs` draws `redline
//! compare`'s overlay, `frontier.rs` `redline sweep`'s frontier.

pub mod compare;
mod file;
pub mod frontier;
mod legend;
mod panels;
mod plot;
mod text;

use crate::analyze::level::Batch;
use crate::analyze::report::Report;
use crate::cli::PlotFormat;
use anyhow::{anyhow, Result};
use file::write;
pub use file::{files, html_file};
/// The marks every chart of a run shares (the HTML report's too).
pub use plot::Marks;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// One panel's size.
const PANEL_W: u32 = 1600;
const PANEL_H: u32 = 400;

/// The panels of a report, in the order drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Panel {
    Qps,
    Ttft,
    E2e,
    Speed,
    Cost,
    Errors,
    ServerLoad,
    ServerTtft,
}

fn panels(report: &Report) -> Vec<Panel> {
    let mut v = vec![Panel::Qps, Panel::Ttft, Panel::E2e, Panel::Speed];
    // Errors are drawn whenever some request failed, priced or not; the cost panel beside them
    // says when there is no pricing.
    let priced = report.results.iter().any(|l| l.cost_analysis.is_some());
    let failed = report.results.iter().any(|l| !l.errors.is_empty());
    if priced || failed {
        v.extend([Panel::Cost, Panel::Errors]);
    }
    if report.results.iter().any(|l| l.server.is_some()) {
        v.extend([Panel::ServerLoad, Panel::ServerTtft]);
    }
    v
}

/// Draws the chart of `report` (latency panels at `percentiles`) to `path` (the PNG's name) in
/// `format`; returns the files written.
pub fn draw(
    report: &Report,
    percentiles: &[f64],
    path: &Path,
    format: PlotFormat,
) -> Result<Vec<PathBuf>> {
    plot::font_ready()?;
    if report.results.is_empty() {
        return Err(anyhow!("no level was measured"));
    }
    let (png, svg) = files(path);
    let mut written = Vec::new();
    if matches!(format, PlotFormat::Png | PlotFormat::Both) {
        written.push(write(
            &png,
            "png",
            |tmp, size| {
                render(
                    BitMapBackend::new(tmp, size).into_drawing_area(),
                    report,
                    percentiles,
                )
            },
            size(report),
        )?);
    }
    if matches!(format, PlotFormat::Svg | PlotFormat::Both) {
        written.push(write(
            &svg,
            "svg",
            |tmp, size| {
                render(
                    SVGBackend::new(tmp, size).into_drawing_area(),
                    report,
                    percentiles,
                )
            },
            size(report),
        )?);
    }
    Ok(written)
}

/// The image size: the rows of panels and the text panel, as tall as its lines need.
fn size(report: &Report) -> (u32, u32) {
    let rows = panels(report).len().div_ceil(2) as u32;
    (2 * PANEL_W, rows * PANEL_H + text::height(report))
}

fn render<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    report: &Report,
    percentiles: &[f64],
) -> Result<()> {
    root.fill(&WHITE).map_err(plot::err)?;
    let kinds = panels(report);
    let rows = kinds.len().div_ceil(2);
    let (plots, text_area) = root.split_vertically(rows as u32 * PANEL_H);
    let cells = plots.split_evenly((rows, 2));
    let marks = plot::Marks::of(report);
    let levels = &report.results;
    for (kind, cell) in kinds.iter().zip(&cells) {
        match kind {
            Panel::Qps => panels::qps(cell, levels, &marks)?,
            Panel::Ttft if Batch::of(levels).is_some() => panels::not_applicable(
                cell,
                "Time to first token",
                &Batch::of(levels)
                    .map(Batch::no_first_token)
                    .unwrap_or_default(),
                &marks,
            )?,
            Panel::Ttft => panels::percentiles(
                cell,
                "Time to first token (s)",
                levels,
                |l| &l.ttft,
                percentiles,
                &marks,
            )?,
            Panel::E2e => panels::percentiles(
                cell,
                "End-to-end latency (s)",
                levels,
                |l| &l.e2e_latency,
                percentiles,
                &marks,
            )?,
            Panel::Speed => panels::speed(cell, levels, percentiles, &marks)?,
            Panel::Cost => panels::cost(cell, levels, &marks)?,
            Panel::Errors => panels::errors(cell, levels, &marks)?,
            Panel::ServerLoad => panels::server_load(cell, levels, &marks)?,
            Panel::ServerTtft => panels::server_ttft(cell, levels, &marks)?,
        }
    }
    text::draw(&text_area, report)?;
    root.present().map_err(plot::err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::level::level_report;
    use crate::config::ReportOptions;
    use crate::measure::record::{LevelRun, RequestRecord};

    /// A level of `n` successful requests at `qps`, interrupted when `stopped` says so.
    fn level(qps: f64, n: u64, stopped: Option<f64>) -> LevelRun {
        let records = (0..n)
            .map(|i| {
                let mut r = RequestRecord::new(0, qps, i, 0, i as f64 / qps);
                r.sent_s = Some(r.planned_s);
                r.first_token_s = Some(r.planned_s + 0.1);
                r.end_s = r.planned_s + 1.0;
                r.content_chunks = 10;
                r
            })
            .collect();
        LevelRun::new(
            crate::config::LevelId::rate(0, qps),
            qps,
            n as f64 / qps,
            records,
            stopped,
        )
    }

    fn report(notes: &[&str]) -> Report {
        let o = ReportOptions::default();
        let levels = vec![
            level_report(&level(2.0, 20, None), &o),
            level_report(&level(4.0, 12, Some(3.0)), &o),
        ];
        let mut r = Report::new(levels, &o);
        r.summary.notes.extend(notes.iter().map(|n| n.to_string()));
        r
    }

    #[test]
    fn errors_get_their_panel_without_pricing() {
        let mut r = report(&[]);
        assert!(!panels(&r).contains(&Panel::Errors));
        r.results[0].errors.insert("HTTP 503".into(), 3);
        let kinds = panels(&r);
        assert!(kinds.contains(&Panel::Errors) && kinds.contains(&Panel::Cost));
        // The cost panel says why it is empty.
        assert!(svg(&r).contains("no cost: the run had no pricing"));
    }

    #[test]
    fn a_closed_loop_is_drawn_at_the_rates_it_achieved_with_no_target() {
        let open = svg(&report(&[]));
        assert!(open.contains("Target QPS") && open.contains("\ntarget\n"));
        let mut r = report(&[]);
        for (l, n) in r.results.iter_mut().zip([2, 8]) {
            l.concurrency = Some(n);
            l.qps_target = None;
        }
        let closed = svg(&r);
        assert!(closed.contains("Achieved QPS (each level a concurrency)"));
        assert!(closed.contains("2 in flight") && closed.contains("8 in flight"));
        assert!(!closed.contains("Target QPS") && !closed.contains("\ntarget\n"));
    }

    #[test]
    fn chart_names_get_the_format_they_are_written_in() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(files(&p("d/c.png")), (p("d/c.png"), p("d/c.svg")));
        assert_eq!(files(&p("d/c.SVG")), (p("d/c.png"), p("d/c.svg")));
        assert_eq!(files(&p("mychart")), (p("mychart.png"), p("mychart.svg")));
        assert_eq!(files(&p("run.v2")), (p("run.v2.png"), p("run.v2.svg")));
        assert_eq!(PlotFormat::for_output(None, "c.svg"), PlotFormat::Svg);
        assert_eq!(PlotFormat::for_output(None, "c.png"), PlotFormat::Png);
        assert_eq!(
            PlotFormat::for_output(Some(PlotFormat::Png), "c.svg"),
            PlotFormat::Png
        );
        assert_eq!(
            PlotFormat::Svg.with(Some(PlotFormat::Png)),
            PlotFormat::Both
        );
        assert_eq!(PlotFormat::Svg.with(None), PlotFormat::Svg);
    }

    /// The text of an SVG drawn from `r`.
    fn svg(r: &Report) -> String {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("c.png");
        let files = draw(r, &[50.0, 99.9], &png, PlotFormat::Svg).unwrap();
        assert_eq!(files, [dir.path().join("c.svg")]);
        std::fs::read_to_string(&files[0]).unwrap()
    }

    #[test]
    fn no_summary_line_is_cut_and_the_panel_grows_to_hold_them() {
        let long = "a note of many words that runs on and on ".repeat(12);
        let r = report(&[&long, &long, &long, &long, &long]);
        let text = svg(&r);
        let summary = crate::output::summary::render(&r);
        for word in summary.split_whitespace() {
            let word = word
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('\'', "&apos;")
                .replace('"', "&quot;");
            assert!(text.contains(&word), "{word} is missing from the chart");
        }
        assert!(!text.contains("..."), "nothing is elided");
        assert!(text::height(&r) > text::height(&report(&[])));
        assert_eq!(size(&r).1, 2 * PANEL_H + text::height(&r));
    }

    #[test]
    fn partial_levels_are_shaded_and_named_in_every_legend() {
        let r = report(&[]);
        assert!(r.results[1].partial);
        let text = svg(&r);
        // One legend entry per panel: four panels.
        assert_eq!(text.matches("(client-limited or").count(), 4, "{text}");
        assert!(text.contains("partial (interrupted,"), "{text}");
        assert!(text.contains("p99.9"), "the run's percentiles are drawn");
    }
}
