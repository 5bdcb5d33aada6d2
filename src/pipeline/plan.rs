//! What level `i` of a run is, before it runs: closed-loop workers (`--concurrency`), a trace's one
//! level, the next `--qps` rate, or the search's next probe (`--qps auto`), with the console line
//! that announces it; with `--shard`, this shard's slice of it, and with a common start, the
//! instant it starts (start + i x (duration + gap), the same on every shard). `mod.rs` prepares,
//! runs and records whatever this returns, so every kind of level goes through the same steps.

use crate::analyze::level::LevelReport;
use crate::analyze::search;
use crate::config::Config;
use crate::measure::closed::ClosedLevel;
use crate::measure::runner::Level;
use crate::measure::schedule;
use crate::measure::work::Work;
use crate::workload::Prepared;
use std::time::Duration;
use tokio::time::Instant;

/// One level, ready to run.
pub enum LevelPlan {
    /// `--concurrency`: this many requests (or sessions) in flight.
    Closed(ClosedLevel),
    /// On a schedule; `duration_s` is its planned window when it is not `--duration` (a search
    /// probe, a trace). `plan` is the whole plan's rate and arrivals when this is one shard's
    /// slice of it.
    Open {
        level: Level,
        duration_s: Option<f64>,
        plan: Option<(f64, u64)>,
    },
}

impl LevelPlan {
    /// The rate the connection pool prepares for.
    pub fn rate(&self) -> f64 {
        match self {
            LevelPlan::Closed(c) => c.workers as f64,
            LevelPlan::Open { level, .. } => level.qps,
        }
    }

    /// When the level starts on the common clock, if the run has one.
    pub fn start_at(&self) -> Option<Instant> {
        match self {
            LevelPlan::Closed(c) => c.start_at,
            LevelPlan::Open { level, .. } => level.start_at,
        }
    }

