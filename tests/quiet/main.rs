//! Tests whose subject is the client's own timing on an idle machine: that it keeps its schedule
//! (schedule lag within the client-limited bound) at Poisson and trace arrivals, and that `--qps
//! auto` with short probes finds the capacity of an endpoint that sheds load (a late send there
//! is a burst that the endpoint answers with 503s). Run by `cargo
//! test` after the other binaries, one test at a time (each takes [`alone`]), so that no other test
//! shares the two cores with them; tests/it runs many at once and cannot promise an idle client.

#[path = "../it/common.rs"]
mod common;

use common::*;
use tokio::sync::{Mutex, MutexGuard};

/// The machine to this test alone: the tests of this binary run one after another.
async fn alone() -> MutexGuard<'static, ()> {
    static MACHINE: Mutex<()> = Mutex::const_new(());
    MACHINE.lock().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poisson_levels_on_an_idle_endpoint_offer_exactly_their_target_and_are_trusted() {
    let _machine = alone().await;
    // Seed 1 at 4 QPS for 5 s drew 18 arrivals when Poisson counts were random: the level was
    // called client-limited and the answer was "none".
    let sim = fast_sim(&["--output-tokens", "2"]).await;
    let run = redline(&bench_args(
        &sim,
        &[
            "--qps",
            "4,10",
            "--duration",
            "5",
            "--arrival",
            "poisson",
            "--seed",
            "1",
        ],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    for (i, want) in [(0, 20), (1, 50)] {
        let l = run.level(i);
        assert_eq!(l["requests_scheduled"], want, "{l}");
        assert_eq!(l["client_limited"], false, "{l}");
        assert_eq!(l["verdict"], "PASS", "{l}");
    }
    assert_eq!(run.results_json()["summary"]["max_sustainable_qps"], 10.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_client_keeps_a_traces_schedule() {
    let _machine = alone().await;
    let sim = fast_sim(&[]).await;
    let trace = concat!(env!("CARGO_MANIFEST_DIR"), "/data/trace.csv");
    let run = redline(&[
        "--endpoint",
        &sim,
        "--model",
        "redline-sim",
        "--trace",
        trace,
        "--trace-speed",
        "5",
    ])
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let level = run.level(0);
    assert_eq!(level["success_rate"], 100.0);
    assert_eq!(
        level["client_limited"], false,
        "lag {}",
        level["schedule_lag_s"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qps_auto_finds_the_capacity_of_an_endpoint_that_sheds_load() {
    let _machine = alone().await;
    // 4 replies at once, each ~90 ms (20 ms to the first of 8 tokens, 10 ms apart): about
    // 4 / 0.09 = 44 req/s; beyond, HTTP 503 at once.
    let sim = start_sim(&[
        "--profile",
        "fixed",
        "--ttft-ms",
        "20",
        "--itl-ms",
        "10",
        "--output-tokens",
        "8",
        "--max-inflight",
        "4",
    ])
    .await;
    let run = redline(&bench_args(
        &sim,
        &[
            "--qps",
            "auto",
            "--qps-start",
            "5",
            "--duration",
            "2",
            "--min-probe-duration",
            "0.5",
            "--qps-tolerance",
            "10",
            // 2-second probes measure the service rate too roughly for 5%.
            "--capacity-precision",
            "60",
        ],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let json = run.results_json();
    let search = &json["summary"]["search"];
    assert_eq!(search["stopped"], "converged", "{search}");
    let ci = &json["summary"]["capacity_ci"];
    assert!(
        ci["low"].as_f64() <= search["capacity_qps"].as_f64(),
        "{ci}"
    );
    assert!(
        ci["high"].as_f64() >= search["first_fail_qps"].as_f64(),
        "{ci}"
    );
    let found = search["capacity_qps"].as_f64().unwrap();
    let fail = search["first_fail_qps"].as_f64().unwrap();
    assert!((fail - found) / found <= 0.10, "{search}");
    assert!(
        (found - 44.4).abs() / 44.4 <= 0.15,
        "found {found}: {search}"
    );
    assert_eq!(json["summary"]["max_sustainable_qps"], found);
    // Every probe is an ordinary level, numbered in search order, with its records.
    let levels = json["results"].as_array().unwrap();
    assert_eq!(levels.len() as u64, search["probes"].as_u64().unwrap());
    for (i, l) in levels.iter().enumerate() {
        assert_eq!(l["search_probe"], i + 1);
    }
    assert_eq!(levels[0]["qps_target"], 5.0);
    let meta = read_json(&run.dir().join("metadata.json"));
    assert_eq!(meta["qps_levels"].as_array().unwrap().len(), levels.len());
    assert!(
        run.stdout().contains("Capacity (--qps auto)"),
        "{}",
        run.stdout()
    );
    // redline report rebuilds the same JSON from the records.
    assert!(re_reports_identically(&run.dir()));
}
