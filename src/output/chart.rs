//! `benchmark_qps.png`: the reference tool's panels, drawn from the `Report` with plotters.
//!
//! 3 rows x 2 (standard, 3200x1200 px = 32x12 in at 100 dpi) or 4 x 2 with cost (3200x1600):
//! target vs actual QPS with success rate; TTFT p50/p90/p95/p99; E2E p50/p90/p95/p99; generation
//! speed (per-request tokens/s percentiles on the left axis, aggregate output throughput as a bold
//! purple line on the right); with pricing, cost per million tokens and errors by kind; and a text
//! panel with the verdicts and recommendations. With objectives, goodput is drawn beside the
//! throughput; with `--qps auto`, each probe is numbered in search order. Levels are the x axis; the maximum sustainable level
//! and the saturation point are marked on every plot. Text uses DejaVu Sans compiled into the binary,
//! so the chart is the same on a machine with no fonts. Written to a temp file, then renamed.

use crate::analyze::level::LevelReport;
use crate::analyze::report::Report;
use crate::analyze::stats::Percentiles;
use crate::analyze::verdict::{Cause, Verdict};
use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;
use std::sync::OnceLock;

const FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FONT: &str = "sans-serif";
const PURPLE: RGBColor = RGBColor(128, 0, 160);
const ORANGE: RGBColor = RGBColor(230, 130, 0);
const GREEN_OK: RGBColor = RGBColor(0, 150, 60);
const PCT_COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(214, 39, 40),
];

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

fn font_ready() -> Result<()> {
    static READY: OnceLock<bool> = OnceLock::new();
    let ok = *READY.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    ok.then_some(())
        .ok_or_else(|| anyhow!("the bundled font could not be loaded"))
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("{e:?}")
}

/// Draws the chart of `report` to `path` (a .png file).
pub fn draw(report: &Report, path: &Path) -> Result<()> {
    font_ready()?;
    if report.results.is_empty() {
        return Err(anyhow!("no level was measured"));
    }
    let tmp = path.with_extension("tmp.png");
    draw_to(report, &tmp)?;
    std::fs::rename(&tmp, path).map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
}

fn draw_to(report: &Report, path: &Path) -> Result<()> {
    let priced = report.results.iter().any(|l| l.cost_analysis.is_some());
    let rows: u32 = if priced { 4 } else { 3 };
    let (w, h) = (3200u32, 400 * rows);
    let root = BitMapBackend::new(path, (w, h)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (plots, text) = root.split_vertically(h - 400);
    let cells = plots.split_evenly(((rows - 1) as usize, 2));
    let ctx = Marks::of(report);
    qps_panel(&cells[0], &report.results, &ctx)?;
    percentile_panel(
        &cells[1],
        "Time to first token (s)",
        &report.results,
        |l| &l.ttft,
        &ctx,
    )?;
    percentile_panel(
        &cells[2],
        "End-to-end latency (s)",
        &report.results,
        |l| &l.e2e_latency,
        &ctx,
    )?;
    speed_panel(&cells[3], &report.results, &ctx)?;
    if priced {
        cost_panel(&cells[4], &report.results, &ctx)?;
        errors_panel(&cells[5], &report.results, &ctx)?;
    }
    text_panel(&text, report)?;
    root.present().map_err(err)
}

/// What every plot marks: the x range, the maximum sustainable level and the saturation point
/// (with its cause).
struct Marks {
    x_max: f64,
    max_ok: Option<f64>,
    saturation: Option<f64>,
    cause: &'static str,
}

impl Marks {
    fn of(r: &Report) -> Self {
        let top = r.results.iter().map(|l| l.qps_target).fold(0.0, f64::max);
        Marks {
            x_max: top * 1.08 + 0.1,
            max_ok: r.summary.max_sustainable_qps,
            saturation: r.summary.saturation_qps,
            cause: match r.summary.saturation_cause {
                Some(Cause::Queueing) => " (queueing)",
                Some(Cause::LatencyObjective) => " (latency)",
                Some(Cause::Errors) => " (errors)",
                None => "",
            },
        }
    }
}

fn points(levels: &[LevelReport], f: impl Fn(&LevelReport) -> Option<f64>) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = levels
        .iter()
        .filter_map(|l| f(l).filter(|y| y.is_finite()).map(|y| (l.qps_target, y)))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

fn top(series: &[&[(f64, f64)]]) -> f64 {
    let m = series
        .iter()
        .flat_map(|s| s.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    if m > 0.0 {
        m * 1.15
    } else {
        1.0
    }
}

fn text(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

type Chart<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A plot with the levels on x. With `right`, room is left for a secondary axis: call
/// `set_secondary_coord` before [`mesh`], which then draws the primary labels on the left only.
fn chart<'a, 'b>(
    area: &'a Area<'b>,
    title: &str,
    x_max: f64,
    y_max: f64,
    right: bool,
) -> Result<Chart<'a, 'b>> {
    let mut b = ChartBuilder::on(area);
    b.caption(title, text(34))
        .margin(16)
        .margin_right(if right { 16 } else { 40 })
        .x_label_area_size(64)
        .y_label_area_size(110);
    if right {
        b.right_y_label_area_size(130);
    }
    b.build_cartesian_2d(0.0..x_max, 0.0..y_max).map_err(err)
}

fn mesh<'a, 'b: 'a>(c: &mut Chart<'a, 'b>, y_desc: &str) -> Result<()> {
    c.configure_mesh()
        .x_desc("Target QPS")
        .y_desc(y_desc)
        .x_label_formatter(&|v| format!("{v}"))
        .label_style(text(24))
        .axis_desc_style(text(26))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .draw()
        .map_err(err)
}

/// Dashed vertical lines at the maximum sustainable level and the saturation point.
fn mark<'a, 'b: 'a>(c: &mut Chart<'a, 'b>, m: &Marks, y_max: f64) -> Result<()> {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    for (x, color, label, suffix) in [
        (m.max_ok, GREEN_OK, "max sustainable", ""),
        (m.saturation, RED, "saturation", m.cause),
    ] {
        let Some(x) = x else { continue };
        c.draw_series(DashedLineSeries::new(
            vec![(x, 0.0), (x, y_max)],
            14,
            8,
            color.stroke_width(3),
        ))
        .map_err(err)?;
        // Near the right edge the label goes left of its line, so it stays inside the plot.
        let (anchor, shown) = if x > 0.75 * m.x_max {
            (HPos::Right, format!("{label} {x}{suffix} "))
        } else {
            (HPos::Left, format!(" {label} {x}{suffix}"))
        };
        let style = text(22).color(&color).pos(Pos::new(anchor, VPos::Top));
        c.draw_series(std::iter::once(Text::new(shown, (x, y_max * 0.99), style)))
            .map_err(err)?;
    }
    Ok(())
}

