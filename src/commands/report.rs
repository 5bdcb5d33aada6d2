//! `redline report <dir>`: rebuilds a run's table, JSON and chart from its results folder
//! (`output/folder.rs` reads the records and metadata), without sending a request, optionally with
//! other percentiles, pricing or verdict policy. The levels go through the same `LevelRun::new` and
//! `Report` as a live run, so the same options reproduce the original JSON exactly. Every option is
//! checked by the same validator as the run's flag (`config/`). A records file cut short by a
//! killed process is read up to its last complete line.
//!
//! No report overwrites measured data with less: when the records left hold fewer requests than
//! the folder's results say a level measured (a file cut short or emptied), the report changes
//! nothing and says, level by level, how many records it would keep; `--from-partial-records`
//! rebuilds from them beside the original results (another `--output`), recorded in the metadata.

use crate::analyze::reason::Qps;
use crate::analyze::report::Report;
use crate::cli::{PlotFormat, ReportArgs};
use crate::config;
use crate::measure::record::LevelRun;
use crate::output::console;
use crate::output::folder::RunFolder;
use crate::output::metadata::{Changed, LevelRecords, Metadata, Overrides};
use anyhow::{bail, Result};

pub fn run(args: &ReportArgs) -> Result<Report> {
    let folder = RunFolder::open(&args.dir);
    let mut meta = folder.metadata()?;
    let opts = meta.report_options(&Overrides {
        percentiles: args.percentiles.clone(),
        gpu_rate: args.pricing.gpu_rate,
        num_gpus: args.pricing.num_gpus,
        policy: args.policy.clone(),
        show_ci: args.show_ci,
    })?;
    let mut runs = folder.level_runs(&meta)?;
    if runs.is_empty() {
        bail!(
            "{}: no level was measured in this run (it was stopped before its first level), so there is nothing to report",
            args.dir.display()
        );
    }
    let output = args.output.clone().unwrap_or_else(|| meta.output.clone());
    config::file_name("--output", &output)?;
    let plot_output = match &args.plot_output {
        Some(name) => name.clone(),
        // Other results are never drawn over the run's chart.
        None if output != meta.output => chart_name(&output),
        None => meta.plot_output.clone(),
    };
    config::file_name("--plot-output", &plot_output)?;
    RunFolder::check_names(&output, &plot_output)?;
    let partial = partial_records(&folder, &meta, &runs);
    guard(args, &meta, &output, &partial)?;
    // A level rebuilt from fewer records than it measured is shown, never judged.
    for l in &partial {
        if let Some(run) = runs.get_mut(l.level) {
            run.rebuilt_from = Some((l.kept, l.measured));
        }
    }
    let mut report = Report::from_runs(&runs, &opts);
    // A merged folder keeps what its merge said (a missing shard, levels not run).
    if let Some(m) = &meta.merged {
        report.summary.notes.extend(m.notes(runs.len()));
    }
    folder.write_results(&output, &report)?;
    // The folder must not contradict itself: metadata.json says what this report changed.
    let changed = meta.rereported(&opts, &output, partial.clone(), chrono::Local::now());
    if !changed.is_empty() || !partial.is_empty() {
        folder.write_metadata(&meta)?;
        eprintln!("{}", rebuilt_line(&output, &meta, &changed, &partial));
    }
    let plot = chart_to_draw(&folder, args, &plot_output);
    // As with the chart, an HTML report the folder holds is rewritten, never left stale.
    let html_held = folder
        .file(
            &crate::output::chart::html_file(std::path::Path::new(&plot_output)).to_string_lossy(),
        )
        .exists();
    console::present(
        &report,
        &opts,
        folder.path(),
        plot.map(|f| (plot_output.as_str(), f)),
        (args.plot.html_wanted() || html_held).then_some(plot_output.as_str()),
    );
    Ok(report)
}

/// Each level whose records now are fewer than the folder's results say it measured (none when
/// the folder holds no results to compare with). A repeated level's runs are in its
/// `repetitions`, found by rate, probe and repetition.
fn partial_records(folder: &RunFolder, meta: &Metadata, runs: &[LevelRun]) -> Vec<LevelRecords> {
    let Some(results) = folder.results_as_written(&meta.output) else {
        return Vec::new();
    };
    let written: Vec<&serde_json::Value> = results["results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|l| match l["repetitions"].as_array() {
            Some(reps) => reps.iter().collect(),
            None => vec![l],
        })
        .collect();
    let measured = |i: usize, run: &LevelRun| -> Option<u64> {
        let l = match run.id.repeat {
            None => written.get(i).copied()?,
            Some(k) => *written.iter().find(|l| {
                l["repeat"].as_u64() == Some(k as u64)
                    && l["search_probe"].as_u64() == run.id.probe.map(|p| p as u64)
                    && l["qps_target"].as_f64() == Some(run.qps)
            })?,
        };
        l["requests_scheduled"].as_u64()
    };
    let mut fewer: Vec<LevelRecords> = runs
        .iter()
        .enumerate()
        .filter_map(|(i, run)| {
            let measured = measured(i, run)?;
            let kept = run.records.len() as u64;
            (kept < measured).then_some(LevelRecords {
                level: i,
                qps: run.qps,
                kept,
                measured,
            })
        })
        .collect();
    // Levels the results hold that left no record at all.
    fewer.extend(
        written
            .iter()
            .enumerate()
            .skip(runs.len())
            .filter_map(|(i, l)| {
                Some(LevelRecords {
                    level: i,
                    qps: l["qps_target"].as_f64().unwrap_or_default(),
                    kept: 0,
                    measured: l["requests_scheduled"].as_u64()?,
                })
            }),
    );
    fewer
}

/// A rebuild from fewer records than the run measured is refused, unless asked for, and then
/// never over the run's own results.
fn guard(args: &ReportArgs, meta: &Metadata, output: &str, partial: &[LevelRecords]) -> Result<()> {
    if partial.is_empty() {
        return Ok(());
    }
    let levels = partial
        .iter()
        .map(|l| {
            format!(
                "QPS {} kept {} of its {} records",
                Qps(l.qps),
                l.kept,
                l.measured
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    if !args.from_partial_records {
        bail!(
            "{}'s requests.jsonl holds fewer records than the run measured ({levels}): rebuilding would overwrite {} with less, so nothing was changed; to rebuild from the records that are left, add --from-partial-records --output OTHER.json (written beside the original)",
            args.dir.display(),
            meta.output
        );
    }
    if output == meta.output {
        bail!(
            "--from-partial-records writes beside the run's results, never over them: give --output another name than {}",
            meta.output
        );
    }
    eprintln!("warning: rebuilding {output} from fewer records than the run measured: {levels}");
    Ok(())
}

/// "Rebuilt alt.json with gpu_rate 2.3 -> 3.0; recorded in metadata.json (...)".
fn rebuilt_line(
    output: &str,
    meta: &Metadata,
    changed: &Changed,
    partial: &[LevelRecords],
) -> String {
    let mut what = changed.lines();
    if !partial.is_empty() {
        what.push(format!(
            "the records left of {} level{}",
            partial.len(),
            if partial.len() == 1 { "" } else { "s" }
        ));
    }
    format!(
        "Rebuilt {output} with {}; recorded in metadata.json (under \"reports\"{})",
        what.join(", "),
        if output == meta.output {
            ", and its settings now match"
        } else {
            ""
        }
    )
}

/// The chart of results written as `output`: its name with the chart's extension.
fn chart_name(output: &str) -> String {
    let stem = output.strip_suffix(".json").unwrap_or(output);
    format!("{stem}.png")
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
