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

/// The output tokens the client counted (stream events that carried text) against those the
/// server billed (`usage`), over the successes that report usage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Counted {
    pub requests: u64,
    /// Stream events with output text: a token each when the server streams one per event.
    pub streamed_text_events: u64,
    pub billed_output_tokens: u64,
    /// Percent of those requests whose two counts differ.
    pub mismatch_pct: f64,
}

impl Counted {
    /// `None` when no success reported usage.
    pub fn of(ok: &[&RequestRecord]) -> Option<Counted> {
        let both: Vec<(u64, u64)> = ok
            .iter()
            .filter_map(|r| Some((u64::from(r.content_chunks), r.completion_tokens?)))
            .collect();
        Self::from_sums(
            both.len() as u64,
            both.iter().map(|b| b.0).sum(),
            both.iter().map(|b| b.1).sum(),
            both.iter().filter(|(s, b)| s != b).count() as u64,
        )
    }

    /// From sums over requests (or repetitions): `mismatched` requests of `requests`.
    pub fn from_sums(
        requests: u64,
        streamed: u64,
        billed: u64,
        mismatched: u64,
    ) -> Option<Counted> {
        (requests > 0).then(|| Counted {
            requests,
            streamed_text_events: streamed,
            billed_output_tokens: billed,
            mismatch_pct: mismatched as f64 / requests as f64 * 100.0,
        })
    }

    /// Requests whose counts differed.
    pub fn mismatched(&self) -> u64 {
        (self.mismatch_pct / 100.0 * self.requests as f64).round() as u64
    }
}

/// `--api embeddings`: what a level embedded; `--api rerank`: what it scored (its inputs are
/// the documents).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Embedded {
    /// Inputs (documents) per request (`--batch-size`).
    pub batch_size: u32,
    /// Inputs (documents) of the successful requests.
    pub inputs: u64,
    /// Those per second of the level's duration, as the token throughputs are: at a level that
    /// queues, what was served, not what was sent (`actual_qps` says that).
    pub inputs_per_s: f64,
    /// Their prompt tokens per second of the level's duration.
    pub input_tokens_per_s: f64,
}

impl Embedded {
    /// `None` unless the level's successes carried `batch` (their inputs or documents).
    pub fn of(
        ok: &[&RequestRecord],
        batch: fn(&RequestRecord) -> Option<u32>,
        duration_s: f64,
    ) -> Option<Embedded> {
        let size = ok.iter().find_map(|r| batch(r))?;
        let inputs: u64 = ok.iter().filter_map(|r| batch(r)).map(u64::from).sum();
        let tokens: u64 = ok.iter().filter_map(|r| r.prompt_tokens).sum();
        Some(Embedded {
            batch_size: size,
            inputs,
            inputs_per_s: inputs as f64 / duration_s.max(1e-9),
            input_tokens_per_s: tokens as f64 / duration_s.max(1e-9),
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
    /// A request's usage counts only when it gives both the prompt's and the reply's tokens
    /// (a stream whose opening usage was lost has the reply's alone): a half is not summed as if
    /// the other were zero.
    pub fn of(ok: &[&RequestRecord]) -> Tokens {
        let whole =
            |r: &&&RequestRecord| r.completion_tokens.is_some() && r.prompt_tokens.is_some();
        let with_usage = ok.iter().filter(whole);
        Tokens {
            input: with_usage.clone().filter_map(|r| r.prompt_tokens).sum(),
            usage_output: with_usage.filter_map(|r| r.completion_tokens).sum(),
            output: ok.iter().map(|r| r.output_tokens()).sum(),
            without_usage: ok.iter().filter(|r| !whole(r)).count() as u64,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(events: u32, billed: Option<u64>, cached: Option<u64>) -> RequestRecord {
        let mut r = RequestRecord::new(0, 1.0, 0, 0, 0.0);
        r.content_chunks = events;
        r.completion_tokens = billed;
        r.prompt_tokens = Some(100);
        r.cached_tokens = cached;
        r
    }

    #[test]
    fn streamed_and_billed_tokens_are_compared_where_usage_says_and_the_cache_share_summed() {
        let recs = [
            rec(62, Some(64), Some(90)),
            rec(64, Some(64), None),
            rec(10, None, None),
        ];
        let ok: Vec<&RequestRecord> = recs.iter().collect();
        let c = Counted::of(&ok).unwrap();
        assert_eq!(
            (c.requests, c.streamed_text_events, c.billed_output_tokens),
            (2, 126, 128)
        );
        assert_eq!(c.mismatch_pct, 50.0);
        assert_eq!(c.mismatched(), 1);
        let p = PromptCache::of(&ok).unwrap();
        assert_eq!(
            (p.cached_tokens, p.prompt_tokens, p.hit_pct),
            (90, 100, 90.0)
        );
        assert_eq!(Counted::of(&[&recs[2]]), None);
        assert_eq!(PromptCache::of(&[&recs[2]]), None);
    }

    #[test]
    fn a_usage_without_the_prompts_tokens_is_not_summed_as_if_it_were_zero() {
        let mut half = rec(64, Some(64), None);
        half.prompt_tokens = None;
        let recs = [rec(64, Some(64), None), half, rec(10, None, None)];
        let ok: Vec<&RequestRecord> = recs.iter().collect();
        let t = Tokens::of(&ok);
        assert_eq!((t.input, t.usage_output, t.without_usage), (100, 64, 2));
    }
}
