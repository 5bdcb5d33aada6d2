//! What a run says before it connects: deprecated flags, a key about to cross the network in the
//! clear, the open-file limit (how many streams this process can hold) and rates above this
//! machine's saved client ceiling, what a `--qps auto` search will do, and a `--max-concurrency` the
//! open-file limit cannot honour. Each is a line on stderr; none stops the run.

use crate::config::{self, Config};
use crate::output::ceiling;
use crate::process;

/// Prints the notices that apply to `cfg`.
pub fn before_run(cfg: &Config) {
    if cfg.show_tokens {
        eprintln!("note: --show-tokens is deprecated and does nothing; tokens/sec is always shown");
    }
    if config::key_in_clear(cfg) {
        eprintln!(
            "warning: the API key will be sent unencrypted over plain http to {}; use https unless this network is trusted",
            cfg.endpoint.host_str().unwrap_or("?")
        );
    }
    let streams = process::raise_open_file_limit();
    ceiling::warn_if_over_ceiling(cfg.levels.rates());
    if let Some(s) = cfg.levels.search() {
        eprintln!(
            "Searching for the highest rate that meets the objectives: from {} req/s, to within {}%{}",
            s.start_qps,
            s.tolerance * 100.0,
            s.budget_s
                .map(|b| format!(", using at most {b} s of endpoint time"))
                .unwrap_or_default()
        );
    }
    if let Some(cap) = cfg.max_concurrency.filter(|&c| c as u64 > streams) {
        eprintln!("warning: --max-concurrency {cap} exceeds the ~{streams} streams this process can hold open");
    }
}
