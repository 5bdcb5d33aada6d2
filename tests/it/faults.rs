//! Endpoint faults: a scripted TCP server on 127.0.0.1 misbehaves in one way per URL path, and each
//! fault must end as one counted, correctly named result while the level finishes and the files are
//! written. docs/reliability.md lists these tests by fault.

use crate::common::*;
use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Ends the connection with a TCP reset. Linger 0 makes close send RST at once; it never blocks.
#[allow(deprecated)]
fn reset(s: &TcpStream) {
    let _ = s.set_linger(Some(Duration::ZERO));
}

const OK_STREAM: &str =
    "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n\
data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n\
data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":1}}\n\n\
data: [DONE]\n\n";
const SSE_HEAD: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
const TOKEN: &str = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n";

fn chunk(data: &[u8]) -> Vec<u8> {
    let mut v = format!("{:x}\r\n", data.len()).into_bytes();
    v.extend_from_slice(data);
    v.extend_from_slice(b"\r\n");
    v
}

/// Reads one request; returns its path, or None for a TLS handshake or a closed connection.
async fn read_request(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 4096];
    loop {
        let n = s.read(&mut byte).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
        if buf[0] == 0x16 {
            let _ = s
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
            return None;
        }
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = s.read(&mut byte).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&byte[..n]);
            }
            return head.split_whitespace().nth(1).map(str::to_string);
        }
    }
}

/// Holds the connection until the client closes it.
async fn hold(s: &mut TcpStream) {
    let mut b = [0u8; 1024];
    while let Ok(n) = s.read(&mut b).await {
        if n == 0 {
            break;
        }
    }
}

/// Answers requests on one connection (kept alive, as real servers do) until a fault ends it.
async fn serve(mut s: TcpStream) {
    while let Some(path) = read_request(&mut s).await {
        if !respond(&mut s, &path).await {
            break;
        }
    }
}

/// Plays one fault; false when the connection is finished with.
async fn respond(s: &mut TcpStream, path: &str) -> bool {
    let sent = match path {
        "/ok" => s.write_all(format!("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n{OK_STREAM}", OK_STREAM.len()).as_bytes()).await,
        // The first request this server ever reads is dropped unanswered, as a server closing an
        // idle connection just as the request arrives does; later ones are answered.
        "/drop-first" => {
            if !DROPPED.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return false;
            }
            s.write_all(format!("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n{OK_STREAM}", OK_STREAM.len()).as_bytes()).await
        }
        // An interim 103 and the final response in one write: both already buffered.
        "/early-hints" => s.write_all(format!("HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n{OK_STREAM}", OK_STREAM.len()).as_bytes()).await,
        // HTTP/1.0 without keep-alive: the server closes after it, so it is never reused.
        "/http10" => {
            let _ = s.write_all(format!("HTTP/1.0 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n{OK_STREAM}", OK_STREAM.len()).as_bytes()).await;
            return false;
        }
        "/reset-before" => {
            reset(s);
            return false;
        }
        "/reset-mid" => {
            let _ = s.write_all(SSE_HEAD.as_bytes()).await;
            let _ = s.write_all(&chunk(TOKEN.as_bytes())).await;
            // The server dies a moment into the stream.
            tokio::time::sleep(Duration::from_millis(100)).await;
            reset(s);
            return false;
        }
        "/stall-first" => {
            hold(s).await;
            return false;
        }
        "/stall-between" | "/ttft-stall" => {
            let first = if path == "/ttft-stall" { "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n" } else { TOKEN };
            let _ = s.write_all(SSE_HEAD.as_bytes()).await;
            let _ = s.write_all(&chunk(first.as_bytes())).await;
            hold(s).await;
            return false;
        }
        "/never-ends" => {
            let _ = s.write_all(SSE_HEAD.as_bytes()).await;
            let _ = s.write_all(&chunk(TOKEN.as_bytes())).await;
            while s.write_all(&chunk(b": keep-alive\n\n")).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            return false;
        }
        "/huge-line" => {
            let _ = s.write_all(SSE_HEAD.as_bytes()).await;
            let _ = s.write_all(&chunk(b"data: ")).await;
            let block = vec![b'x'; 64 * 1024];
            for _ in 0..320 {
                if s.write_all(&chunk(&block)).await.is_err() {
                    return false;
                }
            }
            s.write_all(&chunk(b"\n\n")).await
        }
        "/gzip" => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(OK_STREAM.as_bytes()).unwrap();
            let body = gz.finish().unwrap();
            let head = format!("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n", body.len());
            let _ = s.write_all(head.as_bytes()).await;
            s.write_all(&body).await
        }
        "/byte-by-byte" => {
            let _ = s.write_all(SSE_HEAD.as_bytes()).await;
            for b in OK_STREAM.as_bytes() {
                let _ = s.write_all(&chunk(&[*b])).await;
                let _ = s.flush().await;
            }
            s.write_all(b"0\r\n\r\n").await
        }
        // Answers, then closes the connection while it sits idle in the client's pool.
        "/ok-then-close" => {
            let _ = s.write_all(format!("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n{OK_STREAM}", OK_STREAM.len()).as_bytes()).await;
            return false;
        }
        "/redirect" => s.write_all(b"HTTP/1.1 307 Temporary Redirect\r\nlocation: /ok\r\ncontent-length: 0\r\n\r\n").await,
        "/redirect-loop" => s.write_all(b"HTTP/1.1 307 Temporary Redirect\r\nlocation: /redirect-loop\r\ncontent-length: 0\r\n\r\n").await,
        "/not-sse" => s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 13\r\n\r\n<html></html>").await,
        p if p.starts_with("/status/") => {
            let mut parts = p.trim_start_matches("/status/").split('/');
            let code: u16 = parts.next().unwrap().parse().unwrap();
            let body = if parts.next() == Some("json") { format!("{{\"error\":{{\"message\":\"fault {code}\"}}}}") } else { format!("plain fault {code}") };
            let retry = if code == 429 { "retry-after: 7\r\n" } else { "" };
            let head = format!("HTTP/1.1 {code} Fault\r\n{retry}content-length: {}\r\n\r\n{body}", body.len());
            s.write_all(head.as_bytes()).await
        }
        _ => s.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").await,
    };
    sent.is_ok()
}

