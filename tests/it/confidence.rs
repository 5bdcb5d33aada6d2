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
