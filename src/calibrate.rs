//! `redline calibrate`: how fast can this machine's client go before it, not the endpoint, shapes the
//! numbers? Starts the fixed-latency simulator as a separate process on 127.0.0.1 (or uses
//! `--endpoint`), ramps the rate, and for each rate compares what the client measured with the truth:
//! the delivered send rate with the target, the schedule lag, and the client's TTFT with the
//! simulator's own record of when it sent each first token (`GET /sim/stats`). The ceiling is the
//! highest rate with delivered >= 99.5%, lag p99 < 1 ms, TTFT p50 error < 1 ms and p99 error < 5 ms.
//! It is saved so that a run warns when asked for more (`warn_if_over_ceiling`).

use crate::cli::Cli;
use crate::client::Target;
use crate::config::Config;
use crate::runner::{self, Cancel, Level, Observer};
use crate::schedule::{self, Arrival};
use anyhow::{bail, Context, Result};
use clap::{Args, Parser};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct CalibrateArgs {
    /// Rates to try, requests per second.
    #[arg(long, value_delimiter = ',', default_value = "250,500,1000,2000,3000")]
    pub rates: Vec<f64>,
    /// Seconds per rate.
    #[arg(long, default_value_t = 3.0)]
    pub duration: f64,
    /// Measure against this endpoint instead of the built-in simulator (its true TTFT is then
    /// unknown, so only rate and lag are judged).
    #[arg(long)]
    pub endpoint: Option<String>,
    /// The simulator's time to first token, ms.
    #[arg(long, default_value_t = 50.0)]
    pub ttft_ms: f64,
    /// The simulator's time between tokens, ms.
    #[arg(long, default_value_t = 10.0)]
    pub itl_ms: f64,
    /// Tokens per reply.
    #[arg(long, default_value_t = 64)]
    pub output_tokens: u32,
    /// Do not save the result as this machine's ceiling.
    #[arg(long)]
    pub no_save: bool,
}

/// One rate's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    pub target_qps: f64,
    pub delivered_ratio: f64,
    pub lag_p99_ms: Option<f64>,
    pub ttft_p50_ms: Option<f64>,
    pub ttft_p99_ms: Option<f64>,
    /// Client TTFT minus the simulator's own, ms (`None` against another endpoint).
    pub ttft_p50_error_ms: Option<f64>,
    pub ttft_p99_error_ms: Option<f64>,
    pub success_rate: f64,
    pub ok: bool,
}

/// What is saved: this machine's client ceiling.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Calibration {
    pub ceiling_qps: Option<f64>,
    pub measured_at: String,
    pub cpus: usize,
    pub output_tokens: u32,
    pub steps: Vec<Step>,
}

/// Where the calibration is kept: `$XDG_CACHE_HOME/redline/calibration.json` or
/// `~/.cache/redline/calibration.json`.
pub fn path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("redline").join("calibration.json"))
}

/// Warns when a run asks for more than this machine's calibrated ceiling.
pub fn warn_if_over_ceiling(qps: &[f64]) {
    let Some(c) = path()
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| serde_json::from_slice::<Calibration>(&b).ok())
    else {
        return;
    };
    let top = qps.iter().copied().fold(0.0, f64::max);
    if let Some(ceiling) = c.ceiling_qps.filter(|&c| top > c) {
        eprintln!(
            "warning: QPS {top} is above this machine's calibrated client ceiling of {ceiling} req/s (redline calibrate, {}); levels beyond it may be client-limited",
            c.measured_at
        );
    }
}

