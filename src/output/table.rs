//! The console results table and per-level error summary, in the reference tool's layout: columns
//! follow `--percentiles`, a `$/M Tokens` column appears when priced, and `SLO met%` and
//! `Goodput` columns when the run had objectives (`--slo`).

use crate::analyze::level::{Batch, LevelReport};
use crate::analyze::reason::Qps;
use crate::analyze::stats::Percentiles;
use std::fmt::Write;

const RULE: &str =
    "================================================================================";

/// The results table: one row per level. A closed-loop run's levels are named by their
/// concurrency, with the rate each achieved beside it (it had no target rate).
pub fn render(levels: &[LevelReport], percentiles: &[f64], priced: bool, show_ci: bool) -> String {
    let mut out = format!("{RULE}\nQPS BENCHMARK RESULTS\n{RULE}\n");
    let mut header = figure_headers(levels, percentiles);
    if priced {
        header.push("$/M Tokens".into());
    }
    let slo = levels.iter().any(|l| l.goodput_qps.is_some());
    if slo {
        header.extend(["SLO met%".into(), "Goodput".into()]);
    }
    let mut rows = vec![header];
    for l in levels {
        let mut row = figures(l, percentiles, show_ci);
        row.extend(cost_and_slo(l, priced, slo));
        if let Some(n) = l.search_probe {
            row.push(format!("(probe {n})"));
        }
        if l.partial {
            row.push("(partial)".into());
        }
        if l.assessment.reason.too_few.is_some() {
            row.push("(too few requests)".into());
        }
        if l.assessment.client_limited {
            row.push(if l.assessment.trusted {
                "(client-limited, verdict stands)".into()
            } else {
                "(client-limited)".into()
            });
        }
        rows.push(row);
    }
    // The reference's widths: the Success% column is narrower than the others.
    out.push_str(&aligned(&rows, "", |i| if i == 2 { 10 } else { 12 }));
    out
}

/// `±0.004`: half the interval's width around `v` (its wider side), `±?` when a side is open;
/// nothing without an interval.
fn plus_minus(v: f64, ci: Option<crate::analyze::stats::Interval>, digits: usize) -> String {
    match ci {
        Some(crate::analyze::stats::Interval {
            low: Some(lo),
            high: Some(hi),
        }) => format!("±{:.digits$}", (v - lo).max(hi - v)),
        Some(_) => "±?".into(),
        None => String::new(),
    }
}

/// The headers of [`figures`]' columns for `levels`: an embeddings or rerank run has no first
/// token and no output, so its latency is one column and its speed is inputs (documents) per
/// second.
pub fn figure_headers(levels: &[LevelReport], percentiles: &[f64]) -> Vec<String> {
    let closed = levels.iter().any(|l| l.concurrency.is_some());
    let mut header = if closed {
        vec!["Concurrency".to_string(), "Achieved QPS".into()]
    } else {
        vec!["QPS Target".to_string(), "Actual QPS".into()]
    };
    header.push("Success%".into());
    let batch = Batch::of(levels);
    for (name, _) in metrics(batch.is_some()) {
        for p in percentiles {
            let unit = if *name == "Tok/s" { "" } else { "(s)" };
            header.push(format!("{name} P{p}{unit}"));
        }
    }
    if let Some(b) = batch {
        header.extend([b.column.into(), "Input tok/s".into()]);
    }
    header
}

/// The metrics a table shows: TTFT, E2E and tokens/s, or for embeddings the latency alone.
fn metrics(embedded: bool) -> &'static [Metric] {
    match embedded {
        true => &EMBEDDINGS,
        false => &METRICS,
    }
}

/// A level's first columns: its rate (or concurrency), actual rate, success, and each metric at
/// each percentile (with its interval when `show_ci`), then for embeddings inputs/s and input
/// tokens/s. The HTML report's table shows the same, under [`figure_headers`].
pub fn figures(l: &LevelReport, percentiles: &[f64], show_ci: bool) -> Vec<String> {
    let mut row = vec![
        match l.concurrency {
            Some(n) => n.to_string(),
            None => Qps(l.rate).to_string(),
        },
        format!("{:.2}", l.actual_qps),
        format!("{:.1}", l.success_rate),
    ];
    let batched = l.batched();
    for (name, get) in metrics(batched.is_some()) {
        let digits = if *name == "Tok/s" { 1 } else { 3 };
        for &p in percentiles {
            let ci = get(l).interval(p).filter(|_| show_ci);
            row.push(match get(l).get(p) {
                Some(v) => format!("{v:.digits$}{}", plus_minus(v, ci, digits)),
                None => "-".into(),
            });
        }
    }
    if let Some((_, e)) = batched {
        row.push(format!("{:.1}", e.inputs_per_s));
        row.push(format!("{:.0}", e.input_tokens_per_s));
    }
    row
}

