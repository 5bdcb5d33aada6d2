//! `Report`: the one output contract. Built from the levels' records (`measure::record::LevelRun`),
//! written as `benchmark_qps_results.json` by `output/files.rs`, printed by `output/console.rs` and
//! drawn by `output/chart.rs`.
//!
//! The analysis is split so that data flows one way, with no module calling back into another:
//! `level.rs` summarises and judges each level (`LevelReport`, with its `verdict.rs` assessment),
//! `summary.rs` reads the judged levels into the run's answer, and this file puts them together.
//! The JSON keys and their order are those of the reference tool plus redline's additions (see
//! `level.rs`).

use crate::analyze::level::{level_report, LevelReport};
use crate::analyze::search;
use crate::analyze::summary::{summarize, Kind, RunShape, Summary};
use crate::analyze::verdict::Verdict;
use crate::config::{Levels, ReportOptions};
use crate::measure::record::LevelRun;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub version: &'static str,
    pub results: Vec<LevelReport>,
    pub summary: Summary,
}

impl Report {
    /// The run's answer from levels already judged (by [`level_report`] with the same options).
    /// With `--qps auto` the levels are the search's probes, in search order (each numbered by its
    /// `LevelId` when it was planned).
    pub fn new(results: Vec<LevelReport>, o: &ReportOptions) -> Self {
        // Every planned run (each repetition counts) ran, and none was interrupted.
        let cut_short = results.iter().any(|l| l.partial)
            || o.levels.planned().is_some_and(|n| results.len() < n);
        // `--repeat`: each level's repetitions become one level of their means.
        let results = match o.repeat {
            Some(_) => crate::analyze::repeat::combine(results),
            None => results,
        };
        // A search's short growth probes find the bracket; only full-length probes may set the
        // maximum (a FAIL, short or not, is a FAIL).
        let answer: Vec<LevelReport> = match o.levels.search() {
            Some(a) => results
                .iter()
                .filter(|l| {
                    l.assessment.verdict != Verdict::Pass || search::full_length(l, a.duration_s)
                })
                .cloned()
                .collect(),
            None => results.clone(),
        };
        let shape = RunShape {
            kind: match &o.levels {
                Levels::Rates(_) => Kind::Rates,
                Levels::Search(_) => Kind::Search,
                Levels::Concurrency(_) => Kind::Concurrency,
                Levels::Trace => Kind::Trace,
            },
            cut_short,
            unconfirmed_passes: answer.len() < results.len(),
        };
        let mut summary = summarize(&answer, shape, &o.policy, o.pricing, o.daily_tokens);
        if let Some(a) = o.levels.search() {
            let s = search::summarize(&search::plan(a), &results);
            summary.capacity_ci =
                crate::analyze::capacity::interval(&results, s.capacity_qps, s.first_fail_qps);
            summary.search = Some(s);
        }
        Report {
            tool: "redline",
            version: env!("CARGO_PKG_VERSION"),
            results,
            summary,
        }
    }

    /// The report of levels already run, from their records.
    pub fn from_runs(runs: &[LevelRun], o: &ReportOptions) -> Self {
        let levels = runs.iter().map(|r| level_report(r, o)).collect();
        Report::new(levels, o)
    }
}
