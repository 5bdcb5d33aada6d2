//! The kind of run, decided once when the flags are validated (`Config::from_args`) or a results
//! folder is read (`output/metadata`): fixed rates, a `--qps auto` search, closed-loop
//! `--concurrency` levels, or a `--trace` replay. Everything that behaves differently by kind
//! (planning, the pipeline, metadata, the report, merge) matches on [`Levels`].
//!
//! Sessions (`--sessions`) are not a kind of their own: they say what one arrival is (a whole
//! conversation instead of one request), and run at rates, searched rates or concurrency alike, so
//! they stay a workload setting (`config/workload.rs`).
//!
//! Each planned level carries its identity ([`LevelId`]: place, what it offers, probe number,
//! shard share) from the moment the pipeline plans it; the measuring stage passes it on with the
//! level's records and the report reads it from there.

use serde::{Deserialize, Serialize};

/// `--qps auto`: how the search runs (`analyze/search.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AutoQps {
    pub start_qps: f64,
    /// Relative width of the final bracket (0.05 = 5%).
    pub tolerance: f64,
    /// The same in percent, as `--qps-tolerance` and `summary.search.tolerance_pct` give it
    /// (folders written before it was recorded lack it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_pct: Option<f64>,
    /// `--capacity-precision`, percent (folders written before it existed searched without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision_pct: Option<f64>,
    /// Seconds of a full-length probe (`--duration`).
    pub duration_s: f64,
    /// Endpoint seconds the whole search may use.
    pub budget_s: Option<f64>,
    /// The shortest growth probe, seconds (`--min-probe-duration`; folders written before it
    /// existed used the default).
    #[serde(default = "default_min_probe_s")]
    pub min_probe_s: f64,
}

fn default_min_probe_s() -> f64 {
    crate::cli::defaults::MIN_PROBE_S
}

/// How a run's levels are chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum Levels {
    /// `--qps 1,5,10`: open-loop levels at these rates, in this order.
    Rates(Vec<f64>),
    /// `--qps auto`: open-loop probes the search chooses one at a time.
    Search(AutoQps),
    /// `--concurrency 1,8,32`: closed-loop levels holding this many arrivals in flight.
    Concurrency(Vec<usize>),
    /// `--trace`: one open-loop level on the trace's own timestamps.
    Trace,
}

impl Levels {
    /// How many levels the run plans; `None` for a search, which decides as it goes.
    pub fn planned(&self) -> Option<usize> {
        match self {
            Levels::Rates(r) => Some(r.len()),
            Levels::Search(_) => None,
            Levels::Concurrency(c) => Some(c.len()),
            Levels::Trace => Some(1),
        }
    }

    /// The search's settings, for `--qps auto`.
    pub fn search(&self) -> Option<AutoQps> {
        match self {
            Levels::Search(a) => Some(*a),
            _ => None,
        }
    }

    /// Whether levels hold a number of arrivals in flight instead of offering a rate.
    pub fn closed_loop(&self) -> bool {
        matches!(self, Levels::Concurrency(_))
    }

    /// The fixed rates of `--qps r1,r2,...` (empty for the other kinds).
    pub fn rates(&self) -> &[f64] {
        match self {
            Levels::Rates(r) => r,
            _ => &[],
        }
    }

    /// The closed-loop levels of `--concurrency` (empty for the other kinds).
    pub fn concurrency(&self) -> &[usize] {
        match self {
            Levels::Concurrency(c) => c,
            _ => &[],
        }
    }
}

/// What a level offers the endpoint: arrivals at a rate, or arrivals held in flight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Offered {
    /// Arrivals per second (a shard's share of the plan's rate, for a shard).
    Rate(f64),
    /// Arrivals in flight (a shard's own workers, for a shard).
    Concurrency(usize),
}

/// A shard's level: the whole plan's rate and arrivals, of which this shard sent its share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanShare {
    pub qps: f64,
    pub arrivals: u64,
}

/// `--repeat N`: each level run `n` times, in `order`. With fixed rates, `Levels::Rates` holds
/// the rates in run order (every repetition a level of its own); the report combines each rate's
/// repetitions (`analyze/repeat.rs`). A search repeats each probe back to back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repeat {
    pub n: usize,
    pub order: crate::cli::RepeatOrder,
}

impl Repeat {
    /// `rates` in run order, each `n` times.
    pub fn expand(&self, rates: &[f64]) -> Vec<f64> {
        match self.order {
            crate::cli::RepeatOrder::Interleaved => rates.repeat(self.n),
            crate::cli::RepeatOrder::Grouped => {
                rates.iter().flat_map(|&r| [r].repeat(self.n)).collect()
            }
        }
    }

    /// Which repetition (1-based) run-order level `i` is, of a plan of `distinct` levels.
    pub fn repetition(&self, i: usize, distinct: usize) -> u32 {
        let n = match self.order {
            crate::cli::RepeatOrder::Interleaved => i / distinct.max(1),
            crate::cli::RepeatOrder::Grouped => i % self.n.max(1),
        };
        n as u32 + 1
    }
}

/// A level's identity, fixed when it is planned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelId {
    /// Position in the run, 0-based.
    pub index: usize,
    pub offered: Offered,
    /// `--qps auto`: the probe's place in the search, 1-based.
    pub probe: Option<usize>,
    /// `--shard`, on an open-loop level: the plan's level this shard sent a share of.
    pub plan: Option<PlanShare>,
    /// `--repeat`: which repetition of its level this is, 1-based.
    pub repeat: Option<u32>,
}

impl LevelId {
    /// Level `index` of a run at fixed rates, offering `qps`.
    pub fn rate(index: usize, qps: f64) -> Self {
        LevelId {
            index,
            offered: Offered::Rate(qps),
            probe: None,
            plan: None,
            repeat: None,
        }
    }

    /// Level `index` of a closed-loop run, holding `workers` arrivals in flight.
    pub fn concurrency(index: usize, workers: usize) -> Self {
        LevelId {
            index,
            offered: Offered::Concurrency(workers),
            probe: None,
            plan: None,
            repeat: None,
        }
    }

    /// The arrivals a closed-loop level holds in flight.
    pub fn workers(&self) -> Option<usize> {
        match self.offered {
            Offered::Concurrency(n) => Some(n),
            Offered::Rate(_) => None,
        }
    }
}
