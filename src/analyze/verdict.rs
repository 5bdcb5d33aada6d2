//! The verdict rules: one level's [`Evidence`] and the [`Policy`] in, an [`Assessment`] out.
//!
//! Rules only. The figures a verdict rests on are gathered into [`Evidence`] by `level.rs` (which
//! builds each `LevelReport` and judges it once); `summary.rs` reads the stored assessments to give
//! the run's answer. The verdict stays structured (verdict, cause, the figures behind it in
//! [`Reason`]) until it is rendered: `reason.rs` writes the JSON's `verdict_reason` text, and the
//! console (`output/summary.rs`) picks the parts it shows.
//!
//! Rules (documented in README.md):
//! - PASS when success >= `pass_pct` (99), WARN when >= `warn_pct` (90), else FAIL.
//! - A level that did not keep up (`queueing.rs`: requests queued, TTFT climbing) FAILs even when every
//!   request succeeded; so does one that misses a latency objective (`--max-ttft-p95`,
//!   `--max-e2e-p95`). The verdict names its cause: errors, queueing or latency objective.
//! - A level is client-limited when the client fell behind its own schedule: schedule lag p99 above
//!   `max_lag_p99_s` (5 ms), failures of its own (concurrency cap, resources), or a delivered send
//!   rate below `min_send_ratio` (98%) of the rate its schedule held. Never by the count drawn
//!   against the target: every schedule offers exactly its target (`measure/schedule.rs`).
//! - Whether a client-limited level's verdict is still trusted depends on what it rests on. Latency
//!   counts from the planned send, so lag never hides a slow endpoint; it can only lower the offered
//!   load or add to latency. So a PASS is not trusted (the load was not delivered); a FAIL or WARN
//!   by errors is (the endpoint's errors are its own); a FAIL by queueing or a latency objective is
//!   trusted when the measured excess (TTFT's rise, or the latency over the objective) is at least
//!   [`EXCESS_OVER_LAG`] times the lag p99. Verdicts judge `endpoint_success_rate` when the client
//!   had failures of its own: they are never counted against the endpoint.
//! - An interrupted (partial) level's verdict is never used for the answer, nor one of a level of
//!   fewer than [`MIN_REQUESTS`] requests.
//! - The cause is queueing whenever the level did not keep up (a full queue's errors follow from
//!   it), else errors when success fell short, else the missed objective.

use crate::analyze::queueing::KeepUp;
use crate::config::{Objective, Policy};
use serde::{Deserialize, Serialize};

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

/// Why a level is not PASS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Too many requests failed.
    Errors,
    /// Every request may have succeeded, but the endpoint did not keep up: requests queued.
    Queueing,
    /// A latency objective was missed.
    LatencyObjective,
}

/// The figures of one level that its verdict rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub qps_target: f64,
    pub actual_qps: f64,
    /// Percent of scheduled requests that succeeded.
    pub success_rate: f64,
    /// Percent of the requests that reached the endpoint that succeeded.
    pub endpoint_success_rate: f64,
    pub client_side_errors: u64,
    pub keep_up: KeepUp,
    /// Each objective of the policy and the level's value for it (`None`: nothing to measure).
    pub measured: Vec<(Objective, Option<f64>)>,
    pub lag_p99_s: Option<f64>,
    pub requests_scheduled: u64,
    pub requests_sent: u64,
    /// Sends per second over the send window, against the rate the schedule held over its planned
    /// window: below 1 when the client fell behind or sent less.
    pub delivered_ratio: f64,
    pub partial: bool,
    /// Rebuilt from fewer records than the level measured: (kept, measured).
    pub rebuilt_from: Option<(u64, u64)>,
}

/// How many times the lag p99 a queueing or latency excess must be for its FAIL to stand at a
/// level where the client was late.
pub const EXCESS_OVER_LAG: f64 = 10.0;

