//! One plan on several machines: three `--shard I/3` processes with a common `--start-at` send
//! exactly the single-process schedule between them, and `redline merge` of their folders has the
//! same requests, planned at the same times, and the same table and verdicts as one process
//! running the plan; unlike plans are refused and a missing shard is named.

use crate::common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The plan (besides its seed), and the gap that spaces a sharded run's levels.
const PLAN: [&str; 8] = [
    "--qps",
    "10,20",
    "--duration",
    "2",
    "--arrival",
    "poisson",
    "--max-tokens",
    "16",
];
const GAP: [&str; 2] = ["--level-gap", "1"];

/// Runs `redline` with `args` and `--results-dir dir`, blocking; `job_index` is the
/// `JOB_COMPLETION_INDEX` a Kubernetes Indexed Job would set.
fn redline_into(args: Vec<String>, dir: &Path, job_index: Option<usize>) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_redline"));
    cmd.env_remove("JOB_COMPLETION_INDEX");
    if let Some(i) = job_index {
        cmd.env("JOB_COMPLETION_INDEX", i.to_string());
    }
    cmd.args(args)
        .args(["--results-dir", &dir.display().to_string()])
        .output()
        .unwrap()
}

/// The shards `indexes` of the plan with `seed`, started together; their folders.
async fn shards(sim: &str, indexes: &[usize], seed: &str, root: &Path) -> Vec<PathBuf> {
    let start = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    let handles: Vec<_> = indexes
        .iter()
        .map(|&i| {
            let mut args: Vec<String> = [
                "--endpoint",
                sim,
                "--model",
                "redline-sim",
                "--dataset",
                DATASET,
            ]
            .iter()
            .chain(PLAN.iter())
            .chain(GAP.iter())
            .chain(["--seed", seed].iter())
            .map(|s| s.to_string())
            .collect();
            // The last shard runs as a pod of an Indexed Job: `--shards 3`, its index from the
            // environment.
            let (shard, job_index) = match i {
                2 => (["--shards".into(), "3".into()], Some(i)),
                _ => (["--shard".into(), format!("{i}/3")], None),
            };
            args.extend(shard);
            args.extend(["--start-at".into(), start.clone()]);
            let dir = root.join(format!("shard-{i}"));
            tokio::task::spawn_blocking(move || (redline_into(args, &dir, job_index), dir))
        })
        .collect();
    finished(handles).await
}

/// The run folders of shard processes, each of which must have succeeded.
async fn finished(
    handles: Vec<tokio::task::JoinHandle<(std::process::Output, PathBuf)>>,
) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for h in handles {
        let (out, dir) = h.await.unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dirs.push(only_run_dir(&dir));
    }
    dirs
}

/// `redline merge` of `dirs` into `out` with `extra` flags.
fn merge(dirs: &[PathBuf], out: &Path, extra: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_redline"))
        .arg("merge")
        .args(dirs)
        .args(["--output-dir", &out.display().to_string()])
        .args(extra)
        .output()
        .unwrap()
}

