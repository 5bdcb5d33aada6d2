//! The flags of `redline report`, `demo`, `calibrate`, `compare` and `merge`; the groups they share
//! with a run (policy, pricing, the chart) are flattened from `groups.rs`.

use crate::cli::groups::{LevelArgs, PlotArgs, PolicyArgs, PricingArgs};
use crate::cli::sim::SimModelArgs;
use crate::cli::values::{defaults, trimmed, QpsArg};
use clap::Args;
use std::path::PathBuf;

/// `redline report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// A run's results folder (results/<timestamp>).
    pub dir: PathBuf,
    /// Percentiles for the table (default: the run's).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true, value_parser = trimmed::<f64>)]
    pub percentiles: Option<Vec<f64>>,
    /// GPU pricing (default: the run's).
    #[command(flatten)]
    pub pricing: PricingArgs,
    /// Draw the chart (a plain report redraws the charts the folder holds).
    #[command(flatten)]
    pub plot: PlotArgs,
    /// Results JSON file name written in the folder (default: the run's --output).
    #[arg(long)]
    pub output: Option<String>,
    /// Chart file name (default: the run's --plot-output; with another --output, that name with
    /// the chart's extension, so the run's chart is never redrawn from other results).
    #[arg(long)]
    pub plot_output: Option<String>,
    /// Show each latency percentile in the table with its 95% interval (`0.135±0.004`).
    #[arg(long)]
    pub show_ci: bool,
    /// Rebuild even though requests.jsonl holds fewer records than the run measured (a file cut
    /// short or emptied): the results go to --output, which must name another file than the
    /// run's, and metadata.json records the levels' kept and measured records. Such levels are
    /// shown but never judged: no capacity rests on them.
    #[arg(long)]
    pub from_partial_records: bool,
    /// Verdict thresholds, headroom, latency objectives and capacity plan (defaults: the run's).
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// `redline demo`: a short sweep of the built-in endpoint.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// QPS levels, or `auto` to search for the capacity.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "5,10,20,30,40,50,60",
        allow_negative_numbers = true
    )]
    pub qps: Vec<QpsArg>,
    /// Seconds per level.
    #[arg(long, default_value_t = 5.0, allow_negative_numbers = true)]
    pub duration: f64,
    /// max_tokens of every request.
    #[arg(long, default_value_t = defaults::MAX_TOKENS)]
    pub max_tokens: u32,
    /// Dataset (default: the bundled data/conversations.json).
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// Folder for the results.
    #[arg(long, default_value = defaults::RESULTS_DIR)]
    pub results_dir: PathBuf,
    #[command(flatten)]
    pub plot: PlotArgs,
    #[command(flatten)]
    pub pricing: PricingArgs,
    /// Verdict thresholds, objectives (--slo), headroom and capacity plan.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Early stop past saturation, and repeated levels.
    #[command(flatten)]
    pub levels: LevelArgs,
    /// With --qps auto: the capacity interval's width to reach, percent [default: 5].
    #[arg(long, value_name = "PERCENT", allow_negative_numbers = true)]
    pub capacity_precision: Option<f64>,
    /// Add each figure's 95% interval to the console table.
    #[arg(long)]
    pub show_ci: bool,
    /// Simulated endpoint settings.
    #[command(flatten)]
    pub sim: SimModelArgs,
}

/// `redline calibrate`.
#[derive(Debug, Clone, Args)]
pub struct CalibrateArgs {
    /// Rates to try, requests per second.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "250,500,1000,2000,3000",
        value_parser = trimmed::<f64>
    )]
    pub rates: Vec<f64>,
    /// Seconds per rate.
    #[arg(long, default_value_t = 3.0)]
    pub duration: f64,
    /// Measure against this endpoint instead of the built-in simulator (its true TTFT is then
    /// unknown, so only rate and lag are judged).
    #[arg(long)]
    pub endpoint: Option<String>,
    /// The simulator's time to first token, ms.
    #[arg(long, default_value_t = 50.0)]
    pub ttft_ms: f64,
    /// The simulator's time between tokens, ms.
    #[arg(long, default_value_t = 10.0)]
    pub itl_ms: f64,
    /// Tokens per reply.
    #[arg(long, default_value_t = 64)]
    pub output_tokens: u32,
    /// Do not save the result as this machine's ceiling.
    #[arg(long)]
    pub no_save: bool,
}

/// `redline compare`.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Results folders (results/<timestamp>); the first is the baseline the others are measured
    /// against.
    #[arg(required = true, num_args = 2..)]
    pub dirs: Vec<PathBuf>,
    /// How to print the comparison.
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    pub format: CompareFormat,
    /// Draw the runs overlaid (success, TTFT p95, E2E p95, throughput) to --plot-output.
    #[command(flatten)]
    pub plot: PlotArgs,
    /// The overlay chart's file (the HTML report is its name with .html).
    #[arg(long, default_value = "compare.png")]
    pub plot_output: PathBuf,
    /// Exit with status 3 when a later run is worse than the baseline by more than this, e.g.
    /// 10% (in the metrics of --metrics), for use in CI pipelines.
    #[arg(long, value_name = "PERCENT")]
    pub fail_on_regression: Option<String>,
    /// With --fail-on-regression: count every change beyond the threshold, even one the records
    /// show to be within noise (by default only significant regressions count).
    #[arg(long, requires = "fail_on_regression")]
    pub fail_on_regression_any: bool,
    /// The metrics --fail-on-regression checks, comma separated: max_qps, max_concurrency, capacity_qps,
    /// saturation_qps, recommended_qps, cost_at_recommended, success, ttft_pNN, e2e_pNN,
    /// tokens_per_sec_p50, throughput, output_throughput, goodput, cost
    /// [default: max_qps,success,ttft_p95,e2e_p95,throughput].
    #[arg(long, value_delimiter = ',')]
    pub metrics: Option<Vec<String>>,
}

/// `redline compare --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompareFormat {
    Table,
    Markdown,
    Csv,
    Json,
}

/// `redline merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The shards' results folders (runs made with --shard I/N of one plan).
    #[arg(required = true, num_args = 1..)]
    pub dirs: Vec<PathBuf>,
    /// Write the merged folder here (default: a new timestamped folder in --results-dir).
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Folder in which the merged folder is created when --output-dir is not given.
    #[arg(long, default_value = defaults::RESULTS_DIR)]
    pub results_dir: PathBuf,
    /// Merge even when shards are missing (the levels then offered that share of the plan's
    /// rate, and the summary says so).
    #[arg(long)]
    pub allow_missing: bool,
    /// Draw the merged run's chart.
    #[command(flatten)]
    pub plot: PlotArgs,
}
