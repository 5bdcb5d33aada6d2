//! Validates parsed flags (`cli::BenchArgs`) into a typed `Config`, before any request is sent, and
//! holds the one validator of each flag: every command that takes a flag (a run, `redline demo`,
//! `redline report`, `redline calibrate`) checks it here, so the rules and messages cannot drift.
//!
//! Every rejection names the flag, says what is wrong and how to fix it. Also owns endpoint URL
//! completion (base URL -> chat completions path) and redaction of credentials in URLs, so nothing
//! downstream handles raw flag strings. The pieces live in leaf files that import only each other,
//! never this one: the kind of run and each level's identity (`kind.rs`), the settings the later
//! stages share (`policy.rs`: pricing, verdict policy, report options), the validators
//! (`validate.rs`), URL completion and redaction (`endpoint.rs`), the connection (`connection.rs`:
//! TLS, headers, proxy), objectives (`slo.rs`), shards and the common start (`shard.rs`) and the
//! workload (`workload.rs`).

pub mod audio;
mod connection;
mod endpoint;
pub mod images;
pub mod kind;
pub mod lora;
pub mod policy;
pub mod seeds;
mod shard;
pub mod slo;
mod spec;
mod validate;
mod workload;

pub use connection::{bypass, Header, Proxy, TlsSettings};
pub(crate) use endpoint::redact_str;
pub use endpoint::{chat_completions_url, endpoint_url, redact_url};
pub use kind::{AutoQps, LevelId, Levels, Offered, PlanShare, Repeat};
pub use policy::{Policy, Pricing, ReportOptions};
pub use shard::{Shard, Start};
pub use slo::{Metric, Objective};
pub use validate::{
    daily_tokens, file_name, max_tokens, percentiles, policy, pricing, qps_levels, seconds,
};
pub use workload::{Source, SyntheticSpec, Workload};

use crate::cli::{Api, Arrival, BenchArgs, DatasetFormat, PlotFormat};
use anyhow::{bail, Context, Result};
use reqwest::Url;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;

/// Requests one level may schedule: each keeps a record in memory until the level is summarised.
pub const MAX_REQUESTS_PER_LEVEL: f64 = 20_000_000.0;

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
    /// The kind of run and its levels: rates, a search, concurrency or a trace.
    pub levels: Levels,
    pub duration: Duration,
    pub percentiles: Vec<f64>,
    pub show_tokens: bool,
    pub max_tokens: u32,
    /// None: `--temperature none`, no temperature in any request.
    pub temperature: Option<f64>,
    pub plot: bool,
    /// `--html` or `--plot`: the HTML report beside the chart.
    pub html: bool,
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
    /// `--tools`: OpenAI function tools offered in every request.
    pub tools: Option<Vec<Value>>,
    /// `--lora`: the adapters each sample is given one of.
    pub lora: Option<lora::Lora>,
    /// `--tools` with `--sessions`: each tool call answered with a result (`--tool-result`,
    /// `--tool-rounds`).
    pub tool_loop: Option<ToolLoop>,
    /// `--batch-size`: inputs per embeddings request, documents per rerank query (1 otherwise).
    pub batch_size: usize,
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
    /// `--show-ci`.
    pub show_ci: bool,
    /// `--stop-on-saturation`, as decided for the run's kind.
    pub stop_on_saturation: bool,
    /// `--repeat N` (N > 1).
    pub repeat: Option<Repeat>,
    /// The run's folder itself rather than a new one under `results_dir`: `redline sweep` names
    /// each configuration's (it may hold the server's log, never a run).
    pub run_dir: Option<PathBuf>,
}

