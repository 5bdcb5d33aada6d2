//! Validates parsed flags (`cli::BenchArgs`) into a typed `Config`, before any request is sent, and
//! holds the one validator of each flag: every command that takes a flag (a run, `redline demo`,
//! `redline report`, `redline calibrate`) checks it here, so the rules and messages cannot drift.
//!
//! Every rejection names the flag, says what is wrong and how to fix it. Also owns endpoint URL
//! completion (base URL -> chat completions path) and redaction of credentials in URLs, so nothing
//! downstream handles raw flag strings, and the typed settings the later stages share: `Pricing`,
//! the verdict `Policy` and the `ReportOptions` that `analyze/` summarises with. The validators are
//! in `validate.rs`, URL completion and redaction in `endpoint.rs`, the connection's settings (TLS,
//! headers, proxy) in `connection.rs`, and objectives in `slo.rs`.

mod connection;
mod endpoint;
mod shard;
pub mod slo;
mod validate;
mod workload;

pub use connection::{bypass, Header, Proxy, TlsSettings};
pub(crate) use endpoint::redact_str;
pub use endpoint::{chat_completions_url, endpoint_url, redact_url};
pub use shard::{Shard, Start};
pub use slo::{Metric, Objective};
pub use validate::{
    daily_tokens, file_name, max_tokens, percentiles, policy, pricing, qps_levels, seconds,
};
use validate::{extra_body, qps_plan};
pub use workload::{Source, SyntheticSpec, Workload};

use crate::cli::{defaults, Api, Arrival, BenchArgs, DatasetFormat, PlotFormat};
use anyhow::{bail, Context, Result};
use reqwest::Url;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;

/// Requests one level may schedule: each keeps a record in memory until the level is summarised.
pub const MAX_REQUESTS_PER_LEVEL: f64 = 20_000_000.0;

/// GPU pricing for the cost analysis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pricing {
    pub gpu_rate: f64,
    pub num_gpus: u32,
}

/// What makes a level pass, and how much headroom to keep (`analyze/verdict.rs` applies it).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub pass_pct: f64,
    pub warn_pct: f64,
    pub min_send_ratio: f64,
    /// Percent of the maximum sustainable QPS kept free in production.
    pub headroom_pct: f64,
    /// A level whose schedule lag p99 exceeds this is client-limited: the client sent late enough
    /// to show in latencies counted from the planned time.
    pub max_lag_p99_s: f64,
    /// Objectives besides success and keeping up (`--slo`, `--max-ttft-p95`, `--max-e2e-p95`).
    pub objectives: Vec<Objective>,
}

impl Policy {
    /// The objective on `metric` at percentile `p`, if any.
    pub fn objective(&self, metric: Metric, p: f64) -> Option<&Objective> {
        self.objectives
            .iter()
            .find(|o| o.metric == metric && o.percentile == Some(p))
    }

    /// The objectives as `--slo` text, success included.
    pub fn slo_text(&self) -> String {
        let success = Objective {
            metric: Metric::Success,
            percentile: None,
            bound: self.pass_pct,
        };
        slo::to_text(&[&[success][..], &self.objectives].concat())
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            pass_pct: defaults::PASS_THRESHOLD,
            warn_pct: defaults::WARN_THRESHOLD,
            min_send_ratio: 0.98,
            headroom_pct: defaults::HEADROOM,
            max_lag_p99_s: 0.005,
            objectives: Vec::new(),
        }
    }
}

/// How the numbers are summarised: the user's percentiles, pricing and verdict policy, and the
/// search when the levels were `--qps auto` probes.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    pub percentiles: Vec<f64>,
    pub pricing: Option<Pricing>,
    pub policy: Policy,
    pub daily_tokens: Option<u64>,
    pub search: Option<AutoQps>,
    /// Seconds of each level's ramp-up, left out of the keeping-up judgement.
    pub ramp_up_s: f64,
    /// `--concurrency`: each level's requests in flight (closed loop: no keeping-up judgement).
    pub concurrency: Vec<usize>,
}

impl Default for ReportOptions {
    /// The reference defaults: percentiles 50, 95, 99; no pricing, objectives or search.
    fn default() -> Self {
        ReportOptions {
            percentiles: defaults::PERCENTILES.to_vec(),
            pricing: None,
            policy: Policy::default(),
            daily_tokens: None,
            search: None,
            ramp_up_s: 0.0,
            concurrency: Vec::new(),
        }
    }
}

