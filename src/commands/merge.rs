//! `redline merge DIR...`: the results folders of a plan's shards (`--shard I/N`) as one results
//! folder in the normal format. Each level is rebuilt from the union of the shards' raw records
//! through the same `LevelRun` and `Report` as a single run, so every percentile is exact (never
//! an average of the shards' percentiles) and the verdicts are judged on the whole load. Folders
//! of different plans (another seed, levels, dataset, endpoint, model, ...) are refused, naming
//! what differs; missing shards are named, and a merge without them needs `--allow-missing`, when
//! the levels' rates become the share of the plan that ran and the summary says so. The shards'
//! start spread and each shard's first-send lag go into the merged metadata.

use crate::analyze::report::Report;
use crate::cli::{MergeArgs, PolicyArgs};
use crate::commands::report::{merge_notes, options_with, read_metadata, records, server_scrapes};
use crate::measure::record::{LevelRun, RequestRecord};
use crate::output::jsonl::JsonlWriter;
use crate::output::metadata::{LevelInfo, Metadata};
use crate::output::{console, files};
use crate::pipeline::SERVER_METRICS;
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::path::{Path, PathBuf};

/// One shard's folder, read.
struct ShardRun {
    dir: PathBuf,
    meta: Metadata,
    index: usize,
    records: Vec<Vec<RequestRecord>>,
}

pub fn run(a: &MergeArgs) -> Result<Report> {
    let shards = a.dirs.iter().map(|d| read(d)).collect::<Result<Vec<_>>>()?;
    let (count, missing) = check(&shards, a.allow_missing)?;
    let base = &shards[0];
    let levels = (0..shards
        .iter()
        .map(|s| s.meta.levels.len())
        .max()
        .unwrap_or(0))
        .map(|k| level(&shards, k))
        .collect::<Vec<_>>();
    let mut meta = base.meta.clone();
    meta.concurrency_levels = base
        .meta
        .shard
        .as_ref()
        .and_then(|s| s.plan_concurrency_levels.clone());
    meta.shard = None;
    meta.reports.clear();
    meta.qps_levels = levels.iter().map(|(run, _)| run.qps).collect();
    meta.levels = levels.iter().map(|(_, info)| info.clone()).collect();
    meta.completed = missing.is_empty() && shards.iter().all(|s| s.meta.completed);
    let share = arrivals_share(&shards);
    let planned = base.meta.shard.as_ref().map_or(0, |s| {
        s.plan_concurrency_levels
            .as_ref()
            .map_or(s.plan_qps_levels.len().max(1), Vec::len)
    });
    meta.merged = Some(merged_info(&shards, count, &missing, share, planned));
    let now = chrono::Local::now();
    meta.timestamp = now.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    let dir = match &a.output_dir {
        Some(d) => output_dir(d, &shards)?,
        None => files::create_run_dir(&a.results_dir, now)?,
    };
    let opts = options_with(&meta, None, None, None, &PolicyArgs::default())?;
    let mut runs: Vec<LevelRun> = levels.into_iter().map(|(run, _)| run).collect();
    // The endpoint's metrics are the same whichever shard scraped them: the first shard's.
    if let Some(with) = shards.iter().find(|s| s.dir.join(SERVER_METRICS).exists()) {
        let mut scrapes = server_scrapes(&with.dir, runs.len());
        for (run, s) in runs.iter_mut().zip(scrapes.iter_mut()) {
            run.server = std::mem::take(s);
        }
        std::fs::copy(with.dir.join(SERVER_METRICS), dir.join(SERVER_METRICS))
            .with_context(|| format!("cannot write {}", dir.join(SERVER_METRICS).display()))?;
    }
    let mut report = Report::from_runs(&runs, &opts);
    if runs.len() < planned {
        meta.completed = false;
    }
    report.summary.notes.extend(merge_notes(&meta, runs.len()));
    files::write_json_atomic(&dir.join("metadata.json"), &meta)?;
    write_records(&dir, &runs)?;
    files::write_json_atomic(&dir.join(&meta.output), &report)?;
    eprintln!("{}", describe(&meta));
    let plot = (a.plot || a.plot_format.is_some()).then_some((
        meta.plot_output.as_str(),
        crate::cli::PlotFormat::for_output(a.plot_format, &meta.plot_output),
    ));
    console::present(&report, &opts, &dir, plot);
    Ok(report)
}

