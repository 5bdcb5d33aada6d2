//! `redline merge DIR...`: the results folders of a plan's shards (`--shard I/N`) as one results
//! folder in the normal format. Each level is rebuilt from the union of the shards' raw records
//! through the same `LevelRun` and `Report` as a single run, so every percentile is exact (never
//! an average of the shards' percentiles) and the verdicts are judged on the whole load. Folders
//! of different plans (another seed, levels, dataset, endpoint, model, ...) are refused, naming
//! what differs; missing shards are named, and a merge without them needs `--allow-missing`, when
//! the levels' rates become the share of the plan that ran and the summary says so. The shards'
//! start spread and each shard's first-send lag go into the merged metadata (`MergeRecord`).

use crate::analyze::report::Report;
use crate::cli::MergeArgs;
use crate::config::{LevelId, Offered};
use crate::measure::checked::TokenCheck;
use crate::measure::record::{LevelRun, RequestRecord};
use crate::output::console;
use crate::output::folder::RunFolder;
use crate::output::metadata::merge::list;
use crate::output::metadata::{LevelInfo, MergeRecord, Metadata, Overrides, ShardInfo, ShardRun};
use anyhow::{bail, Result};
use std::path::Path;

/// One shard's folder, read.
struct Shard {
    folder: RunFolder,
    meta: Metadata,
    info: ShardInfo,
    records: Vec<Vec<RequestRecord>>,
}

pub fn run(a: &MergeArgs) -> Result<Report> {
    let shards = a.dirs.iter().map(|d| read(d)).collect::<Result<Vec<_>>>()?;
    let (count, missing) = check(&shards, a.allow_missing)?;
    let levels_run = shards
        .iter()
        .map(|s| s.meta.levels.len())
        .max()
        .unwrap_or(0);
    let levels: Vec<(LevelRun, LevelInfo)> = (0..levels_run).map(|k| level(&shards, k)).collect();
    let planned = shards[0].meta.planned_levels().unwrap_or(0);
    let meta = merged_metadata(&shards, &levels, count, &missing, planned);
    let now = chrono::Local::now();
    let folder = match &a.output_dir {
        Some(d) => output_dir(d, &shards)?,
        None => RunFolder::create(&a.results_dir, now)?,
    };
    let opts = meta.report_options(&Overrides::default())?;
    let mut runs: Vec<LevelRun> = levels.into_iter().map(|(run, _)| run).collect();
    // The endpoint's metrics are the same whichever shard scraped them: the first shard's.
    if let Some(with) = shards.iter().find(|s| s.folder.has_server_metrics()) {
        let mut scrapes = with.folder.scrapes(runs.len());
        for (run, s) in runs.iter_mut().zip(scrapes.iter_mut()) {
            run.server = std::mem::take(s);
        }
        folder.copy_server_metrics(&with.folder)?;
    }
    let mut report = Report::from_runs(&runs, &opts);
    if let Some(m) = &meta.merged {
        report.summary.notes.extend(m.notes(runs.len()));
    }
    folder.write_metadata(&meta)?;
    folder.write_records(&runs)?;
    folder.write_results(&meta.output, &report)?;
    if let Some(m) = &meta.merged {
        eprintln!("{}", m.describe());
    }
    let plot = a.plot.wanted().then_some((
        meta.plot_output.as_str(),
        crate::cli::PlotFormat::for_output(a.plot.plot_format, &meta.plot_output),
    ));
    let html = a.plot.html_wanted().then_some(meta.plot_output.as_str());
    console::present(&report, &opts, folder.path(), plot, html);
    Ok(report)
}

/// The merged run's metadata: the first shard's settings, the plan's levels (closed-loop: the
/// plan's workers), the merged levels, and what the merge joined.
fn merged_metadata(
    shards: &[Shard],
    levels: &[(LevelRun, LevelInfo)],
    count: usize,
    missing: &[usize],
    planned: usize,
) -> Metadata {
    let mut meta = shards[0].meta.clone();
    meta.concurrency_levels = shards[0].info.plan_concurrency_levels.clone();
    meta.shard = None;
    meta.reports.clear();
    meta.qps_levels = levels.iter().map(|(run, _)| run.qps).collect();
    meta.levels = levels.iter().map(|(_, info)| info.clone()).collect();
    meta.completed =
        missing.is_empty() && shards.iter().all(|s| s.meta.completed) && levels.len() >= planned;
    meta.merged = Some(merge_record(
        shards,
        count,
        missing,
        arrivals_share(shards),
        planned,
    ));
    meta.timestamp = chrono::Local::now()
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string();
    meta
}

/// `--output-dir`: a new or empty folder, never one of the shards' (their raw records would be
/// overwritten).
fn output_dir(d: &Path, shards: &[Shard]) -> Result<RunFolder> {
    if let Some(s) = shards.iter().find(|s| s.folder.is(d)) {
        bail!(
            "--output-dir {} is shard {}'s folder: write the merge elsewhere",
            d.display(),
            s.info.index
        );
    }
    RunFolder::create_empty(d)
}

fn read(dir: &Path) -> Result<Shard> {
    let folder = RunFolder::open(dir);
    let meta = folder.metadata()?;
    let Some(info) = meta.shard.clone() else {
        bail!("{} is not a shard's folder (its metadata.json has no \"shard\"): merge the folders of runs made with --shard I/N", dir.display());
    };
    if info.count == 0 || info.index >= info.count {
        bail!(
            "{}: metadata.json says shard {} of {}, which is not a shard of a plan",
            dir.display(),
            info.index,
            info.count
        );
    }
    let records = folder.records(meta.levels.len().max(meta.qps_levels.len()))?;
    if let Some(w) = folder.skipped_warning(&records.skipped) {
        eprintln!("{w}");
    }
    Ok(Shard {
        folder,
        meta,
        info,
        records: records.by_level,
    })
}