/// `--qps auto`: how the search runs (`analyze/search.rs`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AutoQps {
    pub start_qps: f64,
    /// Relative width of the final bracket (0.05 = 5%).
    pub tolerance: f64,
    /// Seconds of a full-length probe (`--duration`).
    pub duration_s: f64,
    /// Endpoint seconds the whole search may use.
    pub budget_s: Option<f64>,
    /// The shortest growth probe, seconds (`--min-probe-duration`; folders written before it
    /// existed used the default).
    #[serde(default = "default_min_probe_s")]
    pub min_probe_s: f64,
}

fn default_min_probe_s() -> f64 {
    defaults::MIN_PROBE_S
}

/// A validated benchmark configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub endpoint: Url,
    /// `--api`: chat completions or (legacy) completions.
    pub api: Api,
    pub api_key: Option<String>,
    pub model: String,
    /// `--dataset` or `--trace`; `synthetic` with `--synthetic`.
    pub dataset: PathBuf,
    pub dataset_format: DatasetFormat,
    /// What is sent: the dataset, synthetic prompts or a trace, and as sessions or not.
    pub workload: Workload,
    /// `--max-samples`.
    pub max_samples: Option<usize>,
    /// `--shuffle`: samples shuffled with the run's seed.
    pub shuffle: bool,
    /// The levels; empty with `--qps auto`, whose probes `search` chooses.
    pub qps: Vec<f64>,
    pub search: Option<AutoQps>,
    /// `--concurrency`: closed-loop levels (then `qps` is empty).
    pub concurrency: Vec<usize>,
    pub duration: Duration,
    pub percentiles: Vec<f64>,
    pub show_tokens: bool,
    pub max_tokens: u32,
    pub temperature: f64,
    pub plot: bool,
    pub plot_format: PlotFormat,
    pub output: String,
    pub plot_output: String,
    pub pricing: Option<Pricing>,
    pub results_dir: PathBuf,
    pub timeout: Duration,
    pub ttft_timeout: Option<Duration>,
    pub arrival: Arrival,
    /// `--burstiness` (gamma arrivals).
    pub burstiness: f64,
    /// `--ramp-up`, seconds (0: none).
    pub ramp_up_s: f64,
    pub seed: u64,
    pub max_concurrency: Option<usize>,
    pub extra_body: Option<Map<String, Value>>,
    pub stream_usage: bool,
    /// Check with one request that the endpoint answers the model before the first level.
    pub preflight: bool,
    /// `--metrics-url`: the endpoint's Prometheus page.
    pub metrics_url: Option<Url>,
    /// `--shard I/N`: this process's slice of the plan.
    pub shard: Option<Shard>,
    /// `--start-at` / `--start-after`: when the first level starts, and the gap between levels.
    pub start: Option<Start>,
    pub policy: Policy,
    pub daily_tokens: Option<u64>,
    /// `--http2`.
    pub http2: bool,
    pub tls: TlsSettings,
    /// `--header` and `--header-env`; values are secrets.
    pub headers: Vec<Header>,
    pub proxy: Option<Proxy>,
}

