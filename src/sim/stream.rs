//! Writes a served response: an SSE stream of chat-completion chunks (role chunk at once, one
//! content chunk per token on absolute deadlines `start + ttft + i * itl`, a finish chunk, a usage
//! chunk when asked, `[DONE]`), or one JSON completion for non-streaming requests.

use super::model::Plan;
use bytes::Bytes;
use futures_util::Stream;
use serde_json::json;
use tokio::time::{sleep_until, Instant};

pub struct Reply {
    pub id: u64,
    pub model: String,
    pub prompt_tokens: u64,
    pub include_usage: bool,
    pub plan: Plan,
    pub start: Instant,
}

fn chunk(r: &Reply, delta: serde_json::Value, finish: Option<&str>) -> Bytes {
    let v = json!({
        "id": format!("chatcmpl-sim-{}", r.id),
        "object": "chat.completion.chunk",
        "model": r.model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    });
    Bytes::from(format!("data: {v}\n\n"))
}

fn usage(r: &Reply) -> serde_json::Value {
    json!({
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.plan.output_tokens,
        "total_tokens": r.prompt_tokens + r.plan.output_tokens,
    })
}

/// The word streamed as token `i`.
fn word(i: u64) -> String {
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
    WORDS[(i % 8) as usize].to_string()
}

/// The SSE body. Step 0 is the role chunk; steps 1..=n are tokens; then finish, usage, `[DONE]`.
pub fn sse(reply: Reply) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> {
    futures_util::stream::unfold((reply, 0u64), |(r, step)| async move {
        let n = r.plan.output_tokens;
        let bytes = match step {
            0 => chunk(&r, json!({"role": "assistant", "content": ""}), None),
            s if s <= n => {
                let due = r.start + r.plan.ttft + r.plan.itl * (s - 1) as u32;
                sleep_until(due).await;
                chunk(&r, json!({"content": word(s - 1)}), None)
            }
            s if s == n + 1 => chunk(&r, json!({}), Some("length")),
            s if s == n + 2 && r.include_usage => {
                let v = json!({"id": format!("chatcmpl-sim-{}", r.id), "object": "chat.completion.chunk",
                               "model": r.model, "choices": [], "usage": usage(&r)});
                Bytes::from(format!("data: {v}\n\n"))
            }
            s if s <= n + 3 => Bytes::from_static(b"data: [DONE]\n\n"),
            _ => return None,
        };
        // Skip the usage step when it is not wanted.
        let next = if step == n + 1 && !r.include_usage {
            step + 2
        } else {
            step + 1
        };
        Some((Ok(bytes), (r, next)))
    })
}

/// The non-streaming reply, sent when the last token would have been.
pub async fn json_body(r: Reply) -> serde_json::Value {
    let n = r.plan.output_tokens;
    sleep_until(r.start + r.plan.ttft + r.plan.itl * (n - 1) as u32).await;
    let text: String = (0..n).map(word).collect();
    json!({
        "id": format!("chatcmpl-sim-{}", r.id),
        "object": "chat.completion",
        "model": r.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"}],
        "usage": usage(&r),
    })
}
