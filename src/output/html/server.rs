//! The HTML report's server panels, drawn when the run scraped the endpoint's metrics
//! (`--metrics-url`), as the PNG draws them (`output/chart/panels.rs`): requests running and
//! waiting with the KV cache's use, and the server's own time to first token against redline's
//! (the gap being network and client).

use super::frame::Frame;
use super::svg::{Chart, Series, PALETTE, PURPLE};
use crate::analyze::level::LevelReport;
use crate::analyze::server::ServerMetrics;

/// A figure of the server's metrics.
type Figure = fn(&ServerMetrics) -> Option<f64>;

fn server(l: &LevelReport, f: Figure) -> Option<f64> {
    l.server.as_ref().and_then(f)
}

/// Requests running and waiting on the server, and its KV-cache usage (right axis).
pub fn server_load(f: &Frame) -> Chart {
    let mut c = f.chart(
        "Server: requests running and waiting, KV cache",
        "Requests",
        Some("KV cache used (%)"),
    );
    let gauges: [(&str, Figure, &str); 3] = [
        (
            "running (mean)",
            |s| s.running.as_ref().map(|g| g.mean),
            PALETTE[0],
        ),
        (
            "running (max)",
            |s| s.running.as_ref().map(|g| g.max),
            PALETTE[1],
        ),
        (
            "waiting (max)",
            |s| s.waiting.as_ref().map(|g| g.max),
            PALETTE[3],
        ),
    ];
    for (name, get, color) in gauges {
        let pts = f.points(name, |l| server(l, get), |v| format!("{v:.1}"));
        if !pts.is_empty() {
            c.series.push(Series::line(name, pts).colored(color));
        }
    }
    let kv = f.points(
        "KV cache max",
        |l| server(l, |s| s.kv_cache_usage.as_ref().map(|g| g.max * 100.0)),
        |v| format!("{v:.1}%"),
    );
    if !kv.is_empty() {
        c.series.push(
            Series::line("KV cache max %", kv)
                .colored(PURPLE)
                .on_right(),
        );
    }
    c.note = Some("the metrics page showed no queue figures".into());
    c
}

/// The server's TTFT (its histogram's mean) against redline's, from the planned send.
pub fn server_ttft(f: &Frame) -> Chart {
    let mut c = f.chart(
        "Time to first token: server vs redline (mean, s)",
        "Seconds",
        None,
    );
    let secs = |v: f64| format!("{v:.3} s");
    let server_mean = |l: &LevelReport| Some(l.server.as_ref()?.ttft_s.as_ref()?.mean);
    let client = f.points(
        "redline",
        |l| Some(server_mean(l)? + l.server.as_ref()?.ttft_gap_s?),
        secs,
    );
    let own = f.points("server", server_mean, secs);
    if !own.is_empty() {
        c.series
            .push(Series::line("redline (from the planned send)", client).colored(PALETTE[0]));
        c.series
            .push(Series::line("server (its histogram)", own).colored(PALETTE[2]));
    }
    c.note = Some("the metrics page has no TTFT histogram".into());
    c
}
