//! `redline sweep`: the configurations of a server (or of redline's own flags), each measured as a
//! run of its own, and the Pareto frontier of per-user speed against throughput per GPU at their
//! capacities.
//!
//! `grid.rs` makes the configurations and fills the placeholders, `setup.rs` checks them all and
//! makes (or, with `--resume`, reads) the sweep's folder, `one.rs` runs one configuration (server
//! started, measured, stopped). This file runs them in order, writes `sweep.json` after each, and
//! shows the frontier: the console table, `frontier.md`, `frontier.csv` and `frontier.png`. One
//! Ctrl-C stops the run in progress as it stops any run (its folder keeps what was measured), stops
//! its server, and ends the sweep; the finished configurations are kept and `--resume` goes on.

mod grid;
mod one;
mod setup;

use crate::cli::SweepArgs;
use crate::output::sweep::Status;
use crate::output::{chart, html};
use crate::pipeline::Interrupts;
use anyhow::{anyhow, Result};
use grid::Configuration;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

/// `redline sweep`.
pub async fn run(a: SweepArgs) -> Result<ExitCode> {
    let a = a.own_flags().map_err(|e| anyhow!(e))?;
    let mut sweep = match &a.resume {
        Some(dir) => setup::resume(&a, dir)?,
        None => setup::start(&a)?,
    };
    println!("Sweep: {}", sweep.dir.display());
    let pending = (sweep.file.configurations.iter())
        .filter(|e| e.status == Status::Pending)
        .count();
    if pending == 0 {
        println!("Every configuration is finished: nothing to run (the frontier is shown again)");
    }
    let interrupts = Interrupts::watch()?;
    let n = sweep.file.configurations.len();
    for i in 0..n {
        if interrupts.cancel.stop.is_cancelled() {
            break;
        }
        let e = &sweep.file.configurations[i];
        if e.status != Status::Pending {
            continue;
        }
        let c = Configuration {
            name: e.name.clone(),
            dir: e.dir.clone(),
            params: e.params.clone().into_iter().collect(),
        };
        let mut entry = e.clone();
        one::run(
            &sweep.template,
            &c,
            (i, n),
            &sweep.dir,
            &interrupts,
            &mut entry,
        )
        .await;
        sweep.file.configurations[i] = entry;
        sweep.file.write(&sweep.dir)?;
    }
    finish(&sweep)?;
    let code = interrupts.code.load(Ordering::SeqCst);
    if code != 0 {
        println!(
            "Interrupted: the finished configurations are kept; go on with: redline sweep --resume {}",
            sweep.dir.display()
        );
        return Ok(ExitCode::from(code));
    }
    let measured = sweep
        .file
        .configurations
        .iter()
        .any(|e| e.status == Status::Done);
    Ok(if measured {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The frontier: the console table, its files and its chart.
fn finish(sweep: &setup::Sweep) -> Result<()> {
    print!("{}", sweep.file.table());
    sweep.file.write_tables(&sweep.dir)?;
    let png = sweep.dir.join("frontier.png");
    match chart::frontier::draw(&sweep.file, &png) {
        Ok(()) => println!("Frontier chart: {}", png.display()),
        Err(e) => eprintln!(
            "warning: the frontier chart could not be drawn ({e:#}); sweep.json is complete"
        ),
    }
    let report = sweep.dir.join("report.html");
    let links: Vec<Option<String>> = sweep
        .file
        .configurations
        .iter()
        .map(|e| own_report(&sweep.dir, &e.dir))
        .collect();
    match html::write(&report, &html::sweep_page(&sweep.file, &links)) {
        Ok(()) => println!("Report: {}", report.display()),
        Err(e) => eprintln!(
            "warning: the HTML report could not be written ({e:#}); sweep.json is complete"
        ),
    }
    println!("\nSweep results: {}", sweep.dir.display());
    Ok(())
}

/// A configuration's own HTML report, relative to the sweep's folder, when it has one.
fn own_report(root: &Path, dir: &str) -> Option<String> {
    let mut pages: Vec<String> = std::fs::read_dir(root.join(dir))
        .ok()?
        .flatten()
        .map(|f| f.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".html"))
        .collect();
    pages.sort();
    pages.first().map(|p| format!("{dir}/{p}"))
}
