//! A sweep's folder: `sweep.json` (the sweep's settings, then each configuration with its status,
//! its figures at capacity and its `pareto` flag), and the frontier as a console table,
//! `frontier.md` and `frontier.csv`. `commands/sweep` writes `sweep.json` after every configuration,
//! so an interrupted sweep can be resumed from it; `chart/frontier.rs` draws `frontier.png`.
//!
//! Each configuration's own results are a normal results folder beside `sweep.json`, named by its
//! `dir`, which `redline report` and `redline compare` read as any other.

use crate::analyze::frontier::{pareto, AtCapacity};
use crate::output::files;
use crate::output::table::aligned;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

pub const SWEEP_JSON: &str = "sweep.json";
pub const SERVER_LOG: &str = "server.log";

/// `sweep.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepFile {
    pub tool: String,
    pub version: String,
    pub started: String,
    /// `--serve`, the server command template; absent when the sweep measured `--endpoint` as
    /// it was.
    pub serve: Option<String>,
    /// The run's flags, placeholders unfilled (no key: those come from the environment).
    pub run_flags: Vec<String>,
    pub serve_timeout_s: f64,
    pub serve_grace_s: f64,
    /// What the frontier plots: x and y, both higher is better.
    pub frontier_axes: [String; 2],
    pub configurations: Vec<Entry>,
}

/// One configuration in `sweep.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    /// Its results folder, beside `sweep.json`.
    pub dir: String,
    pub params: BTreeMap<String, String>,
    pub status: Status,
    /// Why it failed or has no capacity, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Seconds the server took to answer its readiness check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_ready_s: Option<f64>,
    /// Its figures at capacity, when a level passed.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub at_capacity: Option<AtCapacity>,
    pub pareto: bool,
}

/// Where a configuration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not run yet.
    Pending,
    /// Measured to the end of its plan.
    Done,
    /// Its server did not start, or its run could not start: recorded with the reason.
    Failed,
    /// Interrupted: `--resume` runs it again (its partial folder is kept aside).
    Interrupted,
}

impl SweepFile {
    pub fn read(dir: &Path) -> Result<SweepFile> {
        let path = dir.join(SWEEP_JSON);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {}: --resume takes a sweep's folder (one holding {SWEEP_JSON})",
                path.display()
            )
        })?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a sweep's file", path.display()))
    }

    /// Sets every `pareto` flag from the configurations with a capacity, then writes the file.
    pub fn write(&mut self, dir: &Path) -> Result<()> {
        let points: Vec<Option<(f64, f64)>> = self
            .configurations
            .iter()
            .map(|e| {
                e.at_capacity
                    .as_ref()
                    .map(|a| (a.per_user_tok_s, a.output_tok_s_per_gpu))
            })
            .collect();
        for (e, on) in self.configurations.iter_mut().zip(pareto(&points)) {
            e.pareto = on;
        }
        files::write_json_atomic(&dir.join(SWEEP_JSON), self)
    }

    /// The frontier table's rows (header first), one per configuration in run order.
    pub fn rows(&self) -> Vec<Vec<String>> {
        let priced = self.configurations.iter().any(|e| {
            e.at_capacity
                .as_ref()
                .is_some_and(|a| a.cost_per_million_tokens.is_some())
        });
        let mut header: Vec<String> = [
            "Configuration",
            "Status",
            "Capacity QPS",
            "95% CI",
            "Tok/s per user",
            "Tok/s per GPU",
            "TTFT P95(s)",
        ]
        .map(String::from)
        .to_vec();
        if priced {
            header.push("$/M Tokens".into());
        }
        header.push("Pareto".into());
        let mut rows = vec![header];
        for e in &self.configurations {
            rows.push(row(e, priced));
        }
        rows
    }

    /// The configurations without a capacity, named with their status.
    pub fn without_capacity(&self) -> Vec<String> {
        self.configurations
            .iter()
            .filter(|e| e.at_capacity.is_none())
            .map(|e| format!("{} ({})", e.name, status_word(e.status)))
            .collect()
    }

    /// The console's frontier table.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "\nSWEEP: each configuration at its capacity (* = on the Pareto frontier; >= = no level failed, so it may sustain more)\n",
        );
        out.push_str(&aligned(&self.rows(), "", |_| 8));
        for e in &self.configurations {
            if let Some(r) = &e.reason {
                let _ = writeln!(
                    out,
                    "  {}: {}",
                    e.name,
                    crate::output::table::one_line(r, 300)
                );
            }
        }
        out
    }

    pub fn markdown(&self) -> String {
        let rows = self.rows();
        let mut out = String::new();
        for (i, r) in rows.iter().enumerate() {
            let cells: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
            if i == 0 {
                let _ = writeln!(out, "|{}", "---|".repeat(r.len()));
            }
        }
        out
    }

    /// One line per configuration, with every figure in full precision.
    pub fn csv(&self) -> String {
        let mut out = String::from("configuration,status,capacity_qps,capacity_is_lower_bound,capacity_ci_low,capacity_ci_high,per_user_tok_s,output_tok_s_per_gpu,output_tok_s,num_gpus,ttft_p95_s,tpot_p50_s,cost_per_million_tokens,pareto\n");
        let n = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        for e in &self.configurations {
            let a = e.at_capacity.as_ref();
            let ci = a.and_then(|a| a.capacity_ci);
            let _ = writeln!(
                out,
                "\"{}\",{},{},{},{},{},{},{},{},{},{},{},{},{}",
                e.name.replace('"', "\"\""),
                status_word(e.status),
                n(a.map(|a| a.capacity_qps)),
                a.map(|a| a.capacity_is_lower_bound.to_string())
                    .unwrap_or_default(),
                n(ci.map(|c| c.low)),
                n(ci.map(|c| c.high)),
                n(a.map(|a| a.per_user_tok_s)),
                n(a.map(|a| a.output_tok_s_per_gpu)),
                n(a.map(|a| a.output_tok_s)),
                a.map(|a| a.num_gpus.to_string()).unwrap_or_default(),
                n(a.and_then(|a| a.ttft_p95_s)),
                n(a.and_then(|a| a.tpot_p50_s)),
                n(a.and_then(|a| a.cost_per_million_tokens)),
                e.pareto
            );
        }
        out
    }

    /// Writes `frontier.md` and `frontier.csv`.
    pub fn write_tables(&self, dir: &Path) -> Result<()> {
        for (name, text) in [
            ("frontier.md", self.markdown()),
            ("frontier.csv", self.csv()),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    }
}

