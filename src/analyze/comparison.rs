//! What `redline compare` produces ([`Comparison`]): the runs it read ([`Run`]), the settings
//! that differ, the rows of figures across runs with each change against the baseline, and the
//! regressions a gate found. `compare.rs` builds it (and re-exports these types);
//! `output/compare.rs`, `output/html/compare.rs` and `output/chart/compare.rs` render it.

use crate::measure::record::RequestRecord;
use serde::Serialize;
use serde_json::Value;

/// One run: its label (A, B, ...), folder, metadata and results JSON, and its records by level
/// (empty where the folder has none), from which differences are tested.
#[derive(Debug, Clone)]
pub struct Run {
    pub label: String,
    pub dir: String,
    pub meta: Value,
    pub results: Value,
    pub records: Vec<Vec<RequestRecord>>,
}

/// Which way a metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Higher,
    Lower,
}

/// One metric across the runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// As `--metrics` names it: `success`, `ttft_p95`, `max_qps`, ...
    pub metric: String,
    pub label: String,
    pub better: Better,
    pub values: Vec<Option<f64>>,
    /// Against the baseline, percent (`None` for the baseline or where either value is missing).
    pub change_pct: Vec<Option<f64>>,
    /// Against the baseline, the test's p-value on the two levels' records (`significance.rs`);
    /// `None` for the baseline, a summary figure, or too few records.
    pub p_value: Vec<Option<f64>>,
    /// Whether the difference is more than noise: `p_value` below `significance::ALPHA`.
    pub significant: Vec<Option<bool>>,
}

/// A setting whose value is not the same in every run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingDiff {
    pub setting: String,
    pub values: Vec<Value>,
}

/// One level, matched across runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelRows {
    /// `QPS 10.0` or `Concurrency 8`.
    pub level: String,
    /// Its rate (or concurrency), for a chart's x axis.
    pub x: f64,
    pub rows: Vec<Row>,
    /// Each run's verdict there (`None` where it did not run this level).
    pub verdicts: Vec<Option<String>>,
}

/// A metric that got worse than the baseline's by more than the threshold, or that the baseline
/// has and a later run lost (no level passed, every request failed, a level not run).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Regression {
    pub run: String,
    /// `None` for a summary figure.
    pub level: Option<String>,
    pub metric: String,
    pub baseline: f64,
    /// `None`: the run has no value where the baseline has one.
    pub value: Option<f64>,
    pub change_pct: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// `A: results/...`, in order; the first is the baseline.
    pub runs: Vec<(String, String)>,
    pub settings: Vec<SettingDiff>,
    pub summary: Vec<Row>,
    pub levels: Vec<LevelRows>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_pct: Option<f64>,
    pub regressions: Vec<Regression>,
}

/// The metrics `--fail-on-regression` checks when `--metrics` does not say.
pub const DEFAULT_GATED: [&str; 5] = ["max_qps", "success", "ttft_p95", "e2e_p95", "throughput"];
