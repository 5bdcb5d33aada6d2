//! Process-level setup for a run: the open-file limit (how many streams the client can hold) and
//! the signal handling that turns Ctrl-C and SIGTERM into a clean stop; and the servers
//! `redline sweep` starts (`server.rs`), which never outlive it.

pub mod server;

use crate::measure::work::Cancel;
use anyhow::{Context, Result};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long requests in flight may finish after a Ctrl-C before they are recorded as interrupted.
const INTERRUPT_GRACE: Duration = Duration::from_secs(5);

/// After a second interrupt, the longest the run may take to save before it exits anyway.
const SAVE_LIMIT: Duration = Duration::from_secs(5);

/// Exit status of a run stopped by Ctrl-C (SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;
/// Exit status of a run stopped by SIGTERM.
pub const EXIT_TERMINATED: u8 = 143;
/// Exit status of a run stopped by SIGHUP (its terminal or ssh session closed).
pub const EXIT_HANGUP: u8 = 129;

/// File descriptors kept for everything but connections (files, runtime, listeners).
const RESERVED_FDS: u64 = 64;

/// Raises the soft open-file limit to the hard one and says how many concurrent streams (one
/// connection each) the process can hold; past that, requests fail as "Client resource limit".
pub fn raise_open_file_limit() -> u64 {
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let streams = limit.saturating_sub(RESERVED_FDS);
    eprintln!("Open-file limit {limit}: up to ~{streams} concurrent streams");
    streams
}

/// Listens for SIGINT (Ctrl-C), SIGTERM and SIGHUP. The first stops sending and gives requests in flight a
/// grace period; a second ends the requests in flight at once (recorded as interrupted), so the run
/// saves what finished and exits without waiting; a third, or [`SAVE_LIMIT`] after the second,
/// exits at once. Returns the exit status to use once interrupted (130 for SIGINT, 143 for
/// SIGTERM; 0 while not interrupted). Registered before returning, so a signal that arrives right
/// after the run starts is never missed.
pub fn watch_interrupts(cancel: Cancel) -> Result<Arc<AtomicU8>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    let code = Arc::new(AtomicU8::new(0));
    let set = code.clone();
    tokio::spawn(async move {
        let first = tokio::select! {
            _ = int.recv() => EXIT_INTERRUPTED,
            _ = term.recv() => EXIT_TERMINATED,
            _ = hup.recv() => EXIT_HANGUP,
        };
        set.store(first, Ordering::SeqCst);
        eprintln!(
            "\nInterrupted: no new requests; waiting up to {INTERRUPT_GRACE:?} for those in flight, then saving. Ctrl-C again stops them at once."
        );
        cancel.stop.cancel();
        let abort = cancel.abort.clone();
        tokio::spawn(async move {
            tokio::time::sleep(INTERRUPT_GRACE).await;
            abort.cancel();
        });
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        eprintln!("Interrupted again: ending the requests in flight now and saving what finished. Ctrl-C again quits without saving.");
        cancel.abort.cancel();
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
            _ = tokio::time::sleep(SAVE_LIMIT) => {}
        }
        server::kill_all();
        std::process::exit(i32::from(first));
    });
    Ok(code)
}

/// This machine's name (`$HOSTNAME`, else the kernel's), for a shard's metadata.
pub fn host() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}
