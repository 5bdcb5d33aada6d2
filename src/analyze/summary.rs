//! The run's answer from its judged levels: maximum sustainable QPS (or, for a closed loop,
//! concurrency), saturation point, recommended production limit, cost there, and a capacity plan
//! for `--daily-tokens`; and advice chosen from the cause that left the answer open.
//!
//! Reads each `LevelReport`'s stored assessment (judged once, in `level.rs`); never judges again.
//! Levels are read in increasing QPS. The maximum sustainable QPS is the highest PASS level below
//! the first trusted level that is not PASS; that level is the saturation point. A PASS after the
//! saturation point is reported as a non-monotonic curve, not taken as capacity. Levels whose
//! verdict is not trusted (a PASS the client did not deliver, a FAIL its lag could explain) and
//! interrupted levels, and levels of too few requests, are skipped with a note. A level where every
//! request failed for one misconfiguration (wrong key, model, host) ends the reading with advice
//! for that cause and is no saturation point: the endpoint was not measured there. Recommended limit =
//! maximum sustainable x (1 - headroom). A closed-loop run is answered in requests in flight and
//! the rate they achieved, never as a QPS capacity or a rate limit: it offered no rate.

use crate::analyze::capacity::{self, CapacityCi};
use crate::analyze::cause;
use crate::analyze::level::LevelReport;
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
    /// No level saturated the endpoint: a GPU may serve more than was measured, so
    /// `gpus_needed` is at most this many.
    pub upper_bound: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub pass_threshold_pct: f64,
    pub warn_threshold_pct: f64,
    pub headroom_pct: f64,
    /// The objectives besides success and keeping up (`--slo` form), when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo: Option<String>,
    /// The highest rate that passed; `null` for a closed-loop run, which offered no rate.
    pub max_sustainable_qps: Option<f64>,
    /// With `--concurrency`: the requests in flight at the maximum sustainable level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_sustainable_concurrency: Option<usize>,
    /// With `--concurrency`: the rate that level achieved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub achieved_qps_at_max_concurrency: Option<f64>,
    pub saturation_qps: Option<f64>,
    /// With `--concurrency`: the requests in flight of the first level that did not pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saturation_concurrency: Option<usize>,
    /// Why the saturation point is not PASS: errors, queueing or latency_objective.
    pub saturation_cause: Option<Cause>,
    /// The maximum sustainable rate's 95% interval (`capacity.rs`); for rates and searches only,
    /// with both a PASS and a level that did not pass (a search's is set by `report.rs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_ci: Option<CapacityCi>,
    pub recommended_qps: Option<f64>,
    /// With `--concurrency`: the maximum sustainable concurrency less the headroom.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommended_concurrency: Option<usize>,
    /// Estimated: the same GPUs serving proportionally fewer tokens than at the maximum level.
    pub cost_per_million_at_recommended: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_plan: Option<CapacityPlan>,
    /// `--stop-on-saturation`: the levels it stopped and the seconds of sending it saved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_stop: Option<EarlyStops>,
    /// `--qps auto`: the search's answer (filled by `report.rs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchSummary>,
    pub notes: Vec<String>,
}

/// The levels `--stop-on-saturation` stopped, and the seconds of sending that saved.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EarlyStops {
    pub levels: usize,
    pub saved_s: f64,
}

impl EarlyStops {
    fn of(levels: &[LevelReport]) -> Option<Self> {
        // Every repetition that stopped counts, not only the one a repeated level's verdict is from.
        let stops: Vec<f64> = levels
            .iter()
            .flat_map(LevelReport::runs)
            .filter_map(|l| l.early_stop.as_ref().map(|e| e.saved_s))
            .collect();
        (!stops.is_empty()).then(|| EarlyStops {
            levels: stops.len(),
            saved_s: stops.iter().sum(),
        })
    }
}

/// What the summary needs to know of the run beyond its levels: its kind, and whether it ran its
/// whole plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunShape {
    pub kind: Kind,
    /// Some level was interrupted, or the run stopped before its plan's last level.
    pub cut_short: bool,
    /// `--qps auto`: short growth probes passed that no full-length level confirmed, so the
    /// levels judged are not the lowest the endpoint was sent.
    pub unconfirmed_passes: bool,
}

/// The kinds of run whose answers read differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rates,
    Search,
    Concurrency,
    Trace,
}

