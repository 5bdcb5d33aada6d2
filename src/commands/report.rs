//! `redline report <dir>`: rebuilds a run's table, JSON and chart from its `requests.jsonl` and
//! `metadata.json`, without sending a request, optionally with other percentiles, pricing or verdict
//! policy. The levels go through the same `LevelRun::new` and `Report` as a live run, so the same
//! options reproduce the original JSON exactly. Every option is checked by the same validator as
//! the run's flag (`config.rs`). A file cut short by a killed
//! process is read up to its last complete line.

use crate::analyze::report::Report;
use crate::cli::{PlotFormat, ReportArgs};
use crate::config::{self, ReportOptions};
use crate::measure::prometheus::Scrape;
use crate::measure::record::{LevelRun, RequestRecord};
use crate::output::console;
use crate::output::files;
use crate::output::metadata::Metadata;
use crate::pipeline::SERVER_METRICS;
use anyhow::{Context, Result};
use std::path::Path;

pub fn run(args: &ReportArgs) -> Result<Report> {
    let mut meta: Metadata = read_metadata(&args.dir)?;
    let opts = options(args, &meta)?;
    let runs = levels(&args.dir, &meta)?;
    if runs.is_empty() {
        anyhow::bail!(
            "{}: no level was measured in this run (it was stopped before its first level), so there is nothing to report",
            args.dir.display()
        );
    }
    let mut report = Report::from_runs(&runs, &opts);
    // A merged folder keeps what its merge said (a missing shard, levels not run).
    report.summary.notes.extend(merge_notes(&meta, runs.len()));
    let output = args.output.clone().unwrap_or_else(|| meta.output.clone());
    let plot_output = args
        .plot_output
        .clone()
        .unwrap_or_else(|| meta.plot_output.clone());
    config::file_name("--output", &output)?;
    config::file_name("--plot-output", &plot_output)?;
    files::write_json_atomic(&args.dir.join(&output), &report)?;
    // The folder must not contradict itself: metadata.json says what this report changed.
    let changed = meta.rereported(&opts, &output, chrono::Local::now());
    if !changed.is_empty() {
        files::write_json_atomic(&args.dir.join("metadata.json"), &meta)?;
        let list: Vec<String> = changed
            .iter()
            .map(|(k, v)| format!("{k} {} -> {}", v["from"], v["to"]))
            .collect();
        eprintln!(
            "Rebuilt {output} with {}; recorded in metadata.json (under \"reports\"{})",
            list.join(", "),
            if output == meta.output {
                ", and its settings now match"
            } else {
                ""
            }
        );
    }
    let plot = chart_to_draw(args, &plot_output);
    console::present(
        &report,
        &opts,
        &args.dir,
        plot.map(|f| (plot_output.as_str(), f)),
    );
    Ok(report)
}

/// What a merged folder's summary says of the merge (levels the shards did not run, missing
/// shards), from its metadata: `redline merge` and `redline report` add the same notes.
pub(crate) fn merge_notes(meta: &Metadata, levels_run: usize) -> Vec<String> {
    let Some(m) = &meta.merged else {
        return Vec::new();
    };
    let mut notes = Vec::new();
    let planned = m["plan_levels"].as_u64().unwrap_or(0) as usize;
    if levels_run < planned {
        notes.push(format!(
            "the shards ran {levels_run} of the plan's {planned} levels (they stopped early: see each shard's output)"
        ));
    }
    let indexes = |k: &str| -> Vec<usize> {
        m[k].as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_u64())
                    .map(|v| v as usize)
                    .collect()
            })
            .unwrap_or_default()
    };
    let missing = indexes("missing");
    if !missing.is_empty() {
        notes.push(format!(
            "merged {} of {} shards ({:.1}% of the plan's arrivals): shard{} {} missing, so each level offered that share of its planned rate",
            indexes("merged").len(),
            m["shards"].as_u64().unwrap_or(0),
            m["share_of_plan_pct"].as_f64().unwrap_or(0.0),
            if missing.len() == 1 { "" } else { "s" },
            missing.iter().map(usize::to_string).collect::<Vec<_>>().join(", "),
        ));
    }
    notes
}

/// The chart formats to draw: those asked for, and any the folder already holds, so that no chart
/// is left showing the figures of an earlier report.
fn chart_to_draw(args: &ReportArgs, plot_output: &str) -> Option<PlotFormat> {
    let (png, svg) = crate::output::chart::files(&args.dir.join(plot_output));
    let present = match (png.exists(), svg.exists()) {
        (true, true) => Some(PlotFormat::Both),
        (true, false) => Some(PlotFormat::Png),
        (false, true) => Some(PlotFormat::Svg),
        (false, false) => None,
    };
    if args.plot || args.plot_format.is_some() {
        Some(PlotFormat::for_output(args.plot_format, plot_output).with(present))
    } else {
        present
    }
}

