//! The workloads beyond a dataset, from the CLI against the simulator on 127.0.0.1: token-exact
//! `--synthetic` prompts (measured by the tokenizer the simulator also counts with), multi-turn
//! `--sessions` (later turns carry the real previous reply, and are faster on the prefix-cached
//! simulator), and `--trace` replay on the trace's own timestamps.

use crate::common::*;
use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

fn data(file: &str) -> String {
    format!("{}/data/{file}", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synthetic_prompts_have_their_length_by_the_simulators_tokenizer() {
    let sim = start_sim(&[
        "--profile",
        "fixed",
        "--ttft-ms",
        "1",
        "--itl-ms",
        "1",
        "--tokenizer",
        TOKENIZER,
    ])
    .await;
    let run = redline(&[
        "--endpoint",
        &sim,
        "--model",
        "redline-sim",
        "--synthetic",
        "input=1024,output=16,prefix=256,prefixes=4",
        "--tokenizer",
        TOKENIZER,
        "--qps",
        "20",
        "--duration",
        "1",
        "--seed",
        "3",
    ])
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert!(
        run.stderr().contains("token-exact by the tokenizer"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr()
            .contains("pinned with max_tokens and ignore_eos"),
        "{}",
        run.stderr()
    );
    // The simulator counts each message's tokens + 4 (its chat template): 1,028 for a 1,024-token
    // prompt, within 1% of the target by the same tokenizer.
    for r in run.records() {
        assert_eq!(r["requested_input_tokens"], 1024);
        let measured = r["prompt_tokens"].as_f64().unwrap();
        assert_eq!(measured, 1028.0, "{r}");
        assert!((measured - 1024.0).abs() / 1024.0 < 0.01);
        assert_eq!(
            r["completion_tokens"], 16,
            "ignore_eos pins the reply length"
        );
    }
    let lengths = &run.level(0)["token_lengths"];
    assert_eq!(lengths["input"]["requested_mean"], 1024.0);
    assert_eq!(lengths["input"]["measured_mean"], 1028.0);
    assert_eq!(lengths["output"]["mean_error_pct"], 0.0);
    assert!(
        run.stdout().contains("input 1024.0 -> 1028.0 (+0.4%)"),
        "{}",
        run.stdout()
    );
    let meta = read_json(&run.dir().join("metadata.json"));
    assert_eq!(meta["synthetic"]["prefix"], 256);
    assert_eq!(meta["tokenizer"]["vocab_size"], 2048);
    assert_eq!(meta["tokenizer"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(meta["ignore_eos"], true);
    assert!(re_reports_identically(&run.dir()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_tokenizer_lengths_are_approximate_and_the_run_says_so() {
    let sim = fast_sim(&[]).await;
    let run = redline(&[
        "--endpoint",
        &sim,
        "--model",
        "redline-sim",
        "--synthetic",
        "input=100,output=4,output_std=1",
        "--ignore-eos",
        "off",
        "--qps",
        "10",
        "--duration",
        "0.5",
    ])
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert!(
        run.stderr().contains("lengths approximate"),
        "{}",
        run.stderr()
    );
    let meta = read_json(&run.dir().join("metadata.json"));
    assert!(meta.get("tokenizer").is_none() && meta.get("ignore_eos").is_none());
    // Without a tokenizer, 100 tokens are 400 characters: the simulator's rule counts 100 + 4.
    for r in run.records() {
        assert_eq!(r["prompt_tokens"], 104, "{r}");
    }
}

/// A chat endpoint that records every request's messages and answers request n with "reply-n".
fn recording_endpoint() -> (Router, Arc<Mutex<Vec<Value>>>) {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let s = seen.clone();
    let chat = move |body: Bytes| {
        let s = s.clone();
        async move {
            let v: Value = serde_json::from_slice(&body).unwrap_or_default();
            let n = {
                let mut seen = s.lock().unwrap();
                seen.push(v["messages"].clone());
                seen.len() - 1
            };
            let chunk = json!({"choices": [{"delta": {"content": format!("reply-{n}")}}]});
            let usage =
                json!({"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 1}});
            Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "text/event-stream")
                .body(Body::from(format!(
                    "data: {chunk}\n\ndata: {usage}\n\ndata: [DONE]\n\n"
                )))
                .unwrap()
        }
    };
    let router = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", get(|| async { "{}" }));
    (router, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_session_turn_carries_the_real_previous_replies() {
    let (router, seen) = recording_endpoint();
    let endpoint = start_fake(router).await;
    // Four conversations of three user turns, with recorded replies the run must not send.
    let dir = tempfile::tempdir().unwrap();
    let dataset = dir.path().join("three-turns.json");
    let turns = |i: usize| {
        json!({"prompt_content": format!("System {i}."), "cut_chat_history": [
            {"role": "user", "content": format!("First question {i}")},
            {"role": "assistant", "content": "recorded reply"},
            {"role": "user", "content": format!("Second question {i}")},
            {"role": "assistant", "content": "recorded reply"},
            {"role": "user", "content": format!("Third question {i}")},
        ]})
    };
    std::fs::write(
        &dataset,
        json!((0..4).map(turns).collect::<Vec<_>>()).to_string(),
    )
    .unwrap();
    let run = redline(&[
        "--endpoint",
        &endpoint,
        "--model",
        "m",
        "--dataset",
        &dataset.display().to_string(),
        "--sessions",
        "--think-time",
        "0.05",
        "--qps",
        "4",
        "--duration",
        "1",
        // Every request the endpoint sees is then a session's turn.
        "--no-preflight",
    ])
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let records = run.records();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(records.len(), seen.len());
    // Request n was answered "reply-n". Every assistant message sent is such a reply (the
    // dataset's recorded replies are replaced), and the request it answered is exactly the history
    // before it: the session's previous turn, then its real reply, then the next user turn.
    let mut carried = 0;
    for msgs in &seen {
        let msgs = msgs.as_array().unwrap();
        for (j, m) in msgs
            .iter()
            .enumerate()
            .filter(|(_, m)| m["role"] == "assistant")
        {
            let text = m["content"].as_str().unwrap();
            let n: usize = text
                .strip_prefix("reply-")
                .unwrap_or_else(|| panic!("{text}"))
                .parse()
                .unwrap();
            assert_eq!(
                seen[n].as_array().unwrap()[..],
                msgs[..j],
                "history before {text}"
            );
            assert_eq!(msgs[j + 1]["role"], "user");
            carried += 1;
        }
    }
    // 4 sessions x 2 later turns, the third carrying two replies: 12.
    assert_eq!(carried, 12);
    assert_eq!(records.len(), 12);
    for r in &records {
        assert_eq!(r["session_turns"], 3);
    }
    let level = run.level(0);
    let sessions = &level["sessions"];
    assert_eq!(sessions["sessions"], 4);
    assert_eq!(sessions["completed"], 4);
    assert!(sessions["by_turn"].as_array().unwrap().len() >= 2);
    assert_eq!(level["qps_target"], 4.0);
    assert!(re_reports_identically(&run.dir()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_turns_are_faster_on_the_prefix_cached_simulator() {
    // Slow prefill (5,000 tokens/s) and no API-server delay, so that prompt processing shows: a
    // 1,200-token first turn takes 0.24 s to prefill; a later turn adds 200 new tokens and the
    // previous reply.
    let sim = start_sim(&[
        "--prefix-caching",
        "--prefill-tps",
        "5000",
        "--overhead-ms",
        "0",
        "--tokenizer",
        TOKENIZER,
    ])
    .await;
    let run = redline(&[
        "--endpoint",
        &sim,
        "--model",
        "redline-sim",
        "--synthetic",
        "input=1200,output=16,prefix=1000,prefixes=1000,turns=3",
        "--sessions",
        "--tokenizer",
        TOKENIZER,
        "--qps",
        "2",
        "--duration",
        "2",
    ])
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let level = run.level(0);
    let turns = level["sessions"]["by_turn"].as_array().unwrap().clone();
    assert_eq!(turns.len(), 3);
    let ttft = |t: &Value| t["ttft"]["p50"].as_f64().unwrap();
    let input = |t: &Value| t["input_tokens_mean"].as_f64().unwrap();
    // Later turns send the whole history (more tokens every turn) ...
    assert!(input(&turns[1]) > input(&turns[0]) + 200.0 + 16.0);
    assert!(input(&turns[2]) > input(&turns[1]) + 200.0 + 16.0);
    // ... yet answer faster, since all but the new turn is cached: at most half the first
    // turn's TTFT, where prefilling the whole history would take longer than the first turn.
    for t in &turns[1..] {
        assert!(ttft(t) < ttft(&turns[0]) * 0.5, "{turns:?}");
    }
    let metrics = reqwest::get(format!("{sim}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counter = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap()
    };
    let (hits, queries) = (
        counter("vllm:prefix_cache_hits_total"),
        counter("vllm:prefix_cache_queries_total"),
    );
    // First turns find nothing (each session has its own prefix); later turns find their
    // history: more than half of all prompt tokens.
    assert!(hits > 0.5 * queries, "hits {hits} of {queries}");
    // Each reply's usage says how many of its prompt tokens the cache served, and the level's
    // hit rate is those over every prompt token it sent: the server's own counters, less what
    // the preflight and any request still running when the level ended sent.
    let cache = &level["prompt_cache"];
    assert_eq!(
        cache["prompt_tokens"], level["total_input_tokens"],
        "{cache}"
    );
    let served = cache["cached_tokens"].as_f64().unwrap();
    assert!(
        served > 0.5 * cache["prompt_tokens"].as_f64().unwrap() && served <= hits,
        "{cache}"
    );
    assert!(
        run.stdout().contains("prefix cache served"),
        "{}",
        run.stdout()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_replays_on_its_own_timestamps() {
    let sim = fast_sim(&[]).await;
    let replay = |trace: String| {
        let sim = sim.clone();
        async move {
            let args = [
                "--endpoint",
                &sim,
                "--model",
                "redline-sim",
                "--trace",
                &trace,
                "--trace-speed",
                "5",
            ];
            redline(&args).await
        }
    };
    // The two traces side by side.
    let runs = tokio::join!(
        replay(data("trace-mooncake.jsonl")),
        replay(data("trace.csv"))
    );
    for ((file, n, format), run) in [
        ("trace-mooncake.jsonl", 60, "mooncake"),
        ("trace.csv", 40, "csv"),
    ]
    .into_iter()
    .zip([runs.0, runs.1])
    {
        let trace = data(file);
        assert_eq!(run.code(), Some(0), "{file}: {}", run.stderr());
        let records = run.records();
        assert_eq!(records.len(), n, "{file}");
        // Request i is planned at its trace time (from the first), divided by the speed.
        let text = std::fs::read_to_string(&trace).unwrap();
        let mut times: Vec<f64> = text
            .lines()
            .filter_map(|l| match format {
                "mooncake" => serde_json::from_str::<Value>(l).ok()?["timestamp"].as_f64(),
                _ => l.split(',').next()?.parse().ok(),
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let mut planned: Vec<(u64, f64)> = records
            .iter()
            .map(|r| {
                (
                    r["index"].as_u64().unwrap(),
                    r["planned_s"].as_f64().unwrap(),
                )
            })
            .collect();
        planned.sort_by_key(|p| p.0);
        for (i, (_, p)) in planned.iter().enumerate() {
            let want = (times[i] - times[0]) / 1000.0 / 5.0;
            assert!((p - want).abs() < 2e-6, "{file} request {i}: {p} vs {want}");
        }
        let level = run.level(0);
        assert_eq!(level["success_rate"], 100.0, "{file}");
        // That an idle client keeps the trace's schedule (not client-limited) is asserted in
        // tests/quiet, where nothing else runs beside it.
        assert_eq!(level["requests_scheduled"], n);
        let meta = read_json(&run.dir().join("metadata.json"));
        assert_eq!(meta["trace"]["format"], format);
        assert_eq!(meta["trace"]["requests"], n);
        // The trace sets the window: metadata says it, not the default --duration.
        assert!(meta["duration"].as_f64().is_some_and(|d| d > 0.0), "{meta}");
        assert_eq!(meta["duration"], meta["levels"][0]["duration_s"], "{meta}");
        // Reply lengths come from the trace.
        assert!(records
            .iter()
            .all(|r| r["requested_output_tokens"] == r["completion_tokens"]));
        assert!(re_reports_identically(&run.dir()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_workload_flags_are_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let bad_trace = dir.path().join("t.jsonl");
    std::fs::write(&bad_trace, "{\"timestamp\": 0, \"input_length\": 5}\n").unwrap();
    let bad_trace = bad_trace.display().to_string();
    let e = "http://127.0.0.1:9";
    for (args, says) in [
        (vec!["--synthetic", "input=10"], "--synthetic needs output="),
        (
            vec!["--synthetic", "input=10,output=2,turns=3"],
            "add --sessions",
        ),
        (
            vec![
                "--synthetic",
                "input=10,output=2",
                "--tokenizer",
                "/nonexistent/t.json",
            ],
            "--tokenizer /nonexistent/t.json: no such file",
        ),
        (
            vec!["--trace", "/nonexistent/trace.jsonl"],
            "cannot read trace /nonexistent/trace.jsonl",
        ),
        (
            vec!["--trace", &bad_trace],
            "line 1: not a Mooncake trace line",
        ),
        (
            vec!["--trace", DATASET],
            "a dataset of conversations goes to --dataset",
        ),
        (
            vec!["--dataset", DATASET, "--concurrency", "4", "--ramp-up", "1"],
            "leave out --arrival and --ramp-up",
        ),
        (
            vec![
                "--dataset",
                DATASET,
                "--concurrency",
                "4",
                "--max-concurrency",
                "2",
            ],
            "leave out --max-concurrency",
        ),
        (
            vec!["--trace", &bad_trace, "--sessions"],
            "--sessions cannot replay a --trace",
        ),
        (
            vec!["--dataset", DATASET, "--think-time", "2"],
            "add --sessions",
        ),
        (
            vec!["--dataset", DATASET, "--trace-speed", "2"],
            "add --trace FILE",
        ),
    ] {
        let mut full = vec!["--endpoint", e, "--model", "m"];
        full.extend(args.iter().copied());
        let run = redline(&full).await;
        assert_eq!(run.code(), Some(1), "{args:?}: {}", run.stderr());
        assert!(run.stderr().contains(says), "{args:?}: {}", run.stderr());
        assert_eq!(run.run_dirs(), 0, "{args:?}: nothing written");
    }
    // Two sources at once is a usage error.
    let run = redline(&[
        "--endpoint",
        e,
        "--model",
        "m",
        "--dataset",
        DATASET,
        "--synthetic",
        "input=1,output=1",
    ])
    .await;
    assert_eq!(run.code(), Some(2), "{}", run.stderr());
}
