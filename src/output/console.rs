//! The console at the end of a run (and of `redline report`): the results table, the errors by
//! kind, the verdicts and summary, and the chart when asked. Everything it prints is already in the
//! results folder; a chart that cannot be drawn is a warning, never a lost run.

use crate::analyze::report::Report;
use crate::cli::PlotFormat;
use crate::config::ReportOptions;
use crate::output::{chart, server, summary, table, workload};
use std::path::Path;

/// Prints the table, errors, verdicts and summary, and draws the chart when `plot` names its file
/// (and format).
pub fn present(
    report: &Report,
    opts: &ReportOptions,
    dir: &Path,
    plot: Option<(&str, PlotFormat)>,
) {
    print!(
        "\n{}",
        table::render(
            &report.results,
            &opts.percentiles,
            opts.pricing.is_some(),
            opts.show_ci
        )
    );
    print!("{}", workload::render(&report.results, &opts.percentiles));
    print!("{}", server::render(&report.results));
    print!("{}", table::render_errors(&report.results));
    print!("{}", summary::render(report));
    if let Some((name, format)) = plot {
        let path = dir.join(name);
        match chart::draw(report, &opts.percentiles, &path, format) {
            Ok(files) => {
                for f in files {
                    println!("Chart: {}", f.display());
                }
            }
            Err(e) => eprintln!(
                "warning: the chart could not be drawn ({e:#}); the JSON results are complete"
            ),
        }
    }
    println!("\nResults: {}", dir.display());
}