/// Per level: each request's index, planned send time and its level's target.
fn planned(dir: &Path) -> Vec<Vec<(u64, f64, f64)>> {
    let mut by_level: Vec<Vec<(u64, f64, f64)>> = vec![Vec::new(); 2];
    for line in std::fs::read_to_string(dir.join("requests.jsonl"))
        .unwrap()
        .lines()
    {
        let r: Value = serde_json::from_str(line).unwrap();
        by_level[r["level"].as_u64().unwrap() as usize].push((
            r["index"].as_u64().unwrap(),
            r["planned_s"].as_f64().unwrap(),
            r["qps_target"].as_f64().unwrap(),
        ));
    }
    for l in &mut by_level {
        l.sort_by_key(|p| p.0);
    }
    by_level
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_merge_into_the_single_process_run() {
    let sim = start_sim(&[]).await;
    let root = tempfile::tempdir().unwrap();
    let dirs = shards(&sim, &[0, 1, 2], "11", root.path()).await;
    // Each shard sent its third of every level, at its share of the rate.
    for d in &dirs {
        let meta = read_json(&d.join("metadata.json"));
        assert_eq!(meta["shard"]["count"], 3);
        assert_eq!(
            meta["shard"]["plan_qps_levels"],
            serde_json::json!([10.0, 20.0])
        );
        assert!(
            meta["qps_levels"][0].as_f64().unwrap() < 4.0,
            "{}",
            meta["qps_levels"]
        );
    }
    let merged = root.path().join("merged");
    let out = merge(&dirs, &merged, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Merged 3 of 3 shards of plan"));
    // One process running the same plan.
    let one = redline(
        &[
            &[
                "--endpoint",
                &sim,
                "--model",
                "redline-sim",
                "--dataset",
                DATASET,
                "--seed",
                "11",
            ][..],
            &PLAN[..],
        ]
        .concat(),
    )
    .await;
    assert_eq!(one.code(), Some(0), "{}", one.stderr());
    // The same requests, planned at the same times, in levels of the same targets.
    assert_eq!(planned(&merged), planned(&one.dir()));
    let (m, s) = (
        read_json(&merged.join("benchmark_qps_results.json")),
        one.results_json(),
    );
    for i in 0..2 {
        let (a, b) = (&m["results"][i], &s["results"][i]);
        for k in [
            "qps_target",
            "requests_scheduled",
            "requests_sent",
            "verdict",
        ] {
            assert_eq!(a[k], b[k], "level {i}: {k}");
        }
        assert_eq!(a["success_rate"], 100.0);
        // The same endpoint under the same load: TTFT within sampling noise of each other.
        let (ta, tb) = (
            a["ttft"]["p50"].as_f64().unwrap(),
            b["ttft"]["p50"].as_f64().unwrap(),
        );
        assert!((ta - tb).abs() < 0.05, "level {i}: TTFT p50 {ta} vs {tb}");
    }
    assert_eq!(
        m["summary"]["max_sustainable_qps"],
        s["summary"]["max_sustainable_qps"]
    );
    let meta = read_json(&merged.join("metadata.json"));
    assert_eq!(meta["merged"]["merged"], serde_json::json!([0, 1, 2]));
    assert!(meta["merged"]["start_spread_s"].as_f64().unwrap() < 1.0);
    assert_eq!(meta["merged"]["shard_runs"].as_array().unwrap().len(), 3);
    assert!(re_reports_identically(&merged));

    // A missing shard is named, and merged only when asked.
    let out = merge(&dirs[..2], &root.path().join("partial"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("shard 2 of 3 is missing"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = merge(
        &dirs[..2],
        &root.path().join("partial"),
        &["--allow-missing"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let partial = read_json(&root.path().join("partial/benchmark_qps_results.json"));
    let notes = partial["summary"]["notes"].to_string();
    assert!(
        notes.contains("merged 2 of 3 shards") && notes.contains("shard 2 missing"),
        "{notes}"
    );
    // `redline report` keeps what the merge said.
    assert!(re_reports_identically(&root.path().join("partial")));
    let q = partial["results"][0]["qps_target"].as_f64().unwrap();
    assert!(
        (6.0..7.5).contains(&q),
        "two thirds of the plan's 10 req/s: {q}"
    );

    // A merge never writes over a shard's folder, nor into a folder that holds something.
    for out_dir in [dirs[0].clone(), merged.clone()] {
        let out = merge(&dirs, &out_dir, &[]);
        assert_eq!(out.status.code(), Some(1), "{}", out_dir.display());
    }

    // A shard of another plan (another seed) is refused, saying what differs: shard 2's folder,
    // as a run with --seed 12 would have written it.
    let other = root.path().join("other");
    std::fs::create_dir(&other).unwrap();
    for f in ["requests.jsonl", "benchmark_qps_results.json"] {
        std::fs::copy(dirs[2].join(f), other.join(f)).unwrap();
    }
    let mut meta = read_json(&dirs[2].join("metadata.json"));
    meta["seed"] = serde_json::json!(12);
    std::fs::write(other.join("metadata.json"), meta.to_string()).unwrap();
    let out = merge(
        &[dirs[0].clone(), dirs[1].clone(), other],
        &root.path().join("mixed"),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("different plans") && err.contains("seed (11 vs 12)"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shard_flags_are_checked_before_anything_is_sent() {
    let past = (chrono::Utc::now() - chrono::Duration::seconds(30)).to_rfc3339();
    let future = (chrono::Utc::now() + chrono::Duration::seconds(60)).to_rfc3339();
    for (extra, says) in [
        (
            vec!["--shard", "0/3", "--seed", "1", "--start-at", past.as_str()],
            "already past",
        ),
        (
            vec!["--shard", "0/3", "--start-at", future.as_str()],
            "--shard needs --seed",
        ),
        (
            vec!["--shard", "0/3", "--seed", "1"],
            "needs a common start",
        ),
        (
            vec![
                "--shard",
                "4/3",
                "--seed",
                "1",
                "--start-at",
                future.as_str(),
            ],
            "0 <= I < N",
        ),
        (
            vec![
                "--shard",
                "0/3",
                "--seed",
                "1",
                "--start-at",
                future.as_str(),
                "--qps",
                "auto",
            ],
            "cannot run --qps auto",
        ),
    ] {
        let run = redline(&bench_args("http://127.0.0.1:9", &extra)).await;
        assert_eq!(run.code(), Some(1), "{extra:?}: {}", run.stderr());
        assert!(run.stderr().contains(says), "{extra:?}: {}", run.stderr());
        assert_eq!(run.run_dirs(), 0);
    }
    // A folder that is not a shard's.
    let sim = fast_sim(&[]).await;
    let run = redline(&bench_args(&sim, &["--qps", "2", "--duration", "0.5"])).await;
    let out = merge(&[run.dir()], &run.results.path().join("m"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a shard's folder"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_that_is_ready_only_after_the_common_start_stops_instead_of_bursting() {
    // An endpoint whose first answer (the preflight's) takes 3 s: the shard is ready after the
    // start, 2 s away.
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let app = axum::Router::new().fallback(move || {
        let first = !answered.swap(true, std::sync::atomic::Ordering::SeqCst);
        async move {
            if first {
                tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            }
            "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]\n\n"
        }
    });
    let endpoint = start_fake(app).await;
    let start = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let run = redline(&bench_args(
        &endpoint,
        &[
            "--qps",
            "6",
            "--duration",
            "1",
            "--shard",
            "0/3",
            "--seed",
            "1",
            "--start-at",
            &start,
        ],
    ))
    .await;
    assert_eq!(run.code(), Some(1), "{}", run.stderr());
    assert!(
        run.stderr().contains("by the time this process is ready"),
        "{}",
        run.stderr()
    );
    assert_eq!(run.run_dirs(), 0, "nothing was measured");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_workers_that_do_not_divide_evenly_still_make_one_plan() {
    // 3 workers on 2 shards: shard 0 runs workers 0 and 2, shard 1 worker 1. Their own levels
    // differ, their plan does not.
    let sim = fast_sim(&[]).await;
    let root = tempfile::tempdir().unwrap();
    let start = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let args: Vec<String> = [
                "--endpoint",
                &sim,
                "--model",
                "redline-sim",
                "--dataset",
                DATASET,
                "--concurrency",
                "3",
                "--duration",
                "1",
                "--max-tokens",
                "8",
                "--seed",
                "5",
                "--shard",
                &format!("{i}/2"),
                "--start-at",
                &start,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            let dir = root.path().join(format!("shard-{i}"));
            tokio::task::spawn_blocking(move || (redline_into(args, &dir, None), dir))
        })
        .collect();
    let dirs = finished(handles).await;
    let merged = root.path().join("merged");
    let out = merge(&dirs, &merged, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta = read_json(&merged.join("metadata.json"));
    assert_eq!(meta["concurrency_levels"], serde_json::json!([3]));
    // The merged records carry the plan's 3 workers, and no target rate.
    let records: Vec<Value> = std::fs::read_to_string(merged.join("requests.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect();
    assert!(
        !records.is_empty()
            && records
                .iter()
                .all(|r| r["concurrency"] == 3 && r["qps_target"].is_null()),
        "{records:?}"
    );
}
