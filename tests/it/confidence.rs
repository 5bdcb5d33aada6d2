//! Issue 22 end to end: the capacity's interval, early stop past saturation, and repeated levels.

use crate::common::*;

/// An endpoint of 2 replies at once, each ~100 ms: ~20 req/s; beyond, HTTP 503 at once.
async fn small_sim() -> String {
    start_sim(&[
        "--profile",
        "fixed",
        "--ttft-ms",
        "50",
        "--itl-ms",
        "5",
        "--output-tokens",
        "10",
        "--max-inflight",
        "2",
    ])
    .await
}

#[tokio::test]
async fn a_level_past_saturation_stops_early_as_a_fail_and_says_what_it_saved() {
    let sim = small_sim().await;
    let run = redline(&bench_args(
        &sim,
        &["--qps", "5,200", "--duration", "8", "--stop-on-saturation"],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let json = run.results_json();
    // The level the endpoint sustains runs in full.
    assert!(json["results"][0].get("early_stop").is_none());
    assert_eq!(json["results"][0]["verdict"], "PASS");
    let l = &json["results"][1];
    let stop = &l["early_stop"];
    let at = stop["at_s"].as_f64().unwrap();
    assert!(at < 8.0, "{stop}");
    assert_eq!(stop["cause"], "errors");
    assert_eq!(l["verdict"], "FAIL");
    assert_eq!(l["partial"], false);
    assert!(l["verdict_reason"]
        .as_str()
        .unwrap()
        .contains("stopped early at"));
    // Sending stopped there: no request was planned after the stop.
    let last_planned = run
        .records()
        .iter()
        .filter(|r| r["level"] == 1)
        .map(|r| r["planned_s"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(last_planned <= at + 0.05, "{last_planned} after {at}");
    let saved = json["summary"]["early_stop"]["saved_s"].as_f64().unwrap();
    assert!((saved - (8.0 - at)).abs() < 1e-3, "{saved}");
    assert!(run
        .stdout()
        .contains("1 level stopped once certain not to pass, saving"));
    assert!(
        run.stderr().contains("stopped early at"),
        "{}",
        run.stderr()
    );
    let meta = read_json(&run.dir().join("metadata.json"));
    assert_eq!(meta["levels"][1]["early_stop"]["cause"], "errors");
    // `redline report` rebuilds the same stopped level from the folder.
    assert!(re_reports_identically(&run.dir()));
}

#[tokio::test]
async fn fixed_levels_run_in_full_unless_asked_and_early_stop_is_refused_where_it_cannot_watch() {
    let sim = small_sim().await;
    let run = redline(&bench_args(&sim, &["--qps", "200", "--duration", "2"])).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert!(run.level(0).get("early_stop").is_none());
    for (extra, says) in [
        (
            vec!["--concurrency", "2", "--stop-on-saturation"],
            "--concurrency levels offer no rate",
        ),
        (
            vec!["--concurrency", "2", "--no-stop-on-saturation"],
            "--no-stop-on-saturation decides",
        ),
        (
            vec!["--qps", "5", "--sessions", "--stop-on-saturation"],
            "--sessions levels",
        ),
    ] {
        let mut args = extra.clone();
        args.extend(["--duration", "1"]);
        let run = redline(&bench_args(&sim, &args)).await;
        assert_eq!(run.code(), Some(1), "{extra:?}");
        assert!(run.stderr().contains(says), "{extra:?}: {}", run.stderr());
        assert_eq!(run.run_dirs(), 0);
    }
}

#[tokio::test]
async fn repeated_levels_run_interleaved_and_report_their_means_with_intervals_and_each_run() {
    let sim = small_sim().await;
    let run = redline(&bench_args(
        &sim,
        &["--qps", "5,200", "--duration", "2", "--repeat", "2"],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    // Interleaved by default: 5, 200, 5, 200, each repetition a level of the folder.
    let meta = read_json(&run.dir().join("metadata.json"));
    assert_eq!(
        meta["qps_levels"],
        serde_json::json!([5.0, 200.0, 5.0, 200.0])
    );
    assert_eq!(meta["repeat"]["n"], 2);
    assert_eq!(meta["repeat"]["order"], "interleaved");
    let reps: Vec<(u64, u64)> = meta["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["qps"].as_f64().unwrap() as u64,
                l["repeat"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(reps, [(5, 1), (200, 1), (5, 2), (200, 2)]);
    // Raw records say which repetition they were sent in.
    let records = run.records();
    assert!(records.iter().any(|r| r["level"] == 2 && r["repeat"] == 2));
    // One result per rate: the means over its runs, a Student t interval, every run kept.
    let json = run.results_json();
    let results = json["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let slow = &results[0];
    let runs = slow["repetitions"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let mean =
        (runs[0]["ttft"]["p50"].as_f64().unwrap() + runs[1]["ttft"]["p50"].as_f64().unwrap()) / 2.0;
    assert!((slow["ttft"]["p50"].as_f64().unwrap() - mean).abs() < 1e-5);
    assert!(slow["ttft"]["p50_ci"].is_array());
    assert!(slow["output_throughput_tok_s_ci"].is_array());
    assert_eq!(
        slow["requests_scheduled"].as_u64(),
        Some(
            runs[0]["requests_scheduled"].as_u64().unwrap()
                + runs[1]["requests_scheduled"].as_u64().unwrap()
        )
    );
    assert_eq!(results[1]["verdict"], "FAIL");
    assert!(results[1]["verdict_reason"]
        .as_str()
        .unwrap()
        .contains("0 of 2 repetitions passed"));
    let ci = &json["summary"]["capacity_ci"];
    assert!(
        ci["low"].as_f64().unwrap() <= 5.0 && ci["high"].as_f64().unwrap() >= 200.0,
        "{ci}"
    );
    assert_eq!(ci["confidence"], 0.95);
    let out = run.stdout();
    assert!(
        out.contains("Repetitions (the table shows means over runs"),
        "{out}"
    );
    assert!(out.contains("QPS 5.0: 2 runs;"), "{out}");
    assert!(out.contains("95% CI"), "{out}");
    assert!(
        run.stderr()
            .contains("Level 3/4 (repetition 2 of 2): QPS 5"),
        "{}",
        run.stderr()
    );
    assert!(re_reports_identically(&run.dir()));
}

#[tokio::test]
async fn repeat_flags_that_do_not_apply_are_refused_by_name() {
    let sim = small_sim().await;
    for (args, says) in [
        (
            vec!["--qps", "5", "--repeat", "0"],
            "--repeat 0: how many times",
        ),
        (
            vec!["--qps", "5", "--repeat-order", "grouped"],
            "--repeat-order orders repeated levels",
        ),
        (
            vec!["--concurrency", "2", "--repeat", "2"],
            "cannot repeat --concurrency levels",
        ),
        (
            vec![
                "--qps",
                "auto",
                "--repeat",
                "2",
                "--repeat-order",
                "interleaved",
            ],
            "its repetitions run back to back",
        ),
    ] {
        let mut all = args.clone();
        all.extend(["--duration", "1"]);
        let run = redline(&bench_args(&sim, &all)).await;
        assert_eq!(run.code(), Some(1), "{args:?}: {}", run.stderr());
        assert!(run.stderr().contains(says), "{args:?}: {}", run.stderr());
        assert_eq!(run.run_dirs(), 0);
    }
}

#[tokio::test]
async fn a_run_judged_on_its_steady_window_says_so_and_report_can_judge_it_whole_again() {
    let sim = small_sim().await;
    let run = redline(&bench_args(
        &sim,
        &[
            "--qps",
            "5",
            "--duration",
            "4",
            "--verdict-window",
            "steady",
        ],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let l = run.level(0);
    let steady = &l["steady"];
    let reason = l["verdict_reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "steady window {:.1}-{:.1} s",
            steady["from_s"].as_f64().unwrap(),
            steady["to_s"].as_f64().unwrap()
        )),
        "{reason}"
    );
    let meta = read_json(&run.dir().join("metadata.json"));
    assert_eq!(meta["steady_verdict"], true);
    assert!(re_reports_identically(&run.dir()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_redline"))
        .args([
            "report",
            &run.dir().display().to_string(),
            "--verdict-window",
            "whole",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!run.level(0)["verdict_reason"]
        .as_str()
        .unwrap()
        .starts_with("steady"));
    let meta = read_json(&run.dir().join("metadata.json"));
    assert_eq!(
        meta["reports"][0]["changed"]["steady_verdict"]["from"],
        true
    );
    assert_eq!(meta["reports"][0]["changed"]["steady_verdict"]["to"], false);
}
