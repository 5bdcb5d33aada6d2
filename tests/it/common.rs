//! Shared helpers for the integration tests: the simulator or a hand-written fake endpoint on
//! 127.0.0.1:0, the real `redline` binary run against it, and readers for its results folder.
#![allow(dead_code)]

use axum::Router;
use clap::Parser;
use redline::cli::SimModelArgs;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;

/// Simulator flags (as `redline sim` takes them) -> a running simulator's base URL.
pub async fn start_sim(flags: &[&str]) -> String {
    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        sim: SimModelArgs,
    }
    let args = Wrap::parse_from(std::iter::once("sim").chain(flags.iter().copied())).sim;
    let addr = redline::sim::spawn(&args, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    format!("http://{addr}")
}

/// A fast fixed-latency simulator (1 ms to first token, 1 ms between tokens) with `extra` flags.
pub async fn fast_sim(extra: &[&str]) -> String {
    let mut flags = vec!["--profile", "fixed", "--ttft-ms", "1", "--itl-ms", "1"];
    flags.extend_from_slice(extra);
    start_sim(&flags).await
}

/// Serves `router` on 127.0.0.1:0 and returns its base URL.
pub async fn start_fake(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// A port on 127.0.0.1 where every connection is refused, for as long as the returned socket
/// lives: it is bound but never listens, so no other test's server can be given the port meanwhile
/// (a listener bound and dropped frees its port for the next bind, which made such a test flaky).
pub fn refused_port() -> (socket2::Socket, u16) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let port = socket.local_addr().unwrap().as_socket().unwrap().port();
    (socket, port)
}

/// Runs the real binary with `args` (plus a fresh --results-dir) without blocking the runtime.
pub async fn redline(args: &[&str]) -> Run {
    redline_with_env(args, &[]).await
}

/// Environment variables that would change where requests go; a test sets its own.
const PROXY_VARS: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// [`redline`] with environment variables set.
pub async fn redline_with_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let results = tempfile::tempdir().unwrap();
    let mut full: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    full.push("--results-dir".into());
    full.push(results.path().display().to_string());
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let output = tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_redline"));
        cmd.args(&full).env_remove("OPENAI_API_KEY");
        for var in PROXY_VARS {
            cmd.env_remove(var);
        }
        cmd.envs(env).output().unwrap()
    })
    .await
    .unwrap();
    Run { output, results }
}

/// A `--qps auto` search from 20 req/s with half-second probes, within `budget` seconds of
/// endpoint time.
pub fn short_search(budget: &str) -> [&str; 8] {
    [
        "--qps",
        "auto",
        "--qps-start",
        "20",
        "--duration",
        "0.5",
        "--search-budget",
        budget,
    ]
}

/// The common flags of a short benchmark of `endpoint`: 16-token replies, except for the APIs
/// whose reply comes whole (embeddings, rerank), which refuse `--max-tokens`.
pub fn bench_args<'a>(endpoint: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "--endpoint",
        endpoint,
        "--model",
        "redline-sim",
        "--dataset",
        DATASET,
    ];
    let whole = extra
        .windows(2)
        .any(|w| w[0] == "--api" && ["embeddings", "rerank"].contains(&w[1]));
    if !whole {
        v.extend(["--max-tokens", "16"]);
    }
    v.extend_from_slice(extra);
    v
}

pub const DATASET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/conversations.json");
pub const TOKENIZER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/sample-tokenizer.json");

pub struct Run {
    pub output: Output,
    pub results: tempfile::TempDir,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }
    /// The single run folder created under --results-dir.
    pub fn dir(&self) -> PathBuf {
        only_run_dir(self.results.path())
    }
    pub fn run_dirs(&self) -> usize {
        std::fs::read_dir(self.results.path())
            .map(|d| d.count())
            .unwrap_or(0)
    }
    pub fn results_json(&self) -> Value {
        read_json(&self.dir().join("benchmark_qps_results.json"))
    }
    pub fn level(&self, i: usize) -> Value {
        self.results_json()["results"][i].clone()
    }
    pub fn records(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir().join("requests.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// The single run folder created under a --results-dir.
pub fn only_run_dir(results: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(results)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "one run folder: {dirs:?}");
    dirs.pop().unwrap()
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Runs `redline report` on a run's folder and says whether its results JSON came out byte for
/// byte the same.
pub fn re_reports_identically(dir: &Path) -> bool {
    let path = dir.join("benchmark_qps_results.json");
    let before = std::fs::read(&path).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_redline"))
        .args(["report", &dir.display().to_string()])
        .output()
        .unwrap();
    out.status.success() && std::fs::read(&path).unwrap() == before
}

/// `redline sweep` with its own flags `sweep_flags`, against `endpoint` (which may hold `{port}`)
/// with the bundled dataset, model `redline-sim` and the run's flags `run_flags`.
pub async fn sweep(sweep_flags: &[&str], endpoint: &str, run_flags: &[&str]) -> Run {
    let mut args = vec!["sweep"];
    args.extend_from_slice(sweep_flags);
    args.extend([
        "--endpoint",
        endpoint,
        "--model",
        "redline-sim",
        "--dataset",
        DATASET,
    ]);
    args.extend_from_slice(run_flags);
    redline(&args).await
}

/// Part `key` of the simulator's `/sim/stats` (`encoder`, `adapters`), reset as it is read.
pub async fn sim_stats(sim: &str, key: &str) -> serde_json::Value {
    let stats = reqwest::get(format!("{sim}/sim/stats?reset=1"))
        .await
        .unwrap();
    stats.json::<serde_json::Value>().await.unwrap()[key].clone()
}

/// A run of `flags` (at `--qps 1`) against `endpoint` that must be refused: exit status 1, with
/// `says` in what it printed. Returns the run for more checks.
pub async fn refused(endpoint: &str, flags: &[&str], says: &str) -> Run {
    let mut all = flags.to_vec();
    all.extend(["--qps", "1"]);
    let run = redline(&bench_args(endpoint, &all)).await;
    assert_eq!(run.code(), Some(1), "{flags:?}: {}", run.stderr());
    assert!(run.stderr().contains(says), "{flags:?}: {}", run.stderr());
    run
}