/// The cost column when `priced`, and the objectives' columns when `slo`.
pub fn cost_and_slo(l: &LevelReport, priced: bool, slo: bool) -> Vec<String> {
    let show = |v: Option<f64>, digits: usize| v.map_or("-".into(), |v| format!("{v:.digits$}"));
    let mut row = Vec::new();
    if priced {
        let cost = l
            .cost_analysis
            .as_ref()
            .and_then(|c| c.cost_per_million_tokens);
        row.push(cost.map_or("-".into(), |c| format!("${c:.4}")));
    }
    if slo {
        row.push(show(l.slo_attainment_pct, 1));
        row.push(show(l.goodput_qps, 2));
    }
    row
}

/// Rows as columns, each `indent`ed: a column is `base(i)` wide, or wider where a header or value
/// needs it (`TTFT P99.9(s)`), so headers stay above their values.
pub fn aligned(rows: &[Vec<String>], indent: &str, base: fn(usize) -> usize) -> String {
    let widths = widths(rows, base);
    let mut out = String::new();
    for row in rows {
        out.push_str(indent);
        push_row(&mut out, row, &widths);
    }
    out
}

fn widths(rows: &[Vec<String>], base: fn(usize) -> usize) -> Vec<usize> {
    let columns = rows.first().map_or(0, Vec::len);
    (0..columns)
        .map(|i| {
            let base = base(i);
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .fold(base, usize::max)
        })
        .collect()
}

type Metric = (&'static str, fn(&LevelReport) -> &Percentiles);

const EMBEDDINGS: [Metric; 1] = [("Latency", |l| &l.e2e_latency)];

const METRICS: [Metric; 3] = [
    ("TTFT", |l| &l.ttft),
    ("E2E", |l| &l.e2e_latency),
    ("Tok/s", |l| &l.tokens_per_sec),
];

fn push_row(out: &mut String, cells: &[String], widths: &[usize]) {
    for (i, c) in cells.iter().enumerate() {
        // Cells past the header (level notes such as "(probe 3)") need no column.
        let width = widths.get(i).copied().unwrap_or(0);
        let _ = write!(out, "{c:<width$} ");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
}

/// `s` on one line, at most `max` characters.
pub fn one_line(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &flat[..i]),
        None => flat,
    }
}

/// "QPS 20.0 - Errors (178 total):" blocks, most frequent kind first, plus usage warnings.
pub fn render_errors(levels: &[LevelReport]) -> String {
    let mut out = String::new();
    for l in levels {
        let total: u64 = l.errors.values().sum();
        if total > 0 {
            let _ = writeln!(out, "\n{} - Errors ({total} total):", l.label());
            let mut kinds: Vec<_> = l.errors.iter().collect();
            kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (kind, n) in kinds {
                // The server's own words, shortened to a line.
                let said = l
                    .error_samples
                    .get(kind)
                    .map(|m| format!(": {}", one_line(m, 160)))
                    .unwrap_or_default();
                let times = if *n == 1 { "occurrence" } else { "occurrences" };
                let _ = writeln!(out, "  - {kind}: {n} {times}{said}");
            }
            if l.client_side_errors > 0 {
                let _ = writeln!(
                    out,
                    "  ({} of these {} client-side, not the endpoint's)",
                    l.client_side_errors,
                    if l.client_side_errors == 1 {
                        "is"
                    } else {
                        "are"
                    }
                );
            }
        }
        if l.requests_without_usage > 0 {
            let _ = writeln!(
                out,
                "\n{} - Warning: {} successful requests carried no usage, or usage without the prompt's tokens; they are excluded from cost and their output tokens are counted from stream chunks",
                l.label(), l.requests_without_usage
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ReportOptions;
    use crate::measure::record::LevelRun;

    fn level(qps: f64) -> LevelReport {
        let run = LevelRun::new(crate::config::LevelId::rate(0, qps), qps, 1.0, vec![], None);
        let opts = ReportOptions {
            percentiles: vec![50.0, 95.0, 99.0],
            ..ReportOptions::default()
        };
        let mut l = crate::analyze::level::level_report(&run, &opts);
        l.errors.insert("HTTP 503".into(), 145);
        l.errors.insert("Timeout".into(), 33);
        l
    }

    #[test]
    fn header_follows_percentiles_and_pricing() {
        let t = render(&[level(1.0)], &[50.0], true, false);
        let header = t.lines().nth(3).unwrap();
        assert_eq!(
            header.split_whitespace().collect::<Vec<_>>(),
            [
                "QPS", "Target", "Actual", "QPS", "Success%", "TTFT", "P50(s)", "E2E", "P50(s)",
                "Tok/s", "P50", "$/M", "Tokens"
            ]
        );
        assert!(t.contains("QPS BENCHMARK RESULTS"));
    }

    #[test]
    fn untrusted_levels_are_marked_in_their_row() {
        let mut l = level(30.0);
        l.assessment.client_limited = true;
        l.assessment.trusted = false;
        let t = render(&[l], &[50.0], false, false);
        assert!(
            t.lines().last().unwrap().ends_with("(client-limited)"),
            "{t}"
        );
    }

    #[test]
    fn errors_in_reference_style() {
        let e = render_errors(&[level(20.0)]);
        assert!(e.contains("QPS 20.0 - Errors (178 total):\n  - HTTP 503: 145 occurrences\n  - Timeout: 33 occurrences"), "{e}");
    }
}
