//! The flags of a benchmark run (`redline [FLAGS]`): the reference tool's contract first, then
//! redline's additions in groups (workload, shards, connection, and the groups every command
//! shares from `groups.rs`). `config/` validates them into a `Config`.

use crate::cli::groups::{LevelArgs, PlotArgs, PolicyArgs, PricingArgs};
use crate::cli::values::{
    defaults, trimmed, Api, Arrival, DatasetFormat, IgnoreEos, QpsArg, SampleOrder,
};
use clap::Args;
use std::path::PathBuf;

/// The benchmark's flags. The first block is the reference tool's contract.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct BenchArgs {
    /// Chat completions URL, or a base URL (`http://host:8000`, `.../v1`) to which the path is added.
    #[arg(long, required = true)]
    pub endpoint: Option<String>,
    /// The API: chat (`/v1/chat/completions`) or completions (`/v1/completions`, the conversation
    /// sent as one prompt text).
    #[arg(long, value_enum, default_value_t = Api::Chat)]
    pub api: Api,
    /// Bearer token for the endpoint. Falls back to OPENAI_API_KEY; with neither, no Authorization header.
    #[arg(long)]
    pub api_key: Option<String>,
    /// Read the bearer token from this environment variable instead (keeps it out of shell history).
    #[arg(long, conflicts_with = "api_key")]
    pub api_key_env: Option<String>,
    /// Model name sent in every request.
    #[arg(long, required = true)]
    pub model: Option<String>,
    /// Dataset: the reference format, ShareGPT, OpenAI chat JSONL or prompts (a JSON array, JSON
    /// Lines, or a text file with one prompt per line).
    #[arg(long, required_unless_present_any = ["synthetic", "trace"])]
    pub dataset: Option<PathBuf>,
    /// The dataset's format (default: what its first sample shows).
    #[arg(long, value_enum, default_value_t = DatasetFormat::Auto)]
    pub dataset_format: DatasetFormat,
    /// Send only the first N samples (after --shuffle).
    #[arg(long, value_name = "N")]
    pub max_samples: Option<usize>,
    /// Shuffle the samples (seeded by --seed) before taking them.
    #[arg(long)]
    pub shuffle: bool,
    /// Target QPS levels, comma separated (fractions allowed: 0.1), or `auto` to search for the
    /// highest rate that meets the objectives (see --qps-start, --qps-tolerance, --search-budget)
    /// [default: 1,5,10,20].
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub qps: Option<Vec<QpsArg>>,
    /// Closed-loop levels instead of rates: N requests in flight at once, each sent when the
    /// previous one ended (comma separated, e.g. 1,8,32,64).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "N,...",
        allow_negative_numbers = true,
        value_parser = in_flight
    )]
    pub concurrency: Option<Vec<usize>>,
    /// With --qps auto: the first rate probed [default: 1].
    #[arg(long, allow_negative_numbers = true)]
    pub qps_start: Option<f64>,
    /// With --qps auto: stop when the last PASS and the first FAIL are within this many percent
    /// [default: 5].
    #[arg(long, allow_negative_numbers = true)]
    pub qps_tolerance: Option<f64>,
    /// With --qps auto: once the bracket is within --qps-tolerance, probe past capacity until the
    /// capacity's 95% interval is no wider than this many percent of it [default: 5].
    #[arg(long, value_name = "PERCENT", allow_negative_numbers = true)]
    pub capacity_precision: Option<f64>,
    /// Early stop past saturation, and repeated levels.
    #[command(flatten)]
    pub levels: LevelArgs,
    /// With --qps auto: seconds of endpoint time the whole search may use (default: no limit).
    #[arg(long, allow_negative_numbers = true)]
    pub search_budget: Option<f64>,
    /// With --qps auto: the shortest growth probe, seconds (growth probes run a third of
    /// --duration, at least this, at most --duration) [default: 5]. Any probe runs long enough
    /// to schedule 10 requests, longer than --duration at rates below 10/--duration.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub min_probe_duration: Option<f64>,
    /// Seconds of sending per level [default: 60] (a --trace replays its own window).
    #[arg(long, allow_negative_numbers = true)]
    pub duration: Option<f64>,
    /// Percentiles shown in the table (the JSON always has p50, p90, p95, p99 too).
    #[arg(
        long,
        value_delimiter = ',',
        default_values_t = defaults::PERCENTILES,
        allow_negative_numbers = true,
        value_parser = trimmed::<f64>
    )]
    pub percentiles: Vec<f64>,
    /// Deprecated: tokens/sec is always shown.
    #[arg(long)]
    pub show_tokens: bool,
    /// max_tokens of every request [default: 512] (--synthetic and --trace requests carry their
    /// own reply lengths).
    #[arg(long, allow_negative_numbers = true, value_parser = tokens)]
    pub max_tokens: Option<u32>,
    /// temperature of every request [default: 0.7], or `none` to send none (reasoning models
    /// behind the Responses API refuse one).
    #[arg(long, allow_negative_numbers = true, value_parser = temperature)]
    pub temperature: Option<Temperature>,
    #[command(flatten)]
    pub plot: PlotArgs,
    /// Results JSON file name, inside the run's results folder.
    #[arg(long, default_value = defaults::OUTPUT)]
    pub output: String,
    /// Chart file name, inside the run's results folder.
    #[arg(long, default_value = defaults::PLOT_OUTPUT)]
    pub plot_output: String,
    #[command(flatten)]
    pub pricing: PricingArgs,

    /// Folder under which each run's timestamped folder is created.
    #[arg(long, default_value = defaults::RESULTS_DIR)]
    pub results_dir: PathBuf,
    /// Per-request timeout in seconds, from the send to the end of the stream.
    #[arg(long, default_value_t = defaults::TIMEOUT_S, allow_negative_numbers = true)]
    pub timeout: f64,
    /// Fail a request with "TTFT timeout" when no output token arrives within this many seconds.
    #[arg(long, allow_negative_numbers = true)]
    pub ttft_timeout: Option<f64>,
    /// Arrival process within a level.
    #[arg(long, value_enum, default_value_t = Arrival::Constant)]
    pub arrival: Arrival,
    /// With --arrival gamma: the gaps' shape (1 = Poisson, below 1 burstier; vLLM's definition).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub burstiness: f64,
    /// Seconds over which each level's rate rises linearly from 0 to its target; excluded from
    /// the judgement of whether the endpoint kept up.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub ramp_up: Option<f64>,
    /// Seed for the Poisson arrivals (random and recorded in metadata.json when not given).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Client-side cap on requests in flight; an arrival over it is recorded as a failed request
    /// ("Client concurrency limit"), never dropped.
    #[arg(long)]
    pub max_concurrency: Option<usize>,
    /// JSON object merged into every request body, e.g. '{"ignore_eos":true}'.
    #[arg(long)]
    pub extra_body: Option<String>,
    /// Tools offered in every request: a JSON file of OpenAI function tools,
    /// [{"type":"function","function":{"name":...,"description":...,"parameters":{...}}}], sent in
    /// each API's shape; a tool call streamed back counts as output (TTFT, ITL, tokens) and its
    /// first token's time is recorded.
    #[arg(long, value_name = "FILE")]
    pub tools: Option<std::path::PathBuf>,
    /// LoRA adapters on the endpoint's base model: each request (each session, for all its turns)
    /// names one of them as its model, and every figure is also given per adapter.
    #[arg(long, value_name = "NAME,...")]
    pub lora: Option<String>,
    /// How requests get their --lora adapter: round-robin, random (from --seed), or
    /// weights=NAME:W,... [default: round-robin].
    #[arg(long, value_name = "HOW")]
    pub lora_assignment: Option<String>,
    /// With --tools and --sessions: the result sent back for a tool call (a tool's own "result"
    /// in the --tools file comes first) [default: {"ok":true}].
    #[arg(long, value_name = "TEXT")]
    pub tool_result: Option<String>,
    /// With --tools and --sessions: the most requests a user turn sends after its first, each with
    /// the previous calls' results, before the session goes on to its next turn [default: 3].
    #[arg(long, value_name = "N")]
    pub tool_rounds: Option<u32>,
    /// With --api embeddings: inputs per request (the sample's text and the next ones'); with
    /// --api rerank: documents per query (the next samples' texts).
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,
    /// Do not send stream_options (for servers that reject it); tokens then come from chunk counts.
    #[arg(long)]
    pub no_stream_usage: bool,
    /// The endpoint's Prometheus metrics page (vLLM and SGLang serve it at /metrics of the same
    /// host, llama.cpp's server with --metrics), scraped once a second during every level: the
    /// server's queue, KV cache, preemptions, tokens/s and TTFT are reported with each level.
    #[arg(long, value_name = "URL")]
    pub metrics_url: Option<String>,
    /// Skip the request that checks, before the first level, that the endpoint answers this
    /// model (a wrong key, path, model name or address otherwise stops the run at once).
    #[arg(long)]
    pub no_preflight: bool,
    /// Show each latency percentile in the table with its 95% interval (`0.135±0.004`); the JSON
    /// always has them (`p50_ci`).
    #[arg(long)]
    pub show_ci: bool,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    #[command(flatten)]
    pub shard: ShardArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// What is sent besides a dataset: synthetic prompts, a trace, multi-turn sessions.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct WorkloadArgs {
    /// Synthetic prompts of exact lengths instead of a dataset, e.g. "input=1024,output=128"
    /// (also input_std=, output_std= for normal spreads, prefix=N for a shared prompt prefix,
    /// prefixes=K distinct prefixes, turns=T with --sessions). Lengths are in the model's tokens
    /// with --tokenizer, else approximate.
    #[arg(long, value_name = "SPEC", conflicts_with_all = ["dataset", "trace"])]
    pub synthetic: Option<String>,
    /// Images in every request's first user message, generated once before the run
    /// ("count=1,size=1024x1024", also format=jpeg|png and pool=K distinct images) or read from a
    /// folder ("dir=PATH,count=N"); sent as base64 data URIs in each API's shape, or with send=url
    /// served by redline on 127.0.0.1 for the endpoint to fetch.
    #[arg(long, value_name = "SPEC", conflicts_with = "trace")]
    pub images: Option<String>,
    /// Audio clips in every request's first user message (chat's input_audio parts, WAV),
    /// generated once before the run: "count=1,seconds=5" (also seconds=2|10, kind=tone|noise,
    /// pool=K).
    #[arg(long, value_name = "SPEC", conflicts_with = "trace")]
    pub audio: Option<String>,
    /// The model's tokenizer.json (Hugging Face format), to build --synthetic and --trace
    /// prompts of exact token lengths and to count each level's first replies against their bill
    /// (the token check). Read from disk; nothing is downloaded.
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    /// Send each conversation as a user session: its turns one after another, each with the
    /// real replies so far in its history. Sessions start at the level's rate.
    #[arg(long)]
    pub sessions: bool,
    /// With --sessions: seconds between a reply's end and the session's next turn [default: 0].
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub think_time: Option<f64>,
    /// Replay a request trace on its own timestamps as one level: Mooncake JSONL (timestamp ms,
    /// input_length, output_length, hash_ids) or CSV (timestamp, input tokens, output tokens).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["dataset", "qps", "concurrency"])]
    pub trace: Option<PathBuf>,
    /// With --trace: replay this many times faster (2 = twice the rate).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub trace_speed: f64,
    /// Send "ignore_eos": true so replies run to max_tokens: auto (with --synthetic or --trace,
    /// when the endpoint says it is vLLM, SGLang, llama.cpp or redline's simulator), on, off.
    #[arg(long, value_enum, default_value_t = IgnoreEos::Auto)]
    pub ignore_eos: IgnoreEos,
    /// Which samples each level sends: spread (every level's mix represents the dataset: whole
    /// passes over it, the rest stratified by length, in a seeded order) or cycle (the reference
    /// tool's: request i sends sample i mod n) [default: spread].
    #[arg(long, value_enum, value_name = "ORDER")]
    pub sample_order: Option<SampleOrder>,
}

