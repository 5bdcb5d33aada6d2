//! The bench pipeline: for each level, plan (`plan.rs`: a rate, a probe, a trace or closed-loop
//! workers) -> run (with the server's metrics scraped alongside, `--metrics-url`) -> records ->
//! report -> files, then the console. It wires the stages together: `measure/` sends and records,
//! `analyze/` turns records into the `Report`, `output/` writes and shows it. A run and `redline
//! demo` both come through [`bench`].
//!
//! It lives outside `lib.rs` so that the commands built on it (`commands/demo.rs`) import it from
//! below, and `lib.rs` (the dispatch) only imports downwards.

use crate::analyze::cause;
use crate::analyze::level::level_report;
use crate::analyze::report::Report;
use crate::analyze::search;
use crate::cli::IgnoreEos;
use crate::config::{self, Config};
use crate::dataset::Dataset;
use crate::measure::client::Target;
use crate::measure::closed;
use crate::measure::prometheus::Scrape;
use crate::measure::record::{ErrorKind, RequestRecord};
use crate::measure::runner::{self, Observer};
use crate::measure::scrape::Scraper;
use crate::measure::work::Cancel;
use crate::output::jsonl::JsonlWriter;
use crate::output::metadata::{LevelInfo, Metadata};
use crate::output::progress::LevelProgress;
use crate::output::{ceiling, console, files};
use crate::preflight;
use crate::process;
use crate::workload::{self, Prepared};
use plan::LevelPlan;
use tokio::time::Instant;

mod plan;

/// The file of `--metrics-url`'s scrapes in a run's folder.
pub const SERVER_METRICS: &str = "server_metrics.jsonl";
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;

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

