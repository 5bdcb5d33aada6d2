//! `--lora`: a level's figures per adapter, from the records that named it: requests, success,
//! TTFT, end-to-end latency, tokens/s per request and output throughput. `level.rs` adds them to
//! the level; `output/workload.rs` prints them as a table.

use crate::analyze::stats::Percentiles;
use crate::measure::record::RequestRecord;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdapterFigures {
    pub adapter: String,
    pub requests: u64,
    pub succeeded: u64,
    pub success_rate: f64,
    pub ttft: Percentiles,
    pub e2e_latency: Percentiles,
    pub tokens_per_sec: Percentiles,
    pub output_tokens: u64,
    /// Its output tokens per second of the level's duration.
    pub output_throughput_tok_s: f64,
}

/// Each adapter's figures, in name order; `None` when no request named one.
pub fn by_adapter(
    recs: &[RequestRecord],
    duration_s: f64,
    percentiles: &[f64],
) -> Option<Vec<AdapterFigures>> {
    let mut groups: BTreeMap<&str, Vec<&RequestRecord>> = BTreeMap::new();
    for r in recs {
        if let Some(a) = r.adapter.as_deref() {
            groups.entry(a).or_default().push(r);
        }
    }
    if groups.is_empty() {
        return None;
    }
    let pct = |v: Vec<f64>| Percentiles::of(v, percentiles);
    Some(
        groups
            .into_iter()
            .map(|(adapter, rs)| {
                let ok: Vec<&&RequestRecord> = rs.iter().filter(|r| r.succeeded()).collect();
                let output: u64 = ok.iter().map(|r| r.output_tokens()).sum();
                AdapterFigures {
                    adapter: adapter.to_string(),
                    requests: rs.len() as u64,
                    succeeded: ok.len() as u64,
                    success_rate: ok.len() as f64 / rs.len().max(1) as f64 * 100.0,
                    ttft: pct(ok.iter().filter_map(|r| r.ttft_s()).collect()),
                    e2e_latency: pct(ok.iter().map(|r| r.e2e_s()).collect()),
                    tokens_per_sec: pct(ok.iter().filter_map(|r| r.tokens_per_sec()).collect()),
                    output_tokens: output,
                    output_throughput_tok_s: output as f64 / duration_s.max(f64::EPSILON),
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::record::ErrorKind;

    #[test]
    fn each_adapter_gets_the_figures_of_its_own_requests() {
        let rec = |a: &str, ttft: f64, ok: bool| {
            let mut r = RequestRecord::new(0, 1.0, 0, 0, 0.0);
            r.adapter = Some(a.into());
            r.first_token_s = Some(ttft);
            r.completion_tokens = Some(10);
            if !ok {
                r.error = Some(ErrorKind::Http(503));
            }
            r
        };
        let recs = [
            rec("b", 0.3, true),
            rec("a", 0.1, true),
            rec("a", 0.2, false),
        ];
        let f = by_adapter(&recs, 2.0, &[]).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(
            (f[0].adapter.as_str(), f[0].requests, f[0].succeeded),
            ("a", 2, 1)
        );
        assert_eq!(f[0].success_rate, 50.0);
        assert_eq!(f[0].ttft.get(50.0), Some(0.1));
        assert_eq!(
            (f[1].output_tokens, f[1].output_throughput_tok_s),
            (10, 5.0)
        );
        assert_eq!(
            by_adapter(&[RequestRecord::new(0, 1.0, 0, 0, 0.0)], 1.0, &[]),
            None
        );
    }
}
