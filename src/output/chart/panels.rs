//! The chart's panels, each a plot with its legend beside it (`legend.rs`) and the marks every
//! plot carries (`plot.rs`).

use super::legend::{self, Entry, Glyph};
use super::plot::{
    chart, empty, line, marks, mesh, points, shade, top, Area, Chart, DualChart, Marks, COLORS,
    GREEN_OK, GREY, ORANGE, PURPLE,
};
use super::plot::{err, stagger, success_tick, text};
use crate::analyze::level::{Batch, LevelReport};
use crate::analyze::stats::Percentiles;
use crate::analyze::verdict::{Cause, Verdict};
use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A panel's plot with its axes and the run's marks drawn (under the series that follow).
fn framed<'a, DB: DrawingBackend>(
    plot: &'a Area<DB>,
    title: &str,
    unit: &str,
    m: &Marks,
    y_max: f64,
) -> Result<Chart<'a, DB>> {
    let mut c = chart(plot, title, m.x_max, y_max, false)?;
    mesh(&mut c, m.x_label(), unit)?;
    marks(&mut c, m, y_max)?;
    Ok(c)
}

/// A dual-axis plot (its right axis running to `y2_max`, described by `unit2`), with its axes
/// and the run's marks drawn.
fn framed_dual<'a, DB: DrawingBackend>(
    plot: &'a Area<DB>,
    title: &str,
    (unit, unit2): (&str, &str),
    m: &Marks,
    (y_max, y2_max): (f64, f64),
) -> Result<DualChart<'a, DB>> {
    let mut c =
        chart(plot, title, m.x_max, y_max, true)?.set_secondary_coord(0.0..m.x_max, 0.0..y2_max);
    mesh(&mut c, m.x_label(), unit)?;
    c.configure_secondary_axes()
        .y_desc(unit2)
        .label_style(text(24))
        .axis_desc_style(text(26))
        .draw()
        .map_err(err)?;
    marks(&mut c, m, y_max)?;
    Ok(c)
}

/// A plot with nothing to draw: it says why, and its legend stays empty.
fn nothing<DB: DrawingBackend>(
    c: &mut Chart<'_, DB>,
    side: &Area<DB>,
    why: &str,
    m: &Marks,
    y_max: f64,
) -> Result<()> {
    empty(c, why, m.x_max, y_max)?;
    legend::draw(side, &[])
}

/// The shaded bands' entry, when a plot has any.
fn with_shaded(mut entries: Vec<Entry>, m: &Marks) -> Vec<Entry> {
    if m.any_shaded() {
        entries.push(Entry::shaded());
    }
    entries
}

pub fn qps<DB: DrawingBackend>(area: &Area<DB>, levels: &[LevelReport], m: &Marks) -> Result<()> {
    let (plot, side) = legend::split(area);
    let actual = points(levels, |l| Some(l.actual_qps));
    let ok = points(levels, |l| Some(l.successful_qps));
    let y_max = top(&[&actual, &ok]).max(m.x_max);
    let title = if m.closed {
        "Achieved QPS at each concurrency, with success rate"
    } else {
        "Target vs actual QPS, with success rate"
    };
    let mut c =
        chart(&plot, title, m.x_max, y_max, true)?.set_secondary_coord(0.0..m.x_max, 0.0..130.0);
    mesh(&mut c, m.x_label(), "Requests / s")?;
    // The axis runs past 100 only to leave the marks' labels room above the data.
    c.configure_secondary_axes()
        .y_desc("Success rate (%)")
        .y_label_formatter(&success_tick)
        .label_style(text(24))
        .axis_desc_style(text(26))
        .draw()
        .map_err(err)?;
    marks(&mut c, m, y_max)?;
    let mut entries = Vec::new();
    // A closed loop offered no rate: no target to draw.
    if !m.closed {
        c.draw_series(DashedLineSeries::new(
            vec![(0.0, 0.0), (m.x_max, m.x_max)],
            10,
            8,
            BLACK.mix(0.4).stroke_width(2),
        ))
        .map_err(err)?;
        entries.push(Entry::new("target", RGBColor(150, 150, 150), Glyph::Dashed));
    }
    line(&mut c, actual, COLORS[0], 4)?;
    line(&mut c, ok, COLORS[1], 4)?;
    entries.push(Entry::new("actual (sent) / s", COLORS[0], Glyph::Line(4)));
    entries.push(Entry::new("successful / s", COLORS[1], Glyph::Line(4)));
    // Where the endpoint queued, it served fewer requests per second than were offered.
    let served = points(levels, |l| l.keep_up.steady_served_qps);
    if !served.is_empty() {
        line(&mut c, served, MAGENTA, 3)?;
        entries.push(Entry::new(
            "served / s (first tokens, steady part)",
            MAGENTA,
            Glyph::Line(3),
        ));
    }
    let goodput = points(levels, |l| l.goodput_qps);
    if !goodput.is_empty() {
        line(&mut c, goodput, GREEN_OK, 4)?;
        entries.push(Entry::new(
            "goodput (met every objective) / s",
            GREEN_OK,
            Glyph::Line(4),
        ));
    }
    // With --qps auto: each probe's number, in search order, above its point; a probe close to
    // one already labelled gets its label a line higher, so no two labels run into each other.
    let mut probes: Vec<&LevelReport> =
        levels.iter().filter(|l| l.search_probe.is_some()).collect();
    probes.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let at: Vec<(f64, f64)> = probes.iter().map(|l| (l.rate, l.actual_qps)).collect();
    let ys = stagger(&at, m.x_max * 0.035, y_max * 0.07);
    for (l, y) in probes.iter().zip(ys) {
        let n = l.search_probe.unwrap_or_default();
        c.draw_series(std::iter::once(Text::new(
            format!("#{n}"),
            (l.rate, y),
            text(22),
        )))
        .map_err(err)?;
    }
    // A closed loop's points are its concurrencies: each named just above its point.
    let above = text(22).pos(Pos::new(HPos::Center, VPos::Bottom));
    for l in levels {
        if let Some(n) = l.concurrency {
            let y = l.actual_qps + y_max * 0.03;
            c.draw_series(std::iter::once(Text::new(
                format!("{n} in flight"),
                (l.rate, y),
                above.clone(),
            )))
            .map_err(err)?;
        }
    }
    let success = points(levels, |l| Some(l.success_rate));
    c.draw_secondary_series(LineSeries::new(success, RED.stroke_width(3)))
        .map_err(err)?;
    entries.push(Entry::new("success % (right axis)", RED, Glyph::Line(3)));
    verdict_markers(&mut c, levels, &mut entries)?;
    legend::draw(&side, &with_shaded(entries, m))
}

