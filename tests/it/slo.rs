//! Objectives (`--slo`) and goodput end to end, and `--qps auto`, against the simulator.

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objectives_judge_levels_and_goodput_counts_the_requests_that_met_them() {
    // Fixed 100 ms to first token: ttft_p95<=0.2 holds, ttft_p95<=0.05 does not.
    let sim = start_sim(&["--profile", "fixed", "--ttft-ms", "100", "--itl-ms", "1"]).await;
    let flags = ["--qps", "10", "--duration", "1", "--slo"];
    let mut met = flags.to_vec();
    met.push("success>=99,ttft_p95<=0.2,e2e_p99<=5");
    let run = redline(&bench_args(&sim, &met)).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let l = run.level(0);
    assert_eq!(l["verdict"], "PASS", "{l}");
    assert_eq!(l["slo_attainment_pct"], 100.0);
    assert!(
        (l["goodput_qps"].as_f64().unwrap() - 10.0).abs() < 1e-6,
        "{l}"
    );
    let summary = &run.results_json()["summary"];
    assert_eq!(summary["slo"], "ttft_p95<=0.2,e2e_p99<=5");
    assert!(run.stdout().contains("SLO met%"), "{}", run.stdout());
    assert!(
        run.stdout()
            .contains("keeping up and ttft_p95<=0.2,e2e_p99<=5"),
        "{}",
        run.stdout()
    );
    let meta = read_json(&run.dir().join("metadata.json"));
    assert_eq!(meta["slo"], "success>=99,ttft_p95<=0.2,e2e_p99<=5");

    let mut missed = flags.to_vec();
    missed.push("ttft_p95<=0.05");
    let run = redline(&bench_args(&sim, &missed)).await;
    let l = run.level(0);
    assert_eq!(l["verdict"], "FAIL", "{l}");
    assert_eq!(l["saturation_cause"], "latency_objective");
    assert_eq!(l["slo_attainment_pct"], 0.0);
    assert_eq!(l["goodput_qps"], 0.0);
    assert!(
        l["verdict_reason"]
            .as_str()
            .unwrap()
            .contains("TTFT p95 0.10"),
        "{l}"
    );
    // Without objectives the keys are absent, as before.
    let run = redline(&bench_args(&sim, &["--qps", "10", "--duration", "0.5"])).await;
    assert!(run.level(0).get("goodput_qps").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_objectives_are_refused_before_any_request() {
    let run = redline(&bench_args("http://127.0.0.1:9", &["--slo", "ttft<=0.5"])).await;
    assert_eq!(run.code(), Some(1));
    assert!(
        run.stderr().contains("give the percentile"),
        "{}",
        run.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qps_auto_is_alone_and_its_settings_are_checked() {
    for (flags, says) in [
        (vec!["--qps", "auto,5"], "on its own"),
        (
            vec!["--qps", "auto", "--qps-tolerance", "0"],
            "--qps-tolerance",
        ),
        (vec!["--qps", "auto", "--qps-start", "-1"], "--qps-start"),
        (
            vec!["--qps", "auto", "--min-probe-duration", "0"],
            "--min-probe-duration 0",
        ),
        (
            vec!["--qps", "5", "--min-probe-duration", "1"],
            "leave it out with fixed --qps levels",
        ),
    ] {
        let run = redline(&bench_args("http://127.0.0.1:9", &flags)).await;
        assert_eq!(run.code(), Some(1), "{flags:?}");
        assert!(run.stderr().contains(says), "{flags:?}: {}", run.stderr());
    }
    // A space after a comma is accepted, as the reference tool's parsing does.
    let sim = fast_sim(&[]).await;
    let run = redline(&bench_args(&sim, &["--qps", "2, 4", "--duration", "0.5"])).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
}