async fn start_raw() -> String {
    start_raw_counting().await.0
}

/// Also counts the connections accepted.
async fn start_raw_counting() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(s));
        }
    });
    (format!("127.0.0.1:{port}"), accepted)
}

/// One request against `path` (2 QPS for 0.5 s); returns the level's JSON and the record. No
/// preflight: the level itself must record the fault. A fault that is a misconfiguration (404, not
/// a stream, redirects) stops the run with status 1 after its level, saying why.
async fn fault(scheme: &str, path: &str, extra: &[&str]) -> (serde_json::Value, serde_json::Value) {
    let endpoint = format!("{scheme}://{}{path}", start_raw().await);
    let mut args = bench_args(
        &endpoint,
        &["--qps", "2", "--duration", "0.5", "--no-preflight"],
    );
    args.extend_from_slice(extra);
    if !extra.contains(&"--timeout") {
        args.extend_from_slice(&["--timeout", "2"]);
    }
    let run = redline(&args).await;
    let stopped = run.code() == Some(1)
        && run
            .stderr()
            .contains("stopped after QPS 2.0: every request failed with");
    assert!(run.code() == Some(0) || stopped, "{path}: {}", run.stderr());
    let recs = run.records();
    assert_eq!(recs.len(), 1, "{path}: one record per scheduled request");
    (run.level(0), recs[0].clone())
}

