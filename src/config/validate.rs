//! The one validator of each flag, shared by every command that takes it (a run, `redline demo`,
//! `redline report`, `redline calibrate`): each rejection names the flag, says what is wrong and how
//! to fix it.

use crate::cli::{defaults, Arrival, BenchArgs, PolicyArgs, QpsArg, RepeatOrder};
use crate::config::kind::{AutoQps, Levels, Repeat};
use crate::config::policy::{Policy, Pricing};
use crate::config::slo::{self, Metric, Objective};
use crate::config::workload::{Source, Workload};
use anyhow::{bail, Result};
use serde_json::{Map, Value};
use std::time::Duration;

/// Requests one level may schedule: each keeps a record in memory until the level is summarised.
pub const MAX_REQUESTS_PER_LEVEL: f64 = 20_000_000.0;

/// The verdict policy from its flags over `base` (the reference defaults for a run, the run's own
/// for `redline report`): 0 <= warn <= pass <= 100, headroom in [0, 100), objectives from `--slo`
/// (its `success` sets the pass threshold) and the `--max-*-p95` aliases; and the capacity plan's
/// daily tokens over `base_daily`.
pub fn policy(
    a: &PolicyArgs,
    base: &Policy,
    base_daily: Option<u64>,
) -> Result<(Policy, Option<u64>)> {
    let mut objectives = match &a.slo {
        Some(text) => slo::parse(text)?,
        None => base.objectives.clone(),
    };
    let success = objectives
        .iter()
        .find(|o| o.metric == Metric::Success)
        .map(|o| o.bound);
    objectives.retain(|o| o.metric != Metric::Success);
    for (flag, metric, v) in [
        ("--max-ttft-p95", Metric::Ttft, a.max_ttft_p95),
        ("--max-e2e-p95", Metric::E2e, a.max_e2e_p95),
    ] {
        let Some(v) = v else { continue };
        if !(v.is_finite() && v > 0.0) {
            bail!(
                "{flag} {v}: a latency objective is a number of seconds above 0, e.g. {flag} 0.5"
            );
        }
        let same = |o: &Objective| o.metric == metric && o.percentile == Some(95.0);
        if a.slo.is_some() && objectives.iter().any(same) {
            bail!(
                "--slo {}_p95 and {flag} set the same objective; give one",
                metric.name()
            );
        }
        objectives.retain(|o| !same(o));
        objectives.push(Objective {
            metric,
            percentile: Some(95.0),
            bound: v,
        });
    }
    if let (Some(_), Some(_)) = (success, a.pass_threshold) {
        bail!("--slo success>=X and --pass-threshold set the same thing; give one");
    }
    let pass = success.or(a.pass_threshold).unwrap_or(base.pass_pct);
    // A pass threshold from --slo below the default warn threshold lowers it too, unless given.
    let warn = a.warn_threshold.unwrap_or(if success.is_some() {
        base.warn_pct.min(pass)
    } else {
        base.warn_pct
    });
    let headroom = a.headroom.unwrap_or(base.headroom_pct);
    if !(pass.is_finite() && (0.0..=100.0).contains(&pass)) {
        bail!("--pass-threshold {pass}: must be a success percentage from 0 to 100, e.g. 99");
    }
    if !(warn.is_finite() && (0.0..=pass).contains(&warn)) {
        bail!("--warn-threshold {warn}: must be a percentage from 0 up to --pass-threshold ({pass}), e.g. 90");
    }
    if !(headroom.is_finite() && (0.0..100.0).contains(&headroom)) {
        bail!("--headroom {headroom}: must be a percentage from 0 to below 100, e.g. 25 to run at 75% of the maximum");
    }
    let daily = match &a.daily_tokens {
        Some(t) => Some(daily_tokens(t)?),
        None => base_daily,
    };
    let policy = Policy {
        pass_pct: pass,
        warn_pct: warn,
        headroom_pct: headroom,
        objectives,
        steady_verdict: a.verdict_window.map_or(base.steady_verdict, |w| {
            w == crate::cli::VerdictWindow::Steady
        }),
        ..base.clone()
    };
    Ok((policy, daily))
}

