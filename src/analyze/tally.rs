//! Counts over a level's records that its report needs: failures by kind (with the first message
//! of each, and how many were the client's own) and the successes' tokens. `level.rs` builds the
//! `LevelReport` from them.

use crate::measure::record::RequestRecord;
use serde::Serialize;
use std::collections::BTreeMap;

/// A level's failures: counted by kind, the first message of each kind, and how many were the
/// client's own.
pub struct Errors {
    pub by_kind: BTreeMap<String, u64>,
    pub samples: BTreeMap<String, String>,
    pub client_side: u64,
}

impl Errors {
    pub fn of(recs: &[RequestRecord]) -> Errors {
        let mut e = Errors {
            by_kind: BTreeMap::new(),
            samples: BTreeMap::new(),
            client_side: 0,
        };
        for r in recs {
            let Some(kind) = r.error else { continue };
            *e.by_kind.entry(kind.to_string()).or_insert(0u64) += 1;
            if let Some(d) = r.error_detail.as_ref().filter(|d| !d.is_empty()) {
                e.samples
                    .entry(kind.to_string())
                    .or_insert_with(|| d.clone());
            }
            e.client_side += u64::from(kind.is_client_side());
        }
        e
    }
}

/// The successes' tokens: input and output as `usage` reported them (cost counts these), output
/// as streamed (throughput counts these), and successes without `usage`.
/// The prompt tokens a server's prefix cache served, over the successes whose usage says.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PromptCache {
    pub cached_tokens: u64,
    /// The prompt tokens of the requests that reported `cached_tokens`.
    pub prompt_tokens: u64,
    pub hit_pct: f64,
}

impl PromptCache {
    /// `None` when no success reported cached tokens.
    pub fn of(ok: &[&RequestRecord]) -> Option<PromptCache> {
        let said: Vec<(u64, u64)> = ok
            .iter()
            .filter_map(|r| Some((r.cached_tokens?, r.prompt_tokens?)))
            .collect();
        Self::from_sums(
            said.iter().map(|c| c.0).sum(),
            said.iter().map(|c| c.1).sum(),
            !said.is_empty(),
        )
    }

    /// From the sums over requests (or repetitions) that reported.
    pub fn from_sums(cached: u64, prompt: u64, any: bool) -> Option<PromptCache> {
        any.then(|| PromptCache {
            cached_tokens: cached,
            prompt_tokens: prompt,
            hit_pct: match prompt {
                0 => 0.0,
                p => cached as f64 / p as f64 * 100.0,
            },
        })
    }
}

/// The reasoning tokens of the successes whose usage counts them; `None` when none does.
pub fn reasoning_tokens(ok: &[&RequestRecord]) -> Option<u64> {
    let said: Vec<u64> = ok.iter().filter_map(|r| r.reasoning_tokens).collect();
    (!said.is_empty()).then(|| said.iter().sum())
}

pub struct Tokens {
    pub input: u64,
    pub usage_output: u64,
    pub output: u64,
    pub without_usage: u64,
}

impl Tokens {
    pub fn of(ok: &[&RequestRecord]) -> Tokens {
        let with_usage = ok.iter().filter(|r| r.completion_tokens.is_some());
        Tokens {
            input: with_usage.clone().filter_map(|r| r.prompt_tokens).sum(),
            usage_output: with_usage.filter_map(|r| r.completion_tokens).sum(),
            output: ok.iter().map(|r| r.output_tokens()).sum(),
            without_usage: ok.iter().filter(|r| r.completion_tokens.is_none()).count() as u64,
        }
    }
}

/// Each request's output tokens as throughput counts them (none for a failure): the terms whose
/// sum is the level's output tokens.
pub fn per_request_output(recs: &[RequestRecord]) -> Vec<f64> {
    recs.iter()
        .map(|r| {
            if r.succeeded() {
                r.output_tokens() as f64
            } else {
                0.0
            }
        })
        .collect()
}

/// Each request's input (from `usage`) and output tokens as total throughput counts them.
pub fn per_request_total(recs: &[RequestRecord]) -> Vec<f64> {
    recs.iter()
        .map(|r| {
            if !r.succeeded() {
                return 0.0;
            }
            let input = r.completion_tokens.and(r.prompt_tokens).unwrap_or_default();
            (input + r.output_tokens()) as f64
        })
        .collect()
}