/// The simulator child process, stopped when dropped.
struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sim(a: &CalibrateArgs) -> Result<(Sim, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(std::env::current_exe()?)
        .args(["sim", "--profile", "fixed", "--port", &port.to_string()])
        .args([
            "--ttft-ms",
            &a.ttft_ms.to_string(),
            "--itl-ms",
            &a.itl_ms.to_string(),
        ])
        .args(["--output-tokens", &a.output_tokens.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .context("cannot start the simulator")?;
    Ok((Sim(child), format!("http://127.0.0.1:{port}")))
}

async fn sim_stats(http: &reqwest::Client, base: &str) -> Option<serde_json::Value> {
    let resp = http
        .get(format!("{base}/sim/stats?reset=1"))
        .send()
        .await
        .ok()?;
    serde_json::from_slice(&resp.bytes().await.ok()?).ok()
}

struct Quiet;
impl Observer for Quiet {}

pub async fn run(a: &CalibrateArgs) -> Result<Calibration> {
    if a.rates.iter().any(|r| !(r.is_finite() && *r > 0.0))
        || !(a.duration > 0.0 && a.duration.is_finite())
    {
        bail!("--rates must be positive numbers and --duration a positive number of seconds");
    }
    let (_sim, base) = match &a.endpoint {
        Some(e) => (None, e.clone()),
        None => {
            let (sim, base) = start_sim(a)?;
            (Some(sim), base)
        }
    };
    let http = reqwest::Client::new();
    if a.endpoint.is_none() {
        wait_ready(&http, &base).await?;
    }
    let tokens = a.output_tokens.to_string();
    let cli = Cli::try_parse_from([
        "redline",
        "--endpoint",
        &base,
        "--model",
        "redline-sim",
        "--dataset",
        "bundled",
        "--max-tokens",
        &tokens,
    ])?;
    let cfg = Config::from_args(&cli.bench)?;
    let conversations = crate::dataset::parse(crate::BUNDLED_DATASET, "bundled")?;
    let target = Arc::new(Target::new(&cfg, &conversations)?);
    crate::raise_open_file_limit();
    println!(
        "{:>8} {:>10} {:>12} {:>12} {:>12} {:>14} {:>14} {:>8}",
        "req/s",
        "delivered",
        "lag p99 ms",
        "TTFT p50 ms",
        "TTFT p99 ms",
        "p50 error ms",
        "p99 error ms",
        "ok"
    );
    let mut steps = Vec::new();
    for (i, &rate) in a.rates.iter().enumerate() {
        let duration = Duration::from_secs_f64(a.duration);
        let level = Level {
            index: i,
            qps: rate,
            offsets: schedule::offsets(Arrival::Constant, rate, duration, 0),
            duration,
            max_concurrency: None,
        };
        let _ = sim_stats(&http, &base).await; // reset
        let run = runner::run_level(target.clone(), &level, &Cancel::default(), &mut Quiet).await;
        let truth = sim_stats(&http, &base).await;
        let l = crate::report::level_report(&run, &[], None);
        let ms = |v: Option<f64>| v.map(|v| v * 1e3);
        let truth_ms = |k: &str| truth.as_ref().and_then(|t| t[k].as_f64()).map(|v| v * 1e3);
        let (p50, p99) = (ms(l.ttft.get(50.0)), ms(l.ttft.get(99.0)));
        let e50 = p50.zip(truth_ms("ttft_p50_s")).map(|(c, t)| c - t);
        let e99 = p99.zip(truth_ms("ttft_p99_s")).map(|(c, t)| c - t);
        let lag = ms(l.schedule_lag_s.p99);
        let delivered = l.actual_qps / rate;
        let ok = delivered >= 0.995
            && lag.is_some_and(|v| v < 1.0)
            && l.success_rate >= 99.0
            && e50.is_none_or(|e| e.abs() < 1.0)
            && e99.is_none_or(|e| e.abs() < 5.0);
        let show = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.3}"));
        println!(
            "{rate:>8} {:>9.2}% {:>12} {:>12} {:>12} {:>14} {:>14} {:>8}",
            delivered * 100.0,
            show(lag),
            show(p50),
            show(p99),
            show(e50),
            show(e99),
            if ok { "yes" } else { "no" }
        );
        steps.push(Step {
            target_qps: rate,
            delivered_ratio: delivered,
            lag_p99_ms: lag,
            ttft_p50_ms: p50,
            ttft_p99_ms: p99,
            ttft_p50_error_ms: e50,
            ttft_p99_error_ms: e99,
            success_rate: l.success_rate,
            ok,
        });
    }
    let ceiling = steps
        .iter()
        .take_while(|s| s.ok)
        .last()
        .map(|s| s.target_qps);
    let c = Calibration {
        ceiling_qps: ceiling,
        measured_at: chrono::Local::now().format("%Y-%m-%d %H:%M").to_string(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        output_tokens: a.output_tokens,
        steps,
    };
    match ceiling {
        Some(q) => println!("\nClient ceiling on this machine: {q} req/s"),
        None => println!(
            "\nClient ceiling: below the lowest rate tried ({} req/s)",
            a.rates[0]
        ),
    }
    if !a.no_save {
        if let Some(p) = path() {
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir)?;
            }
            crate::output::files::write_json_atomic(&p, &c)?;
            println!("Saved to {}; runs above it will warn.", p.display());
        }
    }
    Ok(c)
}

/// Waits (bounded) for the simulator to answer.
async fn wait_ready(http: &reqwest::Client, base: &str) -> Result<()> {
    for _ in 0..100 {
        if http.get(format!("{base}/health")).send().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the simulator did not start on {base} within 5 s")
}
