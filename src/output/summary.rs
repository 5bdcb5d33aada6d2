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
    if report.results.iter().any(|l| l.repetitions.is_some()) {
        out.push_str("\nRepetitions (the table shows means over runs; 95% interval over runs, then the runs' range):\n");
        for l in &report.results {
            out.push_str(&spread_line(l));
        }
    }
    out.push('\n');
    answer(report, &mut out);
    out
}

/// A repeated level's spread: `QPS 30.0: 3 runs; TTFT p50 0.139 s (0.135-0.143; 0.137-0.141) ...`.
fn spread_line(l: &LevelReport) -> String {
    let Some(runs) = &l.repetitions else {
        return String::new();
    };
    let range = |f: &dyn Fn(&LevelReport) -> Option<f64>| {
        let v: Vec<f64> = runs.iter().filter_map(f).collect();
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    };
    let ci = |i: Option<crate::analyze::stats::Interval>, show: &dyn Fn(f64) -> String| match i {
        Some(crate::analyze::stats::Interval {
            low: Some(a),
            high: Some(b),
        }) => format!("{}-{}; ", show(a), show(b)),
        _ => String::new(),
    };
    let (s_lo, s_hi) = range(&|r| Some(r.success_rate));
    let (t_lo, t_hi) = range(&|r| r.ttft.get(50.0));
    let (o_lo, o_hi) = range(&|r| Some(r.output_throughput_tok_s));
    format!(
        "QPS {}: {} runs; success {:.1}% ({s_lo:.1}-{s_hi:.1}); TTFT p50 {:.3} s ({}{t_lo:.3}-{t_hi:.3}); output {} tok/s ({}{}-{})\n",
        Qps(l.rate),
        runs.len(),
        l.success_rate,
        l.ttft.get(50.0).unwrap_or(f64::NAN),
        ci(l.ttft.interval(50.0), &|v| format!("{v:.3}")),
        thousands(l.output_throughput_tok_s),
        ci(l.output_throughput_tok_s_ci, &thousands),
        thousands(o_lo),
        thousands(o_hi),
    )
}

