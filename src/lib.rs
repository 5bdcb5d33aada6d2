//! redline: find an LLM endpoint's capacity.
//!
//! The pipeline, one module per stage: `cli` flags -> `config` (validated) -> `dataset` (validated
//! conversations) -> `client::Target` (pre-built request bodies) -> for each QPS level: `schedule`
//! (arrival offsets) -> `runner` (open loop, one `record::RequestRecord` per scheduled request) ->
//! `report` (the `Report` output contract, via `stats`) -> `output` adapters (results folder, JSON,
//! JSONL, console table, progress, chart). `verdict` and `queueing` turn the numbers into the answer.
//! Around it: `sim` (the built-in endpoint), `demo`, `rebuild` (`redline report`), `calibrate`, and
//! `process` (signals, open-file limit).

pub mod calibrate;
pub mod chunk;
pub mod cli;
pub mod client;
pub mod config;
pub mod dataset;
pub mod demo;
pub mod output;
pub mod process;
pub mod queueing;
pub mod rebuild;
pub mod record;
pub mod reply;
pub mod report;
pub mod runner;
pub mod schedule;
pub mod sim;
pub mod sse;
pub mod stats;
pub mod transport;
pub mod verdict;

use anyhow::{Context, Result};
use cli::{Cli, Command};
use config::Config;
use dataset::Conversation;
use output::{files, jsonl::JsonlWriter, progress::LevelProgress, table};
use record::RequestRecord;
use report::{Report, ReportOptions};
use runner::{Cancel, Level, Observer};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The bundled sample dataset, so `redline demo` works from any folder.
pub const BUNDLED_DATASET: &[u8] = include_bytes!("../data/conversations.json");

pub use process::{raise_open_file_limit, EXIT_INTERRUPTED, EXIT_TERMINATED};

/// What a finished (or interrupted) benchmark produced.
pub struct Outcome {
    pub dir: PathBuf,
    pub report: Report,
    /// 130 or 143 when a signal stopped the run, else 0.
    pub exit_signal: u8,
}

impl Outcome {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.exit_signal)
    }
}

/// Runs what the command line asks for.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Some(Command::Sim(args)) => sim::serve(&args).await.map(|()| ExitCode::SUCCESS),
        Some(Command::Demo(args)) => demo::demo(&args).await.map(|o| o.exit_code()),
        Some(Command::Report(args)) => rebuild::run(&args).map(|_| ExitCode::SUCCESS),
        Some(Command::Calibrate(args)) => calibrate::run(&args).await.map(|_| ExitCode::SUCCESS),
        None => {
            let cfg = Config::from_args(&cli.bench)?;
            let conversations = dataset::load(&cfg.dataset)?;
            bench(cfg, conversations).await.map(|o| o.exit_code())
        }
    }
}

/// Benchmarks the endpoint at each QPS level, writing the results folder as it goes.
pub async fn bench(cfg: Config, conversations: Vec<Conversation>) -> Result<Outcome> {
    if cfg.show_tokens {
        eprintln!("note: --show-tokens is deprecated and does nothing; tokens/sec is always shown");
    }
    if config::key_in_clear(&cfg) {
        eprintln!(
            "warning: the API key will be sent unencrypted over plain http to {}; use https unless this network is trusted",
            cfg.endpoint.host_str().unwrap_or("?")
        );
    }
    let streams = raise_open_file_limit();
    calibrate::warn_if_over_ceiling(&cfg.qps);
    if let Some(cap) = cfg.max_concurrency.filter(|&c| c as u64 > streams) {
        eprintln!("warning: --max-concurrency {cap} exceeds the ~{streams} streams this process can hold open");
    }
    let target = Arc::new(Target::new(&cfg, &conversations)?);
    let now = chrono::Local::now();
    let dir = files::create_run_dir(&cfg.results_dir, now)?;
    let mut meta = files::Metadata::new(&cfg, conversations.len(), now);
    let meta_path = dir.join("metadata.json");
    files::write_json_atomic(&meta_path, &meta)?;
    let mut records = JsonlWriter::create(&dir.join("requests.jsonl"))
        .with_context(|| format!("cannot create requests.jsonl in {}", dir.display()))?;
    let cancel = Cancel::default();
    let signal_code = process::watch_interrupts(cancel.clone())?;
    let opts = cfg.report_options();
    let mut levels = Vec::new();
    let mut report = Report::new(Vec::new(), &opts);
    let results_path = dir.join(&cfg.output);
    for (i, &qps) in cfg.qps.iter().enumerate() {
        if cancel.stop.is_cancelled() {
            break;
        }
        let offsets = schedule::offsets(
            cfg.arrival,
            qps,
            cfg.duration,
            schedule::level_seed(cfg.seed, i),
        );
        eprintln!(
            "Level {}/{}: QPS {qps} ({} arrivals, {}, {:?})",
            i + 1,
            cfg.qps.len(),
            offsets.len(),
            cfg.arrival,
            cfg.duration
        );
        let level = Level {
            index: i,
            qps,
            offsets,
            duration: cfg.duration,
            max_concurrency: cfg.max_concurrency,
        };
        let mut obs = RunObserver {
            progress: LevelProgress::new(qps, level.offsets.len() as u64),
            records: &mut records,
        };
        let run = runner::run_level(target.clone(), &level, &cancel, &mut obs).await;
        obs.progress.finish();
        meta.levels.push(files::LevelInfo {
            qps,
            send_window_s: run.send_window_s,
            partial: run.partial,
        });
        files::write_json_atomic(&meta_path, &meta)?;
        levels.push(report::level_report(&run, &cfg.percentiles, cfg.pricing));
        report = Report::new(levels.clone(), &opts);
        files::write_json_atomic(&results_path, &report)?;
        if run.partial {
            break;
        }
    }
    let exit_signal = signal_code.load(Ordering::SeqCst);
    meta.completed = exit_signal == 0 && meta.levels.len() == cfg.qps.len();
    files::write_json_atomic(&meta_path, &meta)?;
    let flushed = records.flush();
    present(
        &report,
        &opts,
        &dir,
        cfg.plot.then_some(cfg.plot_output.as_str()),
    );
    flushed
        .map_err(|e| anyhow::anyhow!("requests.jsonl in {} is incomplete: {e}", dir.display()))?;
    Ok(Outcome {
        dir,
        report,
        exit_signal,
    })
}

/// Prints the table, errors, verdicts and summary, and draws the chart when asked. A chart that
/// cannot be drawn is reported; everything else is already written.
pub fn present(report: &Report, opts: &ReportOptions, dir: &std::path::Path, plot: Option<&str>) {
    print!(
        "\n{}",
        table::render(&report.results, &opts.percentiles, opts.pricing.is_some())
    );
    print!("{}", table::render_errors(&report.results));
    print!("{}", output::summary::render(report));
    if let Some(name) = plot {
        let path = dir.join(name);
        match output::chart::draw(report, &path) {
            Ok(()) => println!("Chart: {}", path.display()),
            Err(e) => eprintln!(
                "warning: the chart could not be drawn ({e:#}); the JSON results are complete"
            ),
        }
    }
    println!("\nResults: {}", dir.display());
}

use client::Target;

/// Sends each finished record to the progress bar and `requests.jsonl`.
struct RunObserver<'a> {
    progress: LevelProgress,
    records: &'a mut JsonlWriter,
}

impl Observer for RunObserver<'_> {
    fn sent(&mut self) {
        self.progress.sent();
    }
    fn finished(&mut self, record: &RequestRecord) {
        self.progress.finished(record);
        self.records.write(record);
    }
}
