//! The open loop: fires each request of a level at its absolute deadline and never waits for replies.
//!
//! A scheduler thread sleeps until `start + offset` for each offset from `schedule.rs` and spawns one
//! task per request (`Target::measure_payload`, `exchange.rs`); every scheduled request ends as exactly one
//! `RequestRecord`, including arrivals refused by the client's own concurrency cap. Records flow back
//! over a channel to the level's collector, which hands them to an [`Observer`] (progress bar,
//! `requests.jsonl`) as they finish. The runner never prints. After the send window, the level waits
//! for in-flight requests (each bounded by `--timeout`), so levels never overlap.

use crate::config::{LevelId, Shard};
use crate::measure::pick::Picker;
use crate::measure::record::{LevelRun, RequestRecord};
use crate::measure::target::{Payload, Target};
use crate::measure::time;
use crate::measure::work::{Cancel, Ctx, Msg, Work};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

/// Time between setting a level up and its first deadline, so the first send is not late.
const LEAD: Duration = Duration::from_millis(20);

/// Receives a level's progress as it happens. Called from the level's collector only.
pub trait Observer {
    fn sent(&mut self) {}
    fn finished(&mut self, _record: &RequestRecord) {}
    /// Asked after each finished record, `now_s` seconds into the level: whether to stop sending
    /// (`--stop-on-saturation`). The level then waits for its requests in flight, as at its end.
    fn stop_sending(&mut self, _now_s: f64) -> bool {
        false
    }
}

/// One level's plan.
pub struct Level {
    /// Which level this is: its place, rate (this shard's share, for a shard), probe number.
    pub id: LevelId,
    pub qps: f64,
    pub offsets: Vec<Duration>,
    pub duration: Duration,
    pub max_concurrency: Option<usize>,
    /// What each arrival sends, and which sample.
    pub work: Work,
    pub picker: Picker,
    /// `--shard`: send only this shard's arrivals (their indexes stay the plan's).
    pub shard: Option<Shard>,
    /// When the level starts (a sharded run's common clock); `None`: right away.
    pub start_at: Option<Instant>,
}

pub async fn run_level(
    target: Arc<Target>,
    level: &Level,
    cancel: &Cancel,
    observer: &mut dyn Observer,
) -> LevelRun {
    let start = level.start_at.unwrap_or_else(|| Instant::now() + LEAD);
    let (tx, mut rx) = mpsc::unbounded_channel();
    // The level's own stop: an interruption stops it too, an early stop stops only this level.
    let level_cancel = Cancel {
        stop: cancel.stop.child_token(),
        abort: cancel.abort.clone(),
    };
    let schedule = Schedule {
        ctx: Ctx {
            target,
            level: level.id.index,
            qps: level.qps,
            start,
            cancel: level_cancel.clone(),
            cap: level.max_concurrency.map(|n| Arc::new(Semaphore::new(n))),
            picker: level.picker.clone(),
            concurrency: None,
            repeat: level.id.repeat,
            tx,
        },
        offsets: level.offsets.clone(),
        work: level.work.clone(),
        shard: level.shard,
        runtime: tokio::runtime::Handle::current(),
    };
    let scheduler = tokio::task::spawn_blocking(move || schedule.run());
    let mut records = Vec::with_capacity(level.offsets.len());
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Sent => observer.sent(),
            Msg::Done(r) => {
                observer.finished(&r);
                records.push(*r);
                if !level_cancel.stop.is_cancelled()
                    && observer.stop_sending(time::since(Instant::now(), start))
                {
                    level_cancel.stop.cancel();
                }
            }
        }
    }
    let stopped_at = scheduler.await.ok().flatten();
    LevelRun::new(
        level.id,
        level.qps,
        level.duration.as_secs_f64(),
        records,
        stopped_at,
    )
}

/// Sends each request of a level at its deadline, on a dedicated OS thread. The thread sleeps with
/// `std::thread::sleep` (nanosleep: tens of microseconds late, where tokio's timer rounds up to the
/// next millisecond) and spawns each request onto the runtime, so sending costs no busy waiting and
/// never waits for a reply. Returns when sending was stopped early (seconds since `start`), or
/// `None` when the whole schedule went out.
struct Schedule {
    ctx: Ctx,
    offsets: Vec<Duration>,
    work: Work,
    shard: Option<Shard>,
    runtime: tokio::runtime::Handle,
}

/// Longest single sleep, so an interruption is noticed promptly.
const POLL: Duration = Duration::from_millis(20);

impl Schedule {
    fn since_start(&self) -> f64 {
        time::since(Instant::now(), self.ctx.start)
    }

    fn run(self) -> Option<f64> {
        let start = self.ctx.start.into_std();
        for (i, offset) in self.offsets.iter().enumerate() {
            if self.shard.is_some_and(|s| !s.owns(i as u64)) {
                continue;
            }
            let planned_s = offset.as_secs_f64();
            // A request's record and body are made while waiting for its deadline, not after.
            let single = self.work.single().then(|| {
                let rec = self.work.record(&self.ctx, i as u64, planned_s);
                let payload = self.work.payload(&self.ctx, &rec);
                (rec, payload)
            });
            let deadline = start + *offset;
            loop {
                if self.ctx.cancel.stop.is_cancelled() {
                    return Some(self.since_start());
                }
                let now = std::time::Instant::now();
                if now >= deadline {
                    break;
                }
                std::thread::sleep((deadline - now).min(POLL));
            }
            self.send(i as u64, planned_s, single);
        }
        None
    }

    /// Arrival `i`: a single request is checked against the cap and counted as sent here, on
    /// time; a session does both for each of its turns.
    fn send(&self, i: u64, planned_s: f64, single: Option<(RequestRecord, Payload)>) {
        let single = match single {
            Some((rec, payload)) => {
                let Some(held) = self.ctx.permit(rec) else {
                    return;
                };
                let _ = self.ctx.tx.send(Msg::Sent);
                Some((held, payload))
            }
            None => None,
        };
        let (ctx, work) = (self.ctx.clone(), self.work.clone());
        self.runtime.spawn(async move {
            work.arrive(&ctx, i, planned_s, single).await;
        });
    }
}
