//! Arrival schedules: when each request of a level is due, fixed before the level starts.
//!
//! Pure and seeded. `runner.rs` adds these offsets to the level's start instant to get absolute
//! deadlines, so a late send never shifts the ones after it (open loop).
//!
//! Every level offers exactly its target: constant arrivals are `i / qps` for every `i` with an
//! offset inside the window; Poisson arrivals are `round(qps x duration)` times drawn uniformly in
//! the window and sorted, which is a Poisson process conditioned on its count (the gaps keep
//! Poisson's burstiness; only the count's own randomness is gone, so a level never offers 10% less
//! than asked by the luck of the draw). Gamma arrivals (`--burstiness B`, vLLM's definition: gaps
//! Gamma-distributed with shape B, so B = 1 is Poisson and B < 1 burstier) are conditioned the same
//! way: `round(qps x duration)` arrivals whose `n + 1` gaps are Gamma(B) draws scaled to fill the
//! window exactly.
//!
//! `--ramp-up S` makes the rate rise linearly from 0 to its target over the first S seconds: the
//! schedule is drawn at rate 1 over the expected count `Λ(T) = qps (T - S/2)` and each time `u` is
//! mapped through the inverse of `Λ(t)` (`qps t² / 2S` before S, then linear).

use crate::cli::Arrival;
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::{Distribution, Gamma};
use std::time::Duration;

/// How arrivals are shaped beyond their rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    pub arrival: Arrival,
    /// Gamma shape of the gaps (1 = Poisson); used by `Arrival::Gamma`.
    pub burstiness: f64,
    /// Seconds over which the rate rises linearly to its target (0: none).
    pub ramp_up_s: f64,
}

/// Offsets of a level shaped by `shape` (see the module doc): ramped when `ramp_up_s > 0`.
pub fn shaped(shape: &Shape, qps: f64, duration: Duration, seed: u64) -> Vec<Duration> {
    let end = duration.as_secs_f64();
    let ramp = shape.ramp_up_s.clamp(0.0, end);
    if ramp <= 0.0 {
        return drawn(shape, qps, end, seed);
    }
    let total = qps * (end - ramp / 2.0);
    let inverse = |u: f64| {
        if u < qps * ramp / 2.0 {
            (2.0 * u * ramp / qps).sqrt()
        } else {
            ramp + (u - qps * ramp / 2.0) / qps
        }
    };
    drawn(shape, 1.0, total, seed)
        .into_iter()
        .map(|u| Duration::from_secs_f64(inverse(u.as_secs_f64()).min(end)))
        .collect()
}

fn drawn(shape: &Shape, qps: f64, end: f64, seed: u64) -> Vec<Duration> {
    match shape.arrival {
        Arrival::Gamma => gamma(qps, end, shape.burstiness, seed),
        other => offsets(other, qps, Duration::from_secs_f64(end), seed),
    }
}

/// `round(qps x end)` arrivals (at least one) whose gaps are Gamma(`burstiness`) draws scaled so the
/// `n + 1` gaps span the window: a gamma renewal process conditioned on its count.
fn gamma(qps: f64, end: f64, burstiness: f64, seed: u64) -> Vec<Duration> {
    let n = ((qps * end).round() as usize).max(1);
    let mut rng = StdRng::seed_from_u64(seed);
    let Ok(dist) = Gamma::new(burstiness.max(1e-3), 1.0) else {
        return offsets(Arrival::Constant, qps, Duration::from_secs_f64(end), seed);
    };
    let gaps: Vec<f64> = (0..=n).map(|_| dist.sample(&mut rng)).collect();
    let sum: f64 = gaps.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let mut t = 0.0;
    gaps[..n]
        .iter()
        .map(|g| {
            t += g;
            Duration::from_secs_f64((t / sum * end).min(end))
        })
        .collect()
}

/// Offsets from the level start of every request due in `[0, duration)`. A level always holds at least
/// one request, so a rate below `1 / duration` still sends once (at offset 0).
pub fn offsets(arrival: Arrival, qps: f64, duration: Duration, seed: u64) -> Vec<Duration> {
    let end = duration.as_secs_f64();
    let mut out = Vec::with_capacity((qps * end).ceil() as usize + 1);
    match arrival {
        Arrival::Constant => {
            let mut i = 0u64;
            loop {
                let t = i as f64 / qps;
                if t >= end && i > 0 {
                    break;
                }
                out.push(Duration::from_secs_f64(t));
                i += 1;
            }
        }
        Arrival::Poisson | Arrival::Gamma => {
            let mut rng = StdRng::seed_from_u64(seed);
            let n = ((qps * end).round() as u64).max(1);
            let mut times: Vec<f64> = (0..n).map(|_| rng.random::<f64>() * end).collect();
            times.sort_by(f64::total_cmp);
            out.extend(times.into_iter().map(Duration::from_secs_f64));
        }
    }
    out
}

