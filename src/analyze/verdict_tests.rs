//! Verdict and recommendation logic on hand-built levels.

use super::*;
use crate::analyze::level::{level_report, CostAnalysis, LevelReport};
use crate::analyze::summary::{summarize, Kind, RunShape, Summary};
use crate::config::{Pricing, ReportOptions};
use crate::measure::record::LevelRun;

fn lvl(qps: f64, success: f64) -> LevelReport {
    let run = LevelRun::new(crate::config::LevelId::rate(0, qps), qps, 1.0, vec![], None);
    let opts = ReportOptions {
        percentiles: vec![],
        ..ReportOptions::default()
    };
    let mut l = level_report(&run, &opts);
    l.rate = qps;
    l.qps_target = Some(qps);
    l.actual_qps = qps;
    // Enough requests to be judged.
    l.requests_scheduled = 100;
    l.requests_sent = 100;
    l.success_rate = success;
    l.endpoint_success_rate = success;
    l.total_throughput_tok_s = qps * 1000.0;
    l
}

/// The levels judged again after a test changed their figures, as `level_report` judges them.
fn judged(levels: &[LevelReport], p: &Policy) -> Vec<LevelReport> {
    levels
        .iter()
        .cloned()
        .map(|mut l| {
            l.assessment = assess(&l.evidence(p), p);
            l
        })
        .collect()
}

/// A run at fixed rates that ran its whole plan.
const RATES: RunShape = RunShape {
    kind: Kind::Rates,
    cut_short: false,
    unconfirmed_passes: false,
};

fn summary(levels: &[LevelReport]) -> Summary {
    let p = Policy::default();
    summarize(&judged(levels, &p), RATES, &p, None, None)
}

#[test]
fn verdict_thresholds() {
    let p = Policy::default();
    assert_eq!(
        assess(&lvl(1.0, 99.0).evidence(&p), &p).verdict,
        Verdict::Pass
    );
    assert_eq!(
        assess(&lvl(1.0, 98.9).evidence(&p), &p).verdict,
        Verdict::Warn
    );
    assert_eq!(
        assess(&lvl(1.0, 90.0).evidence(&p), &p).verdict,
        Verdict::Warn
    );
    assert_eq!(
        assess(&lvl(1.0, 89.9).evidence(&p), &p).verdict,
        Verdict::Fail
    );
    let strict = Policy {
        pass_pct: 99.9,
        ..p
    };
    assert_eq!(
        assess(&lvl(1.0, 99.5).evidence(&strict), &strict).verdict,
        Verdict::Warn
    );
}

#[test]
fn knee_and_recommendation() {
    let s = summary(&[
        lvl(10.0, 100.0),
        lvl(20.0, 99.5),
        lvl(30.0, 92.0),
        lvl(40.0, 40.0),
    ]);
    assert_eq!(s.max_sustainable_qps, Some(20.0));
    assert_eq!(s.saturation_qps, Some(30.0));
    assert_eq!(s.recommended_qps, Some(15.0));
    assert!(s.notes.is_empty(), "{:?}", s.notes);
}

#[test]
fn levels_are_read_in_increasing_qps() {
    let s = summary(&[lvl(40.0, 40.0), lvl(10.0, 100.0), lvl(20.0, 100.0)]);
    assert_eq!(
        (s.max_sustainable_qps, s.saturation_qps),
        (Some(20.0), Some(40.0))
    );
}

#[test]
fn all_levels_fail() {
    let s = summary(&[lvl(5.0, 10.0), lvl(10.0, 0.0)]);
    assert_eq!(s.max_sustainable_qps, None);
    assert_eq!(s.saturation_qps, Some(5.0));
    assert_eq!(s.recommended_qps, None);
    assert!(s.notes[0].contains("even the lowest"), "{:?}", s.notes);
}

