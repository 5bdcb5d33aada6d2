//! The run's answer from its judged levels: maximum sustainable QPS, saturation point, recommended
//! production limit, cost there, and a capacity plan for `--daily-tokens`.
//!
//! Reads each `LevelReport`'s stored assessment (judged once, in `level.rs`); never judges again.
//! Levels are read in increasing QPS. The maximum sustainable QPS is the highest PASS level below
//! the first trusted level that is not PASS; that level is the saturation point. A PASS after the
//! saturation point is reported as a non-monotonic curve, not taken as capacity. Levels whose
//! verdict is not trusted (a PASS the client did not deliver, a FAIL its lag could explain) and
//! interrupted levels are skipped with a note. Recommended limit = maximum sustainable x (1 - headroom).

use crate::analyze::cause;
use crate::analyze::level::LevelReport;
use crate::analyze::reason::Qps;
use crate::analyze::search::SearchSummary;
use crate::analyze::verdict::{Cause, Verdict};
use crate::config::{Policy, Pricing};
use serde::Serialize;

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
    /// The objectives besides success and keeping up (`--slo` form), when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo: Option<String>,
    pub max_sustainable_qps: Option<f64>,
    /// With `--concurrency`: the requests in flight at the maximum sustainable level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_sustainable_concurrency: Option<usize>,
    pub saturation_qps: Option<f64>,
    /// Why the saturation point is not PASS: errors, queueing or latency_objective.
    pub saturation_cause: Option<Cause>,
    pub recommended_qps: Option<f64>,
    /// Estimated: the same GPUs serving proportionally fewer tokens than at the maximum level.
    pub cost_per_million_at_recommended: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_plan: Option<CapacityPlan>,
    /// `--qps auto`: the search's answer (filled by `report.rs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchSummary>,
    pub notes: Vec<String>,
}

/// The run's answer. `levels` in run order; `daily_tokens` from `--daily-tokens`.
pub fn summarize(
    levels: &[LevelReport],
    p: &Policy,
    pricing: Option<Pricing>,
    daily_tokens: Option<u64>,
) -> Summary {
    let Knee {
        max_ok,
        saturation,
        mut notes,
    } = knee(levels);
    notes.extend(advice(levels, max_ok, saturation));
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
        slo: (!p.objectives.is_empty()).then(|| crate::config::slo::to_text(&p.objectives)),
        max_sustainable_qps: max_ok.map(|l| l.qps_target),
        max_sustainable_concurrency: max_ok.and_then(|l| l.concurrency),
        saturation_qps: saturation.map(|l| l.qps_target),
        saturation_cause: saturation.and_then(|l| l.assessment.saturation_cause),
        recommended_qps,
        cost_per_million_at_recommended,
        capacity_plan,
        search: None,
        notes,
    }
}

/// The highest PASS below the first trusted level that did not pass, that level, and why levels
/// were skipped on the way.
struct Knee<'a> {
    max_ok: Option<&'a LevelReport>,
    saturation: Option<&'a LevelReport>,
    notes: Vec<String>,
}

/// Reads the levels in increasing QPS, skipping interrupted and untrusted ones with a note.
fn knee(levels: &[LevelReport]) -> Knee<'_> {
    let mut order: Vec<&LevelReport> = levels.iter().collect();
    order.sort_by(|a, b| a.qps_target.total_cmp(&b.qps_target));
    let mut k = Knee {
        max_ok: None,
        saturation: None,
        notes: Vec::new(),
    };
    for l in order {
        let a = &l.assessment;
        if l.partial {
            k.notes.push(format!(
                "QPS {} was interrupted (partial): its verdict is not used",
                Qps(l.qps_target)
            ));
            continue;
        }
        if !a.trusted {
            let why = a.reason.client.map(|c| c.to_string()).unwrap_or_default();
            // Where to look: the client's own failures are in the errors, the rest in the lag.
            let see = match a.reason.client {
                Some(crate::analyze::verdict::ClientLimit::ClientFailures(_)) => "errors",
                _ => "schedule_lag_s",
            };
            k.notes.push(format!(
                "QPS {} is client-limited ({why}): its {} is not used; see {see}",
                Qps(l.qps_target),
                a.verdict
            ));
            continue;
        }
        match (a.verdict, k.saturation) {
            (Verdict::Pass, None) => k.max_ok = Some(l),
            (Verdict::Pass, Some(s)) => k.notes.push(format!(
                "QPS {} passed after QPS {} did not: the success curve is not monotonic; rerun with a longer --duration before trusting either",
                Qps(l.qps_target), Qps(s.qps_target)
            )),
            (_, None) => k.saturation = Some(l),
            (_, Some(_)) => {}
        }
    }
    k
}

/// What to try next, when the levels leave the answer open: nothing passed, or nothing saturated.
fn advice(
    levels: &[LevelReport],
    max_ok: Option<&LevelReport>,
    saturation: Option<&LevelReport>,
) -> Option<String> {
    // Closed-loop levels are sized by requests in flight, not rates.
    let closed = levels.iter().any(|l| l.concurrency.is_some());
    let (lower, higher) = if closed {
        (
            "test lower --concurrency",
            "add higher --concurrency levels",
        )
    } else {
        ("test lower rates", "add higher --qps levels")
    };
    match (max_ok, saturation) {
        (None, Some(s)) => Some(match cause::level_misconfigured(s) {
            // Advice that fits the cause: no lower rate fixes a wrong key or model name.
            Some((cause, what)) => format!(
                "even the lowest trusted level (QPS {}) did not pass, every request failing with {what}: {}",
                Qps(s.qps_target),
                cause.advice()
            ),
            None => format!(
                "even the lowest trusted level (QPS {}) did not pass: the endpoint is overloaded even there; {lower}",
                Qps(s.qps_target)
            ),
        }),
        (Some(_), None) => Some(format!(
            "no level saturated the endpoint: {higher} to find its limit"
        )),
        _ => None,
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
