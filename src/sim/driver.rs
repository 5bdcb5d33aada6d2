//! Runs the pure `engine::Engine` on the real clock and connects it to HTTP handlers.
//!
//! One task owns the engine. Handlers submit requests over a channel (through [`EngineHandle`], the
//! engine's `ResponseModel`) and receive their tokens on a channel of their own; the task sleeps
//! until the engine's next event, advances it to the current time, and forwards the events. A
//! client that goes away cancels its request (its `Ticket` is dropped), freeing the slot. The
//! task also keeps the counters behind `/metrics`.

use super::engine::{Engine, EngineConfig, Event, EventKind};
use super::model::{Admission, ReplyEvent, ResponseModel, SimRequest, Ticket};
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// vLLM's TTFT histogram buckets, seconds.
const TTFT_BUCKETS: [f64; 17] = [
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0,
];

pub enum Cmd {
    Submit {
        id: u64,
        req: SimRequest,
        reply: mpsc::UnboundedSender<ReplyEvent>,
    },
    Cancel(u64),
}

/// What `/metrics` shows, updated by the engine task.
#[derive(Debug, Default, Clone)]
pub struct Metrics {
    pub running: usize,
    pub waiting: usize,
    pub kv_usage: f64,
    pub prompt_tokens: u64,
    pub generation_tokens: u64,
    pub success: u64,
    pub rejected: u64,
    pub ttft_buckets: [u64; TTFT_BUCKETS.len()],
    pub ttft_count: u64,
    pub ttft_sum: f64,
}

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
                        engine.submit(now(), id, req.prompt_tokens, req.max_tokens, req.ignore_eos);
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
            } => ReplyEvent::Done {
                prompt_tokens,
                completion_tokens,
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

/// Prometheus text format with vLLM's metric names.
pub fn render(m: &Metrics, model: &str) -> String {
    let l = format!("model_name=\"{}\"", model.replace(['"', '\\', '\n'], "_"));
    let mut s = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: String| {
        let _ = writeln!(
            s,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{{{l}}} {value}"
        );
    };
    let gauges_and_counters = [
        (
            "vllm:num_requests_running",
            "gauge",
            "Number of requests in model execution batches.",
            m.running.to_string(),
        ),
        (
            "vllm:num_requests_waiting",
            "gauge",
            "Number of requests waiting to be processed.",
            m.waiting.to_string(),
        ),
        (
            "vllm:kv_cache_usage_perc",
            "gauge",
            "KV-cache usage. 1 means 100 percent usage.",
            m.kv_usage.to_string(),
        ),
        (
            "vllm:gpu_cache_usage_perc",
            "gauge",
            "GPU KV-cache usage. 1 means 100 percent usage.",
            m.kv_usage.to_string(),
        ),
        (
            "vllm:prompt_tokens_total",
            "counter",
            "Number of prefill tokens processed.",
            m.prompt_tokens.to_string(),
        ),
        (
            "vllm:generation_tokens_total",
            "counter",
            "Number of generation tokens processed.",
            m.generation_tokens.to_string(),
        ),
        (
            "vllm:request_success_total",
            "counter",
            "Count of successfully processed requests.",
            m.success.to_string(),
        ),
        (
            "redline_sim:request_rejected_total",
            "counter",
            "Requests rejected by the queue limit or queue timeout.",
            m.rejected.to_string(),
        ),
    ];
    for (name, kind, help, value) in gauges_and_counters {
        metric(name, kind, help, value);
    }
    let name = "vllm:time_to_first_token_seconds";
    let _ = writeln!(
        s,
        "# HELP {name} Histogram of time to first token in seconds.\n# TYPE {name} histogram"
    );
    for (le, n) in TTFT_BUCKETS.iter().zip(m.ttft_buckets) {
        let _ = writeln!(s, "{name}_bucket{{{l},le=\"{le}\"}} {n}");
    }
    let _ = writeln!(s, "{name}_bucket{{{l},le=\"+Inf\"}} {}", m.ttft_count);
    let _ = writeln!(
        s,
        "{name}_sum{{{l}}} {}\n{name}_count{{{l}}} {}",
        m.ttft_sum, m.ttft_count
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_use_vllm_names_and_cumulative_buckets() {
        let mut m = Metrics {
            running: 3,
            waiting: 2,
            ..Default::default()
        };
        m.ttft_count = 1;
        m.ttft_sum = 0.3;
        for (i, le) in TTFT_BUCKETS.iter().enumerate() {
            m.ttft_buckets[i] = u64::from(0.3 <= *le);
        }
        let text = render(&m, "llama");
        assert!(text.contains("vllm:num_requests_running{model_name=\"llama\"} 3"));
        assert!(text.contains("vllm:num_requests_waiting{model_name=\"llama\"} 2"));
        assert!(text.contains(
            "vllm:time_to_first_token_seconds_bucket{model_name=\"llama\",le=\"0.25\"} 0"
        ));
        assert!(text.contains(
            "vllm:time_to_first_token_seconds_bucket{model_name=\"llama\",le=\"0.5\"} 1"
        ));
        assert!(text.contains("vllm:time_to_first_token_seconds_count{model_name=\"llama\"} 1"));
    }
}
