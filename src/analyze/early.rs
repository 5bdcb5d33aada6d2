//! `--stop-on-saturation`: while a level runs, is it already certain that it will not pass? The
//! pipeline feeds each finished record to a [`Watch`] and asks it, at most once a second, whether
//! to stop sending; the runner (`measure/runner.rs`) then stops the schedule and waits for the
//! requests in flight, as at the end of any level. The level's verdict is FAIL with the cause the
//! watch found (`level.rs`), and the run reports the endpoint seconds saved.
//!
//! Two rules, each certain rather than likely:
//! - **Errors**: more requests failed from overload (503, 429, timeouts) than the FAIL threshold
//!   (`--warn-threshold`, 90% success) allows of every request planned for the level. Even if all
//!   the rest succeed, it fails.
//! - **Queueing**: the queueing detector's own rule (`queueing.rs`: the median TTFT of the latest
//!   fifth of successes, by planned time, at least twice the earliest fifth's and 0.1 s above it)
//!   holds, the latest fifth is slower by a Mann-Whitney test at p < [`QUEUE_P`], both stay true
//!   at [`CONFIRMATIONS`] checks in a row, a second apart, after [`MIN_WATCH_S`] seconds, and the
//!   latest fifth's median grew [`GROWTH`]-fold and by 0.1 s over those checks: a burst at a load the endpoint
//!   sustains rises and drains, a queue past capacity keeps growing.
//!
//! With `--metrics-url`, the server's own count of waiting requests confirms a queue sooner: when
//! it never fell over the scrapes of the last [`SERVER_SPAN_S`] seconds and grew by
//! [`SERVER_MIN_GROWTH`] requests, [`SERVER_CONFIRMATIONS`] checks of the TTFT rule are enough.
//!
//! Records arrive when requests end, so a queued request is seen late, never early: the watch
//! can only be slow to stop, not quick. `print_false_stops` in the tests runs levels at 90% of the
//! simulator's capacity across seeds, constant and Poisson, and counts the stops.

use crate::analyze::cause::{classify_media, Cause};
use crate::analyze::queueing::{MIN_SAMPLES, RISE_FACTOR, RISE_FLOOR_S};
use crate::analyze::significance::mann_whitney;
use crate::analyze::stats::{percentile, sorted};
use crate::measure::record::{EarlyStop, RequestRecord, StopCause};

/// Seconds between checks.
pub const CHECK_EVERY_S: f64 = 1.0;
/// No queueing stop before this many seconds of the level.
pub const MIN_WATCH_S: f64 = 5.0;
/// Checks in a row at which the queue must show.
pub const CONFIRMATIONS: u32 = 15;
/// Checks of the TTFT rule that suffice when the server's waiting count confirms the queue.
pub const SERVER_CONFIRMATIONS: u32 = 5;
/// Seconds of scrapes over which the server's waiting count must grow.
pub const SERVER_SPAN_S: f64 = 5.0;
/// Requests by which it must grow over that span.
pub const SERVER_MIN_GROWTH: f64 = 10.0;

/// How much the latest fifth's median must grow over the checks that confirm a queue.
pub const GROWTH: f64 = 1.5;
/// The Mann-Whitney p-value below which the latest fifth is slower for certain.
pub const QUEUE_P: f64 = 1e-3;

/// Watches one level.
#[derive(Debug, Clone)]
pub struct Watch {
    /// Percent success below which a level FAILs.
    fail_below_pct: f64,
    /// Requests planned for the whole level.
    planned: u64,
    /// Planned window, seconds (what a stop saves is the rest of it).
    window_s: f64,
    /// (planned time, TTFT) of each success.
    ok: Vec<(f64, f64)>,
    overload_failures: u64,
    next_check_s: f64,
    confirmed: u32,
    /// The latest fifth's median TTFT when the current run of confirmations began.
    streak_from: f64,
    /// `--metrics-url`: (seconds into the level, requests the server says are waiting).
    waiting: Vec<(f64, f64)>,
}

impl Watch {
    pub fn new(fail_below_pct: f64, planned: u64, window_s: f64) -> Self {
        Watch {
            fail_below_pct,
            planned,
            window_s,
            ok: Vec::new(),
            overload_failures: 0,
            next_check_s: CHECK_EVERY_S,
            confirmed: 0,
            streak_from: 0.0,
            waiting: Vec::new(),
        }
    }

    /// A finished request.
    pub fn record(&mut self, r: &RequestRecord) {
        match (r.error, r.ttft_s()) {
            (None, Some(ttft)) => self.ok.push((r.planned_s, ttft)),
            (Some(kind), _)
                if classify_media(
                    kind,
                    r.error_detail.as_deref(),
                    r.images.is_some_and(|n| n > 0),
                ) == Cause::Overload =>
            {
                self.overload_failures += 1;
            }
            _ => {}
        }
    }

