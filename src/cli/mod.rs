//! Command-line flags (clap derive), and nothing else: every clap struct of every command, the flag
//! value types and the defaults they share. The benchmark flags keep the reference tool's names and
//! defaults; `config/` validates them into a `Config` before any work starts. This is the bottom
//! layer: it imports nothing of redline's.
//!
//! `redline [FLAGS]` runs a benchmark (flags in `bench.rs`); `redline sim` serves the built-in
//! endpoint (`sim.rs`); `redline demo`, `report`, `calibrate`, `compare` and `merge` are the other
//! commands (`commands.rs`); `redline sweep` (`sweep.rs`) takes a run's flags as a template.
//! Flag groups several commands share (policy, pricing, the chart) are
//! declared once in `groups.rs`; value types and defaults are in `values.rs`. The children import
//! each other, never this file.

mod bench;
mod commands;
mod groups;
mod sim;
mod sweep;
mod values;

pub use bench::{BenchArgs, ConnectionArgs, ShardArgs, WorkloadArgs};
pub use commands::{CalibrateArgs, CompareArgs, CompareFormat, DemoArgs, MergeArgs, ReportArgs};
pub use groups::{LevelArgs, PlotArgs, PolicyArgs, PricingArgs};
pub use sim::{Limit, SimArgs, SimModelArgs};
pub use sweep::{is_run_flag, run_flags, SweepArgs};
pub use values::{
    defaults, trimmed, Api, Arrival, DatasetFormat, IgnoreEos, PlotFormat, QpsArg, RepeatOrder,
    SampleOrder, VerdictWindow,
};

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "redline",
    version,
    about = "Find an LLM endpoint's capacity: fixed-rate QPS levels against an OpenAI-compatible streaming endpoint",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub bench: BenchArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the built-in simulated OpenAI-compatible endpoint.
    Sim(Box<SimArgs>),
    /// Start the simulator in-process and benchmark it with the bundled dataset.
    Demo(Box<DemoArgs>),
    /// Rebuild the table, JSON and chart of a results folder from its requests.jsonl and
    /// metadata.json, without sending a request (optionally with new percentiles or pricing).
    Report(ReportArgs),
    /// Measure this machine's client ceiling against the built-in simulator: the highest rate at
    /// which redline still sends on time and measures TTFT within 1 ms.
    Calibrate(CalibrateArgs),
    /// Compare results folders side by side against the first: the settings that differ, the
    /// summaries and each level, with each run's change; optionally fail on a regression.
    Compare(CompareArgs),
    /// Merge the results folders of a plan's shards (--shard I/N) into one results folder,
    /// computed from the union of their records.
    Merge(MergeArgs),
    /// Measure each configuration of a server (or of redline's own flags): start the server from
    /// a command template per configuration, find its capacity, stop it; then the Pareto frontier
    /// of per-user speed against throughput per GPU, and one folder with every run.
    Sweep(Box<SweepArgs>),
}
