//! `redline compare`: runs side by side, against the first (the baseline). Read from each folder's
//! results JSON and metadata as written (any redline version: a key a run lacks is a blank), so
//! this never recomputes a figure:
//! - the settings that differ between the runs (model, dataset, lengths, arrival, endpoint, ...),
//!   listed first so unlike runs are not compared by accident; runs of another kind than the
//!   baseline's (rates, a search, a closed loop, a trace) are listed with their figures but no
//!   change against it, and never gated (`commands/compare.rs` refuses such a gate); a closed
//!   loop's offered-rate rows stay blank, whatever an older version wrote;
//! - the summaries (maximum sustainable QPS, saturation, recommended limit, capacity, cost);
//! - each level, matched across runs by its rate (or concurrency): success, TTFT, E2E, tokens/s,
//!   throughput, goodput, cost and verdict, with each run's change against the baseline;
//! - with a threshold, the regressions: a chosen metric worse than the baseline's by more than it.
//!
//! `output/compare.rs` renders a [`Comparison`] as a table, markdown, CSV or JSON;
//! `output/chart/compare.rs` draws it.

pub use crate::analyze::comparison::{
    Better, Comparison, LevelRows, Regression, Row, Run, SettingDiff, DEFAULT_GATED,
};
use crate::analyze::significance;
use crate::analyze::tally;
use crate::measure::record::RequestRecord;
use serde_json::Value;

type Getter = fn(&Value) -> Option<f64>;

/// Summary figures: id, label, better, where.
const SUMMARY: [(&str, &str, Better, Getter); 8] = [
    ("max_qps", "Max sustainable QPS", Better::Higher, |s| {
        s["max_sustainable_qps"].as_f64()
    }),
    (
        "max_concurrency",
        "Max sustainable concurrency",
        Better::Higher,
        |s| s["max_sustainable_concurrency"].as_f64(),
    ),
    (
        "achieved_qps_at_max_concurrency",
        "Achieved QPS at max concurrency",
        Better::Higher,
        |s| s["achieved_qps_at_max_concurrency"].as_f64(),
    ),
    (
        "saturation_concurrency",
        "Saturation point (concurrency)",
        Better::Higher,
        |s| s["saturation_concurrency"].as_f64(),
    ),
    (
        "capacity_qps",
        "Capacity (--qps auto)",
        Better::Higher,
        |s| s["search"]["capacity_qps"].as_f64(),
    ),
    (
        "saturation_qps",
        "Saturation point (QPS)",
        Better::Higher,
        |s| s["saturation_qps"].as_f64(),
    ),
    (
        "recommended_qps",
        "Recommended limit (QPS)",
        Better::Higher,
        |s| s["recommended_qps"].as_f64(),
    ),
    (
        "cost_at_recommended",
        "$/M tokens at the limit",
        Better::Lower,
        |s| s["cost_per_million_at_recommended"].as_f64(),
    ),
];

/// Level figures besides the latency percentiles.
const LEVEL: [(&str, &str, Better, Getter); 5] = [
    ("success", "Success%", Better::Higher, |l| {
        l["success_rate"].as_f64()
    }),
    ("throughput", "Total tok/s", Better::Higher, |l| {
        l["total_throughput_tok_s"].as_f64()
    }),
    ("output_throughput", "Output tok/s", Better::Higher, |l| {
        l["output_throughput_tok_s"].as_f64()
    }),
    ("goodput", "Goodput req/s", Better::Higher, |l| {
        l["goodput_qps"].as_f64()
    }),
    ("cost", "$/M tokens", Better::Lower, |l| {
        l["cost_analysis"]["cost_per_million_tokens"].as_f64()
    }),
];