/// Benchmarks the endpoint at each QPS level, writing the results folder as it goes. `data` is a
/// dataset already loaded (`redline demo`); else the configuration says what to send.
pub async fn bench(cfg: Config, data: Option<Dataset>) -> Result<Outcome> {
    let began = Instant::now();
    let prepared = workload::prepare(&cfg, data)?;
    plan::check_shares(&cfg, &prepared)?;
    if cfg.show_tokens {
        eprintln!("note: --show-tokens is deprecated and does nothing; tokens/sec is always shown");
    }
    if config::key_in_clear(&cfg) {
        eprintln!(
            "warning: the API key will be sent unencrypted over plain http to {}; use https unless this network is trusted",
            cfg.endpoint.host_str().unwrap_or("?")
        );
    }
    let streams = process::raise_open_file_limit();
    ceiling::warn_if_over_ceiling(&cfg.qps);
    if let Some(s) = &cfg.search {
        eprintln!(
            "Searching for the highest rate that meets the objectives: from {} req/s, to within {}%{}",
            s.start_qps,
            s.tolerance * 100.0,
            s.budget_s
                .map(|b| format!(", using at most {b} s of endpoint time"))
                .unwrap_or_default()
        );
    }
    if let Some(cap) = cfg.max_concurrency.filter(|&c| c as u64 > streams) {
        eprintln!("warning: --max-concurrency {cap} exceeds the ~{streams} streams this process can hold open");
    }
    files::ensure_results_root(&cfg.results_dir)?;
    let target = Arc::new(connect(&cfg, &prepared).await?);
    if cfg.preflight {
        preflight::check(&target, &prepared.first_messages(), &cfg.model).await?;
    }
    if let Some(start) = cfg.start {
        // Preparing the prompts, connecting and the preflight took time: a shard that is now past
        // the common start would send its overdue arrivals in one burst. It stops instead.
        let left = start.at - chrono::Utc::now();
        if left.to_std().map_or(true, |l| l < PREPARE_AHEAD) {
            anyhow::bail!(
                "the common start {} is {} by the time this process is ready (it took {:.1} s to prepare, connect and check the endpoint, and needs {} s more to warm its connections): give a later --start-at (or a longer --start-after); nothing was measured",
                start.at.to_rfc3339(),
                if left.num_milliseconds() < 0 { "past" } else { "too close" },
                began.elapsed().as_secs_f64(),
                PREPARE_AHEAD.as_secs()
            );
        }
    }
    let now = chrono::Local::now();
    let dir = files::create_run_dir(&cfg.results_dir, now)?;
    let mut meta = Metadata::new(&cfg, prepared.samples(), now, &Target::route_of(&cfg));
    meta.describe_workload(
        &cfg,
        prepared.format(),
        prepared.trace_format(),
        prepared.tokenizer.clone(),
        target.template.ignore_eos(),
    );
    if let Some(shard) = cfg.shard {
        meta.as_shard(shard, process::host());
        eprintln!(
            "Shard {}/{} of plan {}",
            shard.index,
            shard.count,
            meta.shard.as_ref().map_or("?", |s| s.plan_id.as_str())
        );
    }
    let meta_path = dir.join("metadata.json");
    files::write_json_atomic(&meta_path, &meta)?;
    let mut records = JsonlWriter::create(&dir.join("requests.jsonl"))
        .with_context(|| format!("cannot create requests.jsonl in {}", dir.display()))?;
    let mut server_metrics = ServerMetricsFile::new(&cfg, &dir)?;
    let cancel = Cancel::default();
    let signal_code = process::watch_interrupts(cancel.clone())?;
    let opts = cfg.report_options();
    let mut levels = Vec::new();
    let mut report = Report::new(Vec::new(), &opts);
    let results_path = dir.join(&cfg.output);
    let plan = cfg.search.map(search::plan);
    let mut stopped = None;
    let base = cfg.start.map(|s| plan::instant_at(s.at));
    if let (Some(start), Some(_)) = (cfg.start, base) {
        let wait = (start.at - chrono::Utc::now()).num_milliseconds() as f64 / 1000.0;
        eprintln!(
            "Waiting for the common start at {} (in {wait:.1} s){}",
            start.at.to_rfc3339(),
            cfg.shard
                .map(|s| format!("; shard {}/{}", s.index, s.count))
                .unwrap_or_default()
        );
    }
    for i in 0.. {
        if cancel.stop.is_cancelled() {
            break;
        }
        let Some(level_plan) = plan::level(&cfg, &prepared, plan.as_ref(), &levels, i, base) else {
            break;
        };
        let starts = level_plan.start_at();
        if let Some(at) = starts {
            // Connections are prepared just before the level, not minutes ahead of it.
            if !wait_until(at.checked_sub(PREPARE_AHEAD).unwrap_or(at), &cancel).await {
                break;
            }
        }
        if plan.is_some() {
            // Recorded before the probe runs, so a killed run can still be re-reported.
            meta.qps_levels.push(level_plan.rate());
        }
        let mut obs = RunObserver {
            progress: LevelProgress::new(level_plan.rate(), level_plan.arrivals()),
            records: &mut records,
        };
        target.prepare(level_plan.rate()).await;
        let scraper = cfg
            .metrics_url
            .clone()
            .map(|url| Scraper::start(target.clone(), url, i, starts.unwrap_or_else(Instant::now)));
        let (mut run, duration_s, plan_share) = match level_plan {
            LevelPlan::Closed(closed_level) => {
                let run = closed::run_level(target.clone(), closed_level, &cancel, &mut obs);
                (run.await, None, None)
            }
            LevelPlan::Open {
                level,
                duration_s,
                plan,
            } => (
                runner::run_level(target.clone(), &level, &cancel, &mut obs).await,
                duration_s,
                plan,
            ),
        };
        if let Some(scraper) = scraper {
            run.server = scraper.finish().await;
            server_metrics.record(&run.server);
        }
        obs.progress.finish();
        if !cfg.concurrency.is_empty() || prepared.trace.is_some() || cfg.shard.is_some() {
            // A closed-loop level's rate is the one it achieved; a trace's, its own; a shard's,
            // its share of the plan's.
            meta.qps_levels.push(run.qps);
        }
        if i == 0 {
            meta.record_start(&run, starts.map(wall_clock_of));
        }
        if let Some(next) = plan::next_start(&cfg, base, i) {
            if Instant::now() > next {
                eprintln!(
                    "warning: this level's requests ran {:.1} s past the next level's start on the common clock, so the two overlapped (and the next starts late): raise --level-gap",
                    Instant::now().duration_since(next).as_secs_f64()
                );
            }
        }
        meta.levels.push(LevelInfo {
            qps: run.qps,
            send_window_s: run.send_window_s,
            partial: run.partial,
            duration_s,
            plan_qps: plan_share.map(|p| p.0),
            plan_arrivals: plan_share.map(|p| p.1),
        });
        files::write_json_atomic(&meta_path, &meta)?;
        levels.push(level_report(&run, &opts));
        report = Report::new(levels.clone(), &opts);
        files::write_json_atomic(&results_path, &report)?;
        if run.partial {
            break;
        }
        if let Some((cause, what)) = levels.last().and_then(cause::level_misconfigured) {
            // No other rate fixes a wrong key, path or model name: say so now.
            stopped = Some(format!(
                "stopped after QPS {}: every request failed with {what}\n  {}",
                crate::analyze::reason::Qps(run.qps),
                cause.advice()
            ));
            break;
        }
    }
    let exit_signal = signal_code.load(Ordering::SeqCst);
    meta.connection.http2_stream_limits = target.http2_connections();
    meta.completed = exit_signal == 0
        && stopped.is_none()
        && plan::levels_planned(&cfg, &prepared).is_none_or(|n| meta.levels.len() == n)
        && meta.levels.len() == meta.qps_levels.len();
    files::write_json_atomic(&meta_path, &meta)?;
    let flushed = records.flush().and(server_metrics.flush());
    if levels.is_empty() && exit_signal != 0 {
        // Stopped while waiting for the common start: there is no table to show.
        eprintln!(
            "Interrupted before the first level started: nothing was measured ({} holds only the run's settings)",
            dir.display()
        );
    } else {
        console::present(
            &report,
            &opts,
            &dir,
            cfg.plot
                .then_some((cfg.plot_output.as_str(), cfg.plot_format)),
        );
    }
    flushed
        .map_err(|e| anyhow::anyhow!("requests.jsonl in {} is incomplete: {e}", dir.display()))?;
    if let Some(why) = &stopped {
        eprintln!(
            "error: {why}\n  (the levels run so far are saved in {})",
            dir.display()
        );
    }
    Ok(Outcome {
        dir,
        report,
        exit_signal,
        stopped,
    })
}

