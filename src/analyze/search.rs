//! `--qps auto`: finds the highest open-loop arrival rate that meets the objectives, probe by probe.
//! Pure: given the plan and the probes judged so far, [`next`] says which rate to probe next (and
//! for how long), or why the search is over; the pipeline runs each probe as an ordinary level.
//!
//! 1. **Grow**: start at `--qps-start` and double while probes PASS. Growth probes run a third of
//!    `--duration`, at least `--min-probe-duration` (5 s by default) and at most `--duration`: far
//!    from capacity a shorter level is enough. Any probe runs long enough to send at least
//!    `verdict::MIN_REQUESTS` requests, the fewest a verdict may rest on.
//! 2. **Jump**: the lowest FAIL also says roughly where capacity is: the rate it served (successes
//!    per second, or first tokens per second in its steady half when it queued). The next probes go
//!    just below and just above that estimate (by 40% of the tolerance each side), which closes
//!    the bracket at once when the estimate is right.
//! 3. **Bisect** between the last PASS and the first FAIL until they are within `--qps-tolerance`.
//!    These probes run the full `--duration`, long enough for a queue to fill past the queueing
//!    detector's thresholds (see docs/simulator.md); the answer is always a full-length PASS, so a
//!    short growth probe that passed is probed again at full length before it is reported.
//!
//! The search stops, and says so, when the bracket is within tolerance, when a probe was
//! client-limited (the client, not the endpoint, became the limit), when the endpoint fails even at
//! the start rate, when the next probe would overrun `--search-budget` (endpoint seconds), or
//! after [`MAX_PROBES`].

use crate::analyze::capacity::{self, CapacityCi, Method};
use crate::analyze::level::LevelReport;
use crate::analyze::verdict::{Verdict, MIN_REQUESTS};
use crate::config::AutoQps;
use serde::Serialize;

/// Most probes in one search.
pub const MAX_PROBES: usize = 24;
/// Growth factor while probes pass.
const GROWTH: f64 = 2.0;

/// How to search.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub start_qps: f64,
    /// Relative width of the final bracket (0.05 = 5%).
    pub tolerance: f64,
    /// Relative width of the capacity's 95% interval to reach by probing past capacity
    /// (`None` for a search recorded before `--capacity-precision` existed).
    pub precision: Option<f64>,
    /// Seconds of a full-length probe (`--duration`).
    pub duration_s: f64,
    /// Endpoint seconds the whole search may use.
    pub budget_s: Option<f64>,
    /// The shortest growth probe, seconds.
    pub min_probe_s: f64,
}

/// The plan of `--qps auto`.
pub fn plan(a: AutoQps) -> Plan {
    Plan {
        // Probes run at rates rounded to 3 significant digits; so does the start.
        start_qps: round3(a.start_qps),
        tolerance: a.tolerance,
        precision: a.precision_pct.map(|p| p / 100.0),
        duration_s: a.duration_s,
        budget_s: a.budget_s,
        min_probe_s: a.min_probe_s,
    }
}

/// What to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Probe {
        qps: f64,
        duration_s: f64,
        /// A probe past capacity to measure the service rate: it must run in full, never
        /// stopped early.
        past_capacity: bool,
    },
    Done(Stop),
}

/// Why the search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// The last PASS and the first FAIL are within the tolerance, and the capacity's interval
    /// within the precision.
    Converged,
    /// The bracket converged, but [`PRECISION_PROBES`] probes past capacity left the capacity's
    /// interval wider than the precision.
    Imprecise,
    /// A probe was client-limited: higher rates would measure the client.
    ClientLimit,
    /// The endpoint did not pass even at the start rate.
    FailsAtStart,
    /// The next probe would overrun `--search-budget`.
    Budget,
    /// [`MAX_PROBES`] probes ran.
    MaxProbes,
    /// A probe was interrupted.
    Interrupted,
    /// A rate's probes sent too few requests to judge, even lengthened [`TOO_FEW_TRIES`] times.
    TooFew,
    /// More probes were due (a run still going, or cut short).
    Unfinished,
}

/// A probe as the search sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Probe {
    qps: f64,
    pass: bool,
    full: bool,
}

/// Whether a level ran the full probe length (`--duration`), not a short growth probe.
pub fn full_length(l: &LevelReport, duration_s: f64) -> bool {
    l.send_window_s + 1e-6 >= duration_s
}

/// The probes whose verdict may bound the answer: trusted and whole.
fn probes(levels: &[LevelReport], plan: &Plan) -> Vec<Probe> {
    levels
        .iter()
        .filter(|l| l.assessment.trusted && !l.partial)
        .map(|l| Probe {
            qps: l.rate,
            pass: l.assessment.verdict == Verdict::Pass,
            full: full_length(l, plan.duration_s),
        })
        .collect()
}