/// `--qps`: rates, or `auto` alone with its search settings (refused where they do not apply).
fn qps_plan(a: &BenchArgs) -> Result<(Vec<f64>, Option<AutoQps>)> {
    let qps = a
        .qps
        .clone()
        .unwrap_or_else(|| defaults::QPS.map(QpsArg::Rate).to_vec());
    if !qps.contains(&QpsArg::Auto) {
        let rates: Vec<f64> = qps
            .iter()
            .filter_map(|q| match q {
                QpsArg::Rate(r) => Some(*r),
                QpsArg::Auto => None,
            })
            .collect();
        qps_levels("--qps", &rates)?;
        for (flag, given) in [
            ("--qps-start", a.qps_start.is_some()),
            ("--qps-tolerance", a.qps_tolerance.is_some()),
            ("--capacity-precision", a.capacity_precision.is_some()),
            ("--search-budget", a.search_budget.is_some()),
            ("--min-probe-duration", a.min_probe_duration.is_some()),
        ] {
            if given {
                bail!("{flag} sets the search of --qps auto; leave it out with fixed --qps levels (or give --qps auto)");
            }
        }
        return Ok((rates, None));
    }
    if qps.len() > 1 {
        bail!("--qps auto searches on its own; give either auto or a list of rates");
    }
    let start = a.qps_start.unwrap_or(defaults::QPS_START);
    if !(start.is_finite() && start > 0.0 && start <= 1_000_000.0) {
        bail!("--qps-start {start}: the first rate probed, a number above 0 (up to 1,000,000), e.g. --qps-start 1");
    }
    let tolerance = a.qps_tolerance.unwrap_or(defaults::QPS_TOLERANCE);
    if !(tolerance.is_finite() && tolerance > 0.0 && tolerance < 100.0) {
        bail!(
            "--qps-tolerance {tolerance}: a percentage above 0 and below 100, e.g. --qps-tolerance 5"
        );
    }
    let precision = a.capacity_precision.unwrap_or(defaults::CAPACITY_PRECISION);
    if !(precision.is_finite() && precision > 0.0 && precision < 100.0) {
        bail!("--capacity-precision {precision}: a percentage above 0 and below 100, e.g. --capacity-precision 5");
    }
    if let Some(b) = a.search_budget {
        seconds("--search-budget", b, "e.g. --search-budget 1800")?;
    }
    if let Some(m) = a.min_probe_duration {
        seconds("--min-probe-duration", m, "e.g. --min-probe-duration 5")?;
    }
    Ok((
        Vec::new(),
        Some(AutoQps {
            start_qps: start,
            tolerance: tolerance / 100.0,
            tolerance_pct: Some(tolerance),
            precision_pct: Some(precision),
            duration_s: a.duration_s(),
            budget_s: a.search_budget,
            min_probe_s: a.min_probe_duration.unwrap_or(defaults::MIN_PROBE_S),
        }),
    ))
}

/// The kind of run the flags ask for, decided once: `--concurrency` levels, a `--trace` replay,
/// a `--qps auto` search or fixed `--qps` rates; flags that shape a schedule are refused where
/// there is none to shape.
pub(crate) fn levels(a: &BenchArgs, source: &Source) -> Result<Levels> {
    let (qps, search) = qps_plan(a)?;
    if let Some(concurrency) = &a.concurrency {
        if search.is_some() {
            bail!("--concurrency runs closed-loop levels; it cannot be combined with --qps auto");
        }
        if a.qps.is_some() {
            bail!("--concurrency runs closed-loop levels of requests in flight, with no rate; leave out --qps (or --concurrency, to run rates)");
        }
        if concurrency.is_empty() || concurrency.iter().any(|&n| n == 0 || n > 100_000) {
            bail!("--concurrency: give levels of 1 to 100,000 requests in flight, e.g. --concurrency 1,8,32");
        }
        let as_f64: Vec<f64> = concurrency.iter().map(|&n| n as f64).collect();
        if let Some(n) = repeated(&as_f64) {
            bail!("--concurrency: {n} is given twice; each level is a distinct number of requests in flight");
        }
        // A closed loop sends when a reply ends: it has no schedule to shape or to cap.
        if a.arrival != Arrival::Constant || a.ramp_up.is_some() {
            bail!("--concurrency sends each worker's next request when its reply ends, on no schedule; leave out --arrival and --ramp-up (they shape --qps levels)");
        }
        if a.max_concurrency.is_some() {
            bail!("--concurrency N already holds exactly N requests in flight; leave out --max-concurrency (it caps --qps levels)");
        }
        return Ok(Levels::Concurrency(concurrency.clone()));
    }
    if matches!(source, Source::Trace { .. }) {
        if search.is_some() {
            bail!("--trace replays the trace's own rate; it cannot be combined with --qps auto (use --trace-speed to scale it)");
        }
        if a.arrival != Arrival::Constant || a.ramp_up.is_some() {
            bail!("--trace sends on the trace's own timestamps; leave out --arrival and --ramp-up");
        }
        if a.duration.is_some() {
            bail!("--trace replays the trace's own window (its first to its last timestamp); leave out --duration (cut the trace file, or scale it with --trace-speed)");
        }
        return Ok(Levels::Trace);
    }
    Ok(match search {
        Some(s) => Levels::Search(s),
        None => Levels::Rates(qps),
    })
}

