//! Virtual-time tests of the engine: thousands of simulated seconds run in milliseconds.

use super::*;

/// Decode-bound: 8 slots, a fixed 10 ms step, 100-token replies, prefill effectively free.
/// Capacity = slots / (tokens x step) = 8 / (100 x 0.01 s) = 8 requests/s.
fn decode_bound() -> EngineConfig {
    EngineConfig {
        max_num_seqs: 8,
        kv_cache_tokens: 1_000_000,
        max_batched_tokens: 4096,
        prefill_tokens_per_s: 1e12,
        step_base_s: 0.010,
        step_per_seq_s: 0.0,
        step_per_ctx_token_s: 0.0,
        request_overhead_s: 0.0,
        max_waiting: None,
        queue_timeout_s: None,
        reject_status: 503,
        queue_timeout_status: 503,
        mean_output_tokens: 100.0,
        jitter: 0.0,
        seed: 1,
        prefix_caching: false,
    }
}

/// Constant arrivals at `qps` for `secs`, every request 100 prompt tokens, max_tokens 100.
fn drive(cfg: EngineConfig, qps: f64, secs: f64, ignore_eos: bool) -> Vec<Event> {
    let mut e = Engine::new(cfg);
    let mut out = Vec::new();
    let n = (qps * secs) as u64;
    for i in 0..n {
        let t = i as f64 / qps;
        e.advance(t, &mut out);
        e.submit(t, i, 100, 100, ignore_eos);
    }
    e.advance(f64::INFINITY, &mut out);
    out
}

fn finished_between(events: &[Event], from: f64, to: f64) -> usize {
    events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Finished { .. }) && e.t >= from && e.t < to)
        .count()
}

fn rejected(events: &[Event]) -> Vec<u16> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Rejected { status, .. } => Some(status),
            _ => None,
        })
        .collect()
}

#[test]
fn throughput_at_overload_matches_computed_capacity() {
    let events = drive(decode_bound(), 16.0, 120.0, true);
    // Steady state, well after the batch filled: 8/s expected.
    let rate = finished_between(&events, 20.0, 120.0) as f64 / 100.0;
    assert!((rate - 8.0).abs() <= 0.4, "completions/s {rate}");
}

#[test]
fn below_capacity_nothing_is_rejected_and_all_finish() {
    let cfg = EngineConfig {
        max_waiting: Some(4),
        queue_timeout_s: Some(1.0),
        ..decode_bound()
    };
    let events = drive(cfg, 4.0, 60.0, true);
    assert!(rejected(&events).is_empty());
    assert_eq!(finished_between(&events, 0.0, f64::INFINITY), 240);
}

#[test]
fn a_full_queue_rejects_with_the_configured_status() {
    let cfg = EngineConfig {
        max_waiting: Some(4),
        reject_status: 429,
        ..decode_bound()
    };
    let events = drive(cfg, 16.0, 30.0, true);
    let r = rejected(&events);
    assert!(!r.is_empty() && r.iter().all(|&s| s == 429));
    // Everything not rejected finishes.
    assert_eq!(r.len() + finished_between(&events, 0.0, f64::INFINITY), 480);
}

#[test]
fn waiting_too_long_is_answered_with_the_timeout_status() {
    let cfg = EngineConfig {
        queue_timeout_s: Some(0.5),
        queue_timeout_status: 504,
        ..decode_bound()
    };
    let events = drive(cfg, 16.0, 30.0, true);
    let r = rejected(&events);
    assert!(!r.is_empty() && r.iter().all(|&s| s == 504));
}

#[test]
fn without_limits_the_queue_grows_and_nothing_is_rejected() {
    let events = drive(decode_bound(), 16.0, 30.0, true);
    assert!(rejected(&events).is_empty());
    let first_token = |id: u64| {
        events
            .iter()
            .find(|e| e.id == id && e.kind == EventKind::Token { index: 0 })
            .unwrap()
            .t
            - id as f64 / 16.0
    };
    // Time to first token climbs as the queue grows: about 1 s waited per 2 s of overload.
    assert!(first_token(479) > first_token(100) + 5.0);
}

#[test]
fn ttft_is_overhead_plus_the_prefill_step() {
    let cfg = EngineConfig {
        prefill_tokens_per_s: 10_000.0,
        request_overhead_s: 0.05,
        ..decode_bound()
    };
    let mut e = Engine::new(cfg);
    let mut out = Vec::new();
    e.submit(0.0, 1, 1000, 3, true);
    e.advance(f64::INFINITY, &mut out);
    // 0.05 overhead + one step of 0.010 base + 1000 / 10,000 s of prefill.
    assert!((out[0].t - 0.16).abs() < 1e-9, "{:?}", out[0]);
    assert_eq!(out.len(), 4, "3 tokens and Finished");
    assert_eq!(
        out[3].kind,
        EventKind::Finished {
            prompt_tokens: 1000,
            completion_tokens: 3,
            cached_tokens: None,
        }
    );
    assert!((e.counters.ttft[0] - 0.16).abs() < 1e-9);
}

#[test]
fn chunked_prefill_keeps_decoding_going_during_a_long_prompt() {
    let cfg = EngineConfig {
        prefill_tokens_per_s: 10_000.0,
        max_batched_tokens: 512,
        ..decode_bound()
    };
    let mut e = Engine::new(cfg);
    let mut out = Vec::new();
    e.submit(0.0, 1, 10, 200, true);
    e.advance(0.5, &mut out);
    e.submit(0.5, 2, 20_000, 5, true); // 2 s of prefill in total
    e.advance(f64::INFINITY, &mut out);
    let times: Vec<f64> = out
        .iter()
        .filter(|x| x.id == 1 && matches!(x.kind, EventKind::Token { .. }))
        .map(|x| x.t)
        .collect();
    let worst = times.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    // A step holds at most 511 prompt tokens: 0.010 + 0.0511 s.
    assert!(worst < 0.0612, "longest gap {worst}");
}

