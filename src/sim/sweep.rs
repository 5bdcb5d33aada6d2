//! A redline level run through the engine in virtual time: the same constant arrivals
//! (`measure::schedule`), dataset cycling and metric definitions (the `RequestRecord` methods) as a
//! real run, computed in milliseconds. Used to calibrate the presets (docs/simulator.md) and by tests
//! that pin each preset inside its performance bands. (Not `redline calibrate`, which measures this
//! machine's client: that is `commands/calibrate.rs`.)

use super::engine::{Engine, EngineConfig, EventKind};
use super::prefix::message_tokens;
use crate::analyze::stats::{percentile, sorted};
use crate::cli::Arrival;
use crate::dataset::Conversation;
use crate::measure::record::{ErrorKind, RequestRecord};
use crate::measure::schedule;
use std::time::Duration;

/// One level's figures, as redline would report them (network time excluded).
#[derive(Debug, Clone, PartialEq)]
pub struct VirtualLevel {
    pub qps: f64,
    pub success_rate: f64,
    pub ttft_p50: f64,
    pub e2e_p50: f64,
    pub tokens_per_sec_p50: f64,
    pub output_tok_s: f64,
    pub completed_per_s: f64,
}

/// The prompt tokens of each conversation under the simulator's counting rule.
pub fn prompt_tokens(conversations: &[Conversation]) -> Vec<u64> {
    conversations
        .iter()
        .map(|c| c.messages.iter().map(|m| message_tokens(&m.content)).sum())
        .collect()
}

/// The records of one level of `duration_s` at `qps` on a fresh engine, drained: what redline
/// would record against it on an ideal network (every send on time).
pub fn records(
    cfg: &EngineConfig,
    prompts: &[u64],
    qps: f64,
    duration_s: f64,
    max_tokens: u64,
) -> Vec<RequestRecord> {
    arrivals(
        cfg,
        prompts,
        qps,
        duration_s,
        max_tokens,
        Arrival::Constant,
        0,
    )
}

/// [`records`] with `arrival`s drawn from `seed`.
pub fn arrivals(
    cfg: &EngineConfig,
    prompts: &[u64],
    qps: f64,
    duration_s: f64,
    max_tokens: u64,
    arrival: Arrival,
    seed: u64,
) -> Vec<RequestRecord> {
    let offsets = schedule::offsets(arrival, qps, Duration::from_secs_f64(duration_s), seed);
    let mut records: Vec<RequestRecord> = offsets
        .iter()
        .enumerate()
        .map(|(i, o)| RequestRecord::new(0, qps, i as u64, i % prompts.len(), o.as_secs_f64()))
        .collect();
    let mut engine = Engine::new(cfg.clone());
    let mut events = Vec::new();
    for r in &mut records {
        engine.advance(r.planned_s, &mut events);
        engine.submit(r.planned_s, r.index, prompts[r.sample], max_tokens, false);
        r.sent_s = Some(r.planned_s);
        // Until the engine finishes it.
        r.error = Some(ErrorKind::StreamInterrupted);
    }
    engine.advance(f64::INFINITY, &mut events);
    for e in &events {
        let r = &mut records[e.id as usize];
        match e.kind {
            EventKind::Token { index: 0 } => r.first_token_s = Some(e.t),
            EventKind::Finished {
                prompt_tokens,
                completion_tokens,
                ..
            } => {
                r.end_s = e.t;
                r.prompt_tokens = Some(prompt_tokens);
                r.completion_tokens = Some(completion_tokens);
                r.error = None;
            }
            EventKind::Rejected { status, .. } => {
                r.end_s = e.t;
                r.error = Some(ErrorKind::Http(status));
            }
            _ => {}
        }
    }
    records
}

