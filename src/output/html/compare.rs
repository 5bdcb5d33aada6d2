//! `redline compare`'s HTML page: the comparison's text exactly as its markdown says it
//! (`output/compare.rs`: the runs, the settings that differ, the summary and each level's rows
//! with their changes against the baseline and `n.s.` where within noise, the regressions),
//! rendered from that markdown's small subset so the two never disagree; then the overlay charts
//! of `output/chart/compare.rs` (success, TTFT p95, E2E p95, throughput), one series per run,
//! each point hovering with its level's figures for that run.

use super::page::{esc, page};
use super::svg::{self, Chart, Point, Series};
use crate::analyze::compare::{Comparison, LevelRows};
use std::fmt::Write;
use std::path::Path;

const PANELS: [(&str, &str, &str); 4] = [
    ("success", "Success rate (%)", "%"),
    ("ttft_p95", "Time to first token, p95 (s)", "Seconds"),
    ("e2e_p95", "End-to-end latency, p95 (s)", "Seconds"),
    ("throughput", "Total throughput (tokens/s)", "Tokens / s"),
];

/// The comparison as a whole HTML document.
pub fn compare_page(c: &Comparison) -> String {
    let mut body = markdown_html(&crate::output::compare::markdown(c));
    if !c.levels.is_empty() {
        body.push_str("<h2>Charts</h2>\n<div class=\"charts\">\n");
        for (metric, title, unit) in PANELS {
            body.push_str(&svg::render(&overlay(c, metric, title, unit)));
        }
        body.push_str("</div>\n");
    }
    page("redline compare", &body)
}

/// One metric of every run against the levels' x.
fn overlay(c: &Comparison, metric: &str, title: &str, unit: &str) -> Chart {
    let concurrency = c
        .levels
        .first()
        .is_some_and(|l| l.level.starts_with("Concurrency"));
    let mut chart = Chart {
        title: title.into(),
        x_label: if concurrency {
            "Concurrency"
        } else {
            "Target QPS"
        }
        .into(),
        y_label: unit.into(),
        ..Chart::default()
    };
    for (i, (label, dir)) in c.runs.iter().enumerate() {
        let name = Path::new(dir)
            .file_name()
            .map_or(dir.clone(), |n| n.to_string_lossy().into_owned());
        let name = format!("{label}: {name}");
        let pts = c
            .levels
            .iter()
            .filter_map(|l| point(l, metric, i, &name))
            .collect();
        chart.series.push(Series::line(name, pts));
    }
    chart
}

/// Run `i`'s point at level `l`, hovering with the run, the level, the value and its change, and
/// the run's verdict there.
fn point(l: &LevelRows, metric: &str, i: usize, run: &str) -> Option<Point> {
    let row = l.rows.iter().find(|r| r.metric == metric)?;
    let y = (*row.values.get(i)?)?;
    let mut value = if metric.starts_with("ttft_") || metric.starts_with("e2e_") {
        format!("{y:.3}")
    } else {
        format!("{y:.1}")
    };
    if let Some(Some(change)) = row.change_pct.get(i) {
        let _ = write!(value, " ({change:+.1}%)");
        if row.significant.get(i) == Some(&Some(false)) {
            value.push_str(" n.s.");
        }
    }
    let verdict = l.verdicts.get(i).cloned().flatten().unwrap_or("-".into());
    Some(Point {
        x: l.x,
        y,
        tip: vec![
            (run.to_string(), l.level.clone()),
            (row.label.clone(), value),
            ("verdict".into(), verdict),
        ],
        label: None,
    })
}

/// The markdown `output/compare.rs` writes, as HTML: `## ` headings, `- ` lists, `|` tables (the
/// first row the header, the `|---|` row skipped), other lines paragraphs; `**bold**` and
/// `` `code` `` inline. Every text is escaped first.
pub(super) fn markdown_html(md: &str) -> String {
    let mut out = String::new();
    let mut open: Option<&str> = None;
    let close = |out: &mut String, open: &mut Option<&str>| {
        match open.take() {
            Some("ul") => out.push_str("</ul>\n"),
            Some(_) => out.push_str("</tbody></table></div>\n"),
            None => {}
        };
    };
    for line in md.lines() {
        let line = line.trim_end();
        if let Some(item) = line.strip_prefix("- ") {
            if open != Some("ul") {
                close(&mut out, &mut open);
                out.push_str("<ul>\n");
                open = Some("ul");
            }
            let _ = writeln!(out, "<li>{}</li>", inline(item));
        } else if line.starts_with('|') {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            if cells
                .iter()
                .all(|c| c.chars().all(|ch| ch == '-' || ch == ':'))
            {
                continue;
            }
            let tag = if open == Some("table") { "td" } else { "th" };
            if tag == "th" {
                close(&mut out, &mut open);
                out.push_str("<div class=\"wrap\"><table><tbody>\n");
                open = Some("table");
            }
            out.push_str("<tr>");
            for cell in cells {
                let _ = write!(out, "<{tag}>{}</{tag}>", inline(cell));
            }
            out.push_str("</tr>\n");
        } else {
            close(&mut out, &mut open);
            if let Some(h) = line.strip_prefix("## ") {
                let _ = writeln!(out, "<h1>{}</h1>", inline(h));
            } else if !line.is_empty() {
                let _ = writeln!(out, "<p>{}</p>", inline(line));
            }
        }
    }
    close(&mut out, &mut open);
    out
}

