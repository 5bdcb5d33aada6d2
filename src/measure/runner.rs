//! The open loop: fires each request of a level at its absolute deadline and never waits for replies.
//!
//! A scheduler thread sleeps until `start + offset` for each offset from `schedule.rs` and spawns one
//! task per request (`client::Target::measure`); every scheduled request ends as exactly one
//! `RequestRecord`, including arrivals refused by the client's own concurrency cap. Records flow back
//! over a channel to the level's collector, which hands them to an [`Observer`] (progress bar,
//! `requests.jsonl`) as they finish. The runner never prints. After the send window, the level waits
//! for in-flight requests (each bounded by `--timeout`), so levels never overlap.

use crate::measure::client::Target;
use crate::measure::record::{ErrorKind, LevelRun, RequestRecord};
use crate::measure::time;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Time between setting a level up and its first deadline, so the first send is not late.
const LEAD: Duration = Duration::from_millis(20);

/// Receives a level's progress as it happens. Called from the level's collector only.
pub trait Observer {
    fn sent(&mut self) {}
    fn finished(&mut self, _record: &RequestRecord) {}
}

/// Ctrl-C handling: `stop` ends sending; `abort` ends requests still in flight.
#[derive(Clone, Default)]
pub struct Cancel {
    pub stop: CancellationToken,
    pub abort: CancellationToken,
}

/// One level's plan.
pub struct Level {
    /// Position in the run (0-based).
    pub index: usize,
    pub qps: f64,
    pub offsets: Vec<Duration>,
    pub duration: Duration,
    pub max_concurrency: Option<usize>,
}

enum Msg {
    Sent,
    Done(Box<RequestRecord>),
}

pub async fn run_level(
    target: Arc<Target>,
    level: &Level,
    cancel: &Cancel,
    observer: &mut dyn Observer,
) -> LevelRun {
    let start = Instant::now() + LEAD;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let schedule = Schedule {
        target,
        level: level.index,
        qps: level.qps,
        offsets: level.offsets.clone(),
        cap: level.max_concurrency.map(|n| Arc::new(Semaphore::new(n))),
        start,
        cancel: cancel.clone(),
        tx,
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
            }
        }
    }
    let stopped_at = scheduler.await.ok().flatten();
    LevelRun::new(level.qps, level.duration.as_secs_f64(), records, stopped_at)
}

/// Sends each request of a level at its deadline, on a dedicated OS thread. The thread sleeps with
/// `std::thread::sleep` (nanosleep: tens of microseconds late, where tokio's timer rounds up to the
/// next millisecond) and spawns each request onto the runtime, so sending costs no busy waiting and
/// never waits for a reply. Returns when sending was stopped early (seconds since `start`), or
/// `None` when the whole schedule went out.
struct Schedule {
    target: Arc<Target>,
    level: usize,
    qps: f64,
    offsets: Vec<Duration>,
    cap: Option<Arc<Semaphore>>,
    start: Instant,
    cancel: Cancel,
    tx: mpsc::UnboundedSender<Msg>,
    runtime: tokio::runtime::Handle,
}

/// Longest single sleep, so an interruption is noticed promptly.
const POLL: Duration = Duration::from_millis(20);

impl Schedule {
    fn since_start(&self) -> f64 {
        time::since(Instant::now(), self.start)
    }

    fn run(self) -> Option<f64> {
        let start = self.start.into_std();
        let samples = self.target.samples();
        for (i, offset) in self.offsets.iter().enumerate() {
            let deadline = start + *offset;
            loop {
                if self.cancel.stop.is_cancelled() {
                    return Some(self.since_start());
                }
                let now = std::time::Instant::now();
                if now >= deadline {
                    break;
                }
                std::thread::sleep((deadline - now).min(POLL));
            }
            let rec = RequestRecord::new(
                self.level,
                self.qps,
                i as u64,
                i % samples,
                offset.as_secs_f64(),
            );
            self.send(rec);
        }
        None
    }

    fn send(&self, mut rec: RequestRecord) {
        let permit = match &self.cap {
            None => None,
            Some(sem) => match sem.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    rec.end_s = self.since_start();
                    rec.error = Some(ErrorKind::ConcurrencyLimit);
                    rec.error_detail =
                        Some("--max-concurrency requests were already in flight; not sent".into());
                    let _ = self.tx.send(Msg::Done(Box::new(rec)));
                    return;
                }
            },
        };
        let _ = self.tx.send(Msg::Sent);
        let (tx, target, abort, start) = (
            self.tx.clone(),
            self.target.clone(),
            self.cancel.abort.clone(),
            self.start,
        );
        self.runtime.spawn(async move {
            target.measure(&mut rec, start, &abort).await;
            drop(permit);
            let _ = tx.send(Msg::Done(Box::new(rec)));
        });
    }
}