/// One `--concurrency` level: a whole number of requests in flight, named when it is not.
fn in_flight(s: &str) -> Result<usize, String> {
    s.trim().parse().map_err(|_| {
        format!(
            "--concurrency {}: give whole numbers of requests in flight, e.g. --concurrency 1,8,32",
            s.trim()
        )
    })
}

/// `--temperature`: a number of 0 or more, or `none` to leave it out of every request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Temperature(pub Option<f64>);

fn temperature(s: &str) -> Result<Temperature, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("none") {
        return Ok(Temperature(None));
    }
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() && t >= 0.0 => Ok(Temperature(Some(t))),
        _ => Err(format!(
            "--temperature {s}: give a number of 0 or more (e.g. 0.7), or none to send no temperature"
        )),
    }
}

/// `--max-tokens`: a whole number of tokens, named when it is not.
fn tokens(s: &str) -> Result<u32, String> {
    s.trim().parse().map_err(|_| {
        format!(
            "--max-tokens {}: give a whole number of tokens above 0, e.g. --max-tokens 512",
            s.trim()
        )
    })
}

impl Default for WorkloadArgs {
    fn default() -> Self {
        WorkloadArgs {
            synthetic: None,
            tokenizer: None,
            sessions: false,
            think_time: None,
            trace: None,
            trace_speed: 1.0,
            ignore_eos: IgnoreEos::Auto,
            sample_order: None,
            images: None,
            audio: None,
        }
    }
}

