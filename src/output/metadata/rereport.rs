//! What a results folder is summarised with, and what a re-report changed: the report settings
//! the run recorded (percentiles, pricing, verdict policy, capacity plan) as [`ReportOptions`],
//! with any a user gives `redline report` instead; and, when those differ from the recorded ones,
//! a typed record of each change under `"reports"`, so the folder never contradicts itself.

use crate::cli::PolicyArgs;
use crate::config::slo::Objective;
use crate::config::{self, Metric, Policy, ReportOptions};
use crate::output::metadata::change::{Change, Changed, LevelRecords, ReportChange};
use crate::output::metadata::schema::Metadata;
use anyhow::Result;

/// `Some(Change)` when `from` and `to` differ.
fn change<T: PartialEq>(from: T, to: T) -> Option<Change<T>> {
    (from != to).then_some(Change { from, to })
}

/// What `redline report` may give instead of the run's own report settings (`None` and the
/// default `PolicyArgs`: the run's).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub percentiles: Option<Vec<f64>>,
    pub gpu_rate: Option<f64>,
    pub num_gpus: Option<u32>,
    pub policy: PolicyArgs,
    /// `--show-ci`.
    pub show_ci: bool,
}

impl Metadata {
    /// The options the run recorded, with `o` given instead, each checked by the run's own
    /// validator.
    pub fn report_options(&self, o: &Overrides) -> Result<ReportOptions> {
        let percentiles = o
            .percentiles
            .clone()
            .unwrap_or_else(|| self.percentiles.clone());
        config::percentiles(&percentiles)?;
        let pricing = config::pricing(o.gpu_rate.or(self.gpu_rate), o.num_gpus.or(self.num_gpus))?;
        let (policy, daily_tokens) = config::policy(&o.policy, &self.policy(), self.daily_tokens)?;
        Ok(ReportOptions {
            percentiles,
            pricing,
            policy,
            daily_tokens,
            levels: self.kind(),
            ramp_up_s: self.ramp_up_s.unwrap_or(0.0),
            show_ci: o.show_ci,
            repeat: self.repeat,
        })
    }

    /// The verdict policy the run used: its `slo`, or (before there was one) its latency
    /// objectives.
    pub fn policy(&self) -> Policy {
        let mut objectives: Vec<Objective> = match &self.slo {
            Some(o) => o.0.clone(),
            None => [
                (Metric::Ttft, self.max_ttft_p95),
                (Metric::E2e, self.max_e2e_p95),
            ]
            .into_iter()
            .filter_map(|(metric, bound)| {
                Some(Objective {
                    metric,
                    percentile: Some(95.0),
                    bound: bound?,
                })
            })
            .collect(),
        };
        objectives.retain(|o| o.metric != Metric::Success);
        Policy {
            pass_pct: self.pass_threshold,
            warn_pct: self.warn_threshold,
            headroom_pct: self.headroom,
            objectives,
            steady_verdict: self.steady_verdict,
            ..Policy::default()
        }
    }

    /// Takes the settings `redline report` rebuilt the results with, and records what changed
    /// (from what, to what), and the levels it rebuilt from fewer records than they measured
    /// (`partial`). Returns the settings' changes, empty when none.
    pub fn rereported(
        &mut self,
        opts: &ReportOptions,
        output: &str,
        partial: Vec<LevelRecords>,
        now: chrono::DateTime<chrono::Local>,
    ) -> Changed {
        let p = &opts.policy;
        let slo = p.objectives_with_success();
        let changed = Changed {
            daily_tokens: change(self.daily_tokens, opts.daily_tokens),
            gpu_rate: change(self.gpu_rate, opts.pricing.map(|p| p.gpu_rate)),
            headroom: change(self.headroom, p.headroom_pct),
            num_gpus: change(self.num_gpus, opts.pricing.map(|p| p.num_gpus)),
            pass_threshold: change(self.pass_threshold, p.pass_pct),
            percentiles: change(self.percentiles.clone(), opts.percentiles.clone()),
            slo: change(self.policy().objectives_with_success(), slo.clone()),
            steady_verdict: change(self.steady_verdict, p.steady_verdict),
            warn_threshold: change(self.warn_threshold, p.warn_pct),
        };
        if changed.is_empty() && partial.is_empty() {
            return changed;
        }
        self.reports.push(ReportChange {
            timestamp: now.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
            output: output.into(),
            changed: changed.clone(),
            partial_records: partial,
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
            self.steady_verdict = p.steady_verdict;
        }
        changed
    }
}
