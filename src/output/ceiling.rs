//! This machine's client ceiling, saved by `redline calibrate` and read before every run: the file
//! format (`Calibration`), where it lives, and the warning a run gives when asked for more.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One rate's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    pub target_qps: f64,
    pub delivered_ratio: f64,
    pub lag_p99_ms: Option<f64>,
    pub ttft_p50_ms: Option<f64>,
    pub ttft_p99_ms: Option<f64>,
    /// Client TTFT minus the simulator's own, ms (`None` against another endpoint).
    pub ttft_p50_error_ms: Option<f64>,
    pub ttft_p99_error_ms: Option<f64>,
    pub success_rate: f64,
    pub ok: bool,
}

/// What is saved: this machine's client ceiling.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Calibration {
    pub ceiling_qps: Option<f64>,
    /// Every rate tried passed: the ceiling is at least `ceiling_qps`, not at it.
    #[serde(default)]
    pub ceiling_is_lower_bound: bool,
    pub measured_at: String,
    pub cpus: usize,
    pub output_tokens: u32,
    pub steps: Vec<Step>,
}

/// Where the calibration is kept: `$XDG_CACHE_HOME/redline/calibration.json` or
/// `~/.cache/redline/calibration.json`.
pub fn path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("redline").join("calibration.json"))
}

/// Warns when a run asks for more than this machine's calibrated ceiling.
pub fn warn_if_over_ceiling(qps: &[f64]) {
    let Some(c) = path()
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| serde_json::from_slice::<Calibration>(&b).ok())
    else {
        return;
    };
    let top = qps.iter().copied().fold(0.0, f64::max);
    match c.ceiling_qps.filter(|&c| top > c) {
        Some(ceiling) if c.ceiling_is_lower_bound => eprintln!(
            "note: QPS {top} is above the highest rate calibrated on this machine ({ceiling} req/s, all of which passed; redline calibrate, {}); run redline calibrate --rates with higher rates to know whether this client keeps up",
            c.measured_at
        ),
        Some(ceiling) => eprintln!(
            "warning: QPS {top} is above this machine's calibrated client ceiling of {ceiling} req/s (redline calibrate, {}); levels beyond it may be client-limited",
            c.measured_at
        ),
        None => {}
    }
}