/// Each level's verdict on its success-rate point: a green, orange or red dot for PASS, WARN and
/// FAIL by errors; a magenta triangle for a FAIL by queueing or a latency objective; and around it
/// a grey cross for a client-limited level, a black ring for an interrupted one.
fn verdict_markers<DB: DrawingBackend>(
    c: &mut plotters::chart::DualCoordChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    levels: &[LevelReport],
    entries: &mut Vec<Entry>,
) -> Result<()> {
    let queued = |l: &LevelReport| {
        matches!(
            l.assessment.saturation_cause,
            Some(Cause::Queueing) | Some(Cause::LatencyObjective)
        )
    };
    for l in levels {
        let at = (l.rate, l.success_rate);
        if queued(l) {
            c.draw_secondary_series(std::iter::once(TriangleMarker::new(
                at,
                16,
                MAGENTA.filled(),
            )))
            .map_err(err)?;
        } else {
            let color = match l.assessment.verdict {
                Verdict::Pass => GREEN_OK,
                Verdict::Warn => ORANGE,
                Verdict::Fail => RED,
            };
            c.draw_secondary_series(std::iter::once(Circle::new(at, 10, color.filled())))
                .map_err(err)?;
        }
        match shade(l) {
            Some("partial") => {
                c.draw_secondary_series(std::iter::once(Circle::new(
                    at,
                    18,
                    BLACK.stroke_width(3),
                )))
                .map_err(err)?;
            }
            Some(_) => {
                c.draw_secondary_series(std::iter::once(Cross::new(at, 16, GREY.stroke_width(4))))
                    .map_err(err)?;
            }
            None => {}
        }
    }
    entries.push(Entry::new("PASS / WARN / FAIL", GREEN_OK, Glyph::Dot));
    if levels.iter().any(queued) {
        entries.push(Entry::new(
            "FAIL by queueing or latency",
            MAGENTA,
            Glyph::Triangle,
        ));
    }
    if levels.iter().any(|l| shade(l) == Some("client-limited")) {
        entries.push(Entry::new(
            "client-limited (verdict not used)",
            GREY,
            Glyph::Cross,
        ));
    }
    if levels.iter().any(|l| l.partial) {
        entries.push(Entry::new(
            "partial (interrupted, not used)",
            BLACK,
            Glyph::Ring,
        ));
    }
    Ok(())
}

