//! `metadata.json`: the run's settings and the levels run so far, rewritten after every level so
//! `redline report` can rebuild the run. The reference tool's keys, plus what redline adds; never
//! the API key.

use crate::cli::DatasetFormat;
use crate::config::{
    redact_url, slo, AutoQps, Config, Metric, Objective, Policy, Source, SyntheticSpec,
};
use crate::dataset::tokenizer::TokenizerInfo;
use crate::dataset::trace::TraceFormat;
use crate::measure::client::Route;
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
    /// The format the dataset was read as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_format: Option<DatasetFormat>,
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
    /// Every objective, success included, as `--slo` takes them (absent without objectives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<String>,
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
    pub merged: Option<serde_json::Value>,
    /// What each `redline report` that changed a setting changed, oldest first (the settings
    /// above are the current ones, those the results JSON was last written with).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reports: Vec<ReportChange>,
}

/// One `redline report` that rebuilt the results with other settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportChange {
    pub timestamp: String,
    /// The results file it wrote.
    pub output: String,
    /// Each setting it changed: `{"gpu_rate": {"from": 2.3, "to": 3.0}}`.
    pub changed: serde_json::Map<String, serde_json::Value>,
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
            dataset_format: None,
            output: cfg.output.clone(),
            plot_output: cfg.plot_output.clone(),
            pass_threshold: cfg.policy.pass_pct,
            warn_threshold: cfg.policy.warn_pct,
            headroom: cfg.policy.headroom_pct,
            daily_tokens: cfg.daily_tokens,
            max_ttft_p95: cfg.policy.objective(Metric::Ttft, 95.0).map(|o| o.bound),
            max_e2e_p95: cfg.policy.objective(Metric::E2e, 95.0).map(|o| o.bound),
            slo: (!cfg.policy.objectives.is_empty()).then(|| cfg.policy.slo_text()),
            search: cfg.search,
            concurrency_levels: (!cfg.concurrency.is_empty()).then(|| cfg.concurrency.clone()),
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

/// The settings that shape a plan: two runs are shards of one plan when these are equal. A
/// shard's own levels (`qps_levels`, `concurrency_levels`) are its share and differ by shard; the
/// plan's are `shard.plan_qps_levels` and `shard.plan_concurrency_levels`.
pub const PLAN_SETTINGS: [&str; 31] = [
    "endpoint",
    "model",
    "dataset",
    "dataset_format",
    "dataset_samples",
    "synthetic",
    "trace",
    "sessions",
    "tokenizer.sha256",
    "max_tokens",
    "temperature",
    "arrival",
    "burstiness",
    "ramp_up_s",
    "seed",
    "duration",
    "timeout",
    "extra_body",
    "stream_usage",
    "ignore_eos",
    "max_concurrency",
    "start_at",
    "level_gap_s",
    "shard.count",
    "shard.plan_qps_levels",
    "shard.plan_concurrency_levels",
    "api",
    "shuffle",
    "max_samples",
    "ttft_timeout",
    "connection.protocol",
];

impl Metadata {
    /// The plan's settings as JSON, by [`PLAN_SETTINGS`] name.
    pub fn plan(&self) -> Vec<(&'static str, serde_json::Value)> {
        let v = serde_json::to_value(self).unwrap_or_default();
        PLAN_SETTINGS
            .iter()
            .map(|path| (*path, path.split('.').fold(&v, |v, k| &v[k]).clone()))
            .collect()
    }

