//! Did the endpoint keep up? Servers such as llama.cpp, or vLLM without a queue limit, answer
//! overload by queueing, not by errors: every request succeeds while latency climbs. This module
//! reads that from a level's records; `verdict.rs` turns it into a verdict.
//!
//! Two signals, both over successful requests ordered by planned send time:
//! - **Served rate**: among requests planned in the second half of the send window (the steady part),
//!   first tokens per second divided by sends per second. A server that keeps up starts each request
//!   about as soon as it arrives (ratio ~1); a queue admits requests only at its service rate, so
//!   their first tokens spread out (ratio = service rate / offered rate). First tokens are used rather
//!   than completions because completion times also vary with reply length.
//! - **TTFT trend**: the median TTFT of the first fifth of requests against the last fifth, and the
//!   least-squares slope of TTFT over planned time (seconds of TTFT per second of level). A growing
//!   queue shows as a rise even when the served rate is noisy.
//!
//! The served ratio compares successes with successes, so that an endpoint that refuses some
//! requests and serves the rest at once is not taken for a queue; the text of a verdict sets the
//! served rate against every request sent there (`steady_offered_qps`), the load offered.
//!
//! The served rate carries a standard error from batch means: the steady part's first tokens cut
//! into [`BATCHES`] runs of equal count, each run's duration one observation. At a level past
//! capacity the served rate is the endpoint's service rate, so `capacity.rs` reads the capacity's
//! interval from it.
//!
//! The level is queueing when the served ratio is below [`MIN_SERVED_RATIO`], or TTFT rose at least
//! [`RISE_FACTOR`]-fold and by at least [`RISE_FLOOR_S`]. Fewer than [`MIN_SAMPLES`] successes give no
//! judgement.

use crate::analyze::stats::{percentile, sorted};
use crate::measure::record::RequestRecord;
use crate::measure::time::micro;
use serde::Serialize;

pub const MIN_SERVED_RATIO: f64 = 0.9;
pub const RISE_FACTOR: f64 = 2.0;
pub const RISE_FLOOR_S: f64 = 0.1;
pub const MIN_SAMPLES: usize = 10;
/// Batches of the served rate's standard error (its Student t has `BATCHES - 1` degrees of freedom).
pub const BATCHES: usize = 5;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeepUp {
    /// Sends per second of the successful requests planned in the second half of the window.
    pub steady_sent_qps: Option<f64>,
    /// Sends per second of every request (failed ones too) planned there: the load offered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steady_offered_qps: Option<f64>,
    /// First tokens per second of the same requests.
    pub steady_served_qps: Option<f64>,
    /// Standard error of `steady_served_qps`, from [`BATCHES`] batch means.
    #[serde(
        rename = "steady_served_qps_se",
        skip_serializing_if = "Option::is_none"
    )]
    pub steady_served_se: Option<f64>,
    /// served / sent: ~1 when the endpoint keeps up.
    pub served_ratio: Option<f64>,
    /// Median TTFT of the first and the last fifth of successful requests (by planned time).
    #[serde(serialize_with = "micro::opt::serialize")]
    pub ttft_first_s: Option<f64>,
    #[serde(serialize_with = "micro::opt::serialize")]
    pub ttft_last_s: Option<f64>,
    /// Least-squares slope of TTFT over planned time, seconds per second.
    #[serde(serialize_with = "micro::opt::serialize")]
    pub ttft_slope: Option<f64>,
    /// TTFT rose at least [`RISE_FACTOR`]-fold and by [`RISE_FLOOR_S`] during the level.
    pub ttft_rose: bool,
    /// The served ratio is below [`MIN_SERVED_RATIO`].
    pub fell_behind: bool,
    /// The endpoint did not keep up with the offered load: `ttft_rose || fell_behind`.
    pub queueing: bool,
}

/// Reads a level's records. `window_s` is its send window; requests planned before `from_s` (a
/// ramp-up) are left out, and the steady part is the second half of what remains.
pub fn keep_up(records: &[RequestRecord], window_s: f64, from_s: f64) -> KeepUp {
    let mut ok: Vec<(f64, f64, f64)> = records
        .iter()
        .filter(|r| r.succeeded() && r.planned_s >= from_s)
        .filter_map(|r| Some((r.planned_s, r.sent_s?, r.first_token_s?)))
        .collect();
    ok.sort_by(|a, b| a.0.total_cmp(&b.0));
    if ok.len() < MIN_SAMPLES {
        return KeepUp {
            steady_sent_qps: None,
            steady_offered_qps: None,
            steady_served_qps: None,
            steady_served_se: None,
            served_ratio: None,
            ttft_first_s: None,
            ttft_last_s: None,
            ttft_slope: None,
            ttft_rose: false,
            fell_behind: false,
            queueing: false,
        };
    }
    let steady: Vec<_> = ok
        .iter()
        .filter(|r| r.0 >= from_s + (window_s - from_s) / 2.0)
        .collect();
    let rate = |times: Vec<f64>| {
        let (lo, hi) = times
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &t| (l.min(t), h.max(t)));
        (times.len() >= MIN_SAMPLES / 2 && hi > lo).then(|| (times.len() - 1) as f64 / (hi - lo))
    };
    let sent = rate(steady.iter().map(|r| r.1).collect());
    let steady_from = from_s + (window_s - from_s) / 2.0;
    let offered = rate(
        records
            .iter()
            .filter(|r| r.planned_s >= steady_from)
            .filter_map(|r| r.sent_s)
            .collect(),
    );
    let served = rate(steady.iter().map(|r| r.2).collect());
    let served_se = batch_se(steady.iter().map(|r| r.2).collect());
    let ratio = sent.zip(served).map(|(s, v)| v / s);
    let ttft: Vec<(f64, f64)> = ok.iter().map(|r| (r.0, r.2 - r.0)).collect();
    let fifth = (ttft.len() / 5).max(2);
    let median =
        |part: &[(f64, f64)]| percentile(&sorted(part.iter().map(|p| p.1).collect()), 50.0);
    let first = median(&ttft[..fifth]);
    let last = median(&ttft[ttft.len() - fifth..]);
    let rose = matches!((first, last), (Some(f), Some(l)) if l >= RISE_FACTOR * f && l - f >= RISE_FLOOR_S);
    let behind = ratio.is_some_and(|r| r < MIN_SERVED_RATIO);
    KeepUp {
        steady_sent_qps: sent,
        steady_offered_qps: offered,
        steady_served_qps: served,
        steady_served_se: served_se,
        served_ratio: ratio,
        ttft_first_s: first,
        ttft_last_s: last,
        ttft_slope: slope(&ttft),
        ttft_rose: rose,
        fell_behind: behind,
        queueing: rose || behind,
    }
}

