//! The console's server section (`--metrics-url`): one line per level with what the endpoint's own
//! metrics showed: requests running and waiting, KV-cache usage, preemptions, tokens per second, the
//! prefix-cache hit rate, and the server's time to first token against redline's.

use crate::analyze::level::LevelReport;
use crate::analyze::server::ServerMetrics;
use std::fmt::Write;

/// The section, or an empty string when no level has server metrics.
pub fn render(levels: &[LevelReport]) -> String {
    let Some(engine) = levels
        .iter()
        .find_map(|l| l.server.as_ref())
        .map(|s| &s.engine)
    else {
        return String::new();
    };
    let mut out = format!("\nServer metrics ({engine} names):\n");
    for l in levels {
        let Some(s) = &l.server else { continue };
        let _ = writeln!(out, "  {}: {}", l.label(), line(s));
    }
    out
}

/// One level's figures, in the order an operator reads them.
pub fn line(s: &ServerMetrics) -> String {
    let mut parts = Vec::new();
    if let Some(r) = &s.running {
        parts.push(format!("running {:.0} mean, {:.0} max", r.mean, r.max));
    }
    if let Some(w) = &s.waiting {
        let rising = if w.last > w.first && w.trend_per_s > 0.0 {
            ", rising"
        } else {
            ""
        };
        parts.push(format!("waiting {:.0} max{rising}", w.max));
    }
    if let Some(kv) = &s.kv_cache_usage {
        let full = s
            .kv_cache_full_from_s
            .map(|t| format!(", full from {t:.0} s"))
            .unwrap_or_default();
        parts.push(format!(
            "KV cache {:.0}% mean, {:.0}% max{full}",
            kv.mean * 100.0,
            kv.max * 100.0
        ));
    }
    if let Some(p) = s.preemptions {
        parts.push(format!("{p:.0} preemptions"));
    }
    if let Some(g) = s.generation_tokens_per_s {
        parts.push(format!("{g:.0} generated tok/s"));
    }
    if let Some(p) = s.prompt_tokens_per_s {
        parts.push(format!("{p:.0} prompt tok/s"));
    }
    if let Some(h) = s.prefix_cache_hit_pct {
        parts.push(format!("prefix cache {h:.0}% hits"));
    }
    if let Some(a) = s.spec_decode_acceptance_pct {
        parts.push(format!("speculative decoding {a:.0}% of drafts accepted"));
    }
    if let Some(t) = &s.ttft_s {
        let gap = s
            .ttft_gap_s
            .map(|g| format!(" (redline's mean {:+.1} ms: network and client)", g * 1e3))
            .unwrap_or_default();
        parts.push(format!("server TTFT mean {:.3} s{gap}", t.mean));
    }
    if s.failed_scrapes > 0 {
        parts.push(format!(
            "{} of {} scrapes failed ({})",
            s.failed_scrapes,
            s.scrapes,
            s.last_error.as_deref().unwrap_or("?")
        ));
    }
    if parts.is_empty() {
        parts.push(format!("no known metric among the {} scrapes", s.scrapes));
    }
    parts.join(", ")
}