/// One level's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub verdict: Verdict,
    /// Why it is not PASS (`null` for PASS).
    pub saturation_cause: Option<Cause>,
    /// The client fell behind its own schedule (see [`ClientLimit`]).
    pub client_limited: bool,
    /// Why, as figures; written as text ("99.8% success", "queueing: TTFT rose from 0.03 s to
    /// 7.7 s during the level; 13.3 of 32.0 req/s served") by `reason.rs`.
    #[serde(rename = "verdict_reason")]
    pub reason: Reason,
    /// Whether the verdict may set the answer: not for a partial level, a PASS the client did not
    /// deliver, or a FAIL the client's lag could explain.
    #[serde(rename = "verdict_trusted")]
    pub trusted: bool,
}

/// The figures behind a verdict, in the order they are told.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reason {
    pub success_pct: f64,
    /// With client-side failures: the success percentage of the requests sent.
    pub sent_success_pct: Option<f64>,
    pub queueing: Option<Queueing>,
    pub misses: Vec<ObjectiveMiss>,
    pub client: Option<ClientLimit>,
    /// Whether the verdict stands despite the client limit.
    pub stands: bool,
    /// The level was interrupted.
    pub partial: bool,
    /// What the endpoint's own metrics say about a level that did not pass (`--metrics-url`).
    pub server: Option<String>,
    /// Requests that waited a second or more for the endpoint to accept a connection, and the
    /// longest wait.
    pub slow_accept: Option<(u64, f64)>,
    /// The level scheduled fewer than [`MIN_REQUESTS`] requests: this many.
    pub too_few: Option<u64>,
    /// Rebuilt from fewer records than the level measured: (kept, measured).
    pub rebuilt_from: Option<(u64, u64)>,
    /// `--stop-on-saturation` stopped it: when, and why it was certain.
    pub early_stop: Option<(f64, String)>,
    /// `--verdict-window steady`: the window (planned seconds) it was judged on.
    pub window: Option<(f64, f64)>,
    /// `--repeat`: how many of its repetitions passed, of how many, and which one (1-based) the
    /// verdict and these figures are from (the worst).
    pub repetitions: Option<(usize, usize, u32)>,
    /// Replies come whole (embeddings): their time to the first token is their latency.
    pub whole_reply: bool,
}

/// What showed that the endpoint did not keep up.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Queueing {
    /// Median TTFT early and late in the level, seconds, when it rose.
    pub ttft_rise_s: Option<(f64, f64)>,
    /// First tokens per second in the steady half, and requests sent per second there (every
    /// request, failed ones too: the load offered), when it fell behind.
    pub served_of_sent_qps: Option<(f64, f64)>,
}

/// An objective that was missed, and the level's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObjectiveMiss {
    pub objective: Objective,
    pub got: f64,
}

/// Why the client, not the endpoint, set a level's pace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClientLimit {
    /// Its sends were late (schedule lag p99, seconds).
    LateSend { lag_p99_s: f64 },
    /// It failed requests of its own (concurrency cap, resources, interruption).
    ClientFailures(u64),
    /// It delivered a lower send rate than its schedule held.
    SlowSend { delivered_ratio: f64 },
}