fn line<'a, 'b: 'a>(
    c: &mut Chart<'a, 'b>,
    pts: Vec<(f64, f64)>,
    color: RGBColor,
    width: u32,
    label: &str,
) -> Result<()> {
    c.draw_series(LineSeries::new(pts.clone(), color.stroke_width(width)))
        .map_err(err)?
        .label(label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 30, y)], color.stroke_width(4)));
    c.draw_series(pts.into_iter().map(|p| Circle::new(p, 6, color.filled())))
        .map_err(err)?;
    Ok(())
}

fn legend<'a, 'b: 'a>(c: &mut Chart<'a, 'b>, pos: SeriesLabelPosition) -> Result<()> {
    c.configure_series_labels()
        .position(pos)
        .label_font(text(22))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(err)
}

fn qps_panel(area: &Area<'_>, levels: &[LevelReport], m: &Marks) -> Result<()> {
    let actual = points(levels, |l| Some(l.actual_qps));
    let ok = points(levels, |l| Some(l.successful_qps));
    let y_max = top(&[&actual, &ok]).max(m.x_max);
    let mut c = chart(
        area,
        "Throughput: target vs actual QPS, with success rate",
        m.x_max,
        y_max,
        true,
    )?
    .set_secondary_coord(0.0..m.x_max, 0.0..105.0);
    mesh(&mut c, "Requests / s")?;
    c.configure_secondary_axes()
        .y_desc("Success rate (%)")
        .label_style(text(24))
        .axis_desc_style(text(26))
        .draw()
        .map_err(err)?;
    c.draw_series(DashedLineSeries::new(
        vec![(0.0, 0.0), (m.x_max, m.x_max)],
        10,
        8,
        BLACK.mix(0.4).stroke_width(2),
    ))
    .map_err(err)?
    .label("target")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 30, y)], BLACK.mix(0.4).stroke_width(3)));
    line(&mut c, actual, PCT_COLORS[0], 4, "actual (sent)")?;
    line(&mut c, ok, PCT_COLORS[1], 4, "successful / s")?;
    // Where the endpoint queued, it served fewer requests per second than were offered.
    let served = points(levels, |l| l.keep_up.steady_served_qps);
    line(
        &mut c,
        served,
        MAGENTA,
        3,
        "served / s (first tokens, steady part)",
    )?;
    // With objectives: requests per second that met every one of them.
    let goodput = points(levels, |l| l.goodput_qps);
    if !goodput.is_empty() {
        line(
            &mut c,
            goodput,
            GREEN_OK,
            4,
            "goodput (met every objective) / s",
        )?;
    }
    // With --qps auto: each probe's number, in search order, above its point.
    for l in levels {
        if let Some(n) = l.search_probe {
            c.draw_series(std::iter::once(Text::new(
                format!("#{n}"),
                (l.qps_target, l.actual_qps),
                text(22),
            )))
            .map_err(err)?;
        }
    }
    let success = points(levels, |l| Some(l.success_rate));
    c.draw_secondary_series(LineSeries::new(success.clone(), RED.stroke_width(3)))
        .map_err(err)?
        .label("success % (right)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 30, y)], RED.stroke_width(4)));
    // Each level's verdict on its success-rate marker: a green, orange or red dot for PASS, WARN and
    // FAIL by errors; a magenta triangle for a level that failed by queueing (or a latency objective)
    // although its requests succeeded.
    let queued = |l: &&LevelReport| {
        matches!(
            l.assessment.saturation_cause,
            Some(Cause::Queueing) | Some(Cause::LatencyObjective)
        )
    };
    c.draw_secondary_series(levels.iter().filter(|l| !queued(l)).map(|l| {
        let color = match l.assessment.verdict {
            Verdict::Pass => GREEN_OK,
            Verdict::Warn => ORANGE,
            Verdict::Fail => RED,
        };
        Circle::new((l.qps_target, l.success_rate), 10, color.filled())
    }))
    .map_err(err)?;
    if levels.iter().any(|l| queued(&l)) {
        c.draw_secondary_series(
            levels
                .iter()
                .filter(queued)
                .map(|l| TriangleMarker::new((l.qps_target, l.success_rate), 16, MAGENTA.filled())),
        )
        .map_err(err)?
        .label("FAIL by queueing / latency")
        .legend(|(x, y)| TriangleMarker::new((x + 15, y), 10, MAGENTA.filled()));
    }
    // Levels whose verdict is not used: the client did not deliver the load (or its lag could
    // explain the FAIL), or the level was interrupted.
    let limited = |l: &&LevelReport| !l.assessment.trusted && !l.partial;
    if levels.iter().any(|l| limited(&l)) {
        let grey = RGBColor(120, 120, 120);
        c.draw_secondary_series(
            levels
                .iter()
                .filter(limited)
                .map(|l| Cross::new((l.qps_target, l.success_rate), 14, grey.stroke_width(4))),
        )
        .map_err(err)?
        .label("client-limited (not trusted)")
        .legend(move |(x, y)| Cross::new((x + 15, y), 8, grey.stroke_width(3)));
    }
    let partial = |l: &&LevelReport| l.partial;
    if levels.iter().any(|l| partial(&l)) {
        c.draw_secondary_series(
            levels
                .iter()
                .filter(partial)
                .map(|l| Circle::new((l.qps_target, l.success_rate), 16, BLACK.stroke_width(3))),
        )
        .map_err(err)?
        .label("partial (interrupted, not used)")
        .legend(|(x, y)| Circle::new((x + 15, y), 8, BLACK.stroke_width(3)));
    }
    mark(&mut c, m, y_max)?;
    legend(&mut c, SeriesLabelPosition::MiddleLeft)
}

