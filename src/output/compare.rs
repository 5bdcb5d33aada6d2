//! `redline compare`'s output, one function per format: a console table, markdown (for a pull
//! request or a review), CSV (one row per run, level and metric) and JSON (the `Comparison` as
//! it is). Every format lists the settings that differ first, then the summaries, then the levels;
//! the table and markdown show each run's change against the baseline beside its value.

use crate::analyze::compare::{Comparison, Row};
use crate::output::table;
use std::fmt::Write;

/// How a value is shown: latencies to the millisecond, rates to 0.1, money to 4 places.
fn value(metric: &str, v: Option<f64>) -> String {
    let Some(v) = v else {
        return "-".into();
    };
    if metric.starts_with("ttft_") || metric.starts_with("e2e_") {
        format!("{v:.3}")
    } else if metric.contains("cost") {
        format!("${v:.4}")
    } else if metric.ends_with("_concurrency") {
        // Whole requests in flight.
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A run's value and its change against the baseline, `n.s.` where the records show the
/// difference to be within noise.
fn with_change(r: &Row, i: usize) -> String {
    let v = value(&r.metric, r.values[i]);
    match (r.change_pct[i], r.significant[i]) {
        (Some(c), Some(false)) => format!("{v} ({c:+.1}%, n.s.)"),
        (Some(c), _) => format!("{v} ({c:+.1}%)"),
        (None, _) => v,
    }
}

/// What `n.s.` means, when some difference was tested.
fn significance_line(c: &Comparison) -> Option<String> {
    let tested = c
        .levels
        .iter()
        .flat_map(|l| &l.rows)
        .any(|r| r.significant.iter().any(Option::is_some));
    tested.then(|| {
        format!(
            "n.s.: not significant, the difference is within noise (p >= {}; Mann-Whitney on latencies and tokens/s, two proportions on success, Welch on throughput, over each level's records)",
            crate::analyze::significance::ALPHA
        )
    })
}

fn settings_lines(c: &Comparison) -> Vec<String> {
    c.settings
        .iter()
        .map(|d| {
            let values: Vec<String> = c
                .runs
                .iter()
                .zip(&d.values)
                .map(|((label, _), v)| {
                    format!(
                        "{label}: {}",
                        if v.is_null() {
                            "-".into()
                        } else {
                            v.to_string()
                        }
                    )
                })
                .collect();
            format!("{}: {}", d.setting, values.join(", "))
        })
        .collect()
}

fn regression_lines(c: &Comparison) -> Vec<String> {
    c.regressions
        .iter()
        .map(|r| {
            let level = r
                .level
                .as_ref()
                .map(|l| format!(" at {l}"))
                .unwrap_or_default();
            let now = match r.value {
                Some(v) => value(&r.metric, Some(v)),
                None => "none (missing in this run)".into(),
            };
            let change = r
                .change_pct
                .map(|c| format!(" ({c:+.1}%)"))
                .unwrap_or_default();
            format!(
                "{}{level}: {} {} -> {now}{change}",
                r.run,
                r.metric,
                value(&r.metric, Some(r.baseline))
            )
        })
        .collect()
}

/// The console table.
pub fn table(c: &Comparison) -> String {
    let mut out = String::from("Comparing (changes are against A, the baseline):\n");
    for (label, dir) in &c.runs {
        let _ = writeln!(out, "  {label}: {dir}");
    }
    let diffs = settings_lines(c);
    if diffs.is_empty() {
        out.push_str(
            "\nSettings: the same model, dataset, lengths, workload, arrivals and endpoint in every run.\n",
        );
    } else {
        out.push_str("\nSettings that differ (compare like with like):\n");
        for d in diffs {
            let _ = writeln!(out, "  {d}");
        }
    }
    let labels: Vec<String> = c.runs.iter().map(|r| r.0.clone()).collect();
    let block = |title: &str, rows: &[Row], verdicts: Option<&[Option<String>]>| {
        let mut grid = vec![std::iter::once(title.to_string())
            .chain(labels.iter().cloned())
            .collect::<Vec<_>>()];
        for r in rows {
            grid.push(
                std::iter::once(r.label.clone())
                    .chain((0..labels.len()).map(|i| with_change(r, i)))
                    .collect(),
            );
        }
        if let Some(v) = verdicts {
            grid.push(
                std::iter::once("Verdict".to_string())
                    .chain(v.iter().map(|v| v.clone().unwrap_or("-".into())))
                    .collect(),
            );
        }
        table::aligned(&grid, "  ", |i| if i == 0 { 30 } else { 18 })
    };
    if !c.summary.is_empty() {
        let _ = write!(out, "\n{}", block("Summary", &c.summary, None));
    }
    for l in &c.levels {
        let _ = write!(out, "\n{}", block(&l.level, &l.rows, Some(&l.verdicts)));
    }
    if let Some(line) = significance_line(c) {
        let _ = writeln!(out, "\n{line}");
    }
    if let Some(t) = c.threshold_pct {
        let lines = regression_lines(c);
        if lines.is_empty() {
            let _ = writeln!(out, "\nNo regression beyond {t}%.");
        } else {
            let _ = writeln!(out, "\nRegressions beyond {t}%:");
            for l in lines {
                let _ = writeln!(out, "  {l}");
            }
        }
    }
    out
}

/// Markdown: a list of the settings that differ, then one table per block.
pub fn markdown(c: &Comparison) -> String {
    let mut out = String::from("## redline compare\n\n");
    for (label, dir) in &c.runs {
        let _ = writeln!(
            out,
            "- **{label}**: `{dir}`{}",
            if *label == c.runs[0].0 {
                " (baseline)"
            } else {
                ""
            }
        );
    }
    let diffs = settings_lines(c);
    if !diffs.is_empty() {
        out.push_str("\n**Settings that differ:**\n\n");
        for d in diffs {
            let _ = writeln!(out, "- {d}");
        }
    }
    let header = |title: &str| {
        let mut s = format!("| {title} |");
        for (label, _) in &c.runs {
            let _ = write!(s, " {label} |");
        }
        s.push_str("\n|---|");
        s.push_str(&"---:|".repeat(c.runs.len()));
        s.push('\n');
        s
    };
    let rows = |rows: &[Row]| {
        let mut s = String::new();
        for r in rows {
            let _ = write!(s, "| {} |", r.label);
            for i in 0..c.runs.len() {
                let _ = write!(s, " {} |", with_change(r, i));
            }
            s.push('\n');
        }
        s
    };
    if !c.summary.is_empty() {
        let _ = write!(out, "\n{}{}", header("Summary"), rows(&c.summary));
    }
    for l in &c.levels {
        let _ = write!(out, "\n{}{}", header(&l.level), rows(&l.rows));
        let _ = write!(out, "| Verdict |");
        for v in &l.verdicts {
            let _ = write!(out, " {} |", v.as_deref().unwrap_or("-"));
        }
        out.push('\n');
    }
    if let Some(line) = significance_line(c) {
        let _ = writeln!(out, "\n{line}");
    }
    if let Some(t) = c.threshold_pct {
        let lines = regression_lines(c);
        let _ = write!(
            out,
            "\n**Regressions beyond {t}%:** {}\n",
            if lines.is_empty() { "none" } else { "" }
        );
        for l in lines {
            let _ = writeln!(out, "- {l}");
        }
    }
    out
}

/// CSV: `block,metric,run,value,change_pct,p_value,significant`, one row per run of each metric (blocks: `summary`
/// or the level), verdicts as the metric `verdict`.
pub fn csv(c: &Comparison) -> String {
    let mut out = String::from("block,metric,run,value,change_pct,p_value,significant\n");
    let num = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut rows = |block: &str, rows: &[Row]| {
        for r in rows {
            for (i, (label, _)) in c.runs.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{block},{},{label},{},{},{},{}",
                    r.metric,
                    num(r.values[i]),
                    num(r.change_pct[i]),
                    num(r.p_value[i]),
                    r.significant[i].map(|s| s.to_string()).unwrap_or_default()
                );
            }
        }
    };
    rows("summary", &c.summary);
    for l in &c.levels {
        rows(&l.level, &l.rows);
    }
    for l in &c.levels {
        for (i, (label, _)) in c.runs.iter().enumerate() {
            let _ = writeln!(
                out,
                "{},verdict,{label},{},,,",
                l.level,
                l.verdicts[i].as_deref().unwrap_or("")
            );
        }
    }
    out
}

pub fn json(c: &Comparison) -> String {
    serde_json::to_string_pretty(c).unwrap_or_default() + "\n"
}
