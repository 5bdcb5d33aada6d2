//! One configuration of a sweep: a free port, its server started (`process::server`) and awaited,
//! its run through the same `bench` pipeline as `redline ...` into its own folder, the server
//! stopped whatever happened, and its entry in `sweep.json` filled from the run's report.

use super::grid::{self, Configuration};
use super::setup::{configure, Template};
use crate::analyze::frontier;
use crate::output::sweep::{Entry, Status, SERVER_LOG};
use crate::pipeline::{bench_with, Interrupts};
use crate::process::server::Server;
use anyhow::{Context, Result};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Runs configuration `c` (number `i` of `n`) into `root/c.dir`, and says how it ended in `e`.
pub async fn run(
    t: &Template,
    c: &Configuration,
    (i, n): (usize, usize),
    root: &Path,
    interrupts: &Interrupts,
    e: &mut Entry,
) {
    let dir = root.join(&c.dir);
    let port = match t.serve.is_some() {
        true => free_port().ok(),
        false => None,
    };
    e.port = port;
    println!("\n=== Configuration {}/{n}: {} ===", i + 1, c.name);
    let outcome = attempt(t, c, port, &dir, interrupts, e).await;
    let interrupted = interrupts.code.load(Ordering::SeqCst) != 0;
    let measured = std::mem::take(&mut e.at_capacity);
    match outcome {
        Ok(()) if interrupted => {
            e.status = Status::Interrupted;
            e.reason = Some(
                "interrupted: `redline sweep --resume` runs it again (this run is kept aside)"
                    .into(),
            );
        }
        Ok(()) => {}
        Err(err) => {
            e.status = if interrupted {
                Status::Interrupted
            } else {
                Status::Failed
            };
            e.reason = Some(format!("{err:#}"));
            eprintln!(
                "Configuration {} {}: {err:#}",
                c.name,
                crate::output::sweep::status_word(e.status)
            );
        }
    }
    // Only a run measured to its end is on the frontier: an interrupted run's passes are the
    // low rates it reached, not its capacity.
    if e.status == Status::Done {
        e.at_capacity = measured;
    }
}

async fn attempt(
    t: &Template,
    c: &Configuration,
    port: Option<u16>,
    dir: &Path,
    interrupts: &Interrupts,
    e: &mut Entry,
) -> Result<()> {
    let (mut cfg, gpus) = configure(t, c, port)?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    cfg.run_dir = Some(dir.to_path_buf());
    // Each configuration's folder holds its own HTML report, linked from the sweep's.
    cfg.html = true;
    let server = match &t.serve {
        Some(template) => {
            let command = grid::fill(template, &c.values(port));
            Some(start(&command, dir, &cfg.endpoint, t, interrupts, e).await?)
        }
        None => None,
    };
    let outcome = bench_with(cfg, None, Some(interrupts.clone())).await;
    if let Some(s) = server {
        stop(s, t.serve_grace_s).await;
    }
    let outcome = outcome?;
    e.at_capacity = frontier::at_capacity(&outcome.report, gpus);
    e.status = Status::Done;
    if let Some(why) = outcome.stopped {
        e.status = Status::Failed;
        e.reason = Some(why);
    } else if e.at_capacity.is_none() {
        e.reason = Some(no_capacity(&outcome.report));
    }
    Ok(())
}

/// Starts the server and waits until it is ready; a server that is not ready is stopped and the
/// error says why, with its log's last lines.
async fn start(
    command: &str,
    dir: &Path,
    endpoint: &reqwest::Url,
    t: &Template,
    interrupts: &Interrupts,
    e: &mut Entry,
) -> Result<Server> {
    println!("Starting: {command}");
    let mut server = Server::start(command, &dir.join(SERVER_LOG))?;
    let base = endpoint.join("/").context("the endpoint has no base")?;
    let limit = Duration::from_secs_f64(t.serve_timeout_s);
    match server
        .wait_ready(&base, limit, &interrupts.cancel.stop)
        .await
    {
        Ok(took) => {
            println!("Server ready in {:.1} s at {base}", took.as_secs_f64());
            e.server_ready_s = Some(took.as_secs_f64());
            Ok(server)
        }
        Err(err) => {
            stop(server, t.serve_grace_s).await;
            Err(err)
        }
    }
}

async fn stop(s: Server, grace_s: f64) {
    let how = s.stop(Duration::from_secs_f64(grace_s)).await;
    match how.killed {
        true => println!("Server killed: it was still running {grace_s} s after SIGTERM"),
        false => println!(
            "Server stopped after SIGTERM (it ended with {})",
            how.status.as_deref().unwrap_or("no status")
        ),
    }
}

/// A port no one listens on now, for the next server.
fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).context("cannot find a free port")?;
    Ok(l.local_addr()?.port())
}

/// Why a finished run has no capacity, in the words of its summary.
fn no_capacity(r: &crate::analyze::report::Report) -> String {
    let s = &r.summary;
    match (s.max_sustainable_qps, s.saturation_qps, s.notes.first()) {
        (Some(q), _, _) => {
            format!("its maximum, {q} QPS, names no passing level to read figures from")
        }
        (None, Some(q), _) => {
            format!("no rate passed: the lowest judged, {q} QPS, did not (see its folder)")
        }
        (None, None, Some(note)) => format!("no level's verdict could be used: {note}"),
        (None, None, None) => "no level's verdict could be used".into(),
    }
}
