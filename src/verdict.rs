//! The answer, not just the numbers: a verdict per level and the run's summary (maximum sustainable
//! QPS, saturation point, recommended production limit, cost there, capacity plan).
//!
//! Pure functions of the levels' `report::LevelReport`s, so they are unit-tested on hand-built levels
//! and shared by the live run, `redline report`, the console, the JSON and the chart.
//!
//! Rules (documented in README.md):
//! - PASS when success >= `pass_pct` (99), WARN when >= `warn_pct` (90), else FAIL.
//! - A level that did not keep up (`queueing.rs`: requests queued, TTFT climbing) FAILs even when every
//!   request succeeded; so does one that misses a latency objective (`--max-ttft-p95`,
//!   `--max-e2e-p95`). The verdict names its cause: errors, queueing or latency objective.
//! - A level whose actual send rate fell below `min_send_ratio` (98%) of its target, whose schedule
//!   lag p99 exceeds `max_lag_p99` (5 ms), or that had client-side failures, is client-limited: the client, not the endpoint, set its pace, so its
//!   verdict is shown but not trusted. Verdicts judge `endpoint_success_rate`: the client's own
//!   failures are never counted against the endpoint.
//! - Levels are read in increasing QPS. The maximum sustainable QPS is the highest PASS level below
//!   the first trusted level that is not PASS; that level is the saturation point. A PASS after the
//!   saturation point is reported as a non-monotonic curve, not taken as capacity.
//! - Recommended limit = maximum sustainable x (1 - headroom).

use crate::config::Pricing;
use crate::report::LevelReport;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        })
    }
}

/// What makes a level pass, and how much headroom to keep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    pub pass_pct: f64,
    pub warn_pct: f64,
    pub min_send_ratio: f64,
    /// Percent of the maximum sustainable QPS kept free in production.
    pub headroom_pct: f64,
    /// A level whose schedule lag p99 exceeds this (seconds) is client-limited: the client sent late
    /// enough to show in latencies counted from the planned time.
    pub max_lag_p99: f64,
    /// Latency objectives, seconds.
    pub max_ttft_p95: Option<f64>,
    pub max_e2e_p95: Option<f64>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            pass_pct: 99.0,
            warn_pct: 90.0,
            min_send_ratio: 0.98,
            headroom_pct: 25.0,
            max_lag_p99: 0.005,
            max_ttft_p95: None,
            max_e2e_p95: None,
        }
    }
}

/// Why a level is not PASS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Too many requests failed.
    Errors,
    /// Every request may have succeeded, but the endpoint did not keep up: requests queued.
    Queueing,
    /// A latency objective was missed.
    LatencyObjective,
}

/// One level's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub verdict: Verdict,
    /// Why it is not PASS (`null` for PASS).
    pub saturation_cause: Option<Cause>,
    pub client_limited: bool,
    /// Why, in words: "99.8% success", "queueing: TTFT rose from 0.03 s to 7.7 s during the level;
    /// 13.3 of 32.0 req/s served".
    pub verdict_reason: String,
}

pub fn assess(l: &LevelReport, p: &Policy) -> Assessment {
    // The endpoint is judged on the requests that reached it; client-side failures (concurrency
    // cap, no file descriptors or ports, interruption) make the level client-limited instead.
    let rate = if l.client_side_errors > 0 {
        l.endpoint_success_rate
    } else {
        l.success_rate
    };
    let by_errors = if rate >= p.pass_pct {
        Verdict::Pass
    } else if rate >= p.warn_pct {
        Verdict::Warn
    } else {
        Verdict::Fail
    };
    let mut reason = if l.client_side_errors > 0 {
        format!(
            "{:.1}% success ({:.1}% of the requests sent)",
            l.success_rate, l.endpoint_success_rate
        )
    } else {
        format!("{:.1}% success", l.success_rate)
    };
    let mut cause = (by_errors != Verdict::Pass).then_some(Cause::Errors);
    let mut verdict = by_errors;
    let k = &l.keep_up;
    if k.queueing {
        verdict = Verdict::Fail;
        cause = cause.or(Some(Cause::Queueing));
        let mut parts = Vec::new();
        if let (true, Some(a), Some(b)) = (k.ttft_rose, k.ttft_first_s, k.ttft_last_s) {
            parts.push(format!(
                "TTFT rose from {} to {} during the level",
                secs(a),
                secs(b)
            ));
        }
        if let (true, Some(served), Some(sent)) =
            (k.fell_behind, k.steady_served_qps, k.steady_sent_qps)
        {
            parts.push(format!("{served:.1} of {sent:.1} req/s served"));
        }
        reason.push_str(&format!("; queueing: {}", parts.join("; ")));
    }
    for (name, limit, got) in [
        ("TTFT", p.max_ttft_p95, l.ttft.get(95.0)),
        ("E2E", p.max_e2e_p95, l.e2e_latency.get(95.0)),
    ] {
        if let (Some(limit), Some(got)) = (limit, got) {
            if got > limit {
                verdict = Verdict::Fail;
                cause = cause.or(Some(Cause::LatencyObjective));
                reason.push_str(&format!(
                    "; latency objective missed: {name} p95 {} > {}",
                    secs(got),
                    secs(limit)
                ));
            }
        }
    }
    let slow_client = l.actual_qps < p.min_send_ratio * l.qps_target;
    let late_client = l.schedule_lag_s.p99.is_some_and(|lag| lag > p.max_lag_p99);
    let client_limited = slow_client || late_client || l.client_side_errors > 0;
    if slow_client {
        reason.push_str(&format!(
            "; client-limited: sent {:.2} of {:.2} req/s, so this verdict is not trusted",
            l.actual_qps, l.qps_target
        ));
    } else if late_client {
        reason.push_str(&format!(
            "; client-limited: sends were up to {:.1} ms late (lag p99), so this verdict is not trusted",
            l.schedule_lag_s.p99.unwrap_or_default() * 1e3
        ));
    } else if client_limited {
        reason.push_str(&format!(
            "; client-limited: {} client-side failures, so this verdict is not trusted",
            l.client_side_errors
        ));
    }
    Assessment {
        verdict,
        saturation_cause: cause,
        client_limited,
        verdict_reason: reason,
    }
}

