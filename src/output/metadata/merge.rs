//! What `redline merge` joined, as the merged folder's `metadata.json` records it under
//! `"merged"`: the plan, which shards were merged and which are missing, the share of the plan's
//! arrivals they sent, how their starts spread and how late each sent first. `redline merge` and
//! `redline report` read the same record to say the same notes.

use serde::{Deserialize, Serialize};

/// The merged folder's account of its shards. Fields in the file's (alphabetical) order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeRecord {
    /// The shards' indexes that were merged, in order.
    pub merged: Vec<usize>,
    /// The plan's shards that were not given.
    pub missing: Vec<usize>,
    pub plan_id: String,
    /// Levels the plan has (those the shards ran may be fewer).
    pub plan_levels: usize,
    /// Percent of the plan's arrivals the merged shards sent.
    pub share_of_plan_pct: f64,
    pub shard_runs: Vec<ShardRun>,
    /// The plan's number of shards.
    pub shards: usize,
    /// Seconds between the earliest and the latest shard start, as each machine's clock tells it.
    pub start_spread_s: Option<f64>,
}

/// One merged shard. Fields in the file's (alphabetical) order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardRun {
    pub dir: String,
    pub first_send_lag_s: Option<f64>,
    pub host: String,
    pub index: usize,
    pub started_at: Option<String>,
}

impl MergeRecord {
    /// What the merged run's summary says of the merge, having rebuilt `levels_run` levels: levels
    /// the shards did not run, missing shards.
    pub fn notes(&self, levels_run: usize) -> Vec<String> {
        let mut notes = Vec::new();
        if levels_run < self.plan_levels {
            notes.push(format!(
                "the shards ran {levels_run} of the plan's {} levels (they stopped early: see each shard's output)",
                self.plan_levels
            ));
        }
        if !self.missing.is_empty() {
            notes.push(format!(
                "merged {} of {} shards ({:.1}% of the plan's arrivals): shard{} {} missing, so each level offered that share of its planned rate",
                self.merged.len(),
                self.shards,
                self.share_of_plan_pct,
                if self.missing.len() == 1 { "" } else { "s" },
                list(&self.missing),
            ));
        }
        notes
    }

    /// "Merged 3 of 3 shards of plan 1f2e...: starts within 2.1 ms of each other; first sends
    /// 0.4 / 0.5 / 0.4 ms late".
    pub fn describe(&self) -> String {
        let lags: Vec<String> = self
            .shard_runs
            .iter()
            .map(|s| match s.first_send_lag_s {
                Some(l) => format!("{:.1}", l * 1e3),
                None => "-".into(),
            })
            .collect();
        format!(
            "Merged {} of {} shards of plan {}: starts within {} ms of each other (as each machine's clock tells it); first sends {} ms late",
            self.merged.len(),
            self.shards,
            self.plan_id,
            self.start_spread_s
                .map_or("?".into(), |s| format!("{:.1}", s * 1e3)),
            lags.join(" / ")
        )
    }
}

/// `0, 2, 5`.
pub fn list(v: &[usize]) -> String {
    v.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