/// One level's verdict: `QPS 45.0: PASS - 99.8% success, 70,500 total tok/s, $0.0100/M`.
fn verdict_line(l: &LevelReport) -> String {
    let mut out = String::new();
    let a = &l.assessment;
    // The reason starts with the success rate, as the reference's lines do; client-limitation is
    // marked separately below.
    let reason = a.reason.endpoint_text();
    let level = match l.concurrency {
        Some(n) => format!(
            "Concurrency {n} (achieved {:.1} {})",
            l.actual_qps,
            if l.sessions.is_some() {
                "sessions/s"
            } else {
                "req/s"
            }
        ),
        None => format!("QPS {}", Qps(l.rate)),
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
    match (a.client_limited, a.trusted, l.partial) {
        (true, _, true) => out.push_str("  (client-limited)"),
        (true, false, false) => out.push_str("  (client-limited: not trusted)"),
        (true, true, false) => out.push_str("  (client-limited, verdict stands)"),
        _ => {}
    }
    if l.partial {
        out.push_str("  (partial)");
    }
    if a.reason.too_few.is_some() {
        out.push_str("  (too few requests to judge)");
    }
    out.push('\n');
    out
}

/// The run's answer: the maximum sustainable level, the search, the saturation point, the
/// recommended limit and its cost, the capacity plan, and the notes. A closed-loop run answers in
/// arrivals in flight and the rate they achieved; it offered no rate, so it gives no QPS capacity.
fn answer(report: &Report, out: &mut String) {
    let s = &report.summary;
    let closed = report.results.iter().any(|l| l.concurrency.is_some());
    let pass = s.pass_threshold_pct;
    // A closed loop cannot outrun the endpoint: it is never judged for keeping up.
    let rule = match (&s.slo, closed) {
        (Some(slo), false) => format!(">= {pass}% success, keeping up and {slo}"),
        (None, false) => format!(">= {pass}% success and keeping up"),
        (Some(slo), true) => format!(">= {pass}% success and {slo}"),
        (None, true) => format!(">= {pass}% success"),
    };
    if closed {
        closed_answer(report, &rule, out);
    } else {
        open_answer(report, &rule, out);
    }
    if let Some(e) = s.early_stop {
        let _ = writeln!(
            out,
            "Early stop (--stop-on-saturation): {} level{} stopped once certain not to pass, saving {:.1} s of sending",
            e.levels,
            if e.levels == 1 { "" } else { "s" },
            e.saved_s
        );
    }
    if let Some(c) = s.cost_per_million_at_recommended {
        let at = match (s.max_sustainable_concurrency, s.max_sustainable_qps) {
            (Some(n), _) => format!("concurrency {n}"),
            (None, Some(m)) => format!("QPS {m:.1}"),
            (None, None) => "maximum".into(),
        };
        let _ = writeln!(
            out,
            "Cost at the recommended limit: ~{}/M tokens (estimated: the {at} level's cost, spread over proportionally fewer tokens)",
            dollars(c)
        );
    }
    if let Some(p) = &s.capacity_plan {
        let measured_at = match s.max_sustainable_concurrency {
            Some(n) => format!("concurrency {n}"),
            None => format!("QPS {:.1}", p.based_on_qps),
        };
        // One GPU is the fewest there is: a bound says something only above it.
        let bounded = p.upper_bound && p.gpus_needed > 1;
        let bound = if bounded { "at most " } else { "" };
        let _ = writeln!(
            out,
            "Capacity plan for {} tokens/day (measured at {measured_at}): needs {} tok/s; one GPU serves {} tok/s ({} tok/hour), {} with headroom -> {bound}{} GPU{}{}{}",
            thousands(p.daily_tokens as f64),
            thousands(p.required_tok_s),
            thousands(p.throughput_per_gpu_tok_s),
            thousands(p.tokens_per_gpu_hour),
            thousands(p.usable_per_gpu_tok_s),
            p.gpus_needed,
            if p.gpus_needed == 1 { "" } else { "s" },
            p.daily_cost.map(|c| format!(", {}/day", dollars(c))).unwrap_or_default(),
            if bounded {
                " (no level saturated the endpoint, so one GPU may serve more than measured)"
            } else {
                ""
            }
        );
    }
    for n in &s.notes {
        let _ = writeln!(out, "Note: {n}");
    }
}

/// The answer of a run at rates: the maximum sustainable QPS (or why there is none), the search,
/// the saturation point and the recommended limit.
fn open_answer(report: &Report, rule: &str, out: &mut String) {
    let s = &report.summary;
    // With sessions --qps counts sessions started per second, and so does the answer.
    let (what, unit) = match report.results.iter().any(|l| l.sessions.is_some()) {
        true => ("session rate", " sessions/s"),
        false => ("QPS", ""),
    };
    let _ = match s.max_sustainable_qps {
        Some(q) => {
            let ci = s.capacity_ci.map_or(String::new(), |c| {
                format!("95% CI {:.1}-{:.1}; ", c.low, c.high)
            });
            writeln!(
                out,
                "Maximum sustainable {what}: {}{unit} ({ci}highest PASS level: {rule})",
                Qps(q)
            )
        }
        None => writeln!(
            out,
            "Maximum sustainable {what}: {}",
            none_because(report, rule)
        ),
    };
    if let Some(search) = &s.search {
        out.push_str(&search_line(search));
    }
    let unit = if unit.is_empty() { " QPS" } else { unit };
    if let Some(q) = s.saturation_qps {
        let _ = writeln!(
            out,
            "Saturation point: {}{unit} ({})",
            Qps(q),
            how(report, q)
        );
    }
    if let (Some(r), Some(m)) = (s.recommended_qps, s.max_sustainable_qps) {
        let _ = writeln!(
            out,
            "Recommended production limit: {r:.1}{unit} ({:.0}% of {m:.1}; --headroom {})",
            100.0 - s.headroom_pct,
            s.headroom_pct
        );
    }
}

/// The answer of a closed-loop run, in arrivals in flight and the rate they achieved.
fn closed_answer(report: &Report, rule: &str, out: &mut String) {
    let s = &report.summary;
    // With sessions an arrival is a session, and the achieved rate is sessions started per second.
    let (what, rate) = match report.results.iter().any(|l| l.sessions.is_some()) {
        true => ("session", "sessions/s"),
        false => ("request", "req/s"),
    };
    let what = |n: usize| format!("{what}{}", if n == 1 { "" } else { "s" });
    let _ = match (s.max_sustainable_concurrency, s.achieved_qps_at_max_concurrency) {
        (Some(n), Some(q)) => writeln!(
            out,
            "Maximum sustainable concurrency: {n} {} in flight, achieving {q:.1} {rate} (highest PASS level: {rule})",
            what(n)
        ),
        _ => writeln!(out, "Maximum sustainable concurrency: {}", none_because(report, rule)),
    };
    if let Some(n) = s.saturation_concurrency {
        let l = report
            .results
            .iter()
            .find(|l| l.concurrency == Some(n) && l.assessment.verdict != Verdict::Pass);
        let how = l.map(|l| {
            format!(
                "achieved {:.1} {rate}; {}, {}",
                l.actual_qps, l.assessment.verdict, l.assessment.reason
            )
        });
        let _ = writeln!(
            out,
            "Saturation point: concurrency {n} ({})",
            how.unwrap_or_default()
        );
    }
    if let (Some(r), Some(m)) = (s.recommended_concurrency, s.max_sustainable_concurrency) {
        let _ = writeln!(
            out,
            "Recommended concurrency limit: {r} {} in flight ({:.0}% of {m}, rounded down; --headroom {})",
            what(r),
            100.0 - s.headroom_pct,
            s.headroom_pct
        );
    }
}

/// Why there is no maximum: growth probes passed but no full-length one confirmed a rate, no
/// level's verdict could be used, or no level passed.
fn none_because(report: &Report, rule: &str) -> String {
    if let Some(p) = report
        .summary
        .search
        .as_ref()
        .and_then(|s| s.last_pass_qps.filter(|_| s.capacity_qps.is_none()))
    {
        return format!(
            "none confirmed (growth probes passed up to {}, but only a full-length probe may set the answer, and none did)",
            Qps(p)
        );
    }
    let usable = report.results.iter().any(|l| l.assessment.trusted);
    if !usable {
        return "none (no level's verdict could be used: see the notes)".into();
    }
    format!("none (no level passed: {rule})")
}

/// How the level at rate `q` that did not pass failed: its verdict and reason.
fn how(report: &Report, q: f64) -> String {
    report
        .results
        .iter()
        .find(|l| l.rate == q && l.assessment.verdict != Verdict::Pass)
        .map(|l| format!("{}, {}", l.assessment.verdict, l.assessment.reason))
        .unwrap_or_default()
}

/// The search's answer: capacity, its bracket and what bound it, what it cost, why it stopped.
fn search_line(s: &SearchSummary) -> String {
    let why = match s.stopped {
        Stop::Converged => match s.precision_pct {
            Some(p) => format!("the last PASS and the first FAIL are within {}%, and the capacity's 95% interval within {p}%", s.tolerance_pct),
            None => format!("the last PASS and the first FAIL are within {}%", s.tolerance_pct),
        },
        Stop::Imprecise => format!("stopped: the capacity's 95% interval is still wider than --capacity-precision, with {} full-length probes run above the first FAIL (the most it runs to measure the service rate)", crate::analyze::search::PRECISION_PROBES),
        Stop::ClientLimit => "stopped: a probe was client-limited, so higher rates would measure this machine, not the endpoint".into(),
        Stop::FailsAtStart => "stopped: the endpoint failed even at the start rate (--qps-start)".into(),
        Stop::Budget => "stopped: the next probe would overrun --search-budget".into(),
        Stop::MaxProbes => "stopped: the probe limit was reached".into(),
        Stop::Interrupted => "stopped: interrupted".into(),
        Stop::TooFew => format!("stopped: a rate's probes sent too few requests to judge, even lengthened {} times", crate::analyze::search::TOO_FEW_TRIES),
        Stop::Unfinished => "unfinished: more probes were due".into(),
    };
    let capacity = match (s.capacity_qps, s.last_pass_qps) {
        (Some(q), _) => format!("{q:.1} QPS"),
        (None, Some(_)) => "not confirmed by a full-length probe".into(),
        (None, None) => "not found".into(),
    };
    let mut line = format!("Capacity (--qps auto): {capacity}");
    let _ = match (s.capacity_qps, s.last_pass_qps, s.first_fail_qps) {
        (Some(c), _, Some(f)) => write!(
            line,
            ", between {c:.1} (PASS) and {f:.1} (the first level that did not pass)"
        ),
        (Some(c), _, None) => write!(line, ", highest PASS {c:.1}, no FAIL yet"),
        (None, Some(p), Some(f)) => write!(
            line,
            ", growth probes passed up to {p:.1}, first FAIL at {f:.1}"
        ),
        (None, Some(p), None) => write!(line, ", growth probes passed up to {p:.1}, no FAIL yet"),
        (None, None, Some(f)) => write!(line, ", first FAIL at {f:.1}"),
        (None, None, None) => Ok(()),
    };
    if let Some(b) = &s.bound_by {
        let _ = write!(line, "; bound by: {b}");
    }
    let _ = writeln!(
        line,
        "; {} probe{}, {:.0} s of endpoint time; {why}",
        s.probes,
        if s.probes == 1 { "" } else { "s" },
        s.endpoint_seconds
    );
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_level_never_claims_its_verdict_stands() {
        let run = crate::measure::record::LevelRun::new(
            crate::config::LevelId::rate(0, 5.0),
            5.0,
            1.0,
            vec![],
            Some(0.5),
        );
        let mut l = crate::analyze::level::level_report(&run, &Default::default());
        l.assessment.client_limited = true;
        l.assessment.trusted = false;
        let line = verdict_line(&l);
        assert!(
            line.contains("(client-limited)") && line.contains("(partial)"),
            "{line}"
        );
        assert!(!line.contains("verdict stands"), "{line}");
    }

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
