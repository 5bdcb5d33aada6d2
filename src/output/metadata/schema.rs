//! `metadata.json`'s schema: the run's settings and the levels run so far, rewritten after every
//! level so `redline report` can rebuild the run. The reference tool's keys, plus what redline adds;
//! never the API key. [`Metadata::new`] writes a run's settings as its configuration has them;
//! [`Metadata::describe_workload`] adds what was sent. The other files of this folder answer the
//! questions asked of it: the run's kind and each level's identity (`kind.rs`), the plan a shard
//! belongs to (`plan.rs`), what a re-report changed (`rereport.rs`) and what a merge joined
//! (`merge.rs`).

use crate::cli::{DatasetFormat, SampleOrder};
use crate::config::slo::Objectives;
use crate::config::{redact_url, AutoQps, Config, Metric, Source, SyntheticSpec};
use crate::dataset::tokenizer::TokenizerInfo;
use crate::dataset::trace::TraceFormat;
use crate::measure::client::Route;
use crate::output::metadata::change::ReportChange;
use crate::output::metadata::merge::MergeRecord;
use serde::{Deserialize, Serialize};

/// `metadata.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Metadata {
    pub timestamp: String,
    pub endpoint: String,
    pub model: String,
    pub dataset: String,
    pub qps_levels: Vec<f64>,
    pub duration: f64,
    pub max_tokens: u32,
    /// Null for `--temperature none`.
    pub temperature: Option<f64>,
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
    /// The format the dataset was read as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_format: Option<DatasetFormat>,
    pub output: String,
    pub plot_output: String,
    pub pass_threshold: f64,
    pub warn_threshold: f64,
    pub headroom: f64,
    /// `--verdict-window steady`: levels were judged on their steady window.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub steady_verdict: bool,
    pub daily_tokens: Option<u64>,
    #[serde(default)]
    pub max_ttft_p95: Option<f64>,
    #[serde(default)]
    pub max_e2e_p95: Option<f64>,
    /// Every objective, success included, as `--slo` takes them (absent without objectives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<Objectives>,
    /// `--concurrency`: each level's requests in flight; `qps_levels` then holds the rates they
    /// achieved, as they ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_levels: Option<Vec<usize>>,
    /// `--arrival gamma`: the gaps' shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burstiness: Option<f64>,
    /// `--ramp-up`, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_up_s: Option<f64>,
    /// `--qps auto`: how the search ran; `qps_levels` then lists its probes as they ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<AutoQps>,
    /// `--repeat`: each level ran `n` times, in `order`; `qps_levels` lists them in run order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<crate::config::Repeat>,
    /// The levels run so far.
    #[serde(default)]
    pub levels: Vec<LevelInfo>,
    /// The run finished every level without interruption.
    #[serde(default)]
    pub completed: bool,
    /// How requests reached the endpoint.
    #[serde(default)]
    pub connection: ConnectionInfo,
    /// `--synthetic`: the prompts' spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synthetic: Option<SyntheticSpec>,
    /// `--trace`: its format and speed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<TraceInfo>,
    /// `--sessions`: conversations sent as multi-turn sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<SessionsInfo>,
    /// `--tokenizer`: which tokenizer measured the prompts (its hash identifies it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<TokenizerInfo>,
    /// `--api`, when not chat completions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// `--batch-size`: inputs (embeddings) or documents (rerank) per request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// `--images`: what each request carried (count, sizes or folder, format, pool, inline or by
    /// address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<serde_json::Value>,
    /// `--audio`: the clips each request carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<serde_json::Value>,
    /// `--lora`: the adapters the requests named instead of `model`, and how each was chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora: Option<serde_json::Value>,
    /// `--tools`: the names of the tools every request offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
    /// `--sample-order`: how each level chose its samples (absent for a trace, and in folders
    /// written before the choice existed, whose levels cycled through the samples).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_order: Option<SampleOrder>,
    /// `--shuffle` and `--max-samples`: which samples were sent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shuffle: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_samples: Option<usize>,
    /// `--ttft-timeout`, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_timeout: Option<f64>,
    /// `--metrics-url`, credentials redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_url: Option<String>,
    /// Requests carried `"ignore_eos": true`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_eos: bool,
    /// `--start-at` (or `--start-after`): the common start, and the gap between levels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level_gap_s: Option<f64>,
    /// `--shard`: this run's slice of the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// `redline merge`: the shards this folder was merged from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<MergeRecord>,
    /// What each `redline report` that changed a setting changed, oldest first (the settings
    /// above are the current ones, those the results JSON was last written with).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reports: Vec<ReportChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceInfo {
    pub format: TraceFormat,
    pub speed: f64,
    pub requests: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionsInfo {
    pub think_time_s: f64,
}