/// A latency at each of the run's percentiles.
pub fn percentiles<DB: DrawingBackend>(
    area: &Area<DB>,
    title: &str,
    levels: &[LevelReport],
    get: fn(&LevelReport) -> &Percentiles,
    ps: &[f64],
    m: &Marks,
) -> Result<()> {
    let (plot, side) = legend::split(area);
    let series: Vec<(f64, Vec<(f64, f64)>)> = ps
        .iter()
        .map(|&p| (p, points(levels, |l| get(l).get(p))))
        .collect();
    let refs: Vec<&[(f64, f64)]> = series.iter().map(|(_, s)| s.as_slice()).collect();
    let y_max = top(&refs);
    let mut c = framed(&plot, title, "Seconds", m, y_max)?;
    let mut entries = Vec::new();
    for (i, (p, pts)) in series.into_iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        line(&mut c, pts, color, 3)?;
        entries.push(Entry::new(format!("p{p}"), color, Glyph::Line(3)));
    }
    legend::draw(&side, &with_shaded(entries, m))
}

/// What does not apply to a run (a whole reply has no first token): the panel says so.
pub fn not_applicable<DB: DrawingBackend>(
    area: &Area<DB>,
    title: &str,
    why: &str,
    m: &Marks,
) -> Result<()> {
    let (plot, side) = legend::split(area);
    let mut c = framed(&plot, title, "", m, 1.0)?;
    nothing(&mut c, &side, why, m, 1.0)
}

/// `--api embeddings` (rerank): inputs (documents) per second (left) and input tokens per
/// second (right).
pub fn batched<DB: DrawingBackend>(
    area: &Area<DB>,
    levels: &[LevelReport],
    b: Batch,
    m: &Marks,
) -> Result<()> {
    let (plot, side) = legend::split(area);
    let inputs = points(levels, |l| l.batched().map(|(_, e)| e.inputs_per_s));
    let tokens = points(levels, |l| l.batched().map(|(_, e)| e.input_tokens_per_s));
    let title = format!(
        "{}: {} per second (left), input tokens per second (right)",
        b.title, b.unit
    );
    let left = format!("{} / s", b.column.trim_end_matches("/s"));
    let units = (left.as_str(), "Input tokens / s");
    let mut c = framed_dual(&plot, &title, units, m, (top(&[&inputs]), top(&[&tokens])))?;
    line(&mut c, inputs, COLORS[0], 3)?;
    c.draw_secondary_series(LineSeries::new(tokens, PURPLE.stroke_width(5)))
        .map_err(err)?;
    let entries = vec![
        Entry::new(format!("{} / s", b.unit), COLORS[0], Glyph::Line(3)),
        Entry::new("input tokens / s (right axis)", PURPLE, Glyph::Line(5)),
    ];
    legend::draw(&side, &with_shaded(entries, m))
}

pub fn speed<DB: DrawingBackend>(
    area: &Area<DB>,
    levels: &[LevelReport],
    ps: &[f64],
    m: &Marks,
) -> Result<()> {
    if let Some(b) = Batch::of(levels) {
        return batched(area, levels, b, m);
    }
    let (plot, side) = legend::split(area);
    let series: Vec<(f64, Vec<(f64, f64)>)> = ps
        .iter()
        .map(|&p| (p, points(levels, |l| l.tokens_per_sec.get(p))))
        .collect();
    let refs: Vec<&[(f64, f64)]> = series.iter().map(|(_, s)| s.as_slice()).collect();
    let y_max = top(&refs);
    let aggregate = points(levels, |l| Some(l.output_throughput_tok_s));
    let y2_max = top(&[&aggregate]);
    let title = "Generation speed: per request (left), aggregate (right)";
    let units = ("Tokens / s per request", "Output tokens / s, all requests");
    let mut c = framed_dual(&plot, title, units, m, (y_max, y2_max))?;
    let mut entries = Vec::new();
    for (i, (p, pts)) in series.into_iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        line(&mut c, pts, color, 3)?;
        entries.push(Entry::new(
            format!("p{p} per request"),
            color,
            Glyph::Line(3),
        ));
    }
    c.draw_secondary_series(LineSeries::new(aggregate.clone(), PURPLE.stroke_width(7)))
        .map_err(err)?;
    c.draw_secondary_series(
        aggregate
            .into_iter()
            .map(|p| Circle::new(p, 8, PURPLE.filled())),
    )
    .map_err(err)?;
    entries.push(Entry::new(
        "aggregate output tok/s (right axis)",
        PURPLE,
        Glyph::Line(7),
    ));
    legend::draw(&side, &with_shaded(entries, m))
}

