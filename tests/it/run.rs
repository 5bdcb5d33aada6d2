//! The core run, end to end: the real binary against the simulator on 127.0.0.1.
//! Latency checks have a strict lower bound (nothing can be faster than the simulator's configured
//! delay) and a generous upper bound, so they hold on a loaded CI machine.

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measures_known_ttft_and_itl_and_writes_every_reference_key() {
    let sim = start_sim(&["--profile", "fixed", "--ttft-ms", "80", "--itl-ms", "20"]).await;
    let run = redline(&bench_args(
        &sim,
        &[
            "--qps",
            "4",
            "--duration",
            "1",
            "--gpu-rate",
            "2.30",
            "--num-gpus",
            "1",
            "--percentiles",
            "50,99.9",
        ],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let l = run.level(0);
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
        assert!(l.get(k).is_some(), "missing {k}");
    }
    for k in ["p50", "p90", "p95", "p99", "p99.9"] {
        assert!(l["ttft"][k].is_number(), "ttft.{k}");
        assert!(l["e2e_latency"][k].is_number(), "e2e.{k}");
        assert!(l["tokens_per_sec"][k].is_number(), "tok/s.{k}");
    }
    for k in [
        "total_input_tokens",
        "total_output_tokens",
        "total_tokens",
        "gpu_cost",
        "cost_per_million_tokens",
    ] {
        assert!(l["cost_analysis"][k].is_number(), "cost_analysis.{k}");
    }
    assert_eq!(l["requests_scheduled"], 4);
    assert_eq!(l["success_rate"], 100.0);
    assert_eq!(l["actual_qps"], 4.0);
    let ttft = l["ttft"]["p50"].as_f64().unwrap();
    assert!((0.080..0.080 + 0.5).contains(&ttft), "ttft {ttft}");
    let itl = l["itl_s"]["p50"].as_f64().unwrap();
    assert!((0.015..0.020 + 0.2).contains(&itl), "itl {itl}");
    // 16 tokens: E2E >= TTFT + 15 gaps.
    let e2e = l["e2e_latency"]["p50"].as_f64().unwrap();
    assert!(e2e >= 0.080 + 15.0 * 0.020 - 0.001, "e2e {e2e}");
    assert_eq!(l["total_output_tokens"], 64);
    // Records: one per scheduled request, with usage and every timestamp in order.
    let recs = run.records();
    assert_eq!(recs.len(), 4);
    for r in &recs {
        assert_eq!(r["completion_tokens"], 16);
        assert_eq!(r["content_chunks"], 16);
        let t = |k: &str| r[k].as_f64().unwrap();
        assert!(t("planned_s") <= t("sent_s") && t("sent_s") <= t("headers_s"));
        assert!(t("headers_s") <= t("first_token_s") && t("first_token_s") <= t("last_token_s"));
        assert!(t("last_token_s") <= t("end_s"));
    }
    // Console: the reference table and cost column.
    let out = run.stdout();
    assert!(out.contains("QPS BENCHMARK RESULTS"), "{out}");
    assert!(
        out.contains("TTFT P99.9(s)") && out.contains("$/M Tokens"),
        "{out}"
    );
    let meta = read_json(&run.dir().join("metadata.json"));
    for k in [
        "timestamp",
        "endpoint",
        "model",
        "dataset",
        "qps_levels",
        "duration",
        "max_tokens",
        "temperature",
        "percentiles",
        "show_tokens",
        "tool_version",
        "arrival",
        "seed",
        "timeout",
    ] {
        assert!(meta.get(k).is_some(), "metadata.{k}");
    }
    assert_eq!(meta["endpoint"], format!("{sim}/v1/chat/completions"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_level_gets_a_row_and_errors_are_counted_by_kind() {
    let sim = start_sim(&[
        "--profile",
        "fixed",
        "--ttft-ms",
        "5",
        "--itl-ms",
        "1",
        "--failure-rate",
        "1",
        "--failure-status",
        "429",
    ])
    .await;
    let run = redline(&bench_args(&sim, &["--qps", "5,10", "--duration", "0.5"])).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let json = run.results_json();
    let levels = json["results"].as_array().unwrap();
    assert_eq!(levels.len(), 2);
    assert_eq!(levels[0]["errors"]["HTTP 429"], 3);
    assert_eq!(levels[1]["errors"]["HTTP 429"], 5);
    assert_eq!(levels[1]["success_rate"], 0.0);
    assert!(levels[1]["ttft"]["p50"].is_null());
    let out = run.stdout();
    assert!(
        out.contains("QPS 10.0 - Errors (5 total):\n  - HTTP 429: 5 occurrences"),
        "{out}"
    );
    let rec = &run.records()[0];
    assert_eq!(rec["error"], "HTTP 429");
    assert_eq!(rec["error_detail"], "simulated failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_key_is_sent_but_never_written() {
    let key = "sk-redline-test-0123456789-DO-NOT-LEAK";
    let sim = fast_sim(&[]).await;
    let run = redline(&bench_args(
        &sim,
        &["--qps", "4", "--duration", "0.5", "--api-key", key],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert!(!run.stdout().contains(key) && !run.stderr().contains(key));
    for entry in std::fs::read_dir(run.dir()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(key));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poisson_arrivals_are_reproducible_with_a_seed() {
    let sim = fast_sim(&["--output-tokens", "2"]).await;
    let args = bench_args(
        &sim,
        &[
            "--qps",
            "20",
            "--duration",
            "1",
            "--arrival",
            "poisson",
            "--seed",
            "7",
        ],
    );
    let (a, b) = (redline(&args).await, redline(&args).await);
    let planned = |r: &Run| {
        let mut v: Vec<f64> = r
            .records()
            .iter()
            .map(|x| x["planned_s"].as_f64().unwrap())
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    assert_eq!(planned(&a), planned(&b));
    assert_eq!(planned(&a).len(), 20, "exactly qps x duration arrivals");
    assert_eq!(read_json(&a.dir().join("metadata.json"))["seed"], 7);
    assert_eq!(
        read_json(&a.dir().join("metadata.json"))["arrival"],
        "poisson"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_cap_records_refused_arrivals_instead_of_dropping_them() {
    // Each reply takes ~0.3 s; 20 QPS with a cap of 2 must refuse most arrivals.
    let sim = start_sim(&[
        "--profile",
        "fixed",
        "--ttft-ms",
        "300",
        "--itl-ms",
        "1",
        "--output-tokens",
        "1",
    ])
    .await;
    let run = redline(&bench_args(
        &sim,
        &["--qps", "20", "--duration", "0.5", "--max-concurrency", "2"],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let l = run.level(0);
    let limited = l["errors"]["Client concurrency limit"].as_u64().unwrap();
    assert!(limited > 0);
    assert_eq!(l["requests_scheduled"], 10);
    assert_eq!(l["requests_sent"].as_u64().unwrap() + limited, 10);
    assert_eq!(l["client_side_errors"].as_u64().unwrap(), limited);
    assert_eq!(run.records().len(), 10);
    assert!(run.stdout().contains("client-side"), "{}", run.stdout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_request_timeout_is_a_timeout_error() {
    let sim = start_sim(&["--profile", "fixed", "--ttft-ms", "5000", "--itl-ms", "1"]).await;
    let run = redline(&bench_args(
        &sim,
        &["--qps", "2", "--duration", "0.5", "--timeout", "0.3"],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert_eq!(run.level(0)["errors"]["Timeout"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_is_a_connection_error() {
    let (_bound, port) = refused_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    // The preflight request finds nothing listening: the run stops before it measures anything.
    let run = redline(&bench_args(
        &endpoint,
        &["--qps", "2,4", "--duration", "0.5"],
    ))
    .await;
    assert_eq!(run.code(), Some(1), "{}", run.stderr());
    assert!(
        run.stderr().contains("Connection refused")
            && run.stderr().contains("nothing accepted the connection"),
        "{}",
        run.stderr()
    );
    assert_eq!(run.run_dirs(), 0);
    // Without it, the first level records the refusal and the run stops there, saying why.
    let run = redline(&bench_args(
        &endpoint,
        &["--qps", "2,4", "--duration", "0.5", "--no-preflight"],
    ))
    .await;
    assert_eq!(run.code(), Some(1), "{}", run.stderr());
    assert_eq!(run.level(0)["errors"]["Connection error"], 1);
    assert!(
        run.results_json()["results"].get(1).is_none(),
        "stopped after the first level"
    );
    assert!(
        run.stderr().contains("stopped after QPS 2.0: every request failed with Connection error (1 requests): cannot connect"),
        "{}",
        run.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_url_forms_are_completed() {
    let sim = fast_sim(&[]).await;
    for endpoint in [format!("{sim}/v1"), format!("{sim}/v1/chat/completions")] {
        let run = redline(&bench_args(&endpoint, &["--qps", "2", "--duration", "0.5"])).await;
        assert_eq!(run.level(0)["success_rate"], 100.0, "{endpoint}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gamma_arrivals_and_a_ramp_up_shape_the_schedule() {
    let sim = fast_sim(&["--output-tokens", "2"]).await;
    let planned = |r: &Run| {
        let mut v: Vec<f64> = r
            .records()
            .iter()
            .map(|x| x["planned_s"].as_f64().unwrap())
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let cv = |t: &[f64]| {
        let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        var.sqrt() / mean
    };
    let gamma = |b: &'static str| {
        bench_args(
            &sim,
            &[
                "--qps",
                "100",
                "--duration",
                "4",
                "--arrival",
                "gamma",
                "--burstiness",
                b,
                "--seed",
                "3",
            ],
        )
    };
    let ramp_args = bench_args(&sim, &["--qps", "10", "--duration", "4", "--ramp-up", "2"]);
    let (bursty, smooth, ramp) = (gamma("0.25"), gamma("4"), ramp_args);
    let (bursty, smooth, ramp) = tokio::join!(redline(&bursty), redline(&smooth), redline(&ramp));
    for run in [&bursty, &smooth] {
        assert_eq!(run.code(), Some(0), "{}", run.stderr());
        assert_eq!(run.level(0)["requests_scheduled"], 400);
    }
    assert!(cv(&planned(&bursty)) > 1.5 && cv(&planned(&smooth)) < 0.75);
    let meta = read_json(&bursty.dir().join("metadata.json"));
    assert_eq!(
        (meta["arrival"].as_str(), meta["burstiness"].as_f64()),
        (Some("gamma"), Some(0.25))
    );

    // 10 req/s for 4 s with a 2 s ramp: 10 x (4 - 1) = 30 requests, 10 of them in the ramp.
    assert_eq!(ramp.code(), Some(0), "{}", ramp.stderr());
    let t = planned(&ramp);
    assert_eq!(t.len(), 30);
    assert_eq!(t.iter().filter(|&&x| x < 2.0).count(), 10);
    let bad = redline(&bench_args(&sim, &["--burstiness", "0.5"])).await;
    assert!(bad.stderr().contains("--arrival gamma"), "{}", bad.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_completions_api_and_reasoning_replies_are_measured() {
    // /v1/completions: the base URL is completed to it, and text chunks are the output.
    let sim = fast_sim(&["--output-tokens", "4"]).await;
    let run = redline(&bench_args(
        &sim,
        &["--qps", "8", "--duration", "0.5", "--api", "completions"],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let l = run.level(0);
    assert_eq!(l["success_rate"], 100.0, "{l}");
    assert_eq!(run.records()[0]["content_chunks"], 4);
    assert!(read_json(&run.dir().join("metadata.json"))["endpoint"]
        .as_str()
        .unwrap()
        .ends_with("/v1/completions"));
    // A reasoning model: 3 reasoning tokens 10 ms apart before the answer, 50 ms to the first.
    let sim = start_sim(&[
        "--profile",
        "fixed",
        "--ttft-ms",
        "50",
        "--itl-ms",
        "10",
        "--output-tokens",
        "6",
        "--reasoning-tokens",
        "3",
    ])
    .await;
    let run = redline(&bench_args(&sim, &["--qps", "8", "--duration", "0.5"])).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let l = run.level(0);
    let (reasoning, answer, ttft) = (
        l["ttft_reasoning_s"]["p50"].as_f64().unwrap(),
        l["ttft_answer_s"]["p50"].as_f64().unwrap(),
        l["ttft"]["p50"].as_f64().unwrap(),
    );
    // The first output token of either kind is the TTFT; the answer comes 3 tokens later.
    assert_eq!(reasoning, ttft);
    assert!(answer > reasoning, "{l}");
    let r = &run.records()[0];
    assert!(r["first_answer_s"].as_f64().unwrap() > r["first_reasoning_s"].as_f64().unwrap());
    // Without reasoning the keys are absent.
    let plain = fast_sim(&[]).await;
    let run = redline(&bench_args(&plain, &["--qps", "8", "--duration", "0.3"])).await;
    assert!(run.level(0).get("ttft_reasoning_s").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_levels_keep_n_requests_in_flight_and_never_more() {
    // Replies of ~100 ms (20 ms to the first of 9 tokens, 10 ms apart).
    let sim = start_sim(&[
        "--profile",
        "fixed",
        "--ttft-ms",
        "20",
        "--itl-ms",
        "10",
        "--output-tokens",
        "9",
    ])
    .await;
    let run = redline(&bench_args(
        &sim,
        &["--concurrency", "1,4", "--duration", "1.5"],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let json = run.results_json();
    for (i, n) in [(0usize, 1usize), (1, 4)] {
        let l = &json["results"][i];
        assert_eq!(l["concurrency"], n, "{l}");
        assert_eq!(l["success_rate"], 100.0);
        let recs: Vec<serde_json::Value> = run
            .records()
            .into_iter()
            .filter(|r| r["level"] == i)
            .collect();
        // In flight over time, from each request's send to its end.
        let mut events: Vec<(f64, i32)> = recs
            .iter()
            .flat_map(|r| {
                [
                    (r["sent_s"].as_f64().unwrap(), 1),
                    (r["end_s"].as_f64().unwrap(), -1),
                ]
            })
            .collect();
        events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let (mut now, mut max, mut busy, mut last) = (0i32, 0i32, 0.0, 0.0);
        for (t, d) in &events {
            busy += f64::from(now) * (t - last);
            last = *t;
            now += d;
            max = max.max(now);
        }
        assert!(max as usize <= n, "level {i}: {max} in flight");
        // N busy: the mean in flight over the level is N, less the gaps between a reply's end
        // and the next send.
        let mean = busy / last;
        assert!(mean >= 0.95 * n as f64, "level {i}: mean {mean} in flight");
        // The achieved rate is the level's QPS: about N / 0.1 s.
        assert!(l["actual_qps"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(json["summary"]["max_sustainable_concurrency"], 4);
    assert!(
        run.stdout().contains("Maximum sustainable concurrency: 4"),
        "{}",
        run.stdout()
    );
    // redline report rebuilds the same JSON from the records.
    assert!(re_reports_identically(&run.dir()));
}
