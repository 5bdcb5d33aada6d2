//! The simulator's timing seam: a `ResponseModel` decides, for each request, whether it is served and
//! when its tokens come. Two models sit behind it: `FixedLatency` (this file: fixed TTFT and gap
//! between tokens, optional random failures and an in-flight cap; cheap enough to be a measuring
//! stick) answers with a timing `Plan`; the batching engine (`driver.rs` + `engine.rs`) answers with a
//! `Ticket` whose channel delivers each token as the engine produces it. The HTTP layer
//! (`sim/mod.rs`, `sim/stream.rs`) serves either.

use super::metrics::{render, Metrics};
use super::prefix::PromptKey;
use crate::analyze::stats::select_percentiles;
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// What the engine task hears: a request to serve, or one whose client went away.
pub enum Cmd {
    Submit {
        id: u64,
        req: SimRequest,
        reply: mpsc::UnboundedSender<ReplyEvent>,
    },
    Cancel(u64),
}

/// What the HTTP layer knows about a request.
#[derive(Debug, Clone)]
pub struct SimRequest {
    pub prompt_tokens: u64,
    pub max_tokens: u64,
    /// Generate exactly max_tokens (vLLM's `ignore_eos`).
    pub ignore_eos: bool,
    /// The prompt's blocks, with `--prefix-caching`.
    pub key: Option<Arc<PromptKey>>,
}

/// The model's decision.
pub enum Admission {
    Reject {
        status: u16,
        message: String,
    },
    Serve(Plan),
    /// Tokens (or a late rejection) will arrive on the ticket.
    Queued(Ticket),
}

/// What a queued request hears from the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplyEvent {
    Token,
    Done {
        prompt_tokens: u64,
        completion_tokens: u64,
        cached_tokens: Option<u64>,
    },
    Rejected {
        status: u16,
        message: String,
    },
}

/// A queued request's line to the engine. Dropping it before the reply ends (the client went
/// away) cancels the request, freeing its batch slot and KV cache.
pub struct Ticket {
    id: u64,
    rx: mpsc::UnboundedReceiver<ReplyEvent>,
    cancel: mpsc::UnboundedSender<Cmd>,
    ended: bool,
}

impl Ticket {
    pub fn new(
        id: u64,
        rx: mpsc::UnboundedReceiver<ReplyEvent>,
        cancel: mpsc::UnboundedSender<Cmd>,
    ) -> Self {
        Ticket {
            id,
            rx,
            cancel,
            ended: false,
        }
    }

    /// The next event; `None` once the reply has ended or the engine stopped.
    pub async fn next(&mut self) -> Option<ReplyEvent> {
        if self.ended {
            return None;
        }
        let e = self.rx.recv().await;
        self.ended = !matches!(e, Some(ReplyEvent::Token));
        e
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.ended {
            let _ = self.cancel.send(Cmd::Cancel(self.id));
        }
    }
}

/// Timing of a served response. `_slot` is held until the response ends (or the client leaves).
pub struct Plan {
    pub ttft: Duration,
    pub itl: Duration,
    pub output_tokens: u64,
    pub slot: Option<Slot>,
    /// Where the simulator writes down when it actually sent the first token (its true TTFT).
    pub ttft_log: Option<TtftLog>,
}

/// `GET /sim/stats`: the simulator's own TTFT of the replies since the last reset, read by `redline
/// calibrate` (which deserialises this same struct) as the truth to compare the client with.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SimStats {
    pub count: u64,
    pub ttft_p50_s: Option<f64>,
    pub ttft_p99_s: Option<f64>,
}

/// The simulator's own TTFT of each reply, seconds from receiving the request to handing the first
/// token to the connection: the ground truth `redline calibrate` compares the client's figures with.
#[derive(Clone, Default)]
pub struct TtftLog(Arc<Mutex<Vec<f64>>>);

/// Entries kept before the oldest half is dropped, to bound memory on a long run.
const TTFT_LOG_MAX: usize = 1 << 20;

impl TtftLog {
    pub fn record(&self, seconds: f64) {
        if let Ok(mut v) = self.0.lock() {
            if v.len() >= TTFT_LOG_MAX {
                v.drain(..TTFT_LOG_MAX / 2);
            }
            v.push(seconds);
        }
    }

