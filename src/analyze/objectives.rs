//! A level against its objectives (`config::slo`): the level's value for each objective (the
//! percentile of that metric over its successful requests), and which requests met every
//! objective on their own (for goodput: failed requests never meet them). `level.rs` puts both in
//! the `LevelReport`; `verdict.rs` FAILs a level that misses one.
//!
//! A request meets a latency objective when its own value is within the bound (its TTFT, E2E or
//! TPOT; for ITL, the same percentile of its own gaps), and a tokens/s floor when its own tokens/s
//! reaches it. The level meets an objective when the percentile of its requests' values does.

use crate::analyze::stats::{percentile, sorted};
use crate::config::{Metric, Objective};
use crate::measure::record::RequestRecord;

/// The values of `metric` over `ok` requests (ITL: every gap).
fn values(metric: Metric, ok: &[&RequestRecord]) -> Vec<f64> {
    match metric {
        Metric::Success => Vec::new(),
        Metric::Ttft => ok.iter().filter_map(|r| r.ttft_s()).collect(),
        Metric::E2e => ok.iter().map(|r| r.e2e_s()).collect(),
        Metric::Itl => ok.iter().flat_map(|r| r.itl_s.iter().copied()).collect(),
        Metric::Tpot => ok.iter().filter_map(|r| r.tpot_s()).collect(),
        Metric::TokensPerSec => ok.iter().filter_map(|r| r.tokens_per_sec()).collect(),
    }
}

/// Each objective with the level's value for it (`None` when no request gave one).
pub fn measure(objectives: &[Objective], ok: &[&RequestRecord]) -> Vec<(Objective, Option<f64>)> {
    objectives
        .iter()
        .map(|o| {
            let v = sorted(values(o.metric, ok));
            (*o, percentile(&v, o.percentile.unwrap_or(50.0)))
        })
        .collect()
}

/// Whether one request met every objective.
pub fn met(r: &RequestRecord, objectives: &[Objective]) -> bool {
    r.succeeded()
        && objectives.iter().all(|o| {
            let own = match o.metric {
                Metric::Success => return true,
                Metric::Ttft => r.ttft_s(),
                Metric::E2e => Some(r.e2e_s()),
                Metric::Tpot => r.tpot_s(),
                Metric::TokensPerSec => r.tokens_per_sec(),
                Metric::Itl => percentile(&sorted(r.itl_s.clone()), o.percentile.unwrap_or(50.0)),
            };
            // A request with nothing to measure (one token: no TPOT, no gaps) does not fail it.
            own.is_none_or(|v| o.met_by(v))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ttft: f64, e2e: f64, ok: bool) -> RequestRecord {
        let mut r = RequestRecord::new(0, 1.0, 0, 0, 0.0);
        r.sent_s = Some(0.0);
        r.first_token_s = Some(ttft);
        r.end_s = e2e;
        r.completion_tokens = Some(11);
        if !ok {
            r.error = Some(crate::measure::record::ErrorKind::Http(503));
        }
        r
    }

    #[test]
    fn requests_meet_objectives_on_their_own_values_and_failures_never_do() {
        let o = crate::config::slo::parse("ttft_p95<=0.5,e2e_p99<=2").unwrap();
        assert!(met(&rec(0.4, 1.5, true), &o));
        assert!(!met(&rec(0.6, 1.5, true), &o));
        assert!(!met(&rec(0.4, 2.5, true), &o));
        assert!(!met(&rec(0.1, 0.2, false), &o));
        let recs = [rec(0.1, 1.0, true), rec(0.9, 1.0, true)];
        let ok: Vec<&RequestRecord> = recs.iter().collect();
        let m = measure(&o, &ok);
        assert!((m[0].1.unwrap() - 0.86).abs() < 1e-9);
    }
}
