//! What level `i` of a run is, before it runs, by the run's kind (`config::Levels`): the next
//! `--qps` rate, the search's next probe (`--qps auto`), closed-loop workers (`--concurrency`) or a
//! trace's one level; with `--shard`, this shard's slice of it, and with a common start, the instant
//! it starts. The console line that announces it is printed here. Each planned level carries its
//! identity (`LevelId`: place, what it offers, probe number, shard share) from here on; `mod.rs`
//! runs and records whatever this returns, so every kind of level goes through the same steps.

use crate::analyze::level::LevelReport;
use crate::analyze::search;
use crate::cli::SampleOrder;
use crate::config::{Config, LevelId, Levels, Offered, PlanShare};
use crate::measure::closed::ClosedLevel;
use crate::measure::pick::Picker;
use crate::measure::runner::Level;
use crate::measure::schedule;
use crate::measure::work::Work;
use crate::pipeline::start::Clock;
use crate::pipeline::workload::Prepared;
use std::time::Duration;
use tokio::time::Instant;

/// One level, ready to run.
pub enum LevelPlan {
    /// `--concurrency`: this many requests (or sessions) in flight.
    Closed(ClosedLevel),
    /// On a schedule; `duration_s` is its planned window when it is not `--duration` (a search
    /// probe, a trace).
    Open {
        level: Level,
        duration_s: Option<f64>,
        /// `--stop-on-saturation` watches it.
        watch: bool,
    },
}

impl LevelPlan {
    /// `--stop-on-saturation`'s watch over this level, when it has one.
    pub fn watch(&self, cfg: &Config) -> Option<crate::analyze::early::Watch> {
        match self {
            LevelPlan::Open {
                level, watch: true, ..
            } => Some(crate::analyze::early::Watch::new(
                cfg.policy.warn_pct,
                level.offsets.len() as u64,
                level.duration.as_secs_f64(),
            )),
            _ => None,
        }
    }

    pub fn id(&self) -> LevelId {
        match self {
            LevelPlan::Closed(c) => c.id,
            LevelPlan::Open { level, .. } => level.id,
        }
    }

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