/// The comparison of `runs` (at least two; the first is the baseline): the `settings` (keys of
/// metadata.json, `a.b` reading into an object) that differ, then every figure, with regressions
/// beyond `threshold_pct` in `gated` metrics. The settings come from the one table that also
/// defines a shard's plan (`output/metadata/plan.rs`).
pub fn compare(
    runs: &[Run],
    settings: &[&str],
    threshold_pct: Option<f64>,
    gated: &[String],
    any_change: bool,
) -> Comparison {
    let kinds: Vec<&str> = runs.iter().map(|r| kind(&r.meta)).collect();
    let mut differ = differing(runs, settings);
    if kinds.iter().any(|k| *k != kinds[0]) {
        // Runs of different kinds are listed side by side, never set against each other.
        differ.insert(
            0,
            SettingDiff {
                setting: "kind".into(),
                values: kinds.iter().map(|k| Value::from(*k)).collect(),
            },
        );
    }
    let mut c = Comparison {
        runs: runs
            .iter()
            .map(|r| (r.label.clone(), r.dir.clone()))
            .collect(),
        settings: differ,
        summary: SUMMARY
            .iter()
            .map(|(id, label, better, get)| {
                row(
                    id,
                    label,
                    *better,
                    runs.iter()
                        .zip(&kinds)
                        .map(|(r, k)| {
                            get(&r.results["summary"]).filter(|_| !offered_no_rate(k, id))
                        })
                        .collect(),
                )
            })
            .filter(|r| r.values.iter().any(Option::is_some))
            .collect(),
        levels: levels(runs),
        threshold_pct,
        regressions: Vec::new(),
    };
    for r in &mut c.summary {
        for (i, change) in r.change_pct.iter_mut().enumerate() {
            if kinds[i] != kinds[0] {
                *change = None;
            }
        }
    }
    if let Some(t) = threshold_pct {
        c.regressions = regressions(&c, t, gated, any_change)
            .into_iter()
            .filter(|g| {
                c.runs
                    .iter()
                    .position(|r| r.0 == g.run)
                    .is_none_or(|i| kinds[i] == kinds[0])
            })
            .collect();
    }
    c
}

/// Whether `id` is a rate the run offered, which a closed loop has none of (redline before 0.2
/// wrote one for it, the rate it achieved).
fn offered_no_rate(kind: &str, id: &str) -> bool {
    kind == "concurrency" && matches!(id, "max_qps" | "saturation_qps" | "recommended_qps")
}

/// A run's kind as its metadata records it: `rates`, `search`, `concurrency` or `trace`.
pub fn kind(meta: &Value) -> &'static str {
    if meta["concurrency_levels"].is_array() {
        "concurrency"
    } else if meta["search"].is_object() {
        "search"
    } else if meta["trace"].is_object() {
        "trace"
    } else {
        "rates"
    }
}

fn row(metric: &str, label: &str, better: Better, values: Vec<Option<f64>>) -> Row {
    let base = values.first().copied().flatten();
    let change_pct = values
        .iter()
        .enumerate()
        .map(|(i, v)| match (i, base, v) {
            (0, _, _) => None,
            (_, Some(b), Some(v)) if b != 0.0 => Some((v - b) / b.abs() * 100.0),
            _ => None,
        })
        .collect();
    let n = values.len();
    Row {
        metric: metric.into(),
        label: label.into(),
        better,
        values,
        change_pct,
        p_value: vec![None; n],
        significant: vec![None; n],
    }
}

/// The p-value of `metric`'s difference between the baseline's level `base` and a run's level
/// `other`, from their records: latencies and tokens/s by Mann-Whitney, success by two
/// proportions, throughput by Welch on the per-request tokens.
fn test(metric: &str, base: &[RequestRecord], other: &[RequestRecord]) -> Option<f64> {
    let ok = |recs: &[RequestRecord], f: &dyn Fn(&RequestRecord) -> Option<f64>| -> Vec<f64> {
        recs.iter()
            .filter(|r| r.succeeded())
            .filter_map(f)
            .collect()
    };
    let rank = |f: &dyn Fn(&RequestRecord) -> Option<f64>| {
        significance::mann_whitney(&ok(base, f), &ok(other, f))
    };
    if metric.starts_with("ttft_") {
        rank(&|r| r.ttft_s())
    } else if metric.starts_with("e2e_") {
        rank(&|r| Some(r.e2e_s()))
    } else if metric.starts_with("tokens_per_sec") {
        rank(&|r| r.tokens_per_sec())
    } else if metric == "success" {
        let count = |recs: &[RequestRecord]| recs.iter().filter(|r| r.succeeded()).count() as u64;
        significance::proportions(
            count(base),
            base.len() as u64,
            count(other),
            other.len() as u64,
        )
    } else if metric == "throughput" {
        significance::welch(
            &tally::per_request_total(base),
            &tally::per_request_total(other),
        )
    } else if metric == "output_throughput" {
        significance::welch(
            &tally::per_request_output(base),
            &tally::per_request_output(other),
        )
    } else {
        None
    }
}

