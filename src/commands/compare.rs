//! `redline compare DIR...`: reads each results folder's metadata.json and results JSON, compares
//! them against the first (`analyze/compare.rs`), prints the comparison in the chosen format
//! (`output/compare.rs`), draws the overlay when asked, and with `--fail-on-regression` exits with
//! status 3 when a gated metric got worse than the baseline's by more than the threshold.

use crate::analyze::compare::{self, Comparison, Run, DEFAULT_GATED};
use crate::cli::{CompareArgs, CompareFormat};
use crate::output::chart;
use crate::output::compare as format;
use crate::output::folder::RunFolder;
use crate::output::metadata::plan;
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::ExitCode;

/// Status when a regression beyond the threshold was found (1 is an error).
pub const EXIT_REGRESSION: u8 = 3;

pub fn run(a: &CompareArgs) -> Result<ExitCode> {
    let threshold = a.fail_on_regression.as_deref().map(percent).transpose()?;
    if a.metrics.is_some() && threshold.is_none() {
        bail!("--metrics chooses what --fail-on-regression gates; add --fail-on-regression PCT (e.g. 10%), or leave out --metrics to compare every figure");
    }
    let gated: Vec<String> = match &a.metrics {
        Some(m) => m.iter().map(|s| s.trim().to_string()).collect(),
        None => DEFAULT_GATED.iter().map(|s| s.to_string()).collect(),
    };
    for m in &gated {
        let known = compare::metric_ids();
        let pattern = |id: &str| {
            id.strip_suffix("pNN")
                .is_some_and(|p| m.starts_with(p) && m[p.len()..].starts_with('p'))
        };
        if !known.iter().any(|id| id == m || pattern(id)) {
            bail!(
                "--metrics {m:?} is not a metric redline compares; choose from {}",
                known.join(", ")
            );
        }
    }
    let runs = a
        .dirs
        .iter()
        .enumerate()
        .map(|(i, dir)| read(dir, i))
        .collect::<Result<Vec<_>>>()?;
    if threshold.is_some() {
        gate_one_kind(&runs)?;
    }
    let settings: Vec<&str> = plan::compared_keys().collect();
    let c = compare::compare(
        &runs,
        &settings,
        threshold,
        &gated,
        a.fail_on_regression_any,
    );
    // Only a metric the user named is an error when these runs lack it; the default gate
    // gates what they have.
    if threshold.is_some() && a.metrics.is_some() {
        let unknown = compare::unknown_metrics(&c, &gated);
        if !unknown.is_empty() {
            bail!(
                "--metrics {}: not a figure of these runs, so it would gate nothing; choose from {}",
                unknown.join(", "),
                compare::metric_ids().join(", ")
            );
        }
    }
    print!(
        "{}",
        match a.format {
            CompareFormat::Table => format::table(&c),
            CompareFormat::Markdown => format::markdown(&c),
            CompareFormat::Csv => format::csv(&c),
            CompareFormat::Json => format::json(&c),
        }
    );
    if a.plot.wanted() {
        let format = crate::cli::PlotFormat::for_output(
            a.plot.plot_format,
            &a.plot_output.display().to_string(),
        );
        let (png, svg) = chart::files(&a.plot_output);
        let drawn = match format {
            crate::cli::PlotFormat::Png => vec![png],
            crate::cli::PlotFormat::Svg => vec![svg],
            crate::cli::PlotFormat::Both => vec![png, svg],
        };
        for f in drawn.iter().filter(|f| f.exists()) {
            eprintln!(
                "note: replacing {} with this comparison's chart",
                f.display()
            );
        }
        match chart::compare::draw(&c, &a.plot_output, format) {
            Ok(files) => files
                .iter()
                .for_each(|f| println!("Chart: {}", f.display())),
            Err(e) => eprintln!("warning: the chart could not be drawn ({e:#})"),
        }
    }
    if a.plot.html_wanted() {
        let path = chart::html_file(&a.plot_output);
        match crate::output::html::write(&path, &crate::output::html::compare_page(&c)) {
            // On stderr: stdout may be the comparison's JSON or CSV.
            Ok(()) => eprintln!("Report: {}", path.display()),
            Err(e) => eprintln!("warning: the HTML report could not be written ({e:#})"),
        }
    }
    Ok(verdict(&c))
}

/// A gate compares like with like: a run of another kind than the baseline's (a closed loop
/// against rates, say) has no change to gate, and passing it silently would let anything through.
fn gate_one_kind(runs: &[Run]) -> Result<()> {
    let base = compare::kind(&runs[0].meta);
    if let Some(other) = runs.iter().find(|r| compare::kind(&r.meta) != base) {
        bail!(
            "--fail-on-regression gates runs of one kind: {} ({}) is a {base} run, {} ({}) a {} run, so there is no change to gate; compare them without --fail-on-regression, or gate a run of the same kind",
            runs[0].label,
            runs[0].dir,
            other.label,
            other.dir,
            compare::kind(&other.meta)
        );
    }
    Ok(())
}

fn verdict(c: &Comparison) -> ExitCode {
    if c.regressions.is_empty() {
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "{} regression(s) beyond {}%: exiting with status {EXIT_REGRESSION}",
        c.regressions.len(),
        c.threshold_pct.unwrap_or_default()
    );
    ExitCode::from(EXIT_REGRESSION)
}

/// `10%` or `10`: a positive percentage.
fn percent(text: &str) -> Result<f64> {
    let v: f64 = text
        .trim()
        .trim_end_matches('%')
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
        .with_context(|| {
            format!("--fail-on-regression {text:?}: give a percentage of 0 or more, e.g. 10%")
        })?;
    Ok(v)
}

/// A results folder as its run: label A, B, ... by position.
fn read(dir: &Path, i: usize) -> Result<Run> {
    let folder = RunFolder::open(dir);
    let (meta, results) = folder.as_written()?;
    // The records, for testing differences; a folder without them is compared on its figures.
    let levels = results["results"].as_array().map_or(0, Vec::len);
    let typed = serde_json::from_value::<crate::output::metadata::Metadata>(meta.clone()).ok();
    let records = match typed.filter(|m| m.repeat.is_some()) {
        // Repeated levels: the records of each level's runs together, as the results combine them.
        Some(m) => folder
            .records(m.qps_levels.len())
            .map(|r| by_combined_level(&m, r.by_level))
            .unwrap_or_default(),
        None => folder
            .records(levels)
            .map(|r| r.by_level)
            .unwrap_or_default(),
    };
    Ok(Run {
        label: label(i),
        dir: dir.display().to_string(),
        meta,
        results,
        records,
    })
}

/// Records by run-order level regrouped by repeated level (rate and probe), in the order each
/// level first ran: the order of a repeated run's results.
fn by_combined_level(
    meta: &crate::output::metadata::Metadata,
    by_run: Vec<Vec<crate::measure::record::RequestRecord>>,
) -> Vec<Vec<crate::measure::record::RequestRecord>> {
    let keyed = by_run.into_iter().enumerate().map(|(i, recs)| {
        let rate = meta.qps_levels.get(i).copied().unwrap_or_default();
        (Some((rate, meta.level_id(i).probe)), recs)
    });
    crate::analyze::repeat::gather(keyed)
        .into_iter()
        .map(|runs| runs.concat())
        .collect()
}

/// A, B, ..., Z, R27, R28, ...
fn label(i: usize) -> String {
    match u8::try_from(i).ok().filter(|&i| i < 26) {
        Some(i) => char::from(b'A' + i).to_string(),
        None => format!("R{}", i + 1),
    }
}
