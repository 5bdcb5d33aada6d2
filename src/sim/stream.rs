//! Writes a served response as an SSE stream in the shape of the API asked (`Shape`): chat or
//! completions chunks (a role chunk, one content chunk per token, a finish chunk, a usage chunk
//! when asked, `[DONE]`), the Responses API's events (`response.created`, one
//! `response.output_text.delta` per token, `response.completed` with usage) or the Anthropic
//! Messages API's (`message_start` with the prompt's usage, one `content_block_delta` per token,
//! `message_delta` with the reply's, `message_stop`); or as one JSON reply of that API.
//! Timed replies (`model::Plan`) put each token on an absolute deadline `start + ttft + i x itl`;
//! queued replies (`model::Ticket`) send each token when the engine produces it.

use super::model::{Plan, ReplyEvent, Ticket};
use bytes::Bytes;
use futures_util::Stream;
use serde_json::json;
use std::convert::Infallible;
use tokio::time::{sleep_until, Instant};

/// Which API a reply answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Chat,
    /// `/v1/completions` (`choices[].text`).
    Completions,
    /// `/v1/responses`.
    Responses,
    /// `/v1/messages`.
    Anthropic,
    /// `/v1/embeddings`: one whole reply, a vector per input.
    Embeddings,
    /// `/v1/rerank`: one whole reply, a score per document.
    Rerank,
}

/// What every chunk of one reply shares.
pub struct Meta {
    pub id: u64,
    pub model: String,
    pub include_usage: bool,
    pub shape: Shape,
    /// The first this many tokens are reasoning (`delta.reasoning_content`, a reasoning delta or
    /// a thinking delta), as reasoning models stream them; not for completions.
    pub reasoning_tokens: u64,
    /// The prompt's tokens, which the Anthropic API reports as the stream opens.
    pub prompt_tokens: u64,
    /// The request offered tools: the reply is a call of the first one, its arguments streamed
    /// token by token.
    pub tool: Option<String>,
    /// Embeddings: the inputs, one vector each; rerank: the documents, one score each.
    pub inputs: usize,
}

