//! Simulator presets and their flags (`cli::SimModelArgs`): `--profile NAME` picks every engine
//! parameter, single flags override one, `--print-config` shows the result. `fixed` is the fixed-latency model (no engine).
//! The presets' calibration is written down in docs/simulator.md.

use super::engine::EngineConfig;
use super::model::FixedLatencyConfig;
use crate::cli::{Limit, SimModelArgs};
use anyhow::{bail, ensure, Result};
use std::time::Duration;

pub const PROFILES: [&str; 3] = ["llama-3.1-8b-h100", "llama-3.1-70b-h100", "fixed"];

/// Llama 3.1 8B (bf16) served by a vLLM-like engine on one H100 80GB.
pub fn llama_8b_h100() -> EngineConfig {
    EngineConfig {
        max_num_seqs: 92,
        kv_cache_tokens: 400_000,
        max_batched_tokens: 2048,
        prefill_tokens_per_s: 50_000.0,
        step_base_s: 0.006,
        step_per_seq_s: 0.000_03,
        step_per_ctx_token_s: 0.000_000_04,
        request_overhead_s: 0.12,
        max_waiting: Some(8),
        queue_timeout_s: Some(10.0),
        reject_status: 503,
        queue_timeout_status: 503,
        mean_output_tokens: 256.0,
        jitter: 0.05,
        seed: 0,
        prefix_caching: false,
    }
}

/// Llama 3.1 70B (fp8 weights) on one H100 80GB: slower steps, a small KV cache.
pub fn llama_70b_h100() -> EngineConfig {
    EngineConfig {
        max_num_seqs: 88,
        kv_cache_tokens: 80_000,
        max_batched_tokens: 2048,
        prefill_tokens_per_s: 15_000.0,
        step_base_s: 0.013,
        step_per_seq_s: 0.000_045,
        step_per_ctx_token_s: 0.000_000_1,
        request_overhead_s: 0.2,
        max_waiting: Some(8),
        queue_timeout_s: Some(10.0),
        reject_status: 503,
        queue_timeout_status: 503,
        mean_output_tokens: 256.0,
        jitter: 0.05,
        seed: 0,
        prefix_caching: false,
    }
}

/// The resolved model.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum SimModel {
    Fixed(FixedConfigView),
    Engine(EngineConfig),
}

/// The fixed-latency parameters as printed by --print-config.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FixedConfigView {
    pub ttft_s: f64,
    pub itl_s: f64,
    pub output_tokens: Option<u64>,
    pub failure_rate: f64,
    pub failure_status: u16,
    pub max_inflight: Option<usize>,
    #[serde(skip)]
    pub cfg: Option<FixedLatencyConfig>,
}

fn status(flag: &str, s: u16) -> Result<u16> {
    ensure!(
        (400..=599).contains(&s),
        "{flag} {s}: must be an HTTP error status (400-599), such as 503, 429 or 504"
    );
    Ok(s)
}

/// A status a server answers overload with: one of `allowed`, as the flag's help says.
fn one_of(flag: &str, s: u16, allowed: &[u16]) -> Result<u16> {
    ensure!(
        allowed.contains(&s),
        "{flag} {s}: give {}, the statuses a server answers this with",
        allowed
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(" or ")
    );
    Ok(s)
}

fn non_negative(flag: &str, v: f64) -> Result<f64> {
    ensure!(
        v.is_finite() && v >= 0.0,
        "{flag} {v}: must be a number of 0 or more"
    );
    Ok(v)
}

