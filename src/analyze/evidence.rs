//! What a level's verdict rests on, from its records: the [`Evidence`] `verdict.rs` judges (rates,
//! success over every planned request or session turn, keeping up, objectives, delivery), the
//! goodput figures beside it, and the FAIL of a level `--stop-on-saturation` stopped. `level.rs`
//! builds each `LevelReport` with these; nothing here reads a report.

use crate::analyze::objectives;
use crate::analyze::queueing::keep_up;
use crate::analyze::tally::Errors;
use crate::analyze::verdict::Evidence;
use crate::analyze::workload::{self, SessionSummary};
use crate::config::{Offered, ReportOptions};
use crate::measure::record::{EarlyStop, LevelRun, RequestRecord, StopCause};

/// A level `--stop-on-saturation` stopped is FAIL for the cause the watch found (it stopped
/// because the level certainly could not pass), whatever the share of its requests that succeeded.
pub(crate) fn stopped_early(a: &mut crate::analyze::verdict::Assessment, stop: &EarlyStop) {
    use crate::analyze::verdict::{Cause, Verdict};
    a.verdict = Verdict::Fail;
    a.saturation_cause = Some(match stop.cause {
        StopCause::Queueing => Cause::Queueing,
        StopCause::Errors => Cause::Errors,
    });
    a.reason.early_stop = Some((stop.at_s, stop.reason.clone()));
}

/// The evidence of a level's steady window (`sub`, its times from the window's start), with the
/// whole level's client lag.
pub(crate) fn steady_evidence(
    sub: &LevelRun,
    o: &ReportOptions,
    lag_p99_s: Option<f64>,
) -> Evidence {
    let mut ok: Vec<&RequestRecord> = sub.records.iter().filter(|r| r.succeeded()).collect();
    ok.sort_by(|a, b| a.planned_s.total_cmp(&b.planned_s));
    let arrivals = arrivals(&sub.records);
    let sessions = workload::sessions(&sub.records, sub.duration_s, &o.percentiles);
    let client_side = Errors::of(&sub.records).client_side;
    Evidence {
        lag_p99_s,
        ..evidence(sub, o, &ok, &arrivals, sessions.as_ref(), client_side)
    }
}

/// The level's arrivals: sessions arrive on the schedule and their later turns follow their
/// replies, so rates and keeping up are judged on the sessions' first turns (every request
/// otherwise).
pub(crate) fn arrivals(recs: &[RequestRecord]) -> std::borrow::Cow<'_, [RequestRecord]> {
    if recs.iter().any(|r| r.session.is_some()) {
        std::borrow::Cow::Owned(recs.iter().filter(|r| r.is_arrival()).cloned().collect())
    } else {
        std::borrow::Cow::Borrowed(recs)
    }
}

/// The requests success is counted over. With sessions, a turn that was never sent because its
/// session ended at an error still counts against success: every planned turn of every session
/// that started is in the denominator, so a failed first turn weighs as much as the turns it cost.
pub(crate) fn planned(run: &LevelRun, sessions: Option<&SessionSummary>) -> usize {
    sessions.map_or(run.records.len(), |s| s.turns_planned as usize)
}

/// What the verdict rests on (all but the client's lag, which needs the slow accepts).
pub(crate) fn evidence(
    run: &LevelRun,
    o: &ReportOptions,
    ok: &[&RequestRecord],
    arrivals: &[RequestRecord],
    sessions: Option<&SessionSummary>,
    client_side_errors: u64,
) -> Evidence {
    let planned = planned(run, sessions);
    // Turns a client-side failure cost are the client's, like the failure itself.
    let client_side_unsent = sessions.map_or(0, |s| s.turns_not_sent_client_side as usize);
    let arrivals_sent = arrivals.iter().filter(|r| r.sent_s.is_some()).count() as u64;
    Evidence {
        qps_target: run.qps,
        actual_qps: arrivals_sent as f64 / run.send_window_s.max(f64::EPSILON),
        success_rate: ratio(ok.len(), planned) * 100.0,
        endpoint_success_rate: ratio(
            ok.len(),
            planned - client_side_errors as usize - client_side_unsent,
        ) * 100.0,
        client_side_errors,
        // A closed loop sends only as fast as replies end: it cannot queue, so it is not judged.
        keep_up: keep_up(
            arrivals,
            run.send_window_s,
            match run.id.offered {
                Offered::Rate(_) => o.ramp_up_s,
                Offered::Concurrency(_) => f64::INFINITY,
            },
        ),
        measured: objectives::measure(&o.policy.objectives, ok),
        lag_p99_s: None,
        requests_scheduled: run.records.len() as u64,
        requests_sent: run.records.iter().filter(|r| r.sent_s.is_some()).count() as u64,
        delivered_ratio: delivered(
            arrivals_sent,
            run.send_window_s,
            arrivals.len() as u64,
            run.planned_window_s,
        ),
        partial: run.partial,
        rebuilt_from: run.rebuilt_from,
    }
}

/// Rates of what went well, per second of send window, counting arrivals: sessions whose every
/// turn succeeded (or met every objective), like `actual_qps`; requests otherwise.
pub(crate) struct Goodput {
    pub successful_qps: f64,
    pub slo_attainment_pct: Option<f64>,
    pub goodput_qps: Option<f64>,
}

impl Goodput {
    pub(crate) fn of(
        run: &LevelRun,
        o: &ReportOptions,
        ok: &[&RequestRecord],
        sessions: bool,
        planned: usize,
    ) -> Goodput {
        let recs = &run.records;
        let objectives = &o.policy.objectives;
        let met = recs
            .iter()
            .filter(|r| objectives::met(r, objectives))
            .count();
        let (good, good_met) = if sessions {
            (
                workload::sessions_where(recs, RequestRecord::succeeded),
                workload::sessions_where(recs, |r| objectives::met(r, objectives)),
            )
        } else {
            (ok.len(), met)
        };
        let window = run.send_window_s.max(f64::EPSILON);
        let with_objectives = !objectives.is_empty();
        Goodput {
            successful_qps: good as f64 / window,
            slo_attainment_pct: with_objectives.then(|| ratio(met, planned) * 100.0),
            goodput_qps: with_objectives.then(|| good_met as f64 / window),
        }
    }
}

/// Sends per second over the send window against scheduled requests per second over the planned
/// window (1 for an empty level).
pub(crate) fn delivered(sent: u64, send_window_s: f64, scheduled: u64, planned_s: f64) -> f64 {
    if scheduled == 0 {
        return 1.0;
    }
    (sent as f64 / send_window_s.max(f64::EPSILON))
        / (scheduled as f64 / planned_s.max(f64::EPSILON))
}

pub(crate) fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}