    /// The level's planned window when it is not `--duration` (a search probe, a trace).
    pub fn duration_s(&self) -> Option<f64> {
        match self {
            LevelPlan::Closed(_) => None,
            LevelPlan::Open { duration_s, .. } => *duration_s,
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

/// With `--shard I/N`: every level must give each shard at least one arrival (or worker), or a
/// shard would report an empty level as a failure of the endpoint.
pub fn check_shares(cfg: &Config, prepared: &Prepared) -> anyhow::Result<()> {
    let Some(s) = cfg.shard else { return Ok(()) };
    let n = s.count;
    match &cfg.levels {
        Levels::Concurrency(workers) => match workers.iter().find(|&&w| w < n) {
            Some(w) => anyhow::bail!("--concurrency {w} cannot be split among {n} shards (shard I runs the workers w with w mod {n} = I): give levels of at least {n}"),
            None => Ok(()),
        },
        Levels::Trace => match &prepared.trace {
            Some(trace) if trace.offsets.len() < n => anyhow::bail!(
                "the trace has {} requests, fewer than the {n} shards",
                trace.offsets.len()
            ),
            _ => Ok(()),
        },
        Levels::Rates(rates) => check_rate_shares(cfg, rates, n),
        Levels::Search(_) => Ok(()),
    }
}

fn check_rate_shares(cfg: &Config, rates: &[f64], n: usize) -> anyhow::Result<()> {
    for (i, &qps) in rates.iter().enumerate() {
        // Plenty of arrivals needs no counting; a handful is counted exactly.
        let expected = qps * (cfg.duration.as_secs_f64() - cfg.ramp_up_s / 2.0);
        if expected >= 2.0 * n as f64 {
            continue;
        }
        let count = schedule::shaped(
            &shape(cfg),
            qps,
            cfg.duration,
            schedule::level_seed(cfg.seed, i),
        )
        .len();
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

fn shape(cfg: &Config) -> schedule::Shape {
    schedule::Shape {
        arrival: cfg.arrival,
        burstiness: cfg.burstiness,
        ramp_up_s: cfg.ramp_up_s,
    }
}

/// Level `i`, announced in the console, or `None` when the run has no more levels. `levels` are
/// the levels judged so far (a search picks its next probe from them).
pub fn level(
    cfg: &Config,
    prepared: &Prepared,
    search: Option<&search::Plan>,
    levels: &[LevelReport],
    i: usize,
    clock: &Clock,
) -> Option<LevelPlan> {
    let start_at = clock.level_start(cfg, i);
    let slot = Slot {
        index: i,
        probe: None,
        start_at,
        repeat: None,
    };
    match &cfg.levels {
        Levels::Concurrency(workers) => Some(closed(cfg, prepared, *workers.get(i)?, slot)),
        Levels::Trace => {
            let trace = prepared.trace.as_ref().filter(|_| i == 0)?;
            eprintln!(
                "Level 1/1: the trace, {} requests in a {:.1} s send window",
                trace.offsets.len(),
                trace.window.as_secs_f64()
            );
            let offsets = trace.offsets.clone();
            let level = open(cfg, prepared, slot, trace.qps, offsets, trace.window);
            Some(LevelPlan::Open {
                level,
                duration_s: Some(trace.window.as_secs_f64()),
                watch: false,
            })
        }
        Levels::Rates(rates) => {
            let qps = *rates.get(i)?;
            let repeat = cfg.repeat.map(|r| r.repetition(i, rates.len() / r.n));
            let label = match (repeat, cfg.repeat) {
                (Some(k), Some(r)) => {
                    format!(
                        "Level {}/{} (repetition {k} of {})",
                        i + 1,
                        rates.len(),
                        r.n
                    )
                }
                _ => format!("Level {}/{}", i + 1, rates.len()),
            };
            let slot = Slot { repeat, ..slot };
            Some(scheduled(cfg, prepared, slot, qps, cfg.duration, label))
        }
        Levels::Search(_) => probe(cfg, prepared, search?, levels, slot),
    }
}

/// The search's next probe, or its next repetition: a repeated probe runs its repetitions back
/// to back, and the search reads them combined.
fn probe(
    cfg: &Config,
    prepared: &Prepared,
    search: &search::Plan,
    levels: &[LevelReport],
    slot: Slot,
) -> Option<LevelPlan> {
    let i = slot.index;
    let n = cfg.repeat.map_or(1, |r| r.n);
    let (probe, k) = (i / n, i % n);
    let combined = match cfg.repeat {
        Some(_) => std::borrow::Cow::Owned(crate::analyze::repeat::combine(
            levels[..probe * n].to_vec(),
        )),
        None => std::borrow::Cow::Borrowed(levels),
    };
    let search::Next::Probe {
        qps,
        duration_s,
        past_capacity,
    } = search::next(search, &combined)
    else {
        return None;
    };
    let duration = Duration::from_secs_f64(duration_s);
    let label = match cfg.repeat {
        Some(r) => format!("Probe {} (repetition {} of {})", probe + 1, k + 1, r.n),
        None => format!("Probe {}", probe + 1),
    };
    let slot = Slot {
        probe: Some(probe + 1),
        repeat: cfg.repeat.map(|_| k as u32 + 1),
        ..slot
    };
    let label = match past_capacity {
        true => format!("{label} (above the first FAIL, to measure the service rate)"),
        false => label,
    };
    let mut plan = scheduled(cfg, prepared, slot, qps, duration, label);
    if let LevelPlan::Open { watch, .. } = &mut plan {
        *watch &= !past_capacity;
    }
    Some(plan)
}

/// Where a level goes: its place, its probe number in a search, its start on the common clock.
#[derive(Debug, Clone, Copy)]
struct Slot {
    index: usize,
    probe: Option<usize>,
    start_at: Option<Instant>,
    /// `--repeat`: which repetition, 1-based.
    repeat: Option<u32>,
}

/// A closed-loop level of `workers` (this shard's share of them, with `--shard`).
fn closed(cfg: &Config, prepared: &Prepared, workers: usize, slot: Slot) -> LevelPlan {
    let i = slot.index;
    eprintln!(
        "Level {}/{}: concurrency {workers} ({}s{})",
        i + 1,
        cfg.levels.concurrency().len(),
        cfg.duration.as_secs_f64(),
        slice(cfg)
    );
    let own = cfg.shard.map_or(workers, |s| s.share_of(workers));
    let picker = match cfg.workload.sample_order {
        SampleOrder::Cycle => Picker::Cycle(prepared.choices()),
        // Arrivals are not known in advance: walk the length order.
        SampleOrder::Spread => Picker::Walk(prepared.by_length.clone()),
    };
    LevelPlan::Closed(ClosedLevel {
        id: LevelId::concurrency(i, own),
        workers,
        duration: cfg.duration,
        work: prepared.work.clone(),
        picker,
        shard: cfg.shard,
        start_at: slot.start_at,
    })
}

/// An open-loop level at `qps` for `duration` on the run's arrival process, announced as `label`.
fn scheduled(
    cfg: &Config,
    prepared: &Prepared,
    slot: Slot,
    qps: f64,
    duration: Duration,
    label: String,
) -> LevelPlan {
    let seed = schedule::level_seed(cfg.seed, slot.index);
    let offsets = schedule::shaped(&shape(cfg), qps, duration, seed);
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
        "{label}: QPS {qps} ({count}, {}, {}s{}){}",
        cfg.arrival,
        (duration.as_secs_f64() * 10.0).round() / 10.0,
        slice(cfg),
        mix(cfg, prepared, n)
    );
    let level = open(cfg, prepared, slot, qps, offsets, duration);
    LevelPlan::Open {
        level,
        duration_s: (duration != cfg.duration).then_some(duration.as_secs_f64()),
        watch: cfg.stop_on_saturation,
    }
}

/// An open-loop level of `offsets` at `qps`: a shard's offers its share of the plan's arrivals,
/// at its share of the rate.
fn open(
    cfg: &Config,
    prepared: &Prepared,
    slot: Slot,
    qps: f64,
    offsets: Vec<Duration>,
    duration: Duration,
) -> Level {
    let total = offsets.len();
    let picker = match (&prepared.work, cfg.workload.sample_order) {
        (Work::Trace(_), _) | (_, SampleOrder::Cycle) => Picker::Cycle(prepared.choices()),
        (_, SampleOrder::Spread) => {
            let seed = schedule::level_seed(cfg.seed, slot.index);
            Picker::planned(&prepared.by_length, total, seed)
        }
    };
    let (own, plan) = match cfg.shard {
        Some(s) => (
            qps * s.share_of(total) as f64 / total.max(1) as f64,
            Some(PlanShare {
                qps,
                arrivals: total as u64,
            }),
        ),
        None => (qps, None),
    };
    Level {
        id: LevelId {
            index: slot.index,
            offered: Offered::Rate(own),
            probe: slot.probe,
            plan,
            repeat: slot.repeat,
        },
        qps: own,
        offsets,
        duration,
        max_concurrency: cfg.max_concurrency,
        work: prepared.work.clone(),
        picker,
        shard: cfg.shard,
        start_at: slot.start_at,
    }
}

/// What a level of `arrivals` arrivals sends of the dataset, when it cannot send all of it: "; 15
/// of the 30 samples, spread over their lengths".
fn mix(cfg: &Config, prepared: &Prepared, arrivals: usize) -> String {
    let n = prepared.choices();
    if arrivals >= n || matches!(prepared.work, Work::Trace(_)) {
        return String::new();
    }
    let what = match prepared.work {
        Work::Sessions(_) => "conversations",
        _ => "samples",
    };
    match cfg.workload.sample_order {
        SampleOrder::Spread => {
            format!("; {arrivals} of the {n} {what}, spread over their lengths")
        }
        SampleOrder::Cycle => {
            format!("; only the first {arrivals} of the {n} {what} (--sample-order cycle)")
        }
    }
}

/// ", shard 1/3" for a shard's level lines.
fn slice(cfg: &Config) -> String {
    cfg.shard
        .map(|s| format!(", shard {}/{}", s.index, s.count))
        .unwrap_or_default()
}