/// The model the flags describe: the preset with every given flag applied.
pub fn resolve(a: &SimModelArgs) -> Result<SimModel> {
    let fixed_flags = [
        ("--ttft-ms", a.ttft_ms.is_some()),
        ("--itl-ms", a.itl_ms.is_some()),
        ("--output-tokens", a.output_tokens.is_some()),
        ("--failure-rate", a.failure_rate.is_some()),
        ("--failure-status", a.failure_status.is_some()),
        ("--max-inflight", a.max_inflight.is_some()),
    ];
    let engine_flags = [
        ("--max-num-seqs", a.max_num_seqs.is_some()),
        ("--kv-cache-tokens", a.kv_cache_tokens.is_some()),
        ("--max-batched-tokens", a.max_batched_tokens.is_some()),
        ("--prefill-tps", a.prefill_tps.is_some()),
        ("--step-base-ms", a.step_base_ms.is_some()),
        ("--step-per-seq-ms", a.step_per_seq_ms.is_some()),
        ("--step-per-ctx-token-us", a.step_per_ctx_token_us.is_some()),
        ("--overhead-ms", a.overhead_ms.is_some()),
        ("--max-waiting", a.max_waiting.is_some()),
        ("--queue-timeout", a.queue_timeout.is_some()),
        ("--reject-status", a.reject_status.is_some()),
        ("--queue-timeout-status", a.queue_timeout_status.is_some()),
        ("--mean-output-tokens", a.mean_output_tokens.is_some()),
        ("--jitter", a.jitter.is_some()),
        ("--prefix-caching", a.prefix_caching),
    ];
    match a.profile.as_str() {
        "fixed" => {
            if let Some((flag, _)) = engine_flags.iter().find(|(_, set)| *set) {
                bail!("{flag} applies to the engine profiles only; leave out --profile fixed (or the flag), see redline sim --help");
            }
            fixed(a)
        }
        "llama-3.1-8b-h100" | "llama-3.1-70b-h100" => {
            if let Some((flag, _)) = fixed_flags.iter().find(|(_, set)| *set) {
                bail!("{flag} applies to the fixed-latency model only; add --profile fixed, or use the engine's flags (see redline sim --help)");
            }
            let base = if a.profile.contains("70b") {
                llama_70b_h100()
            } else {
                llama_8b_h100()
            };
            engine(a, base).map(SimModel::Engine)
        }
        other => bail!(
            "--profile {other:?} is unknown; choose one of: {}",
            PROFILES.join(", ")
        ),
    }
}

fn fixed(a: &SimModelArgs) -> Result<SimModel> {
    let ms = |flag: &str, v: f64| -> Result<Duration> {
        ensure!(
            v.is_finite() && (0.0..=3_600_000.0).contains(&v),
            "{flag} {v}: must be a number of milliseconds from 0 to 3,600,000"
        );
        Ok(Duration::from_secs_f64(v / 1000.0))
    };
    let failure_rate = a.failure_rate.unwrap_or(0.0);
    ensure!(
        (0.0..=1.0).contains(&failure_rate),
        "--failure-rate {failure_rate}: must be a fraction between 0 and 1"
    );
    ensure!(
        a.output_tokens != Some(0),
        "--output-tokens 0: a reply needs at least one token"
    );
    let cfg = FixedLatencyConfig {
        ttft: ms("--ttft-ms", a.ttft_ms.unwrap_or(50.0))?,
        itl: ms("--itl-ms", a.itl_ms.unwrap_or(10.0))?,
        output_tokens: a.output_tokens,
        failure_rate,
        failure_status: status("--failure-status", a.failure_status.unwrap_or(503))?,
        max_inflight: a.max_inflight,
        seed: a.sim_seed,
    };
    Ok(SimModel::Fixed(FixedConfigView {
        ttft_s: cfg.ttft.as_secs_f64(),
        itl_s: cfg.itl.as_secs_f64(),
        output_tokens: cfg.output_tokens,
        failure_rate: cfg.failure_rate,
        failure_status: cfg.failure_status,
        max_inflight: cfg.max_inflight,
        cfg: Some(cfg),
    }))
}