impl Config {
    pub fn from_args(a: &BenchArgs) -> Result<Config> {
        let endpoint = a.endpoint.as_deref().context("missing --endpoint")?;
        let model = a.model.clone().context("missing --model")?;
        let (workload, dataset) =
            workload::workload(&a.workload, a.dataset.as_ref(), !a.api.batched())?;
        if model.trim().is_empty() {
            bail!("--model is empty; give the model name the endpoint serves");
        }
        seconds("--duration", a.duration_s(), "e.g. --duration 60")?;
        let levels = validate::levels(a, &workload.source)?;
        validate::level_size(levels.rates(), a.duration_s())?;
        seconds("--timeout", a.timeout, "e.g. --timeout 120")?;
        let (shard, start) = shard::shard(
            &a.shard,
            Duration::from_secs_f64(a.timeout),
            chrono::Utc::now(),
        )?;
        validate::shard_plan(&levels, shard.is_some(), a.seed.is_some())?;
        let stop_on_saturation =
            validate::stop_on_saturation(a, &levels, &workload, shard.is_some())?;
        let repeat = validate::repeat(a, &levels, shard.is_some())?;
        // Fixed rates repeated run in their run order, each repetition a level of its own.
        let levels = match (levels, repeat) {
            (Levels::Rates(r), Some(rep)) => Levels::Rates(rep.expand(&r)),
            (levels, _) => levels,
        };
        validate::request(a)?;
        validate::schedule(a)?;
        validate::samples(a, &workload.source)?;
        file_name("--output", &a.output)?;
        file_name("--plot-output", &a.plot_output)?;
        let (policy, daily_tokens) = policy(&a.policy, &Policy::default(), None)?;
        let endpoint = endpoint_url(endpoint, a.api)?;
        if workload.images.as_ref().is_some_and(|i| i.by_url) {
            let host = endpoint.host_str().unwrap_or_default();
            if !matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1") {
                bail!("--images send=url serves the images on 127.0.0.1, which an endpoint at {host} cannot reach: use send=inline");
            }
        }
        let api_key = api_key(a)?;
        let offered = tools::of(a)?;
        let connection = connection::settings(&endpoint, &a.connection, api_key.is_some())?;
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
            levels,
            duration: Duration::from_secs_f64(a.duration_s()),
            percentiles: a.percentiles.clone(),
            show_tokens: a.show_tokens,
            max_tokens: a.max_tokens(),
            temperature: a
                .temperature
                .map_or(Some(crate::cli::defaults::TEMPERATURE), |t| t.0),
            plot: a.plot.wanted(),
            html: a.plot.html_wanted(),
            plot_format: PlotFormat::for_output(a.plot.plot_format, &a.plot_output),
            output: a.output.clone(),
            plot_output: a.plot_output.clone(),
            pricing: pricing(a.pricing.gpu_rate, a.pricing.num_gpus)?,
            results_dir: a.results_dir.clone(),
            timeout: Duration::from_secs_f64(a.timeout),
            ttft_timeout: validate::ttft_timeout(a.ttft_timeout, a.timeout)?,
            arrival: a.arrival,
            burstiness: a.burstiness,
            ramp_up_s: a.ramp_up.unwrap_or(0.0),
            seed: validate::seed(a.seed)?,
            max_concurrency: a.max_concurrency,
            extra_body: a
                .extra_body
                .as_deref()
                .map(validate::extra_body)
                .transpose()?,
            tools: offered.as_ref().map(|t| t.offered.clone()),
            tool_loop: offered.and_then(|t| t.session_loop),
            lora: match (&a.lora, &a.lora_assignment) {
                (Some(names), how) => Some(lora::Lora::parse(names, how.as_deref())?),
                (None, Some(_)) => {
                    bail!("--lora-assignment chooses among --lora's adapters: add --lora NAME,...")
                }
                (None, None) => None,
            },
            batch_size: batch_size(a)?,
            stream_usage: !a.no_stream_usage,
            preflight: !a.no_preflight,
            metrics_url: a.metrics_url.as_deref().map(metrics_url).transpose()?,
            shard,
            start,
            policy,
            daily_tokens,
            http2: connection.http2,
            tls: connection.tls,
            headers: connection.headers,
            proxy: connection.proxy,
            show_ci: a.show_ci,
            stop_on_saturation,
            repeat,
            run_dir: None,
        })
    }

    pub fn report_options(&self) -> ReportOptions {
        ReportOptions {
            percentiles: self.percentiles.clone(),
            pricing: self.pricing,
            policy: self.policy.clone(),
            daily_tokens: self.daily_tokens,
            levels: self.levels.clone(),
            ramp_up_s: self.ramp_up_s,
            show_ci: self.show_ci,
            repeat: self.repeat,
        }
    }

    /// The endpoint as it may be shown or saved: credentials removed.
    pub fn endpoint_display(&self) -> String {
        redact_url(&self.endpoint)
    }
}

