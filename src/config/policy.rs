//! The typed settings the later stages share: GPU [`Pricing`], the verdict [`Policy`] (thresholds,
//! headroom, objectives) and the [`ReportOptions`] that `analyze/` summarises with. A run builds
//! them from its flags (`config/mod.rs`), `redline report` and `redline merge` from a results
//! folder's metadata (`output/metadata`), so both judge with the same types.

use crate::cli::defaults;
use crate::config::kind::Levels;
use crate::config::slo::{Metric, Objective, Objectives};

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
    /// `--verdict-window steady`: levels are judged on their steady window.
    pub steady_verdict: bool,
}

impl Policy {
    /// The objective on `metric` at percentile `p`, if any.
    pub fn objective(&self, metric: Metric, p: f64) -> Option<&Objective> {
        self.objectives
            .iter()
            .find(|o| o.metric == metric && o.percentile == Some(p))
    }

    /// Every objective, success first, as `--slo` takes them; `None` without objectives besides
    /// success (a plain run's policy).
    pub fn objectives_with_success(&self) -> Option<Objectives> {
        let success = Objective {
            metric: Metric::Success,
            percentile: None,
            bound: self.pass_pct,
        };
        (!self.objectives.is_empty())
            .then(|| Objectives([&[success][..], &self.objectives].concat()))
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
            steady_verdict: false,
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
    /// The run's kind: how its levels were chosen (a search's plan, a closed loop, a trace).
    pub levels: Levels,
    /// Seconds of each level's ramp-up, left out of the keeping-up judgement.
    pub ramp_up_s: f64,
    /// `--show-ci`: the console's table gives each percentile's interval.
    pub show_ci: bool,
    /// `--repeat`: each level's repetitions are combined into one.
    pub repeat: Option<crate::config::kind::Repeat>,
}

impl Default for ReportOptions {
    /// The reference defaults: percentiles 50, 95, 99; no pricing, objectives or search.
    fn default() -> Self {
        ReportOptions {
            percentiles: defaults::PERCENTILES.to_vec(),
            pricing: None,
            policy: Policy::default(),
            daily_tokens: None,
            levels: Levels::Rates(Vec::new()),
            ramp_up_s: 0.0,
            show_ci: false,
            repeat: None,
        }
    }
}