    /// A scrape of the server's metrics at `t_s`: `waiting` requests in its queue.
    pub fn server(&mut self, t_s: f64, waiting: f64) {
        self.waiting.push((t_s, waiting));
    }

    /// The server's waiting count never fell over the scrapes of the last [`SERVER_SPAN_S`]
    /// seconds (at least 4) and grew by [`SERVER_MIN_GROWTH`]: its queue is growing by its own
    /// account.
    fn server_queue_grows(&self, now_s: f64) -> Option<(f64, f64)> {
        let span: Vec<f64> = self
            .waiting
            .iter()
            .filter(|(t, _)| *t >= now_s - SERVER_SPAN_S && *t <= now_s)
            .map(|&(_, w)| w)
            .collect();
        let (first, last) = (*span.first()?, *span.last()?);
        let rising = span.len() >= 4 && span.windows(2).all(|w| w[1] >= w[0]);
        (rising && last - first >= SERVER_MIN_GROWTH).then_some((first, last))
    }

    /// Whether to stop sending at `now_s` seconds into the level, and why. Checks at most once
    /// every [`CHECK_EVERY_S`].
    pub fn check(&mut self, now_s: f64) -> Option<EarlyStop> {
        if now_s < self.next_check_s || now_s >= self.window_s {
            return None;
        }
        self.next_check_s = now_s + CHECK_EVERY_S;
        let window_s = self.window_s;
        let stop = move |cause, reason| EarlyStop {
            at_s: now_s,
            reason,
            cause,
            saved_s: window_s - now_s,
        };
        let allowed = (self.planned as f64 * (1.0 - self.fail_below_pct / 100.0)).floor() as u64;
        if self.overload_failures > allowed {
            return Some(stop(
                StopCause::Errors,
                format!(
                    "{} requests had failed from overload, more than the {allowed} of its {} planned that {}% success allows",
                    self.overload_failures, self.planned, self.fail_below_pct
                ),
            ));
        }
        match self.queue_rose(now_s) {
            Some((first, last)) => {
                if self.confirmed == 0 {
                    self.streak_from = last;
                }
                self.confirmed += 1;
                // Still growing: a passing burst rises and falls, a queue past capacity only rises.
                let growing =
                    last >= GROWTH * self.streak_from && last - self.streak_from >= RISE_FLOOR_S;
                let server = self.server_queue_grows(now_s);
                if let Some((w0, w1)) = server.filter(|_| self.confirmed >= SERVER_CONFIRMATIONS) {
                    return Some(stop(
                        StopCause::Queueing,
                        format!(
                            "the queue was still growing: the requests finished by then went from a median TTFT of {first:.3} s to {last:.3} s (p < {QUEUE_P}) at {SERVER_CONFIRMATIONS} checks in a row, and the server's waiting requests grew from {w0:.0} to {w1:.0} over the last {SERVER_SPAN_S:.0} s"
                        ),
                    ));
                }
                (self.confirmed >= CONFIRMATIONS && growing).then(|| {
                    stop(
                        StopCause::Queueing,
                        format!(
                            "the queue was still growing: the requests finished by then went from a median TTFT of {first:.3} s to {last:.3} s (p < {QUEUE_P}), still rising over {CONFIRMATIONS} checks in a row"
                        ),
                    )
                })
            }
            None => {
                self.confirmed = 0;
                None
            }
        }
    }

    /// The earliest and latest fifth's median TTFT, when the latest is certainly higher.
    fn queue_rose(&mut self, now_s: f64) -> Option<(f64, f64)> {
        if now_s < MIN_WATCH_S || self.ok.len() < 5 * MIN_SAMPLES {
            return None;
        }
        self.ok.sort_by(|a, b| a.0.total_cmp(&b.0));
        let fifth = self.ok.len() / 5;
        let ttft = |part: &[(f64, f64)]| part.iter().map(|p| p.1).collect::<Vec<_>>();
        let (early, late) = (
            ttft(&self.ok[..fifth]),
            ttft(&self.ok[self.ok.len() - fifth..]),
        );
        let first = percentile(&sorted(early.clone()), 50.0)?;
        let last = percentile(&sorted(late.clone()), 50.0)?;
        let rose = last >= RISE_FACTOR * first && last - first >= RISE_FLOOR_S;
        (rose && mann_whitney(&early, &late).is_some_and(|p| p < QUEUE_P)).then_some((first, last))
    }
}

/// What `watch` would have said of a level already run: its `records` fed in the order they
/// ended, with a check at each, as the runner does live. For levels run in virtual time.
pub fn replay(mut watch: Watch, records: &[RequestRecord]) -> Option<EarlyStop> {
    let mut order: Vec<&RequestRecord> = records.iter().collect();
    order.sort_by(|a, b| a.end_s.total_cmp(&b.end_s));
    order.into_iter().find_map(|r| {
        watch.record(r);
        watch.check(r.end_s)
    })
}

#[cfg(test)]
#[path = "early_tests.rs"]
mod tests;
