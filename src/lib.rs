//! redline: find an LLM endpoint's capacity.
//!
//! One folder per pipeline stage, and imports point one way (checked by `tests/layers.rs`):
//!
//! | layer | modules | what |
//! |---|---|---|
//! | 0 | `cli` | every clap struct and flag value type; imports nothing of redline's |
//! | 1 | `config` | typed, validated settings and the one validator of each flag |
//! | 2 | `dataset` | the conversations, validated |
//! | 3 | `measure` | planned send -> `RequestRecord` (schedule, runner, client, transport, SSE) |
//! | 4 | `analyze` | records -> `Report` (stats, queueing, verdicts, summary) |
//! | 5 | `output`, `sim` | adapters that write and show the report; the built-in endpoint |
//! | 6 | `process` | signals and the open-file limit |
//! | 7 | `pipeline` | the bench pipeline: what the levels send, the request that fails fast, each level planned, run and recorded |
//! | 8 | `commands` | `redline demo`, `redline report`, `redline compare`, `redline merge`, `redline calibrate`, `redline sweep` |
//!
//! A module imports only from its own layer or lower ones, and never in a circle. [`run`] is the
//! dispatch `main.rs` calls.

pub mod analyze;
pub mod cli;
pub mod commands;
pub mod config;
pub mod dataset;
pub mod measure;
pub mod output;
pub mod pipeline;
pub mod process;
pub mod sim;

use anyhow::Result;
use cli::{Cli, Command};
use config::Config;
use std::process::ExitCode;

pub use pipeline::{bench, bench_with, Interrupts, Outcome};
pub use process::{EXIT_INTERRUPTED, EXIT_TERMINATED};

/// Runs what the command line asks for.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Some(Command::Sim(args)) => sim::serve(&args).await.map(|()| ExitCode::SUCCESS),
        Some(Command::Demo(args)) => commands::demo::run(&args).await.map(|o| o.exit_code()),
        Some(Command::Report(args)) => commands::report::run(&args).map(|_| ExitCode::SUCCESS),
        Some(Command::Calibrate(args)) => commands::calibrate::run(&args)
            .await
            .map(|_| ExitCode::SUCCESS),
        Some(Command::Compare(args)) => commands::compare::run(&args),
        Some(Command::Merge(args)) => commands::merge::run(&args).map(|_| ExitCode::SUCCESS),
        Some(Command::Sweep(args)) => commands::sweep::run(*args).await,
        None => {
            let cfg = Config::from_args(&cli.bench)?;
            bench(cfg, None).await.map(|o| o.exit_code())
        }
    }
}
