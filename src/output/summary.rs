//! The verdict lines and the run's summary for the console, in the reference tool's style:
//! `QPS 45.0: PASS - 99.8% success, 70,500 total tok/s, $0.0100/M`, then the answer.

use crate::analyze::level::LevelReport;
use crate::analyze::reason::Qps;
use crate::analyze::report::Report;
use crate::analyze::search::{SearchSummary, Stop};
use crate::analyze::verdict::Verdict;
use std::fmt::Write;

/// `1234567.8` -> `1,234,568`.
pub fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 && digits != "0" {
        out.insert(0, '-');
    }
    out
}

/// Dollars with enough digits to be useful for small amounts.
pub fn dollars(v: f64) -> String {
    if v >= 100.0 {
        format!("${}", thousands(v))
    } else if v >= 1.0 {
        format!("${v:.2}")
    } else {
        format!("${v:.4}")
    }
}

/// The verdict lines, then the run's answer, as the console prints them after the table.
pub fn render(report: &Report) -> String {
    let mut out = String::from("\n");
    for l in &report.results {
        out.push_str(&verdict_line(l));
    }
    out.push('\n');
    answer(report, &mut out);
    out
}

/// One level's verdict: `QPS 45.0: PASS - 99.8% success, 70,500 total tok/s, $0.0100/M`.
fn verdict_line(l: &LevelReport) -> String {
    let mut out = String::new();
    let a = &l.assessment;
    // The reason starts with the success rate, as the reference's lines do; client-limitation is
    // marked separately below.
    let reason = a.reason.endpoint_text();
    let level = match l.concurrency {
        Some(n) => format!("Concurrency {n} ({} QPS)", Qps(l.qps_target)),
        None => format!("QPS {}", Qps(l.qps_target)),
    };
    let _ = write!(
        out,
        "{level}: {} - {reason}, {} total tok/s",
        a.verdict,
        thousands(l.total_throughput_tok_s)
    );
    if let Some(c) = l
        .cost_analysis
        .as_ref()
        .and_then(|c| c.cost_per_million_tokens)
    {
        let _ = write!(out, ", {}/M", dollars(c));
    }
    if let (Some(g), Some(met)) = (l.goodput_qps, l.slo_attainment_pct) {
        let _ = write!(out, ", goodput {g:.2} req/s ({met:.1}% met the objectives)");
    }
    match (a.client_limited, a.trusted || l.partial) {
        (true, false) => out.push_str("  (client-limited: not trusted)"),
        (true, true) => out.push_str("  (client-limited, verdict stands)"),
        _ => {}
    }
    if l.partial {
        out.push_str("  (partial)");
    }
    out.push('\n');
    out
}

/// The run's answer: the maximum sustainable level, the search, the saturation point, the
/// recommended limit and its cost, the capacity plan, and the notes.
fn answer(report: &Report, out: &mut String) {
    let s = &report.summary;
    let pass = s.pass_threshold_pct;
    let rule = match &s.slo {
        Some(slo) => format!(">= {pass}% success, keeping up and {slo}"),
        None => format!(">= {pass}% success and keeping up"),
    };
    if let (Some(n), Some(q)) = (s.max_sustainable_concurrency, s.max_sustainable_qps) {
        let _ = writeln!(
            out,
            "Maximum sustainable concurrency: {n} requests in flight, at {q:.1} QPS (highest PASS level: {rule})"
        );
    }
    match s.max_sustainable_qps {
        Some(q) => {
            let _ = writeln!(
                out,
                "Maximum sustainable QPS: {} (highest PASS level: {rule})",
                Qps(q)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "Maximum sustainable QPS: none (no level passed: {rule})"
            );
        }
    }
    if let Some(search) = &s.search {
        out.push_str(&search_line(search));
    }
    if let Some(q) = s.saturation_qps {
        let l = report
            .results
            .iter()
            .find(|l| l.qps_target == q && l.assessment.verdict != Verdict::Pass);
        let how = l
            .map(|l| format!("{}, {}", l.assessment.verdict, l.assessment.reason))
            .unwrap_or_default();
        let _ = writeln!(out, "Saturation point: {} QPS ({how})", Qps(q));
    }
    if let (Some(r), Some(m)) = (s.recommended_qps, s.max_sustainable_qps) {
        let _ = writeln!(
            out,
            "Recommended production limit: {r:.1} QPS ({:.0}% of {m:.1}; --headroom {})",
            100.0 - s.headroom_pct,
            s.headroom_pct
        );
    }
    if let (Some(c), Some(m)) = (s.cost_per_million_at_recommended, s.max_sustainable_qps) {
        let _ = writeln!(
            out,
            "Cost at the recommended limit: ~{}/M tokens (estimated: the QPS {m:.1} level's cost, spread over proportionally fewer tokens)",
            dollars(c)
        );
    }
    if let Some(p) = &s.capacity_plan {
        let _ = writeln!(
            out,
            "Capacity plan for {} tokens/day (measured at QPS {:.1}): needs {} tok/s; one GPU serves {} tok/s ({} tok/hour), {} with headroom -> {} GPU{}{}",
            thousands(p.daily_tokens as f64),
            p.based_on_qps,
            thousands(p.required_tok_s),
            thousands(p.throughput_per_gpu_tok_s),
            thousands(p.tokens_per_gpu_hour),
            thousands(p.usable_per_gpu_tok_s),
            p.gpus_needed,
            if p.gpus_needed == 1 { "" } else { "s" },
            p.daily_cost.map(|c| format!(", {}/day", dollars(c))).unwrap_or_default()
        );
    }
    for n in &s.notes {
        let _ = writeln!(out, "Note: {n}");
    }
}

/// The search's answer: capacity, its bracket and what bound it, what it cost, why it stopped.
fn search_line(s: &SearchSummary) -> String {
    let why = match s.stopped {
        Stop::Converged => format!("the last PASS and the first FAIL are within {}%", s.tolerance_pct),
        Stop::ClientLimit => "stopped: a probe was client-limited, so higher rates would measure this machine, not the endpoint".into(),
        Stop::FailsAtStart => "stopped: the endpoint failed even at the start rate (--qps-start)".into(),
        Stop::Budget => "stopped: the next probe would overrun --search-budget".into(),
        Stop::MaxProbes => "stopped: the probe limit was reached".into(),
        Stop::Interrupted => "stopped: interrupted".into(),
        Stop::Unfinished => "unfinished: more probes were due".into(),
    };
    let capacity = match s.capacity_qps {
        Some(q) => format!("{q:.1} QPS"),
        None => "not found".into(),
    };
    let mut line = format!("Capacity (--qps auto): {capacity}");
    match (s.last_pass_qps, s.first_fail_qps) {
        (Some(p), Some(f)) => {
            let _ = write!(
                line,
                ", between {p:.1} (PASS) and {f:.1} (the first level that did not pass)"
            );
        }
        (None, Some(f)) => {
            let _ = write!(line, ", first FAIL at {f:.1}");
        }
        (Some(p), None) => {
            let _ = write!(line, ", highest PASS {p:.1}, no FAIL yet");
        }
        (None, None) => {}
    }
    if let Some(b) = &s.bound_by {
        let _ = write!(line, "; bound by: {b}");
    }
    let _ = writeln!(
        line,
        "; {} probes, {:.0} s of endpoint time; {why}",
        s.probes, s.endpoint_seconds
    );
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(thousands(70_500.4), "70,500");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
        assert_eq!(dollars(0.0052), "$0.0052");
        assert_eq!(dollars(55.2), "$55.20");
        assert_eq!(dollars(1234.0), "$1,234");
    }
}
