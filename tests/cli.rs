//! Bad input fails before any request is sent: a message naming the flag or the dataset field, a
//! non-zero exit, and no results folder.

mod common;
use common::*;
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
        (vec!["--temperature", "inf"], "--temperature"),
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
