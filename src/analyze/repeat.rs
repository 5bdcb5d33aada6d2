//! `--repeat N`: a level's repetitions combined into one level of the report. `report.rs` calls
//! [`combine`] on the judged runs (each an ordinary level, in run order); the search reads its
//! probes combined too (`pipeline/plan.rs`).
//!
//! The combined level's headline figures (success, rates, throughput, every percentile) are the
//! means over its repetitions, each with a 95% Student t interval over them in its `_ci` sibling
//! (a percentile's interval is then how much the percentile moves from run to run, not within
//! one). Counts and tokens are the sums of what was measured; `duration_s` sums the endpoint time.
//! The verdict is the worst repetition's (a rate is sustainable only if every run sustained it),
//! with that run's keep-up figures, lag and reason, and says how many repetitions passed. Every
//! repetition's own report is kept in `repetitions`.

use crate::analyze::level::{CostAnalysis, LevelReport};
use crate::analyze::stats::{mean, t_interval, Percentiles};
use crate::analyze::verdict::Verdict;

/// `levels` in run order, each level's repetitions combined, in the order each level first ran.
/// Levels without a repetition number pass through unchanged.
pub fn combine(levels: Vec<LevelReport>) -> Vec<LevelReport> {
    let keyed = levels
        .into_iter()
        .map(|l| (l.repeat.map(|_| (l.rate, l.search_probe)), l));
    gather(keyed)
        .into_iter()
        .map(|g| match g[0].repeat {
            Some(_) => combined(g),
            None => g.into_iter().next().expect("a group has a level"),
        })
        .collect()
}

/// A repeated level's identity: its rate, and its probe in a search.
pub type LevelKey = (f64, Option<usize>);

/// `items` in run order gathered by their level's key, in the order each level first ran; an item
/// without a key (not a repetition) stands alone. `compare` gathers a folder's records the same way.
pub fn gather<T>(items: impl IntoIterator<Item = (Option<LevelKey>, T)>) -> Vec<Vec<T>> {
    let mut keys: Vec<Option<LevelKey>> = Vec::new();
    let mut groups: Vec<Vec<T>> = Vec::new();
    for (key, item) in items {
        match keys.iter().position(|k| key.is_some() && *k == key) {
            Some(g) => groups[g].push(item),
            None => {
                keys.push(key);
                groups.push(vec![item]);
            }
        }
    }
    groups
}

/// How badly a run went, for picking the verdict that speaks for all.
fn badness(l: &LevelReport) -> u8 {
    match (l.partial, l.assessment.trusted, l.assessment.verdict) {
        (true, _, _) => 5,
        (_, false, _) => 4,
        (_, _, Verdict::Fail) => 3,
        (_, _, Verdict::Warn) => 2,
        (_, _, Verdict::Pass) => 1,
    }
}

