//! What redline sends, and how it reads odd responses: a hand-written fake endpoint on 127.0.0.1
//! records each request and answers with a canned body chosen by the URL path.

use crate::common::*;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use std::sync::{Arc, Mutex};

type Seen = Arc<Mutex<Vec<(HeaderMap, serde_json::Value)>>>;

const OK_STREAM: &str =
    "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n\
data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n\
data: {\"choices\":[{\"delta\":{\"content\":\" there\"}}]}\n\n\
data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":2}}\n\n\
data: [DONE]\n\n";

fn sse(status: u16, content_type: &str, body: &'static str) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap()
}

async fn fake() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let record = move |headers: HeaderMap, body: axum::body::Bytes| {
        let s = s.clone();
        async move {
            s.lock()
                .unwrap()
                .push((headers, serde_json::from_slice(&body).unwrap()));
        }
    };
    let route = |body: &'static str, status: u16, ct: &'static str| {
        let record = record.clone();
        post(move |h: HeaderMap, b: axum::body::Bytes| async move {
            record(h, b).await;
            sse(status, ct, body)
        })
    };
    let app = Router::new()
        .route("/ok", route(OK_STREAM, 200, "text/event-stream"))
        .route("/crlf", route("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\r\n\r\ndata: [DONE]\r\n\r\n", 200, "text/event-stream"))
        .route("/no-usage", route("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"y\"}}]}\n\ndata: [DONE]\n\n", 200, "text/event-stream"))
        .route("/no-done", route("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n", 200, "text/event-stream"))
        .route("/json", route("{\"choices\":[{\"message\":{\"content\":\"x\"}}]}", 200, "application/json"))
        .route("/bad-chunk", route("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: {oops\n\n", 200, "text/event-stream"))
        .route("/stream-error", route("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: {\"error\":{\"message\":\"out of memory\"}}\n\n", 200, "text/event-stream"))
        .route("/503", route("{\"error\":{\"message\":\"overloaded\"}}", 503, "application/json"));
    (start_fake(app).await, seen)
}

