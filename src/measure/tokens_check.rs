//! The client's count of the tokens it received against the server's bill: after each level,
//! the answer text of its first `CHECKED` successful replies is counted by a tokenizer (the
//! server's own `/tokenize`, which llama.cpp's server and vLLM serve, or `--tokenizer`) and set
//! beside each reply's `completion_tokens`. A reply whose count differs is a mismatch. The check
//! sends its requests between levels, never during one (the first after the first whole
//! level, to find `/tokenize`), and takes at most a few seconds; `pipeline/mod.rs` runs it, the level
//! report shows it (`output_tokens_checked`) and metadata.json keeps it, so `report` rebuilds it.

use crate::dataset::tokenizer::Tokenizer;
use crate::measure::checked::{TokenCheck, CHECKED};
use crate::measure::record::RequestRecord;
use crate::measure::target::Target;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The most a level's check takes: it delays the next level, so an endpoint slow to answer
/// `/tokenize` gets a partial check, not a stalled run.
const BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

/// What counts the tokens.
pub enum Counter {
    Local(Arc<Tokenizer>),
    Server(reqwest::Url),
}

impl Counter {
    /// `--tokenizer` when given, else the server's `/tokenize` when it answers one.
    pub async fn find(
        target: &Target,
        local: Option<Arc<Tokenizer>>,
        model: &str,
    ) -> Option<Counter> {
        let counter = match local {
            Some(t) => Some(Counter::Local(t)),
            None => match tokenize_url(target) {
                Some(url) => server_count(target, &url, model, "hello world")
                    .await
                    .map(|_| Counter::Server(url)),
                None => None,
            },
        };
        // Without a counter, the replies' text is no longer kept.
        target.checking.store(counter.is_some(), Ordering::Relaxed);
        counter
    }

    pub fn name(&self) -> &'static str {
        match self {
            Counter::Local(_) => "--tokenizer",
            Counter::Server(_) => "/tokenize",
        }
    }

    /// Counts the kept replies of `records` (and forgets their text), within [`BUDGET`].
    pub async fn check(
        &self,
        target: &Target,
        model: &str,
        records: &mut [RequestRecord],
    ) -> Option<TokenCheck> {
        // The plain successes kept, first planned first (a session's turns in order), at most
        // CHECKED; every kept text is taken, so none outlives the check.
        let mut kept: Vec<(u64, String, u64)> = records
            .iter_mut()
            .filter_map(|r| {
                let text = r.reply_text.take()?;
                let billed = r.completion_tokens.filter(|_| r.succeeded() && plain(r))?;
                Some((r.index, text, billed))
            })
            .collect();
        kept.sort_by_key(|k| k.0);
        kept.truncate(CHECKED as usize);
        let mut pairs = Vec::new();
        let until = tokio::time::Instant::now() + BUDGET;
        for (_, text, billed) in kept {
            if tokio::time::Instant::now() > until {
                break;
            }
            let counted = match self {
                Counter::Local(t) => Some(t.count(&text)),
                Counter::Server(url) => server_count(target, url, model, &text).await,
            };
            if let Some(c) = counted {
                pairs.push((c, billed));
            }
        }
        TokenCheck::of(self.name(), &pairs)
    }
}

/// A reply whose answer text holds every token billed for it: no reasoning, no tool call.
fn plain(r: &RequestRecord) -> bool {
    r.first_reasoning_s.is_none() && r.first_tool_call_s.is_none()
}

/// Why [`Counter::check`] counted none of a level's replies, as the run's announcement of the
/// check promised some: by the same tests it chose its replies by.
pub fn unchecked(records: &[RequestRecord]) -> &'static str {
    let ok = records.iter().filter(|r| r.succeeded());
    let answers = ok.clone().filter(|r| plain(r));
    if ok.clone().next().is_none() {
        "this level had no successful reply to count"
    } else if answers.clone().next().is_none() {
        "none of this level's replies was counted: each carried reasoning or a tool call, whose tokens its answer text does not hold"
    } else if answers.clone().all(|r| r.completion_tokens.is_none()) {
        "none of this level's replies was counted: the server billed them no output tokens (no usage)"
    } else {
        "none of this level's replies could be counted: the tokenizer failed or did not answer within the check's time"
    }
}

/// The server's `/tokenize`: at the root, beside `/v1`.
fn tokenize_url(target: &Target) -> Option<reqwest::Url> {
    let mut url = target.sibling("tokenize")?;
    let path = url.path().replacen("/v1/tokenize", "/tokenize", 1);
    url.set_path(&path);
    Some(url)
}

/// A text's tokens by the server: llama.cpp's `content` or vLLM's `prompt`, no special tokens;
/// its `count`, or the length of its `tokens`.
async fn server_count(target: &Target, url: &reqwest::Url, model: &str, text: &str) -> Option<u64> {
    let body = serde_json::json!({"model": model, "content": text, "prompt": text,
        "add_special": false, "add_special_tokens": false});
    let v = target
        .post_json(url.clone(), &body, std::time::Duration::from_secs(2))
        .await?;
    match v.get("count").and_then(|c| c.as_u64()) {
        Some(c) => Some(c),
        None => v.get("tokens")?.as_array().map(|t| t.len() as u64),
    }
}