/// Running one plan on many machines: this process's slice and the common start.
#[derive(Debug, Clone, Default, PartialEq, Args)]
pub struct ShardArgs {
    /// Run shard I of N of the plan ("0/3"): every Nth arrival (sessions by session, trace
    /// requests by request; --concurrency splits its workers the same way), so the shards
    /// together send exactly the single-process schedule. Needs --seed and a common start.
    /// `redline merge` joins the shards' folders.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// The number of shards, with this process's index from $JOB_COMPLETION_INDEX (which a
    /// Kubernetes Indexed Job sets in each pod): `--shards 3` there is `--shard $JOB_COMPLETION_INDEX/3`.
    #[arg(long, value_name = "N", conflicts_with = "shard")]
    pub shards: Option<usize>,
    /// This process's index for --shards (an Indexed Job sets it).
    #[arg(long, env = "JOB_COMPLETION_INDEX", hide = true)]
    pub job_completion_index: Option<String>,
    /// Wait until this time (RFC 3339, e.g. 2026-12-01T12:00:00Z) before the first level: the
    /// common start of every shard.
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
    /// Start this many seconds after --created-at (the Job's creation time, passed in by the
    /// manifest), instead of --start-at.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub start_after: Option<f64>,
    /// The time --start-after counts from (RFC 3339).
    #[arg(long, value_name = "TIME", env = "REDLINE_CREATED_AT")]
    pub created_at: Option<String>,
    /// With a common start: seconds between a level's send window and the next level's start, so
    /// every shard starts each level together [default: --timeout, a level's longest drain].
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub level_gap: Option<f64>,
}