/// How requests reached the endpoint: protocol, client, TLS, header names, proxy. No secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionInfo {
    /// `HTTP/1.1` or `HTTP/2`: what every connection negotiated (a connection that cannot is an
    /// error, never a silent fallback).
    pub protocol: String,
    /// `redline-http1`, `redline-http2` or `reqwest`.
    pub client: String,
    /// Why reqwest carried the requests, when it did.
    pub client_reason: Option<String>,
    pub tls: Option<TlsInfo>,
    /// Names of the `--header` / `--header-env` headers (never their values).
    pub headers: Vec<String>,
    /// The proxy, credentials redacted, and where it was set.
    pub proxy: Option<String>,
    /// With `--http2`: each connection open at the end and the streams it allowed.
    pub http2_stream_limits: Vec<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TlsInfo {
    /// False with `--insecure`.
    pub verify_certificate: bool,
    /// `--cacert` given.
    pub extra_ca: bool,
    /// `--cert`/`--key` given.
    pub client_certificate: bool,
}

/// What `redline report` needs of a level beyond its records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelInfo {
    pub qps: f64,
    pub send_window_s: f64,
    pub partial: bool,
    /// The level's planned duration when it differs from `duration` (a short search probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// A shard's level: the whole plan's rate and arrivals (this shard sent its share of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_qps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_arrivals: Option<u64>,
    /// `--repeat`: which repetition of its level this is, 1-based.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<u32>,
    /// `--stop-on-saturation` stopped its sending (at `send_window_s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stop: Option<crate::measure::record::EarlyStop>,
    /// Its first replies' tokens counted against the server's bill (`measure/tokens_check.rs`):
    /// kept here, as the records hold no reply text to count again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_check: Option<crate::measure::checked::TokenCheck>,
}

/// `--shard`: which slice of which plan this run is, and how its start went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardInfo {
    pub index: usize,
    pub count: usize,
    /// Names the plan: a hash of every setting that shapes it ([`Metadata::plan`]), the same on
    /// every shard of one plan.
    pub plan_id: String,
    /// The plan's levels (this run's `qps_levels` are its shares of them).
    pub plan_qps_levels: Vec<f64>,
    /// `--concurrency`: the plan's levels (this run's `concurrency_levels` are its workers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_concurrency_levels: Option<Vec<usize>>,
    pub host: String,
    /// The wall-clock time of this shard's first send, as its clock tells it (so a shard that
    /// started late shows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// How late its first request went out, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_send_lag_s: Option<f64>,
}