impl Config {
    pub fn from_args(a: &BenchArgs) -> Result<Config> {
        let endpoint = a.endpoint.as_deref().context("missing --endpoint")?;
        let model = a.model.clone().context("missing --model")?;
        let (workload, dataset) = workload::workload(&a.workload, a.dataset.as_ref())?;
        if model.trim().is_empty() {
            bail!("--model is empty; give the model name the endpoint serves");
        }
        seconds("--duration", a.duration, "e.g. --duration 60")?;
        let (qps, search) = qps_plan(a)?;
        let concurrency = a.concurrency.clone().unwrap_or_default();
        if a.concurrency.is_some() {
            if search.is_some() {
                bail!(
                    "--concurrency runs closed-loop levels; it cannot be combined with --qps auto"
                );
            }
            if concurrency.is_empty() || concurrency.iter().any(|&n| n == 0 || n > 100_000) {
                bail!("--concurrency: give levels of 1 to 100,000 requests in flight, e.g. --concurrency 1,8,32");
            }
            // A closed loop sends when a reply ends: it has no schedule to shape or to cap.
            if a.arrival != Arrival::Constant || a.ramp_up.is_some() {
                bail!("--concurrency sends each worker's next request when its reply ends, on no schedule; leave out --arrival and --ramp-up (they shape --qps levels)");
            }
            if a.max_concurrency.is_some() {
                bail!("--concurrency N already holds exactly N requests in flight; leave out --max-concurrency (it caps --qps levels)");
            }
        }
        let (qps, search) = if !concurrency.is_empty() {
            (Vec::new(), None)
        } else if matches!(workload.source, Source::Trace { .. }) {
            if search.is_some() {
                bail!("--trace replays the trace's own rate; it cannot be combined with --qps auto (use --trace-speed to scale it)");
            }
            if a.arrival != Arrival::Constant || a.ramp_up.is_some() {
                bail!("--trace sends on the trace's own timestamps; leave out --arrival and --ramp-up");
            }
            (Vec::new(), None)
        } else {
            (qps, search)
        };
        let top = qps.iter().copied().fold(0.0, f64::max);
        if top * a.duration > MAX_REQUESTS_PER_LEVEL {
            bail!(
                "--qps {top} x --duration {} = {:.0} requests in one level; redline keeps a record of each (about 0.5 KB) and accepts up to {MAX_REQUESTS_PER_LEVEL:.0}: shorten --duration",
                a.duration,
                top * a.duration
            );
        }
        seconds("--timeout", a.timeout, "e.g. --timeout 120")?;
        let (shard, start) = shard::shard(
            &a.shard,
            Duration::from_secs_f64(a.timeout),
            chrono::Utc::now(),
        )?;
        if shard.is_some() {
            if search.is_some() {
                bail!("--shard cannot run --qps auto: a search chooses each probe from every shard's results; give the rates, e.g. --qps 10,20,40");
            }
            if a.seed.is_none() {
                bail!("--shard needs --seed, the same on every shard, so that they split one schedule (and one shuffle) between them");
            }
        }
        percentiles(&a.percentiles)?;
        if !(a.temperature.is_finite() && a.temperature >= 0.0) {
            bail!(
                "--temperature {}: must be a number of 0 or more",
                a.temperature
            );
        }
        max_tokens(a.max_tokens)?;
        if !(a.burstiness.is_finite() && a.burstiness > 0.0 && a.burstiness <= 1000.0) {
            bail!("--burstiness {}: the gamma shape must be above 0 (1 = Poisson, below 1 burstier), e.g. --burstiness 0.5", a.burstiness);
        }
        if a.burstiness != 1.0 && a.arrival != Arrival::Gamma {
            bail!("--burstiness shapes gamma arrivals; add --arrival gamma");
        }
        if let Some(r) = a.ramp_up {
            if !(r.is_finite() && r > 0.0 && r < a.duration) {
                bail!(
                    "--ramp-up {r}: seconds above 0 and below --duration ({}), e.g. --ramp-up 10",
                    a.duration
                );
            }
        }
        if !matches!(workload.source, Source::Dataset) {
            if a.shuffle {
                bail!("--shuffle reorders a dataset's samples; synthetic prompts are drawn at random already and a trace replays in its own order: leave it out");
            }
            if a.max_samples.is_some() && matches!(workload.source, Source::Trace { .. }) {
                bail!("--max-samples picks dataset samples; a trace replays every request (cut the trace file to replay part of it)");
            }
        }
        if a.max_samples == Some(0) {
            bail!("--max-samples 0: keep at least one sample, or leave the flag out for all");
        }
        if a.max_concurrency == Some(0) {
            bail!("--max-concurrency 0: allow at least one request in flight, or leave the flag out for no cap");
        }
        file_name("--output", &a.output)?;
        file_name("--plot-output", &a.plot_output)?;
        let (policy, daily_tokens) = policy(&a.policy, &Policy::default(), None)?;
        let endpoint = endpoint_url(endpoint, a.api)?;
        let api_key = api_key(a)?;
        let c = &a.connection;
        if c.http2 && endpoint.scheme() != "https" {
            bail!("--http2 needs an https endpoint (HTTP/2 without TLS is not supported); leave it out for http");
        }
        let tls = connection::tls(
            &endpoint,
            c.cacert.clone(),
            c.insecure,
            c.cert.clone(),
            c.key.clone(),
        )?;
        let headers = connection::headers(&c.headers, &c.header_envs, api_key.is_some())?;
        let proxy = connection::proxy(&endpoint, c.proxy.as_deref(), |n| std::env::var(n).ok())?;
        if c.http2 && proxy.is_some() {
            bail!("--http2 cannot go through a proxy yet (the proxy would hide HTTP/2's stream limits); leave out --http2, or set NO_PROXY for this host");
        }
        Ok(Config {
            endpoint,
            api: a.api,
            api_key,
            model,
            dataset,
            dataset_format: a.dataset_format,
            workload,
            max_samples: a.max_samples,
            shuffle: a.shuffle,
            qps,
            search,
            concurrency,
            duration: Duration::from_secs_f64(a.duration),
            percentiles: a.percentiles.clone(),
            show_tokens: a.show_tokens,
            max_tokens: a.max_tokens,
            temperature: a.temperature,
            plot: a.plot || a.plot_format.is_some(),
            plot_format: PlotFormat::for_output(a.plot_format, &a.plot_output),
            output: a.output.clone(),
            plot_output: a.plot_output.clone(),
            pricing: pricing(a.gpu_rate, a.num_gpus)?,
            results_dir: a.results_dir.clone(),
            timeout: Duration::from_secs_f64(a.timeout),
            ttft_timeout: match a.ttft_timeout {
                Some(t) => {
                    seconds("--ttft-timeout", t, "e.g. --ttft-timeout 10")?;
                    Some(Duration::from_secs_f64(t))
                }
                None => None,
            },
            arrival: a.arrival,
            burstiness: a.burstiness,
            ramp_up_s: a.ramp_up.unwrap_or(0.0),
            seed: a.seed.unwrap_or_else(rand::random),
            max_concurrency: a.max_concurrency,
            extra_body: a.extra_body.as_deref().map(extra_body).transpose()?,
            stream_usage: !a.no_stream_usage,
            preflight: !a.no_preflight,
            metrics_url: a.metrics_url.as_deref().map(metrics_url).transpose()?,
            shard,
            start,
            policy,
            daily_tokens,
            http2: c.http2,
            tls,
            headers,
            proxy,
        })
    }

