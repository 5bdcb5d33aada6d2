//! The endpoint's own view of a level (`--metrics-url`), from its scrapes (`measure/scrape.rs`):
//! requests running and waiting (mean, max and trend), KV-cache usage (mean, max, and when it
//! filled), preemptions, the prompt and generation tokens it processed per second, its prefix-cache
//! hit rate, and its own time to first token set against redline's (the difference is the network
//! and the client). The serving engines name these differently; [`ENGINES`] maps vLLM's, SGLang's,
//! TGI's and llama.cpp's names (the simulator speaks vLLM's), and any other series stays in the
//! raw scrapes. From the figures comes a sentence for the verdict ("queue grew to 120 waiting; KV
//! cache 100% full from 14 s"), which `level.rs` adds to a level that did not pass.

use crate::measure::prometheus::Scrape;
use crate::measure::time::micro;
use serde::Serialize;
use std::collections::BTreeMap;

/// Where one engine keeps each figure (the first name present is used).
pub struct Names {
    pub engine: &'static str,
    /// The prefix that identifies the engine's metrics.
    pub prefix: &'static str,
    pub running: &'static [&'static str],
    pub waiting: &'static [&'static str],
    /// A fraction from 0 to 1.
    pub kv_usage: &'static [&'static str],
    pub preemptions: &'static [&'static str],
    /// Counters of prompt and generated tokens (or histograms, whose `_sum` is used).
    pub prompt_tokens: &'static [&'static str],
    pub generation_tokens: &'static [&'static str],
    /// A histogram of the time to first token, seconds.
    pub ttft: &'static [&'static str],
    /// Counters of prompt tokens looked up in the prefix cache and found there.
    pub cache_queries: &'static [&'static str],
    pub cache_hits: &'static [&'static str],
    /// Counters of speculative decoding's draft tokens and of those the target model accepted.
    pub spec_drafted: &'static [&'static str],
    pub spec_accepted: &'static [&'static str],
}

/// The requests one scrape says are waiting (summed over engines), when the page is an engine
/// redline knows: what `--stop-on-saturation` reads from `--metrics-url` while a level runs.
pub fn waiting(s: &Scrape) -> Option<f64> {
    let names = ENGINES
        .iter()
        .find(|e| s.values.keys().any(|k| k.starts_with(e.prefix)))?;
    names.waiting.iter().find_map(|name| s.sum(name))
}

pub const ENGINES: [Names; 4] = [
    Names {
        engine: "vllm",
        prefix: "vllm:",
        running: &["vllm:num_requests_running"],
        waiting: &["vllm:num_requests_waiting"],
        kv_usage: &["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"],
        preemptions: &["vllm:num_preemptions_total", "vllm:num_preemptions"],
        prompt_tokens: &["vllm:prompt_tokens_total"],
        generation_tokens: &["vllm:generation_tokens_total"],
        ttft: &["vllm:time_to_first_token_seconds"],
        cache_queries: &[
            "vllm:prefix_cache_queries_total",
            "vllm:gpu_prefix_cache_queries_total",
        ],
        cache_hits: &[
            "vllm:prefix_cache_hits_total",
            "vllm:gpu_prefix_cache_hits_total",
        ],
        spec_drafted: &["vllm:spec_decode_num_draft_tokens_total"],
        spec_accepted: &["vllm:spec_decode_num_accepted_tokens_total"],
    },
    Names {
        engine: "sglang",
        prefix: "sglang:",
        running: &["sglang:num_running_reqs"],
        waiting: &["sglang:num_queue_reqs"],
        kv_usage: &["sglang:token_usage"],
        preemptions: &["sglang:num_retracted_reqs_total"],
        prompt_tokens: &["sglang:prompt_tokens_total"],
        generation_tokens: &["sglang:generation_tokens_total"],
        ttft: &["sglang:time_to_first_token_seconds"],
        cache_queries: &[],
        cache_hits: &[],
        spec_drafted: &[],
        spec_accepted: &[],
    },
    Names {
        engine: "tgi",
        prefix: "tgi_",
        running: &["tgi_batch_current_size"],
        waiting: &["tgi_queue_size"],
        kv_usage: &[],
        preemptions: &[],
        prompt_tokens: &["tgi_request_input_length_sum"],
        generation_tokens: &["tgi_request_generated_tokens_sum"],
        ttft: &[],
        cache_queries: &[],
        cache_hits: &[],
        spec_drafted: &[],
        spec_accepted: &[],
    },
    Names {
        engine: "llamacpp",
        prefix: "llamacpp:",
        running: &["llamacpp:requests_processing"],
        waiting: &["llamacpp:requests_deferred"],
        kv_usage: &["llamacpp:kv_cache_usage_ratio"],
        preemptions: &[],
        prompt_tokens: &["llamacpp:prompt_tokens_total"],
        generation_tokens: &["llamacpp:tokens_predicted_total"],
        ttft: &[],
        cache_queries: &[],
        cache_hits: &[],
        spec_drafted: &[],
        spec_accepted: &[],
    },
];

