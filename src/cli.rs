//! Command-line flags (clap derive). The benchmark flags keep the reference tool's names and
//! defaults; `config.rs` validates them into a `Config` before any work starts.
//!
//! `redline [FLAGS]` runs a benchmark; `redline sim` serves the built-in endpoint; `redline demo`
//! benchmarks the built-in endpoint in-process with the bundled dataset.

use crate::schedule::Arrival;
use crate::sim::SimArgs;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "redline",
    version,
    about = "Find an LLM endpoint's capacity: fixed-rate QPS levels against an OpenAI-compatible streaming endpoint",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub bench: BenchArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the built-in simulated OpenAI-compatible endpoint.
    Sim(SimArgs),
    /// Start the simulator in-process and benchmark it with the bundled dataset.
    Demo(DemoArgs),
    /// Rebuild the table, JSON and chart of a results folder from its requests.jsonl and
    /// metadata.json, without sending a request (optionally with new percentiles or pricing).
    Report(ReportArgs),
    /// Measure this machine's client ceiling against the built-in simulator: the highest rate at
    /// which redline still sends on time and measures TTFT within 1 ms.
    Calibrate(crate::calibrate::CalibrateArgs),
}

/// `redline report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// A run's results folder (results/<timestamp>).
    pub dir: PathBuf,
    /// Percentiles for the table (default: the run's).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub percentiles: Option<Vec<f64>>,
    /// GPU cost per hour (default: the run's).
    #[arg(long, allow_negative_numbers = true)]
    pub gpu_rate: Option<f64>,
    /// Number of GPUs (default: the run's).
    #[arg(long)]
    pub num_gpus: Option<u32>,
    /// Draw the chart.
    #[arg(long)]
    pub plot: bool,
    /// Results JSON file name written in the folder (default: the run's --output).
    #[arg(long)]
    pub output: Option<String>,
    /// Chart file name (default: the run's --plot-output).
    #[arg(long)]
    pub plot_output: Option<String>,
    /// Verdict thresholds, headroom and capacity plan (defaults: the run's).
    #[arg(long, allow_negative_numbers = true)]
    pub pass_threshold: Option<f64>,
    #[arg(long, allow_negative_numbers = true)]
    pub warn_threshold: Option<f64>,
    #[arg(long, allow_negative_numbers = true)]
    pub headroom: Option<f64>,
    #[arg(long, allow_hyphen_values = true)]
    pub daily_tokens: Option<String>,
    #[arg(long, allow_negative_numbers = true)]
    pub max_ttft_p95: Option<f64>,
    #[arg(long, allow_negative_numbers = true)]
    pub max_e2e_p95: Option<f64>,
}

