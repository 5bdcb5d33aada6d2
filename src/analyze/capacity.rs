//! The capacity's 95% interval (`summary.capacity_ci`), from two independent kinds of evidence:
//!
//! - **The decisions**: the capacity lies between the highest rate that passed and the lowest that
//!   did not (`summary.rs` and `search.rs` find them). A decision near capacity can be wrong: a
//!   level a little past capacity may end before its queue shows, one a little below it may meet a
//!   burst of long replies.
//! - **The service rate**: at a level past capacity the endpoint serves as fast as it can, so the
//!   rate of first tokens in its steady half (`queueing.rs`) measures the capacity directly, with a
//!   standard error from batch means. Every such level adds a measurement; they are pooled by
//!   inverse variance, with a Student t interval over all their batches.
//!
//! The interval is the hull of the two: it misses the capacity only when both miss it. It holds
//! the reported maximum (the highest PASS) by construction. Where the first failure was a latency
//! objective, not the endpoint's capacity, the service rate says nothing of the answer and the
//! interval is the decisions' alone. A closed loop offered no rate and gets none.

use crate::analyze::level::LevelReport;
use crate::analyze::queueing::BATCHES;
use crate::analyze::stats::CONFIDENCE;
use crate::analyze::verdict::{Cause, Verdict};
use serde::{Deserialize, Serialize};

/// A capacity interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CapacityCi {
    pub low: f64,
    pub high: f64,
    pub confidence: f64,
    pub method: Method,
}

impl CapacityCi {
    /// Width relative to `point`, percent.
    pub fn width_pct(&self, point: f64) -> f64 {
        (self.high - self.low) / point * 100.0
    }
}

/// How an interval was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The highest PASS to the lowest FAIL, widened to the service rate's interval measured at a
    /// level past capacity.
    PassFailAndServiceRate,
    /// The highest PASS to the lowest FAIL (a latency objective bound, or no level past capacity
    /// had enough requests to measure its service rate).
    PassFail,
}

/// A measured service rate: the point and its interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServiceRate {
    pub qps: f64,
    pub low: f64,
    pub high: f64,
}

/// The interval around a maximum of `pass` with the first failure at `fail`, from `levels`
/// (trusted and whole levels only count). `None` without both ends.
pub fn interval(
    levels: &[LevelReport],
    pass: Option<f64>,
    fail: Option<f64>,
) -> Option<CapacityCi> {
    let (pass, fail) = (pass?, fail?);
    let ci = |low: f64, high: f64, method| CapacityCi {
        low,
        high,
        confidence: CONFIDENCE,
        method,
    };
    match service_rate(levels, fail) {
        Some(s) => Some(ci(
            pass.min(s.low),
            fail.max(s.high),
            Method::PassFailAndServiceRate,
        )),
        None => Some(ci(pass, fail, Method::PassFail)),
    }
}

/// The service rate measured at the levels at or above `fail` that failed because the endpoint
/// could not serve their load (queueing or overload errors), pooled: each level's rate weighted by
/// its inverse variance, with the degrees of freedom of all their batches.
pub fn service_rate(levels: &[LevelReport], fail: f64) -> Option<ServiceRate> {
    // A repeated level measured the service rate once in each repetition.
    let measured: Vec<(f64, f64)> = levels
        .iter()
        .flat_map(LevelReport::runs)
        .filter(|l| past_capacity(l) && l.rate >= fail * (1.0 - 1e-9))
        .filter_map(|l| Some((l.keep_up.steady_served_qps?, l.keep_up.steady_served_se?)))
        .filter(|&(_, se)| se > 0.0)
        .collect();
    if measured.is_empty() {
        return None;
    }
    let weight: f64 = measured.iter().map(|(_, se)| se.powi(-2)).sum();
    let qps = measured.iter().map(|(q, se)| q * se.powi(-2)).sum::<f64>() / weight;
    let se = weight.sqrt().recip();
    let dof = (measured.len() * (BATCHES - 1)) as f64;
    let t = distrs::StudentsT::ppf(0.5 + CONFIDENCE / 2.0, dof);
    // A rate is never below zero: a short level's wide interval stops there.
    Some(ServiceRate {
        qps,
        low: (qps - t * se).max(0.0),
        high: qps + t * se,
    })
}