pub fn cost<DB: DrawingBackend>(area: &Area<DB>, levels: &[LevelReport], m: &Marks) -> Result<()> {
    let (plot, side) = legend::split(area);
    let cost = points(levels, |l| {
        l.cost_analysis
            .as_ref()
            .and_then(|c| c.cost_per_million_tokens)
    });
    let y_max = top(&[&cost]);
    let title = "Cost per million tokens (input + output)";
    let mut c = framed(&plot, title, "$ / M tokens", m, y_max)?;
    if levels.iter().all(|l| l.cost_analysis.is_none()) {
        let why = "no cost: the run had no pricing (--gpu-rate and --num-gpus)";
        return nothing(&mut c, &side, why, m, y_max);
    }
    if cost.is_empty() {
        // Priced, but no level's stream reported usage: say so rather than draw nothing.
        let why = "no cost: no successful request's stream carried usage tokens";
        return nothing(&mut c, &side, why, m, y_max);
    }
    line(&mut c, cost, COLORS[0], 4)?;
    legend::draw(
        &side,
        &with_shaded(
            vec![Entry::new("$ / M tokens", COLORS[0], Glyph::Line(4))],
            m,
        ),
    )
}

pub fn errors<DB: DrawingBackend>(
    area: &Area<DB>,
    levels: &[LevelReport],
    m: &Marks,
) -> Result<()> {
    let (plot, side) = legend::split(area);
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
    let mut c = framed(&plot, "Errors by kind", "Requests", m, y_max)?;
    if series.is_empty() {
        empty(&mut c, "no errors at any level", m.x_max, y_max)?;
    }
    let mut entries = Vec::new();
    for (i, (kind, pts)) in series.into_iter().enumerate() {
        let color = COLORS[(i + 3) % COLORS.len()];
        line(&mut c, pts, color, 3)?;
        entries.push(Entry::new(kind, color, Glyph::Line(3)));
    }
    legend::draw(&side, &with_shaded(entries, m))
}

/// `--metrics-url`: requests running and waiting on the server, and its KV-cache usage.
pub fn server_load<DB: DrawingBackend>(
    area: &Area<DB>,
    levels: &[LevelReport],
    m: &Marks,
) -> Result<()> {
    let (plot, side) = legend::split(area);
    let server = |f: fn(&crate::analyze::server::ServerMetrics) -> Option<f64>| {
        points(levels, move |l| l.server.as_ref().and_then(f))
    };
    let running_mean = server(|s| s.running.as_ref().map(|g| g.mean));
    let running_max = server(|s| s.running.as_ref().map(|g| g.max));
    let waiting_max = server(|s| s.waiting.as_ref().map(|g| g.max));
    let kv_max = server(|s| s.kv_cache_usage.as_ref().map(|g| g.max * 100.0));
    let y_max = top(&[&running_mean, &running_max, &waiting_max]);
    let title = "Server: requests running and waiting, KV cache";
    let units = ("Requests", "KV cache used (%)");
    let mut c = framed_dual(&plot, title, units, m, (y_max, 130.0))?;
    let mut entries = Vec::new();
    for (pts, color, label) in [
        (running_mean, COLORS[0], "running (mean)"),
        (running_max, COLORS[1], "running (max)"),
        (waiting_max, COLORS[3], "waiting (max)"),
    ] {
        if !pts.is_empty() {
            line(&mut c, pts, color, 3)?;
            entries.push(Entry::new(label, color, Glyph::Line(3)));
        }
    }
    if !kv_max.is_empty() {
        c.draw_secondary_series(LineSeries::new(kv_max, PURPLE.stroke_width(4)))
            .map_err(err)?;
        entries.push(Entry::new(
            "KV cache max % (right axis)",
            PURPLE,
            Glyph::Line(4),
        ));
    }
    if entries.is_empty() {
        empty(
            &mut c,
            "the metrics page showed no queue figures",
            m.x_max,
            y_max,
        )?;
    }
    legend::draw(&side, &with_shaded(entries, m))
}

/// `--metrics-url`: the server's own TTFT against redline's, the gap being network and client.
pub fn server_ttft<DB: DrawingBackend>(
    area: &Area<DB>,
    levels: &[LevelReport],
    m: &Marks,
) -> Result<()> {
    let (plot, side) = legend::split(area);
    let server = points(levels, |l| {
        l.server.as_ref()?.ttft_s.as_ref().map(|t| t.mean)
    });
    let client = points(levels, |l| {
        let s = l.server.as_ref()?;
        Some(s.ttft_s.as_ref()?.mean + s.ttft_gap_s?)
    });
    let y_max = top(&[&server, &client]);
    let title = "Time to first token: server vs redline (mean, s)";
    let mut c = framed(&plot, title, "Seconds", m, y_max)?;
    if server.is_empty() {
        let why = "the metrics page has no TTFT histogram";
        return nothing(&mut c, &side, why, m, y_max);
    }
    line(&mut c, client, COLORS[0], 4)?;
    line(&mut c, server, COLORS[2], 4)?;
    let entries = vec![
        Entry::new("redline (from the planned send)", COLORS[0], Glyph::Line(4)),
        Entry::new("server (its histogram)", COLORS[2], Glyph::Line(4)),
    ];
    legend::draw(&side, &with_shaded(entries, m))
}