/// The standard error of the rate of the events at `times`, from [`BATCHES`] batches of equal
/// count: the rate is events over time, so its relative error is that of the mean batch duration.
/// `None` with fewer than 5 events a batch.
fn batch_se(mut times: Vec<f64>) -> Option<f64> {
    times.sort_by(f64::total_cmp);
    let per = (times.len().checked_sub(1)?) / BATCHES;
    if per < 5 {
        return None;
    }
    let d: Vec<f64> = (0..BATCHES)
        .map(|j| times[(j + 1) * per] - times[j * per])
        .collect();
    let k = BATCHES as f64;
    let mean = d.iter().sum::<f64>() / k;
    let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0);
    (mean > 0.0).then(|| (per as f64 / mean) * (var.sqrt() / mean) / k.sqrt())
}

fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), p| (a + p.0 / n, b + p.1 / n));
    let (sxy, sxx) = points.iter().fold((0.0, 0.0), |(a, b), p| {
        (a + (p.0 - mx) * (p.1 - my), b + (p.0 - mx) * (p.0 - mx))
    });
    (sxx > 0.0).then(|| sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` requests at `qps`, each with first token at planned + ttft(i).
    fn level(n: u64, qps: f64, ttft: impl Fn(u64) -> f64) -> Vec<RequestRecord> {
        (0..n)
            .map(|i| {
                let mut r = RequestRecord::new(0, qps, i, 0, i as f64 / qps);
                r.sent_s = Some(r.planned_s);
                r.first_token_s = Some(r.planned_s + ttft(i));
                r.end_s = r.first_token_s.unwrap() + 1.0;
                r
            })
            .collect()
    }

    #[test]
    fn a_server_that_keeps_up_is_not_queueing() {
        let k = keep_up(
            &level(100, 10.0, |i| 0.05 + 0.01 * (i % 3) as f64),
            10.0,
            0.0,
        );
        assert!(!k.queueing, "{k:?}");
        assert!((k.served_ratio.unwrap() - 1.0).abs() < 0.05);
        assert!(k.ttft_slope.unwrap().abs() < 0.01);
    }

    #[test]
    fn the_load_offered_counts_every_request_sent_not_only_the_successes() {
        // 40/s offered; every fifth request refused at once (HTTP 503), the rest served at once.
        let mut recs = level(400, 40.0, |_| 0.05);
        for r in recs.iter_mut().step_by(5) {
            r.error = Some(crate::measure::record::ErrorKind::Http(503));
            r.first_token_s = None;
        }
        let k = keep_up(&recs, 10.0, 0.0);
        assert!(!k.queueing, "refusals alone are no queue: {k:?}");
        assert!((k.steady_offered_qps.unwrap() - 40.0).abs() < 0.5, "{k:?}");
        assert!(k.steady_sent_qps.unwrap() < 35.0, "{k:?}");
    }

    #[test]
    fn a_growing_queue_is_seen_although_all_succeed() {
        // Offered 32/s, served 13.3/s: each request waits (1/13.3 - 1/32) s longer than the last.
        let extra = 1.0 / 13.3 - 1.0 / 32.0;
        let k = keep_up(&level(384, 32.0, |i| 0.03 + extra * i as f64), 12.0, 0.0);
        assert!(k.queueing && k.fell_behind && k.ttft_rose);
        let ratio = k.served_ratio.unwrap();
        assert!((ratio - 13.3 / 32.0).abs() < 0.02, "{ratio}");
        assert!(k.ttft_last_s.unwrap() > 5.0 * k.ttft_first_s.unwrap());
        assert!((k.ttft_slope.unwrap() - extra * 32.0).abs() < 0.01);
    }

    #[test]
    fn a_rising_ttft_alone_is_queueing() {
        // Served rate still ~1 (a short burst), but TTFT climbs from 0.1 to ~0.6 s.
        let k = keep_up(&level(100, 10.0, |i| 0.1 + 0.005 * i as f64), 10.0, 0.0);
        assert!(k.queueing && k.ttft_rose && !k.fell_behind, "{k:?}");
    }

    #[test]
    fn too_few_samples_give_no_judgement() {
        let k = keep_up(&level(5, 1.0, |i| i as f64), 5.0, 0.0);
        assert!(!k.queueing && k.served_ratio.is_none());
    }
}
