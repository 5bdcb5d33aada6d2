//! `--lora`: each conversation's requests name one adapter as their model (a session keeps it),
//! every figure is also given per adapter, and the simulator loads the adapters it is asked for.

use crate::common::*;
use std::collections::BTreeMap;

#[tokio::test(flavor = "multi_thread")]
async fn each_session_keeps_its_adapter_and_the_level_reports_every_adapter() {
    let sim = start_sim(&[
        "--profile",
        "fixed",
        "--ttft-ms",
        "5",
        "--itl-ms",
        "1",
        "--max-loras",
        "1",
    ])
    .await;
    sim_stats(&sim, "adapters").await;
    let flags = [
        "--lora",
        "sql,chat",
        "--sessions",
        "--qps",
        "4",
        "--duration",
        "1",
    ];
    let run = redline(&bench_args(&sim, &flags)).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let said = "LoRA: 2 adapters (sql, chat), one per session in turn";
    assert!(run.stderr().contains(said), "{}", run.stderr());
    let recs = run.records();
    let mut by_session: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for r in &recs {
        let a = r["adapter"]
            .as_str()
            .expect("every request names its adapter")
            .to_string();
        by_session
            .entry(r["session"].as_u64().unwrap())
            .or_default()
            .push(a);
    }
    for (s, names) in &by_session {
        assert!(
            names.iter().all(|n| n == &names[0]),
            "session {s}: {names:?}"
        );
    }
    let l = run.level(0);
    let figures = l["by_adapter"].as_array().unwrap();
    let total: u64 = figures
        .iter()
        .map(|f| f["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(total, recs.len() as u64);
    assert_eq!(figures[0]["adapter"], "chat");
    assert!(
        run.stdout().contains("By adapter (--lora):"),
        "{}",
        run.stdout()
    );
    // Every request reached the simulator naming its adapter: one load or one hit each.
    let s = sim_stats(&sim, "adapters").await;
    assert_eq!(
        s["loads"].as_u64().unwrap() + s["hits"].as_u64().unwrap(),
        total
    );
    assert!(s["loads"].as_u64().unwrap() >= 2, "{s}");
}

#[tokio::test(flavor = "multi_thread")]
async fn weights_choose_the_adapters_and_bad_ones_are_refused() {
    let sim = start_sim(&["--profile", "fixed", "--ttft-ms", "5", "--itl-ms", "1"]).await;
    let flags = [
        "--lora",
        "a,b",
        "--lora-assignment",
        "weights=a:1,b:0",
        "--qps",
        "10",
        "--duration",
        "1",
    ];
    let run = redline(&bench_args(&sim, &flags)).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert!(run.records().iter().all(|r| r["adapter"] == "a"));
    for (flags, says) in [
        (vec!["--lora-assignment", "random"], "add --lora NAME"),
        (
            vec!["--lora", "a", "--lora-assignment", "weights=z:1"],
            "not one of --lora's",
        ),
        (
            vec!["--lora", "a", "--api", "embeddings"],
            "--api embeddings is not one",
        ),
    ] {
        refused(&sim, &flags, says).await;
    }
    // A trace's requests name --model: adapters with it are refused, not dropped.
    let trace = format!("{}/data/trace-mooncake.jsonl", env!("CARGO_MANIFEST_DIR"));
    let args = [
        "--endpoint",
        &sim,
        "--model",
        "redline-sim",
        "--trace",
        &trace,
        "--lora",
        "a",
    ];
    let run = redline(&args).await;
    assert_eq!(run.code(), Some(1), "{}", run.stderr());
    assert!(
        run.stderr().contains("--lora with --trace"),
        "{}",
        run.stderr()
    );
}
