//! The run's results folder: `results/<YYYY-MM-DD_HH-MM-SS>/` (with `_2`, `_3`... if it exists, never
//! overwriting), `metadata.json`, and atomic JSON writes (temp file + rename) so no file is ever
//! half-written.

use crate::config::Config;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `metadata.json`: the reference tool's keys, plus what redline adds. Never holds the API key.
/// Rewritten after every level (with that level's window) so `redline report` can rebuild the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Metadata {
    pub timestamp: String,
    pub endpoint: String,
    pub model: String,
    pub dataset: String,
    pub qps_levels: Vec<f64>,
    pub duration: f64,
    pub max_tokens: u32,
    pub temperature: f64,
    pub percentiles: Vec<f64>,
    pub show_tokens: bool,
    pub tool: String,
    pub tool_version: String,
    pub arrival: String,
    pub seed: u64,
    pub timeout: f64,
    pub max_concurrency: Option<usize>,
    pub stream_usage: bool,
    pub extra_body: Option<serde_json::Map<String, serde_json::Value>>,
    pub gpu_rate: Option<f64>,
    pub num_gpus: Option<u32>,
    pub dataset_samples: usize,
    pub output: String,
    pub plot_output: String,
    pub pass_threshold: f64,
    pub warn_threshold: f64,
    pub headroom: f64,
    pub daily_tokens: Option<u64>,
    #[serde(default)]
    pub max_ttft_p95: Option<f64>,
    #[serde(default)]
    pub max_e2e_p95: Option<f64>,
    /// The levels run so far.
    #[serde(default)]
    pub levels: Vec<LevelInfo>,
    /// The run finished every level without interruption.
    #[serde(default)]
    pub completed: bool,
}

/// What `redline report` needs of a level beyond its records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelInfo {
    pub qps: f64,
    pub send_window_s: f64,
    pub partial: bool,
}

impl Metadata {
    pub fn new(cfg: &Config, samples: usize, now: chrono::DateTime<chrono::Local>) -> Self {
        Metadata {
            timestamp: now.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
            endpoint: cfg.endpoint_display(),
            model: cfg.model.clone(),
            dataset: cfg.dataset.display().to_string(),
            qps_levels: cfg.qps.clone(),
            duration: cfg.duration.as_secs_f64(),
            max_tokens: cfg.max_tokens,
            temperature: cfg.temperature,
            percentiles: cfg.percentiles.clone(),
            show_tokens: true,
            tool: "redline".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            arrival: cfg.arrival.to_string(),
            seed: cfg.seed,
            timeout: cfg.timeout.as_secs_f64(),
            max_concurrency: cfg.max_concurrency,
            stream_usage: cfg.stream_usage,
            extra_body: cfg.extra_body.clone(),
            gpu_rate: cfg.pricing.map(|p| p.gpu_rate),
            num_gpus: cfg.pricing.map(|p| p.num_gpus),
            dataset_samples: samples,
            output: cfg.output.clone(),
            plot_output: cfg.plot_output.clone(),
            pass_threshold: cfg.policy.pass_pct,
            warn_threshold: cfg.policy.warn_pct,
            headroom: cfg.policy.headroom_pct,
            daily_tokens: cfg.daily_tokens,
            max_ttft_p95: cfg.policy.max_ttft_p95,
            max_e2e_p95: cfg.policy.max_e2e_p95,
            levels: Vec::new(),
            completed: false,
        }
    }
}

/// Creates a new, empty run folder under `root`, named after `now`. Fails (before any request is
/// sent) if the folder cannot be created or written.
pub fn create_run_dir(root: &Path, now: chrono::DateTime<chrono::Local>) -> Result<PathBuf> {
    std::fs::create_dir_all(root).with_context(|| {
        format!(
            "cannot create the results folder {}; choose a writable one with --results-dir",
            root.display()
        )
    })?;
    let stamp = now.format("%Y-%m-%d_%H-%M-%S").to_string();
    for n in 1.. {
        let name = if n == 1 {
            stamp.clone()
        } else {
            format!("{stamp}_{n}")
        };
        let dir = root.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                let probe = dir.join(".write-test");
                std::fs::write(&probe, b"ok").with_context(|| {
                    format!(
                        "the results folder {} is not writable; choose another with --results-dir",
                        dir.display()
                    )
                })?;
                let _ = std::fs::remove_file(probe);
                return Ok(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot create {}; choose a writable folder with --results-dir",
                        dir.display()
                    )
                })
            }
        }
    }
    unreachable!("1.. is unbounded")
}

/// Writes `value` as pretty JSON to `path` atomically: a crash leaves the old file or the new one.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, &bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_dirs_never_collide() {
        let root = tempfile::tempdir().unwrap();
        let now = chrono::Local::now();
        let a = create_run_dir(root.path(), now).unwrap();
        let b = create_run_dir(root.path(), now).unwrap();
        assert_ne!(a, b);
        assert!(b.file_name().unwrap().to_str().unwrap().ends_with("_2"));
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json");
        write_json_atomic(&p, &vec![1, 2]).unwrap();
        write_json_atomic(&p, &vec![3]).unwrap();
        let v: Vec<i32> = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(v, [3]);
        assert!(!dir.path().join("x.json.tmp").exists());
    }
}