/// The benchmark's flags. The first block is the reference tool's contract.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Chat completions URL, or a base URL (`http://host:8000`, `.../v1`) to which the path is added.
    #[arg(long, required = true)]
    pub endpoint: Option<String>,
    /// Bearer token for the endpoint. Falls back to OPENAI_API_KEY; with neither, no Authorization header.
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Read the bearer token from this environment variable instead (keeps it out of shell history).
    #[arg(long, conflicts_with = "api_key")]
    pub api_key_env: Option<String>,
    /// Model name sent in every request.
    #[arg(long, required = true)]
    pub model: Option<String>,
    /// Conversations dataset: a JSON array of samples, or JSON Lines.
    #[arg(long, required = true)]
    pub dataset: Option<PathBuf>,
    /// Target QPS levels, comma separated (fractions allowed: 0.1).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,5,10,20",
        allow_negative_numbers = true
    )]
    pub qps: Vec<f64>,
    /// Seconds of sending per level.
    #[arg(long, default_value_t = 60.0, allow_negative_numbers = true)]
    pub duration: f64,
    /// Percentiles shown in the table (the JSON always has p50, p90, p95, p99 too).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "50,95,99",
        allow_negative_numbers = true
    )]
    pub percentiles: Vec<f64>,
    /// Deprecated: tokens/sec is always shown.
    #[arg(long)]
    pub show_tokens: bool,
    /// max_tokens of every request.
    #[arg(long, default_value_t = 512)]
    pub max_tokens: u32,
    /// temperature of every request.
    #[arg(long, default_value_t = 0.7, allow_negative_numbers = true)]
    pub temperature: f64,
    /// Draw the results chart.
    #[arg(long)]
    pub plot: bool,
    /// Results JSON file name, inside the run's results folder.
    #[arg(long, default_value = "benchmark_qps_results.json")]
    pub output: String,
    /// Chart file name, inside the run's results folder.
    #[arg(long, default_value = "benchmark_qps.png")]
    pub plot_output: String,
    /// GPU cost per hour in dollars (with --num-gpus: cost per million tokens).
    #[arg(long, allow_negative_numbers = true)]
    pub gpu_rate: Option<f64>,
    /// Number of GPUs serving the endpoint (with --gpu-rate).
    #[arg(long)]
    pub num_gpus: Option<u32>,

    /// Folder under which each run's timestamped folder is created.
    #[arg(long, default_value = "results")]
    pub results_dir: PathBuf,
    /// Per-request timeout in seconds, from the send to the end of the stream.
    #[arg(long, default_value_t = 120.0, allow_negative_numbers = true)]
    pub timeout: f64,
    /// Fail a request with "TTFT timeout" when no output token arrives within this many seconds.
    #[arg(long, allow_negative_numbers = true)]
    pub ttft_timeout: Option<f64>,
    /// Arrival process within a level.
    #[arg(long, value_enum, default_value_t = Arrival::Constant)]
    pub arrival: Arrival,
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
    /// Do not send stream_options (for servers that reject it); tokens then come from chunk counts.
    #[arg(long)]
    pub no_stream_usage: bool,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// How levels are judged and what is recommended; shared by a run and `redline report`.
#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    /// Success percentage at or above which a level PASSes.
    #[arg(long, default_value_t = 99.0, allow_negative_numbers = true)]
    pub pass_threshold: f64,
    /// Success percentage at or above which a level that does not pass is WARN (else FAIL).
    #[arg(long, default_value_t = 90.0, allow_negative_numbers = true)]
    pub warn_threshold: f64,
    /// Percent of the maximum sustainable QPS kept free: recommended limit = max x (1 - headroom/100).
    #[arg(long, default_value_t = 25.0, allow_negative_numbers = true)]
    pub headroom: f64,
    /// Tokens (input + output) to serve per day, for a capacity plan: 100M, 2.5B, 500000.
    #[arg(long, allow_hyphen_values = true)]
    pub daily_tokens: Option<String>,
    /// Latency objective: a level whose TTFT p95 exceeds this many seconds FAILs.
    #[arg(long, allow_negative_numbers = true)]
    pub max_ttft_p95: Option<f64>,
    /// Latency objective: a level whose end-to-end p95 exceeds this many seconds FAILs.
    #[arg(long, allow_negative_numbers = true)]
    pub max_e2e_p95: Option<f64>,
}

/// `redline demo`: a short sweep of the built-in endpoint.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// QPS levels.
    #[arg(long, default_value = "5,10,20,30,40,50,60")]
    pub qps: String,
    /// Seconds per level.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// max_tokens of every request.
    #[arg(long, default_value_t = 512)]
    pub max_tokens: u32,
    /// Dataset (default: the bundled data/conversations.json).
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// Folder for the results.
    #[arg(long, default_value = "results")]
    pub results_dir: PathBuf,
    /// Draw the results chart.
    #[arg(long)]
    pub plot: bool,
    /// GPU cost per hour, for cost per million tokens (with --num-gpus).
    #[arg(long)]
    pub gpu_rate: Option<f64>,
    /// Number of GPUs (with --gpu-rate).
    #[arg(long)]
    pub num_gpus: Option<u32>,
    /// Simulated endpoint settings.
    #[command(flatten)]
    pub sim: crate::sim::SimModelArgs,
}
