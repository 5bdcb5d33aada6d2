//! The run's `--seed` split into independent generators, one per item (an arrival's adapter, a
//! generated image, an audio clip): item `i`'s draws depend on the seed, a salt naming what is
//! drawn, and `i` alone, so they are the same in one process or a shard, and can be made on any
//! thread in any order.

use rand::rngs::StdRng;
use rand::SeedableRng;

/// Item `i`'s generator for draws of kind `salt`.
pub fn item(seed: u64, salt: u64, i: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ salt ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}
