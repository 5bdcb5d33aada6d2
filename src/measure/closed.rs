//! `--concurrency N`: the closed loop, the alternative to `runner.rs`'s open loop. N workers each
//! send a request, wait for its reply to end, and send the next, until the level's duration has
//! passed; so exactly N requests are in flight while the level runs, and the rate is whatever the
//! endpoint sustains at that concurrency (reported as the level's achieved QPS).
//!
//! Each request's planned time is when its worker became free, so its lag is only the time to hand
//! it to a connection. Records flow to the [`Observer`] as in the open loop; a stop (Ctrl-C) ends
//! the workers' loops, and an abort their requests in flight.

use crate::config::{LevelId, Shard};
use crate::measure::pick::Picker;
use crate::measure::record::LevelRun;
use crate::measure::runner::Observer;
use crate::measure::target::Target;
use crate::measure::time;
use crate::measure::work::{Cancel, Ctx, Msg, Work};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// One closed-loop level's plan.
pub struct ClosedLevel {
    /// Which level this is; it offers this process's workers (a shard's share of `workers`).
    pub id: LevelId,
    /// The plan's arrivals in flight at once (a request each, or a session each with
    /// `Work::Sessions`), of which a shard runs its share.
    pub workers: usize,
    pub duration: Duration,
    /// What each arrival sends, and which sample.
    pub work: Work,
    pub picker: Picker,
    /// `--shard`: run only this shard's workers (worker w is shard w mod N's); arrival indexes are
    /// numbered so that no two shards share one.
    pub shard: Option<Shard>,
    /// When the level starts (a sharded run's common clock); `None`: right away.
    pub start_at: Option<Instant>,
}

/// Runs the level for its duration.
pub async fn run_level(
    target: Arc<Target>,
    level: &ClosedLevel,
    cancel: &Cancel,
    observer: &mut dyn Observer,
) -> LevelRun {
    let ClosedLevel {
        id,
        workers,
        duration,
        ref work,
        shard,
        start_at,
        ..
    } = *level;
    if let Some(at) = start_at {
        tokio::time::sleep_until(at).await;
    }
    let start = Instant::now();
    let end = start + duration;
    let mine: Vec<usize> = (0..workers)
        .filter(|&w| shard.is_none_or(|s| s.owns(w as u64)))
        .collect();
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let ctx = Ctx {
        target,
        level: id.index,
        qps: mine.len() as f64,
        start,
        cancel: cancel.clone(),
        cap: None,
        picker: level.picker.clone(),
        concurrency: Some(mine.len()),
        repeat: None,
        tx,
    };
    // Worker w's k-th arrival is k x workers + w: whichever process (or shard) runs worker w, it
    // sends the same arrivals and samples, so shards split one closed-loop level exactly.
    let stride = workers as u64;
    for &w in &mine {
        let (ctx, work) = (ctx.clone(), work.clone());
        tokio::spawn(async move {
            for k in 0u64.. {
                if Instant::now() >= end || ctx.cancel.stop.is_cancelled() || ctx.tx.is_closed() {
                    break;
                }
                let i = k * stride + w as u64;
                let planned = time::since(Instant::now(), start);
                let single = work.single().then(|| {
                    let rec = work.record(&ctx, i, planned);
                    let payload = work.payload(&ctx, &rec);
                    ((Box::new(rec), None), payload)
                });
                if single.is_some() {
                    let _ = ctx.tx.send(Msg::Sent);
                }
                work.arrive(&ctx, i, planned, single).await;
            }
        });
    }
    drop(ctx);
    let mut records = Vec::new();
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Sent => observer.sent(),
            Msg::Done(r) => {
                observer.finished(&r);
                records.push(*r);
            }
        }
    }
    let stopped_at = cancel
        .stop
        .is_cancelled()
        .then(|| time::since(Instant::now().min(end), start));
    let window = duration.as_secs_f64();
    // Arrivals: requests, or sessions (whose later turns are not arrivals).
    let sent = records.iter().filter(|r| r.is_arrival()).count() as f64;
    // The level's rate is what the endpoint sustained at this concurrency.
    LevelRun::new(id, sent / window, window, records, stopped_at)
}