fn percentile_panel(
    area: &Area<'_>,
    title: &str,
    levels: &[LevelReport],
    get: fn(&LevelReport) -> &Percentiles,
    m: &Marks,
) -> Result<()> {
    let series: Vec<(f64, Vec<(f64, f64)>)> = [50.0, 90.0, 95.0, 99.0]
        .into_iter()
        .map(|p| (p, points(levels, |l| get(l).get(p))))
        .collect();
    let refs: Vec<&[(f64, f64)]> = series.iter().map(|(_, s)| s.as_slice()).collect();
    let y_max = top(&refs);
    let mut c = chart(area, title, m.x_max, y_max, false)?;
    mesh(&mut c, "Seconds")?;
    for ((p, pts), color) in series.into_iter().zip(PCT_COLORS) {
        line(&mut c, pts, color, 3, &format!("p{p}"))?;
    }
    mark(&mut c, m, y_max)?;
    legend(&mut c, SeriesLabelPosition::UpperLeft)
}

fn speed_panel(area: &Area<'_>, levels: &[LevelReport], m: &Marks) -> Result<()> {
    let series: Vec<(f64, Vec<(f64, f64)>)> = [50.0, 90.0, 95.0, 99.0]
        .into_iter()
        .map(|p| (p, points(levels, |l| l.tokens_per_sec.get(p))))
        .collect();
    let refs: Vec<&[(f64, f64)]> = series.iter().map(|(_, s)| s.as_slice()).collect();
    let y_max = top(&refs);
    let aggregate = points(levels, |l| Some(l.output_throughput_tok_s));
    let y2_max = top(&[&aggregate]);
    let mut c = chart(
        area,
        "Generation speed: per request (left), aggregate output (right)",
        m.x_max,
        y_max,
        true,
    )?
    .set_secondary_coord(0.0..m.x_max, 0.0..y2_max);
    mesh(&mut c, "Tokens / s per request")?;
    c.configure_secondary_axes()
        .y_desc("Aggregate output tokens / s")
        .label_style(text(24))
        .axis_desc_style(text(26))
        .draw()
        .map_err(err)?;
    for ((p, pts), color) in series.into_iter().zip(PCT_COLORS) {
        line(&mut c, pts, color, 3, &format!("p{p} per request"))?;
    }
    c.draw_secondary_series(LineSeries::new(aggregate.clone(), PURPLE.stroke_width(7)))
        .map_err(err)?
        .label("aggregate output tok/s (right)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 30, y)], PURPLE.stroke_width(7)));
    c.draw_secondary_series(
        aggregate
            .into_iter()
            .map(|p| Circle::new(p, 8, PURPLE.filled())),
    )
    .map_err(err)?;
    mark(&mut c, m, y_max)?;
    legend(&mut c, SeriesLabelPosition::LowerLeft)
}

fn cost_panel(area: &Area<'_>, levels: &[LevelReport], m: &Marks) -> Result<()> {
    let cost = points(levels, |l| {
        l.cost_analysis
            .as_ref()
            .and_then(|c| c.cost_per_million_tokens)
    });
    let y_max = top(&[&cost]);
    let mut c = chart(
        area,
        "Cost per million tokens (input + output)",
        m.x_max,
        y_max,
        false,
    )?;
    mesh(&mut c, "$ / M tokens")?;
    line(&mut c, cost, PCT_COLORS[0], 4, "$ / M tokens")?;
    mark(&mut c, m, y_max)?;
    legend(&mut c, SeriesLabelPosition::MiddleRight)
}

fn errors_panel(area: &Area<'_>, levels: &[LevelReport], m: &Marks) -> Result<()> {
    let mut kinds: Vec<&String> = levels.iter().flat_map(|l| l.errors.keys()).collect();
    kinds.sort();
    kinds.dedup();
    let series: Vec<(String, Vec<(f64, f64)>)> = kinds
        .iter()
        .map(|k| {
            (
                (*k).clone(),
                points(levels, |l| Some(*l.errors.get(*k).unwrap_or(&0) as f64)),
            )
        })
        .collect();
    let refs: Vec<&[(f64, f64)]> = series.iter().map(|(_, s)| s.as_slice()).collect();
    let y_max = top(&refs);
    let mut c = chart(area, "Errors by kind", m.x_max, y_max, false)?;
    mesh(&mut c, "Requests")?;
    for (i, (kind, pts)) in series.into_iter().enumerate() {
        line(&mut c, pts, PCT_COLORS[(i + 3) % 4], 3, &kind)?;
    }
    mark(&mut c, m, y_max)?;
    if !kinds.is_empty() {
        legend(&mut c, SeriesLabelPosition::UpperLeft)?;
    }
    Ok(())
}

fn text_panel(area: &Area<'_>, report: &Report) -> Result<()> {
    area.fill(&RGBColor(246, 246, 246)).map_err(err)?;
    let summary = crate::output::summary::render(report);
    let (verdicts, answer): (Vec<&str>, Vec<&str>) = summary
        .lines()
        .filter(|l| !l.is_empty())
        .partition(|l| l.starts_with("QPS "));
    area.draw(&Text::new(
        "Summary and recommendations",
        (40, 20),
        text(34),
    ))
    .map_err(err)?;
    let (left, right) = area.split_horizontally(1600);
    for (col, lines, x) in [(&left, verdicts, 40), (&right, answer, 20)] {
        for (i, l) in lines.iter().take(11).enumerate() {
            let style = if l.contains("FAIL") {
                text(24).color(&RED)
            } else if l.contains("WARN") {
                text(24).color(&ORANGE)
            } else {
                text(24)
            };
            col.draw(&Text::new(wrap(l, 118), (x, 75 + 29 * i as i32), style))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// Cuts a line to `n` characters so it stays in its column.
fn wrap(l: &str, n: usize) -> String {
    match l.char_indices().nth(n) {
        Some((i, _)) => format!("{}...", &l[..i]),
        None => l.to_string(),
    }
}
