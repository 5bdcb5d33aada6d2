//! Flag groups that several commands share, declared once and flattened into each
//! (`#[command(flatten)]`): the verdict policy, pricing, and the chart.

use crate::cli::values::{PlotFormat, RepeatOrder, VerdictWindow};
use clap::Args;

/// How levels are judged and what is recommended; shared by a run (where an absent flag takes the
/// reference default) and `redline report` (where it takes the run's value).
#[derive(Debug, Clone, Default, PartialEq, Args)]
pub struct PolicyArgs {
    /// Success percentage at or above which a level PASSes (a run: 99; redline report: the run's).
    #[arg(long, allow_negative_numbers = true)]
    pub pass_threshold: Option<f64>,
    /// Success percentage at or above which a level that does not pass is WARN, else FAIL (a run:
    /// 90; redline report: the run's).
    #[arg(long, allow_negative_numbers = true)]
    pub warn_threshold: Option<f64>,
    /// Percent of the maximum sustainable QPS kept free: recommended limit = max x (1 - headroom/100)
    /// (a run: 25; redline report: the run's).
    #[arg(long, allow_negative_numbers = true)]
    pub headroom: Option<f64>,
    /// Tokens (input + output) to serve per day, for a capacity plan: 100M, 2.5B, 500000.
    #[arg(long, allow_hyphen_values = true)]
    pub daily_tokens: Option<String>,
    /// Service-level objectives a level must meet to PASS, besides keeping up, e.g.
    /// "success>=99,ttft_p95<=0.5,e2e_p99<=10,tpot_p50<=0.05,tokens_per_sec_p50>=20". Adds the
    /// share of requests that met them all and goodput to every level.
    #[arg(long, value_name = "OBJECTIVES")]
    pub slo: Option<String>,
    /// Latency objective: a level whose TTFT p95 exceeds this many seconds FAILs (= ttft_p95<=X).
    #[arg(long, allow_negative_numbers = true)]
    pub max_ttft_p95: Option<f64>,
    /// Latency objective: a level whose end-to-end p95 exceeds this many seconds FAILs (= e2e_p95<=X).
    #[arg(long, allow_negative_numbers = true)]
    pub max_e2e_p95: Option<f64>,
    /// Judge each level on its whole window (the reference tool's verdict) or on its steady window,
    /// warm-up and drain left out [default: whole; redline report: the run's].
    #[arg(long, value_enum, value_name = "WINDOW")]
    pub verdict_window: Option<VerdictWindow>,
}

/// GPU pricing, for cost per million tokens: a run's, `redline demo`'s, and `redline report`'s
/// (which keeps the run's where absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Args)]
pub struct PricingArgs {
    /// GPU cost per hour in dollars (with --num-gpus: cost per million tokens).
    #[arg(long, allow_negative_numbers = true)]
    pub gpu_rate: Option<f64>,
    /// Number of GPUs serving the endpoint (with --gpu-rate).
    #[arg(long)]
    pub num_gpus: Option<u32>,
}

/// Whether to draw the chart, and in which format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Args)]
pub struct PlotArgs {
    /// Draw the chart.
    #[arg(long)]
    pub plot: bool,
    /// The chart's format: png, svg (for reports and wikis) or both; implies --plot.
    #[arg(long, value_enum)]
    pub plot_format: Option<PlotFormat>,
    /// Write the self-contained HTML report (the chart's name with .html: interactive charts,
    /// the verdicts and the table; opens offline). --plot writes it too.
    #[arg(long)]
    pub html: bool,
}

impl PlotArgs {
    /// Whether a chart was asked for (`--plot`, or a format).
    pub fn wanted(&self) -> bool {
        self.plot || self.plot_format.is_some()
    }

    /// Whether the HTML report was asked for (`--html`, or a chart).
    pub fn html_wanted(&self) -> bool {
        self.html || self.wanted()
    }
}

/// How each level runs: stopped early past saturation, and repeated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Args)]
pub struct LevelArgs {
    /// Stop a level's sending as soon as it certainly cannot pass (overload errors past the FAIL
    /// threshold, or a queue still growing), then wait for its requests in flight; the level is
    /// FAIL with the cause. On by default for --qps auto (but never for its probes past capacity,
    /// which measure the service rate); off by default for fixed --qps levels, as the reference
    /// tool runs every level in full.
    #[arg(long, overrides_with = "no_stop_on_saturation")]
    pub stop_on_saturation: bool,
    /// Run every level in full, even past saturation (the default for fixed --qps levels).
    #[arg(long, overrides_with = "stop_on_saturation")]
    pub no_stop_on_saturation: bool,
    /// Run every level (every probe of --qps auto) N times; each level's figures become the mean
    /// over its repetitions with a 95% Student t interval, each repetition kept [default: 1].
    #[arg(long, value_name = "N")]
    pub repeat: Option<usize>,
    /// The order of repeated levels: interleaved (10,20,30,10,20,30, so drift hits all levels
    /// alike) or grouped (10,10,20,20,30,30) [default: interleaved; a search's probes repeat
    /// back to back].
    #[arg(long, value_enum, value_name = "ORDER")]
    pub repeat_order: Option<RepeatOrder>,
}
