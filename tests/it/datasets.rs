//! Every dataset format from the CLI against the simulator: the run reads the shipped sample of
//! each format, says which format it read, and sends its conversations; `--max-samples` and
//! `--shuffle` pick which.

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_shipped_format_runs_and_is_recorded() {
    let sim = fast_sim(&["--output-tokens", "2"]).await;
    for (file, format) in [
        ("sharegpt.json", "sharegpt"),
        ("openai-chat.jsonl", "openai"),
        ("prompts.jsonl", "prompts"),
        ("prompts.txt", "prompts"),
    ] {
        let path = format!("{}/data/{file}", env!("CARGO_MANIFEST_DIR"));
        let run = redline(&[
            "--endpoint",
            &sim,
            "--model",
            "redline-sim",
            "--dataset",
            &path,
            "--qps",
            "8",
            "--duration",
            "0.5",
        ])
        .await;
        assert_eq!(run.code(), Some(0), "{file}: {}", run.stderr());
        assert!(
            run.stderr()
                .contains(&format!("({format} format), 4 conversations")),
            "{file}: {}",
            run.stderr()
        );
        assert_eq!(run.level(0)["success_rate"], 100.0, "{file}");
        let meta = read_json(&run.dir().join("metadata.json"));
        assert_eq!(meta["dataset_format"], format, "{file}");
        // Every request sends one of the 4 samples.
        let samples: Vec<u64> = run
            .records()
            .iter()
            .map(|r| r["sample"].as_u64().unwrap())
            .collect();
        assert!(samples.iter().all(|&s| s < 4), "{file}: {samples:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_samples_and_shuffle_pick_the_samples() {
    let sim = fast_sim(&["--output-tokens", "2"]).await;
    let args = bench_args(
        &sim,
        &[
            "--qps",
            "8",
            "--duration",
            "0.5",
            "--max-samples",
            "3",
            "--shuffle",
            "--seed",
            "5",
        ],
    );
    let run = redline(&args).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert!(
        run.stderr().contains("3 conversations of 30, shuffled"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        read_json(&run.dir().join("metadata.json"))["dataset_samples"],
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dataset_of_another_shape_names_the_formats() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.jsonl");
    std::fs::write(&path, "{\"question\": \"x\"}\n").unwrap();
    let run = redline(&[
        "--endpoint",
        "http://127.0.0.1:9",
        "--model",
        "m",
        "--dataset",
        &path.display().to_string(),
    ])
    .await;
    assert_eq!(run.code(), Some(1));
    assert!(
        run.stderr().contains("ShareGPT") && run.stderr().contains("line 1"),
        "{}",
        run.stderr()
    );
}
