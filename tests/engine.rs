//! redline's own sweep against the batching-engine simulator on the real clock: a small engine
//! whose capacity follows from arithmetic (4 slots x 5 ms steps x 10 tokens = 80 requests/s), one
//! level far below it and one far above it.

mod common;
use common::*;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_is_full_below_capacity_and_drops_above_it() {
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
        "--extra-body",
        "{\"ignore_eos\":true}",
        "--qps",
        "20,300",
        "--duration",
        "1",
    ])
    .await;
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
