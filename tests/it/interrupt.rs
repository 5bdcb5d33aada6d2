//! Ctrl-C: sending stops, requests in flight finish within the grace period, everything measured is
//! written (the level marked partial) and the exit status is 130.

use crate::common::*;
use axum::body::Body;
use axum::response::Response;
use std::io::{BufRead, BufReader};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// A 60-second level at 10 QPS against `base`, with stderr piped to follow its progress.
fn long_run(base: &str) -> (tempfile::TempDir, std::process::Child) {
    let results = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_redline"))
        .args(bench_args(
            base,
            &["--qps", "10", "--duration", "60", "--no-preflight"],
        ))
        .args(["--results-dir", &results.path().display().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    (results, child)
}

async fn interrupt_mid_level(signal: &str, want_code: i32) {
    let first = Arc::new(Notify::new());
    let f = first.clone();
    // Each reply: one content chunk after 300 ms, then [DONE].
    let app = axum::Router::new().fallback(move || {
        f.notify_one();
        async {
            let body = futures_util::stream::once(async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                Ok::<_, std::convert::Infallible>(
                    "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]\n\n",
                )
            });
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(body))
                .unwrap()
        }
    });
    let base = start_fake(app).await;
    let (results, mut child) = long_run(&base);
    first.notified().await; // the level is under way
    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let status = tokio::task::spawn_blocking(move || {
        let lines: Vec<String> = stderr.lines().map_while(Result::ok).collect();
        (child.wait().unwrap(), lines.join("\n"))
    })
    .await
    .unwrap();
    assert_eq!(status.0.code(), Some(want_code), "{}", status.1);
    assert!(status.1.contains("Interrupted"), "{}", status.1);
    let dir = only_run_dir(results.path());
    let json = read_json(&dir.join("benchmark_qps_results.json"));
    let level = &json["results"][0];
    assert_eq!(level["partial"], true);
    let sent = level["requests_sent"].as_u64().unwrap();
    assert!(sent >= 1);
    let lines = std::fs::read_to_string(dir.join("requests.jsonl")).unwrap();
    assert_eq!(
        lines.lines().count() as u64,
        level["requests_scheduled"].as_u64().unwrap()
    );
    // Requests in flight at the interrupt finished within the grace period.
    assert_eq!(level["requests_succeeded"].as_u64().unwrap(), sent);
    // Every request of the cut level passed, but a partial level is never the capacity.
    assert_eq!(level["verdict"], "PASS");
    assert_eq!(
        json["summary"]["max_sustainable_qps"],
        serde_json::Value::Null
    );
    let notes = json["summary"]["notes"].to_string();
    assert!(notes.contains("was interrupted (partial)"), "{notes}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_writes_what_was_measured_and_exits_130() {
    interrupt_mid_level("-INT", 130).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_writes_what_was_measured_and_exits_143() {
    interrupt_mid_level("-TERM", 143).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_saves_what_finished_without_waiting_for_the_grace_period() {
    let first = Arc::new(Notify::new());
    let f = first.clone();
    // A server that never answers: only the 5 s grace period would end the first interrupt.
    let app = axum::Router::new().fallback(move || {
        f.notify_one();
        std::future::pending::<&'static str>()
    });
    let base = start_fake(app).await;
    let (results, mut child) = long_run(&base);
    first.notified().await;
    let pid = child.id().to_string();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let kill = |pid: &str| {
        std::process::Command::new("kill")
            .args(["-INT", pid])
            .status()
            .unwrap()
    };
    assert!(kill(&pid).success());
    // Wait until the first interrupt was taken, then send the second.
    let (line, stderr) = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        while !line.contains("Interrupted") {
            line.clear();
            if stderr.read_line(&mut line).unwrap() == 0 {
                break;
            }
        }
        (line, stderr)
    })
    .await
    .unwrap();
    assert!(line.contains("Ctrl-C again stops them at once"), "{line}");
    assert!(kill(&pid).success());
    let status = tokio::task::spawn_blocking(move || {
        drop(stderr);
        child.wait().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(status.code(), Some(130));
    // The requests in flight (which the server never answers) were ended, not waited for, and
    // everything is saved: one record per scheduled request and the results JSON.
    let dir = only_run_dir(results.path());
    let json = read_json(&dir.join("benchmark_qps_results.json"));
    let level = &json["results"][0];
    assert_eq!(level["partial"], true);
    assert!(
        level["errors"]["Interrupted"].as_u64().unwrap() >= 1,
        "{level}"
    );
    let lines = std::fs::read_to_string(dir.join("requests.jsonl")).unwrap();
    assert_eq!(
        lines.lines().count() as u64,
        level["requests_scheduled"].as_u64().unwrap()
    );
    assert_eq!(
        json["summary"]["max_sustainable_qps"],
        serde_json::Value::Null
    );
}
