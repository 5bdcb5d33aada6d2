//! A redline sweep of the engine in virtual time: the same constant arrivals, dataset cycling and
//! metric definitions as a real run, computed in milliseconds. Used to calibrate the presets
//! (docs/simulator.md) and by tests that pin each preset inside its performance bands.

use super::engine::{Engine, EngineConfig, EventKind};
use crate::dataset::Conversation;
use crate::stats::{percentile, sorted};

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
        .map(|c| {
            c.messages
                .iter()
                .map(|m| super::message_tokens(&m.content))
                .sum()
        })
        .collect()
}

/// Runs one level of `duration_s` at `qps` on a fresh engine and drains it.
pub fn level(
    cfg: &EngineConfig,
    prompts: &[u64],
    qps: f64,
    duration_s: f64,
    max_tokens: u64,
) -> VirtualLevel {
    let mut engine = Engine::new(cfg.clone());
    let mut events = Vec::new();
    let n = ((qps * duration_s).ceil() as u64).max(1);
    for i in 0..n {
        let t = i as f64 / qps;
        engine.advance(t, &mut events);
        engine.submit(t, i, prompts[i as usize % prompts.len()], max_tokens, false);
    }
    engine.advance(f64::INFINITY, &mut events);
    let (mut ttft, mut e2e, mut tps) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ok, mut tokens, mut last) = (0u64, 0u64, duration_s);
    for e in &events {
        let planned = e.id as f64 / qps;
        match e.kind {
            EventKind::Token { index: 0 } => ttft.push(e.t - planned),
            EventKind::Finished {
                completion_tokens, ..
            } => {
                ok += 1;
                tokens += completion_tokens;
                e2e.push(e.t - planned);
                tps.push(completion_tokens as f64 / (e.t - planned));
                last = last.max(e.t);
            }
            _ => {}
        }
    }
    let p50 = |v: Vec<f64>| percentile(&sorted(v), 50.0).unwrap_or(f64::NAN);
    VirtualLevel {
        qps,
        success_rate: ok as f64 / n as f64 * 100.0,
        ttft_p50: p50(ttft),
        e2e_p50: p50(e2e),
        tokens_per_sec_p50: p50(tps),
        output_tok_s: tokens as f64 / last,
        completed_per_s: ok as f64 / last,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::profile::{llama_70b_h100, llama_8b_h100};

    fn sweep(cfg: &EngineConfig, levels: &[f64], secs: f64) -> Vec<VirtualLevel> {
        let convs = crate::dataset::parse(crate::BUNDLED_DATASET, "bundled").unwrap();
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
