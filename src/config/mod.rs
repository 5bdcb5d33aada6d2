//! Validates parsed flags (`cli::BenchArgs`) into a typed `Config`, before any request is sent, and
//! holds the one validator of each flag: every command that takes a flag (a run, `redline demo`,
//! `redline report`, `redline calibrate`) checks it here, so the rules and messages cannot drift.
//!
//! Every rejection names the flag, says what is wrong and how to fix it. Also owns endpoint URL
//! completion (base URL -> chat completions path) and redaction of credentials in URLs, so nothing
//! downstream handles raw flag strings, and the typed settings the later stages share: `Pricing`,
//! the verdict `Policy` and the `ReportOptions` that `analyze/` summarises with.

mod connection;
pub mod slo;

pub use connection::{bypass, Header, Proxy, TlsSettings};
pub use slo::{Metric, Objective};

use crate::cli::{defaults, Api, Arrival, BenchArgs, DatasetFormat, PolicyArgs, QpsArg};
use anyhow::{bail, Context, Result};
use reqwest::Url;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;

/// Requests one level may schedule: each keeps a record in memory until the level is summarised.
pub const MAX_REQUESTS_PER_LEVEL: f64 = 20_000_000.0;

/// GPU pricing for the cost analysis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pricing {
    pub gpu_rate: f64,
    pub num_gpus: u32,
}

/// What makes a level pass, and how much headroom to keep (`analyze/verdict.rs` applies it).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub pass_pct: f64,
    pub warn_pct: f64,
    pub min_send_ratio: f64,
    /// Percent of the maximum sustainable QPS kept free in production.
    pub headroom_pct: f64,
    /// A level whose schedule lag p99 exceeds this is client-limited: the client sent late enough
    /// to show in latencies counted from the planned time.
    pub max_lag_p99_s: f64,
    /// Objectives besides success and keeping up (`--slo`, `--max-ttft-p95`, `--max-e2e-p95`).
    pub objectives: Vec<Objective>,
}

impl Policy {
    /// The objective on `metric` at percentile `p`, if any.
    pub fn objective(&self, metric: Metric, p: f64) -> Option<&Objective> {
        self.objectives
            .iter()
            .find(|o| o.metric == metric && o.percentile == Some(p))
    }

    /// The objectives as `--slo` text, success included.
    pub fn slo_text(&self) -> String {
        let success = Objective {
            metric: Metric::Success,
            percentile: None,
            bound: self.pass_pct,
        };
        slo::to_text(&[&[success][..], &self.objectives].concat())
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            pass_pct: defaults::PASS_THRESHOLD,
            warn_pct: defaults::WARN_THRESHOLD,
            min_send_ratio: 0.98,
            headroom_pct: defaults::HEADROOM,
            max_lag_p99_s: 0.005,
            objectives: Vec::new(),
        }
    }
}

/// How the numbers are summarised: the user's percentiles, pricing and verdict policy, and the
/// search when the levels were `--qps auto` probes.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    pub percentiles: Vec<f64>,
    pub pricing: Option<Pricing>,
    pub policy: Policy,
    pub daily_tokens: Option<u64>,
    pub search: Option<AutoQps>,
    /// Seconds of each level's ramp-up, left out of the keeping-up judgement.
    pub ramp_up_s: f64,
    /// `--concurrency`: each level's requests in flight (closed loop: no keeping-up judgement).
    pub concurrency: Vec<usize>,
}

impl Default for ReportOptions {
    /// The reference defaults: percentiles 50, 95, 99; no pricing, objectives or search.
    fn default() -> Self {
        ReportOptions {
            percentiles: defaults::PERCENTILES.to_vec(),
            pricing: None,
            policy: Policy::default(),
            daily_tokens: None,
            search: None,
            ramp_up_s: 0.0,
            concurrency: Vec::new(),
        }
    }
}

