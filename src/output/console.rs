//! The console at the end of a run (and of `redline report`): the results table, the errors by
//! kind, the verdicts and summary, and the chart when asked. Everything it prints is already in the
//! results folder; a chart that cannot be drawn is a warning, never a lost run.

use crate::analyze::report::Report;
use crate::cli::PlotFormat;
use crate::config::ReportOptions;
use crate::output::{chart, server, summary, table, workload};
use std::path::Path;

/// Prints the table, errors, verdicts and summary, draws the chart when `plot` names its file
/// (and format), and writes the HTML report when `html` names the chart it goes beside.
pub fn present(
    report: &Report,
    opts: &ReportOptions,
    dir: &Path,
    plot: Option<(&str, PlotFormat)>,
    html: Option<&str>,
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
    if let Some(name) = html {
        let path = dir.join(chart::html_file(Path::new(name)));
        let heading = format!(
            "redline results {}",
            dir.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        );
        let page = crate::output::html::run_page(report, &opts.percentiles, &heading);
        match crate::output::html::write(&path, &page) {
            Ok(()) => println!("Report: {}", path.display()),
            Err(e) => eprintln!(
                "warning: the HTML report could not be written ({e:#}); the JSON results are complete"
            ),
        }
    }
    println!("\nResults: {}", dir.display());
}
