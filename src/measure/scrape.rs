//! `--metrics-url`: the endpoint's own view while a level runs. A task scrapes the Prometheus page
//! once when the level starts, then once a second, and once more after its last request ended;
//! each scrape keeps every series of the page (`prometheus.rs`), known or not, with its time since
//! the level's start. A scrape that fails or cannot be parsed is kept as its error: metrics are an
//! explanation, never a reason to fail a run. `analyze/server.rs` reads the scrapes of a level;
//! `pipeline.rs` writes them to `server_metrics.jsonl`, from which `redline report` rebuilds them.

use crate::measure::prometheus::{self, Scrape};
use crate::measure::target::Target;
use crate::measure::time::{round6, since};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Time between scrapes.
pub const EVERY: Duration = Duration::from_secs(1);
/// The longest a scrape may take.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Scrapes `url` for one level until [`Scraper::finish`].
pub struct Scraper {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    /// The scrapes so far, as they come (`--stop-on-saturation` reads the server's queue).
    pub live: Arc<std::sync::Mutex<Vec<Scrape>>>,
}

impl Scraper {
    /// Starts scraping: the first scrape at `start` (the level's start), then every second.
    pub fn start(target: Arc<Target>, url: reqwest::Url, level: usize, start: Instant) -> Scraper {
        let stop = CancellationToken::new();
        let token = stop.clone();
        let live = Arc::new(std::sync::Mutex::new(Vec::new()));
        let shared = live.clone();
        let push = move |s: Scrape| {
            if let Ok(mut v) = shared.lock() {
                v.push(s);
            }
        };
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(start.max(Instant::now()), EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => push(scrape(&target, &url, level, start).await),
                    _ = token.cancelled() => break,
                }
            }
            push(scrape(&target, &url, level, start).await);
        });
        Scraper { stop, task, live }
    }

    /// One last scrape (the level has ended), and every scrape of the level.
    pub async fn finish(self) -> Vec<Scrape> {
        self.stop.cancel();
        let _ = self.task.await;
        self.live
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

async fn scrape(target: &Target, url: &reqwest::Url, level: usize, start: Instant) -> Scrape {
    let t_s = round6(since(Instant::now(), start).max(0.0));
    let mut s = Scrape {
        level,
        t_s,
        values: BTreeMap::new(),
        error: None,
    };
    match target.fetch_text(url, TIMEOUT).await {
        Err(e) => s.error = Some(e),
        Ok(text) => {
            let page = prometheus::parse(&text);
            s.values = page
                .samples
                .iter()
                .filter(|x| x.value.is_finite())
                .map(|x| (x.key(), x.value))
                .collect();
            if s.values.is_empty() {
                s.error = Some(format!(
                    "no metrics in the page ({} lines could not be read as Prometheus text)",
                    page.bad_lines
                ));
            }
        }
    }
    s
}