/// How requests reach the endpoint: HTTP version, TLS trust, headers, proxy.
#[derive(Debug, Clone, Default, PartialEq, Args)]
pub struct ConnectionArgs {
    /// Use HTTP/2 (https only), with a pool of connections sized from each one's stream limit.
    /// Default: HTTP/1.1, one connection per request in flight.
    #[arg(long)]
    pub http2: bool,
    /// Also trust the CA certificates in this PEM file (besides the bundled roots and the system
    /// store, which SSL_CERT_FILE and SSL_CERT_DIR replace).
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Do not verify the endpoint's certificate (warned in the console and recorded in
    /// metadata.json).
    #[arg(long)]
    pub insecure: bool,
    /// Client certificate (PEM) for mutual TLS, with --key.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// A header sent with every request, "Name: value" (repeatable). Its value is never written
    /// to a file or the console.
    #[arg(
        long = "header",
        short = 'H',
        value_name = "NAME: VALUE",
        allow_hyphen_values = true
    )]
    pub headers: Vec<String>,
    /// A header whose value comes from an environment variable, "Name: VAR" (repeatable), e.g.
    /// "api-key: AZURE_OPENAI_KEY".
    #[arg(long = "header-env", value_name = "NAME: VAR")]
    pub header_envs: Vec<String>,
    /// Send requests through this HTTP(S) proxy. Default: https_proxy / HTTPS_PROXY / http_proxy
    /// / ALL_PROXY, unless NO_PROXY names the host.
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
}