/// `--output-dir`: a new or empty folder, never one of the shards' (their raw records would be
/// overwritten).
fn output_dir(d: &Path, shards: &[ShardRun]) -> Result<PathBuf> {
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if let Some(s) = shards.iter().find(|s| same(&s.dir, d)) {
        bail!(
            "--output-dir {} is shard {}'s folder: write the merge elsewhere",
            d.display(),
            s.index
        );
    }
    if d.read_dir().is_ok_and(|mut e| e.next().is_some()) {
        bail!(
            "--output-dir {} is not empty: give a new folder (a merge never overwrites one)",
            d.display()
        );
    }
    std::fs::create_dir_all(d)
        .with_context(|| format!("cannot create --output-dir {}", d.display()))?;
    Ok(d.to_path_buf())
}

fn read(dir: &Path) -> Result<ShardRun> {
    let meta = read_metadata(dir)?;
    let Some(shard) = &meta.shard else {
        bail!("{} is not a shard's folder (its metadata.json has no \"shard\"): merge the folders of runs made with --shard I/N", dir.display());
    };
    if shard.count == 0 || shard.index >= shard.count {
        bail!(
            "{}: metadata.json says shard {} of {}, which is not a shard of a plan",
            dir.display(),
            shard.index,
            shard.count
        );
    }
    let index = shard.index;
    let records = records(dir, meta.levels.len().max(meta.qps_levels.len()))?;
    Ok(ShardRun {
        dir: dir.to_path_buf(),
        meta,
        index,
        records,
    })
}

/// The plan's shard count and its missing shards; an error for unlike plans, a shard given twice,
/// or missing shards without `allow_missing`.
fn check(shards: &[ShardRun], allow_missing: bool) -> Result<(usize, Vec<usize>)> {
    let first = &shards[0];
    let info = |s: &ShardRun| s.meta.shard.clone().expect("read() keeps only shards");
    let (count, id) = (info(first).count, info(first).plan_id);
    for s in &shards[1..] {
        if info(s).plan_id != id || s.meta.plan_id() != first.meta.plan_id() {
            let differs: Vec<String> = first
                .meta
                .plan()
                .into_iter()
                .zip(s.meta.plan())
                .filter(|(a, b)| a.1 != b.1)
                .map(|(a, b)| format!("{} ({} vs {})", a.0, a.1, b.1))
                .collect();
            bail!(
                "{} and {} are shards of different plans: {}; merge the shards of one run (the same flags, --seed and --start-at on every shard)",
                first.dir.display(),
                s.dir.display(),
                if differs.is_empty() { format!("plan {id} vs {}", info(s).plan_id) } else { differs.join(", ") }
            );
        }
    }
    let mut seen = vec![None; count];
    for s in shards {
        if let Some(other) = seen.get(s.index).cloned().flatten() {
            bail!(
                "shard {} is given twice: {} and {}",
                s.index,
                Path::new(&other).display(),
                s.dir.display()
            );
        }
        seen[s.index] = Some(s.dir.display().to_string());
    }
    let missing: Vec<usize> = (0..count).filter(|&i| seen[i].is_none()).collect();
    if !missing.is_empty() && !allow_missing {
        bail!(
            "shard{} {} of {count} {} missing: merge every shard's folder, or add --allow-missing to merge the share of the plan that ran",
            if missing.len() == 1 { "" } else { "s" },
            list(&missing),
            if missing.len() == 1 { "is" } else { "are" }
        );
    }
    Ok((count, missing))
}