/// The run's answer. `levels` in run order; `daily_tokens` from `--daily-tokens`.
pub fn summarize(
    levels: &[LevelReport],
    shape: RunShape,
    p: &Policy,
    pricing: Option<Pricing>,
    daily_tokens: Option<u64>,
) -> Summary {
    let Knee {
        max_ok,
        saturation,
        misconfigured,
        mut notes,
    } = knee(levels);
    notes.extend(match misconfigured {
        Some(l) => misconfigured_advice(l),
        None => advice(shape, max_ok, saturation),
    });
    let keep = 1.0 - p.headroom_pct / 100.0;
    let closed = shape.kind == Kind::Concurrency;
    let rate = |l: Option<&LevelReport>| l.filter(|_| !closed).map(|l| l.rate);
    let recommended_concurrency = max_ok
        .and_then(|l| l.concurrency)
        .map(|n| ((n as f64 * keep).floor() as usize).max(1));
    // The same GPUs serving the recommended share of the load: for a closed loop, the share of
    // requests in flight it keeps (whole requests, so not exactly the headroom).
    let share = match (recommended_concurrency, max_ok.and_then(|l| l.concurrency)) {
        (Some(r), Some(n)) if closed && n > 0 => r as f64 / n as f64,
        _ => keep,
    };
    let cost_per_million_at_recommended = max_ok
        .and_then(|l| l.cost_analysis.as_ref())
        .and_then(|c| c.cost_per_million_tokens)
        .map(|c| c / share);
    Summary {
        pass_threshold_pct: p.pass_pct,
        warn_threshold_pct: p.warn_pct,
        headroom_pct: p.headroom_pct,
        slo: (!p.objectives.is_empty()).then(|| crate::config::slo::to_text(&p.objectives)),
        max_sustainable_qps: rate(max_ok),
        max_sustainable_concurrency: max_ok.and_then(|l| l.concurrency),
        achieved_qps_at_max_concurrency: max_ok.filter(|_| closed).map(|l| l.actual_qps),
        saturation_qps: rate(saturation),
        saturation_concurrency: saturation.and_then(|l| l.concurrency),
        saturation_cause: saturation.and_then(|l| l.assessment.saturation_cause),
        // A search's interval rests on its own bracket (`report.rs` sets it).
        capacity_ci: match shape.kind {
            Kind::Rates => capacity::interval(levels, rate(max_ok), rate(saturation)),
            Kind::Search | Kind::Concurrency | Kind::Trace => None,
        },
        recommended_qps: rate(max_ok).map(|q| q * keep),
        recommended_concurrency,
        cost_per_million_at_recommended,
        capacity_plan: daily_tokens
            .zip(max_ok)
            .map(|(daily, l)| plan(daily, l, p, pricing, saturation.is_none())),
        early_stop: EarlyStops::of(levels),
        search: None,
        notes,
    }
}

/// The highest PASS below the first trusted level that did not pass, that level, and why levels
/// were skipped on the way.
struct Knee<'a> {
    max_ok: Option<&'a LevelReport>,
    saturation: Option<&'a LevelReport>,
    /// The first level where every request failed for one misconfiguration (a wrong key, model,
    /// host): no saturation point, since the endpoint was never measured there.
    misconfigured: Option<&'a LevelReport>,
    notes: Vec<String>,
}

/// Reads the levels in increasing rate (or concurrency), skipping interrupted and untrusted ones
/// with a note.
fn knee(levels: &[LevelReport]) -> Knee<'_> {
    let mut order: Vec<&LevelReport> = levels.iter().collect();
    order.sort_by(|a, b| {
        let key = |l: &LevelReport| l.concurrency.map_or(l.rate, |n| n as f64);
        key(a).total_cmp(&key(b))
    });
    let mut k = Knee {
        max_ok: None,
        saturation: None,
        misconfigured: None,
        notes: Vec::new(),
    };
    for l in order {
        if let Some(note) = unused(l) {
            k.notes.push(note);
            continue;
        }
        if k.saturation.is_none() && cause::level_misconfigured(l).is_some() {
            k.misconfigured = Some(l);
            break;
        }
        match (l.assessment.verdict, k.saturation) {
            (Verdict::Pass, None) => k.max_ok = Some(l),
            (Verdict::Pass, Some(s)) => k.notes.push(format!(
                "{} passed after {} did not: the success curve is not monotonic; rerun with a longer --duration before trusting either",
                l.label(), s.label()
            )),
            (_, None) => k.saturation = Some(l),
            (_, Some(_)) => {}
        }
    }
    k
}

