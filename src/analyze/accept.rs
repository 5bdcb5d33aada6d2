//! Connections the endpoint was slow to accept: a request whose connection took a second or more
//! to open waited on the endpoint (a connect whose SYN went unanswered, its accept queue full, is
//! retried only after a second), not on the client. `level.rs` reports them per level and judges
//! the client on the rest of its lag; `reason.rs` names them in a verdict that did not pass.

use crate::analyze::stats::LagSummary;
use crate::measure::record::{RequestRecord, SLOW_ACCEPT_S};
use serde::Serialize;

/// Connections the endpoint was slow to accept during a level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlowAccept {
    pub requests: u64,
    #[serde(serialize_with = "crate::measure::time::micro::opt::serialize")]
    pub wait_p99_s: Option<f64>,
    #[serde(serialize_with = "crate::measure::time::micro::opt::serialize")]
    pub wait_max_s: Option<f64>,
    /// The lag p99 without those waits: what the client-limited rule reads.
    #[serde(serialize_with = "crate::measure::time::micro::opt::serialize")]
    pub client_lag_p99_s: Option<f64>,
}

impl SlowAccept {
    /// The level's slow accepts, if any (over its arrivals).
    pub fn of(arrivals: &[RequestRecord]) -> Option<SlowAccept> {
        let waits: Vec<f64> = arrivals
            .iter()
            .filter_map(|r| r.accept_wait_s)
            .filter(|&w| w >= SLOW_ACCEPT_S)
            .collect();
        if waits.is_empty() {
            return None;
        }
        let requests = waits.len() as u64;
        let w = LagSummary::of(waits);
        Some(SlowAccept {
            requests,
            wait_p99_s: w.p99,
            wait_max_s: w.max,
            client_lag_p99_s: LagSummary::of(
                arrivals.iter().filter_map(|r| r.client_lag_s()).collect(),
            )
            .p99,
        })
    }
}

/// The lag p99 the client-limited rule reads: the schedule lag's, less any slow accepts.
pub fn client_lag_p99(schedule_lag: &LagSummary, slow: Option<&SlowAccept>) -> Option<f64> {
    slow.map_or(schedule_lag.p99, |s| s.client_lag_p99_s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u64, lag: f64, wait: Option<f64>) -> RequestRecord {
        let mut r = RequestRecord::new(0, 1.0, i, 0, i as f64);
        r.sent_s = Some(r.planned_s + lag);
        r.accept_wait_s = wait;
        r
    }

    #[test]
    fn waits_under_a_second_are_the_clients() {
        let recs = [rec(0, 0.002, None), rec(1, 0.5, Some(0.4))];
        assert_eq!(SlowAccept::of(&recs), None);
        assert_eq!(recs[1].client_lag_s(), Some(0.5));
        assert_eq!(recs[1].attempt_s(), Some(1.5));
    }

    #[test]
    fn slow_accepts_are_taken_out_of_the_clients_lag() {
        let recs = [
            rec(0, 0.001, None),
            rec(1, 1.003, Some(1.001)),
            rec(2, 3.01, Some(3.0)),
        ];
        let s = SlowAccept::of(&recs).unwrap();
        assert_eq!(s.requests, 2);
        assert_eq!(s.wait_max_s, Some(3.0));
        // What remains is the client's: a couple of milliseconds at most.
        assert!(s.client_lag_p99_s.unwrap() < 0.011, "{s:?}");
        // The send window ends when the client tried, not when the endpoint let it in.
        assert!((recs[2].attempt_s().unwrap() - 2.01).abs() < 1e-9);
    }
}
