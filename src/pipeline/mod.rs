//! The bench pipeline, one stage a file: prepare what is sent (`workload.rs`), say what applies
//! (`notices.rs`), connect (`connect.rs`) and check with one request that the endpoint can serve
//! the run (`preflight.rs`), then for each level plan it (`plan.rs`: a rate, a probe, a trace or
//! closed-loop workers, on the common clock of `start.rs`), run it (`level.rs`) and record it
//! (`recorder.rs`: records, metadata and the `Report` in the results folder), and at the end show
//! the report in the console. `measure/` sends and records, `analyze/` turns records into the
//! `Report`, `output/` writes and shows it. A run and `redline demo` both come through [`bench`].
//!
//! It lives outside `lib.rs` so that the commands built on it (`commands/demo.rs`) import it from
//! below, and `lib.rs` (the dispatch) only imports downwards.

mod connect;
mod image_server;
mod level;
mod notices;
pub mod plan;
mod preflight;
mod recorder;
pub mod start;
pub mod workload;

use crate::analyze::report::Report;
use crate::analyze::search;
use crate::config::Config;
use crate::dataset::Dataset;
use crate::measure::checked::CHECKED;
use crate::measure::target::Target;
use crate::measure::tokens_check::Counter;
use crate::measure::work::Cancel;
use crate::output::console;
use crate::output::folder::RunFolder;
use crate::process;
use anyhow::Result;
use recorder::Recorder;
use start::Clock;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use tokio::time::Instant;
use workload::Prepared;

/// What a finished (or interrupted) benchmark produced.
pub struct Outcome {
    pub dir: PathBuf,
    pub report: Report,
    /// 130 or 143 when a signal stopped the run, else 0.
    pub exit_signal: u8,
    /// Why the run stopped early: a level whose every request failed with one misconfiguration.
    pub stopped: Option<String>,
}

impl Outcome {
    /// The signal's status, 1 when a misconfiguration stopped the run, else 0.
    pub fn exit_code(&self) -> ExitCode {
        match (self.exit_signal, &self.stopped) {
            (0, Some(_)) => ExitCode::FAILURE,
            (code, _) => ExitCode::from(code),
        }
    }
}

/// The run's stop: Ctrl-C and SIGTERM turned into a cancel, and the exit status they set (0 while
/// not interrupted). `redline sweep` makes one for all its runs, so a Ctrl-C is heard once.
#[derive(Clone)]
pub struct Interrupts {
    pub cancel: Cancel,
    pub code: Arc<AtomicU8>,
}

impl Interrupts {
    /// Listens for SIGINT and SIGTERM from now on (`process::watch_interrupts`).
    pub fn watch() -> Result<Interrupts> {
        let cancel = Cancel::default();
        let code = process::watch_interrupts(cancel.clone())?;
        Ok(Interrupts { cancel, code })
    }
}

/// Benchmarks the endpoint at each level, writing the results folder as it goes. `data` is a
/// dataset already loaded (`redline demo`); else the configuration says what to send.
pub async fn bench(cfg: Config, data: Option<Dataset>) -> Result<Outcome> {
    bench_with(cfg, data, None).await
}

/// [`bench`], stopped by `interrupts` when given (else by its own).
pub async fn bench_with(
    cfg: Config,
    data: Option<Dataset>,
    interrupts: Option<Interrupts>,
) -> Result<Outcome> {
    let began = Instant::now();
    let prepared = workload::prepare(&cfg, data)?;
    plan::check_shares(&cfg, &prepared)?;
    RunFolder::check_names(&cfg.output, &cfg.plot_output)?;
    notices::before_run(&cfg);
    RunFolder::ensure_root(&cfg.results_dir)?;
    let target = Arc::new(connect::connect(&cfg, &prepared).await?);
    if cfg.preflight {
        preflight::check(&target, &prepared.first_messages(), &cfg.model).await?;
    }
    start::check_ready(&cfg, began)?;
    let mut rec = Recorder::create(&cfg, &prepared, &target)?;
    let Interrupts {
        cancel,
        code: signal_code,
    } = match interrupts {
        Some(i) => i,
        None => Interrupts::watch()?,
    };
    let stopped = run_levels(&cfg, &prepared, &target, &mut rec, &cancel).await?;
    let exit_signal = signal_code.load(Ordering::SeqCst);
    rec.close(&cfg, &target, exit_signal == 0 && stopped.is_none())?;
    let flushed = rec.flush();
    present(&cfg, &rec, exit_signal);
    flushed?;
    if let Some(why) = &stopped {
        eprintln!(
            "error: {why}\n  (the levels run so far are saved in {})",
            rec.folder.path().display()
        );
    }
    Ok(Outcome {
        dir: rec.folder.path().to_path_buf(),
        report: rec.report,
        exit_signal,
        stopped,
    })
}

