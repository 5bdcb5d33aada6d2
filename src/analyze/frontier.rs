//! A sweep's decision: each configuration's figures at its capacity (the maximum sustainable level
//! of its `Report`), and which configurations are Pareto-optimal in per-user speed against
//! throughput per GPU. `commands/sweep` builds one `AtCapacity` per finished configuration from
//! the report its run wrote; `output/sweep.rs` shows and saves them.
//!
//! Per-user speed is the median of each request's output tokens per second (`tokens_per_sec` p50):
//! what one user sees. Throughput per GPU is the level's output tokens per second over the run's
//! `--num-gpus`. Both are read at the same level: the one the run's answer names as its maximum
//! sustainable rate, so the frontier is drawn at capacities that met every objective.

use crate::analyze::capacity::CapacityCi;
use crate::analyze::level::LevelReport;
use crate::analyze::report::Report;
use crate::analyze::verdict::{Cause, Verdict};
use serde::{Deserialize, Serialize};

/// One configuration's figures at its capacity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AtCapacity {
    /// The maximum sustainable rate, requests per second.
    pub capacity_qps: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_ci: Option<CapacityCi>,
    /// No level failed: the endpoint may sustain more than `capacity_qps`, which is a lower bound.
    pub capacity_is_lower_bound: bool,
    /// The first rate that did not pass, and why.
    pub saturation_qps: Option<f64>,
    pub saturation_cause: Option<Cause>,
    /// Output tokens per second each user sees (per-request tokens/s p50) at capacity.
    pub per_user_tok_s: f64,
    /// Time per output token p50 at capacity, seconds.
    pub tpot_p50_s: Option<f64>,
    pub ttft_p95_s: Option<f64>,
    /// Output tokens per second of the whole endpoint at capacity.
    pub output_tok_s: f64,
    pub num_gpus: u32,
    pub output_tok_s_per_gpu: f64,
    /// At capacity, when priced (--gpu-rate).
    pub cost_per_million_tokens: Option<f64>,
}

/// The figures of `report` at its maximum sustainable level; `None` when no level passed.
pub fn at_capacity(report: &Report, num_gpus: u32) -> Option<AtCapacity> {
    let s = &report.summary;
    let qps = s.max_sustainable_qps?;
    let level = capacity_level(&report.results, qps, s.search.is_some())?;
    let gpus = num_gpus.max(1);
    Some(AtCapacity {
        capacity_qps: qps,
        capacity_ci: s.capacity_ci,
        capacity_is_lower_bound: s.saturation_qps.is_none(),
        saturation_qps: s.saturation_qps,
        saturation_cause: s.saturation_cause,
        per_user_tok_s: level.tokens_per_sec.get(50.0)?,
        tpot_p50_s: level.tpot_s.get(50.0),
        ttft_p95_s: level.ttft.get(95.0),
        output_tok_s: level.output_throughput_tok_s,
        num_gpus: gpus,
        output_tok_s_per_gpu: level.output_throughput_tok_s / f64::from(gpus),
        cost_per_million_tokens: level
            .cost_analysis
            .as_ref()
            .and_then(|c| c.cost_per_million_tokens),
    })
}

/// The PASS level at `qps`: for a search, the full-length probe there (a short growth probe at
/// the same rate does not set the maximum, and runs shorter), the last of them if repeated.
fn capacity_level(levels: &[LevelReport], qps: f64, searched: bool) -> Option<&LevelReport> {
    let at: Vec<&LevelReport> = levels
        .iter()
        .filter(|l| l.assessment.verdict == Verdict::Pass && l.qps_target == Some(qps))
        .collect();
    match searched {
        // `max_by` keeps the last of equals: the latest full-length probe.
        true => at
            .iter()
            .max_by(|a, b| a.send_window_s.total_cmp(&b.send_window_s))
            .copied(),
        false => at.last().copied(),
    }
}

/// For each point (per-user speed, throughput per GPU), whether no other point is at least as good
/// in both and better in one. Points that are `None` (no capacity) are never optimal.
pub fn pareto(points: &[Option<(f64, f64)>]) -> Vec<bool> {
    points
        .iter()
        .map(|p| {
            let Some((u, g)) = *p else { return false };
            !points
                .iter()
                .flatten()
                .any(|&(ou, og)| ou >= u && og >= g && (ou > u || og > g))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_beaten_in_both_is_off_the_frontier_and_ties_stay_on_it() {
        let pts = [
            Some((50.0, 1000.0)), // fast per user, little per GPU
            Some((30.0, 3000.0)), // the other end
            Some((29.0, 2900.0)), // beaten by the one above in both
            Some((40.0, 2000.0)), // between: on the frontier
            None,                 // no capacity
            Some((40.0, 2000.0)), // a tie with an optimal point stays optimal
        ];
        assert_eq!(pareto(&pts), [true, true, false, true, false, true]);
    }
}
