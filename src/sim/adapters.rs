//! The simulator's LoRA adapters: a request whose `model` is not the served model names an
//! adapter. `--max-loras` adapters stay loaded (least recently used out); a request for one that
//! is not waits `--lora-load-ms` for it on one loader, as a server swapping adapters in does.
//! `state.rs` holds it; the routes in `mod.rs` call it; `/sim/stats` shows its loads.

use super::lru::Lru;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

pub struct Adapters {
    load_ms: f64,
    loaded: Mutex<Lru>,
    loader: tokio::sync::Mutex<()>,
    loads: AtomicU64,
    hits: AtomicU64,
}

impl Adapters {
    pub fn new(max_loras: usize, load_ms: f64) -> Adapters {
        Adapters {
            load_ms,
            loaded: Mutex::new(Lru::new(max_loras)),
            loader: tokio::sync::Mutex::new(()),
            loads: AtomicU64::new(0),
            hits: AtomicU64::new(0),
        }
    }

    /// Makes `adapter` resident, loading it first when it is not.
    pub async fn serve(&self, adapter: &str) {
        let mut h = DefaultHasher::new();
        adapter.hash(&mut h);
        if self.loaded.lock().is_ok_and(|mut l| l.touch(h.finish())) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.loads.fetch_add(1, Ordering::Relaxed);
        let _loader = self.loader.lock().await;
        tokio::time::sleep(Duration::from_secs_f64(self.load_ms.max(0.0) / 1e3)).await;
    }

    /// `{"loads", "hits"}` since the start or the last reset.
    pub fn stats(&self, reset: bool) -> serde_json::Value {
        let read = |c: &AtomicU64| match reset {
            true => c.swap(0, Ordering::Relaxed),
            false => c.load(Ordering::Relaxed),
        };
        serde_json::json!({"loads": read(&self.loads), "hits": read(&self.hits)})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_request_for_an_adapter_not_loaded_waits_for_it() {
        let a = Adapters::new(1, 30.0);
        let t = tokio::time::Instant::now();
        a.serve("x").await;
        a.serve("x").await;
        assert_eq!(t.elapsed(), Duration::from_millis(30));
        a.serve("y").await; // x goes out: one adapter fits
        a.serve("x").await;
        assert_eq!(t.elapsed(), Duration::from_millis(90));
        assert_eq!(a.stats(false), serde_json::json!({"loads": 3, "hits": 1}));
    }
}