/// `--qps auto`: how the search runs (`analyze/search.rs`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AutoQps {
    pub start_qps: f64,
    /// Relative width of the final bracket (0.05 = 5%).
    pub tolerance: f64,
    /// Seconds of a full-length probe (`--duration`).
    pub duration_s: f64,
    /// Endpoint seconds the whole search may use.
    pub budget_s: Option<f64>,
}

/// A validated benchmark configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub endpoint: Url,
    /// `--api`: chat completions or (legacy) completions.
    pub api: Api,
    pub api_key: Option<String>,
    pub model: String,
    pub dataset: PathBuf,
    pub dataset_format: DatasetFormat,
    /// `--max-samples`.
    pub max_samples: Option<usize>,
    /// `--shuffle`: samples shuffled with the run's seed.
    pub shuffle: bool,
    /// The levels; empty with `--qps auto`, whose probes `search` chooses.
    pub qps: Vec<f64>,
    pub search: Option<AutoQps>,
    /// `--concurrency`: closed-loop levels (then `qps` is empty).
    pub concurrency: Vec<usize>,
    pub duration: Duration,
    pub percentiles: Vec<f64>,
    pub show_tokens: bool,
    pub max_tokens: u32,
    pub temperature: f64,
    pub plot: bool,
    pub output: String,
    pub plot_output: String,
    pub pricing: Option<Pricing>,
    pub results_dir: PathBuf,
    pub timeout: Duration,
    pub ttft_timeout: Option<Duration>,
    pub arrival: Arrival,
    /// `--burstiness` (gamma arrivals).
    pub burstiness: f64,
    /// `--ramp-up`, seconds (0: none).
    pub ramp_up_s: f64,
    pub seed: u64,
    pub max_concurrency: Option<usize>,
    pub extra_body: Option<Map<String, Value>>,
    pub stream_usage: bool,
    pub policy: Policy,
    pub daily_tokens: Option<u64>,
    /// `--http2`.
    pub http2: bool,
    pub tls: TlsSettings,
    /// `--header` and `--header-env`; values are secrets.
    pub headers: Vec<Header>,
    pub proxy: Option<Proxy>,
}

