//! Every line true: the cases a new user met where redline said something false, contradicted
//! itself or lost what it measured, each run as the user ran it (issue 26's list), against the
//! simulator on 127.0.0.1.

use crate::common::*;

/// The mean prompt tokens (the endpoint's `usage`) of level `level`'s records.
fn mean_prompt(run: &Run, level: u64) -> f64 {
    let v: Vec<f64> = run
        .records()
        .iter()
        .filter(|r| r["level"] == level)
        .filter_map(|r| r["prompt_tokens"].as_f64())
        .collect();
    v.iter().sum::<f64>() / v.len() as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_level_shorter_than_the_dataset_sends_a_representative_mix() {
    // 15 arrivals of the 30 bundled samples, then 30: one whole pass, the dataset's own mean.
    let sim = fast_sim(&["--output-tokens", "2"]).await;
    let flags = ["--qps", "5,10", "--duration", "3", "--seed", "4"];
    let run = redline(&bench_args(&sim, &flags)).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let (short, all) = (mean_prompt(&run, 0), mean_prompt(&run, 1));
    assert!(
        (short / all - 1.0).abs() <= 0.15,
        "15 requests averaged {short:.0} prompt tokens, the dataset {all:.0}"
    );
    assert!(
        run.stderr().contains(
            "15 arrivals, constant, 3s); 15 of the 30 samples, spread over their lengths"
        ),
        "{}",
        run.stderr()
    );
    let meta = read_json(&run.dir().join("metadata.json"));
    assert_eq!(meta["sample_order"], "spread");
    // The reference tool's order stays available, and says what it does to a short level.
    let mut cycle = flags.to_vec();
    cycle.extend(["--sample-order", "cycle"]);
    let run = redline(&bench_args(&sim, &cycle)).await;
    assert!(mean_prompt(&run, 0) / mean_prompt(&run, 1) < 0.85);
    assert!(
        run.stderr()
            .contains("only the first 15 of the 30 samples (--sample-order cycle)"),
        "{}",
        run.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_sessions_level_sends_conversations_of_every_length() {
    // Four sessions of the bundled conversations: the first four would all be single-turn.
    let sim = fast_sim(&["--output-tokens", "2"]).await;
    let run = redline(&bench_args(
        &sim,
        &["--sessions", "--qps", "2", "--duration", "2", "--seed", "1"],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let sessions = &run.level(0)["sessions"];
    assert!(
        sessions["mean_turns_sent"].as_f64().unwrap() > 1.5,
        "{sessions}"
    );
    assert!(!run.stdout().contains("1.0 turns each"), "{}", run.stdout());
}

/// `redline report DIR ARGS...` of a folder, blocking.
fn report(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_redline"))
        .arg("report")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_from_fewer_records_than_measured_changes_nothing_unless_asked() {
    let sim = fast_sim(&["--output-tokens", "2"]).await;
    let run = redline(&bench_args(&sim, &["--qps", "10,20", "--duration", "1"])).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let dir = run.dir();
    let files = |d: &std::path::Path| {
        ["benchmark_qps_results.json", "metadata.json"].map(|f| std::fs::read(d.join(f)).unwrap())
    };
    let before = files(&dir);
    let records = std::fs::read_to_string(dir.join("requests.jsonl")).unwrap();
    // Emptied, then cut short in level 2: each time, nothing changes and each level's loss is said.
    let lines: Vec<&str> = records.lines().collect();
    let cut = lines[..lines.len() - 5].join("\n") + "\n";
    for (text, says) in [
        (
            String::new(),
            "QPS 10.0 kept 0 of its 10 records, QPS 20.0 kept 0 of its 20",
        ),
        (cut, "QPS 20.0 kept 15 of its 20 records"),
    ] {
        std::fs::write(dir.join("requests.jsonl"), &text).unwrap();
        let out = report(&dir, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(says) && err.contains("nothing was changed"),
            "{err}"
        );
        assert_eq!(files(&dir), before);
    }
    // Asked for, the rebuild goes beside the run's results, never over them, and is recorded.
    let out = report(&dir, &["--from-partial-records"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("give --output another name"));
    let out = report(&dir, &["--output", "metadata.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a file of the results folder itself"));
    assert_eq!(files(&dir), before);
    let out = report(
        &dir,
        &["--from-partial-records", "--output", "partial.json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(files(&dir)[0], before[0]);
    let partial = read_json(&dir.join("partial.json"));
    assert_eq!(partial["results"][1]["requests_scheduled"], 15);
    // A level rebuilt from part of its records is shown, never judged.
    let level = &partial["results"][1];
    assert_eq!(level["verdict_trusted"], false);
    assert_eq!(level["rebuilt_from_records"]["kept"], 15);
    assert!(level["verdict_reason"]
        .as_str()
        .unwrap()
        .contains("rebuilt from 15 of the 20 records it measured, so its verdict is not used"));
    assert!(partial["results"][0].get("rebuilt_from_records").is_none());
    assert_eq!(partial["results"][0]["verdict_trusted"], true);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("QPS 20.0 was rebuilt from 15 of the 20 records it measured"),
        "{said}"
    );
    let meta = read_json(&dir.join("metadata.json"));
    let rebuilt = &meta["reports"][0];
    assert_eq!(rebuilt["output"], "partial.json");
    assert_eq!(rebuilt["partial_records"][0]["kept"], 15);
    assert_eq!(rebuilt["partial_records"][0]["measured"], 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_loop_speaks_of_concurrency_never_of_a_qps_capacity() {
    let sim = start_sim(&[]).await;
    let run = redline(&bench_args(
        &sim,
        &["--concurrency", "2,16", "--duration", "2"],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let out = run.stdout();
    for never in [
        "Maximum sustainable QPS",
        "Recommended production limit",
        "QPS Target",
        "keeping up",
    ] {
        assert!(!out.contains(never), "{never:?} in:\n{out}");
    }
    assert!(out.contains("Concurrency  Achieved QPS"), "{out}");
    assert!(out.contains("Maximum sustainable concurrency: "), "{out}");
    let json = run.results_json();
    let s = &json["summary"];
    assert_eq!(s["max_sustainable_qps"], serde_json::Value::Null);
    assert_eq!(s["recommended_qps"], serde_json::Value::Null);
    assert!(s["max_sustainable_concurrency"].is_u64(), "{s}");
    assert!(s["achieved_qps_at_max_concurrency"].is_f64(), "{s}");
    // A level has no target rate: the results and the records agree.
    let level = run.level(1);
    assert_eq!(level["qps_target"], serde_json::Value::Null);
    assert_eq!(level["concurrency"], 16);
    assert!(level["actual_qps"].as_f64().unwrap() > 0.0);
    let records = run.records();
    let last = records.iter().find(|r| r["level"] == 1).unwrap();
    assert_eq!(last["qps_target"], serde_json::Value::Null);
    assert_eq!(last["concurrency"], 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_level_of_one_request_is_not_judged() {
    let sim = fast_sim(&["--output-tokens", "2"]).await;
    let run = redline(&bench_args(&sim, &["--qps", "0.001", "--duration", "2"])).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let json = run.results_json();
    assert_eq!(json["results"][0]["verdict_trusted"], false);
    assert_eq!(
        json["summary"]["max_sustainable_qps"],
        serde_json::Value::Null
    );
    assert!(
        run.stdout().contains(
            "QPS 0.0010 sent 1 request, too few to judge (at least 10): its PASS is not used"
        ),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout()
            .contains("Maximum sustainable QPS: none (no level's verdict could be used"),
        "{}",
        run.stdout()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_the_endpoint_does_not_list_is_named_with_those_it_does() {
    // The simulator, like llama.cpp's server, answers any model name.
    let sim = fast_sim(&["--served-model", "tiny-llama", "--output-tokens", "2"]).await;
    let mut args = bench_args(&sim, &["--qps", "10", "--duration", "1"]);
    args[3] = "llama-3-8b";
    let run = redline(&args).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("warning: GET /v1/models lists tiny-llama, not \"llama-3-8b\""),
        "{}",
        run.stderr()
    );
}

const TRACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/trace.csv");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flag_that_does_not_apply_is_refused_by_name() {
    let empty = tempfile::NamedTempFile::new().unwrap();
    let empty_path = empty.path().display().to_string();
    for (flags, says) in [
        (
            vec!["--qps", "5,10", "--concurrency", "2"],
            "leave out --qps",
        ),
        (
            vec!["--qps-start", "2"],
            "--qps-start sets the search of --qps auto",
        ),
        (
            vec!["--search-budget", "60"],
            "--search-budget sets the search of --qps auto",
        ),
        (
            vec!["--slo", "ttft_p95<=0.5", "--max-ttft-p95", "0.1"],
            "--slo ttft_p95 and --max-ttft-p95 set the same objective",
        ),
        (
            vec!["--max-tokens", "-5"],
            "--max-tokens -5: give a whole number",
        ),
        (
            vec!["--concurrency", "1.5"],
            "--concurrency 1.5: give whole numbers of requests in flight",
        ),
        (
            vec!["--qps", "auto", "--qps-start", "0"],
            "--qps-start 0: the first rate probed, a number above 0",
        ),
        (vec!["--dataset", empty_path.as_str()], "is empty"),
        (
            vec!["--output", "requests.jsonl"],
            "requests.jsonl is a file of the results folder itself",
        ),
        (
            vec!["--output", "same.png", "--plot-output", "same"],
            "name the same file",
        ),
        (
            vec!["--trace", TRACE, "--duration", "30"],
            "leave out --duration",
        ),
        (
            vec!["--trace", TRACE, "--max-tokens", "50"],
            "carry their own (output= of --synthetic",
        ),
        (
            vec!["--synthetic", "input=100,output=20", "--max-tokens", "50"],
            "--max-tokens sets the reply length of dataset samples",
        ),
        (
            vec![
                "--synthetic",
                "input=100,output=20",
                "--dataset-format",
                "sharegpt",
            ],
            "--dataset-format reads a --dataset file",
        ),
        (
            vec!["--ttft-timeout", "60", "--timeout", "30"],
            "--ttft-timeout 60 is not below --timeout 30",
        ),
        (vec!["--qps", "5,10,5"], "--qps: 5 is given twice"),
        (
            vec!["--concurrency", "2,2"],
            "--concurrency: 2 is given twice",
        ),
        (
            vec!["--percentiles", "50,99,50"],
            "--percentiles: 50 is given twice",
        ),
    ] {
        let mut args = vec!["--endpoint", "http://127.0.0.1:9", "--model", "m"];
        let own = ["--dataset", "--trace", "--synthetic"];
        if !flags.iter().any(|f| own.contains(f)) {
            args.extend(["--dataset", DATASET]);
        }
        args.extend(flags.iter().copied());
        let run = redline(&args).await;
        assert!(matches!(run.code(), Some(1 | 2)), "{flags:?}");
        assert!(run.stderr().contains(says), "{flags:?}: {}", run.stderr());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_holds_what_any_json_tool_reads_back() {
    let sim = fast_sim(&["--output-tokens", "2"]).await;
    let run = redline(&bench_args(&sim, &["--qps", "10", "--duration", "1"])).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let meta = read_json(&run.dir().join("metadata.json"));
    // A random seed a double keeps exact, and the flag not given is not written as given.
    assert!(
        meta["seed"].as_u64().unwrap() <= 1 << 53,
        "{}",
        meta["seed"]
    );
    assert_eq!(meta["show_tokens"], false);
    let big = redline(&bench_args(&sim, &["--seed", "18446744073709551615"])).await;
    assert_eq!(big.code(), Some(1));
    assert!(
        big.stderr().contains("at most 9007199254740992"),
        "{}",
        big.stderr()
    );
    // A search's tolerance reads as the flag gave it.
    let search = redline(&bench_args(&sim, &short_search("1"))).await;
    let meta = read_json(&search.dir().join("metadata.json"));
    assert_eq!(meta["search"]["tolerance_pct"], 5.0, "{}", meta["search"]);
}

#[test]
fn help_says_what_each_command_does_with_a_flag() {
    let help = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_redline"))
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // A plain report keeps the run's thresholds: its help names no other default.
    let report = help(&["report", "--help"]);
    for wrong in ["[default: 99]", "[default: 90]", "[default: 25]"] {
        assert!(!report.contains(wrong), "{wrong} in:\n{report}");
    }
    assert!(report.contains("redline report: the run's"), "{report}");
    assert!(help(&["compare", "--help"]).contains("max_concurrency"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_for_the_next_level_on_the_common_clock_is_said() {
    let sim = fast_sim(&["--output-tokens", "2"]).await;
    let start = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    let run = redline(&bench_args(
        &sim,
        &[
            "--qps",
            "10,11",
            "--duration",
            "1",
            "--start-at",
            &start,
            "--level-gap",
            "5",
        ],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("s for level 2's start on the common clock"),
        "{}",
        run.stderr()
    );
}
