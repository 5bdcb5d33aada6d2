//! The open loop: fires each request of a level at its absolute deadline and never waits for replies.
//!
//! A scheduler thread sleeps until `start + offset` for each offset from `schedule.rs` and spawns one
//! task per request (`client::Target::measure`); every scheduled request ends as exactly one
//! `RequestRecord`, including arrivals refused by the client's own concurrency cap. Records flow back
//! over a channel to the level's collector, which hands them to an [`Observer`] (progress bar,
//! `requests.jsonl`) as they finish. The runner never prints. After the send window, the level waits
//! for in-flight requests (each bounded by `--timeout`), so levels never overlap.

use crate::client::Target;
use crate::record::{ErrorKind, RequestRecord};
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

/// What a level measured. Everything but the records is derived from them by [`LevelRun::new`],
/// so `redline report` rebuilds the same figures from `requests.jsonl`.
#[derive(Debug, Clone)]
pub struct LevelRun {
    pub qps: f64,
    /// In the order they finished.
    pub records: Vec<RequestRecord>,
    /// The configured duration, stretched to the last actual send if the client sent late, or cut
    /// short by an interruption.
    pub send_window_s: f64,
    /// From the level's start until its last request ended (at least the send window).
    pub duration_s: f64,
    /// Requests still in flight when the send window closed.
    pub in_flight_at_send_end: u64,
    /// Interrupted before every scheduled request was sent and finished.
    pub partial: bool,
}

impl LevelRun {
    /// Derives a level's windows from its records. `duration_s` is the configured send window;
    /// `stopped_at` is when an interruption stopped sending (seconds since the level start).
    pub fn new(
        qps: f64,
        duration_s: f64,
        records: Vec<RequestRecord>,
        stopped_at: Option<f64>,
    ) -> Self {
        let last_sent = records.iter().filter_map(|r| r.sent_s).fold(0.0, f64::max);
        let send_window_s = match stopped_at {
            Some(t) => t.max(1e-6),
            None => duration_s.max(last_sent),
        };
        let last_end = records.iter().map(|r| r.end_s).fold(0.0, f64::max);
        let in_flight_at_send_end = records
            .iter()
            .filter(|r| r.sent_s.is_some_and(|s| s <= duration_s) && r.end_s > duration_s)
            .count() as u64;
        let partial = stopped_at.is_some()
            || records
                .iter()
                .any(|r| r.error == Some(ErrorKind::Interrupted));
        LevelRun {
            qps,
            duration_s: send_window_s.max(last_end),
            send_window_s,
            in_flight_at_send_end,
            partial,
            records,
        }
    }
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
        crate::stats::round6(
            Instant::now()
                .saturating_duration_since(self.start)
                .as_secs_f64(),
        )
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
