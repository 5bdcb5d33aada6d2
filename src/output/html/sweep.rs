//! A sweep's HTML report (`report.html` in the sweep's folder): the frontier chart (throughput
//! per GPU against speed per user, every configuration a point whose hover shows its figures at
//! capacity, the Pareto-optimal ones joined), the frontier table as the console shows it, why a
//! configuration has no capacity, and a link to each configuration's own report.

use super::page::{esc, page};
use super::svg::{self, Chart, Point, Series};
use crate::analyze::frontier::AtCapacity;
use crate::output::sweep::{Entry, SweepFile};
use std::fmt::Write;

/// The page of `s`; `links[i]` is configuration i's own report, relative to the sweep's folder.
pub fn sweep_page(s: &SweepFile, links: &[Option<String>]) -> String {
    let mut body = format!(
        "<h1>redline sweep</h1>\n<p class=\"meta\">{} {} &middot; started {} &middot; {} configuration{}</p>\n",
        esc(&s.tool),
        esc(&s.version),
        esc(&s.started),
        s.configurations.len(),
        if s.configurations.len() == 1 { "" } else { "s" }
    );
    if let Some(serve) = &s.serve {
        let _ = writeln!(body, "<p>Server: <code>{}</code></p>", esc(serve));
    }
    let _ = writeln!(
        body,
        "<p>Run: <code>redline {}</code></p>",
        esc(&s.run_flags.join(" "))
    );
    body.push_str("<h2>Frontier</h2>\n<div class=\"charts\">\n");
    body.push_str(&svg::render(&frontier(s)));
    body.push_str("</div>\n<h2>Configurations</h2>\n");
    body.push_str(&table(s, links));
    page("redline sweep", &body)
}

/// The chart: all configurations with a capacity, and the frontier through the optimal ones.
fn frontier(s: &SweepFile) -> Chart {
    let point = |e: &Entry, a: &AtCapacity| Point {
        x: a.output_tok_s_per_gpu,
        y: a.per_user_tok_s,
        tip: tip(e, a),
        label: Some(e.name.clone()),
    };
    let all: Vec<Point> = s
        .configurations
        .iter()
        .filter_map(|e| Some(point(e, e.at_capacity.as_ref()?)))
        .collect();
    let mut optimal: Vec<Point> = s
        .configurations
        .iter()
        .filter(|e| e.pareto)
        .filter_map(|e| Some(point(e, e.at_capacity.as_ref()?)))
        .collect();
    optimal.sort_by(|a, b| a.x.total_cmp(&b.x));
    let missing = s.without_capacity();
    Chart {
        title: "Pareto frontier at capacity: speed per user vs throughput per GPU".into(),
        x_label: "Output tokens/s per GPU".into(),
        y_label: "Output tokens/s per user (p50)".into(),
        series: vec![
            Series {
                name: "Configurations".into(),
                points: all,
                color: Some(svg::GREY.into()),
                ..Series::default()
            },
            Series::line("Pareto frontier", optimal).colored(svg::PURPLE),
        ],
        note: (!missing.is_empty() && s.configurations.iter().all(|e| e.at_capacity.is_none()))
            .then(|| format!("No configuration has a capacity: {}", missing.join("; "))),
        ..Chart::default()
    }
}

fn tip(e: &Entry, a: &AtCapacity) -> Vec<(String, String)> {
    let at_least = if a.capacity_is_lower_bound { ">= " } else { "" };
    let mut t = vec![
        ("Configuration".to_string(), e.name.clone()),
        (
            "Capacity".into(),
            format!("{at_least}{:.1} QPS", a.capacity_qps),
        ),
    ];
    if let Some(ci) = a.capacity_ci {
        t.push(("95% CI".into(), format!("{:.1}-{:.1}", ci.low, ci.high)));
    }
    t.push(("Tok/s per user".into(), format!("{:.1}", a.per_user_tok_s)));
    t.push((
        "Tok/s per GPU".into(),
        format!("{:.0}", a.output_tok_s_per_gpu),
    ));
    if let Some(v) = a.ttft_p95_s {
        t.push(("TTFT p95".into(), format!("{v:.3} s")));
    }
    if let Some(c) = a.cost_per_million_tokens {
        t.push(("$/M tokens".into(), format!("{c:.3}")));
    }
    t.push(("Pareto".into(), if e.pareto { "yes" } else { "no" }.into()));
    t
}

/// The console's frontier table, with each configuration's report linked and its reason below.
fn table(s: &SweepFile, links: &[Option<String>]) -> String {
    let rows = s.rows();
    let mut out = String::from("<div class=\"wrap\"><table><thead><tr>");
    for h in rows.first().into_iter().flatten() {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("<th>Report</th></tr></thead><tbody>\n");
    for (i, r) in rows.iter().skip(1).enumerate() {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{}</td>", esc(c));
        }
        let link = match links.get(i).cloned().flatten() {
            Some(href) => format!("<a href=\"{}\">open</a>", esc(&href)),
            None => "-".into(),
        };
        let _ = writeln!(out, "<td>{link}</td></tr>");
    }
    out.push_str("</tbody></table></div>\n");
    for e in &s.configurations {
        if let Some(r) = &e.reason {
            let _ = writeln!(out, "<p><b>{}</b>: {}</p>", esc(&e.name), esc(r));
        }
    }
    out
}