    /// A short hash of [`Metadata::plan`].
    pub fn plan_id(&self) -> String {
        use sha2::{Digest, Sha256};
        let text = serde_json::to_string(&self.plan()).unwrap_or_default();
        Sha256::digest(text.as_bytes())
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Makes this the metadata of shard `shard` of a plan of `plan_qps` (its `qps_levels`, the
    /// shard's shares, are filled as the levels run).
    pub fn as_shard(&mut self, shard: crate::config::Shard, host: String) {
        let plan_qps_levels = std::mem::take(&mut self.qps_levels);
        let plan_concurrency_levels = self.concurrency_levels.clone();
        // A shard runs worker w of a closed-loop level when w mod N is its index.
        if let Some(levels) = &mut self.concurrency_levels {
            for n in levels.iter_mut() {
                *n = shard.share_of(*n);
            }
        }
        self.shard = Some(ShardInfo {
            index: shard.index,
            count: shard.count,
            plan_id: String::new(),
            plan_qps_levels,
            plan_concurrency_levels,
            host,
            started_at: None,
            first_send_lag_s: None,
        });
        let id = self.plan_id();
        if let Some(s) = &mut self.shard {
            s.plan_id = id;
        }
    }

    /// Notes how the first level started: its wall-clock start (`started_at`, as this machine's
    /// clock tells it) and the lag of its first send.
    pub fn record_start(
        &mut self,
        run: &crate::measure::record::LevelRun,
        started_at: Option<chrono::DateTime<chrono::Utc>>,
    ) {
        let Some(s) = &mut self.shard else { return };
        s.started_at = started_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        s.first_send_lag_s = run
            .records
            .iter()
            .min_by(|a, b| a.planned_s.total_cmp(&b.planned_s))
            .and_then(|r| r.lag_s())
            .map(crate::measure::time::round6);
    }

    /// Takes the settings `redline report` rebuilt the results with, and records what changed
    /// (from what, to what). Returns the changes, empty when none.
    pub fn rereported(
        &mut self,
        opts: &crate::config::ReportOptions,
        output: &str,
        now: chrono::DateTime<chrono::Local>,
    ) -> serde_json::Map<String, serde_json::Value> {
        let p = &opts.policy;
        let slo = (!p.objectives.is_empty()).then(|| p.slo_text());
        let settings = [
            (
                "percentiles",
                serde_json::json!(opts.percentiles),
                serde_json::json!(self.percentiles),
            ),
            (
                "gpu_rate",
                serde_json::json!(opts.pricing.map(|p| p.gpu_rate)),
                serde_json::json!(self.gpu_rate),
            ),
            (
                "num_gpus",
                serde_json::json!(opts.pricing.map(|p| p.num_gpus)),
                serde_json::json!(self.num_gpus),
            ),
            (
                "pass_threshold",
                serde_json::json!(p.pass_pct),
                serde_json::json!(self.pass_threshold),
            ),
            (
                "warn_threshold",
                serde_json::json!(p.warn_pct),
                serde_json::json!(self.warn_threshold),
            ),
            (
                "headroom",
                serde_json::json!(p.headroom_pct),
                serde_json::json!(self.headroom),
            ),
            (
                "daily_tokens",
                serde_json::json!(opts.daily_tokens),
                serde_json::json!(self.daily_tokens),
            ),
            (
                "slo",
                serde_json::json!(slo),
                serde_json::json!(self.policy_slo_text()),
            ),
        ];
        let mut changed = serde_json::Map::new();
        for (name, to, from) in settings {
            if to != from {
                changed.insert(name.into(), serde_json::json!({"from": from, "to": to}));
            }
        }
        if changed.is_empty() {
            return changed;
        }
        self.reports.push(ReportChange {
            timestamp: now.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
            output: output.into(),
            changed: changed.clone(),
        });
        if output == self.output {
            // The run's own results file now holds these settings: so does this file.
            self.percentiles = opts.percentiles.clone();
            self.gpu_rate = opts.pricing.map(|p| p.gpu_rate);
            self.num_gpus = opts.pricing.map(|p| p.num_gpus);
            self.pass_threshold = p.pass_pct;
            self.warn_threshold = p.warn_pct;
            self.headroom = p.headroom_pct;
            self.daily_tokens = opts.daily_tokens;
            self.max_ttft_p95 = p.objective(Metric::Ttft, 95.0).map(|o| o.bound);
            self.max_e2e_p95 = p.objective(Metric::E2e, 95.0).map(|o| o.bound);
            self.slo = slo;
        }
        changed
    }

    /// The run's objectives as `--slo` text (success included), or `None` without any.
    fn policy_slo_text(&self) -> Option<String> {
        let p = self.policy();
        (!p.objectives.is_empty()).then(|| p.slo_text())
    }

    /// The verdict policy the run used: its `slo`, or (before there was one) its latency
    /// objectives.
    pub fn policy(&self) -> Policy {
        let mut objectives: Vec<Objective> = self
            .slo
            .as_deref()
            .and_then(|t| slo::parse(t).ok())
            .unwrap_or_default();
        if self.slo.is_none() {
            for (metric, bound) in [
                (Metric::Ttft, self.max_ttft_p95),
                (Metric::E2e, self.max_e2e_p95),
            ] {
                if let Some(bound) = bound {
                    objectives.push(Objective {
                        metric,
                        percentile: Some(95.0),
                        bound,
                    });
                }
            }
        }
        objectives.retain(|o| o.metric != Metric::Success);
        Policy {
            pass_pct: self.pass_threshold,
            warn_pct: self.warn_threshold,
            headroom_pct: self.headroom,
            objectives,
            ..Policy::default()
        }
    }
}
