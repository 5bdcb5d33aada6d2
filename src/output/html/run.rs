//! One run's HTML report: the heading, the console's verdict lines and answer (the very text of
//! `output/summary.rs`, so the console and the page never disagree), the per-level table with the
//! columns of `output/table.rs` plus throughput and verdict, the errors and server metrics as the
//! console prints them, and one interactive chart (`svg.rs`) for each panel of the PNG
//! (`output/chart/`): QPS with success and verdicts, TTFT and E2E at the run's percentiles,
//! generation speed, cost and errors when priced or failed, and the server's load and TTFT when
//! its metrics were scraped. Hovering a point shows its level's figures.

use super::frame::{cost, Frame};
use super::page::{esc, page};
use super::server::{server_load, server_ttft};
use super::svg::{self, Chart, Point, Series, GREEN, GREY, PALETTE, PURPLE, RED};
use crate::analyze::level::{Batch, LevelReport};
use crate::analyze::report::Report;
use crate::analyze::stats::Percentiles;
use crate::analyze::verdict::Verdict;
use crate::output::summary::thousands;
use crate::output::{server, summary, table, workload};
use std::fmt::Write;

/// The report of a run as a whole HTML document, its latencies at `percentiles`, under `heading`
/// (escaped here).
pub fn run_page(report: &Report, percentiles: &[f64], heading: &str) -> String {
    let mut body = format!(
        "<h1>{}</h1>\n<p class=\"meta\">{} {} &middot; {} level{}</p>\n",
        esc(heading),
        esc(report.tool),
        esc(report.version),
        report.results.len(),
        if report.results.len() == 1 { "" } else { "s" }
    );
    body.push_str("<h2>Verdicts</h2>\n");
    body.push_str(&colored_pre(summary::render(report).trim_matches('\n')));
    body.push_str("<h2>Levels</h2>\n");
    body.push_str(&levels_table(&report.results, percentiles));
    let details = [
        table::render_errors(&report.results),
        server::render(&report.results),
        workload::render(&report.results, percentiles),
    ];
    for text in details.iter().map(|t| t.trim_matches('\n')) {
        if !text.is_empty() {
            body.push_str(&colored_pre(text));
        }
    }
    if !report.results.is_empty() {
        body.push_str("<h2>Charts</h2>\n<div class=\"charts\">\n");
        for chart in charts(report, percentiles) {
            body.push_str(&svg::render(&chart));
        }
        body.push_str("</div>\n");
    }
    page(heading, &body)
}

/// Console text in a `<pre>`, escaped, its verdict words coloured.
fn colored_pre(text: &str) -> String {
    let mut s = esc(text);
    for (word, class) in [("PASS", "pass"), ("WARN", "warn"), ("FAIL", "fail")] {
        s = s.replace(word, &format!("<b class=\"{class}\">{word}</b>"));
    }
    format!("<pre>{s}</pre>\n")
}

/// The console table's columns and figures, plus throughput and the verdict.
fn levels_table(levels: &[LevelReport], percentiles: &[f64]) -> String {
    let priced = levels.iter().any(|l| l.cost_analysis.is_some());
    let slo = levels.iter().any(|l| l.goodput_qps.is_some());
    let mut head = table::figure_headers(levels, percentiles);
    head.extend(["Output tok/s".into(), "Total tok/s".into()]);
    if priced {
        head.push("$/M Tokens".into());
    }
    if slo {
        head.extend(["SLO met%".into(), "Goodput".into()]);
    }
    head.extend(["Verdict".into(), "Reason".into()]);
    let mut out = String::from("<div class=\"wrap\"><table><thead><tr>");
    for h in &head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>\n");
    for l in levels {
        out.push_str("<tr>");
        for cell in row(l, percentiles, priced, slo) {
            let _ = write!(out, "<td>{}</td>", esc(&cell));
        }
        let v = l.assessment.verdict;
        let _ = writeln!(
            out,
            "<td class=\"l\"><b class=\"{}\">{v}</b></td><td class=\"l\">{}</td></tr>",
            class(v),
            esc(&notes(l))
        );
    }
    out.push_str("</tbody></table></div>\n");
    out
}