impl BenchArgs {
    /// `--duration`, or its default.
    pub fn duration_s(&self) -> f64 {
        self.duration.unwrap_or(defaults::DURATION_S)
    }

    /// `--max-tokens`, or its default.
    pub fn max_tokens(&self) -> u32 {
        self.max_tokens.unwrap_or(defaults::MAX_TOKENS)
    }

    /// The flags of `redline --endpoint E --model M --dataset D` with every other flag at its
    /// default: how a command builds a benchmark configuration from typed values.
    pub fn new(endpoint: &str, model: &str, dataset: PathBuf) -> Self {
        BenchArgs {
            endpoint: Some(endpoint.to_string()),
            api: Api::Chat,
            api_key: None,
            api_key_env: None,
            model: Some(model.to_string()),
            dataset: Some(dataset),
            dataset_format: DatasetFormat::Auto,
            max_samples: None,
            shuffle: false,
            qps: None,
            concurrency: None,
            qps_start: None,
            qps_tolerance: None,
            capacity_precision: None,
            levels: LevelArgs::default(),
            search_budget: None,
            min_probe_duration: None,
            duration: None,
            percentiles: defaults::PERCENTILES.to_vec(),
            show_tokens: false,
            max_tokens: None,
            temperature: None,
            plot: PlotArgs::default(),
            output: defaults::OUTPUT.into(),
            plot_output: defaults::PLOT_OUTPUT.into(),
            pricing: PricingArgs::default(),
            results_dir: defaults::RESULTS_DIR.into(),
            timeout: defaults::TIMEOUT_S,
            ttft_timeout: None,
            arrival: Arrival::Constant,
            burstiness: 1.0,
            ramp_up: None,
            seed: None,
            max_concurrency: None,
            extra_body: None,
            tools: None,
            tool_result: None,
            lora: None,
            lora_assignment: None,
            tool_rounds: None,
            batch_size: None,
            no_stream_usage: false,
            metrics_url: None,
            no_preflight: false,
            show_ci: false,
            workload: WorkloadArgs::default(),
            shard: ShardArgs::default(),
            connection: ConnectionArgs::default(),
            policy: PolicyArgs::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    #[test]
    fn typed_defaults_are_the_flags_defaults() {
        let parsed = Cli::try_parse_from([
            "redline",
            "--endpoint",
            "http://h",
            "--model",
            "m",
            "--dataset",
            "d.json",
        ])
        .unwrap()
        .bench;
        let typed = BenchArgs::new("http://h", "m", "d.json".into());
        assert_eq!(parsed, typed);
    }
}