/// Whether levels stop early past saturation: on for a search unless `--no-stop-on-saturation`,
/// on for rates only when asked; refused where it cannot watch one level on its own (a closed
/// loop, a trace, sessions, a shard).
pub(crate) fn stop_on_saturation(
    a: &BenchArgs,
    levels: &Levels,
    workload: &Workload,
    sharded: bool,
) -> Result<bool> {
    let why_not = match levels {
        Levels::Concurrency(_) => Some("--concurrency levels offer no rate to saturate"),
        Levels::Trace => Some("a --trace replays its whole window"),
        _ if workload.sessions.is_some() => Some(
            "--sessions levels send later turns after replies, so a stop would cut sessions short",
        ),
        _ if sharded => {
            Some("a --shard sees only its share of the load, and its shards must stop together")
        }
        _ => None,
    };
    match why_not {
        Some(why) if a.levels.stop_on_saturation || a.levels.no_stop_on_saturation => {
            let flag = if a.levels.stop_on_saturation {
                "--stop-on-saturation"
            } else {
                "--no-stop-on-saturation"
            };
            bail!("{flag} decides whether a level of --qps rates stops early; {why}: leave it out")
        }
        Some(_) => Ok(false),
        None => Ok(match levels {
            Levels::Search(_) => !a.levels.no_stop_on_saturation,
            _ => a.levels.stop_on_saturation,
        }),
    }
}

/// `--repeat N` and `--repeat-order`: `None` for one run of each level. A search repeats each
/// probe back to back; a closed loop, a trace or a shard cannot repeat (refused).
pub(crate) fn repeat(a: &BenchArgs, levels: &Levels, sharded: bool) -> Result<Option<Repeat>> {
    let n = a.levels.repeat.unwrap_or(1);
    if !(1..=100).contains(&n) {
        bail!("--repeat {n}: how many times each level runs, 1 to 100, e.g. --repeat 3");
    }
    if n == 1 {
        if a.levels.repeat_order.is_some() {
            bail!("--repeat-order orders repeated levels; give --repeat N (2 or more) with it, or leave it out");
        }
        return Ok(None);
    }
    let why_not = match levels {
        Levels::Concurrency(_) => Some("--concurrency levels"),
        Levels::Trace => Some("a --trace replay"),
        _ if sharded => Some("a --shard (repeat the whole sharded run instead)"),
        _ => None,
    };
    if let Some(what) = why_not {
        bail!("--repeat runs each --qps level (or --qps auto probe) N times; it cannot repeat {what}: leave it out");
    }
    let order = match (levels, a.levels.repeat_order) {
        (Levels::Search(_), Some(RepeatOrder::Interleaved)) => bail!("--qps auto picks each probe from the last, so its repetitions run back to back: leave out --repeat-order interleaved (or give grouped)"),
        (Levels::Search(_), _) => RepeatOrder::Grouped,
        (_, order) => order.unwrap_or(RepeatOrder::Interleaved),
    };
    Ok(Some(Repeat { n, order }))
}

/// The fastest level may not schedule more requests than a level's records can hold.
pub(crate) fn level_size(rates: &[f64], duration_s: f64) -> Result<()> {
    let top = rates.iter().copied().fold(0.0, f64::max);
    if top * duration_s > MAX_REQUESTS_PER_LEVEL {
        bail!(
            "--qps {top} x --duration {duration_s} = {:.0} requests in one level; redline keeps a record of each (about 0.5 KB) and accepts up to {MAX_REQUESTS_PER_LEVEL:.0}: shorten --duration",
            top * duration_s
        );
    }
    Ok(())
}