/// Runs one level of `duration_s` at `qps` on a fresh engine and drains it.
pub fn level(
    cfg: &EngineConfig,
    prompts: &[u64],
    qps: f64,
    duration_s: f64,
    max_tokens: u64,
) -> VirtualLevel {
    let records = records(cfg, prompts, qps, duration_s, max_tokens);
    let ok: Vec<&RequestRecord> = records.iter().filter(|r| r.succeeded()).collect();
    let tokens: u64 = ok.iter().map(|r| r.output_tokens()).sum();
    let last = ok.iter().map(|r| r.end_s).fold(duration_s, f64::max);
    let p50 = |v: Vec<f64>| percentile(&sorted(v), 50.0).unwrap_or(f64::NAN);
    VirtualLevel {
        qps,
        success_rate: ok.len() as f64 / records.len() as f64 * 100.0,
        ttft_p50: p50(ok.iter().filter_map(|r| r.ttft_s()).collect()),
        e2e_p50: p50(ok.iter().map(|r| r.e2e_s()).collect()),
        tokens_per_sec_p50: p50(ok.iter().filter_map(|r| r.tokens_per_sec()).collect()),
        output_tok_s: tokens as f64 / last,
        completed_per_s: ok.len() as f64 / last,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::profile::{llama_70b_h100, llama_8b_h100};

    fn sweep(cfg: &EngineConfig, levels: &[f64], secs: f64) -> Vec<VirtualLevel> {
        let convs = crate::dataset::parse(crate::dataset::BUNDLED, "bundled").unwrap();
        let prompts = prompt_tokens(&convs);
        levels
            .iter()
            .map(|&q| level(cfg, &prompts, q, secs, 512))
            .collect()
    }

    /// Highest level at >= 99% success, and the first level after it below that.
    fn knee(levels: &[VirtualLevel]) -> (f64, Option<f64>) {
        let max_ok = levels
            .iter()
            .filter(|l| l.success_rate >= 99.0)
            .map(|l| l.qps)
            .fold(0.0, f64::max);
        let sat = levels
            .iter()
            .find(|l| l.qps > max_ok && l.success_rate < 99.0)
            .map(|l| l.qps);
        (max_ok, sat)
    }

    #[test]
    #[ignore = "prints a calibration table; run with --ignored --nocapture"]
    fn print_calibration() {
        for (name, cfg, levels) in [
            (
                "8b",
                llama_8b_h100(),
                vec![
                    5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 60.0,
                ],
            ),
            (
                "70b",
                llama_70b_h100(),
                vec![2.0, 5.0, 8.0, 10.0, 12.0, 15.0, 18.0, 20.0, 25.0],
            ),
        ] {
            for secs in [5.0, 60.0] {
                for l in sweep(&cfg, &levels, secs) {
                    println!(
                        "{name} {secs:>3}s qps {:>5.1} ok {:>6.2}% ttft {:.3} e2e {:.2} tok/s {:>6.1} out {:>7.0} tok/s done/s {:.1}",
                        l.qps, l.success_rate, l.ttft_p50, l.e2e_p50, l.tokens_per_sec_p50, l.output_tok_s, l.completed_per_s
                    );
                }
            }
        }
    }

    #[test]
    fn presets_land_in_the_reference_bands() {
        // The reference README's "Expected Performance": max QPS without errors, saturation point,
        // TTFT at low load, per-request tokens/s. 60 s levels, as a user would run them.
        for (cfg, levels, max_band, sat_band, ttft_band, tps_band) in [
            (
                llama_8b_h100(),
                vec![5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0],
                15.0..=30.0,
                30.0..=50.0,
                0.1..=0.3,
                80.0..=150.0,
            ),
            (
                llama_70b_h100(),
                vec![2.0, 5.0, 8.0, 10.0, 12.0, 15.0, 18.0, 20.0, 25.0],
                5.0..=15.0,
                15.0..=25.0,
                0.2..=0.5,
                40.0..=80.0,
            ),
        ] {
            let sweep = sweep(&cfg, &levels, 60.0);
            let (max_ok, sat) = knee(&sweep);
            assert!(max_band.contains(&max_ok), "max sustainable {max_ok}");
            assert!(sat_band.contains(&sat.unwrap()), "saturation {sat:?}");
            let low = &sweep[0];
            assert!(ttft_band.contains(&low.ttft_p50), "ttft {}", low.ttft_p50);
            for l in sweep.iter().filter(|l| l.qps <= max_ok) {
                assert!(
                    tps_band.contains(&l.tokens_per_sec_p50),
                    "tok/s {} at {}",
                    l.tokens_per_sec_p50,
                    l.qps
                );
            }
        }
    }
}
