//! The one validator of each flag, shared by every command that takes it (a run, `redline demo`,
//! `redline report`, `redline calibrate`): each rejection names the flag, says what is wrong and how
//! to fix it.

use super::{slo, AutoQps, Metric, Objective, Policy, Pricing};
use crate::cli::{defaults, BenchArgs, PolicyArgs, QpsArg};
use anyhow::{bail, Result};
use serde_json::{Map, Value};

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
        objectives.retain(|o| !(o.metric == metric && o.percentile == Some(95.0)));
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
        ..base.clone()
    };
    Ok((policy, daily))
}

/// `--qps`: rates, or `auto` alone with its search settings.
pub(super) fn qps_plan(a: &BenchArgs) -> Result<(Vec<f64>, Option<AutoQps>)> {
    if !a.qps.contains(&QpsArg::Auto) {
        let rates: Vec<f64> = a
            .qps
            .iter()
            .filter_map(|q| match q {
                QpsArg::Rate(r) => Some(*r),
                QpsArg::Auto => None,
            })
            .collect();
        qps_levels("--qps", &rates)?;
        if a.min_probe_duration.is_some() {
            bail!("--min-probe-duration sets the shortest probe of --qps auto; leave it out with fixed --qps levels");
        }
        return Ok((rates, None));
    }
    if a.qps.len() > 1 {
        bail!("--qps auto searches on its own; give either auto or a list of rates");
    }
    qps_levels("--qps-start", &[a.qps_start])?;
    if !(a.qps_tolerance.is_finite() && a.qps_tolerance > 0.0 && a.qps_tolerance < 100.0) {
        bail!(
            "--qps-tolerance {}: a percentage above 0 and below 100, e.g. --qps-tolerance 5",
            a.qps_tolerance
        );
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
            start_qps: a.qps_start,
            tolerance: a.qps_tolerance / 100.0,
            duration_s: a.duration,
            budget_s: a.search_budget,
            min_probe_s: a.min_probe_duration.unwrap_or(defaults::MIN_PROBE_S),
        }),
    ))
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

pub(super) fn extra_body(text: &str) -> Result<Map<String, Value>> {
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
