//! `redline calibrate` against its own simulator process, and the warning a run gives when asked
//! for more than the saved ceiling. Whether a rate passes depends on the machine, so the tests
//! check the report's shape and the ceiling's use, not speed.

use crate::common::*;

fn redline_with_cache(args: &[&str], cache: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_redline"))
        .args(args)
        .env("XDG_CACHE_HOME", cache)
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibrate_measures_each_rate_against_the_simulators_own_ttft_and_saves_the_result() {
    let cache = tempfile::tempdir().unwrap();
    let path = cache.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        redline_with_cache(
            &[
                "calibrate",
                "--rates",
                "20,40",
                "--duration",
                "0.5",
                "--output-tokens",
                "4",
            ],
            &path,
        )
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let saved = read_json(&cache.path().join("redline/calibration.json"));
    let steps = saved["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    for s in steps {
        assert_eq!(s["success_rate"], 100.0, "{s}");
        // The simulator's own TTFT record was read, so the client's error could be computed.
        assert!(s["ttft_p50_error_ms"].is_number(), "{s}");
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Both rates passed, so the ceiling is above the highest one tried, not at it.
    if steps.iter().all(|s| s["ok"] == true) {
        assert!(
            stdout.contains("at least") && stdout.contains("highest rate tried"),
            "{stdout}"
        );
        assert_eq!(saved["ceiling_is_lower_bound"], true);
    } else {
        assert!(stdout.contains("Client ceiling"), "{stdout}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_above_the_calibrated_ceiling_warns() {
    let cache = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(cache.path().join("redline")).unwrap();
    let saved = r#"{"ceiling_qps": 1.0, "measured_at": "2026-11-27 19:00", "cpus": 2, "output_tokens": 64, "steps": []}"#;
    std::fs::write(cache.path().join("redline/calibration.json"), saved).unwrap();
    let sim = fast_sim(&[]).await;
    let results = tempfile::tempdir().unwrap();
    let dir = results.path().display().to_string();
    let mut args = bench_args(
        &sim,
        &["--qps", "2", "--duration", "0.5", "--results-dir", &dir],
    );
    args.insert(0, "--show-tokens");
    let path = cache.path().to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        redline_with_cache(&a, &path)
    })
    .await
    .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("above this machine's calibrated client ceiling of 1 req/s"),
        "{err}"
    );
}
