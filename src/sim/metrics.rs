//! The simulator's `/metrics`: the counters and gauges the engine task keeps ([`Metrics`]) and their
//! Prometheus text rendering with vLLM's metric names. Used by `driver.rs` (the batching engine) and
//! `model.rs` (the fixed-latency model).

use std::fmt::Write;

/// vLLM's TTFT histogram buckets, seconds.
pub const TTFT_BUCKETS: [f64; 17] = [
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0,
];

/// What `/metrics` shows, updated by the engine task.
#[derive(Debug, Default, Clone)]
pub struct Metrics {
    pub running: usize,
    pub waiting: usize,
    pub kv_usage: f64,
    pub prompt_tokens: u64,
    pub generation_tokens: u64,
    pub success: u64,
    pub rejected: u64,
    /// Prompt tokens looked up in the prefix cache, and found there.
    pub prefix_queries: u64,
    pub prefix_hits: u64,
    pub ttft_buckets: [u64; TTFT_BUCKETS.len()],
    pub ttft_count: u64,
    pub ttft_sum: f64,
}

/// Prometheus text format with vLLM's metric names.
pub fn render(m: &Metrics, model: &str) -> String {
    let l = format!("model_name=\"{}\"", model.replace(['"', '\\', '\n'], "_"));
    let mut s = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: String| {
        let _ = writeln!(
            s,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{{{l}}} {value}"
        );
    };
    let gauges_and_counters = [
        (
            "vllm:num_requests_running",
            "gauge",
            "Number of requests in model execution batches.",
            m.running.to_string(),
        ),
        (
            "vllm:num_requests_waiting",
            "gauge",
            "Number of requests waiting to be processed.",
            m.waiting.to_string(),
        ),
        (
            "vllm:kv_cache_usage_perc",
            "gauge",
            "KV-cache usage. 1 means 100 percent usage.",
            m.kv_usage.to_string(),
        ),
        (
            "vllm:gpu_cache_usage_perc",
            "gauge",
            "GPU KV-cache usage. 1 means 100 percent usage.",
            m.kv_usage.to_string(),
        ),
        (
            "vllm:num_preemptions_total",
            "counter",
            "Cumulative number of preemptions (the simulator reserves KV on admission, so never).",
            "0".to_string(),
        ),
        (
            "vllm:prompt_tokens_total",
            "counter",
            "Number of prefill tokens processed.",
            m.prompt_tokens.to_string(),
        ),
        (
            "vllm:generation_tokens_total",
            "counter",
            "Number of generation tokens processed.",
            m.generation_tokens.to_string(),
        ),
        (
            "vllm:request_success_total",
            "counter",
            "Count of successfully processed requests.",
            m.success.to_string(),
        ),
        (
            "vllm:prefix_cache_queries_total",
            "counter",
            "Prefix cache queries, in terms of number of queried tokens.",
            m.prefix_queries.to_string(),
        ),
        (
            "vllm:prefix_cache_hits_total",
            "counter",
            "Prefix cache hits, in terms of number of cached tokens.",
            m.prefix_hits.to_string(),
        ),
        (
            "redline_sim:request_rejected_total",
            "counter",
            "Requests rejected by the queue limit or queue timeout.",
            m.rejected.to_string(),
        ),
    ];
    for (name, kind, help, value) in gauges_and_counters {
        metric(name, kind, help, value);
    }
    let name = "vllm:time_to_first_token_seconds";
    let _ = writeln!(
        s,
        "# HELP {name} Histogram of time to first token in seconds.\n# TYPE {name} histogram"
    );
    for (le, n) in TTFT_BUCKETS.iter().zip(m.ttft_buckets) {
        let _ = writeln!(s, "{name}_bucket{{{l},le=\"{le}\"}} {n}");
    }
    let _ = writeln!(s, "{name}_bucket{{{l},le=\"+Inf\"}} {}", m.ttft_count);
    let _ = writeln!(
        s,
        "{name}_sum{{{l}}} {}\n{name}_count{{{l}}} {}",
        m.ttft_sum, m.ttft_count
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_use_vllm_names_and_cumulative_buckets() {
        let mut m = Metrics {
            running: 3,
            waiting: 2,
            ..Default::default()
        };
        m.ttft_count = 1;
        m.ttft_sum = 0.3;
        for (i, le) in TTFT_BUCKETS.iter().enumerate() {
            m.ttft_buckets[i] = u64::from(0.3 <= *le);
        }
        let text = render(&m, "llama");
        assert!(text.contains("vllm:num_requests_running{model_name=\"llama\"} 3"));
        assert!(text.contains("vllm:num_requests_waiting{model_name=\"llama\"} 2"));
        assert!(text.contains(
            "vllm:time_to_first_token_seconds_bucket{model_name=\"llama\",le=\"0.25\"} 0"
        ));
        assert!(text.contains(
            "vllm:time_to_first_token_seconds_bucket{model_name=\"llama\",le=\"0.5\"} 1"
        ));
        assert!(text.contains("vllm:time_to_first_token_seconds_count{model_name=\"llama\"} 1"));
    }
}
