//! Proxies: `--proxy`, `http_proxy` and `NO_PROXY` decide whether requests go through a forward
//! proxy (a small one on 127.0.0.1 here, piping each connection to the simulator), and the run
//! says which way they went.

use crate::common::*;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A forward proxy: reads each connection's first request head, keeps its request line, connects
/// to the host it names and pipes both ways. Returns its URL and the request lines it saw.
async fn start_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let lines = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let lines = lines.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match client.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let line = text.lines().next().unwrap_or_default().to_string();
                lines.lock().unwrap().push(line.clone());
                // "POST http://host:port/path HTTP/1.1" -> host:port
                let Some(authority) = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|u| u.strip_prefix("http://"))
                    .and_then(|u| u.split('/').next())
                else {
                    return;
                };
                let Ok(mut upstream) = tokio::net::TcpStream::connect(authority).await else {
                    return;
                };
                if upstream.write_all(&head).await.is_ok() {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_go_through_the_proxy_from_the_flag_or_the_environment() {
    let sim = fast_sim(&[]).await;
    let (proxy, seen) = start_proxy().await;
    let flags = ["--qps", "10", "--duration", "0.3"];
    let mut with_flag = flags.to_vec();
    with_flag.extend_from_slice(&["--proxy", &proxy]);
    let run = redline(&bench_args(&sim, &with_flag)).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert_eq!(run.level(0)["success_rate"], 100.0);
    let lines = seen.lock().unwrap().clone();
    assert!(!lines.is_empty(), "nothing went through the proxy");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("POST http://127.0.0.1:")),
        "{lines:?}"
    );
    let meta = read_json(&run.dir().join("metadata.json"));
    assert_eq!(meta["connection"]["client"], "reqwest");
    assert!(meta["connection"]["proxy"]
        .as_str()
        .unwrap()
        .ends_with("(from --proxy)"));
    assert!(run.stderr().contains("Proxy:"), "{}", run.stderr());

    seen.lock().unwrap().clear();
    let run = redline_with_env(&bench_args(&sim, &flags), &[("http_proxy", &proxy)]).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert_eq!(run.level(0)["success_rate"], 100.0);
    assert!(!seen.lock().unwrap().is_empty(), "http_proxy was not used");

    seen.lock().unwrap().clear();
    let run = redline_with_env(
        &bench_args(&sim, &flags),
        &[("http_proxy", &proxy), ("NO_PROXY", "localhost,127.0.0.1")],
    )
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert!(seen.lock().unwrap().is_empty(), "NO_PROXY was not honoured");
    let meta = read_json(&run.dir().join("metadata.json"));
    assert_eq!(meta["connection"]["client"], "redline-http1");
}