/// The highest full-length PASS below the lowest FAIL, and that FAIL.
pub fn bracket(levels: &[LevelReport], plan: &Plan) -> (Option<f64>, Option<f64>) {
    let ps = probes(levels, plan);
    let fail = ps
        .iter()
        .filter(|p| !p.pass)
        .map(|p| p.qps)
        .fold(None, |m: Option<f64>, q| Some(m.map_or(q, |m| m.min(q))));
    let pass = ps
        .iter()
        .filter(|p| p.pass && p.full && fail.is_none_or(|f| p.qps < f))
        .map(|p| p.qps)
        .fold(None, |m: Option<f64>, q| Some(m.map_or(q, |m| m.max(q))));
    (pass, fail)
}

/// The next probe, or why the search is over. `levels` are the probes so far, in search order.
pub fn next(plan: &Plan, levels: &[LevelReport]) -> Next {
    let Some(last) = levels.last() else {
        return probe(plan, plan.start_qps, false, 0.0);
    };
    if last.partial {
        return Next::Done(Stop::Interrupted);
    }
    if last.assessment.reason.too_few.is_some() && !last.assessment.client_limited {
        return again_longer(plan, levels, last);
    }
    if !last.assessment.trusted {
        return Next::Done(Stop::ClientLimit);
    }
    if levels.len() >= MAX_PROBES {
        return Next::Done(Stop::MaxProbes);
    }
    let spent: f64 = levels.iter().map(|l| l.duration_s).sum();
    let (pass, fail) = bracket(levels, plan);
    let Some(fail) = fail else {
        // Growing: double the highest rate probed.
        let top = levels.iter().map(|l| l.rate).fold(0.0, f64::max);
        return probe(plan, top * GROWTH, false, spent);
    };
    // Reuse what the lowest FAIL showed: the rate it served. Probing just below and just above
    // that estimate closes the bracket in two probes when the estimate is right.
    let estimate = failing(levels, fail).map(served_qps).filter(|&q| q > 0.0);
    let margin = 0.4 * plan.tolerance;
    let below = estimate.map(|e| round3(e * (1.0 - margin)));
    let above = estimate.map(|e| round3(e * (1.0 + margin)));
    let Some(pass) = pass else {
        // Nothing passed at full length below the lowest FAIL: try just below the estimate, then
        // confirm the highest short PASS, then the start rate.
        if let Some(b) =
            below.filter(|&b| b < fail && b >= plan.start_qps && !probed(levels, plan, b))
        {
            return probe(plan, b, true, spent);
        }
        let short_pass = probes(levels, plan)
            .iter()
            .filter(|p| p.pass && p.qps < fail)
            .map(|p| p.qps)
            .fold(None, |m: Option<f64>, q| Some(m.map_or(q, |m| m.max(q))));
        return match short_pass {
            Some(q) if !probed(levels, plan, q) => probe(plan, q, true, spent),
            _ if fail <= plan.start_qps * (1.0 + 1e-9) || probed(levels, plan, plan.start_qps) => {
                Next::Done(Stop::FailsAtStart)
            }
            _ => probe(plan, plan.start_qps, true, spent),
        };
    };
    let ci = capacity::interval(levels, Some(pass), Some(fail));
    let precise = |c: &CapacityCi| {
        plan.precision
            .is_none_or(|p| c.width_pct(pass) <= p * 100.0)
    };
    if (fail - pass) / pass <= plan.tolerance {
        match ci {
            Some(c) if !precise(&c) && c.method == Method::PassFailAndServiceRate => {
                return past_capacity(plan, levels, fail, spent);
            }
            // The decisions alone bound it: bisect on to the precision.
            Some(c) if !precise(&c) => {}
            _ => return Next::Done(Stop::Converged),
        }
    }
    let inside = |q: f64| q > pass && q < fail && !probed(levels, plan, q);
    let target = match (below, above) {
        (Some(b), _) if inside(b) => b,
        (_, Some(a)) if inside(a) => a,
        _ => round3((pass + fail) / 2.0),
    };
    if !inside(target) {
        // Rounding left no rate strictly between the bracket's ends: it is as narrow as it gets.
        return Next::Done(Stop::Converged);
    }
    probe(plan, target, true, spent)
}

/// Most full-length probes above the first FAIL (each measures the service rate) before the
/// search gives up narrowing the capacity's interval.
pub const PRECISION_PROBES: usize = 4;

/// A full-length probe above the first FAIL, each 10% further than the last: every one that the
/// endpoint cannot serve measures its service rate again, narrowing the capacity's interval.
fn past_capacity(plan: &Plan, levels: &[LevelReport], fail: f64, spent: f64) -> Next {
    let past = levels
        .iter()
        .filter(|l| l.rate > fail && full_length(l, plan.duration_s))
        .count();
    if past >= PRECISION_PROBES {
        return Next::Done(Stop::Imprecise);
    }
    let qps = round3(fail * (1.0 + 0.1 * (past + 1) as f64));
    match probe(plan, qps, true, spent) {
        Next::Probe {
            qps, duration_s, ..
        } => Next::Probe {
            qps,
            duration_s,
            past_capacity: true,
        },
        done => done,
    }
}

/// How often a rate is probed again, each time twice as long, when it sent too few requests to
/// judge (a ramp-up, or Poisson arrivals that happened to be few).
pub const TOO_FEW_TRIES: usize = 3;