    pub fn report_options(&self) -> ReportOptions {
        ReportOptions {
            percentiles: self.percentiles.clone(),
            pricing: self.pricing,
            policy: self.policy.clone(),
            daily_tokens: self.daily_tokens,
            search: self.search,
            ramp_up_s: self.ramp_up_s,
            concurrency: self.concurrency.clone(),
        }
    }

    /// The endpoint as it may be shown or saved: credentials removed.
    pub fn endpoint_display(&self) -> String {
        redact_url(&self.endpoint)
    }
}

/// The key from --api-key, or from the variable named by --api-key-env, or else from
/// OPENAI_API_KEY. The environment fallback is not a flag, so it never conflicts with one.
fn api_key(a: &BenchArgs) -> Result<Option<String>> {
    let key = match (&a.api_key_env, &a.api_key) {
        (Some(var), _) => match std::env::var(var) {
            Ok(k) => Some(k),
            Err(_) => bail!("--api-key-env {var}: that environment variable is not set (or not valid UTF-8); export it, or pass --api-key"),
        },
        (None, Some(k)) => Some(k.clone()),
        (None, None) => std::env::var("OPENAI_API_KEY").ok(),
    };
    Ok(key.filter(|k| !k.trim().is_empty()))
}

/// `--metrics-url`: an http(s) URL.
fn metrics_url(text: &str) -> Result<Url> {
    let url = Url::parse(text.trim()).map_err(|e| {
        anyhow::anyhow!(
            "--metrics-url {:?} is not a valid URL ({e}); give the Prometheus page, e.g. http://host:8000/metrics",
            redact_str(text)
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        bail!(
            "--metrics-url {:?}: give an http or https URL with a host, e.g. http://host:8000/metrics",
            redact_url(&url)
        );
    }
    Ok(url)
}

/// Whether a key sent to this endpoint would cross the network unencrypted.
pub fn key_in_clear(cfg: &Config) -> bool {
    let host = cfg.endpoint.host_str().unwrap_or("localhost");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    cfg.api_key.is_some() && cfg.endpoint.scheme() == "http" && !loopback
}

#[cfg(test)]
mod tests;