/// The key from --api-key, or from the variable named by --api-key-env, or else from
/// OPENAI_API_KEY (ANTHROPIC_API_KEY for `--api anthropic`: an OpenAI key is never sent to another
/// vendor's API). The environment fallback is not a flag, so it never conflicts with one.
fn api_key(a: &BenchArgs) -> Result<Option<String>> {
    let key = match (&a.api_key_env, &a.api_key) {
        (Some(var), _) => match std::env::var(var) {
            Ok(k) => Some(k),
            Err(_) => bail!("--api-key-env {var}: that environment variable is not set (or not valid UTF-8); export it, or pass --api-key"),
        },
        (None, Some(k)) => Some(k.clone()),
        (None, None) => match a.api {
            Api::Anthropic => std::env::var("ANTHROPIC_API_KEY").ok(),
            _ => std::env::var("OPENAI_API_KEY").ok(),
        },
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
mod tools;
pub use tools::ToolLoop;

/// `--batch-size`: inputs per embeddings request or documents per rerank query, at least 1.
/// A batched API answers whole, so it has no turn to continue (`--sessions`), and a trace
/// request carries one input.
fn batch_size(a: &BenchArgs) -> Result<usize> {
    whole_reply(a)?;
    if a.api.batched() && a.workload.sessions {
        bail!(
            "--sessions: an --api {} reply has no assistant turn to continue; drop --sessions or use --api chat",
            a.api.name()
        );
    }
    if a.workload.audio.is_some() && a.api != Api::Chat {
        bail!(
            "--audio: clips are sent as chat's input_audio parts; --api {} takes none (use --api chat)",
            a.api.name()
        );
    }
    if a.lora.is_some() && a.workload.trace.is_some() {
        bail!("--lora with --trace: a trace's requests are built one by one and name --model; leave out --lora or the trace");
    }
    if a.lora.is_some() && a.api.batched() {
        bail!(
            "--lora: adapters are measured on the generating APIs; --api {} is not one",
            a.api.name()
        );
    }
    if a.workload.images.is_some() && (a.api.batched() || a.api == Api::Completions) {
        bail!(
            "--images: the {} API takes no images; use --api chat, responses or anthropic",
            a.api.name()
        );
    }
    if a.api.batched() && a.workload.ignore_eos == crate::cli::IgnoreEos::On {
        bail!(
            "--ignore-eos on: an --api {} reply has no output tokens to pin; drop it",
            a.api.name()
        );
    }
    let n = match (a.batch_size, a.api) {
        (None, _) => 1,
        (Some(0), _) => bail!("--batch-size 0: give the inputs per request, 1 or more"),
        (Some(n), api) if api.batched() => n,
        (Some(_), api) => bail!(
            "--batch-size applies to --api embeddings and rerank only (--api {} sends one conversation per request)",
            api.name()
        ),
    };
    if n > 1 && a.workload.trace.is_some() {
        bail!(
            "--batch-size {n} with --trace: a trace request carries one input; drop --batch-size"
        );
    }
    Ok(n)
}

/// Flags that shape a generated reply, refused where the reply comes whole (embeddings, rerank):
/// none of them would be sent, and the run's metadata would record them as if they applied.
fn whole_reply(a: &BenchArgs) -> Result<()> {
    if !a.api.batched() {
        return Ok(());
    }
    // (`--synthetic output=` is refused as the spec is read.)
    let given = [
        (a.max_tokens.is_some(), "--max-tokens"),
        (a.temperature.is_some(), "--temperature"),
        (a.no_stream_usage, "--no-stream-usage"),
    ];
    match given.iter().find(|(g, _)| *g) {
        Some((_, flag)) => bail!(
            "{flag}: an --api {} request asks for no generated reply, so nothing of it would be sent; drop it",
            a.api.name()
        ),
        None => Ok(()),
    }
}
