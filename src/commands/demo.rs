//! `redline demo`: starts the simulator in-process on 127.0.0.1 and benchmarks it with the bundled
//! dataset, through the same `bench` pipeline as a real run, so a newcomer sees PASS levels, the
//! saturation point and 503s without an endpoint.

use crate::cli::{BenchArgs, DatasetFormat, DemoArgs};
use crate::config::Config;
use crate::dataset;
use crate::pipeline::{bench, Outcome};
use crate::sim;
use anyhow::Result;

/// `redline demo`: the simulator in-process on 127.0.0.1, benchmarked with the bundled dataset.
pub async fn run(d: &DemoArgs) -> Result<Outcome> {
    let sim_args = d.sim.clone();
    let addr = sim::spawn(&sim_args, ([127, 0, 0, 1], 0).into()).await?;
    let (data, dataset_name) = match &d.dataset {
        Some(p) => (
            dataset::load(p, DatasetFormat::Auto)?,
            p.display().to_string(),
        ),
        None => (
            dataset::parse_as(
                dataset::BUNDLED,
                "bundled data/conversations.json",
                DatasetFormat::Auto,
            )?,
            "data/conversations.json (bundled)".to_string(),
        ),
    };
    let endpoint = format!("http://{addr}");
    let mut args = BenchArgs::new(&endpoint, &sim_args.served_model, dataset_name.into());
    args.qps = Some(d.qps.clone());
    args.duration = Some(d.duration);
    args.max_tokens = Some(d.max_tokens);
    args.results_dir = d.results_dir.clone();
    args.plot = d.plot;
    args.pricing = d.pricing;
    args.policy = d.policy.clone();
    args.levels = d.levels;
    args.capacity_precision = d.capacity_precision;
    args.show_ci = d.show_ci;
    let mut cfg = Config::from_args(&args)?;
    // No key: the simulator needs none, and a real one (OPENAI_API_KEY) is never sent to it.
    cfg.api_key = None;
    println!(
        "redline demo: simulated endpoint ({}) at {endpoint}; `redline sim --profile {} --print-config` shows its parameters",
        sim_args.profile, sim_args.profile
    );
    bench(cfg, Some(data)).await
}