async fn expect(path: &str, kind: &str, extra: &[&str]) -> serde_json::Value {
    let (level, rec) = fault("http", path, extra).await;
    assert_eq!(level["errors"][kind], 1, "{path}: {level}");
    assert_eq!(rec["error"], kind, "{path}");
    rec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_exchange_succeeds() {
    let (level, _) = fault("http", "/ok", &[]).await;
    assert_eq!(level["success_rate"], 100.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_before_the_response_is_a_connection_error() {
    expect("/reset-before", "Connection error", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_in_the_middle_of_a_stream_is_stream_interrupted() {
    let rec = expect("/reset-mid", "Stream interrupted", &[]).await;
    assert!(
        rec["first_token_s"].is_number(),
        "the token before the reset was measured"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_handshake_failure_stops_the_run_before_the_first_level() {
    // An https endpoint whose server speaks plain HTTP: the first connection, opened before any
    // level, fails its handshake, and the run stops saying why instead of failing every request.
    let endpoint = format!("https://{}/ok", start_raw().await);
    let run = redline(&bench_args(&endpoint, &["--qps", "2", "--duration", "0.5"])).await;
    assert_eq!(run.code(), Some(1), "{}", run.stderr());
    let err = run.stderr();
    assert!(err.contains("TLS") && err.contains("http://"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_error_statuses_with_and_without_json_bodies() {
    for code in [400, 401, 404, 429, 500, 502, 503, 504] {
        for body in ["json", "plain"] {
            let rec = expect(
                &format!("/status/{code}/{body}"),
                &format!("HTTP {code}"),
                &[],
            )
            .await;
            let detail = rec["error_detail"].as_str().unwrap();
            let want = if body == "json" {
                format!("fault {code}")
            } else {
                format!("plain fault {code}")
            };
            assert!(detail.starts_with(&want), "{code} {body}: {detail}");
            if code == 429 {
                assert!(detail.ends_with("(Retry-After: 7)"), "{detail}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_that_is_not_sse_is_an_invalid_response() {
    expect("/not-sse", "Invalid response", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_before_the_first_byte_times_out() {
    expect("/stall-first", "Timeout", &["--timeout", "0.5"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_between_tokens_times_out() {
    let rec = expect("/stall-between", "Timeout", &["--timeout", "0.5"]).await;
    assert!(rec["first_token_s"].is_number());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_first_token_within_ttft_timeout() {
    expect("/ttft-stall", "TTFT timeout", &["--ttft-timeout", "0.3"]).await;
    expect("/stall-first", "TTFT timeout", &["--ttft-timeout", "0.3"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_never_ends_times_out() {
    let rec = expect("/never-ends", "Timeout", &["--timeout", "0.5"]).await;
    assert!(
        rec["chunks"].as_u64().unwrap() == 1,
        "keep-alive comments are not data events: {rec}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_20_mb_line_is_refused_with_bounded_memory() {
    let rec = expect("/huge-line", "Invalid response", &[]).await;
    assert!(
        rec["error_detail"].as_str().unwrap().contains("exceeded"),
        "{rec}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_and_one_byte_chunks_are_read_correctly() {
    for path in ["/gzip", "/byte-by-byte"] {
        let (level, rec) = fault("http", path, &[]).await;
        assert_eq!(level["success_rate"], 100.0, "{path}: {rec}");
        assert_eq!(rec["completion_tokens"], 1);
    }
}

static DROPPED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_connection_closed_under_the_request_is_retried_on_a_new_one() {
    // The level's first request goes out on a spare connection opened before the level; the
    // server drops it without a byte of response, and the request is sent again on a new one.
    let (level, rec) = fault("http", "/drop-first", &[]).await;
    assert_eq!(level["success_rate"], 100.0, "{rec}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interim_responses_and_http_1_0_are_read_correctly() {
    for path in ["/early-hints", "/http10"] {
        let (level, rec) = fault("http", path, &[]).await;
        assert_eq!(level["success_rate"], 100.0, "{path}: {rec}");
        assert_eq!(rec["status"], 200, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed_and_loops_are_named() {
    let (level, _) = fault("http", "/redirect", &[]).await;
    assert_eq!(level["success_rate"], 100.0);
    expect("/redirect-loop", "Redirect error", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_connections_are_reused_and_closed_ones_never_used() {
    // Sequential replies reuse connections: far fewer accepts than requests.
    let (base, accepted) = start_raw_counting().await;
    let endpoint = format!("http://{base}/ok");
    let run = redline(&bench_args(&endpoint, &["--qps", "20", "--duration", "1"])).await;
    assert_eq!(run.level(0)["success_rate"], 100.0);
    let used = accepted.load(Ordering::SeqCst);
    assert!(used < 20, "{used} connections for 20 requests");
    // A server that closes each connection after answering: every request still succeeds.
    let (base, accepted) = start_raw_counting().await;
    let endpoint = format!("http://{base}/ok-then-close");
    let run = redline(&bench_args(&endpoint, &["--qps", "20", "--duration", "1"])).await;
    assert_eq!(run.level(0)["success_rate"], 100.0, "{}", run.level(0));
    // Every request needed a connection of its own (plus the spares the pool opens ahead).
    let used = accepted.load(Ordering::SeqCst);
    assert!(used >= 20, "{used}: a closed connection is never reused");
}
