//! Fail fast: the preflight request stops a run that cannot measure anything (a refused key, an
//! unknown model) with the server's own message and the likely fix, before any level; a busy
//! endpoint only gets a warning. Without it, a level whose every request fails with one
//! misconfiguration stops the run, and the console quotes the server's message per error kind.

use crate::common::*;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

/// An endpoint whose chat route always answers `status` with an OpenAI-style error `message`,
/// and whose `/v1/models` lists `tiny-llama`.
async fn failing(status: u16, message: &'static str) -> String {
    let router = Router::new()
        .route(
            "/v1/chat/completions",
            post(move || async move {
                let body = json!({"object": "error", "message": message, "code": status});
                (StatusCode::from_u16(status).unwrap(), Json(body)).into_response()
            }),
        )
        .route(
            "/v1/models",
            get(|| async { Json(json!({"data": [{"id": "tiny-llama", "owned_by": "vllm"}]})) }),
        );
    start_fake(router).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_stops_the_run_before_any_level() {
    let endpoint = failing(401, "Invalid API key provided.").await;
    let run = redline(&bench_args(
        &endpoint,
        &["--qps", "1,2", "--duration", "0.5"],
    ))
    .await;
    assert_eq!(run.code(), Some(1), "{}", run.stderr());
    let err = run.stderr();
    assert!(err.contains("HTTP 401: Invalid API key provided."), "{err}");
    assert!(err.contains("check --api-key"), "{err}");
    assert!(err.contains("--no-preflight skips this check"), "{err}");
    assert_eq!(run.run_dirs(), 0, "nothing measured, nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_model_is_named_with_what_the_endpoint_serves() {
    let endpoint = failing(404, "The model `redline-sim` does not exist.").await;
    let run = redline(&bench_args(
        &endpoint,
        &["--qps", "1,2", "--duration", "0.5"],
    ))
    .await;
    assert_eq!(run.code(), Some(1), "{}", run.stderr());
    let err = run.stderr();
    assert!(
        err.contains("HTTP 404: The model `redline-sim` does not exist."),
        "{err}"
    );
    assert!(err.contains("--model name"), "{err}");
    assert!(err.contains("GET /v1/models lists: tiny-llama"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_endpoint_is_only_warned_about() {
    let endpoint = failing(503, "The engine is currently busy").await;
    let run = redline(&bench_args(
        &endpoint,
        &["--qps", "20", "--duration", "0.5"],
    ))
    .await;
    // Overload is what a load test measures: the level runs and records it.
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("warning: preflight request failed (HTTP 503"),
        "{}",
        run.stderr()
    );
    assert_eq!(run.level(0)["errors"]["HTTP 503"], 10);
    // The console's error summary quotes the server, and the advice fits overload.
    assert!(
        run.stdout()
            .contains("HTTP 503: 10 occurrences: The engine is currently busy"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout()
            .contains("overloaded even there; test lower rates"),
        "{}",
        run.stdout()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_preflight_a_misconfigured_level_stops_the_run_and_says_why() {
    let endpoint = failing(404, "The model `redline-sim` does not exist.").await;
    let run = redline(&bench_args(
        &endpoint,
        &["--qps", "20,40,80", "--duration", "0.5", "--no-preflight"],
    ))
    .await;
    assert_eq!(run.code(), Some(1), "{}", run.stderr());
    assert!(
        run.stderr().contains(
            "stopped after QPS 20.0: every request failed with HTTP 404 (10 requests): The model `redline-sim` does not exist."
        ),
        "{}",
        run.stderr()
    );
    let json = run.results_json();
    assert_eq!(
        json["results"].as_array().unwrap().len(),
        1,
        "later levels were not run"
    );
    assert_eq!(
        json["results"][0]["error_samples"]["HTTP 404"],
        "The model `redline-sim` does not exist."
    );
    let notes = json["summary"]["notes"].to_string();
    assert!(
        notes.contains("check the --endpoint path") && !notes.contains("lower rates"),
        "{notes}"
    );
    assert!(
        run.stdout()
            .contains("HTTP 404: 10 occurrences: The model `redline-sim` does not exist."),
        "{}",
        run.stdout()
    );
    let meta = read_json(&run.dir().join("metadata.json"));
    assert_eq!(meta["completed"], false);
}
