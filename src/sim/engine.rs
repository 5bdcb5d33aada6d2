//! A continuous-batching serving engine (vLLM-like, one GPU) as a pure state machine in virtual time.
//!
//! Requests pass an API-server delay (`request_overhead_s`), then wait in a FIFO queue until a batch
//! slot (`max_num_seqs`) and KV-cache room (prompt + max_tokens reserved) are free. The engine runs
//! steps back to back while it has work: each step decodes one token for every running sequence
//! that finished prefill and spends the rest of a per-step token budget (`max_batched_tokens`) on
//! prompt chunks (chunked prefill, so a long prompt never stalls decoding). A step lasts
//! `base + per_seq x decoding + per_ctx_token x their context + prefill_tokens / prefill_rate`,
//! times seeded jitter. A sequence's first token comes out of the step that finishes its prompt.
//! Backpressure: a request arriving to a full queue (`max_waiting`) is rejected at once; one waiting
//! longer than `queue_timeout_s` is rejected then. With `prefix_caching`, a request whose leading
//! prompt blocks are in the prefix cache (`prefix.rs`) starts its prefill after them. Nothing here
//! reads a clock: `driver.rs` steps it with the real one, the tests with virtual time.

use super::prefix::{PrefixCache, PromptKey};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::collections::VecDeque;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EngineConfig {
    pub max_num_seqs: usize,
    pub kv_cache_tokens: u64,
    pub max_batched_tokens: u64,
    pub prefill_tokens_per_s: f64,
    pub step_base_s: f64,
    pub step_per_seq_s: f64,
    pub step_per_ctx_token_s: f64,
    pub request_overhead_s: f64,
    pub max_waiting: Option<usize>,
    pub queue_timeout_s: Option<f64>,
    pub reject_status: u16,
    pub queue_timeout_status: u16,
    /// Mean reply length when the request does not set `ignore_eos`: uniform in [mean/2, 3 mean/2],
    /// capped by max_tokens.
    pub mean_output_tokens: f64,
    /// Each step's duration is multiplied by a uniform factor in [1 - jitter, 1 + jitter].
    pub jitter: f64,
    pub seed: u64,
    /// Reuse cached prompt blocks (vLLM's automatic prefix caching; `prefix.rs`).
    #[serde(default)]
    pub prefix_caching: bool,
}

/// What happened to a request, at time `t` (seconds of virtual time).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: u64,
    pub t: f64,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// Output token number `index` (0-based) is ready.
    Token {
        index: u64,
    },
    /// The last token was produced (sent right after it).
    Finished {
        prompt_tokens: u64,
        completion_tokens: u64,
        /// Of the prompt's, those the prefix cache served (None without `--prefix-caching`).
        cached_tokens: Option<u64>,
    },
    Rejected {
        status: u16,
        reason: &'static str,
    },
}

#[derive(Debug, Clone)]
struct Seq {
    id: u64,
    prompt: u64,
    max_tokens: u64,
    target: u64,
    prefilled: u64,
    /// Prompt tokens the prefix cache served at admission (None without `--prefix-caching`).
    cached: Option<u64>,
    generated: u64,
    arrived: f64,
    queued_at: f64,
    key: Option<Arc<PromptKey>>,
}