/// A gauge over the level's scrapes while its load was offered (its send window).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gauge {
    pub mean: f64,
    pub max: f64,
    pub first: f64,
    pub last: f64,
    /// Least-squares slope over the level, per second.
    pub trend_per_s: f64,
}

/// The endpoint's view of one level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerMetrics {
    /// Whose metric names were read: `vllm`, `sglang`, `tgi`, `llamacpp`, or `unknown`.
    pub engine: String,
    pub scrapes: u64,
    pub failed_scrapes: u64,
    /// Why the last failed scrape failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running: Option<Gauge>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<Gauge>,
    /// KV-cache usage, a fraction from 0 to 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kv_cache_usage: Option<Gauge>,
    /// Seconds into the level when the KV cache was first at least 99% full.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "micro::opt::serialize"
    )]
    pub kv_cache_full_from_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preemptions: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_tokens_per_s: Option<f64>,
    /// Percent of prompt tokens found in the prefix cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_cache_hit_pct: Option<f64>,
    /// Speculative decoding: percent of the draft tokens the target model accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec_decode_acceptance_pct: Option<f64>,
    /// The server's own time to first token over the level (from its histogram: mean, and p50
    /// and p95 interpolated within buckets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_s: Option<ServerTtft>,
    /// redline's mean TTFT less the server's: the network and the client.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "micro::opt::serialize"
    )]
    pub ttft_gap_s: Option<f64>,
    /// What the figures say about a saturated level, for its verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerTtft {
    pub requests: f64,
    #[serde(serialize_with = "micro::serialize")]
    pub mean: f64,
    #[serde(serialize_with = "micro::opt::serialize")]
    pub p50: Option<f64>,
    #[serde(serialize_with = "micro::opt::serialize")]
    pub p95: Option<f64>,
    /// The buckets `p50` and `p95` fall in, `[lower, upper]` (upper `null` for +Inf): the
    /// interpolated figures are only as exact as these.
    pub p50_bucket_s: Option<[Option<f64>; 2]>,
    pub p95_bucket_s: Option<[Option<f64>; 2]>,
}