/// A shard runs a share of a plan that every shard knows in advance: no search, and one seed.
pub(crate) fn shard_plan(levels: &Levels, shard: bool, seeded: bool) -> Result<()> {
    if !shard {
        return Ok(());
    }
    if matches!(levels, Levels::Search(_)) {
        bail!("--shard cannot run --qps auto: a search chooses each probe from every shard's results; give the rates, e.g. --qps 10,20,40");
    }
    if !seeded {
        bail!("--shard needs --seed, the same on every shard, so that they split one schedule (and one shuffle) between them");
    }
    Ok(())
}

/// What every request carries: `--percentiles` to report and `--max-tokens` (`--temperature` is
/// checked as it is parsed).
pub(crate) fn request(a: &BenchArgs) -> Result<()> {
    percentiles(&a.percentiles)?;
    max_tokens(a.max_tokens())
}

/// How arrivals are spaced (`--burstiness`, `--ramp-up`) and capped (`--max-concurrency`).
pub(crate) fn schedule(a: &BenchArgs) -> Result<()> {
    if !(a.burstiness.is_finite() && a.burstiness > 0.0 && a.burstiness <= 1000.0) {
        bail!("--burstiness {}: the gamma shape must be above 0 (1 = Poisson, below 1 burstier), e.g. --burstiness 0.5", a.burstiness);
    }
    if a.burstiness != 1.0 && a.arrival != Arrival::Gamma {
        bail!("--burstiness shapes gamma arrivals; add --arrival gamma");
    }
    if let Some(r) = a.ramp_up {
        if !(r.is_finite() && r > 0.0 && r < a.duration_s()) {
            bail!(
                "--ramp-up {r}: seconds above 0 and below --duration ({}), e.g. --ramp-up 10",
                a.duration_s()
            );
        }
    }
    if a.max_concurrency == Some(0) {
        bail!("--max-concurrency 0: allow at least one request in flight, or leave the flag out for no cap");
    }
    Ok(())
}

/// Which samples are sent (`--shuffle`, `--max-samples`): a dataset's only.
pub(crate) fn samples(a: &BenchArgs, source: &Source) -> Result<()> {
    if !matches!(source, Source::Dataset) {
        if a.max_tokens.is_some() {
            bail!("--max-tokens sets the reply length of dataset samples; --synthetic and --trace requests carry their own (output= of --synthetic, a trace's output column): leave it out");
        }
        if a.dataset_format != crate::cli::DatasetFormat::Auto {
            bail!("--dataset-format reads a --dataset file; --synthetic and --trace build their own requests: leave it out");
        }
        if a.shuffle {
            bail!("--shuffle reorders a dataset's samples; synthetic prompts are drawn at random already and a trace replays in its own order: leave it out");
        }
        if a.max_samples.is_some() && matches!(source, Source::Trace { .. }) {
            bail!("--max-samples picks dataset samples; a trace replays every request (cut the trace file to replay part of it)");
        }
    }
    if a.max_samples == Some(0) {
        bail!("--max-samples 0: keep at least one sample, or leave the flag out for all");
    }
    Ok(())
}

/// The largest seed a JSON number holds exactly (2^53): `metadata.json` keeps the run's seed, and
/// common JSON tools change a larger one's last digits, which would make the run irreproducible.
pub const MAX_SEED: u64 = 1 << 53;

/// `--seed`, or a random one below [`MAX_SEED`].
pub(crate) fn seed(given: Option<u64>) -> Result<u64> {
    match given {
        Some(s) if s > MAX_SEED => bail!(
            "--seed {s}: at most {MAX_SEED} (2^53), the largest number JSON tools keep exact in metadata.json, e.g. --seed 42"
        ),
        Some(s) => Ok(s),
        None => Ok(rand::random::<u64>() % MAX_SEED),
    }
}

/// `--ttft-timeout`, when given.
/// `--ttft-timeout`: seconds, below `--timeout` (which already ends a request at that age, first
/// token or not, so a longer wait for the first token could never fire).
pub(crate) fn ttft_timeout(t: Option<f64>, timeout_s: f64) -> Result<Option<Duration>> {
    t.map(|t| {
        seconds("--ttft-timeout", t, "e.g. --ttft-timeout 10")?;
        if t >= timeout_s {
            bail!("--ttft-timeout {t} is not below --timeout {timeout_s}, which ends every request at {timeout_s} s, first token or not: give a shorter --ttft-timeout, or leave it out");
        }
        Ok(Duration::from_secs_f64(t))
    })
    .transpose()
}

/// The first value of `values` given twice, if any.
fn repeated(values: &[f64]) -> Option<f64> {
    values
        .iter()
        .enumerate()
        .find(|(i, v)| values[..*i].contains(v))
        .map(|(_, v)| *v)
}

