//! Runs the pure `engine::Engine` on the real clock and connects it to HTTP handlers.
//!
//! One task owns the engine. Handlers submit requests over a channel (through [`EngineHandle`], the
//! engine's `ResponseModel`) and receive their tokens on a channel of their own; the task sleeps
//! until the engine's next event, advances it to the current time, and forwards the events. A
//! client that goes away cancels its request (its `Ticket` is dropped), freeing the slot. The
//! task also keeps the counters behind `/metrics`.

use super::engine::{Engine, EngineConfig, Event, EventKind};
use super::metrics::{render, Metrics, TTFT_BUCKETS};
use super::model::{Admission, Cmd, ReplyEvent, ResponseModel, SimRequest, Ticket};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The engine as a `ResponseModel`: cheap to call from any handler.
pub struct EngineHandle {
    tx: mpsc::UnboundedSender<Cmd>,
    next_id: AtomicU64,
    metrics: Arc<Mutex<Metrics>>,
}

impl EngineHandle {
    /// Starts the engine task on the current tokio runtime.
    pub fn start(cfg: EngineConfig) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let metrics = Arc::new(Mutex::new(Metrics::default()));
        tokio::spawn(run(Engine::new(cfg), rx, metrics.clone()));
        EngineHandle {
            tx,
            next_id: AtomicU64::new(0),
            metrics,
        }
    }
}

impl ResponseModel for EngineHandle {
    fn admit(&self, req: &SimRequest) -> Admission {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, rx) = mpsc::unbounded_channel();
        let _ = self.tx.send(Cmd::Submit {
            id,
            req: req.clone(),
            reply,
        });
        Admission::Queued(Ticket::new(id, rx, self.tx.clone()))
    }

    fn metrics(&self, model: &str) -> String {
        let m = self.metrics.lock().map(|m| m.clone()).unwrap_or_default();
        render(&m, model)
    }
}

async fn run(
    mut engine: Engine,
    mut rx: mpsc::UnboundedReceiver<Cmd>,
    metrics: Arc<Mutex<Metrics>>,
) {
    let epoch = Instant::now();
    let now = || epoch.elapsed().as_secs_f64();
    let mut clients: HashMap<u64, mpsc::UnboundedSender<ReplyEvent>> = HashMap::new();
    let mut events = Vec::new();
    let mut m = Metrics::default();
    loop {
        let wake = engine
            .next_event_time()
            .map(|t| epoch + Duration::from_secs_f64(t.max(0.0)));
        tokio::select! {
            cmd = rx.recv() => {
                let Some(cmd) = cmd else { break };
                engine.advance(now(), &mut events);
                match cmd {
                    Cmd::Submit { id, req, reply } => {
                        clients.insert(id, reply);
                        engine.submit_keyed(
                            now(),
                            id,
                            req.prompt_tokens,
                            req.max_tokens,
                            req.ignore_eos,
                            req.key,
                        );
                    }
                    Cmd::Cancel(id) => {
                        if clients.remove(&id).is_some() {
                            engine.cancel(id);
                        }
                    }
                }
            }
            _ = tokio::time::sleep_until(wake.unwrap_or(epoch)), if wake.is_some() => {
                engine.advance(now(), &mut events);
            }
        }
        dispatch(&mut events, &mut clients);
        record(&mut engine, &mut m);
        if let Ok(mut shared) = metrics.lock() {
            *shared = m.clone();
        }
    }
}

fn dispatch(
    events: &mut Vec<Event>,
    clients: &mut HashMap<u64, mpsc::UnboundedSender<ReplyEvent>>,
) {
    for e in events.drain(..) {
        let msg = match e.kind {
            EventKind::Token { .. } => ReplyEvent::Token,
            EventKind::Finished {
                prompt_tokens,
                completion_tokens,
                cached_tokens,
            } => ReplyEvent::Done {
                prompt_tokens,
                completion_tokens,
                cached_tokens,
            },
            EventKind::Rejected { status, reason } => ReplyEvent::Rejected {
                status,
                message: reason.to_string(),
            },
        };
        let last = !matches!(msg, ReplyEvent::Token);
        if let Some(tx) = clients.get(&e.id) {
            let _ = tx.send(msg);
        }
        if last {
            clients.remove(&e.id);
        }
    }
}

fn record(engine: &mut Engine, m: &mut Metrics) {
    m.running = engine.running();
    m.waiting = engine.waiting();
    m.kv_usage = engine.kv_usage();
    let c = &mut engine.counters;
    m.prompt_tokens = c.prompt_tokens;
    m.generation_tokens = c.generation_tokens;
    m.success = c.finished;
    m.rejected = c.rejected;
    m.prefix_queries = c.prefix_queries;
    m.prefix_hits = c.prefix_hits;
    for t in c.ttft.drain(..) {
        m.ttft_count += 1;
        m.ttft_sum += t;
        for (i, le) in TTFT_BUCKETS.iter().enumerate() {
            if t <= *le {
                m.ttft_buckets[i] += 1;
            }
        }
    }
}