/// One level from its repetitions.
fn combined(runs: Vec<LevelReport>) -> LevelReport {
    // The worst verdict; among runs of the same verdict, the lowest success, then the latest TTFT
    // highest (the deepest queue).
    let worst = (0..runs.len())
        .max_by(|&a, &b| {
            let (x, y) = (&runs[a], &runs[b]);
            badness(x)
                .cmp(&badness(y))
                .then(y.success_rate.total_cmp(&x.success_rate))
                .then(
                    x.keep_up
                        .ttft_last_s
                        .unwrap_or(0.0)
                        .total_cmp(&y.keep_up.ttft_last_s.unwrap_or(0.0)),
                )
                .then(b.cmp(&a))
        })
        .unwrap_or(0);
    let mut l = runs[worst].clone();
    let each = |f: fn(&LevelReport) -> f64| runs.iter().map(f).collect::<Vec<_>>();
    let avg = |f: fn(&LevelReport) -> f64| mean(&each(f)).unwrap_or(0.0);
    let avg_opt =
        |f: fn(&LevelReport) -> Option<f64>| mean(&runs.iter().filter_map(f).collect::<Vec<_>>());
    let sum = |f: fn(&LevelReport) -> u64| runs.iter().map(f).sum::<u64>();
    l.actual_qps = avg(|r| r.actual_qps);
    l.success_rate = avg(|r| r.success_rate);
    l.endpoint_success_rate = avg(|r| r.endpoint_success_rate);
    l.successful_qps = avg(|r| r.successful_qps);
    l.goodput_qps = avg_opt(|r| r.goodput_qps);
    l.slo_attainment_pct = avg_opt(|r| r.slo_attainment_pct);
    l.output_throughput_tok_s = avg(|r| r.output_throughput_tok_s);
    l.output_throughput_tok_s_ci = t_interval(&each(|r| r.output_throughput_tok_s));
    l.total_throughput_tok_s = avg(|r| r.total_throughput_tok_s);
    l.total_throughput_tok_s_ci = t_interval(&each(|r| r.total_throughput_tok_s));
    let over = |f: fn(&LevelReport) -> &Percentiles| {
        Percentiles::mean_over(&runs.iter().map(f).collect::<Vec<_>>())
    };
    l.ttft = over(|r| &r.ttft);
    l.e2e_latency = over(|r| &r.e2e_latency);
    l.tokens_per_sec = over(|r| &r.tokens_per_sec);
    l.itl_s = over(|r| &r.itl_s);
    l.tpot_s = over(|r| &r.tpot_s);
    l.requests_scheduled = sum(|r| r.requests_scheduled);
    l.requests_sent = sum(|r| r.requests_sent);
    l.requests_succeeded = sum(|r| r.requests_succeeded);
    l.requests_failed = sum(|r| r.requests_failed);
    l.client_side_errors = sum(|r| r.client_side_errors);
    l.endpoint_errors = sum(|r| r.endpoint_errors);
    l.total_input_tokens = sum(|r| r.total_input_tokens);
    l.total_output_tokens = sum(|r| r.total_output_tokens);
    l.requests_without_usage = sum(|r| r.requests_without_usage);
    let reasoning: Vec<u64> = runs.iter().filter_map(|r| r.reasoning_tokens).collect();
    l.reasoning_tokens = (!reasoning.is_empty()).then(|| reasoning.iter().sum());
    let counted: Vec<_> = runs
        .iter()
        .filter_map(|r| r.output_tokens_counted)
        .collect();
    l.output_tokens_counted = crate::analyze::tally::Counted::from_sums(
        counted.iter().map(|c| c.requests).sum(),
        counted.iter().map(|c| c.streamed_text_events).sum(),
        counted.iter().map(|c| c.billed_output_tokens).sum(),
        counted.iter().map(|c| c.mismatched()).sum(),
    );
    let caches: Vec<_> = runs.iter().filter_map(|r| r.prompt_cache).collect();
    l.prompt_cache = crate::analyze::tally::PromptCache::from_sums(
        caches.iter().map(|c| c.cached_tokens).sum(),
        caches.iter().map(|c| c.prompt_tokens).sum(),
        !caches.is_empty(),
    );
    l.duration_s = runs.iter().map(|r| r.duration_s).sum();
    l.errors.clear();
    for r in &runs {
        for (k, v) in &r.errors {
            *l.errors.entry(k.clone()).or_default() += v;
        }
    }
    l.cost_analysis = cost(&runs);
    let passed = runs
        .iter()
        .filter(|r| r.assessment.verdict == Verdict::Pass)
        .count();
    let k = runs[worst].repeat.unwrap_or(1);
    l.assessment.reason.repetitions = Some((passed, runs.len(), k));
    l.repeat = None;
    l.repetitions = Some(runs);
    l
}