#[test]
fn no_level_fails() {
    let s = summary(&[lvl(5.0, 100.0), lvl(10.0, 100.0)]);
    assert_eq!(
        (s.max_sustainable_qps, s.saturation_qps),
        (Some(10.0), None)
    );
    assert!(s.notes[0].contains("no level saturated"));
}

#[test]
fn a_pass_after_the_knee_is_not_capacity() {
    let s = summary(&[lvl(10.0, 100.0), lvl(20.0, 80.0), lvl(30.0, 100.0)]);
    assert_eq!(s.max_sustainable_qps, Some(10.0));
    assert_eq!(s.saturation_qps, Some(20.0));
    assert!(s.notes[0].contains("not monotonic"), "{:?}", s.notes);
}

#[test]
fn client_limited_levels_are_flagged_and_a_pass_there_is_not_used() {
    let mut limited = lvl(30.0, 100.0);
    limited.requests_scheduled = 100;
    limited.requests_sent = 90;
    let a = assess(&limited.evidence(&Policy::default()), &Policy::default());
    assert!(a.client_limited && !a.trusted, "{}", a.reason);
    assert!(a
        .reason
        .to_string()
        .contains("sent at 90.0% of the rate its schedule held"));
    let s = summary(&[lvl(10.0, 100.0), limited, lvl(40.0, 50.0)]);
    assert_eq!(s.max_sustainable_qps, Some(10.0));
    assert_eq!(s.saturation_qps, Some(40.0));
    assert!(
        s.notes[0].contains("QPS 30.0 is client-limited (sent at 90.0%")
            && s.notes[0].contains("its PASS is not used"),
        "{:?}",
        s.notes
    );
    // Late sends alone only add to latency: the load was delivered, so the PASS stands.
    let mut late = lvl(30.0, 100.0);
    late.schedule_lag_s.p99 = Some(0.012);
    let a = assess(&late.evidence(&Policy::default()), &Policy::default());
    assert!(
        a.client_limited && a.trusted && a.reason.to_string().contains("12.0 ms late"),
        "{}",
        a.reason
    );
    // Late and short of its rate: not used, and the note says what was wrong.
    late.requests_scheduled = 100;
    late.requests_sent = 80;
    let s = summary(&[lvl(10.0, 100.0), late]);
    assert!(
        s.notes[0].contains("(sends were up to 12.0 ms late (lag p99))"),
        "{:?}",
        s.notes
    );
}

#[test]
fn a_drawn_rate_below_target_is_not_a_late_client() {
    // A Poisson level that drew fewer arrivals than qps x duration, all sent on time.
    let mut drawn = lvl(4.0, 100.0);
    drawn.actual_qps = 3.6;
    drawn.requests_scheduled = 18;
    drawn.requests_sent = 18;
    let a = assess(&drawn.evidence(&Policy::default()), &Policy::default());
    assert!(!a.client_limited && a.trusted, "{}", a.reason);
}

#[test]
fn endpoint_errors_stand_at_a_level_where_the_client_was_late() {
    // The busy-client case: 89.5% success with lag p99 5.3 ms is still the saturation point.
    let mut busy = lvl(40.0, 89.5);
    busy.schedule_lag_s.p99 = Some(0.0053);
    let a = assess(&busy.evidence(&Policy::default()), &Policy::default());
    assert!(a.client_limited && a.trusted, "{}", a.reason);
    assert!(
        a.reason
            .to_string()
            .contains("which does not explain this verdict"),
        "{}",
        a.reason
    );
    let s = summary(&[lvl(30.0, 100.0), busy, lvl(50.0, 70.0)]);
    assert_eq!(
        (s.max_sustainable_qps, s.saturation_qps),
        (Some(30.0), Some(40.0))
    );
}