/// The run's transport, said in the console, with its first connection opened (https): a
/// certificate problem stops the run here, with its cause and the flag that fixes it. Then the
/// samples' requests, with `ignore_eos` where it is wanted and accepted.
async fn connect(cfg: &Config, prepared: &Prepared) -> Result<Target> {
    let mut target = Target::new(cfg)?;
    let route = Target::route_of(cfg);
    if cfg.tls.insecure {
        eprintln!("warning: --insecure: the endpoint's certificate is not verified; anyone on the path could answer instead of it");
    }
    if let Some(p) = &cfg.proxy {
        eprintln!("Proxy: {} (from {})", config::redact_url(&p.url), p.source);
    }
    match route.why {
        Some(why) => eprintln!(
            "Client: reqwest, {} ({why}; the send time is when reqwest takes the request, so a connection set-up shows in latency, not in schedule lag)",
            route.protocol
        ),
        None => eprintln!("Client: {}, {}", route.client, route.protocol),
    }
    if let Err(f) = target.warm().await {
        if f.kind == ErrorKind::Tls {
            anyhow::bail!("cannot open a TLS connection to the endpoint: {}", f.detail);
        }
        eprintln!(
            "warning: could not connect before the first level ({}: {}); the levels will show how requests fare",
            f.kind, f.detail
        );
    }
    let ignore_eos = ignore_eos(cfg, &target).await;
    target.load(&prepared.conversations, ignore_eos);
    Ok(target)
}