/// A level's figures as `output/table.rs` shows them, then its throughput.
fn row(l: &LevelReport, percentiles: &[f64], priced: bool, slo: bool) -> Vec<String> {
    let mut row = table::figures(l, percentiles, false);
    row.push(thousands(l.output_throughput_tok_s));
    row.push(thousands(l.total_throughput_tok_s));
    row.extend(table::cost_and_slo(l, priced, slo));
    row
}

/// The reason behind the verdict, with the table's level notes.
fn notes(l: &LevelReport) -> String {
    let mut s = l.assessment.reason.endpoint_text();
    if let Some(n) = l.search_probe {
        let _ = write!(s, " (probe {n})");
    }
    if l.partial {
        s.push_str(" (partial)");
    }
    if l.assessment.reason.too_few.is_some() {
        s.push_str(" (too few requests)");
    }
    if l.assessment.client_limited {
        s.push_str(if l.assessment.trusted {
            " (client-limited, verdict stands)"
        } else {
            " (client-limited)"
        });
    }
    s
}

fn class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Warn => "warn",
        Verdict::Fail => "fail",
    }
}

/// The panels of the PNG, in its order (`output/chart/mod.rs`).
fn charts(report: &Report, percentiles: &[f64]) -> Vec<Chart> {
    let f = Frame::of(report);
    let batch = Batch::of(&report.results);
    let ttft = match batch {
        Some(b) => Chart {
            note: Some(b.no_first_token()),
            ..f.chart("Time to first token", "", None)
        },
        None => latency(&f, "Time to first token (s)", |l| &l.ttft, percentiles),
    };
    let mut v = vec![
        qps(&f),
        ttft,
        latency(
            &f,
            "End-to-end latency (s)",
            |l| &l.e2e_latency,
            percentiles,
        ),
        match batch {
            Some(b) => batched(&f, b),
            None => speed(&f, percentiles),
        },
    ];
    let priced = report.results.iter().any(|l| l.cost_analysis.is_some());
    let failed = report.results.iter().any(|l| !l.errors.is_empty());
    if priced || failed {
        v.push(cost_chart(&f, priced));
        v.push(errors(&f));
    }
    if report.results.iter().any(|l| l.server.is_some()) {
        v.extend([server_load(&f), server_ttft(&f)]);
    }
    v
}

fn rate(v: f64) -> String {
    format!("{v:.2} req/s")
}

fn qps(f: &Frame) -> Chart {
    let title = if f.closed {
        "Achieved QPS at each concurrency, with success rate"
    } else {
        "Target vs actual QPS, with success rate"
    };
    let mut c = f.chart(title, "Requests / s", Some("Success rate (%)"));
    // A closed loop offered no rate: no target to draw.
    if !f.closed {
        let target = f.points("target", |l| l.qps_target, rate);
        let target: Vec<Point> = target.into_iter().map(|p| Point { y: p.x, ..p }).collect();
        c.series
            .push(Series::line("target", target).colored(GREY).dashed());
    }
    let mut actual = f.points("actual (sent)", |l| Some(l.actual_qps), rate);
    for (p, l) in actual.iter_mut().zip(&f.levels) {
        p.label = match (l.concurrency, l.search_probe) {
            (Some(n), _) => Some(format!("{n} in flight")),
            (None, Some(n)) => Some(format!("#{n}")),
            (None, None) => None,
        };
    }
    c.series
        .push(Series::line("actual (sent) / s", actual).colored(PALETTE[0]));
    let ok = f.points("successful", |l| Some(l.successful_qps), rate);
    c.series
        .push(Series::line("successful / s", ok).colored(PALETTE[1]));
    let served = f.points("served (steady)", |l| l.keep_up.steady_served_qps, rate);
    if !served.is_empty() {
        c.series.push(
            Series::line("served / s (first tokens, steady part)", served).colored("#c000c0"),
        );
    }
    let goodput = f.points("goodput", |l| l.goodput_qps, rate);
    if !goodput.is_empty() {
        c.series
            .push(Series::line("goodput (met every objective) / s", goodput).colored(GREEN));
    }
    let mut success = f.points("success", |l| Some(l.success_rate), |v| format!("{v:.1}%"));
    // Each level's verdict stands above its success point.
    for (p, l) in success.iter_mut().zip(&f.levels) {
        p.label = Some(l.assessment.verdict.to_string());
    }
    c.series.push(
        Series::line("success % and verdict", success)
            .colored(RED)
            .on_right(),
    );
    c
}

