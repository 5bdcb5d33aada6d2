//! Bad input fails before any request is sent: a message naming the flag or the dataset field, a
//! non-zero exit, and no results folder.

use crate::common::*;
use std::io::Write;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flags_name_the_flag_and_send_nothing() {
    let (base, seen) = {
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let s = seen.clone();
        let app = axum::Router::new().fallback(move || {
            s.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { "" }
        });
        (start_fake(app).await, seen)
    };
    for (extra, needle) in [
        (vec!["--qps", "0"], "--qps"),
        (vec!["--qps", "5,abc"], "--qps"),
        (vec!["--percentiles", "120"], "--percentiles"),
        (vec!["--duration", "-1"], "--duration"),
        (vec!["--num-gpus", "2"], "--gpu-rate"),
        (vec!["--extra-body", "{not json"], "--extra-body"),
        (vec!["--bogus"], "--bogus"),
    ] {
        let run = redline(&bench_args(&base, &extra)).await;
        assert_ne!(run.code(), Some(0), "{extra:?}");
        assert!(run.stderr().contains(needle), "{extra:?}: {}", run.stderr());
        assert_eq!(run.run_dirs(), 0, "{extra:?}: no results folder");
    }
    let run = redline(&["--model", "m", "--dataset", DATASET]).await;
    assert_ne!(run.code(), Some(0));
    assert!(run.stderr().contains("--endpoint"), "{}", run.stderr());
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no request was sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataset_errors_point_at_the_sample_and_field() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(
        br#"[{"prompt_content":"S","cut_chat_history":[{"role":"user","content":"hi"}]},
                    {"prompt_content":"S","cut_chat_history":[{"role":"user"}]}]"#,
    )
    .unwrap();
    let path = f.path().display().to_string();
    let run = redline(&[
        "--endpoint",
        "http://127.0.0.1:9",
        "--model",
        "m",
        "--dataset",
        &path,
    ])
    .await;
    assert_eq!(run.code(), Some(1));
    assert!(
        run.stderr()
            .contains("sample 1.cut_chat_history[0].content: missing required field"),
        "{}",
        run.stderr()
    );
    assert_eq!(run.run_dirs(), 0);
    let run = redline(&[
        "--endpoint",
        "http://127.0.0.1:9",
        "--model",
        "m",
        "--dataset",
        "/nonexistent/d.json",
    ])
    .await;
    assert_eq!(run.code(), Some(1));
    // Named with the OS error, once.
    assert_eq!(
        run.stderr().matches("No such file or directory").count(),
        1,
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr()
            .contains("cannot read dataset /nonexistent/d.json"),
        "{}",
        run.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_tokens_is_accepted_with_a_note_and_plot_draws_the_chart() {
    let sim = fast_sim(&[]).await;
    let run = redline(&bench_args(
        &sim,
        &["--qps", "2", "--duration", "0.5", "--show-tokens", "--plot"],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert!(run.stderr().contains("--show-tokens is deprecated"));
    assert!(
        run.dir().join("benchmark_qps.png").exists(),
        "{}",
        run.stdout()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_results_dir_fails_before_sending() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let file = file.display().to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_redline"))
            .args([
                "--endpoint",
                "http://127.0.0.1:9",
                "--model",
                "m",
                "--dataset",
                DATASET,
                "--results-dir",
                &file,
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--results-dir"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_values_and_broken_datasets_are_refused_with_a_reason() {
    for (extra, needle) in [
        (vec!["--qps", "1e9"], "--qps"),
        (vec!["--duration", "1e12"], "--duration"),
        (vec!["--timeout", "nan"], "--timeout"),
        (vec!["--ttft-timeout", "0"], "--ttft-timeout"),
    ] {
        let run = redline(&bench_args("http://127.0.0.1:9", &extra)).await;
        assert_eq!(run.code(), Some(1), "{extra:?}");
        assert!(run.stderr().contains(needle), "{extra:?}: {}", run.stderr());
    }
    let dir = tempfile::tempdir().unwrap();
    // A 1 GB file (sparse: it takes no disk) is refused before it is read.
    let big = dir.path().join("big.json");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    // A file cut short mid-sample.
    let cut = dir.path().join("cut.json");
    let text = std::fs::read_to_string(DATASET).unwrap();
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    // Non-UTF-8 bytes inside a string.
    let bytes = dir.path().join("bytes.json");
    std::fs::write(
        &bytes,
        b"[{\"prompt_content\":\"S\xff\xfe\",\"cut_chat_history\":[]}]",
    )
    .unwrap();
    for (path, needle) in [
        (&big, "1024 MiB"),
        (&cut, "not valid JSON"),
        (&bytes, "not valid JSON"),
    ] {
        let p = path.display().to_string();
        let run = redline(&[
            "--endpoint",
            "http://127.0.0.1:9",
            "--model",
            "m",
            "--dataset",
            &p,
        ])
        .await;
        assert_eq!(run.code(), Some(1), "{p}");
        assert!(run.stderr().contains(needle), "{p}: {}", run.stderr());
        assert_eq!(run.run_dirs(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_things_a_new_user_runs_into() {
    // `redline` alone points at the demo and the README's first example.
    let out = tokio::task::spawn_blocking(|| {
        std::process::Command::new(env!("CARGO_BIN_EXE_redline"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("redline demo") && err.contains("--endpoint https://"),
        "{err}"
    );
    // Lists with spaces are read as the reference tool reads them, and a p99.9 column keeps its
    // header above its values.
    let sim = fast_sim(&["--output-tokens", "2"]).await;
    let run = redline(&bench_args(
        &sim,
        &[
            "--qps",
            "2, 4",
            "--percentiles",
            "50, 99.9",
            "--duration",
            "0.5",
        ],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert_eq!(run.results_json()["results"].as_array().unwrap().len(), 2);
    let stdout = run.stdout();
    let header = stdout
        .lines()
        .find(|l| l.starts_with("QPS Target"))
        .unwrap();
    let row = stdout.lines().find(|l| l.starts_with("2.0 ")).unwrap();
    // Every column's value starts where its header starts.
    let starts = |line: &str| -> Vec<usize> {
        let b = line.as_bytes();
        (0..b.len())
            .filter(|&i| b[i] != b' ' && (i == 0 || b[i - 1] == b' '))
            .collect()
    };
    let mut header_starts = starts(header);
    // Headers are words with spaces inside ("TTFT P99.9(s)"): keep the first word of each.
    header_starts.retain(|&i| {
        !header[..i].ends_with("QPS ")
            && !header[..i].ends_with("Actual ")
            && !["TTFT ", "E2E ", "Tok/s ", "Target "]
                .iter()
                .any(|w| header[..i].ends_with(w))
    });
    // (A level the busy machine made client-limited carries a mark after its last column.)
    let row_starts = starts(row);
    assert!(row_starts.len() >= header_starts.len(), "{header}\n{row}");
    assert_eq!(
        header_starts,
        row_starts[..header_starts.len()],
        "{header}\n{row}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_with_other_settings_says_what_it_changed_in_metadata() {
    let sim = fast_sim(&["--output-tokens", "2"]).await;
    let run = redline(&bench_args(
        &sim,
        &[
            "--qps",
            "2",
            "--duration",
            "0.5",
            "--gpu-rate",
            "2.3",
            "--num-gpus",
            "1",
        ],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let dir = run.dir();
    let report = |extra: &[&str]| {
        let mut args = vec!["report".to_string(), dir.display().to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        std::process::Command::new(env!("CARGO_BIN_EXE_redline"))
            .args(args)
            .output()
            .unwrap()
    };
    // The same settings change nothing.
    let before = std::fs::read(dir.join("metadata.json")).unwrap();
    assert!(report(&[]).status.success());
    assert_eq!(std::fs::read(dir.join("metadata.json")).unwrap(), before);
    let out = report(&["--gpu-rate", "3"]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("gpu_rate 2.3 -> 3.0"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta = read_json(&dir.join("metadata.json"));
    // The folder agrees with itself: metadata holds the price the results JSON was built with,
    // and what the report changed.
    assert_eq!(meta["gpu_rate"], 3.0);
    assert_eq!(meta["reports"][0]["changed"]["gpu_rate"]["from"], 2.3);
    assert_eq!(meta["reports"][0]["output"], "benchmark_qps_results.json");
    let results = read_json(&dir.join("benchmark_qps_results.json"));
    let c = &results["results"][0]["cost_analysis"];
    assert!(
        (c["gpu_cost"].as_f64().unwrap() / results["results"][0]["duration_s"].as_f64().unwrap()
            * 3600.0
            - 3.0)
            .abs()
            < 1e-9
    );
    // A report into another file leaves the run's settings as they were, and says so.
    let out = report(&["--gpu-rate", "5", "--output", "five.json"]);
    assert!(out.status.success());
    let meta = read_json(&dir.join("metadata.json"));
    assert_eq!(meta["gpu_rate"], 3.0);
    assert_eq!(meta["reports"][1]["output"], "five.json");
}
