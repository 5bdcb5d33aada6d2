//! `--metrics-url`: the endpoint's own metrics, scraped during every level, in the JSON, the
//! console and the verdicts; and a metrics page that is unreachable, unparsable or vanishes
//! mid-run costs a warning, never the run.

use crate::common::*;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulators_metrics_explain_each_level() {
    let sim = start_sim(&[]).await;
    let metrics = format!("{sim}/metrics");
    let run = redline(&[
        "--endpoint",
        &sim,
        "--model",
        "redline-sim",
        "--dataset",
        DATASET,
        "--qps",
        "5,60",
        "--duration",
        "3",
        "--max-tokens",
        "256",
        "--metrics-url",
        &metrics,
    ])
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let json = run.results_json();
    for (i, l) in json["results"].as_array().unwrap().iter().enumerate() {
        let s = &l["server"];
        assert_eq!(s["engine"], "vllm", "level {i}: {s}");
        // A scrape at the start, one a second, one at the end.
        assert!(s["scrapes"].as_u64().unwrap() >= 4, "{s}");
        assert_eq!(s["failed_scrapes"], 0);
        assert!(s["running"]["max"].as_f64().unwrap() > 0.0, "{s}");
        assert!(s["generation_tokens_per_s"].as_f64().unwrap() > 0.0, "{s}");
        // The server's TTFT is the engine's; redline's includes the HTTP layer around it.
        let server_ttft = s["ttft_s"]["mean"].as_f64().unwrap();
        assert!(server_ttft > 0.1, "{s}");
        assert!(s["ttft_gap_s"].as_f64().unwrap() >= 0.0, "{s}");
    }
    // 60 QPS overloads the preset (capacity ~31 req/s): its queue is full and the verdict says so.
    let hot = &json["results"][1];
    assert_ne!(hot["verdict"], "PASS");
    assert!(
        hot["server"]["waiting"]["max"].as_f64().unwrap() >= 8.0,
        "{}",
        hot["server"]
    );
    assert!(
        hot["verdict_reason"]
            .as_str()
            .unwrap()
            .contains("; server: "),
        "{}",
        hot["verdict_reason"]
    );
    assert!(
        run.stdout().contains("Server metrics (vllm names):"),
        "{}",
        run.stdout()
    );
    assert!(run.dir().join("server_metrics.jsonl").exists());
    assert_eq!(
        read_json(&run.dir().join("metadata.json"))["metrics_url"],
        metrics
    );
    assert!(re_reports_identically(&run.dir()));
}

/// A metrics page that answers `good` times, then fails with 503.
async fn vanishing_metrics(good: usize) -> String {
    let served = Arc::new(AtomicUsize::new(0));
    let router = Router::new().route(
        "/metrics",
        get(move || {
            let n = served.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < good {
                    (
                        StatusCode::OK,
                        "vllm:num_requests_running 1\nvllm:num_requests_waiting 0\n",
                    )
                        .into_response()
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "gone").into_response()
                }
            }
        }),
    );
    format!("{}/metrics", start_fake(router).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_that_vanish_mid_run_cost_a_warning_not_the_run() {
    let sim = fast_sim(&["--output-tokens", "2"]).await;
    let metrics = vanishing_metrics(2).await;
    let run = redline(&bench_args(
        &sim,
        &["--qps", "4,5", "--duration", "2", "--metrics-url", &metrics],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert!(
        run.stderr().contains("warning: --metrics-url:"),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains("HTTP 503"), "{}", run.stderr());
    let json = run.results_json();
    let (first, second) = (&json["results"][0]["server"], &json["results"][1]["server"]);
    // The first level saw the page, then lost it; the second never had it.
    assert_eq!(first["running"]["max"], 1.0, "{first}");
    assert!(first["failed_scrapes"].as_u64().unwrap() >= 1, "{first}");
    assert_eq!(second["failed_scrapes"], second["scrapes"], "{second}");
    assert_eq!(second["last_error"], "HTTP 503");
    for l in json["results"].as_array().unwrap() {
        assert_eq!(l["success_rate"], 100.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_or_unparsable_metrics_are_warnings() {
    let sim = fast_sim(&["--output-tokens", "2"]).await;
    let (_bound, port) = refused_port();
    let nothing = format!("http://127.0.0.1:{port}/metrics");
    let garbage = format!(
        "{}/metrics",
        start_fake(Router::new().route("/metrics", get(|| async { "<html>not metrics</html>" })))
            .await
    );
    for (url, says) in [
        (nothing, "Connection refused"),
        (garbage, "no metrics in the page"),
    ] {
        let run = redline(&bench_args(
            &sim,
            &["--qps", "4", "--duration", "1", "--metrics-url", &url],
        ))
        .await;
        assert_eq!(run.code(), Some(0), "{}", run.stderr());
        assert!(
            run.stderr().contains("warning: --metrics-url:") && run.stderr().contains(says),
            "{}",
            run.stderr()
        );
        assert_eq!(run.level(0)["success_rate"], 100.0);
        assert_eq!(run.level(0)["server"]["engine"], "unknown");
    }
    // A URL that is not one is refused before anything is sent.
    let run = redline(&bench_args(&sim, &["--metrics-url", "not a url"])).await;
    assert_eq!(run.code(), Some(1));
    assert!(run.stderr().contains("--metrics-url"), "{}", run.stderr());
}
