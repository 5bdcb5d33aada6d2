//! `redline demo`: starts the simulator in-process on 127.0.0.1 and benchmarks it with the bundled
//! dataset, through the same `bench` pipeline as a real run, so a newcomer sees PASS levels, the
//! saturation point and 503s without an endpoint.

use crate::cli::{self, DemoArgs};
use crate::config::Config;
use crate::{bench, dataset, sim, Outcome, BUNDLED_DATASET};
use anyhow::Result;
use clap::Parser as _;

/// `redline demo`: the simulator in-process on 127.0.0.1, benchmarked with the bundled dataset.
pub async fn demo(d: &DemoArgs) -> Result<Outcome> {
    let sim_args = d.sim.clone();
    let addr = sim::spawn(&sim_args, ([127, 0, 0, 1], 0).into()).await?;
    let (conversations, dataset_name) = match &d.dataset {
        Some(p) => (dataset::load(p)?, p.display().to_string()),
        None => (
            dataset::parse(BUNDLED_DATASET, "bundled data/conversations.json")?,
            "data/conversations.json (bundled)".to_string(),
        ),
    };
    let endpoint = format!("http://{addr}");
    let (duration, max_tokens) = (d.duration.to_string(), d.max_tokens.to_string());
    let results_dir = d.results_dir.display().to_string();
    let mut args: Vec<String> = [
        "redline",
        "--endpoint",
        &endpoint,
        "--model",
        &sim_args.served_model,
        "--dataset",
        &dataset_name,
        "--qps",
        &d.qps,
        "--duration",
        &duration,
        "--max-tokens",
        &max_tokens,
        "--results-dir",
        &results_dir,
    ]
    .map(String::from)
    .to_vec();
    if d.plot {
        args.push("--plot".into());
    }
    if let Some(r) = d.gpu_rate {
        args.extend(["--gpu-rate".into(), r.to_string()]);
    }
    if let Some(n) = d.num_gpus {
        args.extend(["--num-gpus".into(), n.to_string()]);
    }
    let cli = cli::Cli::try_parse_from(args)?;
    let mut cfg = Config::from_args(&cli.bench)?;
    cfg.api_key = None; // the simulator needs none; never send a real key to it
    println!(
        "redline demo: simulated endpoint ({}) at {endpoint}; `redline sim --profile {} --print-config` shows its parameters",
        sim_args.profile, sim_args.profile
    );
    bench(cfg, conversations).await
}