#[test]
fn a_queueing_or_latency_fail_stands_only_when_its_excess_dwarfs_the_lag() {
    let p = Policy::default();
    // TTFT rose by 7.67 s; lag p99 38 ms: the endpoint queued.
    let mut big = queueing(lvl(32.0, 100.0));
    big.schedule_lag_s.p99 = Some(0.038);
    assert!(assess(&big.evidence(&p), &p).trusted);
    // TTFT rose by 0.2 s with lag p99 38 ms: the client's lag could be the rise.
    let mut small = queueing(lvl(32.0, 100.0));
    small.keep_up.ttft_first_s = Some(0.05);
    small.keep_up.ttft_last_s = Some(0.25);
    small.schedule_lag_s.p99 = Some(0.038);
    let a = assess(&small.evidence(&p), &p);
    assert!(a.client_limited && !a.trusted, "{}", a.reason);
    // A TTFT objective missed by 0.365 s: stands with 20 ms of lag, not with 50 ms.
    let mut slow = lvl(10.0, 100.0);
    slow.ttft = crate::analyze::stats::Percentiles::of(vec![0.2, 0.9], &[]);
    let objective = Policy {
        objectives: crate::config::slo::parse("ttft_p95<=0.5").unwrap(),
        ..Policy::default()
    };
    slow.schedule_lag_s.p99 = Some(0.02);
    assert!(assess(&slow.evidence(&objective), &objective).trusted);
    slow.schedule_lag_s.p99 = Some(0.05);
    assert!(!assess(&slow.evidence(&objective), &objective).trusted);
}

#[test]
fn a_partial_level_never_sets_the_answer() {
    let mut cut = lvl(20.0, 100.0);
    cut.partial = true;
    let a = assess(&cut.evidence(&Policy::default()), &Policy::default());
    assert!(!a.trusted && a.reason.to_string().contains("interrupted"));
    let s = summary(&[lvl(10.0, 100.0), cut]);
    assert_eq!(s.max_sustainable_qps, Some(10.0));
    assert!(
        s.notes
            .iter()
            .any(|n| n.contains("QPS 20.0 was interrupted")),
        "{:?}",
        s.notes
    );
    let mut cut = lvl(20.0, 10.0);
    cut.partial = true;
    let s = summary(&[lvl(10.0, 100.0), cut]);
    assert_eq!(s.saturation_qps, None);
}

#[test]
fn client_side_failures_are_not_blamed_on_the_endpoint() {
    let mut capped = lvl(30.0, 60.0);
    capped.client_side_errors = 40;
    capped.endpoint_success_rate = 100.0;
    let a = assess(&capped.evidence(&Policy::default()), &Policy::default());
    assert_eq!(
        a.verdict,
        Verdict::Pass,
        "the endpoint served all it was sent"
    );
    assert!(a.client_limited);
    assert!(
        a.reason.to_string().contains("40 client-side failures"),
        "{}",
        a.reason.to_string()
    );
}

#[test]
fn cost_and_capacity_plan() {
    let mut best = lvl(20.0, 100.0);
    best.cost_analysis = Some(CostAnalysis {
        total_input_tokens: 0,
        total_output_tokens: 0,
        total_tokens: 0,
        gpu_cost: 0.0,
        cost_per_million_tokens: Some(0.30),
    });
    best.total_throughput_tok_s = 20_000.0;
    let pricing = Pricing {
        gpu_rate: 2.0,
        num_gpus: 2,
    };
    let s = summarize(
        &judged(
            &[lvl(10.0, 100.0), best, lvl(30.0, 0.0)],
            &Policy::default(),
        ),
        RATES,
        &Policy::default(),
        Some(pricing),
        Some(10_000_000_000),
    );
    // Recommended 15 QPS = 75% of 20: the same GPUs serve 75% of the tokens.
    assert!((s.cost_per_million_at_recommended.unwrap() - 0.40).abs() < 1e-12);
    let plan = s.capacity_plan.unwrap();
    assert_eq!(plan.throughput_per_gpu_tok_s, 10_000.0);
    assert_eq!(plan.usable_per_gpu_tok_s, 7_500.0);
    // 10B/day = 115,740.7 tok/s; / 7,500 = 15.4 -> 16 GPUs.
    assert_eq!(plan.gpus_needed, 16);
    assert_eq!(plan.daily_cost, Some(16.0 * 2.0 * 24.0));
    // Measured below a saturation point: the GPU count stands.
    assert!(!plan.upper_bound);
    // Without one, a GPU may serve more than the highest level asked: at most 16.
    let unsaturated = judged(&[lvl(10.0, 100.0), lvl(20.0, 100.0)], &Policy::default());
    let s = summarize(
        &unsaturated,
        RATES,
        &Policy::default(),
        Some(pricing),
        Some(1),
    );
    assert!(s.capacity_plan.unwrap().upper_bound);
}