/// The level's server view from its scrapes; `window_s` is its send window (gauges are read over
/// it, not over the drain after it), `client_ttft_mean_s` redline's mean TTFT of the level's
/// successful requests. `None` without scrapes.
pub fn summarize(
    scrapes: &[Scrape],
    window_s: f64,
    client_ttft_mean_s: Option<f64>,
) -> Option<ServerMetrics> {
    if scrapes.is_empty() {
        return None;
    }
    let ok: Vec<&Scrape> = scrapes.iter().filter(|s| s.error.is_none()).collect();
    // The scrapes while the load was offered (plus the one at its end), for the gauges.
    let offered: Vec<&Scrape> = match ok.iter().filter(|s| s.t_s <= window_s + 1.0).count() {
        0 | 1 => ok.clone(),
        _ => ok
            .iter()
            .copied()
            .filter(|s| s.t_s <= window_s + 1.0)
            .collect(),
    };
    let names = ok.iter().find_map(|s| {
        ENGINES
            .iter()
            .find(|e| s.values.keys().any(|k| k.starts_with(e.prefix)))
    });
    let mut m = ServerMetrics {
        engine: names.map_or("unknown", |n| n.engine).to_string(),
        scrapes: scrapes.len() as u64,
        failed_scrapes: (scrapes.len() - ok.len()) as u64,
        last_error: scrapes.iter().rev().find_map(|s| s.error.clone()),
        running: None,
        waiting: None,
        kv_cache_usage: None,
        kv_cache_full_from_s: None,
        preemptions: None,
        prompt_tokens_per_s: None,
        generation_tokens_per_s: None,
        prefix_cache_hit_pct: None,
        spec_decode_acceptance_pct: None,
        ttft_s: None,
        ttft_gap_s: None,
        explanation: None,
    };
    let Some(n) = names else {
        return Some(m);
    };
    // Requests add up across engines; a ratio does not: the fullest engine's is the one read.
    m.running = gauge(&offered, n.running, Scrape::sum);
    m.waiting = gauge(&offered, n.waiting, Scrape::sum);
    m.kv_cache_usage = gauge(&offered, n.kv_usage, Scrape::max);
    m.kv_cache_full_from_s = first(n.kv_usage, &ok).and_then(|name| {
        ok.iter()
            .find(|s| s.max(name).is_some_and(|v| v >= 0.99))
            .map(|s| s.t_s)
    });
    m.preemptions = delta(&ok, n.preemptions).map(|(d, _)| d);
    m.prompt_tokens_per_s = delta(&ok, n.prompt_tokens).map(|(d, t)| d / t.max(1e-9));
    m.generation_tokens_per_s = delta(&ok, n.generation_tokens).map(|(d, t)| d / t.max(1e-9));
    if let (Some((q, _)), Some((h, _))) = (delta(&ok, n.cache_queries), delta(&ok, n.cache_hits)) {
        m.prefix_cache_hit_pct = (q > 0.0).then(|| h / q * 100.0);
    }
    if let (Some((d, _)), Some((a, _))) = (delta(&ok, n.spec_drafted), delta(&ok, n.spec_accepted))
    {
        m.spec_decode_acceptance_pct = (d > 0.0).then(|| a / d * 100.0);
    }
    m.ttft_s = n.ttft.iter().find_map(|name| histogram(&ok, name));
    m.ttft_gap_s = match (&m.ttft_s, client_ttft_mean_s) {
        (Some(s), Some(c)) => Some(c - s.mean),
        _ => None,
    };
    m.explanation = explain(&m);
    Some(m)
}

/// The first of `names` that some scrape has.
fn first<'a>(names: &[&'a str], ok: &[&Scrape]) -> Option<&'a str> {
    names
        .iter()
        .copied()
        .find(|name| ok.iter().any(|s| s.sum(name).is_some()))
}

/// A gauge's series over the scrapes, each scrape's series combined by `combine`.
fn gauge(
    ok: &[&Scrape],
    names: &[&str],
    combine: fn(&Scrape, &str) -> Option<f64>,
) -> Option<Gauge> {
    let name = first(names, ok)?;
    let points: Vec<(f64, f64)> = ok
        .iter()
        .filter_map(|s| Some((s.t_s, combine(s, name)?)))
        .collect();
    let n = points.len() as f64;
    let mean = points.iter().map(|p| p.1).sum::<f64>() / n;
    let mean_t = points.iter().map(|p| p.0).sum::<f64>() / n;
    let var_t: f64 = points.iter().map(|p| (p.0 - mean_t).powi(2)).sum();
    let cov: f64 = points.iter().map(|p| (p.0 - mean_t) * (p.1 - mean)).sum();
    Some(Gauge {
        mean,
        max: points.iter().map(|p| p.1).fold(f64::MIN, f64::max),
        first: points[0].1,
        last: points[points.len() - 1].1,
        trend_per_s: if var_t > 0.0 { cov / var_t } else { 0.0 },
    })
}

