//! Validates parsed flags (`cli::BenchArgs`) into a typed `Config`, before any request is sent.
//!
//! Every rejection names the flag, says what is wrong and how to fix it. Also owns endpoint URL
//! completion (base URL -> chat completions path) and redaction of credentials in URLs, so nothing
//! downstream handles raw flag strings.

use crate::cli::BenchArgs;
use crate::schedule::Arrival;
use crate::verdict::Policy;
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

/// A validated benchmark configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub endpoint: Url,
    pub api_key: Option<String>,
    pub model: String,
    pub dataset: PathBuf,
    pub qps: Vec<f64>,
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
    pub seed: u64,
    pub max_concurrency: Option<usize>,
    pub extra_body: Option<Map<String, Value>>,
    pub stream_usage: bool,
    pub policy: Policy,
    pub daily_tokens: Option<u64>,
}

impl Config {
    pub fn from_args(a: &BenchArgs) -> Result<Config> {
        let endpoint = a.endpoint.as_deref().context("missing --endpoint")?;
        let model = a.model.clone().context("missing --model")?;
        let dataset = a.dataset.clone().context("missing --dataset")?;
        if model.trim().is_empty() {
            bail!("--model is empty; give the model name the endpoint serves");
        }
        if a.qps.is_empty() {
            bail!("--qps is empty; give one or more rates, e.g. --qps 1,5,10");
        }
        for &q in &a.qps {
            if !(q.is_finite() && q > 0.0 && q <= 1_000_000.0) {
                bail!("--qps {q}: every level must be a number above 0 (up to 1,000,000), e.g. --qps 0.5,1,5");
            }
        }
        positive("--duration", a.duration, "e.g. --duration 60")?;
        let top = a.qps.iter().copied().fold(0.0, f64::max);
        if top * a.duration > MAX_REQUESTS_PER_LEVEL {
            bail!(
                "--qps {top} x --duration {} = {:.0} requests in one level; redline keeps a record of each (about 0.5 KB) and accepts up to {MAX_REQUESTS_PER_LEVEL:.0}: shorten --duration",
                a.duration,
                top * a.duration
            );
        }
        positive("--timeout", a.timeout, "e.g. --timeout 120")?;
        for &p in &a.percentiles {
            if !(p.is_finite() && (0.0..=100.0).contains(&p)) {
                bail!("--percentiles {p}: percentiles must lie between 0 and 100, e.g. --percentiles 50,95,99");
            }
        }
        if a.percentiles.is_empty() {
            bail!("--percentiles is empty; e.g. --percentiles 50,95,99");
        }
        if !(a.temperature.is_finite() && a.temperature >= 0.0) {
            bail!(
                "--temperature {}: must be a number of 0 or more",
                a.temperature
            );
        }
        if a.max_tokens == 0 {
            bail!("--max-tokens 0: a request must allow at least one output token");
        }
        if a.max_concurrency == Some(0) {
            bail!("--max-concurrency 0: allow at least one request in flight, or leave the flag out for no cap");
        }
        file_name("--output", &a.output)?;
        file_name("--plot-output", &a.plot_output)?;
        Ok(Config {
            endpoint: chat_completions_url(endpoint)?,
            api_key: api_key(a)?,
            model,
            dataset,
            qps: a.qps.clone(),
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
                    positive("--ttft-timeout", t, "e.g. --ttft-timeout 10")?;
                    Some(Duration::from_secs_f64(t))
                }
                None => None,
            },
            arrival: a.arrival,
            seed: a.seed.unwrap_or_else(rand::random),
            max_concurrency: a.max_concurrency,
            extra_body: a.extra_body.as_deref().map(extra_body).transpose()?,
            stream_usage: !a.no_stream_usage,
            policy: policy(
                (
                    a.policy.pass_threshold,
                    a.policy.warn_threshold,
                    a.policy.headroom,
                ),
                (a.policy.max_ttft_p95, a.policy.max_e2e_p95),
            )?,
            daily_tokens: a
                .policy
                .daily_tokens
                .as_deref()
                .map(daily_tokens)
                .transpose()?,
        })
    }

    pub fn report_options(&self) -> crate::report::ReportOptions {
        crate::report::ReportOptions {
            percentiles: self.percentiles.clone(),
            pricing: self.pricing,
            policy: self.policy,
            daily_tokens: self.daily_tokens,
        }
    }

    /// The endpoint as it may be shown or saved: credentials removed.
    pub fn endpoint_display(&self) -> String {
        redact_url(&self.endpoint)
    }
}