fn queueing(mut l: LevelReport) -> LevelReport {
    l.keep_up.queueing = true;
    l.keep_up.ttft_rose = true;
    l.keep_up.fell_behind = true;
    l.keep_up.ttft_first_s = Some(0.03);
    l.keep_up.ttft_last_s = Some(7.7);
    l.keep_up.steady_served_qps = Some(13.3);
    l.keep_up.steady_sent_qps = Some(32.0);
    l
}

#[test]
fn queueing_fails_a_level_where_every_request_succeeded() {
    let a = assess(
        &queueing(lvl(32.0, 100.0)).evidence(&Policy::default()),
        &Policy::default(),
    );
    assert_eq!(a.verdict, Verdict::Fail);
    assert_eq!(a.saturation_cause, Some(Cause::Queueing));
    assert_eq!(
        a.reason.to_string(),
        "100.0% success; queueing: TTFT rose from 0.030 s to 7.7 s during the level; 13.3 of the 32.0 req/s sent were served"
    );
    let s = summary(&[
        lvl(2.0, 100.0),
        lvl(8.0, 100.0),
        queueing(lvl(16.0, 100.0)),
        queueing(lvl(32.0, 100.0)),
    ]);
    assert_eq!(
        (s.max_sustainable_qps, s.saturation_qps),
        (Some(8.0), Some(16.0))
    );
    assert_eq!(s.saturation_cause, Some(Cause::Queueing));
}

#[test]
fn a_queue_is_the_cause_even_where_it_shed_requests_and_latency_objectives_fail_levels() {
    // 50% success and a queue: the errors a full queue answers with follow from it.
    let a = assess(
        &queueing(lvl(32.0, 50.0)).evidence(&Policy::default()),
        &Policy::default(),
    );
    assert_eq!(a.saturation_cause, Some(Cause::Queueing));
    let mut slow = lvl(10.0, 100.0);
    slow.ttft = crate::analyze::stats::Percentiles::of(vec![0.2, 0.9], &[]);
    let p = Policy {
        objectives: crate::config::slo::parse("ttft_p95<=0.5").unwrap(),
        ..Policy::default()
    };
    let a = assess(&slow.evidence(&p), &p);
    assert_eq!(
        (a.verdict, a.saturation_cause),
        (Verdict::Fail, Some(Cause::LatencyObjective))
    );
    assert!(
        a.reason.to_string().contains("TTFT p95 0.865 s > 0.500 s"),
        "{}",
        a.reason.to_string()
    );
    assert_eq!(
        assess(&slow.evidence(&Policy::default()), &Policy::default()).verdict,
        Verdict::Pass
    );
}

#[test]
fn advice_fits_the_kind_of_run_and_its_cause() {
    let p = Policy::default();
    let passed = judged(&[lvl(10.0, 100.0), lvl(20.0, 100.0)], &p);
    let note = |kind: Kind, cut_short: bool| {
        let shape = RunShape {
            kind,
            cut_short,
            unconfirmed_passes: false,
        };
        summarize(&passed, shape, &p, None, None).notes.join("; ")
    };
    assert!(note(Kind::Rates, false).contains("add higher --qps levels"));
    assert!(note(Kind::Concurrency, false).contains("add higher --concurrency levels"));
    assert!(note(Kind::Trace, false).contains("replay it faster (--trace-speed above 1)"));
    // A search says why it stopped; a run cut short is not told to add levels.
    assert_eq!(note(Kind::Search, false), "");
    let cut = note(Kind::Rates, true);
    assert!(cut.contains("stopped before its plan was done") && !cut.contains("add higher"));
}

