//! redline's own sweep against the batching-engine simulator on the real clock: a small engine
//! whose capacity follows from arithmetic (4 slots x 5 ms steps x 10 tokens = 80 requests/s), one
//! level far below it and one far above it.

use crate::common::*;

const SMALL_ENGINE: [&str; 20] = [
    "--max-num-seqs",
    "4",
    "--step-base-ms",
    "5",
    "--step-per-seq-ms",
    "0",
    "--step-per-ctx-token-us",
    "0",
    "--overhead-ms",
    "0",
    "--max-waiting",
    "2",
    "--queue-timeout",
    "none",
    "--jitter",
    "0",
    "--prefill-tps",
    "100000000",
    "--reject-status",
    "503",
];

/// redline's sweep of the small engine: 10-token replies (ignore_eos), at `qps` for `secs` each.
async fn sweep(sim: &str, qps: &str, secs: &str) -> Run {
    redline(&[
        "--endpoint",
        sim,
        "--model",
        "m",
        "--dataset",
        DATASET,
        "--max-tokens",
        "10",
        "--extra-body",
        "{\"ignore_eos\":true}",
        "--qps",
        qps,
        "--duration",
        secs,
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_is_full_below_capacity_and_drops_above_it() {
    let sim = start_sim(&SMALL_ENGINE).await;
    let run = sweep(&sim, "20,300", "1").await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let below = run.level(0);
    let above = run.level(1);
    assert_eq!(below["success_rate"], 100.0, "{below}");
    assert_eq!(below["total_output_tokens"], 200);
    assert!(above["success_rate"].as_f64().unwrap() < 60.0, "{above}");
    assert!(
        above["errors"]["HTTP 503"].as_u64().unwrap() > 100,
        "{above}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_print_config() {
    let sim = start_sim(&SMALL_ENGINE).await;
    let run = redline(&[
        "--endpoint",
        &sim,
        "--model",
        "m",
        "--dataset",
        DATASET,
        "--max-tokens",
        "10",
        "--qps",
        "5",
        "--duration",
        "1",
        // Counted below: only the level's requests, not the preflight's.
        "--no-preflight",
    ])
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let text = reqwest::get(format!("{sim}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "vllm:kv_cache_usage_perc",
        "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total",
        "vllm:time_to_first_token_seconds_count",
    ] {
        assert!(text.contains(name), "{name} in\n{text}");
    }
    let done = text
        .lines()
        .find(|l| l.starts_with("vllm:request_success_total"))
        .unwrap();
    assert!(done.ends_with(" 5"), "{done}");
    let out = tokio::task::spawn_blocking(|| {
        std::process::Command::new(env!("CARGO_BIN_EXE_redline"))
            .args([
                "sim",
                "--profile",
                "llama-3.1-70b-h100",
                "--max-waiting",
                "none",
                "--print-config",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let cfg: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cfg["model"], "engine");
    assert!(cfg["max_waiting"].is_null());
    assert!(cfg["step_base_s"].as_f64().unwrap() > 0.0);
}

/// The engine without a queue limit: overload shows as queueing, not errors. Capacity is
/// 4 slots / (10 tokens x 5 ms) = 80 requests/s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_queues_is_saturated_although_every_request_succeeds() {
    let mut flags = SMALL_ENGINE.to_vec();
    let i = flags.iter().position(|f| *f == "--max-waiting").unwrap();
    flags[i + 1] = "none";
    let sim = start_sim(&flags).await;
    let run = sweep(&sim, "20,40,160", "1.5").await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let json = run.results_json();
    let levels = json["results"].as_array().unwrap();
    for l in levels {
        assert_eq!(l["success_rate"], 100.0, "every request succeeds: {l}");
    }
    assert_eq!(levels[0]["verdict"], "PASS", "{}", levels[0]);
    assert_eq!(levels[1]["verdict"], "PASS", "{}", levels[1]);
    let over = &levels[2];
    assert_eq!(over["verdict"], "FAIL", "{over}");
    assert_eq!(over["saturation_cause"], "queueing");
    assert!(
        over["keep_up"]["served_ratio"].as_f64().unwrap() < 0.75,
        "{over}"
    );
    let s = &json["summary"];
    assert_eq!(
        (
            s["max_sustainable_qps"].as_f64(),
            s["saturation_qps"].as_f64()
        ),
        (Some(40.0), Some(160.0))
    );
    assert_eq!(s["saturation_cause"], "queueing");
    assert!(
        run.stdout()
            .contains("QPS 160.0: FAIL - 100.0% success; queueing: TTFT rose from"),
        "{}",
        run.stdout()
    );
}