/// A trusted, whole level that failed because the endpoint could not serve its load: it queued,
/// or it fell behind while refusing requests. A latency objective missed at full service, or
/// errors at a level that kept up, say nothing of the service rate.
fn past_capacity(l: &LevelReport) -> bool {
    let a = &l.assessment;
    a.trusted
        && !l.partial
        && a.verdict != Verdict::Pass
        && matches!(a.saturation_cause, Some(Cause::Queueing | Cause::Errors))
        && (l.keep_up.queueing || served_below_offered(l))
}

/// The successes' first tokens came slower than requests were offered (refusals included).
fn served_below_offered(l: &LevelReport) -> bool {
    match (l.keep_up.steady_served_qps, l.keep_up.steady_offered_qps) {
        (Some(served), Some(offered)) => served < offered * 0.99,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::level::level_report;
    use crate::config::{LevelId, ReportOptions};
    use crate::measure::record::{LevelRun, RequestRecord};

    /// A level at `offered` req/s of which the endpoint starts `served` a second, queueing the rest.
    fn queued(offered: f64, served: f64) -> LevelReport {
        let n = (offered * 60.0) as u64;
        let recs = (0..n)
            .map(|i| {
                let mut r = RequestRecord::new(0, offered, i, 0, i as f64 / offered);
                r.sent_s = Some(r.planned_s);
                let start = (i as f64 / served).max(r.planned_s) + 0.05;
                r.first_token_s = Some(start);
                r.end_s = start + 1.0;
                r.prompt_tokens = Some(100);
                r.completion_tokens = Some(100);
                r
            })
            .collect();
        let run = LevelRun::new(LevelId::rate(0, offered), offered, 60.0, recs, None);
        level_report(&run, &ReportOptions::default())
    }

    #[test]
    fn a_queued_level_measures_the_service_rate_and_widens_the_decisions_to_it() {
        let levels = vec![queued(30.0, 31.0), queued(32.0, 31.0)];
        assert_eq!(levels[0].assessment.verdict, Verdict::Pass);
        assert_eq!(levels[1].assessment.saturation_cause, Some(Cause::Queueing));
        let s = service_rate(&levels, 32.0).unwrap();
        assert!((s.qps - 31.0).abs() < 0.1, "{s:?}");
        assert!(s.low <= s.qps && s.qps <= s.high);
        let ci = interval(&levels, Some(30.0), Some(32.0)).unwrap();
        assert_eq!(ci.method, Method::PassFailAndServiceRate);
        assert!(ci.low <= 30.0 && ci.high >= 32.0, "{ci:?}");
        assert_eq!(ci.confidence, 0.95);
        // Nothing to widen without both ends.
        assert_eq!(interval(&levels, None, Some(32.0)), None);
        assert_eq!(interval(&levels, Some(30.0), None), None);
    }

    #[test]
    fn a_service_rate_below_the_last_pass_widens_the_interval_down_to_it() {
        // The endpoint serves 28/s: the PASS at 30 was the decision in doubt.
        let levels = vec![queued(40.0, 28.0)];
        let ci = interval(&levels, Some(30.0), Some(40.0)).unwrap();
        assert!(ci.low < 28.0 && ci.high == 40.0, "{ci:?}");
    }

    #[test]
    fn a_service_rate_measured_too_briefly_to_say_much_never_goes_below_zero() {
        let mut level = queued(40.0, 28.0);
        level.keep_up.steady_served_se = Some(100.0);
        let ci = interval(&[level], Some(30.0), Some(40.0)).unwrap();
        assert_eq!(ci.low, 0.0, "{ci:?}");
        assert!(ci.high > 40.0, "{ci:?}");
    }

    #[test]
    fn without_a_level_past_capacity_the_interval_is_the_decisions() {
        let levels = vec![queued(20.0, 100.0)];
        let ci = interval(&levels, Some(18.0), Some(20.0)).unwrap();
        assert_eq!((ci.low, ci.high, ci.method), (18.0, 20.0, Method::PassFail));
    }
}