#[test]
fn an_objective_missed_at_full_success_is_not_called_overload() {
    // The lowest level succeeds every time but misses an E2E objective of 1.5 s.
    let mut slow = lvl(1.0, 100.0);
    slow.e2e_latency = crate::analyze::stats::Percentiles::of(vec![2.0, 2.1], &[95.0]);
    let p = Policy {
        objectives: crate::config::slo::parse("e2e_p95<=1.5").unwrap(),
        ..Policy::default()
    };
    let s = summarize(&judged(&[slow], &p), RATES, &p, None, None);
    let notes = s.notes.join("; ");
    assert!(!notes.contains("overloaded"), "{notes}");
    assert!(
        notes.contains("missed an objective at 100.0% success") && notes.contains("--slo"),
        "{notes}"
    );
}

#[test]
fn a_closed_loop_costs_its_recommendation_at_the_share_of_requests_in_flight_it_keeps() {
    // 4 in flight passed at $0.30 per million tokens; 20% headroom keeps 3 of 4 in flight, so the
    // same GPUs serve three quarters of the tokens: $0.40, not $0.30 / 0.8 = $0.375.
    let p = Policy {
        headroom_pct: 20.0,
        ..Policy::default()
    };
    let mut best = lvl(8.0, 100.0);
    best.concurrency = Some(4);
    best.cost_analysis = Some(CostAnalysis {
        total_input_tokens: 0,
        total_output_tokens: 0,
        total_tokens: 0,
        gpu_cost: 0.0,
        cost_per_million_tokens: Some(0.30),
    });
    let levels = judged(&[best], &p);
    let shape = |kind| RunShape {
        kind,
        cut_short: false,
        unconfirmed_passes: false,
    };
    let s = summarize(&levels, shape(Kind::Concurrency), &p, None, None);
    assert_eq!(s.recommended_concurrency, Some(3));
    let cost = s.cost_per_million_at_recommended.unwrap();
    assert!((cost - 0.40).abs() < 1e-12, "{cost}");
    // At fixed rates the recommended rate is exactly the headroom's share.
    let s = summarize(&levels, shape(Kind::Rates), &p, None, None);
    let cost = s.cost_per_million_at_recommended.unwrap();
    assert!((cost - 0.375).abs() < 1e-12, "{cost}");
}

#[test]
fn a_level_where_every_request_failed_for_a_misconfiguration_is_no_saturation_point() {
    // Every request answered 404 (a wrong model name): the endpoint's capacity was not measured.
    let p = Policy::default();
    let mut wrong = lvl(5.0, 0.0);
    wrong.requests_failed = 100;
    wrong.endpoint_errors = 100;
    wrong.errors.insert("HTTP 404".into(), 100);
    let levels = judged(&[wrong], &p);
    let s = summarize(&levels, RATES, &p, None, None);
    assert_eq!((s.saturation_qps, s.saturation_cause), (None, None));
    let note = s.notes.join("; ");
    assert!(note.contains("is no saturation point"), "{note}");
    assert!(!note.contains("test lower rates"), "{note}");
    // Overload among the failures (a 503) is the endpoint's limit.
    let mut busy = lvl(5.0, 0.0);
    busy.requests_failed = 100;
    busy.endpoint_errors = 100;
    busy.errors.insert("HTTP 503".into(), 100);
    let s = summarize(&judged(&[busy], &p), RATES, &p, None, None);
    assert_eq!(s.saturation_qps, Some(5.0));
}