impl Seq {
    fn reserve(&self) -> u64 {
        self.prompt + self.max_tokens
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    pub prompt_tokens: u64,
    pub generation_tokens: u64,
    pub finished: u64,
    pub rejected: u64,
    /// Engine-side time to first token (arrival to first token) of every request, seconds.
    pub ttft: Vec<f64>,
    /// Prompt tokens looked up in the prefix cache, and those found (vLLM counts tokens).
    pub prefix_queries: u64,
    pub prefix_hits: u64,
}

pub struct Engine {
    cfg: EngineConfig,
    rng: StdRng,
    arriving: VecDeque<(f64, Seq)>,
    waiting: VecDeque<Seq>,
    running: Vec<Seq>,
    kv_used: u64,
    cache: PrefixCache,
    /// End time of the step in progress, and for each running sequence in it: the prompt tokens it
    /// prefills (0 = it decodes one token).
    step: Option<(f64, Vec<(u64, u64)>)>,
    pub counters: Counters,
}

impl Engine {
    pub fn new(cfg: EngineConfig) -> Self {
        Engine {
            rng: StdRng::seed_from_u64(cfg.seed),
            cfg,
            arriving: VecDeque::new(),
            waiting: VecDeque::new(),
            running: Vec::new(),
            kv_used: 0,
            cache: PrefixCache::default(),
            step: None,
            counters: Counters::default(),
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    pub fn running(&self) -> usize {
        self.running.len()
    }

    pub fn waiting(&self) -> usize {
        self.waiting.len() + self.arriving.len()
    }

    /// Tokens held by the prefix cache.
    pub fn cache_tokens(&self) -> u64 {
        self.cache.tokens()
    }

    pub fn kv_usage(&self) -> f64 {
        self.kv_used as f64 / self.cfg.kv_cache_tokens.max(1) as f64
    }

    /// A request arrives at `now`. Its reply length is drawn here (seeded).
    pub fn submit(&mut self, now: f64, id: u64, prompt: u64, max_tokens: u64, ignore_eos: bool) {
        self.submit_keyed(now, id, prompt, max_tokens, ignore_eos, None);
    }

    /// [`Engine::submit`] with the prompt's blocks, for the prefix cache.
    pub fn submit_keyed(
        &mut self,
        now: f64,
        id: u64,
        prompt: u64,
        max_tokens: u64,
        ignore_eos: bool,
        key: Option<Arc<PromptKey>>,
    ) {
        let max_tokens = max_tokens.max(1);
        let target = if ignore_eos {
            max_tokens
        } else {
            let m = self.cfg.mean_output_tokens.max(1.0);
            let drawn = self.rng.random_range(0.5 * m..=1.5 * m).round() as u64;
            drawn.clamp(1, max_tokens)
        };
        let seq = Seq {
            id,
            prompt: prompt.max(1),
            max_tokens,
            target,
            prefilled: 0,
            cached: None,
            generated: 0,
            arrived: now,
            queued_at: now,
            key: key.filter(|_| self.cfg.prefix_caching),
        };
        self.arriving
            .push_back((now + self.cfg.request_overhead_s, seq));
    }

    /// The client went away: forget the request and free what it held.
    pub fn cancel(&mut self, id: u64) {
        self.arriving.retain(|(_, s)| s.id != id);
        self.waiting.retain(|s| s.id != id);
        if let Some(i) = self.running.iter().position(|s| s.id == id) {
            let s = self.running.remove(i);
            self.kv_used -= s.reserve();
        }
    }

    /// When something will next happen, if anything is pending.
    pub fn next_event_time(&self) -> Option<f64> {
        let step = self.step.as_ref().map(|(t, _)| *t);
        let arrival = self.arriving.front().map(|(t, _)| *t);
        let timeout = self
            .cfg
            .queue_timeout_s
            .and_then(|q| self.waiting.front().map(|s| s.queued_at + q));
        [step, arrival, timeout]
            .into_iter()
            .flatten()
            .reduce(f64::min)
    }

    /// Runs everything that happens up to and including `until`, appending the events.
    pub fn advance(&mut self, until: f64, out: &mut Vec<Event>) {
        while let Some(t) = self.next_event_time().filter(|&t| t <= until) {
            self.enqueue_arrivals(t, out);
            self.expire_waiting(t, out);
            if self.step.as_ref().is_some_and(|(end, _)| *end <= t) {
                self.finish_step(out);
            }
            if self.step.is_none() {
                self.start_step(t);
            }
        }
    }

    fn reject(&mut self, out: &mut Vec<Event>, id: u64, t: f64, status: u16, reason: &'static str) {
        self.counters.rejected += 1;
        out.push(Event {
            id,
            t,
            kind: EventKind::Rejected { status, reason },
        });
    }

    fn enqueue_arrivals(&mut self, t: f64, out: &mut Vec<Event>) {
        while self.arriving.front().is_some_and(|(ready, _)| *ready <= t) {
            let (ready, mut seq) = self.arriving.pop_front().expect("checked front");
            if seq.reserve() > self.cfg.kv_cache_tokens {
                self.reject(
                    out,
                    seq.id,
                    ready,
                    400,
                    "prompt plus max_tokens exceeds the KV cache",
                );
            } else if self
                .cfg
                .max_waiting
                .is_some_and(|m| self.waiting.len() >= m)
            {
                let status = self.cfg.reject_status;
                self.reject(
                    out,
                    seq.id,
                    ready,
                    status,
                    "server overloaded: request queue is full",
                );
            } else {
                seq.queued_at = ready;
                self.waiting.push_back(seq);
            }
        }
    }

    fn expire_waiting(&mut self, t: f64, out: &mut Vec<Event>) {
        let Some(limit) = self.cfg.queue_timeout_s else {
            return;
        };
        while self
            .waiting
            .front()
            .is_some_and(|s| s.queued_at + limit <= t)
        {
            let s = self.waiting.pop_front().expect("checked front");
            let status = self.cfg.queue_timeout_status;
            self.reject(
                out,
                s.id,
                s.queued_at + limit,
                status,
                "request timed out in the queue",
            );
        }
    }

    fn admit(&mut self) {
        while self.running.len() < self.cfg.max_num_seqs {
            let Some(front) = self.waiting.front() else {
                break;
            };
            if self.kv_used + front.reserve() > self.cfg.kv_cache_tokens {
                break;
            }
            let mut s = self.waiting.pop_front().expect("checked front");
            self.kv_used += s.reserve();
            if let Some(key) = &s.key {
                // The last prompt token is always computed: it yields the first output token.
                let hit = self.cache.lookup(&key.blocks).min(s.prompt - 1);
                (s.prefilled, s.cached) = (hit, Some(hit));
                self.counters.prefix_queries += s.prompt;
                self.counters.prefix_hits += hit;
            }
            self.running.push(s);
        }
        self.fit_cache();
    }

    /// The prefix cache keeps only the KV memory that running requests do not hold.
    fn fit_cache(&mut self) {
        self.cache
            .shrink_to(self.cfg.kv_cache_tokens.saturating_sub(self.kv_used));
    }

    fn start_step(&mut self, t: f64) {
        self.admit();
        if self.running.is_empty() {
            return;
        }
        let mut budget = self.cfg.max_batched_tokens;
        let (mut decoding, mut ctx, mut prefill) = (0u64, 0u64, 0u64);
        let mut plan = Vec::with_capacity(self.running.len());
        for s in self.running.iter().filter(|s| s.prefilled == s.prompt) {
            if budget == 0 {
                break;
            }
            budget -= 1;
            decoding += 1;
            ctx += s.prompt + s.generated;
            plan.push((s.id, 0));
        }
        for s in self.running.iter().filter(|s| s.prefilled < s.prompt) {
            let chunk = (s.prompt - s.prefilled).min(budget);
            if chunk == 0 {
                break;
            }
            budget -= chunk;
            prefill += chunk;
            plan.push((s.id, chunk));
        }
        let c = &self.cfg;
        let busy = c.step_base_s
            + c.step_per_seq_s * decoding as f64
            + c.step_per_ctx_token_s * ctx as f64
            + prefill as f64 / c.prefill_tokens_per_s;
        let factor = if c.jitter > 0.0 {
            1.0 + self.rng.random_range(-c.jitter..=c.jitter)
        } else {
            1.0
        };
        self.step = Some((t + busy * factor, plan));
    }

    fn finish_step(&mut self, out: &mut Vec<Event>) {
        let Some((t, plan)) = self.step.take() else {
            return;
        };
        self.finish_plan(t, plan, out);
        self.fit_cache();
    }

    fn finish_plan(&mut self, t: f64, plan: Vec<(u64, u64)>, out: &mut Vec<Event>) {
        for (id, chunk) in plan {
            // A sequence cancelled during the step is simply gone.
            let Some(i) = self.running.iter().position(|s| s.id == id) else {
                continue;
            };
            let s = &mut self.running[i];
            if chunk > 0 {
                s.prefilled += chunk;
                self.counters.prompt_tokens += chunk;
                if s.prefilled < s.prompt {
                    continue;
                }
                self.counters.ttft.push(t - s.arrived);
                if let Some(key) = &s.key {
                    self.cache.insert(&key.blocks);
                }
            }
            out.push(Event {
                id,
                t,
                kind: EventKind::Token { index: s.generated },
            });
            s.generated += 1;
            self.counters.generation_tokens += 1;
            if s.generated >= s.target {
                let s = self.running.remove(i);
                self.kv_used -= s.reserve();
                if let Some(key) = &s.key {
                    self.cache.insert(&key.with_reply(s.generated));
                }
                self.counters.finished += 1;
                out.push(Event {
                    id,
                    t,
                    kind: EventKind::Finished {
                        prompt_tokens: s.prompt,
                        completion_tokens: s.generated,
                        cached_tokens: s.cached,
                    },
                });
            }
        }
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