fn engine(a: &SimModelArgs, mut c: EngineConfig) -> Result<EngineConfig> {
    if let Some(v) = a.max_num_seqs {
        c.max_num_seqs = v;
    }
    if let Some(v) = a.kv_cache_tokens {
        c.kv_cache_tokens = v;
    }
    if let Some(v) = a.max_batched_tokens {
        c.max_batched_tokens = v;
    }
    if let Some(v) = a.prefill_tps {
        c.prefill_tokens_per_s = v;
    }
    if let Some(v) = a.step_base_ms {
        c.step_base_s = non_negative("--step-base-ms", v)? / 1e3;
    }
    if let Some(v) = a.step_per_seq_ms {
        c.step_per_seq_s = non_negative("--step-per-seq-ms", v)? / 1e3;
    }
    if let Some(v) = a.step_per_ctx_token_us {
        c.step_per_ctx_token_s = non_negative("--step-per-ctx-token-us", v)? / 1e6;
    }
    if let Some(v) = a.overhead_ms {
        c.request_overhead_s = non_negative("--overhead-ms", v)? / 1e3;
    }
    if let Some(Limit(v)) = a.max_waiting {
        c.max_waiting = v;
    }
    if let Some(Limit(v)) = a.queue_timeout {
        c.queue_timeout_s = v.map(|t| non_negative("--queue-timeout", t)).transpose()?;
    }
    if let Some(v) = a.reject_status {
        c.reject_status = one_of("--reject-status", v, &[503, 429])?;
    }
    if let Some(v) = a.queue_timeout_status {
        c.queue_timeout_status = one_of("--queue-timeout-status", v, &[503, 504])?;
    }
    if let Some(v) = a.mean_output_tokens {
        c.mean_output_tokens = v;
    }
    if let Some(v) = a.jitter {
        c.jitter = v;
    }
    c.seed = a.sim_seed;
    c.prefix_caching = a.prefix_caching;
    ensure!(c.max_num_seqs >= 1, "--max-num-seqs must be at least 1");
    ensure!(c.max_batched_tokens >= c.max_num_seqs as u64, "--max-batched-tokens ({}) must be at least --max-num-seqs ({}), so every running sequence can decode in a step", c.max_batched_tokens, c.max_num_seqs);
    ensure!(
        c.kv_cache_tokens >= 1,
        "--kv-cache-tokens must be at least 1"
    );
    ensure!(
        c.prefill_tokens_per_s.is_finite() && c.prefill_tokens_per_s > 0.0,
        "--prefill-tps must be above 0"
    );
    ensure!(
        c.step_base_s > 0.0,
        "--step-base-ms must be above 0: every step takes time"
    );
    ensure!(
        c.mean_output_tokens.is_finite() && c.mean_output_tokens >= 1.0,
        "--mean-output-tokens must be at least 1"
    );
    ensure!(
        (0.0..1.0).contains(&c.jitter),
        "--jitter must be a fraction from 0 to below 1"
    );
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        sim: SimModelArgs,
    }

    fn resolve(args: &[&str]) -> Result<SimModel> {
        let w = Wrap::try_parse_from(std::iter::once("sim").chain(args.iter().copied()))?;
        super::resolve(&w.sim)
    }

    #[test]
    fn presets_and_overrides() {
        let SimModel::Engine(c) =
            resolve(&["--max-waiting", "none", "--reject-status", "429"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(c.max_waiting, None);
        assert_eq!(c.reject_status, 429);
        assert_eq!(c.max_num_seqs, llama_8b_h100().max_num_seqs);
        let SimModel::Engine(c) =
            resolve(&["--profile", "llama-3.1-70b-h100", "--step-base-ms", "20"]).unwrap()
        else {
            panic!()
        };
        assert!((c.step_base_s - 0.02).abs() < 1e-12);
    }

    #[test]
    fn mismatched_or_bad_flags_are_explained() {
        let e = resolve(&["--ttft-ms", "5"]).unwrap_err().to_string();
        assert!(e.contains("--profile fixed"), "{e}");
        assert!(resolve(&["--profile", "gpt-9"])
            .unwrap_err()
            .to_string()
            .contains("llama-3.1-8b-h100"));
        assert!(resolve(&["--max-batched-tokens", "10"]).is_err());
        assert!(resolve(&["--profile", "fixed", "--failure-status", "200"]).is_err());
        assert!(resolve(&["--profile", "fixed", "--ttft-ms", "5"]).is_ok());
        // The engine's flags on the fixed model are refused as the fixed model's are on the
        // engine; a rejection status is one the help names.
        let e = resolve(&["--profile", "fixed", "--max-num-seqs", "4"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--max-num-seqs applies to the engine profiles only"),
            "{e}"
        );
        let e = resolve(&["--reject-status", "500"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--reject-status 500: give 503 or 429"), "{e}");
        assert!(resolve(&["--queue-timeout-status", "504"]).is_ok());
    }
}
