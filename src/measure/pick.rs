//! Which sample (or session script) each arrival of a level sends, so that every level's mix
//! represents the dataset whatever the level's length (`--sample-order`).
//!
//! - **spread** (the default): the samples are ordered by length (`by_length`). A level that knows
//!   its arrivals in advance (every open-loop level) sends each sample once per whole pass over
//!   the dataset, and for the remainder `r` one sample from each of `r` equal strata of that order,
//!   the one at the stratum's middle; the list is then shuffled with the level's seed, so short and
//!   long prompts are interleaved in time instead of sorted. A 15-arrival level of a 30-sample
//!   dataset thus sends one of each pair of neighbours in length, not the first 15 samples. A
//!   closed-loop level, whose arrivals are not known in advance, walks the length order by the
//!   golden ratio from the middle: every prefix of the walk is spread over the lengths.
//! - **cycle**: the reference tool's order, arrival `i` sends sample `i mod n`, for byte-for-byte
//!   comparisons with it. A level shorter than the dataset then sends only its first samples.
//!
//! The choice is a function of the run's seed, the level and the arrival's index in the plan, so
//! the shards of one plan send the same samples as one process would.

use rand::seq::SliceRandom;
use rand::{rngs::StdRng, SeedableRng};
use std::sync::Arc;

/// How a level picks its samples.
#[derive(Debug, Clone)]
pub enum Picker {
    /// Arrival `i` sends sample `i mod n`.
    Cycle(usize),
    /// Arrival `i` sends `samples[i]` (wrapping, should a level send more than it planned).
    Planned(Arc<Vec<u32>>),
    /// Arrival `i` sends the sample at quantile `frac(1/2 + i / golden ratio)` of the length order.
    Walk(Arc<Vec<u32>>),
}

/// 1 / the golden ratio: the step of the walk, the slowest-repeating step there is.
const STEP: f64 = 0.618_033_988_749_894_9;

impl Picker {
    /// The samples of a level of `arrivals` arrivals over `by_length` (sample indexes ordered by
    /// length), shuffled with `seed`.
    pub fn planned(by_length: &[u32], arrivals: usize, seed: u64) -> Picker {
        let n = by_length.len();
        if n == 0 {
            return Picker::Cycle(1);
        }
        let mut samples: Vec<u32> = Vec::with_capacity(arrivals);
        for _ in 0..arrivals / n {
            samples.extend_from_slice(by_length);
        }
        let r = arrivals % n;
        samples.extend((0..r).map(|j| by_length[((2 * j + 1) * n / (2 * r)).min(n - 1)]));
        samples.shuffle(&mut StdRng::seed_from_u64(seed ^ 0x5A4D_504C_4553_u64));
        Picker::Planned(Arc::new(samples))
    }

    /// The arrival's sample.
    pub fn pick(&self, i: u64) -> usize {
        match self {
            Picker::Cycle(n) => (i % (*n).max(1) as u64) as usize,
            Picker::Planned(s) if s.is_empty() => 0,
            Picker::Planned(s) => s[(i % s.len() as u64) as usize] as usize,
            Picker::Walk(order) if order.is_empty() => 0,
            Picker::Walk(order) => {
                let q = (0.5 + i as f64 * STEP).fract();
                order[((q * order.len() as f64) as usize).min(order.len() - 1)] as usize
            }
        }
    }
}

/// Sample indexes ordered by `len` (ties by index).
pub fn by_length(lens: &[usize]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..lens.len() as u32).collect();
    order.sort_by_key(|&i| (lens[i as usize], i));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundled dataset's 30 samples by characters, as `pipeline/workload.rs` measures them.
    fn bundled() -> Vec<usize> {
        let convs = crate::dataset::parse(crate::dataset::BUNDLED, "bundled").unwrap();
        convs
            .iter()
            .map(|c| c.messages.iter().map(|m| m.content.len()).sum())
            .collect()
    }

    fn mean(lens: &[usize], picks: impl Iterator<Item = usize>) -> f64 {
        let v: Vec<usize> = picks.map(|i| lens[i]).collect();
        v.iter().sum::<usize>() as f64 / v.len() as f64
    }

    #[test]
    fn every_level_length_sends_a_mix_like_the_datasets() {
        let lens = bundled();
        let all = mean(&lens, 0..lens.len());
        let order = by_length(&lens);
        for arrivals in [5, 10, 15, 20, 25, 45, 50, 100, 333] {
            for seed in 0..20 {
                let p = Picker::planned(&order, arrivals, seed);
                let m = mean(&lens, (0..arrivals as u64).map(|i| p.pick(i)));
                assert!(
                    (m / all - 1.0).abs() <= 0.15,
                    "{arrivals} arrivals, seed {seed}: mean {m:.0} against {all:.0}"
                );
            }
        }
        // The reference's cycle sends a 15-arrival level the first, shortest-written samples.
        let cycled = mean(&lens, (0..15).map(|i| Picker::Cycle(lens.len()).pick(i)));
        assert!(cycled / all < 0.85, "{cycled:.0} against {all:.0}");
    }

    #[test]
    fn a_level_sends_each_sample_once_a_pass_in_a_seeded_order() {
        let order = by_length(&[5, 1, 4, 2, 3]);
        assert_eq!(order, [1, 3, 4, 2, 0]);
        let p = Picker::planned(&order, 10, 7);
        let mut seen: Vec<usize> = (0..10).map(|i| p.pick(i)).collect();
        let again: Vec<usize> = (0..10)
            .map(|i| Picker::planned(&order, 10, 7).pick(i))
            .collect();
        assert_eq!(seen, again);
        seen.sort();
        assert_eq!(seen, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
        // Two arrivals of five samples: the middle of each half of the length order.
        let mut two: Vec<usize> = (0..2)
            .map(|i| Picker::planned(&order, 2, 1).pick(i))
            .collect();
        two.sort();
        assert_eq!(two, [2, 3]);
    }

    #[test]
    fn the_walk_spreads_every_prefix_over_the_lengths() {
        let lens = bundled();
        let all = mean(&lens, 0..lens.len());
        let walk = Picker::Walk(Arc::new(by_length(&lens)));
        for prefix in [30, 60, 200] {
            let m = mean(&lens, (0..prefix).map(|i| walk.pick(i)));
            assert!(
                (m / all - 1.0).abs() <= 0.15,
                "{prefix}: {m:.0} vs {all:.0}"
            );
        }
    }
}