/// Why a level's verdict is not used, if it is not: interrupted, too few requests, or the client
/// fell behind in a way that could explain it.
fn unused(l: &LevelReport) -> Option<String> {
    let a = &l.assessment;
    if l.partial {
        return Some(format!(
            "{} was interrupted (partial): its verdict is not used",
            l.label()
        ));
    }
    if let Some(n) = a.reason.too_few {
        return Some(format!(
            "{} sent {n} request{}, too few to judge (at least {}): its {} is not used",
            l.label(),
            if n == 1 { "" } else { "s" },
            crate::analyze::verdict::MIN_REQUESTS,
            a.verdict
        ));
    }
    if let Some((kept, measured)) = a.reason.rebuilt_from {
        return Some(format!(
            "{} was rebuilt from {kept} of the {measured} records it measured: its {} is not used",
            l.label(),
            a.verdict
        ));
    }
    if a.trusted {
        return None;
    }
    let why = a.reason.client.map(|c| c.to_string()).unwrap_or_default();
    // Where to look: the client's own failures are in the errors, the rest in the lag.
    let see = match a.reason.client {
        Some(crate::analyze::verdict::ClientLimit::ClientFailures(_)) => "errors",
        _ => "schedule_lag_s",
    };
    Some(format!(
        "{} is client-limited ({why}): its {} is not used; see {see}",
        l.label(),
        a.verdict
    ))
}

/// What to try next, chosen from why the levels leave the answer open: a misconfiguration, the
/// lowest level's own cause (errors, a queue, an objective out of reach), a run cut short, or a
/// plan that never reached the endpoint's limit. None where no cause supports advice.
fn advice(
    shape: RunShape,
    max_ok: Option<&LevelReport>,
    saturation: Option<&LevelReport>,
) -> Option<String> {
    let lower = match shape.kind {
        Kind::Concurrency => "test lower --concurrency",
        Kind::Trace => "replay it slower (--trace-speed below 1)",
        Kind::Rates | Kind::Search => "test lower rates",
    };
    match (max_ok, saturation) {
        // Lower rates passed as growth probes: the search's own line says how far they went.
        (None, Some(_)) if shape.unconfirmed_passes => None,
        (None, Some(s)) => Some(lowest_failed(s, lower)),
        (Some(_), None) if shape.cut_short => Some(
            "the run stopped before its plan was done: the answer covers the levels that finished, and no level found the endpoint's limit".into(),
        ),
        (Some(_), None) => match shape.kind {
            Kind::Rates => Some("no level saturated the endpoint: add higher --qps levels to find its limit".into()),
            Kind::Concurrency => Some("no level saturated the endpoint: add higher --concurrency levels to find its limit".into()),
            Kind::Trace => Some("the trace's load did not saturate the endpoint: replay it faster (--trace-speed above 1) to find its limit".into()),
            // The search says why it stopped.
            Kind::Search => None,
        },
        _ => None,
    }
}

/// Advice where every request of a level failed for one misconfiguration: no rate fixes a wrong
/// key, model name or host, and the endpoint's capacity was not measured there.
fn misconfigured_advice(l: &LevelReport) -> Option<String> {
    let (cause, what) = cause::level_misconfigured(l)?;
    Some(format!(
        "at {} every request failed with {what}, so it measured no capacity and is no saturation point: {}",
        l.label(),
        cause.advice()
    ))
}

/// Advice when even the lowest trusted level `s` did not pass, by its cause.
fn lowest_failed(s: &LevelReport, lower: &str) -> String {
    let at = format!("even the lowest trusted level ({})", s.label());
    match s.assessment.saturation_cause {
        Some(Cause::Queueing) => format!(
            "{at} did not keep up: requests queued even there; {lower}"
        ),
        Some(Cause::LatencyObjective) => format!(
            "{at} missed an objective at {:.1}% success ({}): the objective may be out of reach at any load, if the endpoint needs that long even idle; {lower} to see, or loosen --slo (or shorten replies with --max-tokens)",
            s.success_rate,
            s.assessment.reason.endpoint_text()
        ),
        _ => format!(
            "{at} did not pass: the endpoint is overloaded even there; {lower}"
        ),
    }
}

fn plan(
    daily: u64,
    l: &LevelReport,
    p: &Policy,
    pricing: Option<Pricing>,
    upper_bound: bool,
) -> CapacityPlan {
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
        based_on_qps: l.rate,
        required_tok_s: required,
        throughput_per_gpu_tok_s: per_gpu,
        tokens_per_gpu_hour: per_gpu * 3600.0,
        usable_per_gpu_tok_s: usable,
        gpus_needed,
        daily_cost: pricing.map(|p| gpus_needed as f64 * p.gpu_rate * 24.0),
        upper_bound,
    }
}