/// The same rate probed again for twice as long: a probe too small to judge says nothing about
/// the endpoint, so it neither grows nor bounds the search.
fn again_longer(plan: &Plan, levels: &[LevelReport], last: &LevelReport) -> Next {
    let tries = levels
        .iter()
        .rev()
        .take_while(|l| l.rate == last.rate && l.assessment.reason.too_few.is_some())
        .count();
    if tries > TOO_FEW_TRIES {
        return Next::Done(Stop::TooFew);
    }
    let spent: f64 = levels.iter().map(|l| l.duration_s).sum();
    let duration_s = last.send_window_s * 2.0;
    if plan.budget_s.is_some_and(|b| spent + duration_s > b) {
        return Next::Done(Stop::Budget);
    }
    Next::Probe {
        qps: last.rate,
        duration_s,
        past_capacity: false,
    }
}

/// The level that failed at `qps` (a rate may also have a PASS, from a short growth probe).
fn failing(levels: &[LevelReport], qps: f64) -> Option<&LevelReport> {
    levels
        .iter()
        .filter(|l| l.assessment.trusted && !l.partial)
        .find(|l| l.rate == qps && l.assessment.verdict != Verdict::Pass)
}

/// The rate a failing level actually served.
fn served_qps(l: &LevelReport) -> f64 {
    if l.keep_up.queueing {
        l.keep_up.steady_served_qps.unwrap_or(l.successful_qps)
    } else {
        l.successful_qps
    }
}

/// Whether `qps` was already probed at full length (a short growth probe proves nothing there,
/// nor does one too small to judge).
fn probed(levels: &[LevelReport], plan: &Plan, qps: f64) -> bool {
    levels.iter().any(|l| {
        (l.rate - qps).abs() <= qps * 1e-3
            && full_length(l, plan.duration_s)
            && l.assessment.reason.too_few.is_none()
    })
}

/// A probe at `qps` (rounded to 3 significant digits), full length or a growth probe, unless it
/// would overrun the budget.
fn probe(plan: &Plan, qps: f64, full: bool, spent: f64) -> Next {
    let duration_s = if full {
        plan.duration_s
    } else {
        (plan.duration_s / 3.0)
            .max(plan.min_probe_s)
            .min(plan.duration_s)
    };
    // Long enough for a verdict: a probe of too few requests would be shown, not judged.
    let qps = round3(qps);
    let duration_s = duration_s.max(MIN_REQUESTS as f64 / qps);
    if plan.budget_s.is_some_and(|b| spent + duration_s > b) {
        return Next::Done(Stop::Budget);
    }
    Next::Probe {
        qps,
        duration_s,
        past_capacity: false,
    }
}

/// `qps` to 3 significant digits: 23.4375 -> 23.4.
pub fn round3(qps: f64) -> f64 {
    if qps <= 0.0 || !qps.is_finite() {
        return qps;
    }
    let scale = 10f64.powi(2 - qps.log10().floor() as i32);
    (qps * scale).round() / scale
}

/// The search's answer, for the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchSummary {
    /// The highest full-length PASS below the lowest FAIL.
    pub capacity_qps: Option<f64>,
    /// The highest PASS below the lowest FAIL, a short growth probe's too (a lower bound that a
    /// full-length probe has not confirmed when it is above the capacity).
    pub last_pass_qps: Option<f64>,
    pub first_fail_qps: Option<f64>,
    /// What made the first FAIL fail (its verdict reason).
    pub bound_by: Option<String>,
    pub stopped: Stop,
    pub probes: usize,
    /// Seconds the endpoint was under load (levels' durations, drain included).
    pub endpoint_seconds: f64,
    pub tolerance_pct: f64,
    /// `--capacity-precision`, percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision_pct: Option<f64>,
}

/// The summary of the search that ran `levels` (in search order).
pub fn summarize(plan: &Plan, levels: &[LevelReport]) -> SearchSummary {
    let stopped = match next(plan, levels) {
        Next::Done(stop) => stop,
        Next::Probe { .. } => Stop::Unfinished,
    };
    summary(plan, levels, stopped)
}

/// The summary of a search over `levels` (in search order) that stopped for `stopped`.
pub fn summary(plan: &Plan, levels: &[LevelReport], stopped: Stop) -> SearchSummary {
    let (pass, fail) = bracket(levels, plan);
    let bound_by = fail
        .and_then(|f| failing(levels, f))
        .map(|l| l.assessment.reason.endpoint_text());
    // Short growth probes that passed count here, not for the capacity.
    let last_pass = probes(levels, plan)
        .iter()
        .filter(|p| p.pass && fail.is_none_or(|f| p.qps < f))
        .map(|p| p.qps)
        .fold(None, |m: Option<f64>, q| Some(m.map_or(q, |m| m.max(q))));
    SearchSummary {
        capacity_qps: pass,
        last_pass_qps: last_pass,
        first_fail_qps: fail,
        bound_by,
        stopped,
        probes: levels.len(),
        endpoint_seconds: levels.iter().map(|l| l.duration_s).sum(),
        tolerance_pct: plan.tolerance * 100.0,
        precision_pct: plan.precision.map(|p| p * 100.0),
    }
}

#[cfg(test)]
#[path = "search_tests.rs"]
mod tests;
