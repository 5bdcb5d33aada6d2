//! The common start of a sharded run (`--start-at`, `--start-after`): every shard starts level i at
//! start + i x (duration + gap) on its own clock, so their levels line up. Checks that this
//! process is ready in time, announces the wait, waits before each level (connections are prepared
//! [`PREPARE_AHEAD`] before it, not minutes ahead), and warns when a level ran into the next one's
//! start. Without a common start every level starts when the previous one ends.

use crate::config::Config;
use crate::measure::work::Cancel;
use anyhow::Result;
use tokio::time::Instant;

/// How long before a level's start on the common clock its connections are prepared.
pub const PREPARE_AHEAD: std::time::Duration = std::time::Duration::from_secs(2);

/// The run's clock: the instant of the common start, if there is one.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub base: Option<Instant>,
}

/// After preparing the prompts, connecting and the preflight: a shard that is now past (or too
/// close to) the common start would send its overdue arrivals in one burst, so it stops instead.
pub fn check_ready(cfg: &Config, began: Instant) -> Result<()> {
    let Some(start) = cfg.start else {
        return Ok(());
    };
    let left = start.at - chrono::Utc::now();
    if left.to_std().map_or(true, |l| l < PREPARE_AHEAD) {
        anyhow::bail!(
            "the common start {} is {} by the time this process is ready (it took {:.1} s to prepare, connect and check the endpoint, and needs {} s more to warm its connections): give a later --start-at (or a longer --start-after); nothing was measured",
            start.at.to_rfc3339(),
            if left.num_milliseconds() < 0 { "past" } else { "too close" },
            began.elapsed().as_secs_f64(),
            PREPARE_AHEAD.as_secs()
        );
    }
    Ok(())
}

impl Clock {
    /// The run's clock, announcing the wait for a common start.
    pub fn start(cfg: &Config) -> Clock {
        let Some(start) = cfg.start else {
            return Clock { base: None };
        };
        let wait = (start.at - chrono::Utc::now()).num_milliseconds() as f64 / 1000.0;
        eprintln!(
            "Waiting for the common start at {} (in {wait:.1} s){}",
            start.at.to_rfc3339(),
            cfg.shard
                .map(|s| format!("; shard {}/{}", s.index, s.count))
                .unwrap_or_default()
        );
        Clock {
            base: Some(instant_at(start.at)),
        }
    }

    /// When level `i` starts on the common clock: base + i x (duration + gap).
    pub fn level_start(&self, cfg: &Config, i: usize) -> Option<Instant> {
        let gap = cfg.start?.level_gap;
        Some(self.base? + (cfg.duration + gap) * i as u32)
    }

    /// Warns when level `i` ran past the next level's start on the common clock.
    pub fn warn_overlap(&self, cfg: &Config, i: usize) {
        let more = cfg.levels.planned().is_some_and(|n| i + 1 < n);
        let Some(next) = more.then(|| self.level_start(cfg, i + 1)).flatten() else {
            return;
        };
        if Instant::now() > next {
            eprintln!(
                "warning: this level's requests ran {:.1} s past the next level's start on the common clock, so the two overlapped (and the next starts late): raise --level-gap",
                Instant::now().duration_since(next).as_secs_f64()
            );
        }
    }
}

/// Sleeps until [`PREPARE_AHEAD`] before `at` (a level's start on the common clock, if any);
/// `false` if the run was interrupted first. A wait of more than a few seconds between levels is
/// said, so a sharded run is never silent for a whole `--level-gap`.
pub async fn wait_to_prepare(at: Option<Instant>, index: usize, cancel: &Cancel) -> bool {
    let Some(at) = at else { return true };
    let until = at.checked_sub(PREPARE_AHEAD).unwrap_or(at);
    let wait = until.saturating_duration_since(Instant::now());
    if index > 0 && wait > std::time::Duration::from_secs(3) {
        eprintln!(
            "Waiting {:.0} s for level {}'s start on the common clock (--level-gap after each level's send window, so every shard starts it together)",
            wait.as_secs_f64(),
            index + 1
        );
    }
    tokio::select! {
        _ = tokio::time::sleep_until(until) => true,
        _ = cancel.stop.cancelled() => false,
    }
}

/// The instant a wall-clock time falls on.
pub fn instant_at(t: chrono::DateTime<chrono::Utc>) -> Instant {
    let (now, wall) = (Instant::now(), chrono::Utc::now());
    match (t - wall).to_std() {
        Ok(ahead) => now + ahead,
        Err(_) => now
            .checked_sub((wall - t).to_std().unwrap_or_default())
            .unwrap_or(now),
    }
}

/// The wall-clock time of an instant, by this machine's clock.
pub fn wall_clock_of(at: Instant) -> chrono::DateTime<chrono::Utc> {
    let now = Instant::now();
    let wall = chrono::Utc::now();
    match (
        now.checked_duration_since(at),
        at.checked_duration_since(now),
    ) {
        (Some(ago), _) => wall - chrono::Duration::from_std(ago).unwrap_or_default(),
        (None, Some(ahead)) => wall + chrono::Duration::from_std(ahead).unwrap_or_default(),
        (None, None) => wall,
    }
}