/// A counter's increase over the level and the seconds it took (`None` if it went down: the
/// server restarted).
fn delta(ok: &[&Scrape], names: &[&str]) -> Option<(f64, f64)> {
    let name = first(names, ok)?;
    let points: Vec<(f64, f64)> = ok
        .iter()
        .filter_map(|s| Some((s.t_s, s.sum(name)?)))
        .collect();
    let (t0, v0) = *points.first()?;
    let (t1, v1) = *points.last()?;
    (points.len() >= 2 && v1 >= v0).then_some((v1 - v0, t1 - t0))
}

/// The histogram's observations during the level: their mean, and p50 and p95 interpolated
/// linearly within buckets as Prometheus's `histogram_quantile` does.
fn histogram(ok: &[&Scrape], name: &str) -> Option<ServerTtft> {
    let (first, last) = (ok.first()?, ok.last()?);
    let count = last.sum(&format!("{name}_count"))? - first.sum(&format!("{name}_count"))?;
    let sum = last.sum(&format!("{name}_sum"))? - first.sum(&format!("{name}_sum"))?;
    if count <= 0.0 {
        return None;
    }
    let buckets = |s: &Scrape| {
        let mut by_le: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
        for (key, v) in s.series(&format!("{name}_bucket")) {
            let le = le(key)?;
            by_le.entry(le.to_bits()).or_insert((le, 0.0)).1 += v;
        }
        Some(by_le)
    };
    let (b0, b1) = (buckets(first)?, buckets(last)?);
    let mut cumulative: Vec<(f64, f64)> = b1
        .iter()
        .map(|(bits, (le, v))| (*le, v - b0.get(bits).map_or(0.0, |x| x.1)))
        .collect();
    // A bucket that went down means the server restarted during the level: no figure.
    if cumulative.iter().any(|(_, c)| *c < 0.0) {
        return None;
    }
    cumulative.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Prometheus's histogram_quantile: linear within the bucket the rank falls in.
    let quantile = |q: f64| {
        let rank = q * count;
        let mut lower = (0.0, 0.0);
        for &(le, c) in &cumulative {
            if c >= rank {
                if le.is_infinite() {
                    return Some((lower.0, [Some(lower.0), None]));
                }
                let within = (rank - lower.1) / (c - lower.1).max(f64::MIN_POSITIVE);
                return Some((lower.0 + (le - lower.0) * within, [Some(lower.0), Some(le)]));
            }
            lower = (le, c);
        }
        None
    };
    let (p50, p95) = (quantile(0.5), quantile(0.95));
    Some(ServerTtft {
        requests: count,
        mean: sum / count,
        p50: p50.map(|q| q.0),
        p95: p95.map(|q| q.0),
        p50_bucket_s: p50.map(|q| q.1),
        p95_bucket_s: p95.map(|q| q.1),
    })
}

/// The `le` label of a bucket's key (`{le="0.1"` or `,le="0.1"`, not `module="..."`).
fn le(key: &str) -> Option<f64> {
    let start = ["{le=\"", ",le=\""].iter().find_map(|p| key.find(p))? + 5;
    let end = start + key[start..].find('"')?;
    match &key[start..end] {
        "+Inf" => Some(f64::INFINITY),
        v => v.parse().ok(),
    }
}

/// The server's account of saturation: a growing queue, a full KV cache, preemptions.
fn explain(m: &ServerMetrics) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(w) = &m.waiting {
        if w.max >= 1.0 && w.last > w.first && w.trend_per_s > 0.0 {
            parts.push(format!("queue grew to {:.0} waiting", w.max));
        } else if w.max >= 1.0 {
            parts.push(format!("up to {:.0} waiting", w.max));
        }
    }
    if let (Some(kv), Some(t)) = (&m.kv_cache_usage, m.kv_cache_full_from_s) {
        parts.push(format!(
            "KV cache {:.0}% full from {t:.0} s",
            kv.max * 100.0
        ));
    }
    if let Some(p) = m.preemptions.filter(|&p| p > 0.0) {
        parts.push(format!("{p:.0} preemptions"));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