/// The plan's shard count and its missing shards; an error for unlike plans, a shard given twice,
/// or missing shards without `allow_missing`.
fn check(shards: &[Shard], allow_missing: bool) -> Result<(usize, Vec<usize>)> {
    let first = &shards[0];
    let (count, id) = (first.info.count, &first.info.plan_id);
    for s in &shards[1..] {
        if s.info.plan_id != *id || s.meta.plan_id() != first.meta.plan_id() {
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
                first.folder.path().display(),
                s.folder.path().display(),
                if differs.is_empty() { format!("plan {id} vs {}", s.info.plan_id) } else { differs.join(", ") }
            );
        }
    }
    let mut seen: Vec<Option<&Shard>> = vec![None; count];
    for s in shards {
        if let Some(other) = seen.get(s.info.index).copied().flatten() {
            bail!(
                "shard {} is given twice: {} and {}",
                s.info.index,
                other.folder.path().display(),
                s.folder.path().display()
            );
        }
        seen[s.info.index] = Some(s);
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

/// Level `k` from the union of the shards' records: the plan's rate (times the share of its
/// arrivals the present shards sent), or for a closed-loop level the rates the shards achieved.
fn level(shards: &[Shard], k: usize) -> (LevelRun, LevelInfo) {
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
    let workers: usize = shards
        .iter()
        .filter_map(|s| s.records.get(k)?.first()?.concurrency)
        .sum();
    for r in &mut recs {
        match plan {
            Some(_) => r.qps_target = Some(qps),
            None if r.concurrency.is_some() => r.concurrency = Some(workers),
            // Records of a release that wrote the workers as the target.
            None => r.qps_target = Some(old_workers(shards, k)),
        }
    }
    let base = &shards[0].meta;
    let duration_s = infos.iter().find_map(|i| i.duration_s);
    let partial = infos.iter().any(|i| i.partial) || infos.len() < shards.len();
    let window = infos.iter().map(|i| i.send_window_s).fold(0.0, f64::max);
    let id = merged_id(base, k, qps);
    let mut run = LevelRun::new(
        id,
        qps,
        duration_s.unwrap_or(base.duration),
        recs,
        partial.then_some(window.max(1e-6)),
    );
    // The shards' token checks, summed: each counted its own replies.
    let checks: Vec<&TokenCheck> = infos
        .iter()
        .filter_map(|i| i.token_check.as_ref())
        .collect();
    run.token_check = TokenCheck::sum(&checks);
    let info = LevelInfo {
        token_check: run.token_check.clone(),
        qps,
        send_window_s: run.send_window_s,
        partial: run.partial,
        duration_s,
        plan_qps: None,
        plan_arrivals: None,
        early_stop: None,
        repeat: None,
    };
    (run, info)
}

/// A closed-loop level's workers from the shards' records as an earlier release wrote them, in
/// `qps_target`.
fn old_workers(shards: &[Shard], k: usize) -> f64 {
    shards
        .iter()
        .filter_map(|s| s.records.get(k)?.first()?.qps_target)
        .sum()
}

/// The merged level `k`'s identity: the plan's workers for a closed-loop level, else its rate.
fn merged_id(base: &Metadata, k: usize, qps: f64) -> LevelId {
    let plan_workers = base
        .shard
        .as_ref()
        .and_then(|s| s.plan_concurrency_levels.as_ref()?.get(k).copied());
    LevelId {
        offered: match plan_workers {
            Some(n) => Offered::Concurrency(n),
            None => Offered::Rate(qps),
        },
        ..LevelId::rate(k, qps)
    }
}

/// The share of the plan's arrivals the shards sent (1 when every shard is there).
fn arrivals_share(shards: &[Shard]) -> f64 {
    let (mut sent, mut planned) = (0.0, 0.0);
    let levels = shards
        .iter()
        .map(|s| s.meta.levels.len())
        .max()
        .unwrap_or(0);
    for k in 0..levels {
        let Some(p) = shards
            .iter()
            .find_map(|s| s.meta.levels.get(k)?.plan_arrivals)
        else {
            continue;
        };
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
fn merge_record(
    shards: &[Shard],
    count: usize,
    missing: &[usize],
    share: f64,
    plan_levels: usize,
) -> MergeRecord {
    let starts: Vec<chrono::DateTime<chrono::FixedOffset>> = shards
        .iter()
        .filter_map(|s| chrono::DateTime::parse_from_rfc3339(s.info.started_at.as_deref()?).ok())
        .collect();
    let spread = match (starts.iter().min(), starts.iter().max()) {
        (Some(a), Some(b)) => Some((*b - *a).num_microseconds().unwrap_or(0) as f64 / 1e6),
        _ => None,
    };
    let mut present: Vec<&Shard> = shards.iter().collect();
    present.sort_by_key(|s| s.info.index);
    MergeRecord {
        merged: present.iter().map(|s| s.info.index).collect(),
        missing: missing.to_vec(),
        plan_id: shards[0].info.plan_id.clone(),
        plan_levels,
        share_of_plan_pct: share * 100.0,
        shard_runs: present
            .iter()
            .map(|s| ShardRun {
                dir: s.folder.path().display().to_string(),
                first_send_lag_s: s.info.first_send_lag_s,
                host: s.info.host.clone(),
                index: s.info.index,
                started_at: s.info.started_at.clone(),
            })
            .collect(),
        shards: count,
        start_spread_s: spread,
    }
}
