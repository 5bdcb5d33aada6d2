//! Everything a run writes, as it goes, into its results folder (`output/folder.rs`): the
//! settings before the first request (`metadata.json`), every record as it finishes
//! (`requests.jsonl`, through the level body), the server's scrapes (`server_metrics.jsonl`), and
//! after every level the metadata and the results JSON again, so a run killed at any point leaves
//! a folder `redline report` can rebuild. What the metadata records of each level depends on the
//! run's kind, matched here once.

use crate::analyze::cause;
use crate::analyze::level::{level_report, LevelReport};
use crate::analyze::reason::Qps;
use crate::analyze::report::Report;
use crate::config::{self, Config, Levels, ReportOptions};
use crate::measure::prometheus::Scrape;
use crate::measure::record::LevelRun;
use crate::measure::target::Target;
use crate::output::folder::RunFolder;
use crate::output::jsonl::JsonlWriter;
use crate::output::metadata::{LevelInfo, Metadata};
use crate::pipeline::plan::LevelPlan;
use crate::pipeline::start::wall_clock_of;
use crate::pipeline::workload::Prepared;
use crate::process;
use anyhow::Result;

/// A run's folder while the run writes it.
pub struct Recorder {
    pub folder: RunFolder,
    pub meta: Metadata,
    /// `requests.jsonl`, appended to by each level.
    pub records: JsonlWriter,
    server_metrics: Option<JsonlWriter>,
    opts: ReportOptions,
    levels: Vec<LevelReport>,
    pub report: Report,
    output: String,
}

impl Recorder {
    /// A new results folder holding the run's settings, before any request is sent.
    pub fn create(cfg: &Config, prepared: &Prepared, target: &Target) -> Result<Recorder> {
        let now = chrono::Local::now();
        let folder = match &cfg.run_dir {
            Some(dir) => RunFolder::adopt(dir)?,
            None => RunFolder::create(&cfg.results_dir, now)?,
        };
        let mut meta = Metadata::new(cfg, prepared.samples(), now, &Target::route_of(cfg));
        meta.describe_workload(
            cfg,
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
        folder.write_metadata(&meta)?;
        let records = folder.records_writer()?;
        let server_metrics = match &cfg.metrics_url {
            Some(url) => {
                eprintln!(
                    "Server metrics: {} (scraped every second during each level)",
                    config::redact_url(url)
                );
                Some(folder.server_metrics_writer()?)
            }
            None => None,
        };
        let opts = cfg.report_options();
        Ok(Recorder {
            report: Report::new(Vec::new(), &opts),
            folder,
            meta,
            records,
            server_metrics,
            opts,
            levels: Vec::new(),
            output: cfg.output.clone(),
        })
    }

    /// The levels judged so far.
    pub fn levels(&self) -> &[LevelReport] {
        &self.levels
    }

    pub fn opts(&self) -> &ReportOptions {
        &self.opts
    }

    /// Before a level runs: a search's probe is recorded now, so a killed run can still be
    /// re-reported.
    pub fn planned(&mut self, cfg: &Config, plan: &LevelPlan) {
        if let Levels::Search(_) = cfg.levels {
            self.meta.qps_levels.push(plan.rate());
        }
    }

    /// After a level ran: its scrapes, its rate and window in the metadata, its report in the
    /// results JSON, both written at once.
    pub fn record(&mut self, cfg: &Config, plan: &LevelPlan, run: &LevelRun) -> Result<()> {
        self.scrapes(&run.server);
        // A closed-loop level's rate is the one it achieved; a trace's, its own; a shard's, its
        // share of the plan's. Fixed rates were recorded with the settings, probes when planned.
        match (&cfg.levels, cfg.shard) {
            (Levels::Concurrency(_) | Levels::Trace, _) | (Levels::Rates(_), Some(_)) => {
                self.meta.qps_levels.push(run.qps)
            }
            (Levels::Rates(_) | Levels::Search(_), _) => {}
        }
        if self.levels.is_empty() {
            self.meta
                .record_start(run, plan.start_at().map(wall_clock_of));
        }
        let id = plan.id();
        self.meta.levels.push(LevelInfo {
            qps: run.qps,
            send_window_s: run.send_window_s,
            partial: run.partial,
            duration_s: plan.duration_s(),
            plan_qps: id.plan.map(|p| p.qps),
            plan_arrivals: id.plan.map(|p| p.arrivals),
            early_stop: run.early_stop.clone(),
            repeat: id.repeat,
            token_check: run.token_check.clone(),
        });
        self.folder.write_metadata(&self.meta)?;
        self.levels.push(level_report(run, &self.opts));
        self.report = Report::new(self.levels.clone(), &self.opts);
        self.folder.write_results(&self.output, &self.report)
    }

    /// Why the run stops after the last level, when no other rate could fix it: every request
    /// failed with one misconfiguration (a wrong key, path or model name).
    pub fn misconfigured(&self) -> Option<String> {
        let last = self.levels.last()?;
        let (cause, what) = cause::level_misconfigured(last)?;
        Some(format!(
            "stopped after QPS {}: every request failed with {what}\n  {}",
            Qps(last.rate),
            cause.advice()
        ))
    }

    /// `server_metrics.jsonl` gets every scrape, so `redline report` can rebuild the server's
    /// view; a level whose page could not always be read gets a warning.
    fn scrapes(&mut self, scrapes: &[Scrape]) {
        let Some(out) = &mut self.server_metrics else {
            return;
        };
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

    /// The end of the run in the metadata: whether it completed every level, and the HTTP/2
    /// stream limits seen.
    pub fn close(&mut self, cfg: &Config, target: &Target, completed: bool) -> Result<()> {
        self.meta.connection.http2_stream_limits = target.http2_connections();
        self.meta.completed = completed
            && cfg
                .levels
                .planned()
                .is_none_or(|n| self.meta.levels.len() == n)
            && self.meta.levels.len() == self.meta.qps_levels.len();
        self.folder.write_metadata(&self.meta)
    }

    /// Flushes the records and scrapes; an error if they could not be written whole.
    pub fn flush(&mut self) -> Result<()> {
        let server = self
            .server_metrics
            .as_mut()
            .map_or(Ok(()), JsonlWriter::flush);
        self.records
            .flush()
            .and(server)
            .map_err(|e| self.folder.records_incomplete(e))
    }
}