impl Config {
    pub fn from_args(a: &BenchArgs) -> Result<Config> {
        let endpoint = a.endpoint.as_deref().context("missing --endpoint")?;
        let model = a.model.clone().context("missing --model")?;
        let dataset = a.dataset.clone().context("missing --dataset")?;
        if model.trim().is_empty() {
            bail!("--model is empty; give the model name the endpoint serves");
        }
        seconds("--duration", a.duration, "e.g. --duration 60")?;
        let (qps, search) = qps_plan(a)?;
        let concurrency = a.concurrency.clone().unwrap_or_default();
        if a.concurrency.is_some() {
            if search.is_some() {
                bail!(
                    "--concurrency runs closed-loop levels; it cannot be combined with --qps auto"
                );
            }
            if concurrency.is_empty() || concurrency.iter().any(|&n| n == 0 || n > 100_000) {
                bail!("--concurrency: give levels of 1 to 100,000 requests in flight, e.g. --concurrency 1,8,32");
            }
        }
        let (qps, search) = if concurrency.is_empty() {
            (qps, search)
        } else {
            (Vec::new(), None)
        };
        let top = qps.iter().copied().fold(0.0, f64::max);
        if top * a.duration > MAX_REQUESTS_PER_LEVEL {
            bail!(
                "--qps {top} x --duration {} = {:.0} requests in one level; redline keeps a record of each (about 0.5 KB) and accepts up to {MAX_REQUESTS_PER_LEVEL:.0}: shorten --duration",
                a.duration,
                top * a.duration
            );
        }
        seconds("--timeout", a.timeout, "e.g. --timeout 120")?;
        percentiles(&a.percentiles)?;
        if !(a.temperature.is_finite() && a.temperature >= 0.0) {
            bail!(
                "--temperature {}: must be a number of 0 or more",
                a.temperature
            );
        }
        max_tokens(a.max_tokens)?;
        if !(a.burstiness.is_finite() && a.burstiness > 0.0 && a.burstiness <= 1000.0) {
            bail!("--burstiness {}: the gamma shape must be above 0 (1 = Poisson, below 1 burstier), e.g. --burstiness 0.5", a.burstiness);
        }
        if a.burstiness != 1.0 && a.arrival != Arrival::Gamma {
            bail!("--burstiness shapes gamma arrivals; add --arrival gamma");
        }
        if let Some(r) = a.ramp_up {
            if !(r.is_finite() && r > 0.0 && r < a.duration) {
                bail!(
                    "--ramp-up {r}: seconds above 0 and below --duration ({}), e.g. --ramp-up 10",
                    a.duration
                );
            }
        }
        if a.max_samples == Some(0) {
            bail!("--max-samples 0: keep at least one sample, or leave the flag out for all");
        }
        if a.max_concurrency == Some(0) {
            bail!("--max-concurrency 0: allow at least one request in flight, or leave the flag out for no cap");
        }
        file_name("--output", &a.output)?;
        file_name("--plot-output", &a.plot_output)?;
        let (policy, daily_tokens) = policy(&a.policy, &Policy::default(), None)?;
        let endpoint = endpoint_url(endpoint, a.api)?;
        let api_key = api_key(a)?;
        let c = &a.connection;
        if c.http2 && endpoint.scheme() != "https" {
            bail!("--http2 needs an https endpoint (HTTP/2 without TLS is not supported); leave it out for http");
        }
        let tls = connection::tls(
            &endpoint,
            c.cacert.clone(),
            c.insecure,
            c.cert.clone(),
            c.key.clone(),
        )?;
        let headers = connection::headers(&c.headers, &c.header_envs, api_key.is_some())?;
        let proxy = connection::proxy(&endpoint, c.proxy.as_deref(), |n| std::env::var(n).ok())?;
        if c.http2 && proxy.is_some() {
            bail!("--http2 cannot go through a proxy yet (the proxy would hide HTTP/2's stream limits); leave out --http2, or set NO_PROXY for this host");
        }
        Ok(Config {
            endpoint,
            api: a.api,
            api_key,
            model,
            dataset,
            dataset_format: a.dataset_format,
            max_samples: a.max_samples,
            shuffle: a.shuffle,
            qps,
            search,
            concurrency,
            duration: Duration::from_secs_f64(a.duration),
            percentiles: a.percentiles.clone(),
            show_tokens: a.show_tokens,
            max_tokens: a.max_tokens,
            temperature: a.temperature,
            plot: a.plot,
            output: a.output.clone(),
            plot_output: a.plot_output.clone(),
            pricing: pricing(a.gpu_rate, a.num_gpus)?,
            results_dir: a.results_dir.clone(),
            timeout: Duration::from_secs_f64(a.timeout),
            ttft_timeout: match a.ttft_timeout {
                Some(t) => {
                    seconds("--ttft-timeout", t, "e.g. --ttft-timeout 10")?;
                    Some(Duration::from_secs_f64(t))
                }
                None => None,
            },
            arrival: a.arrival,
            burstiness: a.burstiness,
            ramp_up_s: a.ramp_up.unwrap_or(0.0),
            seed: a.seed.unwrap_or_else(rand::random),
            max_concurrency: a.max_concurrency,
            extra_body: a.extra_body.as_deref().map(extra_body).transpose()?,
            stream_usage: !a.no_stream_usage,
            policy,
            daily_tokens,
            http2: c.http2,
            tls,
            headers,
            proxy,
        })
    }

    pub fn report_options(&self) -> ReportOptions {
        ReportOptions {
            percentiles: self.percentiles.clone(),
            pricing: self.pricing,
            policy: self.policy.clone(),
            daily_tokens: self.daily_tokens,
            search: self.search,
            ramp_up_s: self.ramp_up_s,
            concurrency: self.concurrency.clone(),
        }
    }