#[test]
fn kv_cache_limits_admission() {
    // Room for two requests of 100 + 100 tokens.
    let cfg = EngineConfig {
        kv_cache_tokens: 400,
        ..decode_bound()
    };
    let mut e = Engine::new(cfg);
    let mut out = Vec::new();
    for id in 0..3 {
        e.submit(0.0, id, 100, 100, true);
    }
    e.advance(0.0, &mut out);
    assert_eq!((e.running(), e.waiting()), (2, 1));
    assert!((e.kv_usage() - 1.0).abs() < 1e-9);
    e.cancel(0);
    e.advance(0.02, &mut out);
    assert_eq!((e.running(), e.waiting()), (2, 0));
}

#[test]
fn reply_lengths_are_seeded_and_bounded() {
    let lengths = |seed| {
        let cfg = EngineConfig {
            seed,
            jitter: 0.2,
            ..decode_bound()
        };
        let mut e = Engine::new(cfg);
        let mut out = Vec::new();
        for id in 0..50 {
            e.submit(id as f64, id, 10, 120, false);
        }
        e.advance(f64::INFINITY, &mut out);
        out.iter()
            .filter_map(|x| match x.kind {
                EventKind::Finished {
                    completion_tokens, ..
                } => Some((completion_tokens, x.t)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let a = lengths(7);
    assert_eq!(a, lengths(7), "same seed, same lengths and timings");
    assert_ne!(a, lengths(8));
    assert!(a.iter().all(|(n, _)| (50..=120).contains(n)), "{a:?}");
}

/// The first-token time of request `id`.
fn first_token(events: &[Event], id: u64) -> f64 {
    events
        .iter()
        .find(|e| e.id == id && e.kind == EventKind::Token { index: 0 })
        .map(|e| e.t)
        .unwrap()
}

#[test]
fn a_cached_prefix_skips_its_prefill_and_a_reply_joins_the_cache() {
    use crate::sim::prefix::{PromptKey, BLOCK_TOKENS};
    // 2,000-token prompts prefill in 0.2 s when nothing is cached.
    let cfg = |caching| EngineConfig {
        prefill_tokens_per_s: 10_000.0,
        prefix_caching: caching,
        ..decode_bound()
    };
    let blocks: Vec<u64> = (0..2000 / BLOCK_TOKENS).collect();
    // The blocks of the conversation once the reply is part of it (its full blocks).
    let key = |b: Vec<u64>| {
        Arc::new(PromptKey::new(b, |n| {
            (0..2000 / BLOCK_TOKENS + n / BLOCK_TOKENS).collect()
        }))
    };
    let run = |caching: bool| {
        let mut e = Engine::new(cfg(caching));
        let mut out = Vec::new();
        e.submit_keyed(0.0, 1, 2000, 100, true, Some(key(blocks.clone())));
        // A second turn at 5 s: the first prompt, its 100-token reply, 192 new tokens.
        e.advance(5.0, &mut out);
        let next: Vec<u64> = (0..2300 / BLOCK_TOKENS).collect();
        e.submit_keyed(5.0, 2, 2300, 100, true, Some(key(next)));
        e.advance(f64::INFINITY, &mut out);
        (
            first_token(&out, 1),
            first_token(&out, 2) - 5.0,
            e.counters.clone(),
        )
    };
    let (cold, second, counters) = run(true);
    assert!((cold - 0.21).abs() < 1e-9, "{cold}");
    // 2,096 cached tokens (2,000 + the reply's 6 full blocks); 204 left to prefill.
    assert!(
        (second - (0.01 + 204.0 / 10_000.0)).abs() < 1e-9,
        "{second}"
    );
    assert_eq!(
        (counters.prefix_queries, counters.prefix_hits),
        (4300, 2096)
    );
    let (_, uncached, counters) = run(false);
    assert!((uncached - 0.24).abs() < 1e-9, "{uncached}");
    assert_eq!(counters.prefix_hits, 0);
}

#[test]
fn the_prefix_cache_gives_memory_back_to_running_requests() {
    use crate::sim::prefix::{PromptKey, BLOCK_TOKENS};
    let cfg = EngineConfig {
        kv_cache_tokens: 4200,
        prefix_caching: true,
        ..decode_bound()
    };
    let mut e = Engine::new(cfg);
    let mut out = Vec::new();
    let key = |from: u64, n: u64| {
        Arc::new(PromptKey::new(
            (from..from + n / BLOCK_TOKENS).collect(),
            |_| Vec::new(),
        ))
    };
    e.submit_keyed(0.0, 1, 2000, 100, true, Some(key(0, 2000)));
    e.advance(5.0, &mut out);
    assert_eq!(e.cache_tokens(), 2000);
    // A 3,000-token prompt reserves 3,100 of the 4,200 tokens: the cache keeps what is left.
    e.submit_keyed(5.0, 2, 3000, 100, true, Some(key(1000, 3000)));
    e.advance(5.001, &mut out);
    assert_eq!(e.running(), 1);
    assert_eq!(e.cache_tokens(), 1100 / BLOCK_TOKENS * BLOCK_TOKENS);
    e.advance(f64::INFINITY, &mut out);
    assert_eq!(e.counters.finished, 2);
}
