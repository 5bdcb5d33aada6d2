//! `redline compare`: results folders side by side against the first, the settings that differ
//! listed first, every format, the overlay chart, and the regression gate's exit status.

use crate::common::*;
use serde_json::Value;

/// `redline compare` with `args`.
async fn compare(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_redline"))
            .arg("compare")
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// A short two-level run against a fixed-latency simulator of `ttft_ms`, with `extra` flags.
async fn run_against(ttft_ms: &str, extra: &[&str]) -> Run {
    let sim = start_sim(&["--profile", "fixed", "--ttft-ms", ttft_ms, "--itl-ms", "1"]).await;
    let mut flags = vec!["--qps", "4,8", "--duration", "1"];
    flags.extend_from_slice(extra);
    let run = redline(&bench_args(&sim, &flags)).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_of_another_workload_are_never_called_the_same() {
    let text_only = run_against("5", &[]).await;
    let lora = ["--lora", "a,b"];
    for (extra, setting) in [
        (&["--images", "count=1,size=8x8"][..], "images: A: -, B: "),
        (&["--audio", "count=1,seconds=1"][..], "audio: A: -, B: "),
        (&lora[..], "lora: A: -, B: "),
    ] {
        let other = run_against("5", extra).await;
        let dirs = vec![
            text_only.dir().display().to_string(),
            other.dir().display().to_string(),
        ];
        let out = compare(dirs).await;
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Settings that differ"), "{extra:?}: {text}");
        assert!(text.contains(setting), "{extra:?}: {text}");
    }
    let meta = read_json(&run_against("5", &lora).await.dir().join("metadata.json"));
    assert_eq!(meta["lora"]["adapters"], serde_json::json!(["a", "b"]));
    // One input a request against four: the batch, not only the figures, differs.
    let one = run_against("5", &["--api", "embeddings", "--batch-size", "1"]).await;
    let four = run_against("5", &["--api", "embeddings", "--batch-size", "4"]).await;
    let dirs = vec![
        one.dir().display().to_string(),
        four.dir().display().to_string(),
    ];
    let text = String::from_utf8_lossy(&compare(dirs).await.stdout).into_owned();
    assert!(text.contains("batch_size: A: 1, B: 4"), "{text}");
    // A whole reply's figures: one latency and inputs per second, no TTFT and no output tokens.
    assert!(
        text.contains("Inputs/s") && text.contains("Latency P50(s)"),
        "{text}"
    );
    assert!(
        !text.contains("TTFT") && !text.contains("Output tok/s"),
        "{text}"
    );
    // The default gate has no TTFT to gate there, and gates the rest.
    let dirs = vec![
        one.dir().display().to_string(),
        four.dir().display().to_string(),
    ];
    let gate = ["--fail-on-regression".to_string(), "1000%".to_string()];
    let out = compare([dirs, gate.to_vec()].concat()).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlike_runs_are_flagged_first_and_every_format_holds_the_levels() {
    let a = run_against("5", &[]).await;
    let b = run_against("5", &["--temperature", "0"]).await;
    let dirs = vec![a.dir().display().to_string(), b.dir().display().to_string()];
    let out = compare(dirs.clone()).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let settings = text.find("Settings that differ").expect(&text);
    assert!(
        text[settings..].contains("temperature: A: 0.7, B: 0.0"),
        "{text}"
    );
    assert!(
        settings < text.find("QPS 4.0").unwrap(),
        "settings come before the levels"
    );
    assert!(
        text.contains("Success%") && text.contains("TTFT P95(s)") && text.contains("Verdict"),
        "{text}"
    );
    // Markdown: a table per level, with the baseline marked.
    let md = compare([dirs.clone(), vec!["--format".into(), "markdown".into()]].concat()).await;
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(
        md.contains("(baseline)") && md.contains("| QPS 8.0 | A | B |"),
        "{md}"
    );
    // CSV: a row per run of every metric.
    let csv = compare([dirs.clone(), vec!["--format".into(), "csv".into()]].concat()).await;
    let csv = String::from_utf8_lossy(&csv.stdout);
    assert!(
        csv.starts_with("block,metric,run,value,change_pct,p_value,significant\n"),
        "{csv}"
    );
    assert!(
        csv.lines().any(|l| l.starts_with("QPS 4.0,ttft_p95,B,")),
        "{csv}"
    );
    // JSON: the comparison itself.
    let json = compare([dirs.clone(), vec!["--format".into(), "json".into()]].concat()).await;
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["levels"].as_array().unwrap().len(), 2);
    assert_eq!(v["settings"][0]["setting"], "temperature");
    // The overlay chart.
    let tmp = tempfile::tempdir().unwrap();
    let png = tmp.path().join("c.png").display().to_string();
    let out = compare(
        [
            dirs,
            vec![
                "--plot-format".into(),
                "both".into(),
                "--plot-output".into(),
                png.clone(),
            ],
        ]
        .concat(),
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (3200, 800));
    assert!(tmp.path().join("c.svg").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regression_beyond_the_threshold_fails_with_status_3() {
    let fast = run_against("5", &[]).await;
    let slow = run_against("60", &[]).await;
    let (fast, slow) = (
        fast.dir().display().to_string(),
        slow.dir().display().to_string(),
    );
    let gate = |a: &str, b: &str| {
        vec![
            a.to_string(),
            b.to_string(),
            "--fail-on-regression".into(),
            "10%".into(),
            "--metrics".into(),
            "ttft_p95".into(),
        ]
    };
    // TTFT p95 rose from ~5 ms to ~60 ms: a regression at both levels.
    let out = compare(gate(&fast, &slow)).await;
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Regressions beyond 10%:"), "{text}");
    assert!(text.contains("B at QPS 4.0: ttft_p95"), "{text}");
    // The other way round it is an improvement.
    let out = compare(gate(&slow, &fast)).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("No regression beyond 10%."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_folders_and_flags_are_explained() {
    let a = run_against("5", &[]).await;
    let dir = a.dir().display().to_string();
    let empty = tempfile::tempdir().unwrap();
    let out = compare(vec![dir.clone(), empty.path().display().to_string()]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("give a run's results folder"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = compare(vec![dir.clone()]).await;
    assert_eq!(out.status.code(), Some(2), "two folders at least");
    let out = compare(vec![
        dir.clone(),
        dir.clone(),
        "--metrics".into(),
        "latency".into(),
        "--fail-on-regression".into(),
        "5".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("choose from"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = compare(vec![
        dir.clone(),
        dir.clone(),
        "--fail-on-regression".into(),
        "ten".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    // --metrics gates nothing without a threshold: said, not ignored.
    let out = compare(vec![
        dir.clone(),
        dir,
        "--metrics".into(),
        "ttft_p95".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("add --fail-on-regression"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_difference_is_marked_significant_or_within_noise_and_only_a_real_one_fails_the_gate() {
    let run = |ttft: &'static str| async move {
        let sim = start_sim(&["--profile", "fixed", "--ttft-ms", ttft, "--itl-ms", "1"]).await;
        let run = redline(&bench_args(&sim, &["--qps", "10", "--duration", "1"])).await;
        assert_eq!(run.code(), Some(0), "{}", run.stderr());
        run
    };
    let (a, again, slow) = tokio::join!(run("50"), run("50"), run("150"));
    let dir = |r: &Run| r.dir().display().to_string();
    let gate = |b: &Run| {
        vec![
            dir(&a),
            dir(b),
            "--fail-on-regression".into(),
            "10%".into(),
            "--metrics".into(),
            "ttft_p50,success".into(),
            "--format".into(),
            "json".into(),
        ]
    };
    // The same settings twice: no regression.
    let out = compare(gate(&again)).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // TTFT 50 ms -> 150 ms: significant, and a regression.
    let out = compare(gate(&slow)).await;
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ttft = json["levels"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == "ttft_p50")
        .unwrap()
        .clone();
    assert_eq!(ttft["significant"][1], true, "{ttft}");
    assert!(ttft["p_value"][1].as_f64().unwrap() < 0.001, "{ttft}");
    // The table says which differences are within noise.
    let out = compare(vec![dir(&a), dir(&again)]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("n.s.: not significant"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_loop_is_never_compared_as_a_rate_nor_gated_against_rates() {
    // Folders of the previous release, whose closed loop still wrote a QPS capacity.
    let fixture = |name: &str| {
        format!(
            "{}/tests/fixtures/previous/{name}",
            env!("CARGO_MANIFEST_DIR")
        )
    };
    let (rates, closed) = (fixture("rates"), fixture("concurrency"));
    let out = compare(vec![rates.clone(), closed.clone()]).await;
    assert_eq!(out.status.code(), Some(0));
    let table = String::from_utf8_lossy(&out.stdout);
    let row = |label: &str| {
        table
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    // B offered no rate: its QPS rows are blank, its concurrency whole.
    assert_eq!(row("Max sustainable QPS"), "Max sustainable QPS 10.0 -");
    assert_eq!(
        row("Recommended limit (QPS)"),
        "Recommended limit (QPS) 7.5 -"
    );
    assert_eq!(
        row("Max sustainable concurrency"),
        "Max sustainable concurrency - 8"
    );
    // A gate between kinds is refused, never passed silently.
    let out = compare(vec![
        rates,
        closed,
        "--fail-on-regression".into(),
        "10%".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--fail-on-regression gates runs of one kind"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_runs_are_compared_over_their_repetitions() {
    let same_a = run_against("50", &["--repeat", "3"]).await;
    let same_b = run_against("50", &["--repeat", "3"]).await;
    let slow = run_against("150", &["--repeat", "3"]).await;
    let gate = |a: &Run, b: &Run| {
        vec![
            a.dir().display().to_string(),
            b.dir().display().to_string(),
            "--fail-on-regression".into(),
            "10%".into(),
            "--metrics".into(),
            "ttft_p50,success".into(),
            "--format".into(),
            "json".into(),
        ]
    };
    let out = compare(gate(&same_a, &same_b)).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = compare(gate(&same_a, &slow)).await;
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ttft = json["levels"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == "ttft_p50")
        .unwrap()
        .clone();
    // Three runs a side: Welch's t over the repetitions' medians finds the 100 ms difference.
    assert_eq!(ttft["significant"][1], true, "{ttft}");
    assert!(ttft["p_value"][1].as_f64().unwrap() < 0.05, "{ttft}");
}