    /// The endpoint as it may be shown or saved: credentials removed.
    pub fn endpoint_display(&self) -> String {
        redact_url(&self.endpoint)
    }
}

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
fn qps_plan(a: &BenchArgs) -> Result<(Vec<f64>, Option<AutoQps>)> {
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
    Ok((
        Vec::new(),
        Some(AutoQps {
            start_qps: a.qps_start,
            tolerance: a.qps_tolerance / 100.0,
            duration_s: a.duration,
            budget_s: a.search_budget,
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

/// The key from --api-key, or from the variable named by --api-key-env, or else from
/// OPENAI_API_KEY. The environment fallback is not a flag, so it never conflicts with one.
fn api_key(a: &BenchArgs) -> Result<Option<String>> {
    let key = match (&a.api_key_env, &a.api_key) {
        (Some(var), _) => match std::env::var(var) {
            Ok(k) => Some(k),
            Err(_) => bail!("--api-key-env {var}: that environment variable is not set (or not valid UTF-8); export it, or pass --api-key"),
        },
        (None, Some(k)) => Some(k.clone()),
        (None, None) => std::env::var("OPENAI_API_KEY").ok(),
    };
    Ok(key.filter(|k| !k.trim().is_empty()))
}

/// Whether a key sent to this endpoint would cross the network unencrypted.
pub fn key_in_clear(cfg: &Config) -> bool {
    let host = cfg.endpoint.host_str().unwrap_or("localhost");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    cfg.api_key.is_some() && cfg.endpoint.scheme() == "http" && !loopback
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

fn extra_body(text: &str) -> Result<Map<String, Value>> {
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

/// Completes a base URL to the chat completions path: `http://h:8000` and `http://h:8000/v1` both
/// become `http://h:8000/v1/chat/completions`; a URL already ending in `/chat/completions`, or with any
/// other path, is used as given.
pub fn chat_completions_url(text: &str) -> Result<Url> {
    endpoint_url(text, Api::Chat)
}

/// Completes a base URL to the API's path (`/v1/chat/completions` or `/v1/completions`); a URL with
/// any other path is used as given.
pub fn endpoint_url(text: &str, api: Api) -> Result<Url> {
    let tail = match api {
        Api::Chat => "chat/completions",
        Api::Completions => "completions",
    };
    let hint = format!("give the endpoint as http(s)://host[:port][/v1[/{tail}]]");
    let mut url = Url::parse(text.trim()).map_err(|e| {
        anyhow::anyhow!(
            "--endpoint {:?} is not a valid URL ({e}); {hint}",
            redact_str(text)
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        bail!(
            "--endpoint {:?}: only http and https URLs with a host are supported; {hint}",
            redact_url(&url)
        );
    }
    let path = url.path().trim_end_matches('/').to_string();
    let completed = if path.is_empty() {
        format!("/v1/{tail}")
    } else if path.ends_with("/v1") {
        format!("{path}/{tail}")
    } else {
        path
    };
    url.set_path(&completed);
    Ok(url)
}

/// The URL with any password replaced and query values hidden, for display and files.
pub fn redact_url(url: &Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("REDACTED"));
    }
    if !u.username().is_empty() {
        let _ = u.set_username("REDACTED");
    }
    if u.query().is_some() {
        let pairs: Vec<String> = u
            .query_pairs()
            .map(|(k, _)| format!("{k}=REDACTED"))
            .collect();
        u.set_query(Some(&pairs.join("&")));
    }
    u.to_string()
}

pub(crate) fn redact_str(text: &str) -> String {
    match Url::parse(text) {
        Ok(u) => redact_url(&u),
        Err(_) => "<unparseable URL>".into(),
    }
}

#[cfg(test)]
mod tests;