/// The seed of level `index`: distinct per level, reproducible from the run's seed.
pub fn level_seed(run_seed: u64, index: usize) -> u64 {
    run_seed.wrapping_add((index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_is_evenly_spaced_and_exact() {
        let o = offsets(Arrival::Constant, 10.0, Duration::from_secs(2), 0);
        assert_eq!(o.len(), 20);
        assert_eq!(o[1], Duration::from_millis(100));
        assert_eq!(o[19], Duration::from_millis(1900));
    }

    #[test]
    fn fractional_rates() {
        let o = offsets(Arrival::Constant, 0.1, Duration::from_secs(10), 0);
        assert_eq!(o, vec![Duration::ZERO]);
        let o = offsets(Arrival::Constant, 0.3, Duration::from_secs(10), 0);
        assert_eq!(o.len(), 3);
    }

    #[test]
    fn poisson_is_seeded_offers_exactly_its_count_and_keeps_exponential_gaps() {
        let a = offsets(Arrival::Poisson, 50.0, Duration::from_secs(200), 42);
        let b = offsets(Arrival::Poisson, 50.0, Duration::from_secs(200), 42);
        assert_eq!(a, b);
        assert_ne!(
            a,
            offsets(Arrival::Poisson, 50.0, Duration::from_secs(200), 43)
        );
        assert_eq!(a.len(), 10_000);
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
        assert!(a.last().unwrap() < &Duration::from_secs(200));
        // Exponential gaps: the standard deviation equals the mean (coefficient of variation 1);
        // constant arrivals have 0.
        let gaps: Vec<f64> = a.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        let cv = var.sqrt() / mean;
        assert!((0.95..1.05).contains(&cv), "coefficient of variation {cv}");
        for (qps, secs) in [(4.0, 5), (0.3, 10), (0.01, 10)] {
            let n = offsets(Arrival::Poisson, qps, Duration::from_secs(secs), 1).len();
            assert_eq!(
                n as f64,
                (qps * secs as f64).round().max(1.0),
                "{qps} x {secs}"
            );
        }
    }

    #[test]
    fn gamma_offers_exactly_its_count_and_is_burstier_below_one() {
        let shape = |b| Shape {
            arrival: Arrival::Gamma,
            burstiness: b,
            ramp_up_s: 0.0,
        };
        let cv = |o: &[Duration]| {
            let gaps: Vec<f64> = o.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
            let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
            let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
            var.sqrt() / mean
        };
        let d = Duration::from_secs(200);
        let poissonish = shaped(&shape(1.0), 50.0, d, 9);
        let bursty = shaped(&shape(0.25), 50.0, d, 9);
        assert_eq!((poissonish.len(), bursty.len()), (10_000, 10_000));
        assert!(bursty.windows(2).all(|w| w[0] <= w[1]) && bursty.last().unwrap() < &d);
        // Gamma(B) gaps have a coefficient of variation of 1 / sqrt(B): 1 and 2.
        assert!(
            (0.95..1.05).contains(&cv(&poissonish)),
            "{}",
            cv(&poissonish)
        );
        assert!((1.9..2.1).contains(&cv(&bursty)), "{}", cv(&bursty));
        assert_eq!(bursty, shaped(&shape(0.25), 50.0, d, 9));
    }

    #[test]
    fn a_ramp_rises_linearly_and_then_holds_the_rate() {
        let ramp = Shape {
            arrival: Arrival::Constant,
            burstiness: 1.0,
            ramp_up_s: 10.0,
        };
        let o = shaped(&ramp, 10.0, Duration::from_secs(20), 0);
        // Expected count: 10 x (20 - 10/2) = 150; 50 in the ramp, 100 after.
        assert_eq!(o.len(), 150);
        let in_ramp = o.iter().filter(|t| t.as_secs_f64() < 10.0).count();
        assert_eq!(in_ramp, 50);
        let first_half = o.iter().filter(|t| t.as_secs_f64() < 5.0).count();
        assert!((12..=13).contains(&first_half), "{first_half}");
        let after: Vec<f64> = o[50..].iter().map(|t| t.as_secs_f64()).collect();
        assert!(after.windows(2).all(|w| ((w[1] - w[0]) - 0.1).abs() < 1e-9));
    }

    #[test]
    fn level_seeds_differ() {
        assert_ne!(level_seed(1, 0), level_seed(1, 1));
    }
}