fn differing(runs: &[Run], settings: &[&str]) -> Vec<SettingDiff> {
    settings
        .iter()
        .filter_map(|path| {
            let values: Vec<Value> = runs
                .iter()
                .map(|r| path.split('.').fold(&r.meta, |v, k| &v[k]).clone())
                .collect();
            values.iter().any(|v| *v != values[0]).then(|| SettingDiff {
                setting: path.to_string(),
                values,
            })
        })
        .collect()
}

/// A level's key across runs: its concurrency, else its rate; and its label.
fn key(l: &Value) -> Option<(f64, String)> {
    match l["concurrency"].as_f64() {
        Some(n) => Some((n, format!("Concurrency {n}"))),
        None => l["qps_target"].as_f64().map(|q| (q, format!("QPS {q:.1}"))),
    }
}

fn levels(runs: &[Run]) -> Vec<LevelRows> {
    let list = |r: &Run| r.results["results"].as_array().cloned().unwrap_or_default();
    let mut keys: Vec<(f64, String)> = runs
        .iter()
        .flat_map(|r| list(r).iter().filter_map(key).collect::<Vec<_>>())
        .collect();
    keys.sort_by(|a, b| a.0.total_cmp(&b.0));
    keys.dedup_by(|a, b| same(a.0, b.0));
    let percentiles = percentile_keys(runs);
    // Embeddings and rerank answer whole: one latency, inputs per second, no output.
    let whole = runs.iter().all(|r| answers_whole(&r.meta));
    keys.into_iter()
        .map(|(k, label)| {
            // The last level of that key in each run (a search may probe a rate once only), with
            // its place among the run's levels.
            let found: Vec<Option<(usize, Value)>> = runs
                .iter()
                .map(|r| {
                    list(r)
                        .into_iter()
                        .enumerate()
                        .rev()
                        .find(|(_, l)| key(l).is_some_and(|(x, _)| same(x, k)))
                })
                .collect();
            let at: Vec<Option<Value>> = found
                .iter()
                .map(|f| f.as_ref().map(|f| f.1.clone()))
                .collect();
            let records: Vec<&[RequestRecord]> = runs
                .iter()
                .zip(&found)
                .map(|(r, f)| {
                    f.as_ref()
                        .and_then(|(i, _)| r.records.get(*i))
                        .map_or(&[][..], Vec::as_slice)
                })
                .collect();
            let get = |f: &dyn Fn(&Value) -> Option<f64>| {
                at.iter()
                    .map(|l| l.as_ref().and_then(f))
                    .collect::<Vec<_>>()
            };
            // `--repeat`: a level's value in each of its repetitions, for Welch's t over runs.
            let per_run = |i: usize, f: &dyn Fn(&Value) -> Option<f64>| -> Vec<f64> {
                at[i]
                    .as_ref()
                    .and_then(|l| l["repetitions"].as_array())
                    .map_or(vec![], |reps| reps.iter().filter_map(f).collect())
            };
            let mut rows = vec![];
            let mut add =
                |id: &str, name: &str, better: Better, f: &dyn Fn(&Value) -> Option<f64>| {
                    let mut r = row(id, name, better, get(f));
                    for i in 1..runs.len() {
                        let (a, b) = (per_run(0, f), per_run(i, f));
                        r.p_value[i] = if a.len() >= 2 && b.len() >= 2 {
                            significance::welch(&a, &b)
                        } else {
                            test(&r.metric, records[0], records[i])
                        };
                        r.significant[i] = r.p_value[i].map(|p| p < significance::ALPHA);
                    }
                    rows.push(r);
                };
            let (id, name, better, f) = LEVEL[0];
            add(id, name, better, &f);
            let latencies: &[(&str, &str, &str)] = match whole {
                true => &[("e2e", "e2e_latency", "Latency")],
                false => &[("ttft", "ttft", "TTFT"), ("e2e", "e2e_latency", "E2E")],
            };
            for &(metric, field, unit) in latencies {
                for p in &percentiles {
                    add(
                        &format!("{metric}_{p}"),
                        &format!("{unit} {}(s)", p.to_uppercase()),
                        Better::Lower,
                        &|l: &Value| l[field][p].as_f64(),
                    );
                }
            }
            if whole {
                add("inputs_per_s", "Inputs/s", Better::Higher, &|l: &Value| {
                    l["embeddings"]["inputs_per_s"]
                        .as_f64()
                        .or(l["rerank"]["inputs_per_s"].as_f64())
                });
            } else {
                add(
                    "tokens_per_sec_p50",
                    "Tok/s P50",
                    Better::Higher,
                    &|l: &Value| l["tokens_per_sec"]["p50"].as_f64(),
                );
            }
            for (id, name, better, f) in &LEVEL[1..] {
                if !(whole && *id == "output_throughput") {
                    add(id, name, *better, f);
                }
            }
            rows.retain(|r| r.values.iter().any(Option::is_some));
            LevelRows {
                level: label,
                x: k,
                rows,
                verdicts: at
                    .iter()
                    .map(|l| {
                        l.as_ref()
                            .and_then(|l| l["verdict"].as_str().map(String::from))
                    })
                    .collect(),
            }
        })
        .collect()
}

