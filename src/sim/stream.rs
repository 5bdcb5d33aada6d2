//! Writes a served response as an SSE stream of chat-completion chunks (a role chunk, one content
//! chunk per token, a finish chunk, a usage chunk when asked, `[DONE]`) or as one JSON completion.
//! Timed replies (`model::Plan`) put each token on an absolute deadline `start + ttft + i x itl`;
//! queued replies (`model::Ticket`) send each token when the engine produces it.

use super::model::{Plan, ReplyEvent, Ticket};
use bytes::Bytes;
use futures_util::Stream;
use serde_json::json;
use std::convert::Infallible;
use tokio::time::{sleep_until, Instant};

/// What every chunk of one reply shares.
pub struct Meta {
    pub id: u64,
    pub model: String,
    pub include_usage: bool,
    /// `/v1/completions` (`choices[].text`) rather than chat (`choices[].delta`).
    pub completions: bool,
    /// The first this many tokens are reasoning (`delta.reasoning_content`), as reasoning models
    /// stream them; chat only.
    pub reasoning_tokens: u64,
}

impl Meta {
    fn chunk(&self, delta: serde_json::Value, finish: Option<&str>) -> String {
        let v = if self.completions {
            let text = delta.get("content").cloned().unwrap_or(json!(""));
            json!({
                "id": format!("cmpl-sim-{}", self.id),
                "object": "text_completion",
                "model": self.model,
                "choices": [{"index": 0, "text": text, "finish_reason": finish}],
            })
        } else {
            json!({
                "id": format!("chatcmpl-sim-{}", self.id),
                "object": "chat.completion.chunk",
                "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            })
        };
        format!("data: {v}\n\n")
    }

    fn role(&self) -> String {
        if self.completions {
            return String::new();
        }
        self.chunk(json!({"role": "assistant", "content": ""}), None)
    }

    fn token(&self, i: u64) -> String {
        if i < self.reasoning_tokens {
            return self.chunk(json!({"reasoning_content": word(i)}), None);
        }
        self.chunk(json!({"content": word(i)}), None)
    }

    /// Finish chunk, usage chunk (when asked) and `[DONE]`.
    fn end(&self, prompt_tokens: u64, completion_tokens: u64) -> String {
        let mut s = self.chunk(json!({}), Some("length"));
        if self.include_usage {
            let v = json!({"id": format!("chatcmpl-sim-{}", self.id), "object": "chat.completion.chunk",
                           "model": self.model, "choices": [], "usage": usage(prompt_tokens, completion_tokens)});
            s.push_str(&format!("data: {v}\n\n"));
        }
        s.push_str("data: [DONE]\n\n");
        s
    }

    fn completion(&self, prompt_tokens: u64, completion_tokens: u64) -> serde_json::Value {
        let text: String = (0..completion_tokens).map(word).collect();
        if self.completions {
            return json!({
                "id": format!("cmpl-sim-{}", self.id),
                "object": "text_completion",
                "model": self.model,
                "choices": [{"index": 0, "text": text, "finish_reason": "length"}],
                "usage": usage(prompt_tokens, completion_tokens),
            });
        }
        json!({
            "id": format!("chatcmpl-sim-{}", self.id),
            "object": "chat.completion",
            "model": self.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"}],
            "usage": usage(prompt_tokens, completion_tokens),
        })
    }
}

fn usage(prompt: u64, completion: u64) -> serde_json::Value {
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

/// The word streamed as token `i`.
/// The answer text of a reply of `n` tokens whose first `reasoning` are reasoning: what a client
/// collects from its `content` deltas.
pub fn reply_text(reasoning: u64, n: u64) -> String {
    (reasoning.min(n)..n).map(word).collect()
}

fn word(i: u64) -> &'static str {
    const WORDS: [&str; 8] = [
        "the ",
        "model ",
        "is ",
        "streaming ",
        "a ",
        "simulated ",
        "reply ",
        "now ",
    ];
    WORDS[(i % 8) as usize]
}

type Chunks = Result<Bytes, Infallible>;

/// A timed reply. Step 0 is the role chunk; steps 1..=n are tokens; then the end.
pub fn timed_sse(
    meta: Meta,
    prompt_tokens: u64,
    plan: Plan,
    start: Instant,
) -> impl Stream<Item = Chunks> {
    futures_util::stream::unfold((meta, plan, 0u64), move |(meta, plan, step)| async move {
        let n = plan.output_tokens;
        let text = match step {
            0 => meta.role(),
            s if s <= n => {
                sleep_until(start + plan.ttft + plan.itl * (s - 1) as u32).await;
                if let (1, Some(log)) = (s, &plan.ttft_log) {
                    log.record(start.elapsed().as_secs_f64());
                }
                meta.token(s - 1)
            }
            s if s == n + 1 => meta.end(prompt_tokens, n),
            _ => return None,
        };
        Some((Ok(Bytes::from(text)), (meta, plan, step + 1)))
    })
}

/// The non-streaming timed reply, sent when the last token would have been.
pub async fn timed_json(
    meta: Meta,
    prompt_tokens: u64,
    plan: Plan,
    start: Instant,
) -> serde_json::Value {
    let n = plan.output_tokens;
    sleep_until(start + plan.ttft + plan.itl * (n - 1) as u32).await;
    meta.completion(prompt_tokens, n)
}

/// A queued reply whose first token has already arrived: role + first token, then one chunk per
/// engine event. If the engine goes away the stream ends without `[DONE]`.
pub fn queued_sse(meta: Meta, ticket: Ticket) -> impl Stream<Item = Chunks> {
    let first = format!("{}{}", meta.role(), meta.token(0));
    let head = futures_util::stream::once(async move { Ok(Bytes::from(first)) });
    let rest =
        futures_util::stream::unfold((meta, ticket, 1u64), |(meta, mut ticket, i)| async move {
            let text = match ticket.next().await? {
                ReplyEvent::Token => meta.token(i),
                ReplyEvent::Done {
                    prompt_tokens,
                    completion_tokens,
                } => meta.end(prompt_tokens, completion_tokens),
                ReplyEvent::Rejected { .. } => return None,
            };
            Some((Ok(Bytes::from(text)), (meta, ticket, i + 1)))
        });
    futures_util::StreamExt::chain(head, rest)
}

/// The non-streaming queued reply: waits for the engine to finish.
pub async fn queued_json(meta: Meta, mut ticket: Ticket) -> Option<serde_json::Value> {
    loop {
        match ticket.next().await? {
            ReplyEvent::Token => {}
            ReplyEvent::Done {
                prompt_tokens,
                completion_tokens,
            } => return Some(meta.completion(prompt_tokens, completion_tokens)),
            ReplyEvent::Rejected { .. } => return None,
        }
    }
}