/// Rates for levels or probes: numbers above 0, up to 1,000,000.
pub fn qps_levels(flag: &str, rates: &[f64]) -> Result<()> {
    if rates.is_empty() {
        bail!("{flag} is empty; give one or more rates, e.g. {flag} 1,5,10");
    }
    for &q in rates {
        if !(q.is_finite() && q > 0.0 && q <= 1_000_000.0) {
            bail!("{flag} {q}: every level must be a number above 0 (up to 1,000,000), e.g. {flag} 0.5,1,5");
        }
    }
    if let Some(q) = repeated(rates) {
        bail!("{flag}: {q} is given twice; each level is a distinct rate, and results, charts and comparisons tell levels apart by it");
    }
    Ok(())
}

/// `--percentiles`: each from 0 to 100, at least one.
pub fn percentiles(ps: &[f64]) -> Result<()> {
    for &p in ps {
        if !(p.is_finite() && (0.0..=100.0).contains(&p)) {
            bail!("--percentiles {p}: percentiles must lie between 0 and 100, e.g. --percentiles 50,95,99");
        }
    }
    if ps.is_empty() {
        bail!("--percentiles is empty; e.g. --percentiles 50,95,99");
    }
    if let Some(p) = repeated(ps) {
        bail!("--percentiles: {p} is given twice; each names its own column and JSON key (p{p}): give it once");
    }
    Ok(())
}

/// `--max-tokens`: at least one.
pub fn max_tokens(n: u32) -> Result<()> {
    if n == 0 {
        bail!("--max-tokens 0: a request must allow at least one output token");
    }
    Ok(())
}

/// `--daily-tokens`: an integer with an optional K, M, B or T suffix (`100M`, `2.5B`).
pub fn daily_tokens(text: &str) -> Result<u64> {
    let t = text.trim();
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1e3),
        Some('M') => (&t[..t.len() - 1], 1e6),
        Some('B') | Some('G') => (&t[..t.len() - 1], 1e9),
        Some('T') => (&t[..t.len() - 1], 1e12),
        _ => (t, 1.0),
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v * mult < 1e18 => Ok((v * mult).round() as u64),
        _ => bail!(
            "--daily-tokens {text:?}: give a positive token count such as 100M, 2.5B or 500000"
        ),
    }
}

/// A span of seconds above 0 (up to a year).
pub fn seconds(flag: &str, v: f64, example: &str) -> Result<()> {
    if !(v.is_finite() && v > 0.0 && v <= 31_536_000.0) {
        bail!("{flag} {v}: must be a number of seconds above 0, {example}");
    }
    Ok(())
}

/// A plain file name, written inside a results folder.
pub fn file_name(flag: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.contains(['/', '\\'])
        && name != "."
        && name != ".."
        && !name.starts_with('.');
    if !ok {
        bail!("{flag} {name:?}: give a plain file name; it is written inside the run's results folder (choose the folder with --results-dir)");
    }
    Ok(())
}

/// `--gpu-rate` and `--num-gpus`, which go together.
pub fn pricing(rate: Option<f64>, gpus: Option<u32>) -> Result<Option<Pricing>> {
    match (rate, gpus) {
        (None, None) => Ok(None),
        (Some(r), Some(n)) => {
            if !(r.is_finite() && r >= 0.0) {
                bail!("--gpu-rate {r}: must be a cost per GPU-hour of 0 or more, e.g. --gpu-rate 2.30");
            }
            if n == 0 {
                bail!(
                    "--num-gpus 0: give the number of GPUs serving the endpoint, e.g. --num-gpus 1"
                );
            }
            Ok(Some(Pricing {
                gpu_rate: r,
                num_gpus: n,
            }))
        }
        (Some(_), None) => {
            bail!("--gpu-rate needs --num-gpus too (cost = GPUs x rate x time), e.g. --num-gpus 1")
        }
        (None, Some(_)) => {
            bail!(
                "--num-gpus needs --gpu-rate too (cost = GPUs x rate x time), e.g. --gpu-rate 2.30"
            )
        }
    }
}

pub(crate) fn extra_body(text: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => {
            bail!("--extra-body must be a JSON object, e.g. --extra-body '{{\"ignore_eos\":true}}'")
        }
        Err(e) => bail!(
            "--extra-body is not valid JSON ({e}); e.g. --extra-body '{{\"ignore_eos\":true}}'"
        ),
    }
}