/// `0.0312` -> `0.031 s`, `7.7` -> `7.7 s`.
fn secs(v: f64) -> String {
    if v < 1.0 {
        format!("{v:.3} s")
    } else {
        format!("{v:.1} s")
    }
}

/// A plan for serving `daily_tokens` (input + output) from the measured maximum sustainable level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityPlan {
    pub daily_tokens: u64,
    pub based_on_qps: f64,
    pub required_tok_s: f64,
    pub throughput_per_gpu_tok_s: f64,
    pub tokens_per_gpu_hour: f64,
    /// Per-GPU throughput after headroom.
    pub usable_per_gpu_tok_s: f64,
    pub gpus_needed: u64,
    /// GPUs needed x rate x 24 h, when priced.
    pub daily_cost: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub pass_threshold_pct: f64,
    pub warn_threshold_pct: f64,
    pub headroom_pct: f64,
    pub max_sustainable_qps: Option<f64>,
    pub saturation_qps: Option<f64>,
    /// Why the saturation point is not PASS: errors, queueing or latency_objective.
    pub saturation_cause: Option<Cause>,
    pub recommended_qps: Option<f64>,
    /// Estimated: the same GPUs serving proportionally fewer tokens than at the maximum level.
    pub cost_per_million_at_recommended: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_plan: Option<CapacityPlan>,
    pub notes: Vec<String>,
}

/// The run's answer. `levels` in run order; `daily_tokens` from `--daily-tokens`.
pub fn summarize(
    levels: &[LevelReport],
    p: &Policy,
    pricing: Option<Pricing>,
    daily_tokens: Option<u64>,
) -> Summary {
    let mut order: Vec<&LevelReport> = levels.iter().collect();
    order.sort_by(|a, b| a.qps_target.total_cmp(&b.qps_target));
    let mut notes = Vec::new();
    let (mut max_ok, mut saturation): (Option<&LevelReport>, Option<&LevelReport>) = (None, None);
    for l in &order {
        let a = assess(l, p);
        if a.client_limited {
            notes.push(format!(
                "QPS {:.1} is client-limited (sent {:.2} req/s): its verdict is not used; see schedule_lag_s",
                l.qps_target, l.actual_qps
            ));
            continue;
        }
        match (a.verdict, saturation) {
            (Verdict::Pass, None) => max_ok = Some(l),
            (Verdict::Pass, Some(s)) => notes.push(format!(
                "QPS {:.1} passed after QPS {:.1} did not: the success curve is not monotonic; rerun with a longer --duration before trusting either",
                l.qps_target, s.qps_target
            )),
            (_, None) => saturation = Some(l),
            (_, Some(_)) => {}
        }
    }
    match (max_ok, saturation) {
        (None, Some(s)) => notes.push(format!(
            "even the lowest trusted level (QPS {:.1}) did not pass: test lower rates, and check the endpoint, model name and key",
            s.qps_target
        )),
        (Some(_), None) => notes.push("no level saturated the endpoint: add higher --qps levels to find its limit".into()),
        _ => {}
    }
    let keep = 1.0 - p.headroom_pct / 100.0;
    let recommended_qps = max_ok.map(|l| l.qps_target * keep);
    let cost_per_million_at_recommended = max_ok
        .and_then(|l| l.cost_analysis.as_ref())
        .and_then(|c| c.cost_per_million_tokens)
        .map(|c| c / keep);
    let capacity_plan = daily_tokens
        .zip(max_ok)
        .map(|(daily, l)| plan(daily, l, p, pricing));
    Summary {
        pass_threshold_pct: p.pass_pct,
        warn_threshold_pct: p.warn_pct,
        headroom_pct: p.headroom_pct,
        max_sustainable_qps: max_ok.map(|l| l.qps_target),
        saturation_qps: saturation.map(|l| l.qps_target),
        saturation_cause: saturation.and_then(|l| assess(l, p).saturation_cause),
        recommended_qps,
        cost_per_million_at_recommended,
        capacity_plan,
        notes,
    }
}

fn plan(daily: u64, l: &LevelReport, p: &Policy, pricing: Option<Pricing>) -> CapacityPlan {
    let gpus = pricing.map_or(1, |p| p.num_gpus).max(1);
    let per_gpu = l.total_throughput_tok_s / f64::from(gpus);
    let usable = per_gpu * (1.0 - p.headroom_pct / 100.0);
    let required = daily as f64 / 86_400.0;
    let gpus_needed = if usable > 0.0 {
        (required / usable).ceil().max(1.0) as u64
    } else {
        0
    };
    CapacityPlan {
        daily_tokens: daily,
        based_on_qps: l.qps_target,
        required_tok_s: required,
        throughput_per_gpu_tok_s: per_gpu,
        tokens_per_gpu_hour: per_gpu * 3600.0,
        usable_per_gpu_tok_s: usable,
        gpus_needed,
        daily_cost: pricing.map(|p| gpus_needed as f64 * p.gpu_rate * 24.0),
    }
}

#[cfg(test)]
#[path = "verdict_tests.rs"]
mod tests;