/// `s` escaped, its `**bold**` and `` `code` `` pairs as tags.
fn inline(s: &str) -> String {
    let mut s = esc(s);
    for (mark, open, close) in [("**", "<strong>", "</strong>"), ("`", "<code>", "</code>")] {
        let parts: Vec<&str> = s.split(mark).collect();
        // An unpaired mark stays as it is.
        if parts.len() % 2 == 0 {
            continue;
        }
        let mut joined = String::new();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                joined.push_str(if i % 2 == 1 { open } else { close });
            }
            joined.push_str(p);
        }
        s = joined;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::compare::{compare, Run};
    use serde_json::json;

    #[test]
    fn the_markdown_becomes_lists_tables_and_escaped_text() {
        let md = "## redline compare\n\n- **A**: `res/<x>` (baseline)\n- **B**: `b`\n\n| QPS 10.0 | A | B |\n|---|---:|---:|\n| TTFT p95 | 0.100 | 0.120 (+20.0%) |\n| Verdict | PASS | FAIL |\n\n**Regressions beyond 5%:** none\n";
        let h = markdown_html(md);
        assert!(h.contains("<h1>redline compare</h1>"));
        assert!(
            h.contains("<li><strong>A</strong>: <code>res/&lt;x&gt;</code> (baseline)</li>"),
            "{h}"
        );
        assert!(
            h.contains("<tr><th>QPS 10.0</th><th>A</th><th>B</th></tr>"),
            "{h}"
        );
        assert!(h.contains("<td>0.120 (+20.0%)</td>"));
        assert!(!h.contains("---"));
        assert!(h.contains("<p><strong>Regressions beyond 5%:</strong> none</p>"));
        assert_eq!(h.matches("<ul>").count(), h.matches("</ul>").count());
        assert_eq!(h.matches("<table>").count(), h.matches("</table>").count());
        assert_eq!(inline("a ** b"), "a ** b");
    }

    fn run(label: &str, model: &str, ttft95: [f64; 2], success: [f64; 2]) -> Run {
        let level = |q: f64, i: usize| {
            json!({"qps_target": q, "success_rate": success[i],
                   "verdict": if success[i] >= 99.0 {"PASS"} else {"FAIL"},
                   "ttft": {"p50": 0.1, "p95": ttft95[i]}, "e2e_latency": {"p50": 1.0, "p95": 2.0},
                   "tokens_per_sec": {"p50": 100.0}, "total_throughput_tok_s": 1000.0 * q})
        };
        Run {
            label: label.into(),
            dir: format!("results/{label}"),
            meta: json!({"model": model, "max_tokens": 512, "arrival": "constant"}),
            results: json!({"results": [level(10.0, 0), level(20.0, 1)],
                            "summary": {"max_sustainable_qps": 20.0, "saturation_qps": null}}),
            records: Vec::new(),
        }
    }

    #[test]
    fn a_comparison_has_its_tables_and_one_overlay_per_metric() {
        let runs = [
            run("A", "llama-8b", [0.2, 0.3], [100.0, 100.0]),
            run("B", "<b>llama</b>", [0.25, 0.3], [100.0, 90.0]),
        ];
        let keys: Vec<&str> = crate::output::metadata::plan::compared_keys().collect();
        let c = compare(&runs, &keys, Some(5.0), &[], false);
        let html = compare_page(&c);
        for (_, title, _) in PANELS {
            assert!(
                html.contains(&format!("<figcaption>{}", esc(title))),
                "{title}"
            );
        }
        // The settings that differ, escaped; each level's table with its changes and verdicts.
        assert!(html.contains("&lt;b&gt;llama&lt;/b&gt;") && !html.contains("<b>llama"));
        assert!(html.contains("<th>QPS 10.0</th>") && html.contains("<th>QPS 20.0</th>"));
        assert!(html.contains("0.250 (+25.0%)"), "{html}");
        assert!(html.contains("<td>FAIL</td>"));
        // One series per run, hovering with the run's change.
        assert!(html.contains("data-s=\"s1\"") && html.contains("B: B"));
        assert!(html.contains("(+25.0%)&#10;verdict&#9;PASS"), "{html}");
        assert!(!html.contains("http:") && !html.contains("src="));
    }
}
