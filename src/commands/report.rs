//! `redline report <dir>`: rebuilds a run's table, JSON and chart from its results folder
//! (`output/folder.rs` reads the records and metadata), without sending a request, optionally with
//! other percentiles, pricing or verdict policy. The levels go through the same `LevelRun::new` and
//! `Report` as a live run, so the same options reproduce the original JSON exactly. Every option is
//! checked by the same validator as the run's flag (`config/`). A records file cut short by a
//! killed process is read up to its last complete line.

use crate::analyze::report::Report;
use crate::cli::{PlotFormat, ReportArgs};
use crate::config;
use crate::output::console;
use crate::output::folder::RunFolder;
use crate::output::metadata::Overrides;
use anyhow::Result;

pub fn run(args: &ReportArgs) -> Result<Report> {
    let folder = RunFolder::open(&args.dir);
    let mut meta = folder.metadata()?;
    let opts = meta.report_options(&Overrides {
        percentiles: args.percentiles.clone(),
        gpu_rate: args.pricing.gpu_rate,
        num_gpus: args.pricing.num_gpus,
        policy: args.policy.clone(),
    })?;
    let runs = folder.level_runs(&meta)?;
    if runs.is_empty() {
        anyhow::bail!(
            "{}: no level was measured in this run (it was stopped before its first level), so there is nothing to report",
            args.dir.display()
        );
    }
    let mut report = Report::from_runs(&runs, &opts);
    // A merged folder keeps what its merge said (a missing shard, levels not run).
    if let Some(m) = &meta.merged {
        report.summary.notes.extend(m.notes(runs.len()));
    }
    let output = args.output.clone().unwrap_or_else(|| meta.output.clone());
    let plot_output = args
        .plot_output
        .clone()
        .unwrap_or_else(|| meta.plot_output.clone());
    config::file_name("--output", &output)?;
    config::file_name("--plot-output", &plot_output)?;
    folder.write_results(&output, &report)?;
    // The folder must not contradict itself: metadata.json says what this report changed.
    let changed = meta.rereported(&opts, &output, chrono::Local::now());
    if !changed.is_empty() {
        folder.write_metadata(&meta)?;
        eprintln!(
            "Rebuilt {output} with {}; recorded in metadata.json (under \"reports\"{})",
            changed.lines().join(", "),
            if output == meta.output {
                ", and its settings now match"
            } else {
                ""
            }
        );
    }
    let plot = chart_to_draw(&folder, args, &plot_output);
    console::present(
        &report,
        &opts,
        folder.path(),
        plot.map(|f| (plot_output.as_str(), f)),
    );
    Ok(report)
}

/// The chart formats to draw: those asked for, and any the folder already holds, so that no chart
/// is left showing the figures of an earlier report.
fn chart_to_draw(folder: &RunFolder, args: &ReportArgs, plot_output: &str) -> Option<PlotFormat> {
    let (png, svg) = crate::output::chart::files(&folder.file(plot_output));
    let present = match (png.exists(), svg.exists()) {
        (true, true) => Some(PlotFormat::Both),
        (true, false) => Some(PlotFormat::Png),
        (false, true) => Some(PlotFormat::Svg),
        (false, false) => None,
    };
    if args.plot.wanted() {
        Some(PlotFormat::for_output(args.plot.plot_format, plot_output).with(present))
    } else {
        present
    }
}