/// Whether requests carry `"ignore_eos": true`: always with `--ignore-eos on`; with `auto`, when
/// the prompts have target reply lengths and the endpoint names a server known to accept it.
async fn ignore_eos(cfg: &Config, target: &Target) -> bool {
    const ACCEPTING: [&str; 5] = ["vllm", "sglang", "llamacpp", "llama.cpp", "redline"];
    match cfg.workload.ignore_eos {
        IgnoreEos::On => true,
        IgnoreEos::Off => false,
        IgnoreEos::Auto if !cfg.workload.has_output_lengths() => false,
        IgnoreEos::Auto => {
            // The server of the model under test (a gateway may list models of several servers);
            // a list of one model speaks for it.
            let owner = target.models().await.and_then(|m| {
                let only = m.len() == 1;
                m.into_iter()
                    .find(|(id, _)| only || *id == cfg.model)
                    .and_then(|(_, owner)| owner)
            });
            let accepts = owner
                .as_deref()
                .is_some_and(|o| ACCEPTING.contains(&o.to_ascii_lowercase().as_str()));
            match (&owner, accepts) {
                (Some(o), true) => eprintln!("Reply lengths: pinned with max_tokens and ignore_eos (the endpoint says it is {o:?}, which accepts ignore_eos)"),
                (Some(o), false) => eprintln!("Reply lengths: max_tokens only; the endpoint says it is {o:?}, not known to accept ignore_eos, so replies may end early (--ignore-eos on sends it anyway)"),
                (None, _) => eprintln!("Reply lengths: max_tokens only; the endpoint does not say which server it is, so ignore_eos is not sent and replies may end early (--ignore-eos on sends it anyway)"),
            }
            accepts
        }
    }
}

/// The wall-clock time of an instant, by this machine's clock.
fn wall_clock_of(at: Instant) -> chrono::DateTime<chrono::Utc> {
    let now = Instant::now();
    let wall = chrono::Utc::now();
    match (
        now.checked_duration_since(at),
        at.checked_duration_since(now),
    ) {
        (Some(ago), _) => wall - chrono::Duration::from_std(ago).unwrap_or_default(),
        (None, Some(ahead)) => wall + chrono::Duration::from_std(ahead).unwrap_or_default(),
        (None, None) => wall,
    }
}

/// How long before a level's start on the common clock its connections are prepared.
const PREPARE_AHEAD: std::time::Duration = std::time::Duration::from_secs(2);

/// Sleeps until `at`; `false` if the run was interrupted first.
async fn wait_until(at: Instant, cancel: &Cancel) -> bool {
    tokio::select! {
        _ = tokio::time::sleep_until(at) => true,
        _ = cancel.stop.cancelled() => false,
    }
}

/// `server_metrics.jsonl` (with `--metrics-url`): every scrape, so `redline report` can rebuild the
/// server's view; and a warning for each level whose page could not always be read.
struct ServerMetricsFile {
    out: Option<JsonlWriter>,
}

impl ServerMetricsFile {
    fn new(cfg: &Config, dir: &std::path::Path) -> Result<Self> {
        let out = match &cfg.metrics_url {
            Some(url) => {
                eprintln!(
                    "Server metrics: {} (scraped every second during each level)",
                    config::redact_url(url)
                );
                let path = dir.join(SERVER_METRICS);
                Some(
                    JsonlWriter::create(&path)
                        .with_context(|| format!("cannot create {}", path.display()))?,
                )
            }
            None => None,
        };
        Ok(ServerMetricsFile { out })
    }

    fn record(&mut self, scrapes: &[Scrape]) {
        let Some(out) = &mut self.out else { return };
        for s in scrapes {
            out.write(s);
        }
        let failed = scrapes.iter().filter(|s| s.error.is_some()).count();
        if failed > 0 {
            let why = scrapes
                .iter()
                .find_map(|s| s.error.as_deref())
                .unwrap_or("?");
            eprintln!(
                "warning: --metrics-url: {failed} of {} scrapes of this level failed ({why}); the run goes on, and the levels report what the scrapes that worked show",
                scrapes.len()
            );
        }
    }

    fn flush(&mut self) -> Result<(), String> {
        self.out.as_mut().map_or(Ok(()), JsonlWriter::flush)
    }
}

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