/// A latency at each of the run's percentiles.
fn latency(
    f: &Frame,
    title: &str,
    get: fn(&LevelReport) -> &Percentiles,
    percentiles: &[f64],
) -> Chart {
    let mut c = f.chart(title, "Seconds", None);
    for &p in percentiles {
        let name = format!("p{p}");
        let pts = f.points(&name, |l| get(l).get(p), |v| format!("{v:.3} s"));
        c.series.push(Series::line(name, pts));
    }
    c
}

/// `--api embeddings` (rerank): inputs (documents) per second and input tokens per second.
fn batched(f: &Frame, b: Batch) -> Chart {
    let title = format!(
        "{}: {} per second (left), input tokens per second (right)",
        b.title, b.unit
    );
    let mut c = f.chart(
        &title,
        &format!("{} / s", b.column.trim_end_matches("/s")),
        Some("Input tokens / s"),
    );
    let unit = b.unit;
    let inputs = f.points(
        b.unit,
        |l| l.batched().map(|(_, e)| e.inputs_per_s),
        move |v| format!("{v:.1} {unit}/s"),
    );
    c.series
        .push(Series::line(format!("{} / s", b.unit), inputs));
    let tokens = f.points(
        "input tokens",
        |l| l.batched().map(|(_, e)| e.input_tokens_per_s),
        |v| format!("{} tok/s", thousands(v)),
    );
    c.series.push(
        Series::line("input tokens / s", tokens)
            .colored(PURPLE)
            .on_right(),
    );
    c
}

fn speed(f: &Frame, percentiles: &[f64]) -> Chart {
    let title = "Generation speed: per request (left), aggregate (right)";
    let mut c = f.chart(
        title,
        "Tokens / s per request",
        Some("Output tokens / s, all requests"),
    );
    for &p in percentiles {
        let name = format!("p{p} per request");
        let pts = f.points(
            &name,
            |l| l.tokens_per_sec.get(p),
            |v| format!("{v:.1} tok/s"),
        );
        c.series.push(Series::line(name, pts));
    }
    let all = f.points(
        "aggregate output",
        |l| Some(l.output_throughput_tok_s),
        |v| format!("{} tok/s", thousands(v)),
    );
    c.series.push(
        Series::line("aggregate output tok/s", all)
            .colored(PURPLE)
            .on_right(),
    );
    c
}

fn cost_chart(f: &Frame, priced: bool) -> Chart {
    let mut c = f.chart(
        "Cost per million tokens (input + output)",
        "$ / M tokens",
        None,
    );
    let pts = f.points("cost", cost, |v| format!("${v:.4}/M tokens"));
    c.note = Some(if priced {
        "no cost: no successful request's stream carried usage tokens".into()
    } else {
        "no cost: the run had no pricing (--gpu-rate and --num-gpus)".into()
    });
    c.series.push(Series::line("$ / M tokens", pts));
    c
}

fn errors(f: &Frame) -> Chart {
    let mut c = f.chart("Errors by kind", "Requests", None);
    let mut kinds: Vec<&String> = f.levels.iter().flat_map(|l| l.errors.keys()).collect();
    kinds.sort();
    kinds.dedup();
    for (i, kind) in kinds.into_iter().enumerate() {
        let pts = f.points(
            kind,
            |l| Some(*l.errors.get(kind).unwrap_or(&0) as f64),
            |v| format!("{v:.0} requests"),
        );
        c.series
            .push(Series::line(kind.clone(), pts).colored(PALETTE[(i + 3) % PALETTE.len()]));
    }
    c.note = Some("no errors at any level".into());
    c
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