pub fn status_word(s: Status) -> &'static str {
    match s {
        Status::Pending => "pending",
        Status::Done => "done",
        Status::Failed => "failed",
        Status::Interrupted => "interrupted",
    }
}

fn row(e: &Entry, priced: bool) -> Vec<String> {
    let mut r = vec![e.name.clone(), status_word(e.status).to_string()];
    match &e.at_capacity {
        Some(a) => {
            let at_least = if a.capacity_is_lower_bound { ">=" } else { "" };
            r.push(format!("{at_least}{:.1}", a.capacity_qps));
            r.push(
                a.capacity_ci
                    .map_or("-".into(), |c| format!("{:.1}-{:.1}", c.low, c.high)),
            );
            r.push(format!("{:.1}", a.per_user_tok_s));
            r.push(format!("{:.0}", a.output_tok_s_per_gpu));
            r.push(a.ttft_p95_s.map_or("-".into(), |t| format!("{t:.3}")));
            if priced {
                r.push(
                    a.cost_per_million_tokens
                        .map_or("-".into(), |c| format!("{c:.3}")),
                );
            }
        }
        None => {
            let cells = if priced { 6 } else { 5 };
            r.extend(std::iter::repeat_n("-".to_string(), cells));
        }
    }
    r.push(if e.pareto { "*".into() } else { String::new() });
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(qps: f64, user: f64, gpu: f64, lower: bool) -> AtCapacity {
        AtCapacity {
            capacity_qps: qps,
            capacity_ci: None,
            capacity_is_lower_bound: lower,
            saturation_qps: None,
            saturation_cause: None,
            per_user_tok_s: user,
            tpot_p50_s: None,
            ttft_p95_s: Some(0.25),
            output_tok_s: gpu * 2.0,
            num_gpus: 2,
            output_tok_s_per_gpu: gpu,
            cost_per_million_tokens: None,
        }
    }

    fn entry(name: &str, a: Option<AtCapacity>, status: Status) -> Entry {
        Entry {
            name: name.into(),
            dir: format!("01_{name}"),
            params: BTreeMap::new(),
            status,
            reason: a.is_none().then(|| "the server exited | badly".into()),
            port: None,
            server_ready_s: None,
            at_capacity: a,
            pareto: false,
        }
    }

    fn file() -> SweepFile {
        SweepFile {
            tool: "redline".into(),
            version: "0".into(),
            started: "now".into(),
            serve: None,
            run_flags: vec![],
            serve_timeout_s: 300.0,
            serve_grace_s: 10.0,
            frontier_axes: ["x".into(), "y".into()],
            configurations: vec![
                entry("a", Some(at(10.0, 50.0, 1000.0, false)), Status::Done),
                entry("b", Some(at(30.0, 40.0, 900.0, true)), Status::Done),
                entry("c|x", None, Status::Failed),
            ],
        }
    }

    #[test]
    fn written_flags_mark_the_frontier_and_the_file_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = file();
        f.write(dir.path()).unwrap();
        let pareto: Vec<bool> = f.configurations.iter().map(|e| e.pareto).collect();
        assert_eq!(pareto, [true, false, false]);
        assert_eq!(SweepFile::read(dir.path()).unwrap(), f);
    }

    #[test]
    fn the_tables_say_a_lower_bound_and_a_failure_in_every_format() {
        let mut f = file();
        f.configurations[0].pareto = true;
        let table = f.table();
        assert!(table.contains(">=30.0"), "{table}");
        assert!(table.contains("c|x: the server exited | badly"), "{table}");
        let md = f.markdown();
        // A `|` in a cell would split it into two columns.
        let cells: Vec<usize> = md.lines().map(|l| l.matches(" | ").count()).collect();
        assert_eq!(cells, [7, 0, 7, 7, 7], "{md}");
        let csv = f.csv();
        assert_eq!(csv.lines().count(), 4);
        assert!(csv.contains("\"b\",done,30,true,"), "{csv}");
        assert!(csv.contains("\"c|x\",failed,,,"), "{csv}");
    }
}
