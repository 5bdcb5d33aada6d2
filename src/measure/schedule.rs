//! Arrival schedules: when each request of a level is due, fixed before the level starts.
//!
//! Pure and seeded. `runner.rs` adds these offsets to the level's start instant to get absolute
//! deadlines, so a late send never shifts the ones after it (open loop).

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
            let mut t = 0.0;
            loop {
                // 1 - U lies in (0, 1], so the logarithm is finite.
                let u: f64 = rng.random();
                t += -(1.0 - u).ln() / qps;
                if t >= end {
                    break;
                }
                out.push(Duration::from_secs_f64(t));
            }
            if out.is_empty() {
                out.push(Duration::ZERO);
            }
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
    fn poisson_is_seeded_and_has_the_right_mean_rate() {
        let a = offsets(Arrival::Poisson, 50.0, Duration::from_secs(200), 42);
        let b = offsets(Arrival::Poisson, 50.0, Duration::from_secs(200), 42);
        assert_eq!(a, b);
        assert_ne!(
            a,
            offsets(Arrival::Poisson, 50.0, Duration::from_secs(200), 43)
        );
        // 10,000 expected arrivals; the standard deviation is 100, so 5% is 5 sigma.
        let n = a.len() as f64;
        assert!((n - 10_000.0).abs() < 500.0, "{n}");
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn level_seeds_differ() {
        assert_ne!(level_seed(1, 0), level_seed(1, 1));
    }
}