impl Metadata {
    pub fn new(
        cfg: &Config,
        samples: usize,
        now: chrono::DateTime<chrono::Local>,
        route: &Route,
    ) -> Self {
        Metadata {
            timestamp: now.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
            endpoint: cfg.endpoint_display(),
            model: cfg.model.clone(),
            dataset: cfg.dataset.display().to_string(),
            qps_levels: cfg.levels.rates().to_vec(),
            duration: cfg.duration.as_secs_f64(),
            max_tokens: cfg.max_tokens,
            // A whole reply (embeddings, rerank) is sent neither.
            temperature: cfg.temperature.filter(|_| !cfg.api.batched()),
            percentiles: cfg.percentiles.clone(),
            show_tokens: cfg.show_tokens,
            tool: "redline".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            arrival: cfg.arrival.to_string(),
            seed: cfg.seed,
            timeout: cfg.timeout.as_secs_f64(),
            max_concurrency: cfg.max_concurrency,
            stream_usage: cfg.stream_usage && !cfg.api.batched(),
            extra_body: cfg.extra_body.clone(),
            gpu_rate: cfg.pricing.map(|p| p.gpu_rate),
            num_gpus: cfg.pricing.map(|p| p.num_gpus),
            dataset_samples: samples,
            dataset_format: None,
            output: cfg.output.clone(),
            plot_output: cfg.plot_output.clone(),
            pass_threshold: cfg.policy.pass_pct,
            warn_threshold: cfg.policy.warn_pct,
            headroom: cfg.policy.headroom_pct,
            steady_verdict: cfg.policy.steady_verdict,
            daily_tokens: cfg.daily_tokens,
            max_ttft_p95: cfg.policy.objective(Metric::Ttft, 95.0).map(|o| o.bound),
            max_e2e_p95: cfg.policy.objective(Metric::E2e, 95.0).map(|o| o.bound),
            slo: cfg.policy.objectives_with_success(),
            search: cfg.levels.search(),
            repeat: cfg.repeat,
            concurrency_levels: cfg
                .levels
                .closed_loop()
                .then(|| cfg.levels.concurrency().to_vec()),
            burstiness: (cfg.arrival == crate::cli::Arrival::Gamma).then_some(cfg.burstiness),
            ramp_up_s: (cfg.ramp_up_s > 0.0).then_some(cfg.ramp_up_s),
            levels: Vec::new(),
            completed: false,
            connection: ConnectionInfo {
                protocol: route.protocol.into(),
                client: route.client.into(),
                client_reason: route.why.map(String::from),
                tls: (cfg.endpoint.scheme() == "https").then(|| TlsInfo {
                    verify_certificate: !cfg.tls.insecure,
                    extra_ca: cfg.tls.cacert.is_some(),
                    client_certificate: cfg.tls.client_auth.is_some(),
                }),
                headers: cfg.headers.iter().map(|h| h.name.to_string()).collect(),
                proxy: cfg
                    .proxy
                    .as_ref()
                    .map(|p| format!("{} (from {})", redact_url(&p.url), p.source)),
                http2_stream_limits: Vec::new(),
            },
            synthetic: None,
            trace: None,
            sessions: None,
            tokenizer: None,
            api: (cfg.api != crate::cli::Api::Chat)
                .then(|| format!("{:?}", cfg.api).to_lowercase()),
            batch_size: cfg.api.batched().then_some(cfg.batch_size),
            images: cfg.workload.images.as_ref().and_then(as_json),
            audio: cfg.workload.audio.as_ref().and_then(as_json),
            lora: cfg.lora.as_ref().and_then(as_json),
            tools: cfg
                .tools
                .as_ref()
                .map(|t| t.iter().map(tool_name).collect()),
            sample_order: (!matches!(cfg.workload.source, Source::Trace { .. }))
                .then_some(cfg.workload.sample_order),
            shuffle: cfg.shuffle,
            max_samples: cfg.max_samples,
            ttft_timeout: cfg.ttft_timeout.map(|t| t.as_secs_f64()),
            metrics_url: cfg.metrics_url.as_ref().map(redact_url),
            ignore_eos: false,
            start_at: cfg.start.map(|s| s.at.to_rfc3339()),
            level_gap_s: cfg.start.map(|s| s.level_gap.as_secs_f64()),
            shard: None,
            merged: None,
            reports: Vec::new(),
        }
    }

    /// Records what the run sends: the dataset's format, the synthetic spec or the trace, sessions,
    /// the tokenizer, and whether `ignore_eos` was sent.
    pub fn describe_workload(
        &mut self,
        cfg: &Config,
        dataset_format: Option<DatasetFormat>,
        trace_requests: Option<(TraceFormat, usize, std::time::Duration)>,
        tokenizer: Option<TokenizerInfo>,
        ignore_eos: bool,
    ) {
        self.dataset_format = dataset_format;
        match &cfg.workload.source {
            Source::Dataset => {}
            Source::Synthetic(spec) => {
                self.synthetic = Some(*spec);
                self.dataset = format!("synthetic:{}", spec.to_text());
            }
            Source::Trace { speed } => {
                if let Some((_, _, window)) = trace_requests {
                    // The trace sets its own window: --duration does not apply to it.
                    self.duration = window.as_secs_f64();
                }
                self.trace = trace_requests.map(|(format, requests, _)| TraceInfo {
                    format,
                    speed: *speed,
                    requests,
                });
                self.qps_levels.clear();
            }
        }
        self.sessions = cfg
            .workload
            .sessions
            .map(|think_time_s| SessionsInfo { think_time_s });
        self.tokenizer = tokenizer;
        self.ignore_eos = ignore_eos;
    }
}

/// A workload setting as metadata.json keeps it.
fn as_json<T: Serialize>(v: &T) -> Option<serde_json::Value> {
    serde_json::to_value(v).ok()
}

/// An OpenAI function tool's name (`function.name`, or `name` in the flattened shape).
fn tool_name(t: &serde_json::Value) -> String {
    t["function"]["name"]
        .as_str()
        .or(t["name"].as_str())
        .unwrap_or("?")
        .to_string()
}