/// Plans, runs and records level after level until the plan (or the search) is done, the run is
/// interrupted or cut short, or a misconfiguration stops it (returned).
async fn run_levels(
    cfg: &Config,
    prepared: &Prepared,
    target: &Arc<Target>,
    rec: &mut Recorder,
    cancel: &Cancel,
) -> Result<Option<String>> {
    let clock = Clock::start(cfg);
    let search = cfg.levels.search().map(search::plan);
    // Found after the first whole level, so nothing is sent before it: `None` until then.
    let mut check: Option<Option<Counter>> = None;
    for i in 0.. {
        if cancel.stop.is_cancelled() {
            break;
        }
        let Some(plan) = plan::level(cfg, prepared, search.as_ref(), rec.levels(), i, &clock)
        else {
            break;
        };
        // Connections are prepared just before the level, not minutes ahead of it.
        if !start::wait_to_prepare(plan.start_at(), i, cancel).await {
            break;
        }
        rec.planned(cfg, &plan);
        let mut run = level::run(
            target,
            &plan,
            cfg.metrics_url.as_ref(),
            cancel,
            &mut rec.records,
            plan.watch(cfg),
        )
        .await;
        if !run.partial && !cancel.stop.is_cancelled() {
            if check.is_none() {
                check = Some(token_counter(cfg, prepared, target).await);
            }
            if let Some(Some(c)) = &check {
                run.token_check = c.check(target, &cfg.model, &mut run.records).await;
                if run.token_check.is_none() {
                    eprintln!(
                        "Token check: {}",
                        crate::measure::tokens_check::unchecked(&run.records)
                    );
                }
            }
        }
        rec.record(cfg, &plan, &run)?;
        clock.warn_overlap(cfg, i);
        if run.partial {
            break;
        }
        if let Some(why) = rec.misconfigured() {
            // No other rate fixes a wrong key, path or model name: say so now.
            return Ok(Some(why));
        }
    }
    Ok(None)
}

/// What counts each level's first replies against the server's bill: `--tokenizer`, else the
/// server's `/tokenize`; none for a whole-reply API or when neither is there.
async fn token_counter(cfg: &Config, prepared: &Prepared, target: &Target) -> Option<Counter> {
    if !cfg.api.streams() {
        return None;
    }
    let c = Counter::find(target, prepared.tokens.clone(), &cfg.model).await?;
    eprintln!(
        "Token check: after each level, its first {CHECKED} replies' text is counted by {} against the tokens the server billed",
        match c {
            Counter::Local(_) => "--tokenizer",
            Counter::Server(_) => "the server's /tokenize",
        }
    );
    Some(c)
}

/// The console at the end: the table, the verdicts and the summary (and the chart), or why there
/// is nothing to show.
fn present(cfg: &Config, rec: &Recorder, exit_signal: u8) {
    if rec.levels().is_empty() && exit_signal != 0 {
        // Stopped while waiting for the common start: there is no table to show.
        eprintln!(
            "Interrupted before the first level started: nothing was measured ({} holds only the run's settings)",
            rec.folder.path().display()
        );
        return;
    }
    console::present(
        &rec.report,
        rec.opts(),
        rec.folder.path(),
        cfg.plot
            .then_some((cfg.plot_output.as_str(), cfg.plot_format)),
        cfg.html.then_some(cfg.plot_output.as_str()),
    );
}
