//! `level_report` against hand-made records: counts, rates, cost, sessions, the reference keys.

use super::*;
use crate::measure::record::ErrorKind;

fn opts(percentiles: &[f64], pricing: Option<Pricing>) -> ReportOptions {
    ReportOptions {
        percentiles: percentiles.to_vec(),
        pricing,
        ..ReportOptions::default()
    }
}

#[test]
fn reference_cost_example() {
    // 30 s, 1 GPU at $2.30/h, 3,659,418 input + 28,146 output tokens -> ~$0.0052/M.
    let c = cost(
        Pricing {
            gpu_rate: 2.30,
            num_gpus: 1,
        },
        30.0,
        3_659_418,
        28_146,
    );
    assert_eq!(c.total_tokens, 3_687_564);
    assert!((c.gpu_cost - 0.019166).abs() < 1e-5);
    assert!((c.cost_per_million_tokens.unwrap() - 0.0052).abs() < 1e-4);
}

fn rec(i: u64, ok: bool, usage: bool) -> RequestRecord {
    let mut r = RequestRecord::new(0, 2.0, i, 0, i as f64 * 0.5);
    r.sent_s = Some(r.planned_s + 0.001);
    if ok {
        r.first_token_s = Some(r.planned_s + 0.1);
        r.end_s = r.planned_s + 1.1;
        r.content_chunks = 11;
        if usage {
            r.prompt_tokens = Some(100);
            r.completion_tokens = Some(11);
        }
    } else {
        r.error = Some(ErrorKind::Http(503));
        r.end_s = r.planned_s + 0.01;
    }
    r
}

#[test]
fn level_summary_counts_and_rates() {
    let records = vec![
        rec(0, true, true),
        rec(1, true, false),
        rec(2, false, false),
        rec(3, true, true),
    ];
    let run = LevelRun::new(
        crate::config::LevelId::rate(0, 2.0),
        2.0,
        2.0,
        records,
        None,
    );
    assert!((run.duration_s - 2.6).abs() < 1e-9);
    assert_eq!(run.in_flight_at_send_end, 1);
    let pricing = Pricing {
        gpu_rate: 3.6,
        num_gpus: 1,
    };
    let l = level_report(&run, &opts(&[50.0], Some(pricing)));
    assert_eq!(l.actual_qps, 2.0);
    assert_eq!(l.success_rate, 75.0);
    assert_eq!(l.errors.get("HTTP 503"), Some(&1));
    assert_eq!(l.requests_without_usage, 1);
    assert_eq!(l.total_input_tokens, 200);
    assert_eq!(l.total_output_tokens, 33);
    let c = l.cost_analysis.unwrap();
    assert_eq!(c.total_tokens, 222);
    assert!((c.gpu_cost - 0.0026).abs() < 1e-12);
    assert!((l.ttft.get(50.0).unwrap() - 0.1).abs() < 1e-9);
    assert!((l.tpot_s.get(50.0).unwrap() - 0.1).abs() < 1e-9);
    assert!((l.schedule_lag_s.max.unwrap() - 0.001).abs() < 1e-9);
}

#[test]
fn a_session_that_fails_early_counts_its_unsent_turns_as_failed() {
    // Ten sessions of ten turns at 1 session/s; session 0 fails at its first turn.
    let mut records = Vec::new();
    for session in 0..10u64 {
        let turns = if session == 0 { 1 } else { 10 };
        for turn in 1..=turns {
            let mut r = rec(0, session != 0, true);
            r.index = session * 10 + u64::from(turn);
            let at = session as f64 + f64::from(turn - 1) * 0.5;
            (r.planned_s, r.sent_s, r.end_s) = (at, Some(at + 0.001), at + 0.2);
            r.first_token_s = r.first_token_s.map(|_| at + 0.1);
            r.session = Some(session);
            r.turn = Some(turn);
            r.session_turns = Some(10);
            records.push(r);
        }
    }
    let run = LevelRun::new(
        crate::config::LevelId::rate(0, 1.0),
        1.0,
        10.0,
        records,
        None,
    );
    let l = level_report(&run, &opts(&[50.0], None));
    // 90 of the 100 planned turns succeeded (not 90 of the 91 sent).
    assert_eq!(l.success_rate, 90.0);
    let s = l.sessions.unwrap();
    assert_eq!(
        (s.turns_planned, s.turns_not_sent, s.completed),
        (100, 9, 9)
    );
    // Arrivals are sessions: 10 per 10 s, 9 of them completed.
    assert_eq!(l.actual_qps, 1.0);
    assert!((l.successful_qps - 0.9).abs() < 1e-12);
}

#[test]
fn reference_keys_present() {
    let run = LevelRun::new(crate::config::LevelId::rate(0, 1.0), 1.0, 1.0, vec![], None);
    let pricing = Pricing {
        gpu_rate: 1.0,
        num_gpus: 1,
    };
    let v = serde_json::to_value(level_report(&run, &opts(&[], Some(pricing)))).unwrap();
    for k in [
        "qps_target",
        "actual_qps",
        "success_rate",
        "ttft",
        "e2e_latency",
        "tokens_per_sec",
        "cost_analysis",
        "errors",
    ] {
        assert!(v.get(k).is_some(), "{k}");
    }
    for k in ["p50", "p90", "p95", "p99"] {
        assert!(v["ttft"].get(k).is_some());
    }
}