/// A run of an API whose reply comes whole (embeddings, rerank): no TTFT, no output tokens.
fn answers_whole(meta: &Value) -> bool {
    matches!(meta["api"].as_str(), Some("embeddings" | "rerank"))
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

/// The latency percentiles to show: p50, p90, p95, p99 and any other the baseline reported.
fn percentile_keys(runs: &[Run]) -> Vec<String> {
    let mut keys: Vec<String> = ["p50", "p90", "p95", "p99"].map(String::from).to_vec();
    if let Some(obj) = runs[0].results["results"][0]["ttft"].as_object() {
        for k in obj.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys
}

/// The gated metrics worse than the baseline's by more than `t` percent, or lost; a difference
/// the records show to be within noise is no regression unless `any_change`.
fn regressions(c: &Comparison, t: f64, gated: &[String], any_change: bool) -> Vec<Regression> {
    let mut out = Vec::new();
    let rows = c.summary.iter().map(|r| (None, r)).chain(
        c.levels
            .iter()
            .flat_map(|l| l.rows.iter().map(move |r| (Some(&l.level), r))),
    );
    for (level, r) in rows.filter(|(_, r)| gated.contains(&r.metric)) {
        let Some(baseline) = r.values[0] else {
            continue;
        };
        for i in 1..r.values.len() {
            let worse = match (r.values[i], r.change_pct[i]) {
                // The baseline had it, this run does not: as bad as a regression can be.
                (None, _) => true,
                (Some(_), Some(change)) => match r.better {
                    Better::Higher => change < -t,
                    Better::Lower => change > t,
                },
                // A baseline of 0 gives no relative change: any loss of a higher-is-better one.
                (Some(v), None) => r.better == Better::Higher && v < baseline,
            };
            if worse && (any_change || r.significant[i] != Some(false)) {
                out.push(Regression {
                    run: c.runs[i].0.clone(),
                    level: level.cloned(),
                    metric: r.metric.clone(),
                    baseline,
                    value: r.values[i],
                    change_pct: r.change_pct[i],
                });
            }
        }
    }
    out
}

/// The gated metrics that name no row of the comparison (a typo, or a figure these runs lack).
pub fn unknown_metrics<'a>(c: &Comparison, gated: &'a [String]) -> Vec<&'a str> {
    let rows: Vec<&str> = c
        .summary
        .iter()
        .chain(c.levels.iter().flat_map(|l| &l.rows))
        .map(|r| r.metric.as_str())
        .collect();
    gated
        .iter()
        .filter(|g| !rows.contains(&g.as_str()))
        .map(String::as_str)
        .collect()
}

/// Every metric id a comparison can gate, for `--metrics`'s error message.
pub fn metric_ids() -> Vec<String> {
    let mut ids: Vec<String> = SUMMARY.iter().map(|s| s.0.to_string()).collect();
    ids.extend(LEVEL.iter().map(|l| l.0.to_string()));
    ids.extend(["ttft_pNN", "e2e_pNN", "tokens_per_sec_p50", "inputs_per_s"].map(String::from));
    ids
}

#[cfg(test)]
#[path = "compare_tests.rs"]
mod tests;