/// The repetitions' cost: their tokens summed, their GPU cost summed, so the cost per million
/// is what all of them cost for all they served.
fn cost(runs: &[LevelReport]) -> Option<CostAnalysis> {
    let costs: Vec<&CostAnalysis> = runs
        .iter()
        .filter_map(|r| r.cost_analysis.as_ref())
        .collect();
    if costs.len() != runs.len() {
        return None;
    }
    let input: u64 = costs.iter().map(|c| c.total_input_tokens).sum();
    let output: u64 = costs.iter().map(|c| c.total_output_tokens).sum();
    let gpu_cost: f64 = costs.iter().map(|c| c.gpu_cost).sum();
    let total = input + output;
    Some(CostAnalysis {
        total_input_tokens: input,
        total_output_tokens: output,
        total_tokens: total,
        gpu_cost,
        cost_per_million_tokens: (total > 0
            && costs.iter().all(|c| c.cost_per_million_tokens.is_some()))
        .then(|| gpu_cost / total as f64 * 1e6),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::level::level_report;
    use crate::config::{LevelId, ReportOptions};
    use crate::measure::record::{LevelRun, RequestRecord};

    /// Run `k` of a 10 req/s level whose TTFT is `ttft` s, `failed` of its 50 requests failing.
    fn run(k: u32, ttft: f64, failed: u64) -> LevelReport {
        let recs = (0..50)
            .map(|i| {
                let mut r = RequestRecord::new(0, 10.0, i, 0, i as f64 / 10.0);
                r.sent_s = Some(r.planned_s);
                r.end_s = r.planned_s + ttft + 0.1;
                if i < failed {
                    r.error = Some(crate::measure::record::ErrorKind::Http(503));
                } else {
                    r.first_token_s = Some(r.planned_s + ttft);
                    r.prompt_tokens = Some(10);
                    r.completion_tokens = Some(10);
                }
                r
            })
            .collect();
        let id = LevelId {
            repeat: Some(k),
            ..LevelId::rate(0, 10.0)
        };
        level_report(
            &LevelRun::new(id, 10.0, 5.0, recs, None),
            &ReportOptions::default(),
        )
    }

    #[test]
    fn repetitions_become_one_level_of_their_means_with_an_interval_and_the_worst_verdict() {
        let levels = combine(vec![run(1, 0.10, 0), run(2, 0.12, 0), run(3, 0.14, 15)]);
        assert_eq!(levels.len(), 1);
        let l = &levels[0];
        assert!((l.ttft.get(50.0).unwrap() - 0.12).abs() < 1e-9);
        let ci = l.ttft.interval(50.0).unwrap();
        assert!(ci.low.unwrap() < 0.12 && ci.high.unwrap() > 0.12);
        // t(2) = 4.303, sd 0.02: half-width 4.303 x 0.02 / sqrt(3).
        assert!((ci.high.unwrap() - 0.12 - 4.303 * 0.02 / 3f64.sqrt()).abs() < 1e-3);
        assert_eq!(l.requests_scheduled, 150);
        assert_eq!(l.errors["HTTP 503"], 15);
        assert!((l.success_rate - (100.0 + 100.0 + 70.0) / 3.0).abs() < 1e-9);
        assert_eq!(l.assessment.verdict, Verdict::Fail);
        assert_eq!(l.assessment.reason.repetitions, Some((2, 3, 3)));
        let text = l.assessment.reason.to_string();
        assert!(
            text.starts_with("worst of 3 repetitions (repetition 3): 70.0% success"),
            "{text}"
        );
        assert!(text.contains("2 of 3 repetitions passed"), "{text}");
        assert_eq!(l.repetitions.as_ref().unwrap().len(), 3);
    }

    #[test]
    fn levels_of_one_run_pass_through_and_different_rates_stay_apart() {
        let mut other = run(1, 0.1, 0);
        other.rate = 20.0;
        let levels = combine(vec![run(1, 0.1, 0), other, run(2, 0.1, 0)]);
        assert_eq!(levels.len(), 2);
        assert_eq!(levels[0].repetitions.as_ref().unwrap().len(), 2);
        let plain = level_report(
            &LevelRun::new(LevelId::rate(0, 5.0), 5.0, 1.0, vec![], None),
            &ReportOptions::default(),
        );
        assert!(combine(vec![plain])[0].repetitions.is_none());
    }

    #[test]
    fn among_runs_of_one_verdict_the_worst_is_the_one_that_failed_most() {
        let levels = combine(vec![run(1, 0.1, 20), run(2, 0.1, 40), run(3, 0.1, 30)]);
        let reason = &levels[0].assessment.reason;
        assert_eq!(reason.repetitions, Some((0, 3, 2)));
        assert!(
            reason.to_string().contains("(repetition 2): 20.0% success"),
            "{reason}"
        );
    }

    #[test]
    fn every_repetition_stopped_early_counts_in_the_seconds_saved() {
        let stop = |saved_s| crate::measure::record::EarlyStop {
            at_s: 1.0,
            reason: "r".into(),
            cause: crate::measure::record::StopCause::Errors,
            saved_s,
        };
        let (mut a, mut b) = (run(1, 0.1, 30), run(2, 0.1, 40));
        a.early_stop = Some(stop(2.0));
        b.early_stop = Some(stop(3.0));
        let levels = combine(vec![a, b]);
        let report = crate::analyze::report::Report::new(
            levels,
            &ReportOptions {
                repeat: Some(crate::config::Repeat {
                    n: 2,
                    order: crate::cli::RepeatOrder::Interleaved,
                }),
                ..ReportOptions::default()
            },
        );
        let e = report.summary.early_stop.unwrap();
        assert_eq!((e.levels, e.saved_s), (2, 5.0));
    }
}