    /// Scheduled arrivals of this process, for the progress bar (0: unknown in advance).
    pub fn arrivals(&self) -> u64 {
        match self {
            LevelPlan::Closed(_) => 0,
            LevelPlan::Open { level, .. } => (0..level.offsets.len() as u64)
                .filter(|&j| level.shard.is_none_or(|s| s.owns(j)))
                .count() as u64,
        }
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

/// When level `i + 1` starts on the common clock, if there is one and such a level.
pub fn next_start(cfg: &Config, base: Option<Instant>, i: usize) -> Option<Instant> {
    let more = levels_planned_cfg(cfg).is_some_and(|n| i + 1 < n);
    more.then(|| level_start(cfg, base, i + 1)).flatten()
}

/// How many levels the run plans (`None` for a `--qps auto` search, which decides as it goes).
pub fn levels_planned(cfg: &Config, prepared: &Prepared) -> Option<usize> {
    if prepared.trace.is_some() {
        return Some(1);
    }
    levels_planned_cfg(cfg)
}

fn levels_planned_cfg(cfg: &Config) -> Option<usize> {
    if !cfg.concurrency.is_empty() {
        Some(cfg.concurrency.len())
    } else if cfg.search.is_some() {
        None
    } else if matches!(cfg.workload.source, crate::config::Source::Trace { .. }) {
        Some(1)
    } else {
        Some(cfg.qps.len())
    }
}

/// With `--shard I/N`: every level must give each shard at least one arrival (or worker), or a
/// shard would report an empty level as a failure of the endpoint.
pub fn check_shares(cfg: &Config, prepared: &Prepared) -> anyhow::Result<()> {
    let Some(s) = cfg.shard else { return Ok(()) };
    let n = s.count;
    if let Some(&w) = cfg.concurrency.iter().find(|&&w| w < n) {
        anyhow::bail!("--concurrency {w} cannot be split among {n} shards (shard I runs the workers w with w mod {n} = I): give levels of at least {n}");
    }
    if let Some(trace) = &prepared.trace {
        if trace.offsets.len() < n {
            anyhow::bail!(
                "the trace has {} requests, fewer than the {n} shards",
                trace.offsets.len()
            );
        }
        return Ok(());
    }
    let shape = schedule::Shape {
        arrival: cfg.arrival,
        burstiness: cfg.burstiness,
        ramp_up_s: cfg.ramp_up_s,
    };
    for (i, &qps) in cfg.qps.iter().enumerate() {
        // Plenty of arrivals needs no counting; a handful is counted exactly.
        let expected = qps * (cfg.duration.as_secs_f64() - cfg.ramp_up_s / 2.0);
        if expected >= 2.0 * n as f64 {
            continue;
        }
        let count =
            schedule::shaped(&shape, qps, cfg.duration, schedule::level_seed(cfg.seed, i)).len();
        if count < n {
            anyhow::bail!(
                "--qps {qps} for --duration {} s plans {count} arrival{}, fewer than the {n} shards: raise the rate or the duration so every shard has a share",
                cfg.duration.as_secs_f64(),
                if count == 1 { "" } else { "s" }
            );
        }
    }
    Ok(())
}

/// When level `i` starts on the common clock: `base` + i x (duration + gap).
fn level_start(cfg: &Config, base: Option<Instant>, i: usize) -> Option<Instant> {
    let gap = cfg.start?.level_gap;
    Some(base? + (cfg.duration + gap) * i as u32)
}

/// Level `i`, announced in the console, or `None` when the run has no more levels.
pub fn level(
    cfg: &Config,
    prepared: &Prepared,
    search: Option<&search::Plan>,
    levels: &[LevelReport],
    i: usize,
    base: Option<Instant>,
) -> Option<LevelPlan> {
    let start_at = level_start(cfg, base, i);
    let open = |qps: f64, offsets: Vec<Duration>, duration: Duration| {
        // A shard's level offers its share of the plan's arrivals, at its share of the rate.
        let total = offsets.len();
        let (qps, plan) = match cfg.shard {
            Some(s) => (
                qps * s.share_of(total) as f64 / total.max(1) as f64,
                Some((qps, total as u64)),
            ),
            None => (qps, None),
        };
        let level = Level {
            index: i,
            qps,
            offsets,
            duration,
            max_concurrency: cfg.max_concurrency,
            work: prepared.work.clone(),
            shard: cfg.shard,
            start_at,
        };
        (level, plan)
    };
    let slice = cfg
        .shard
        .map(|s| format!(", shard {}/{}", s.index, s.count))
        .unwrap_or_default();
    if !cfg.concurrency.is_empty() {
        let workers = *cfg.concurrency.get(i)?;
        eprintln!(
            "Level {}/{}: concurrency {workers} ({}s{slice})",
            i + 1,
            cfg.concurrency.len(),
            cfg.duration.as_secs_f64()
        );
        return Some(LevelPlan::Closed(ClosedLevel {
            index: i,
            workers,
            duration: cfg.duration,
            work: prepared.work.clone(),
            shard: cfg.shard,
            start_at,
        }));
    }
    if let Some(trace) = &prepared.trace {
        if i > 0 {
            return None;
        }
        eprintln!(
            "Level 1/1: the trace, {} requests in a {:.1} s send window",
            trace.offsets.len(),
            trace.window.as_secs_f64()
        );
        let (level, plan) = open(trace.qps, trace.offsets.clone(), trace.window);
        return Some(LevelPlan::Open {
            level,
            duration_s: Some(trace.window.as_secs_f64()),
            plan,
        });
    }
    let (qps, duration) = next_rate(cfg, search, levels, i)?;
    let shape = schedule::Shape {
        arrival: cfg.arrival,
        burstiness: cfg.burstiness,
        ramp_up_s: cfg.ramp_up_s,
    };
    let offsets = schedule::shaped(&shape, qps, duration, schedule::level_seed(cfg.seed, i));
    let label = match search {
        Some(_) => format!("Probe {}", i + 1),
        None => format!("Level {}/{}", i + 1, cfg.qps.len()),
    };
    let n = offsets.len();
    let arrivals = match (&prepared.work, n) {
        (Work::Sessions(_), 1) => "session",
        (Work::Sessions(_), _) => "sessions",
        (_, 1) => "arrival",
        _ => "arrivals",
    };
    // A shard sends its share of the plan's arrivals.
    let count = match cfg.shard {
        Some(s) => format!(
            "{n} {arrivals} in the plan, {} of them this shard's",
            s.share_of(n)
        ),
        None => format!("{n} {arrivals}"),
    };
    eprintln!(
        "{label}: QPS {qps} ({count}, {}, {}s{slice})",
        cfg.arrival,
        (duration.as_secs_f64() * 10.0).round() / 10.0
    );
    let (level, plan) = open(qps, offsets, duration);
    Some(LevelPlan::Open {
        level,
        duration_s: (duration != cfg.duration).then_some(duration.as_secs_f64()),
        plan,
    })
}

/// The rate and duration of level `i`: the next of `--qps`, or the search's next probe.
fn next_rate(
    cfg: &Config,
    plan: Option<&search::Plan>,
    levels: &[LevelReport],
    i: usize,
) -> Option<(f64, Duration)> {
    match plan {
        None => cfg.qps.get(i).map(|&q| (q, cfg.duration)),
        Some(plan) => match search::next(plan, levels) {
            search::Next::Probe { qps, duration_s } => {
                Some((qps, Duration::from_secs_f64(duration_s)))
            }
            search::Next::Done(_) => None,
        },
    }
}