/// A level against the fake's `path`, without the preflight request (the level's own requests are
/// what is checked).
async fn one(path: &str, extra: &[&str]) -> (Run, Seen) {
    let (base, seen) = fake().await;
    let endpoint = format!("{base}{path}");
    let mut args = bench_args(
        &endpoint,
        &["--qps", "4", "--duration", "0.5", "--no-preflight"],
    );
    args.extend_from_slice(extra);
    (redline(&args).await, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_body_is_the_references_plus_stream_usage_and_extra_body() {
    let (run, seen) = one(
        "/ok",
        &[
            "--api-key",
            "k-1",
            "--temperature",
            "0.2",
            "--extra-body",
            "{\"ignore_eos\":true,\"temperature\":0}",
        ],
    )
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let seen = seen.lock().unwrap();
    let (headers, body) = &seen[0];
    assert_eq!(headers["authorization"], "Bearer k-1");
    assert_eq!(body["model"], "redline-sim");
    assert_eq!(body["max_tokens"], 16);
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["ignore_eos"], true);
    assert_eq!(body["temperature"], 0, "--extra-body overrides");
    let msgs = body["messages"].as_array().unwrap();
    assert_eq!(msgs[0]["role"], "system");
    assert_eq!(msgs[1]["role"], "user");
    // Each request sends its own sample.
    assert_ne!(seen[0].1["messages"], seen[1].1["messages"]);
    let l = run.level(0);
    assert_eq!(l["success_rate"], 100.0);
    assert_eq!(l["total_input_tokens"], 24);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preflight_sends_the_median_prompt_once_for_one_token() {
    let (base, seen) = fake().await;
    let run = redline(&bench_args(
        &format!("{base}/ok"),
        &["--qps", "4", "--duration", "0.5"],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("Preflight: the endpoint answered \"redline-sim\""),
        "{}",
        run.stderr()
    );
    let seen = seen.lock().unwrap();
    // The preflight, then the level's two requests; only the level's are recorded. The preflight
    // sends one of the run's prompts, the one of median length.
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].1["max_tokens"], 1);
    let data = read_json(std::path::Path::new(DATASET));
    let sent = |s: &serde_json::Value| -> Vec<String> {
        let mut m = vec![s["prompt_content"].as_str().unwrap().to_string()];
        for t in s["cut_chat_history"].as_array().unwrap() {
            if t["role"] != "system" {
                m.push(t["content"].as_str().unwrap().to_string());
            }
        }
        m
    };
    let mut by_length: Vec<(usize, usize)> = data
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, s)| (sent(s).iter().map(String::len).sum(), i))
        .collect();
    by_length.sort();
    let median = sent(&data[by_length[by_length.len() / 2].1]);
    let preflight: Vec<String> = seen[0].1["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(preflight, median);
    assert_eq!(run.records().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_no_stream_usage_and_no_temperature_each_leave_their_part_out() {
    let flags = ["--no-stream-usage", "--temperature", "none"];
    let (run, seen) = one("/ok", &flags).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let seen = seen.lock().unwrap().clone();
    assert!(seen[0].0.get("authorization").is_none());
    assert!(seen[0].1.get("stream_options").is_none());
    // `--temperature none`: the server's own default, for models that refuse one.
    assert!(seen[0].1.get("temperature").is_none(), "{}", seen[0].1);
    assert_eq!(seen[0].1["max_tokens"], 16);
    let meta = read_json(&run.dir().join("metadata.json"));
    assert_eq!(meta["temperature"], serde_json::Value::Null);
    assert!(re_reports_identically(&run.dir()));
    for bad in ["hot", "inf", "-1"] {
        let run = redline(&bench_args("http://127.0.0.1:9", &["--temperature", bad])).await;
        assert_eq!(run.code(), Some(2), "{}", run.stderr());
        let says = format!("--temperature {bad}: give a number of 0 or more (e.g. 0.7), or none");
        assert!(run.stderr().contains(&says), "{}", run.stderr());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttft_is_the_first_content_chunk_and_crlf_streams_parse() {
    let (run, _) = one("/ok", &[]).await;
    let r = &run.records()[0];
    assert_eq!(r["chunks"], 5);
    assert_eq!(r["content_chunks"], 2);
    assert_eq!(r["completion_tokens"], 2);
    let (run, _) = one("/crlf", &[]).await;
    assert_eq!(run.level(0)["success_rate"], 100.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_usage_is_a_success_with_a_counted_warning() {
    let (run, _) = one("/no-usage", &["--gpu-rate", "1", "--num-gpus", "1"]).await;
    let l = run.level(0);
    assert_eq!(l["success_rate"], 100.0);
    assert_eq!(l["requests_without_usage"], 2);
    assert_eq!(l["total_output_tokens"], 4, "estimated from content chunks");
    assert_eq!(
        l["cost_analysis"]["total_tokens"], 0,
        "cost uses usage only"
    );
    assert!(
        run.stdout()
            .contains("2 successful requests carried no usage"),
        "{}",
        run.stdout()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_streams_get_named_error_kinds() {
    // Not a chat stream at all is a misconfiguration: the run stops after the level, status 1.
    for (path, kind, code) in [
        ("/no-done", "Stream interrupted", 0),
        ("/json", "Invalid response", 1),
        ("/bad-chunk", "Invalid response", 1),
        ("/stream-error", "Stream error", 0),
        ("/503", "HTTP 503", 0),
    ] {
        let (run, _) = one(path, &[]).await;
        assert_eq!(run.code(), Some(code), "{path}: {}", run.stderr());
        let l = run.level(0);
        assert_eq!(l["errors"][kind], 2, "{path}: {l}");
        assert_eq!(l["success_rate"], 0.0, "{path}");
    }
    let (run, _) = one("/503", &[]).await;
    assert_eq!(run.records()[0]["error_detail"], "overloaded");
}
