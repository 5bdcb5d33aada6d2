//! compare's figures, gates and significance on hand-built runs.

use super::*;

fn settings() -> Vec<&'static str> {
    crate::output::metadata::plan::compared_keys().collect()
}
use serde_json::json;

fn run(label: &str, model: &str, max: f64, ttft95: [f64; 2], success: [f64; 2]) -> Run {
    let level = |q: f64, i: usize| {
        json!({"qps_target": q, "success_rate": success[i], "verdict": if success[i] >= 99.0 {"PASS"} else {"FAIL"},
               "ttft": {"p50": 0.1, "p90": 0.15, "p95": ttft95[i], "p99": 0.5, "p99.9": 0.6},
               "e2e_latency": {"p50": 1.0, "p95": 2.0, "p99": 3.0},
               "tokens_per_sec": {"p50": 100.0}, "total_throughput_tok_s": 1000.0 * q})
    };
    Run {
        label: label.into(),
        dir: format!("results/{label}"),
        meta: json!({"model": model, "max_tokens": 512, "arrival": "constant"}),
        results: json!({"results": [level(10.0, 0), level(20.0, 1)],
                        "summary": {"max_sustainable_qps": max, "saturation_qps": null}}),
        records: Vec::new(),
    }
}

#[test]
fn levels_are_matched_changes_computed_and_unlike_settings_listed() {
    let runs = [
        run("A", "llama-8b", 20.0, [0.2, 0.3], [100.0, 100.0]),
        run("B", "llama-8b-fp8", 10.0, [0.25, 0.3], [100.0, 90.0]),
    ];
    let c = compare(&runs, &settings(), None, &[], false);
    assert_eq!(c.settings.len(), 1);
    assert_eq!(c.settings[0].setting, "model");
    assert_eq!(c.summary[0].metric, "max_qps");
    assert_eq!(c.summary[0].change_pct, [None, Some(-50.0)]);
    assert_eq!(c.levels.len(), 2);
    assert_eq!(c.levels[0].level, "QPS 10.0");
    let ttft = c.levels[0]
        .rows
        .iter()
        .find(|r| r.metric == "ttft_p95")
        .unwrap();
    assert!((ttft.change_pct[1].unwrap() - 25.0).abs() < 1e-9);
    assert!(c.levels[0].rows.iter().any(|r| r.metric == "ttft_p99.9"));
    assert_eq!(
        c.levels[1].verdicts,
        [Some("PASS".into()), Some("FAIL".into())]
    );
    assert!(c.regressions.is_empty());
}

#[test]
fn regressions_beyond_the_threshold_are_found_in_the_gated_metrics() {
    let runs = [
        run("A", "m", 20.0, [0.2, 0.3], [100.0, 100.0]),
        run("B", "m", 19.0, [0.23, 0.3], [100.0, 100.0]),
    ];
    let gated: Vec<String> = DEFAULT_GATED.iter().map(|s| s.to_string()).collect();
    let c = compare(&runs, &settings(), Some(10.0), &gated, false);
    // Max QPS -5%: within 10%. TTFT p95 at QPS 10: +15%, a regression.
    assert_eq!(c.regressions.len(), 1, "{:?}", c.regressions);
    let r = &c.regressions[0];
    assert_eq!(
        (r.run.as_str(), r.level.as_deref(), r.metric.as_str()),
        ("B", Some("QPS 10.0"), "ttft_p95")
    );
    assert!((r.change_pct.unwrap() - 15.0).abs() < 1e-9);
    let c = compare(
        &runs,
        &settings(),
        Some(4.0),
        &["max_qps".to_string()],
        false,
    );
    assert_eq!(c.regressions.len(), 1);
    assert_eq!(c.regressions[0].level, None);
    // A figure the candidate lost (no level passed) is a regression; a typo gates nothing.
    let mut lost = runs[1].clone();
    lost.results["summary"]["max_sustainable_qps"] = Value::Null;
    let c = compare(
        &[runs[0].clone(), lost],
        &settings(),
        Some(10.0),
        &["max_qps".to_string()],
        false,
    );
    assert_eq!(c.regressions.len(), 1);
    assert_eq!(c.regressions[0].value, None);
    assert_eq!(
        unknown_metrics(&c, &["ttft_p90".into(), "ttft_pfoo".into()]),
        ["ttft_pfoo"]
    );
    // An improvement is never a regression.
    let c = compare(
        &[runs[1].clone(), runs[0].clone()],
        &settings(),
        Some(1.0),
        &["max_qps".to_string()],
        false,
    );
    assert!(c.regressions.is_empty());
}

#[test]
fn runs_of_another_kind_are_listed_not_set_against_the_baseline() {
    let open = run("A", "m", 40.0, [0.2, 0.3], [100.0, 100.0]);
    let mut closed = run("B", "m", 4.0, [0.2, 0.3], [100.0, 100.0]);
    closed.meta["concurrency_levels"] = json!([2, 16]);
    let gated: Vec<String> = DEFAULT_GATED.iter().map(|s| s.to_string()).collect();
    let c = compare(&[open, closed], &settings(), Some(10.0), &gated, false);
    assert_eq!(c.settings[0].setting, "kind");
    assert!(c.summary.iter().all(|r| r.change_pct[1].is_none()));
    assert!(c.regressions.is_empty(), "{:?}", c.regressions);
}

#[test]
fn a_change_within_noise_is_no_regression_unless_any_change_counts() {
    // The results say TTFT p95 rose 50%, but both levels' records are the same requests.
    let recs: Vec<RequestRecord> = (0..40)
        .map(|i| {
            let mut r = RequestRecord::new(0, 10.0, i, 0, i as f64 * 0.1);
            r.sent_s = Some(r.planned_s);
            r.first_token_s = Some(r.planned_s + 0.2 + (i % 5) as f64 * 0.01);
            r.end_s = r.first_token_s.unwrap() + 0.5;
            r.content_chunks = 10;
            r
        })
        .collect();
    let mut runs = [
        run("A", "m", 20.0, [0.2, 0.2], [100.0, 100.0]),
        run("B", "m", 20.0, [0.3, 0.3], [100.0, 100.0]),
    ];
    for r in &mut runs {
        r.records = vec![recs.clone(), recs.clone()];
    }
    let gated = vec!["ttft_p95".to_string()];
    let c = compare(&runs, &settings(), Some(10.0), &gated, false);
    assert!(c.regressions.is_empty(), "{:?}", c.regressions);
    let row = c.levels[0]
        .rows
        .iter()
        .find(|r| r.metric == "ttft_p95")
        .unwrap();
    assert_eq!(row.significant[1], Some(false));
    let c = compare(&runs, &settings(), Some(10.0), &gated, true);
    assert_eq!(c.regressions.len(), 2);
}
