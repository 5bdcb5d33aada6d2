//! What level `i` of a run is, before it runs: closed-loop workers (`--concurrency`), a trace's one
//! level, the next `--qps` rate, or the search's next probe (`--qps auto`), with the console line
//! that announces it. `mod.rs` prepares, runs and records whatever this returns, so every kind of
//! level goes through the same steps.

use crate::analyze::level::LevelReport;
use crate::analyze::search;
use crate::config::Config;
use crate::measure::runner::Level;
use crate::measure::schedule;
use crate::measure::work::Work;
use crate::workload::Prepared;
use std::time::Duration;

/// One level, ready to run.
pub enum LevelPlan {
    /// `--concurrency`: this many requests (or sessions) in flight.
    Closed { workers: usize },
    /// On a schedule; `duration_s` is its planned window when it is not `--duration` (a search
    /// probe, a trace).
    Open {
        level: Level,
        duration_s: Option<f64>,
    },
}

impl LevelPlan {
    /// The rate the connection pool prepares for.
    pub fn rate(&self) -> f64 {
        match self {
            LevelPlan::Closed { workers } => *workers as f64,
            LevelPlan::Open { level, .. } => level.qps,
        }
    }

    /// Scheduled arrivals, for the progress bar (0: unknown in advance).
    pub fn arrivals(&self) -> u64 {
        match self {
            LevelPlan::Closed { .. } => 0,
            LevelPlan::Open { level, .. } => level.offsets.len() as u64,
        }
    }
}

/// Level `i`, announced in the console, or `None` when the run has no more levels.
pub fn level(
    cfg: &Config,
    prepared: &Prepared,
    search: Option<&search::Plan>,
    levels: &[LevelReport],
    i: usize,
) -> Option<LevelPlan> {
    let open = |qps: f64, offsets: Vec<Duration>, duration: Duration| Level {
        index: i,
        qps,
        offsets,
        duration,
        max_concurrency: cfg.max_concurrency,
        work: prepared.work.clone(),
    };
    if !cfg.concurrency.is_empty() {
        let workers = *cfg.concurrency.get(i)?;
        eprintln!(
            "Level {}/{}: concurrency {workers} ({}s)",
            i + 1,
            cfg.concurrency.len(),
            cfg.duration.as_secs_f64()
        );
        return Some(LevelPlan::Closed { workers });
    }
    if let Some(trace) = &prepared.trace {
        if i > 0 {
            return None;
        }
        eprintln!(
            "Trace: {} requests over {:.1} s",
            trace.offsets.len(),
            trace.window.as_secs_f64()
        );
        let level = open(trace.qps, trace.offsets.clone(), trace.window);
        return Some(LevelPlan::Open {
            level,
            duration_s: Some(trace.window.as_secs_f64()),
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
    let arrivals = match prepared.work {
        Work::Sessions(_) => "sessions",
        _ => "arrivals",
    };
    eprintln!(
        "{label}: QPS {qps} ({} {arrivals}, {}, {}s)",
        offsets.len(),
        cfg.arrival,
        (duration.as_secs_f64() * 10.0).round() / 10.0
    );
    Some(LevelPlan::Open {
        level: open(qps, offsets, duration),
        duration_s: (duration != cfg.duration).then_some(duration.as_secs_f64()),
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
