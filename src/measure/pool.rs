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
/// Longest wait for the spares before a level.
const PREPARE_WAIT: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    dialer: Dialer,
    idle: Mutex<Vec<Conn>>,
    /// The level's rate, requests per second (as bits of an f64).
    qps: AtomicU64,
    /// Moving average of the time to open a connection, microseconds.
    open_us: AtomicU64,
    /// Spares being opened now.
    connecting: AtomicUsize,
    opened: Notify,
}

impl Pool {
    pub fn new(dialer: Dialer) -> Pool {
        Pool {
            inner: Arc::new(Inner {
                dialer,
                idle: Mutex::new(Vec::new()),
                qps: AtomicU64::new(0),
                open_us: AtomicU64::new(0),
                connecting: AtomicUsize::new(0),
                opened: Notify::new(),
            }),
        }
    }

    /// The spares for a level of `qps` requests per second, opened before it starts (waiting at
    /// most a few seconds).
    pub async fn prepare(&self, qps: f64) {
        self.inner.qps.store(qps.to_bits(), Ordering::Release);
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
        let c = self.connect().await?;
        self.put(c);
        Ok(())
    }

    /// Idle connections to keep ready now.
    fn spare(&self) -> usize {
        let qps = f64::from_bits(self.inner.qps.load(Ordering::Acquire));
        let open_s = self.inner.open_us.load(Ordering::Acquire) as f64 / 1e6;
        ((qps * (SPARE_SECONDS + 2.0 * open_s)).ceil() as usize).clamp(2, MAX_SPARES)
    }

    /// Opens a connection, keeping the average opening time.
    async fn connect(&self) -> Result<Conn, ConnectError> {
        let start = std::time::Instant::now();
        let c = self.inner.dialer.connect().await?;
        let took = start.elapsed().as_micros() as u64;
        let old = self.inner.open_us.load(Ordering::Acquire);
        let new = if old == 0 { took } else { (old * 4 + took) / 5 };
        self.inner.open_us.store(new, Ordering::Release);
        Ok(c)
    }

    /// An idle connection that is still open, or a new one.
    pub async fn take(&self) -> Result<Conn, ConnectError> {
        let found = self.checkout();
        self.top_up();
        match found {
            Some(c) => Ok(c),
            None => self.connect().await,
        }
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
        while let Some(c) = idle.pop() {
            if c.is_reusable() {
                return Some(c);
            }
        }
        None
    }

    /// Opens connections, concurrently, until idle + opening reaches the spare count. A failed
    /// open is not retried here: the next request's own attempt reports the endpoint's state.
    fn top_up(&self) {
        let spare = self.spare();
        let have = self.idle_count() + self.inner.connecting.load(Ordering::Acquire);
        for _ in have..spare {
            self.inner.connecting.fetch_add(1, Ordering::AcqRel);
            let pool = self.clone();
            tokio::spawn(async move {
                let result = pool.connect().await;
                pool.inner.connecting.fetch_sub(1, Ordering::AcqRel);
                match result {
                    Ok(c) => pool.put(c),
                    Err(_) => pool.inner.opened.notify_waiters(),
                }
            });
        }
    }
}
