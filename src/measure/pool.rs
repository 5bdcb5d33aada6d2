//! The connections of the hand-written HTTP/1.1 path: idle ones kept for reuse, and a few spares
//! opened ahead of demand, so a request rarely pays a connect or TLS handshake on its own clock.
//!
//! Each request takes an idle connection (one found closed is dropped) or opens its own; either
//! way the pool tops its spares back up in the background, opening connections concurrently. The
//! spare count follows the level's rate and how long a connection takes to open (a moving average):
//! enough to cover the arrivals of 20 ms plus two opening times, since at a level's start, until the
//! first replies end, every request needs a new connection. A request that still has to open one
//! reports that wait as schedule lag (`http1.rs` takes the send time after it), so spares make the
//! common case fast and the rare case visible.

use crate::measure::conn::{Conn, ConnectError, Dialer};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Seconds of arrivals covered by spare connections.
const SPARE_SECONDS: f64 = 0.02;
const MAX_SPARES: usize = 256;
/// How long top-ups pause after a spare failed to open.
const FAILURE_PAUSE: Duration = Duration::from_millis(500);
/// Longest wait for the spares before a level.
const PREPARE_WAIT: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

/// How many connections (or HTTP/2 streams) to keep ready: the arrivals of [`SPARE_SECONDS`] plus
/// two connection-opening times, from the level's rate and a moving average of the time a
/// connection takes to open. Shared by this pool and the HTTP/2 pool.
#[derive(Default)]
pub struct SpareTarget {
    /// The level's rate, requests per second (as bits of an f64).
    qps: AtomicU64,
    /// Moving average of the time to open a connection, microseconds.
    open_us: AtomicU64,
}

impl SpareTarget {
    pub fn set_rate(&self, qps: f64) {
        self.qps.store(qps.to_bits(), Ordering::Release);
    }

    /// Folds one connection's opening time into the average.
    pub fn opened_in(&self, took: Duration) {
        let took = took.as_micros() as u64;
        let old = self.open_us.load(Ordering::Acquire);
        let new = if old == 0 { took } else { (old * 4 + took) / 5 };
        self.open_us.store(new, Ordering::Release);
    }

    /// The number to keep ready now.
    pub fn count(&self) -> usize {
        let qps = f64::from_bits(self.qps.load(Ordering::Acquire));
        let open_s = self.open_us.load(Ordering::Acquire) as f64 / 1e6;
        ((qps * (SPARE_SECONDS + 2.0 * open_s)).ceil() as usize).clamp(2, MAX_SPARES)
    }
}

struct Inner {
    dialer: Dialer,
    idle: Mutex<Vec<Conn>>,
    target: SpareTarget,
    /// Spares being opened now.
    connecting: AtomicUsize,
    opened: Notify,
    /// Top-ups pause until this many milliseconds after `epoch` when a spare failed to open.
    paused_until_ms: AtomicU64,
    epoch: std::time::Instant,
}

impl Pool {
    pub fn new(dialer: Dialer) -> Pool {
        Pool {
            inner: Arc::new(Inner {
                dialer,
                idle: Mutex::new(Vec::new()),
                target: SpareTarget::default(),
                connecting: AtomicUsize::new(0),
                opened: Notify::new(),
                paused_until_ms: AtomicU64::new(0),
                epoch: std::time::Instant::now(),
            }),
        }
    }

    /// The spares for a level of `qps` requests per second, opened before it starts (waiting at
    /// most a few seconds).
    pub async fn prepare(&self, qps: f64) {
        self.inner.target.set_rate(qps);
        self.prune();
        let spare = self.spare();
        self.top_up();
        let _ = tokio::time::timeout(PREPARE_WAIT, async {
            while self.idle_count() < spare && self.inner.connecting.load(Ordering::Acquire) > 0 {
                let opened = self.inner.opened.notified();
                if self.idle_count() >= spare {
                    break;
                }
                opened.await;
            }
        })
        .await;
    }

    /// Opens one connection now and keeps it: a failure (a certificate problem, a refused
    /// connection) is returned instead of showing in every request.
    pub async fn warm(&self) -> Result<(), ConnectError> {
        let (c, _) = self.connect().await?;
        self.put(c);
        Ok(())
    }

    /// Idle connections to keep ready now.
    fn spare(&self) -> usize {
        self.inner.target.count()
    }

    /// Opens a connection, keeping the average opening time; with its TCP connect time.
    async fn connect(&self) -> Result<(Conn, Duration), ConnectError> {
        let start = std::time::Instant::now();
        // Boxed: the TLS handshake's future would otherwise size every request's task, though
        // most requests take a connection opened before.
        let c = Box::pin(self.inner.dialer.connect()).await?;
        self.inner.target.opened_in(start.elapsed());
        Ok(c)
    }

    /// An idle connection that is still open (reused: opened in advance or kept from an earlier
    /// request), or one opened now, with its TCP connect time.
    pub async fn take(&self) -> Result<(Conn, Option<Duration>), ConnectError> {
        let found = self.checkout();
        self.top_up();
        match found {
            Some(c) => Ok((c, None)),
            None => self.connect().await.map(|(c, d)| (c, Some(d))),
        }
    }

    /// A connection opened now, never reused; with its TCP connect time.
    pub async fn fresh(&self) -> Result<(Conn, Duration), ConnectError> {
        self.connect().await
    }

    /// Keeps a connection whose response was read to its end.
    pub fn put(&self, c: Conn) {
        if let Ok(mut idle) = self.inner.idle.lock() {
            idle.push(c);
        }
        self.inner.opened.notify_waiters();
    }

    fn idle_count(&self) -> usize {
        self.inner.idle.lock().map(|i| i.len()).unwrap_or(0)
    }

    fn checkout(&self) -> Option<Conn> {
        let mut idle = self.inner.idle.lock().ok()?;
        while let Some(mut c) = idle.pop() {
            if c.is_reusable() {
                return Some(c);
            }
        }
        None
    }

    /// Drops idle connections the server has closed meanwhile (between levels, a server's
    /// keep-alive timeout may have ended them), so they are not counted as spares.
    fn prune(&self) {
        if let Ok(mut idle) = self.inner.idle.lock() {
            idle.retain_mut(|c| c.is_reusable());
        }
    }

    /// Opens connections, concurrently, until idle + opening reaches the spare count. A failed
    /// open is not retried here, and stops top-ups for [`FAILURE_PAUSE`]: the requests' own
    /// attempts report the endpoint's state, without a storm of spare connects beside them.
    fn top_up(&self) {
        let paused_until = self.inner.paused_until_ms.load(Ordering::Acquire);
        if paused_until > 0 && self.inner.epoch.elapsed().as_millis() as u64 <= paused_until {
            return;
        }
        let spare = self.spare();
        let idle = self.idle_count();
        loop {
            // Reserve a slot before opening, so concurrent takes never open the shortfall twice.
            let c = self.inner.connecting.load(Ordering::Acquire);
            if idle + c >= spare {
                return;
            }
            if self
                .inner
                .connecting
                .compare_exchange(c, c + 1, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                continue;
            }
            let pool = self.clone();
            tokio::spawn(async move {
                let result = pool.connect().await;
                pool.inner.connecting.fetch_sub(1, Ordering::AcqRel);
                match result {
                    Ok((c, _)) => pool.put(c),
                    Err(_) => {
                        let until = pool.inner.epoch.elapsed() + FAILURE_PAUSE;
                        pool.inner
                            .paused_until_ms
                            .store(until.as_millis() as u64, Ordering::Release);
                        pool.inner.opened.notify_waiters();
                    }
                }
            });
        }
    }
}
