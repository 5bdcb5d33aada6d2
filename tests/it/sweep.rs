//! `redline sweep`: servers started per configuration from a command template (the real binary's
//! `redline sim`), measured, stopped; `sweep.json` with the frontier; a configuration whose server
//! fails recorded with the server's own error; Ctrl-C keeping the finished configurations and
//! `--resume` running the rest; and the mistakes refused before any server starts.

use crate::common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

const BIN: &str = env!("CARGO_BIN_EXE_redline");

/// The simulator's engine served by the real binary, with `{seqs}` batch slots.
fn serve() -> String {
    format!("{BIN} sim --port {{port}} --max-num-seqs {{seqs}}")
}

fn sweep_dir(results: &Path) -> PathBuf {
    only_run_dir(results)
}

fn configurations(dir: &Path) -> Vec<Value> {
    read_json(&dir.join("sweep.json"))["configurations"]
        .as_array()
        .unwrap()
        .clone()
}

/// Whether something still listens on the configuration's port.
fn listening(c: &Value) -> bool {
    let port = c["port"].as_u64().unwrap() as u16;
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_configuration_is_measured_in_its_own_folder_with_the_frontier_and_no_server_left() {
    let serve = serve();
    let run = sweep(
        &["--serve", &serve, "--param", "seqs=4,64"],
        "http://127.0.0.1:{port}",
        &["--max-tokens", "16", "--qps", "20,40", "--duration", "1"],
    )
    .await;
    assert_eq!(run.code(), Some(0), "{}\n{}", run.stdout(), run.stderr());
    let dir = sweep_dir(run.results.path());
    let configs = configurations(&dir);
    assert_eq!(configs.len(), 2);
    for c in &configs {
        assert_eq!(c["status"], "done", "{c}");
        assert!(
            !listening(c),
            "the server of {} is still running",
            c["name"]
        );
        let own = dir.join(c["dir"].as_str().unwrap());
        // A normal results folder, which `redline report` rebuilds as it was, plus the server's log.
        assert!(re_reports_identically(&own), "{}", own.display());
        assert!(own.join("server.log").exists());
        let results = read_json(&own.join("benchmark_qps_results.json"));
        // The figures at capacity are those of the run's maximum sustainable level.
        let max = results["summary"]["max_sustainable_qps"].as_f64().unwrap();
        assert_eq!(c["capacity_qps"].as_f64().unwrap(), max);
        let level = results["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["qps_target"].as_f64() == Some(max))
            .unwrap();
        // (The results JSON writes 6 decimals, sweep.json every digit.)
        let same = |a: &Value, b: &Value| (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-6;
        assert!(
            same(&c["per_user_tok_s"], &level["tokens_per_sec"]["p50"]),
            "{c}"
        );
        assert!(
            same(
                &c["output_tok_s_per_gpu"],
                &level["output_throughput_tok_s"]
            ),
            "{c}"
        );
    }
    // The pareto flags are the dominance relation of the figures written beside them.
    let pts: Vec<(f64, f64)> = configs
        .iter()
        .map(|c| {
            (
                c["per_user_tok_s"].as_f64().unwrap(),
                c["output_tok_s_per_gpu"].as_f64().unwrap(),
            )
        })
        .collect();
    for (i, c) in configs.iter().enumerate() {
        let beaten = pts
            .iter()
            .any(|&(u, g)| u >= pts[i].0 && g >= pts[i].1 && (u > pts[i].0 || g > pts[i].1));
        assert_eq!(c["pareto"], !beaten, "{c}");
    }
    for f in ["frontier.md", "frontier.csv", "frontier.png"] {
        assert!(dir.join(f).exists(), "{f}");
    }
    let csv = std::fs::read_to_string(dir.join("frontier.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(run
        .stdout()
        .contains("SWEEP: each configuration at its capacity"));
    assert!(run.stdout().contains("seqs=64"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_fails_is_recorded_with_its_own_error_and_the_sweep_goes_on() {
    let serve = serve();
    let run = sweep(
        &["--serve", &serve, "--param", "seqs=abc,8"],
        "http://127.0.0.1:{port}",
        &["--max-tokens", "16", "--qps", "20", "--duration", "1"],
    )
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let configs = configurations(&sweep_dir(run.results.path()));
    assert_eq!(configs[0]["status"], "failed");
    let why = configs[0]["reason"].as_str().unwrap();
    // The server's own words (clap's error of `redline sim`), from its log.
    assert!(why.contains("invalid value 'abc'"), "{why}");
    assert!(why.contains("exited"), "{why}");
    assert_eq!(configs[0]["pareto"], false);
    assert_eq!(configs[1]["status"], "done");
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_keeps_the_finished_configurations_stops_the_server_and_resume_runs_the_rest() {
    let results = tempfile::tempdir().unwrap();
    // The second configuration's server streams a token every 2 s until `fixed` exists (the test
    // makes it before resuming), so its level is under way long enough to be interrupted.
    let fixed = results.path().join("fixed");
    let serve = format!(
        "if [ -e {} ]; then I=1; else I={{itl}}; fi; exec {BIN} sim --port {{port}} --profile fixed --ttft-ms 1 --itl-ms $I",
        fixed.display()
    );
    let mut child = std::process::Command::new(BIN)
        .args(["sweep", "--serve", &serve, "--param", "itl=1,2000"])
        .args([
            "--endpoint",
            "http://127.0.0.1:{port}",
            "--model",
            "redline-sim",
        ])
        .args([
            "--dataset",
            DATASET,
            "--max-tokens",
            "16",
            "--qps",
            "20",
            "--duration",
            "1",
        ])
        .args(["--results-dir", &results.path().display().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    // The second configuration's level is under way when its "Level 1/1" line is printed.
    let mut levels = 0;
    for line in stderr.by_ref() {
        if line.unwrap().starts_with("Level 1/1") {
            levels += 1;
            if levels == 2 {
                break;
            }
        }
    }
    assert_eq!(levels, 2);
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let rest: Vec<String> = stderr.map_while(Result::ok).collect();
    assert_eq!(
        child.wait().unwrap().code(),
        Some(130),
        "{}",
        rest.join("\n")
    );
    let dir = sweep_dir(results.path());
    let configs = configurations(&dir);
    assert_eq!(configs[0]["status"], "done");
    assert_eq!(configs[1]["status"], "interrupted");
    assert!(
        !listening(&configs[1]),
        "the interrupted configuration's server is still running"
    );
    // What the interrupted run measured is in its folder.
    let cut = dir.join(configs[1]["dir"].as_str().unwrap());
    assert!(cut.join("requests.jsonl").exists());

    std::fs::write(&fixed, "").unwrap();
    let resumed = std::process::Command::new(BIN)
        .args(["sweep", "--resume", &dir.display().to_string()])
        .output()
        .unwrap();
    let says = String::from_utf8_lossy(&resumed.stdout);
    assert_eq!(resumed.status.code(), Some(0), "{says}");
    // Only the interrupted configuration ran again; its cut run is kept aside.
    assert!(
        !says.contains("Configuration 1/2") && says.contains("Configuration 2/2"),
        "{says}"
    );
    let mut again = configurations(&dir);
    // The finished configuration is as it was (its place on the frontier now counts the other).
    let mut before = configs[0].clone();
    for c in [&mut before, &mut again[0]] {
        c.as_object_mut().unwrap().remove("pareto");
    }
    assert_eq!(again[0], before);
    assert_eq!(again[1]["status"], "done");
    let aside = dir.join(format!(
        "{}.interrupted",
        configs[1]["dir"].as_str().unwrap()
    ));
    assert!(aside.join("requests.jsonl").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn redline_flags_are_swept_against_a_running_endpoint() {
    let base = fast_sim(&[]).await;
    let run = sweep(
        &["--param", "max_tokens=8,32"],
        &base,
        &["--qps", "20", "--duration", "1"],
    )
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let dir = sweep_dir(run.results.path());
    let configs = configurations(&dir);
    assert_eq!(configs.len(), 2);
    for (c, tokens) in configs.iter().zip([8, 32]) {
        assert_eq!(c["params"]["max_tokens"], tokens.to_string());
        let meta = read_json(&dir.join(c["dir"].as_str().unwrap()).join("metadata.json"));
        assert_eq!(meta["max_tokens"], tokens, "{meta}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mistakes_are_refused_before_any_server_starts() {
    let serve = serve();
    let common = ["--model", "m", "--dataset", DATASET];
    let cases: [(Vec<&str>, &str); 10] = [
        (
            vec![
                "--serve",
                &serve,
                "--param",
                "seqs=1",
                "--endpoint",
                "http://127.0.0.1:9",
                "--qps",
                "5",
            ],
            "the run's flags name no {port}",
        ),
        (
            vec![
                "--param",
                "api_key=sk-secret",
                "--endpoint",
                "http://127.0.0.1:9",
                "--qps",
                "5",
            ],
            "--api-key-env",
        ),
        (
            vec![
                "--param",
                "max_tokens=8",
                "--endpoint",
                "http://u:sk-secret@127.0.0.1:9",
                "--qps",
                "5",
            ],
            "URL with credentials",
        ),
        (
            vec![
                "--serve",
                &serve,
                "--serve-timeout",
                "1e30",
                "--param",
                "seqs=1",
                "--endpoint",
                "http://127.0.0.1:{port}",
                "--qps",
                "5",
            ],
            "at most 604800",
        ),
        (
            vec![
                "--serve",
                &serve,
                "--param",
                "seqs=1",
                "--endpoint",
                "http://127.0.0.1:{port}/{tp}",
                "--qps",
                "5",
            ],
            "{tp} in the run's flags names no parameter",
        ),
        (
            vec![
                "--param",
                "foo=1,2",
                "--endpoint",
                "http://127.0.0.1:9",
                "--qps",
                "5",
            ],
            "--param foo is used nowhere",
        ),
        (
            vec![
                "--param",
                "max_tokens=1",
                "--endpoint",
                "http://127.0.0.1:{port}",
                "--qps",
                "5",
            ],
            "{port} in the run's flags needs --serve",
        ),
        (
            vec![
                "--serve",
                &serve,
                "--param",
                "seqs=1",
                "--endpoint",
                "http://127.0.0.1:{port}",
                "--api-key",
                "sk-secret",
                "--qps",
                "5",
            ],
            "--api-key-env",
        ),
        (
            vec![
                "--serve",
                &serve,
                "--param",
                "seqs=1",
                "--endpoint",
                "http://127.0.0.1:{port}",
                "--concurrency",
                "4",
            ],
            "requests per second",
        ),
        (
            vec![
                "--serve",
                &serve,
                "--param",
                "seqs=1",
                "--endpoint",
                "http://127.0.0.1:{port}",
                "--qps",
                "x",
            ],
            "configuration 01_seqs=1",
        ),
    ];
    for (flags, says) in cases {
        let mut args = vec!["sweep"];
        args.extend(flags.iter().copied());
        args.extend(common);
        let run = redline(&args).await;
        assert_eq!(run.code(), Some(1), "{flags:?}: {}", run.stderr());
        assert!(run.stderr().contains(says), "{flags:?}: {}", run.stderr());
        assert_eq!(run.run_dirs(), 0, "{flags:?}: a folder was made");
        assert!(!run.stderr().contains("sk-secret"));
    }
    let run = redline(&["sweep", "--resume", "/nonexistent/sweep"]).await;
    assert!(
        run.stderr().contains("--resume takes a sweep's folder"),
        "{}",
        run.stderr()
    );
}