    /// The replies' TTFT since the last reset.
    pub fn stats(&self, reset: bool) -> SimStats {
        let mut values = match self.0.lock() {
            Ok(mut v) if reset => std::mem::take(&mut *v),
            Ok(v) => v.clone(),
            Err(_) => Vec::new(),
        };
        let n = values.len();
        let p = select_percentiles(&mut values, &[50.0, 99.0]);
        SimStats {
            count: n as u64,
            ttft_p50_s: p[0],
            ttft_p99_s: p[1],
        }
    }
}

pub trait ResponseModel: Send + Sync + 'static {
    fn admit(&self, req: &SimRequest) -> Admission;
    /// `/metrics` in Prometheus text format.
    fn metrics(&self, model: &str) -> String;
    /// `/sim/stats`: the simulator's own view of its replies (reset after reading when asked);
    /// `None` where the model keeps none.
    fn stats(&self, _reset: bool) -> Option<SimStats> {
        None
    }
}

/// Held by a response in flight; frees its place when dropped.
pub struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Debug, Clone)]
pub struct FixedLatencyConfig {
    pub ttft: Duration,
    pub itl: Duration,
    /// Fixed reply length; `None` = the request's max_tokens.
    pub output_tokens: Option<u64>,
    /// Fraction of requests answered at once with `failure_status`.
    pub failure_rate: f64,
    pub failure_status: u16,
    /// Requests served at once; more are answered 503 at once.
    pub max_inflight: Option<usize>,
    pub seed: u64,
}

pub struct FixedLatency {
    cfg: FixedLatencyConfig,
    rng: Mutex<StdRng>,
    inflight: Arc<AtomicUsize>,
    ttft_log: TtftLog,
}

impl FixedLatency {
    pub fn new(cfg: FixedLatencyConfig) -> Self {
        FixedLatency {
            rng: Mutex::new(StdRng::seed_from_u64(cfg.seed)),
            inflight: Arc::new(AtomicUsize::new(0)),
            ttft_log: TtftLog::default(),
            cfg,
        }
    }
}

impl ResponseModel for FixedLatency {
    fn stats(&self, reset: bool) -> Option<SimStats> {
        Some(self.ttft_log.stats(reset))
    }

    fn metrics(&self, model: &str) -> String {
        let m = Metrics {
            running: self.inflight.load(Ordering::Acquire),
            ..Default::default()
        };
        render(&m, model)
    }

    fn admit(&self, req: &SimRequest) -> Admission {
        if self.cfg.failure_rate > 0.0 {
            let roll: f64 = self.rng.lock().map(|mut r| r.random()).unwrap_or(1.0);
            if roll < self.cfg.failure_rate {
                return Admission::Reject {
                    status: self.cfg.failure_status,
                    message: "simulated failure".into(),
                };
            }
        }
        let now = self.inflight.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(self.inflight.clone());
        if self.cfg.max_inflight.is_some_and(|max| now >= max) {
            drop(slot);
            return Admission::Reject {
                status: 503,
                message: "server overloaded: all slots are busy".into(),
            };
        }
        Admission::Serve(Plan {
            ttft: self.cfg.ttft,
            itl: self.cfg.itl,
            output_tokens: self.cfg.output_tokens.unwrap_or(req.max_tokens).max(1),
            slot: Some(slot),
            ttft_log: Some(self.ttft_log.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> FixedLatencyConfig {
        FixedLatencyConfig {
            ttft: Duration::from_millis(50),
            itl: Duration::from_millis(10),
            output_tokens: None,
            failure_rate: 0.0,
            failure_status: 503,
            max_inflight: Some(1),
            seed: 1,
        }
    }

    #[test]
    fn inflight_cap_rejects_until_slot_is_freed() {
        let m = FixedLatency::new(cfg());
        let req = SimRequest {
            prompt_tokens: 5,
            max_tokens: 7,
            ignore_eos: false,
            key: None,
        };
        let Admission::Serve(plan) = m.admit(&req) else {
            panic!("first is served")
        };
        assert_eq!(plan.output_tokens, 7);
        assert!(matches!(
            m.admit(&req),
            Admission::Reject { status: 503, .. }
        ));
        drop(plan);
        assert!(matches!(m.admit(&req), Admission::Serve(_)));
    }

    #[test]
    fn failure_rate_one_always_fails() {
        let m = FixedLatency::new(FixedLatencyConfig {
            failure_rate: 1.0,
            failure_status: 429,
            ..cfg()
        });
        let req = SimRequest {
            prompt_tokens: 5,
            max_tokens: 7,
            ignore_eos: false,
            key: None,
        };
        assert!(matches!(
            m.admit(&req),
            Admission::Reject { status: 429, .. }
        ));
    }
}