/// The verdict policy from its flags: 0 <= warn <= pass <= 100, headroom in [0, 100), latency
/// objectives above 0 seconds.
pub fn policy(
    (pass, warn, headroom): (f64, f64, f64),
    (max_ttft_p95, max_e2e_p95): (Option<f64>, Option<f64>),
) -> Result<Policy> {
    for (flag, v) in [
        ("--max-ttft-p95", max_ttft_p95),
        ("--max-e2e-p95", max_e2e_p95),
    ] {
        if let Some(v) = v {
            if !(v.is_finite() && v > 0.0) {
                bail!("{flag} {v}: a latency objective is a number of seconds above 0, e.g. {flag} 0.5");
            }
        }
    }
    if !(pass.is_finite() && (0.0..=100.0).contains(&pass)) {
        bail!("--pass-threshold {pass}: must be a success percentage from 0 to 100, e.g. 99");
    }
    if !(warn.is_finite() && (0.0..=pass).contains(&warn)) {
        bail!("--warn-threshold {warn}: must be a percentage from 0 up to --pass-threshold ({pass}), e.g. 90");
    }
    if !(headroom.is_finite() && (0.0..100.0).contains(&headroom)) {
        bail!("--headroom {headroom}: must be a percentage from 0 to below 100, e.g. 25 to run at 75% of the maximum");
    }
    Ok(Policy {
        pass_pct: pass,
        warn_pct: warn,
        headroom_pct: headroom,
        max_ttft_p95,
        max_e2e_p95,
        ..Policy::default()
    })
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

/// The key from --api-key (or OPENAI_API_KEY), or from the variable named by --api-key-env.
fn api_key(a: &BenchArgs) -> Result<Option<String>> {
    let key = match &a.api_key_env {
        Some(var) => match std::env::var(var) {
            Ok(k) => Some(k),
            Err(_) => bail!("--api-key-env {var}: that environment variable is not set (or not valid UTF-8); export it, or pass --api-key"),
        },
        None => a.api_key.clone(),
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

fn positive(flag: &str, v: f64, example: &str) -> Result<()> {
    if !(v.is_finite() && v > 0.0 && v <= 31_536_000.0) {
        bail!("{flag} {v}: must be a number of seconds above 0, {example}");
    }
    Ok(())
}

fn file_name(flag: &str, name: &str) -> Result<()> {
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

fn pricing(rate: Option<f64>, gpus: Option<u32>) -> Result<Option<Pricing>> {
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
    let hint = "give the endpoint as http(s)://host[:port][/v1[/chat/completions]]";
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
        "/v1/chat/completions".to_string()
    } else if path.ends_with("/v1") {
        format!("{path}/chat/completions")
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

fn redact_str(text: &str) -> String {
    match Url::parse(text) {
        Ok(u) => redact_url(&u),
        Err(_) => "<unparseable URL>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    fn cfg(extra: &[&str]) -> Result<Config> {
        let mut args = vec![
            "redline",
            "--endpoint",
            "http://127.0.0.1:9",
            "--model",
            "m",
            "--dataset",
            "d.json",
        ];
        args.extend_from_slice(extra);
        Config::from_args(&Cli::try_parse_from(args)?.bench)
    }

    #[test]
    fn reference_defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.qps, [1.0, 5.0, 10.0, 20.0]);
        assert_eq!(c.duration, Duration::from_secs(60));
        assert_eq!(c.percentiles, [50.0, 95.0, 99.0]);
        assert_eq!(c.max_tokens, 512);
        assert_eq!(c.temperature, 0.7);
        assert_eq!(c.output, "benchmark_qps_results.json");
        assert_eq!(c.plot_output, "benchmark_qps.png");
        assert_eq!(c.timeout, Duration::from_secs(120));
        assert!(c.pricing.is_none() && c.stream_usage);
    }

    #[test]
    fn endpoint_completion() {
        for (given, want) in [
            ("http://h:8000", "http://h:8000/v1/chat/completions"),
            ("http://h:8000/", "http://h:8000/v1/chat/completions"),
            ("https://h/v1", "https://h/v1/chat/completions"),
            ("https://h/v1/", "https://h/v1/chat/completions"),
            (
                "https://h/openai/v1/chat/completions",
                "https://h/openai/v1/chat/completions",
            ),
        ] {
            assert_eq!(chat_completions_url(given).unwrap().as_str(), want);
        }
        assert!(chat_completions_url("ftp://h").is_err());
        assert!(chat_completions_url("not a url").is_err());
    }

    #[test]
    fn bad_values_name_the_flag() {
        for (args, flag) in [
            (vec!["--qps", "0"], "--qps"),
            (vec!["--qps", "-1"], "--qps"),
            (vec!["--qps", "NaN"], "--qps"),
            (vec!["--percentiles", "101"], "--percentiles"),
            (vec!["--duration", "0"], "--duration"),
            (vec!["--gpu-rate", "2.3"], "--gpu-rate"),
            (vec!["--extra-body", "[1]"], "--extra-body"),
            (vec!["--output", "../x.json"], "--output"),
            (vec!["--max-concurrency", "0"], "--max-concurrency"),
            (
                vec!["--qps", "1000000", "--duration", "100"],
                "shorten --duration",
            ),
        ] {
            let e = cfg(&args).unwrap_err().to_string();
            assert!(e.contains(flag), "{args:?}: {e}");
        }
        let e = cfg(&["--qps", "fast"]).unwrap_err().to_string();
        assert!(e.contains("--qps"), "{e}");
    }

    #[test]
    fn policy_flags() {
        let c = cfg(&[
            "--pass-threshold",
            "99.5",
            "--headroom",
            "30",
            "--daily-tokens",
            "2.5B",
        ])
        .unwrap();
        assert_eq!(c.policy.pass_pct, 99.5);
        assert_eq!(c.policy.headroom_pct, 30.0);
        assert_eq!(c.daily_tokens, Some(2_500_000_000));
        assert_eq!(daily_tokens("100M").unwrap(), 100_000_000);
        assert_eq!(daily_tokens("500000").unwrap(), 500_000);
        for (args, flag) in [
            (vec!["--warn-threshold", "99.5"], "--warn-threshold"),
            (vec!["--pass-threshold", "101"], "--pass-threshold"),
            (vec!["--headroom", "100"], "--headroom"),
            (vec!["--daily-tokens", "lots"], "--daily-tokens"),
            (vec!["--daily-tokens", "-5M"], "--daily-tokens"),
            (vec!["--max-ttft-p95", "0"], "--max-ttft-p95"),
        ] {
            let e = cfg(&args).unwrap_err().to_string();
            assert!(e.contains(flag), "{args:?}: {e}");
        }
    }

    #[test]
    fn a_key_over_plain_http_off_this_machine_is_flagged() {
        let with = |endpoint: &str, key: Option<&str>| {
            let mut c = cfg(&["--endpoint", endpoint]).unwrap_or_else(|_| cfg(&[]).unwrap());
            c.endpoint = chat_completions_url(endpoint).unwrap();
            c.api_key = key.map(String::from);
            key_in_clear(&c)
        };
        assert!(with("http://10.1.2.3:8000", Some("k")));
        assert!(with("http://inference.example.com", Some("k")));
        assert!(!with("https://inference.example.com", Some("k")));
        assert!(!with("http://127.0.0.1:8000", Some("k")));
        assert!(!with("http://localhost:8000", Some("k")));
        assert!(!with("http://[::1]:8000", Some("k")));
        assert!(!with("http://10.1.2.3:8000", None));
    }

    #[test]
    fn redaction_hides_credentials() {
        let u = Url::parse("https://user:s3cret@h/v1?key=s3cret&x=1").unwrap();
        let shown = redact_url(&u);
        assert!(
            !shown.contains("s3cret") && !shown.contains("user"),
            "{shown}"
        );
        assert!(shown.contains("key=REDACTED"));
        let e = chat_completions_url("ftp://a:s3cret@h")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cret"), "{e}");
    }
}
