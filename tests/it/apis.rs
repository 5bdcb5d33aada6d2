//! The APIs redline speaks besides chat (`--api`): the Responses API and the Anthropic Messages
//! API against the simulator, which serves them from the same engine, so their figures match
//! chat's; embeddings and rerank batches; the Anthropic key in `x-api-key` with `anthropic-version`; and a wrong `--api` stopped
//! at preflight, naming what the server seems to speak; and a `--qps auto` search under every API.

use crate::common::*;
use axum::http::HeaderMap;
use std::sync::{Arc, Mutex};

#[tokio::test(flavor = "multi_thread")]
async fn every_api_measures_the_same_engine_with_the_same_tokens() {
    let sim = start_sim(&["--profile", "fixed", "--ttft-ms", "20", "--itl-ms", "2"]).await;
    let mut totals = Vec::new();
    for api in ["chat", "responses", "anthropic"] {
        let run = redline(&bench_args(
            &sim,
            &["--api", api, "--qps", "10,20", "--duration", "1"],
        ))
        .await;
        assert_eq!(run.code(), Some(0), "--api {api}: {}", run.stderr());
        let json = run.results_json();
        for l in json["results"].as_array().unwrap() {
            assert_eq!(l["success_rate"], 100.0, "--api {api}: {l}");
            assert_eq!(l["requests_without_usage"], 0, "--api {api}: usage read");
            // The simulator streams one token per event: what the client counts is what it bills.
            let counted = &l["output_tokens_counted"];
            assert_eq!(
                counted["streamed_text_events"], counted["billed_output_tokens"],
                "--api {api}"
            );
            assert_eq!(counted["mismatch_pct"], 0.0);
            // TTFT is the first token the engine sent, 20 ms after the request.
            let ttft = l["ttft"]["p50"].as_f64().unwrap();
            assert!((0.02..0.5).contains(&ttft), "--api {api}: {ttft}");
        }
        let tokens: Vec<(u64, u64)> = json["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["total_input_tokens"].as_u64().unwrap(),
                    l["total_output_tokens"].as_u64().unwrap(),
                )
            })
            .collect();
        let meta = read_json(&run.dir().join("metadata.json"));
        // metadata.json names any API but the reference tool's chat.
        let named = if api == "chat" {
            serde_json::Value::Null
        } else {
            api.into()
        };
        assert_eq!(meta["api"], named);
        totals.push(tokens);
    }
    // The same prompts and replies, whichever API carried them.
    assert_eq!(totals[0], totals[1]);
    assert_eq!(totals[0], totals[2]);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_api_runs_a_capacity_search() {
    let sim = start_sim(&["--profile", "fixed", "--ttft-ms", "20", "--itl-ms", "2"]).await;
    for api in ["chat", "responses", "anthropic", "embeddings", "rerank"] {
        let mut flags = vec!["--api", api];
        flags.extend(short_search("2"));
        let run = redline(&bench_args(&sim, &flags)).await;
        assert_eq!(run.code(), Some(0), "--api {api}: {}", run.stderr());
        let json = run.results_json();
        // A fixed-latency endpoint keeps up with every probe: the search climbs until its budget.
        let search = &json["summary"]["search"];
        assert!(
            search["probes"].as_u64().unwrap() >= 2,
            "--api {api}: {search}"
        );
        for l in json["results"].as_array().unwrap() {
            assert_eq!(l["success_rate"], 100.0, "--api {api}: {l}");
            assert!(l["total_input_tokens"].as_u64().unwrap() > 0, "--api {api}");
        }
        assert!(
            run.stdout().contains("Capacity (--qps auto): "),
            "--api {api}: {}",
            run.stdout()
        );
        let meta = read_json(&run.dir().join("metadata.json"));
        assert_eq!(meta["search"]["start_qps"], 20.0, "--api {api}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_anthropic_key_goes_in_x_api_key_with_a_version() {
    let seen: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap| {
        s.lock().unwrap().push(headers);
        async { (axum::http::StatusCode::NOT_FOUND, "no") }
    });
    let base = start_fake(app).await;
    let run = redline_with_env(
        &bench_args(
            &base,
            &[
                "--api",
                "anthropic",
                "--api-key-env",
                "ANTH_KEY",
                "--qps",
                "1",
                "--duration",
                "1",
            ],
        ),
        &[("ANTH_KEY", "sk-ant-test-key")],
    )
    .await;
    assert_eq!(run.code(), Some(1), "{}", run.stderr());
    let headers = seen.lock().unwrap();
    let first = headers.first().expect("a request");
    assert_eq!(first["x-api-key"], "sk-ant-test-key");
    assert_eq!(first["anthropic-version"], "2023-06-01");
    assert!(first.get("authorization").is_none());
    assert!(!run.stderr().contains("sk-ant-test-key"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_api_stops_at_preflight_naming_what_the_server_speaks() {
    // A server of chat completions only.
    let sim = fast_sim(&[]).await;
    let chat = format!("{sim}/v1/chat/completions");
    // llama.cpp's server answers 501 on the paths it was not started to serve.
    let not_served = |what: &'static str| {
        axum::routing::post(move || async move {
            let message = format!("This server does not support {what}. Start it with `--{what}`");
            (
                axum::http::StatusCode::NOT_IMPLEMENTED,
                axum::Json(serde_json::json!({"error": {"code": 501, "message": message}})),
            )
        })
    };
    let only_chat = axum::Router::new()
        .route("/v1/embeddings", not_served("embeddings"))
        .route("/v1/rerank", not_served("reranking"))
        .route(
            "/v1/chat/completions",
            axum::routing::post(move |body: String| {
                let chat = chat.clone();
                async move {
                    let r = reqwest::Client::new()
                        .post(chat)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    let status = r.status().as_u16();
                    let bytes = r.bytes().await.unwrap();
                    (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        [("content-type", "text/event-stream")],
                        bytes,
                    )
                }
            }),
        );
    let base = start_fake(only_chat).await;
    for api in ["responses", "anthropic", "embeddings", "rerank"] {
        let run = redline(&bench_args(
            &base,
            &["--api", api, "--qps", "1", "--duration", "1"],
        ))
        .await;
        assert_eq!(run.code(), Some(1), "{}", run.stderr());
        let err = run.stderr();
        assert!(err.contains(&format!("--api {api}")), "{err}");
        assert!(
            err.contains("seems to speak chat/completions (--api chat)"),
            "{err}"
        );
        if ["embeddings", "rerank"].contains(&api) {
            assert!(
                err.contains("HTTP 501") && err.contains("does not serve --api's requests there"),
                "{err}"
            );
        }
    }
    // A path of one API given with another --api is refused before anything is sent.
    let run = redline(&bench_args(&format!("{base}/v1/messages"), &["--qps", "1"])).await;
    assert_eq!(run.code(), Some(1));
    assert!(
        run.stderr().contains("add --api anthropic"),
        "{}",
        run.stderr()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reasoning_is_split_from_the_answer_and_counted_from_usage_under_each_api() {
    let sim = start_sim(&[
        "--profile",
        "fixed",
        "--ttft-ms",
        "20",
        "--itl-ms",
        "2",
        "--reasoning-tokens",
        "4",
    ])
    .await;
    for api in ["chat", "responses", "anthropic"] {
        let run = redline(&bench_args(
            &sim,
            &["--api", api, "--qps", "10", "--duration", "1"],
        ))
        .await;
        assert_eq!(run.code(), Some(0), "--api {api}: {}", run.stderr());
        let l = run.level(0);
        // The token check it announced says why it counted no reply.
        assert!(
            run.stderr()
                .contains("each carried reasoning or a tool call"),
            "--api {api}: {}",
            run.stderr()
        );
        // The answer starts after the 4 reasoning tokens, whatever the API.
        let reasoning = l["ttft_reasoning_s"]["p50"].as_f64().unwrap();
        let answer = l["ttft_answer_s"]["p50"].as_f64().unwrap();
        assert!(answer > reasoning, "--api {api}: {l}");
        // Chat and the Responses API count reasoning tokens in their usage; Anthropic's does not.
        let counted = l["reasoning_tokens"].as_u64();
        let succeeded = l["requests_succeeded"].as_u64().unwrap();
        match api {
            "anthropic" => assert_eq!(counted, None, "{l}"),
            _ => assert_eq!(counted, Some(4 * succeeded), "--api {api}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn embeddings_and_rerank_batch_their_inputs_and_report_them_per_second() {
    let sim = start_sim(&["--profile", "fixed", "--ttft-ms", "20", "--itl-ms", "2"]).await;
    for (api, column, reply) in [
        ("embeddings", "Inputs/s", "an embeddings reply"),
        ("rerank", "Docs/s", "a rerank reply"),
    ] {
        let mut tokens = Vec::new();
        for batch in ["1", "4"] {
            let flags = [
                "--api",
                api,
                "--batch-size",
                batch,
                "--qps",
                "10,20",
                "--duration",
                "1",
                "--plot",
                "--html",
            ];
            let run = redline(&bench_args(&sim, &flags)).await;
            let what = format!("--api {api} --batch-size {batch}");
            assert_eq!(run.code(), Some(0), "{what}: {}", run.stderr());
            let n: f64 = batch.parse().unwrap();
            for l in run.results_json()["results"].as_array().unwrap() {
                assert_eq!(l["success_rate"], 100.0);
                let e = &l[api];
                assert_eq!(e["batch_size"], n as u64, "{what}: {l}");
                // Every input (document) of every success, per second of the level, over the
                // same seconds as the input tokens beside it.
                let inputs = e["inputs"].as_f64().unwrap();
                assert_eq!(inputs, n * l["requests_succeeded"].as_f64().unwrap());
                let duration = l["duration_s"].as_f64().unwrap();
                assert_eq!(e["inputs_per_s"].as_f64().unwrap(), inputs / duration);
                let tokens = l["total_input_tokens"].as_f64().unwrap();
                assert_eq!(e["input_tokens_per_s"].as_f64().unwrap(), tokens / duration);
                assert_eq!(l["total_output_tokens"], 0);
            }
            // The console shows inputs per second where a chat run shows tokens per second.
            assert!(run.stdout().contains(column), "{what}: {}", run.stdout());
            assert!(!run.stdout().contains("TTFT P50"), "{}", run.stdout());
            let page = std::fs::read_to_string(run.dir().join("benchmark_qps.html")).unwrap();
            assert!(page.contains(&format!("does not apply: {reply} comes whole")));
            tokens.push(run.level(0)["total_input_tokens"].as_u64().unwrap());
        }
        // Four inputs a request: about four times the prompt tokens at the same rate.
        assert!(tokens[1] > 3 * tokens[0], "--api {api}: {tokens:?}");
    }
    let run = redline(&bench_args(&sim, &["--batch-size", "4", "--qps", "1"])).await;
    assert_eq!(run.code(), Some(1));
    assert!(
        run.stderr()
            .contains("--batch-size applies to --api embeddings and rerank only"),
        "{}",
        run.stderr()
    );
    // What shapes a generated reply is refused where none is generated, not recorded as applied.
    for (flags, says) in [
        (
            &["--max-tokens", "32"][..],
            "--max-tokens: an --api embeddings request",
        ),
        (
            &["--temperature", "0.3"][..],
            "--temperature: an --api embeddings request",
        ),
        (
            &["--no-stream-usage"][..],
            "--no-stream-usage: an --api embeddings request",
        ),
    ] {
        let mut args = vec!["--endpoint", &sim, "--model", "m", "--dataset", DATASET];
        args.extend(["--api", "embeddings", "--qps", "1"]);
        args.extend_from_slice(flags);
        let run = redline(&args).await;
        assert_eq!(run.code(), Some(1), "{flags:?}");
        assert!(run.stderr().contains(says), "{}", run.stderr());
        assert_eq!(run.run_dirs(), 0, "nothing written");
    }
    let synthetic = [
        "--api",
        "rerank",
        "--synthetic",
        "input=64,output=8",
        "--qps",
        "1",
    ];
    let args = ["--endpoint", &sim, "--model", "m", "--tokenizer", TOKENIZER];
    let run = redline(&[&args[..], &synthetic[..]].concat()).await;
    assert!(
        run.stderr()
            .contains("--synthetic output=: the reply of this --api comes whole"),
        "{}",
        run.stderr()
    );
    // Without output=, synthetic prompts are embedded, their lengths checked, no reply asked for.
    let synthetic = [
        "--api",
        "embeddings",
        "--synthetic",
        "input=32",
        "--qps",
        "10",
    ];
    let run = redline(&[&args[..], &synthetic[..], &["--duration", "1"][..]].concat()).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert!(
        run.stdout().contains("QPS 10.0: input 32.0 -> "),
        "{}",
        run.stdout()
    );
    assert!(!run.stdout().contains(", output "), "{}", run.stdout());
    // A whole reply has no turn to continue.
    let run = redline(&bench_args(
        &sim,
        &["--api", "rerank", "--sessions", "--qps", "1"],
    ))
    .await;
    assert_eq!(run.code(), Some(1));
    assert!(
        run.stderr()
            .contains("--sessions: an --api rerank reply has no assistant turn to continue"),
        "{}",
        run.stderr()
    );
}