/// One SSE event with its name.
fn event(name: &str, data: serde_json::Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

impl Meta {
    fn chunk(&self, delta: serde_json::Value, finish: Option<&str>) -> String {
        let v = if self.shape == Shape::Completions {
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
        let id = format!("msg-sim-{}", self.id);
        if let Some(name) = &self.tool {
            return self.tool_start(&id, name);
        }
        match self.shape {
            Shape::Completions | Shape::Embeddings | Shape::Rerank => String::new(),
            Shape::Chat => self.chunk(json!({"role": "assistant", "content": ""}), None),
            Shape::Responses => event(
                "response.created",
                json!({"type": "response.created", "response": {"id": id, "status": "in_progress", "model": self.model}}),
            ),
            Shape::Anthropic => {
                let usage = json!({"input_tokens": self.prompt_tokens, "output_tokens": 0});
                let message = json!({"id": id, "type": "message", "role": "assistant", "model": self.model, "content": [], "usage": usage});
                let block = json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}});
                event(
                    "message_start",
                    json!({"type": "message_start", "message": message}),
                ) + &event("content_block_start", block)
            }
        }
    }

    /// A tool call's opening events: the call named, its arguments empty so far.
    fn tool_start(&self, id: &str, name: &str) -> String {
        match self.shape {
            Shape::Responses => {
                let item = json!({"type": "function_call", "id": id, "call_id": id, "name": name, "arguments": ""});
                event(
                    "response.created",
                    json!({"type": "response.created", "response": {"id": id, "status": "in_progress"}}),
                ) + &event(
                    "response.output_item.added",
                    json!({"type": "response.output_item.added", "output_index": 0, "item": item}),
                )
            }
            Shape::Anthropic => {
                let usage = json!({"input_tokens": self.prompt_tokens, "output_tokens": 0});
                let message = json!({"id": id, "type": "message", "role": "assistant", "model": self.model, "content": [], "usage": usage});
                let block = json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}});
                event(
                    "message_start",
                    json!({"type": "message_start", "message": message}),
                ) + &event("content_block_start", block)
            }
            Shape::Chat | Shape::Completions | Shape::Embeddings | Shape::Rerank => {
                let call = json!([{"index": 0, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]);
                self.chunk(
                    json!({"role": "assistant", "content": null, "tool_calls": call}),
                    None,
                )
            }
        }
    }

    /// One token of a tool call's arguments.
    fn tool_token(&self, i: u64) -> String {
        match self.shape {
            Shape::Responses => event(
                "response.function_call_arguments.delta",
                json!({"type": "response.function_call_arguments.delta", "output_index": 0, "delta": word(i)}),
            ),
            Shape::Anthropic => event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": word(i)}}),
            ),
            Shape::Chat | Shape::Completions | Shape::Embeddings | Shape::Rerank => self.chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": word(i)}}]}),
                None,
            ),
        }
    }

    fn token(&self, i: u64) -> String {
        let reasoning = i < self.reasoning_tokens;
        if self.tool.is_some() && !reasoning {
            return self.tool_token(i);
        }
        match (self.shape, reasoning) {
            (Shape::Responses, false) => event(
                "response.output_text.delta",
                json!({"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": word(i)}),
            ),
            (Shape::Responses, true) => event(
                "response.reasoning_text.delta",
                json!({"type": "response.reasoning_text.delta", "output_index": 0, "content_index": 0, "delta": word(i)}),
            ),
            (Shape::Anthropic, _) => {
                let delta = match reasoning {
                    true => json!({"type": "thinking_delta", "thinking": word(i)}),
                    false => json!({"type": "text_delta", "text": word(i)}),
                };
                event(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 0, "delta": delta}),
                )
            }
            (_, true) => self.chunk(json!({"reasoning_content": word(i)}), None),
            (_, false) => self.chunk(json!({"content": word(i)}), None),
        }
    }

    /// The API's end: for chat and completions the finish chunk, the usage chunk (when asked) and
    /// `[DONE]`; for the others their closing events with usage.
    /// `cached`: the prompt tokens the prefix cache served, reported where each API reports them.
    fn end(&self, prompt_tokens: u64, completion_tokens: u64, cached: Option<u64>) -> String {
        match self.shape {
            Shape::Responses => {
                let mut usage = responses_usage(prompt_tokens, completion_tokens, cached);
                if self.reasoning_tokens > 0 {
                    usage["output_tokens_details"] =
                        json!({"reasoning_tokens": self.reasoning_tokens.min(completion_tokens)});
                }
                let response = json!({"id": format!("msg-sim-{}", self.id), "status": "completed", "model": self.model, "usage": usage});
                return event(
                    "response.completed",
                    json!({"type": "response.completed", "response": response}),
                );
            }
            Shape::Anthropic => {
                let mut usage = json!({"output_tokens": completion_tokens});
                // Anthropic's input_tokens leaves out what the cache read; known once admitted.
                if let Some(cached) = cached {
                    usage["input_tokens"] = json!(prompt_tokens - cached);
                    usage["cache_read_input_tokens"] = json!(cached);
                }
                let delta = json!({"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": usage});
                return event(
                    "content_block_stop",
                    json!({"type": "content_block_stop", "index": 0}),
                ) + &event("message_delta", delta)
                    + &event("message_stop", json!({"type": "message_stop"}));
            }
            Shape::Chat | Shape::Completions | Shape::Embeddings | Shape::Rerank => {}
        }
        let finish = if self.tool.is_some() {
            "tool_calls"
        } else {
            "length"
        };
        let mut s = self.chunk(json!({}), Some(finish));
        if self.include_usage {
            let v = json!({"id": format!("chatcmpl-sim-{}", self.id), "object": "chat.completion.chunk",
                           "model": self.model, "choices": [], "usage": self.usage(prompt_tokens, completion_tokens, cached)});
            s.push_str(&format!("data: {v}\n\n"));
        }
        s.push_str("data: [DONE]\n\n");
        s
    }

    fn completion(
        &self,
        prompt_tokens: u64,
        completion_tokens: u64,
        cached: Option<u64>,
    ) -> serde_json::Value {
        let text: String = (0..completion_tokens).map(word).collect();
        let id = format!("msg-sim-{}", self.id);
        match self.shape {
            Shape::Embeddings => {
                let data: Vec<serde_json::Value> = (0..self.inputs)
                    .map(|i| json!({"object": "embedding", "index": i, "embedding": [0.0, 0.5, 1.0, 0.5]}))
                    .collect();
                return json!({"object": "list", "model": self.model, "data": data,
                    "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}});
            }
            // Scores falling with the index, listed best first as rerankers do.
            Shape::Rerank => {
                let results: Vec<serde_json::Value> = (0..self.inputs)
                    .map(|i| json!({"index": i, "relevance_score": 1.0 / (1.0 + i as f64)}))
                    .collect();
                return json!({"id": format!("rerank-sim-{}", self.id), "model": self.model,
                    "results": results,
                    "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}});
            }
            Shape::Responses => {
                let content = json!([{"type": "output_text", "text": text}]);
                return json!({"id": id, "object": "response", "status": "completed", "model": self.model,
                    "output": [{"type": "message", "role": "assistant", "content": content}],
                    "usage": responses_usage(prompt_tokens, completion_tokens, cached)});
            }
            Shape::Anthropic => {
                let read = cached.unwrap_or(0);
                let mut usage = json!({"input_tokens": prompt_tokens - read, "output_tokens": completion_tokens});
                if cached.is_some() {
                    usage["cache_read_input_tokens"] = json!(read);
                }
                return json!({"id": id, "type": "message", "role": "assistant", "model": self.model,
                    "content": [{"type": "text", "text": text}], "stop_reason": "max_tokens",
                    "usage": usage});
            }
            Shape::Chat | Shape::Completions => {}
        }
        if self.shape == Shape::Completions {
            return json!({
                "id": format!("cmpl-sim-{}", self.id),
                "object": "text_completion",
                "model": self.model,
                "choices": [{"index": 0, "text": text, "finish_reason": "length"}],
                "usage": self.usage(prompt_tokens, completion_tokens, cached),
            });
        }
        json!({
            "id": format!("chatcmpl-sim-{}", self.id),
            "object": "chat.completion",
            "model": self.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"}],
            "usage": self.usage(prompt_tokens, completion_tokens, cached),
        })
    }
}

impl Meta {
    /// Chat's usage, with the reasoning tokens among the completion's when there are any, and the
    /// prompt tokens the prefix cache served when it served any.
    fn usage(&self, prompt: u64, completion: u64, cached: Option<u64>) -> serde_json::Value {
        let mut u = json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion});
        if let Some(cached) = cached {
            u["prompt_tokens_details"] = json!({"cached_tokens": cached});
        }
        if self.reasoning_tokens > 0 {
            u["completion_tokens_details"] =
                json!({"reasoning_tokens": self.reasoning_tokens.min(completion)});
        }
        u
    }
}

/// The Responses API's usage, with the prompt tokens the prefix cache served when it is on.
fn responses_usage(prompt: u64, completion: u64, cached: Option<u64>) -> serde_json::Value {
    let mut usage = json!({"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion});
    if let Some(cached) = cached {
        usage["input_tokens_details"] = json!({"cached_tokens": cached});
    }
    usage
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
            s if s == n + 1 => meta.end(prompt_tokens, n, None),
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
    meta.completion(prompt_tokens, n, None)
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
                    cached_tokens,
                } => meta.end(prompt_tokens, completion_tokens, cached_tokens),
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
                cached_tokens,
            } => return Some(meta.completion(prompt_tokens, completion_tokens, cached_tokens)),
            ReplyEvent::Rejected { .. } => return None,
        }
    }
}