fn list(v: &[usize]) -> String {
    v.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Level `k` from the union of the shards' records: the plan's rate (times the share of its
/// arrivals the present shards sent), or for a closed-loop level the rates the shards achieved.
fn level(shards: &[ShardRun], k: usize) -> (LevelRun, LevelInfo) {
    let infos: Vec<&LevelInfo> = shards.iter().filter_map(|s| s.meta.levels.get(k)).collect();
    let mut recs: Vec<RequestRecord> = shards
        .iter()
        .flat_map(|s| s.records.get(k).cloned().unwrap_or_default())
        .collect();
    recs.sort_by_key(|r| r.index);
    let arrivals = recs.iter().filter(|r| r.is_arrival()).count() as f64;
    let plan = infos.iter().find_map(|i| i.plan_qps.zip(i.plan_arrivals));
    let qps = match plan {
        Some((qps, planned)) => qps * arrivals / (planned as f64).max(1.0),
        None => infos.iter().map(|i| i.qps).sum(),
    };
    // Each shard's records carry its share of the target: its rate, or on a closed loop its
    // workers. The merged records carry the merged level's rate, or all the shards' workers.
    let target = match plan {
        Some(_) => qps,
        None => shards
            .iter()
            .filter_map(|s| s.records.get(k)?.first().map(|r| r.qps_target))
            .sum(),
    };
    for r in &mut recs {
        r.qps_target = target;
    }
    let base = &shards[0].meta;
    let planned = infos
        .iter()
        .find_map(|i| i.duration_s)
        .unwrap_or(base.duration);
    let partial = infos.iter().any(|i| i.partial) || infos.len() < shards.len();
    let window = infos.iter().map(|i| i.send_window_s).fold(0.0, f64::max);
    let run = LevelRun::new(qps, planned, recs, partial.then_some(window.max(1e-6)));
    let info = LevelInfo {
        qps,
        send_window_s: run.send_window_s,
        partial: run.partial,
        duration_s: infos.iter().find_map(|i| i.duration_s),
        plan_qps: None,
        plan_arrivals: None,
    };
    (run, info)
}

/// The share of the plan's arrivals the shards sent (1 when every shard is there).
fn arrivals_share(shards: &[ShardRun]) -> f64 {
    let (mut sent, mut planned) = (0.0, 0.0);
    for k in 0..shards
        .iter()
        .map(|s| s.meta.levels.len())
        .max()
        .unwrap_or(0)
    {
        let p = shards
            .iter()
            .filter_map(|s| s.meta.levels.get(k)?.plan_arrivals)
            .next();
        let Some(p) = p else { continue };
        planned += p as f64;
        sent += shards
            .iter()
            .map(|s| {
                s.records
                    .get(k)
                    .map_or(0, |r| r.iter().filter(|r| r.is_arrival()).count())
            })
            .sum::<usize>() as f64;
    }
    if planned > 0.0 {
        sent / planned
    } else {
        1.0
    }
}

/// The merged metadata's account of its shards: which, how their starts spread, how late each
/// sent first.
fn merged_info(
    shards: &[ShardRun],
    count: usize,
    missing: &[usize],
    share: f64,
    plan_levels: usize,
) -> serde_json::Value {
    let info = |s: &ShardRun| s.meta.shard.clone().expect("read() keeps only shards");
    let starts: Vec<chrono::DateTime<chrono::FixedOffset>> = shards
        .iter()
        .filter_map(|s| chrono::DateTime::parse_from_rfc3339(info(s).started_at.as_deref()?).ok())
        .collect();
    let spread = match (starts.iter().min(), starts.iter().max()) {
        (Some(a), Some(b)) => Some((*b - *a).num_microseconds().unwrap_or(0) as f64 / 1e6),
        _ => None,
    };
    let mut present: Vec<&ShardRun> = shards.iter().collect();
    present.sort_by_key(|s| s.index);
    json!({
        "plan_id": info(&shards[0]).plan_id,
        "shards": count,
        "merged": present.iter().map(|s| s.index).collect::<Vec<_>>(),
        "missing": missing,
        "share_of_plan_pct": share * 100.0,
        "plan_levels": plan_levels,
        "start_spread_s": spread,
        "shard_runs": present.iter().map(|s| {
            let i = info(s);
            json!({"index": i.index, "dir": s.dir.display().to_string(), "host": i.host,
                   "started_at": i.started_at, "first_send_lag_s": i.first_send_lag_s})
        }).collect::<Vec<_>>(),
    })
}

/// The merged folder's requests.jsonl: each level's records, by index.
fn write_records(dir: &Path, runs: &[LevelRun]) -> Result<()> {
    let mut out = JsonlWriter::create(&dir.join("requests.jsonl"))
        .with_context(|| format!("cannot create requests.jsonl in {}", dir.display()))?;
    for r in runs.iter().flat_map(|run| &run.records) {
        out.write(r);
    }
    out.flush()
        .map_err(|e| anyhow::anyhow!("requests.jsonl in {} is incomplete: {e}", dir.display()))
}

/// "Merged 3 of 3 shards of plan 1f2e...: starts within 2.1 ms; first sends 0.4 / 0.5 / 0.4 ms late".
fn describe(meta: &Metadata) -> String {
    let m = meta.merged.clone().unwrap_or_default();
    let lags: Vec<String> = m["shard_runs"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|s| match s["first_send_lag_s"].as_f64() {
                    Some(l) => format!("{:.1}", l * 1e3),
                    None => "-".into(),
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "Merged {} of {} shards of plan {}: starts within {} ms of each other (as each machine's clock tells it); first sends {} ms late",
        m["merged"].as_array().map_or(0, Vec::len),
        m["shards"],
        m["plan_id"].as_str().unwrap_or("?"),
        m["start_spread_s"].as_f64().map_or("?".into(), |s| format!("{:.1}", s * 1e3)),
        lags.join(" / ")
    )
}
