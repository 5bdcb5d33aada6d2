//! Arrival schedules: when each request of a level is due, fixed before the level starts.
//!
//! Pure and seeded. `runner.rs` adds these offsets to the level's start instant to get absolute
//! deadlines, so a late send never shifts the ones after it (open loop).
//!
//! Every level offers exactly its target: constant arrivals are `i / qps` for every `i` with an
//! offset inside the window; Poisson arrivals are `round(qps x duration)` times drawn uniformly in
//! the window and sorted, which is a Poisson process conditioned on its count (the gaps keep
//! Poisson's burstiness; only the count's own randomness is gone, so a level never offers 10% less
//! than asked by the luck of the draw).

use crate::cli::Arrival;
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::time::Duration;

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
        Arrival::Poisson => {
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
    fn level_seeds_differ() {
        assert_ne!(level_seed(1, 0), level_seed(1, 1));
    }
}
