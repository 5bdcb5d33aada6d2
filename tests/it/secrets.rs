//! The API key never appears in any file, log line or error message, whatever happens to the
//! requests; credentials in an endpoint URL are redacted wherever the URL is shown or saved.

use crate::common::*;

const KEY: &str = "sk-redline-LEAKCHECK-7f3a9c2e51d84b06";

/// Every byte redline wrote: stdout, stderr and every file of the run.
fn all_output(run: &Run) -> String {
    let mut all = run.stdout() + &run.stderr();
    for dir in std::fs::read_dir(run.results.path()).unwrap() {
        for f in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            all.push_str(&String::from_utf8_lossy(
                &std::fs::read(f.unwrap().path()).unwrap(),
            ));
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_is_in_no_output_even_when_requests_fail() {
    let sim = fast_sim(&["--failure-rate", "0.5", "--failure-status", "401"]).await;
    let (_bound, port) = refused_port();
    let refused = format!("http://127.0.0.1:{port}");
    // Without the preflight, so that the levels record the failures: the refused endpoint's
    // level stops the run (status 1), the other completes.
    for (endpoint, code) in [(sim.clone(), 0), (refused.clone(), 1)] {
        let run = redline(&bench_args(
            &endpoint,
            &[
                "--qps",
                "8",
                "--duration",
                "0.5",
                "--api-key",
                KEY,
                "--plot",
                "--no-preflight",
            ],
        ))
        .await;
        assert_eq!(run.code(), Some(code), "{}", run.stderr());
        let all = all_output(&run);
        assert!(
            !all.contains(KEY) && !all.contains("LEAKCHECK"),
            "the key leaked via {endpoint}"
        );
    }
    // The preflight's own failure messages hold no key either.
    let rejecting = fast_sim(&["--failure-rate", "1", "--failure-status", "401"]).await;
    for endpoint in [rejecting, refused] {
        let run = redline(&bench_args(
            &endpoint,
            &["--qps", "8", "--duration", "0.5", "--api-key", KEY],
        ))
        .await;
        assert_eq!(run.code(), Some(1), "{}", run.stderr());
        assert!(
            run.stderr().contains("preflight request failed"),
            "{}",
            run.stderr()
        );
        assert!(
            !all_output(&run).contains("LEAKCHECK"),
            "the key leaked via {endpoint}"
        );
    }
    // A bad key value fails with a message that does not repeat it.
    let bad = format!("{KEY}\n");
    let run = redline(&bench_args(
        &sim,
        &["--qps", "1", "--duration", "0.5", "--api-key", &bad],
    ))
    .await;
    assert_eq!(run.code(), Some(1));
    assert!(
        run.stderr().contains("--api-key holds characters"),
        "{}",
        run.stderr()
    );
    assert!(!run.stderr().contains("LEAKCHECK"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_can_come_from_a_named_environment_variable() {
    let sim = fast_sim(&[]).await;
    let args = bench_args(
        &sim,
        &[
            "--qps",
            "2",
            "--duration",
            "0.5",
            "--api-key-env",
            "REDLINE_TEST_KEY",
        ],
    );
    let results = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_redline"))
        .args(&args)
        .args(["--results-dir", &results.path().display().to_string()])
        .env("REDLINE_TEST_KEY", KEY)
        // An exported OPENAI_API_KEY is a fallback, not a second flag: no conflict.
        .env("OPENAI_API_KEY", "sk-other-LEAKCHECK")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(KEY));
    let missing = redline(&bench_args(&sim, &["--api-key-env", "REDLINE_UNSET_VAR_X"])).await;
    assert_eq!(missing.code(), Some(1));
    assert!(
        missing
            .stderr()
            .contains("--api-key-env REDLINE_UNSET_VAR_X"),
        "{}",
        missing.stderr()
    );
    let both = redline(&bench_args(&sim, &["--api-key-env", "A", "--api-key", "b"])).await;
    assert_eq!(both.code(), Some(2), "conflicting options");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_credentials_are_redacted_wherever_the_url_is_shown() {
    let sim = fast_sim(&[]).await;
    let endpoint = sim.replace("http://", "http://alice:pw-LEAKCHECK@") + "/v1?api_key=LEAKCHECK";
    let run = redline(&bench_args(&endpoint, &["--qps", "2", "--duration", "0.5"])).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert!(!all_output(&run).contains("LEAKCHECK"));
    let meta = read_json(&run.dir().join("metadata.json"));
    let shown = meta["endpoint"].as_str().unwrap();
    assert!(
        shown.contains("REDACTED") && shown.contains("api_key=REDACTED"),
        "{shown}"
    );
}