pub fn assess(e: &Evidence, p: &Policy) -> Assessment {
    // The endpoint is judged on the requests that reached it; client-side failures (concurrency
    // cap, no file descriptors or ports, interruption) make the level client-limited instead.
    let rate = if e.client_side_errors > 0 {
        e.endpoint_success_rate
    } else {
        e.success_rate
    };
    let mut verdict = if rate >= p.pass_pct {
        Verdict::Pass
    } else if rate >= p.warn_pct {
        Verdict::Warn
    } else {
        Verdict::Fail
    };
    let by_errors = verdict != Verdict::Pass;
    let mut cause = by_errors.then_some(Cause::Errors);
    let mut reason = Reason {
        success_pct: e.success_rate,
        sent_success_pct: (e.client_side_errors > 0).then_some(e.endpoint_success_rate),
        ..Reason::default()
    };
    let k = &e.keep_up;
    if k.queueing {
        verdict = Verdict::Fail;
        // A queue is why the level saturated, whether or not it also shed requests: the errors a
        // full queue answers with follow from it.
        cause = Some(Cause::Queueing);
        reason.queueing = Some(Queueing {
            ttft_rise_s: k.ttft_first_s.zip(k.ttft_last_s).filter(|_| k.ttft_rose),
            served_of_sent_qps: k
                .steady_served_qps
                .zip(k.steady_offered_qps.or(k.steady_sent_qps))
                .filter(|_| k.fell_behind),
        });
    }
    for (objective, got) in &e.measured {
        if let Some(got) = got.filter(|&v| !objective.met_by(v)) {
            verdict = Verdict::Fail;
            cause = cause.or(Some(Cause::LatencyObjective));
            reason.misses.push(ObjectiveMiss {
                objective: *objective,
                got,
            });
        }
    }
    reason.client = client_limit(e, p);
    reason.stands = reason.client.is_none() || stands(verdict, cause, by_errors, &reason, e, p);
    reason.partial = e.partial;
    reason.too_few = (e.requests_scheduled < MIN_REQUESTS).then_some(e.requests_scheduled);
    reason.rebuilt_from = e.rebuilt_from;
    Assessment {
        verdict,
        saturation_cause: cause,
        client_limited: reason.client.is_some(),
        trusted: reason.stands
            && !e.partial
            && reason.too_few.is_none()
            && reason.rebuilt_from.is_none(),
        reason,
    }
}

/// The fewest requests a level's verdict may rest on: with fewer, one failure moves the success
/// rate by more than a verdict's margin, and the keeping-up judgement has nothing to read.
pub const MIN_REQUESTS: u64 = 10;

/// Whether (and why) the client fell behind its own schedule: late sends first, then failures of
/// its own, then requests never sent.
fn client_limit(e: &Evidence, p: &Policy) -> Option<ClientLimit> {
    if let Some(lag) = e.lag_p99_s.filter(|&lag| lag > p.max_lag_p99_s) {
        Some(ClientLimit::LateSend { lag_p99_s: lag })
    } else if e.client_side_errors > 0 {
        Some(ClientLimit::ClientFailures(e.client_side_errors))
    } else if e.delivered_ratio < p.min_send_ratio {
        Some(ClientLimit::SlowSend {
            delivered_ratio: e.delivered_ratio,
        })
    } else {
        None
    }
}

/// Whether a verdict stands at a level where the client fell behind: a PASS only when the load was
/// delivered anyway (late sends alone only add to latency, which makes a PASS conservative);
/// always errors (they are the endpoint's); queueing or a missed objective when its excess dwarfs
/// the lag.
fn stands(
    verdict: Verdict,
    cause: Option<Cause>,
    by_errors: bool,
    reason: &Reason,
    e: &Evidence,
    p: &Policy,
) -> bool {
    let lag = e.lag_p99_s.unwrap_or(0.0);
    match (verdict, cause) {
        (Verdict::Pass, _) => e.client_side_errors == 0 && e.delivered_ratio >= p.min_send_ratio,
        (_, Some(Cause::Errors)) | (_, None) => true,
        // The endpoint's errors stand whatever the lag, even beside a queue.
        _ if by_errors => true,
        (_, Some(Cause::Queueing)) => {
            let k = &e.keep_up;
            let rise = k
                .ttft_last_s
                .zip(k.ttft_first_s)
                .map_or(0.0, |(b, a)| b - a);
            rise >= EXCESS_OVER_LAG * lag
        }
        (_, Some(Cause::LatencyObjective)) => reason.misses.iter().any(|m| {
            // A floor (tokens/s) missed is not lag's doing: lag only adds time, never tokens.
            m.objective.metric.at_least() || m.got - m.objective.bound >= EXCESS_OVER_LAG * lag
        }),
    }
}

#[cfg(test)]
#[path = "verdict_tests.rs"]
mod tests;
