//! `redline calibrate`: how fast can this machine's client go before it, not the endpoint, shapes the
//! numbers? Starts the fixed-latency simulator as a separate process on 127.0.0.1 (or uses
//! `--endpoint`), ramps the rate, and for each rate compares what the client measured with the truth:
//! the delivered send rate with the target, the schedule lag, and the client's TTFT with the
//! simulator's own record of when it sent each first token (`GET /sim/stats`). The ceiling is the
//! highest rate with delivered >= 99.5%, lag p99 < 1 ms, TTFT p50 error < 1 ms and p99 error < 5 ms.
//! It is saved (`output/ceiling.rs`) so that a run warns when asked for more.

use crate::analyze::level::level_report;
use crate::cli::{Arrival, BenchArgs, CalibrateArgs};
use crate::config::{self, Config, LevelId, Offered};
use crate::dataset;
use crate::measure::pick::Picker;
use crate::measure::runner::{self, Level, Observer};
use crate::measure::schedule;
use crate::measure::target::Target;
use crate::measure::work::Cancel;
use crate::measure::work::Work;
use crate::output::ceiling::{self, Calibration, Step};
use crate::output::files;
use crate::process;
use crate::sim::model::SimStats;
use anyhow::{bail, Context, Result};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// The simulator child process, stopped when dropped.
struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `redline sim` on a port the system picks and reads its address from the line the
/// simulator prints once it listens, so no other process can take the port in between.
fn start_sim(a: &CalibrateArgs) -> Result<(Sim, String)> {
    use std::io::BufRead;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["sim", "--profile", "fixed", "--port", "0"])
        .args([
            "--ttft-ms",
            &a.ttft_ms.to_string(),
            "--itl-ms",
            &a.itl_ms.to_string(),
        ])
        .args(["--output-tokens", &a.output_tokens.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start the simulator")?;
    let stdout = child.stdout.take().context("the simulator has no stdout")?;
    let sim = Sim(child);
    // Read on a thread of its own, so a simulator that never starts cannot hang calibrate.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .context("the simulator did not say where it listens within 10 s")?;
    let base = line
        .split_whitespace()
        .find_map(|w| w.strip_suffix("/v1/chat/completions"))
        .with_context(|| format!("the simulator did not say where it listens: {line:?}"))?;
    Ok((sim, base.to_string()))
}

async fn sim_stats(http: &reqwest::Client, base: &str) -> Option<SimStats> {
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
    config::qps_levels("--rates", &a.rates)?;
    config::seconds("--duration", a.duration, "e.g. --duration 3")?;
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
    let mut args = BenchArgs::new(&base, "redline-sim", "bundled".into());
    args.max_tokens = Some(a.output_tokens);
    let cfg = Config::from_args(&args)?;
    let conversations = dataset::parse(dataset::BUNDLED, "bundled")?;
    let mut target = Target::new(&cfg)?;
    target.load(&conversations, false);
    let target = Arc::new(target);
    process::raise_open_file_limit();
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
        let step = measure(
            &target,
            &http,
            &base,
            &cfg,
            LevelId::rate(i, rate),
            a.duration,
        )
        .await;
        println!("{}", step.row());
        steps.push(step);
    }
    let c = Calibration::of(steps, a.output_tokens);
    println!("\n{}", c.answer(a.rates[0]));
    if !a.no_save {
        save(&c)?;
    }
    Ok(c)
}

/// One rate against the endpoint: what the client delivered and how far its TTFT is from the
/// simulator's own (reset before, read after).
async fn measure(
    target: &Arc<Target>,
    http: &reqwest::Client,
    base: &str,
    cfg: &Config,
    id: LevelId,
    duration_s: f64,
) -> Step {
    let rate = match id.offered {
        Offered::Rate(r) => r,
        Offered::Concurrency(n) => n as f64,
    };
    let duration = Duration::from_secs_f64(duration_s);
    let level = Level {
        id,
        qps: rate,
        offsets: schedule::offsets(Arrival::Constant, rate, duration, 0),
        duration,
        max_concurrency: None,
        work: Work::Samples,
        picker: Picker::Cycle(target.samples()),
        shard: None,
        start_at: None,
    };
    let _ = sim_stats(http, base).await; // reset
    target.prepare(rate).await;
    let run = runner::run_level(target.clone(), &level, &Cancel::default(), &mut Quiet).await;
    let truth = sim_stats(http, base).await;
    let l = level_report(&run, &cfg.report_options());
    let ms = |v: Option<f64>| v.map(|v| v * 1e3);
    let truth = truth.as_ref();
    let (p50, p99) = (ms(l.ttft.get(50.0)), ms(l.ttft.get(99.0)));
    let e50 = p50
        .zip(ms(truth.and_then(|t| t.ttft_p50_s)))
        .map(|(c, t)| c - t);
    let e99 = p99
        .zip(ms(truth.and_then(|t| t.ttft_p99_s)))
        .map(|(c, t)| c - t);
    let lag = ms(l.schedule_lag_s.p99);
    let delivered = l.actual_qps / rate;
    let ok = delivered >= 0.995
        && lag.is_some_and(|v| v < 1.0)
        && l.success_rate >= 99.0
        && e50.is_none_or(|e| e.abs() < 1.0)
        && e99.is_none_or(|e| e.abs() < 5.0);
    Step {
        target_qps: rate,
        delivered_ratio: delivered,
        lag_p99_ms: lag,
        ttft_p50_ms: p50,
        ttft_p99_ms: p99,
        ttft_p50_error_ms: e50,
        ttft_p99_error_ms: e99,
        success_rate: l.success_rate,
        ok,
    }
}

impl Step {
    /// The step's row of the console table.
    fn row(&self) -> String {
        let show = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.3}"));
        format!(
            "{:>8} {:>9.2}% {:>12} {:>12} {:>12} {:>14} {:>14} {:>8}",
            self.target_qps,
            self.delivered_ratio * 100.0,
            show(self.lag_p99_ms),
            show(self.ttft_p50_ms),
            show(self.ttft_p99_ms),
            show(self.ttft_p50_error_ms),
            show(self.ttft_p99_error_ms),
            if self.ok { "yes" } else { "no" }
        )
    }
}

impl Calibration {
    /// The ceiling: the highest rate of the unbroken run of good steps from the lowest.
    fn of(steps: Vec<Step>, output_tokens: u32) -> Self {
        let ceiling = steps
            .iter()
            .take_while(|s| s.ok)
            .last()
            .map(|s| s.target_qps);
        Calibration {
            ceiling_qps: ceiling,
            ceiling_is_lower_bound: steps.iter().all(|s| s.ok),
            measured_at: chrono::Local::now().format("%Y-%m-%d %H:%M").to_string(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            output_tokens,
            steps,
        }
    }

    /// The console's answer; `lowest` is the lowest rate tried.
    fn answer(&self, lowest: f64) -> String {
        match self.ceiling_qps {
            // Every rate passed: the ceiling is above the highest rate tried, not at it.
            Some(q) if self.ceiling_is_lower_bound => format!(
                "Client ceiling on this machine: at least {q} req/s (the highest rate tried; add higher --rates to find it)"
            ),
            Some(q) => format!("Client ceiling on this machine: {q} req/s"),
            None => format!("Client ceiling: below the lowest rate tried ({lowest} req/s)"),
        }
    }
}

/// Saves the calibration as this machine's ceiling, which later runs warn above.
fn save(c: &Calibration) -> Result<()> {
    if let Some(p) = ceiling::path() {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)?;
        }
        files::write_json_atomic(&p, c)?;
        println!("Saved to {}; runs above it will warn.", p.display());
    }
    Ok(())
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
