//! What a `redline report` changed, as `metadata.json` records it under `"reports"`: which results
//! file it wrote and each report setting it changed, from what to what. Types only; the changes
//! are found in `rereport.rs`.

use crate::config::slo::Objectives;
use serde::{Deserialize, Serialize};

/// One `redline report` that rebuilt the results with other settings, or from fewer records than
/// the run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportChange {
    pub timestamp: String,
    /// The results file it wrote.
    pub output: String,
    /// Each setting it changed: `{"gpu_rate": {"from": 2.3, "to": 3.0}}`.
    pub changed: Changed,
    /// `--from-partial-records`: each level rebuilt from fewer records than it measured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partial_records: Vec<LevelRecords>,
}

/// A level's records: those a rebuild read, against those the run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelRecords {
    /// The level's index in the run.
    pub level: usize,
    pub qps: f64,
    pub kept: u64,
    pub measured: u64,
}

/// A setting's value before and after a re-report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change<T> {
    pub from: T,
    pub to: T,
}

/// The settings a re-report changed (in the file's order, by name), each absent when unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Changed {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daily_tokens: Option<Change<Option<u64>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_rate: Option<Change<Option<f64>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headroom: Option<Change<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_gpus: Option<Change<Option<u32>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass_threshold: Option<Change<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percentiles: Option<Change<Vec<f64>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo: Option<Change<Option<Objectives>>>,
    /// `--verdict-window steady` (true) or whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steady_verdict: Option<Change<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warn_threshold: Option<Change<f64>>,
}

impl Changed {
    /// Each change as `name from -> to`, in the file's order (values as JSON writes them).
    pub fn lines(&self) -> Vec<String> {
        let v = serde_json::to_value(self).unwrap_or_default();
        v.as_object()
            .into_iter()
            .flatten()
            .map(|(k, c)| format!("{k} {} -> {}", c["from"], c["to"]))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        *self == Changed::default()
    }
}
