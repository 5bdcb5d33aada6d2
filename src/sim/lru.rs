//! A small least-recently-used set of keys, for the simulator's caches of what is resident: the
//! vision encoder's images (`vision.rs`) and the loaded LoRA adapters (`adapters.rs`).

use std::collections::VecDeque;

pub struct Lru {
    keys: VecDeque<u64>,
    capacity: usize,
}

impl Lru {
    pub fn new(capacity: usize) -> Lru {
        Lru {
            keys: VecDeque::new(),
            capacity,
        }
    }

    /// Whether `key` was held; it is held (most recent) afterwards, unless the capacity is 0.
    pub fn touch(&mut self, key: u64) -> bool {
        let hit = match self.keys.iter().position(|k| *k == key) {
            Some(at) => {
                self.keys.remove(at);
                true
            }
            None => false,
        };
        self.keys.push_back(key);
        while self.keys.len() > self.capacity {
            self.keys.pop_front();
        }
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_key_goes_first() {
        let mut l = Lru::new(2);
        assert!(!l.touch(1));
        assert!(!l.touch(2));
        assert!(l.touch(1));
        assert!(!l.touch(3)); // 2 goes
        assert!(!l.touch(2));
        assert!(l.touch(3));
        let mut none = Lru::new(0);
        none.touch(1);
        assert!(!none.touch(1));
    }
}