pub(crate) fn read_metadata(dir: &Path) -> Result<Metadata> {
    let path = dir.join("metadata.json");
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "cannot read {}; give a run's results folder (results/<timestamp>)",
            path.display()
        )
    })?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a redline metadata file", path.display()))
}

/// The run's options, with any the user gave instead.
fn options(a: &ReportArgs, m: &Metadata) -> Result<ReportOptions> {
    options_with(m, a.percentiles.clone(), a.gpu_rate, a.num_gpus, &a.policy)
}

/// The options metadata.json records, with those given instead (`None`, default `PolicyArgs`:
/// the run's own).
pub(crate) fn options_with(
    m: &Metadata,
    percentiles: Option<Vec<f64>>,
    gpu_rate: Option<f64>,
    num_gpus: Option<u32>,
    policy: &crate::cli::PolicyArgs,
) -> Result<ReportOptions> {
    let percentiles = percentiles.unwrap_or_else(|| m.percentiles.clone());
    config::percentiles(&percentiles)?;
    let pricing = config::pricing(gpu_rate.or(m.gpu_rate), num_gpus.or(m.num_gpus))?;
    let (policy, daily_tokens) = config::policy(policy, &m.policy(), m.daily_tokens)?;
    Ok(ReportOptions {
        percentiles,
        pricing,
        policy,
        daily_tokens,
        search: m.search,
        ramp_up_s: m.ramp_up_s.unwrap_or(0.0),
        concurrency: m.concurrency_levels.clone().unwrap_or_default(),
    })
}

/// The records grouped by level, in the order they were written.
fn levels(dir: &Path, meta: &Metadata) -> Result<Vec<LevelRun>> {
    let by_level = records(dir, meta.qps_levels.len())?;
    let mut scrapes = server_scrapes(dir, by_level.len());
    // Levels that ran, plus one cut short by a killed process (it has records but no window).
    let ran = meta.levels.len().max(
        by_level
            .iter()
            .rposition(|r| !r.is_empty())
            .map_or(0, |i| i + 1),
    );
    Ok(by_level
        .into_iter()
        .take(ran)
        .enumerate()
        .map(|(i, recs)| {
            let qps = meta.qps_levels[i];
            let stopped_at = match meta.levels.get(i) {
                Some(info) => info.partial.then_some(info.send_window_s),
                None => Some(recs.iter().filter_map(|r| r.sent_s).fold(1e-6, f64::max)),
            };
            let planned = meta
                .levels
                .get(i)
                .and_then(|info| info.duration_s)
                .unwrap_or(meta.duration);
            let mut run = LevelRun::new(qps, planned, recs, stopped_at);
            run.server = std::mem::take(&mut scrapes[i]);
            run
        })
        .collect())
}

/// `requests.jsonl` of a folder, by level (`levels` of them; records of later levels are
/// skipped), in the order they were written; incomplete lines are skipped with a warning.
pub(crate) fn records(dir: &Path, levels: usize) -> Result<Vec<Vec<RequestRecord>>> {
    let path = dir.join("requests.jsonl");
    let text = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut by_level: Vec<Vec<RequestRecord>> = vec![Vec::new(); levels];
    let mut skipped = Vec::new();
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<RequestRecord>(line) {
            Ok(r) if r.level < by_level.len() => by_level[r.level].push(r),
            _ => skipped.push(n + 1),
        }
    }
    if !skipped.is_empty() {
        eprintln!(
            "warning: {} line(s) of {} are incomplete or not request records and were skipped (line {}{})",
            skipped.len(),
            path.display(),
            skipped[0],
            if skipped.len() > 1 { ", ..." } else { "" }
        );
    }
    Ok(by_level)
}

/// `server_metrics.jsonl` (a run with `--metrics-url`), by level: empty without it. A line cut
/// short by a killed process is skipped.
pub(crate) fn server_scrapes(dir: &Path, levels: usize) -> Vec<Vec<Scrape>> {
    let mut by_level = vec![Vec::new(); levels];
    let Ok(text) = std::fs::read(dir.join(SERVER_METRICS)) else {
        return by_level;
    };
    for line in text.split(|&b| b == b'\n') {
        if let Ok(s) = serde_json::from_slice::<Scrape>(line) {
            if let Some(l) = by_level.get_mut(s.level) {
                l.push(s);
            }
        }
    }
    by_level
}
