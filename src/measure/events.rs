//! The Responses API's and the Anthropic Messages API's stream events, read into the request's
//! record through the same [`StreamState`] as chat's (`chat.rs`): output text and reasoning (TTFT,
//! ITL, the reasoning split), usage from the API's own events, in-stream errors, and the end.
//!
//! - Responses (`--api responses`): `response.output_text.delta` is answer text,
//!   `response.reasoning_text.delta` and `response.reasoning_summary_text.delta` reasoning;
//!   `response.completed` (or `response.incomplete`, a reply cut at `max_output_tokens`) ends the
//!   stream with `response.usage`; `response.failed` and `error` are in-stream errors.
//! - Anthropic (`--api anthropic`): `content_block_delta` carries a `text_delta` (answer) or a
//!   `thinking_delta` (reasoning); `message_start` holds the prompt's usage, `message_delta` the
//!   reply's; `message_stop` ends the stream; `error` is an in-stream error.
//!
//! Any other event of the API (`response.created`, `ping`, `content_block_start` ...) is counted
//! and passed over. An event whose JSON has no `type` is not the API's: the stream is another
//! API's, named in the failure so that preflight can say which `--api` to use.

use crate::cli::Api;
use crate::measure::chat::{Cached, Reasoning, StreamState};
use crate::measure::failure::Failure;
use crate::measure::record::{ErrorKind, RequestRecord};
use crate::measure::sse::Event;
use serde::Deserialize;
use std::borrow::Cow;

/// One event of the stream, read as `st`'s API's.
pub fn on_event(st: &mut StreamState, ev: Event<'_>, t: f64, rec: &mut RequestRecord) {
    let read = match st.api {
        Some(Api::Responses) => responses,
        Some(Api::Anthropic) => anthropic,
        _ => return st.on_event(ev, t, rec),
    };
    if st.takes(rec) {
        read(st, ev, t, rec);
    }
}

#[derive(Deserialize)]
struct ResponsesEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    delta: Option<Cow<'a, str>>,
    #[serde(default)]
    response: Option<ResponseBody>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    item: Option<Opened>,
}

#[derive(Deserialize)]
struct ResponseBody {
    #[serde(default)]
    usage: Option<ResponsesUsage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ResponsesUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    #[serde(default)]
    input_tokens_details: Option<Cached>,
    #[serde(default)]
    output_tokens_details: Option<Reasoning>,
}

/// One Responses API event.
pub fn responses(st: &mut StreamState, ev: Event<'_>, t: f64, rec: &mut RequestRecord) {
    let e: ResponsesEvent = match serde_json::from_slice(ev.data) {
        Ok(e) => e,
        Err(err) => return st.not_json(ev, &err, "Responses API event"),
    };
    let Some(kind) = e.kind.as_deref() else {
        return other_api(st, ev, "Responses API", "type");
    };
    match kind {
        "response.output_text.delta" => st.text(t, rec, e.delta.as_deref(), false),
        "response.reasoning_text.delta" | "response.reasoning_summary_text.delta" => {
            st.text(t, rec, None, true)
        }
        "response.output_item.added" => {
            if let Some(call) = e
                .item
                .filter(|i| i.kind.as_deref() == Some("function_call"))
            {
                let id = call.call_id.or(call.id).unwrap_or_default();
                st.call_opened(&id, call.name.as_deref().unwrap_or_default());
            }
        }
        "response.function_call_arguments.delta"
            if e.delta.as_deref().is_some_and(|d| !d.is_empty()) =>
        {
            st.call_arguments(None, e.delta.as_deref().unwrap_or_default());
            st.tool(t, rec)
        }
        "response.completed" | "response.incomplete" => {
            if let Some(u) = e.response.and_then(|r| r.usage) {
                rec.prompt_tokens = u.input_tokens.or(rec.prompt_tokens);
                rec.completion_tokens = u.output_tokens.or(rec.completion_tokens);
                let cached = u.input_tokens_details.and_then(|d| d.cached_tokens);
                rec.cached_tokens = cached.or(rec.cached_tokens);
                let reasoning = u.output_tokens_details.and_then(|d| d.reasoning_tokens);
                rec.reasoning_tokens = reasoning.or(rec.reasoning_tokens);
            }
            st.done = true;
        }
        "response.failed" | "error" => {
            let detail = e
                .response
                .and_then(|r| r.error)
                .map(|v| v.to_string())
                .or(e.message)
                .unwrap_or_else(|| String::from_utf8_lossy(ev.data).into_owned());
            st.failure = Some(Failure::new(ErrorKind::StreamError, detail));
        }
        _ => {}
    }
}

#[derive(Deserialize)]
struct AnthropicEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    delta: Option<AnthropicDelta<'a>>,
    #[serde(default)]
    message: Option<AnthropicMessage>,
    #[serde(default)]
    content_block: Option<Opened>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct AnthropicDelta<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    partial_json: Option<Cow<'a, str>>,
}

/// A Responses API output item or an Anthropic content block: a tool call's opening.
#[derive(Deserialize)]
struct Opened {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    call_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct AnthropicMessage {
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

/// Anthropic's usage: `input_tokens` counts only the prompt tokens the cache did not serve; the
/// prompt is those plus the cache's reads and writes.
#[derive(Deserialize)]
struct AnthropicUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// The whole prompt's tokens, and the cache's share, into the record.
    /// A later event that repeats `input_tokens` without the cache's fields keeps the cache's
    /// share the first one gave.
    fn prompt_into(&self, rec: &mut RequestRecord, written_before: &mut u64) {
        if let Some(fresh) = self.input_tokens {
            let read = self
                .cache_read_input_tokens
                .or(rec.cached_tokens)
                .unwrap_or(0);
            let written = self.cache_creation_input_tokens.unwrap_or(*written_before);
            *written_before = written;
            rec.prompt_tokens = Some(fresh + read + written);
            rec.cached_tokens = self.cache_read_input_tokens.or(rec.cached_tokens);
        }
    }
}

/// One Anthropic Messages API event.
pub fn anthropic(st: &mut StreamState, ev: Event<'_>, t: f64, rec: &mut RequestRecord) {
    let e: AnthropicEvent = match serde_json::from_slice(ev.data) {
        Ok(e) => e,
        Err(err) => return st.not_json(ev, &err, "Anthropic Messages event"),
    };
    let Some(kind) = e.kind.as_deref() else {
        return other_api(st, ev, "Anthropic Messages API", "type");
    };
    match kind {
        "content_block_delta" => {
            let d = e.delta.as_ref();
            match d.and_then(|d| d.kind.as_deref()) {
                Some("text_delta") => st.text(t, rec, d.and_then(|d| d.text.as_deref()), false),
                Some("thinking_delta") => st.text(t, rec, None, true),
                Some("input_json_delta") => {
                    st.call_arguments(
                        None,
                        d.and_then(|d| d.partial_json.as_deref())
                            .unwrap_or_default(),
                    );
                    st.tool(t, rec)
                }
                _ => {}
            }
        }
        "content_block_start" => {
            if let Some(b) = e
                .content_block
                .filter(|b| b.kind.as_deref() == Some("tool_use"))
            {
                let id = b.id.unwrap_or_default();
                st.call_opened(&id, b.name.as_deref().unwrap_or_default());
            }
        }
        "message_start" => {
            if let Some(u) = e.message.and_then(|m| m.usage) {
                u.prompt_into(rec, &mut st.cache_written);
            }
        }
        "message_delta" => {
            if let Some(u) = e.usage {
                rec.completion_tokens = u.output_tokens.or(rec.completion_tokens);
                u.prompt_into(rec, &mut st.cache_written);
            }
        }
        "message_stop" => st.done = true,
        "error" => {
            let detail = e
                .error
                .map(|v| v.to_string())
                .unwrap_or_else(|| String::from_utf8_lossy(ev.data).into_owned());
            st.failure = Some(Failure::new(ErrorKind::StreamError, detail));
        }
        _ => {}
    }
}

/// An event of another API (no `type`): a chat-completion chunk, most likely.
fn other_api(st: &mut StreamState, ev: Event<'_>, api: &str, field: &str) {
    let shown = String::from_utf8_lossy(&ev.data[..ev.data.len().min(80)]).into_owned();
    let seems = if shown.contains("\"choices\"") || ev.data.trim_ascii() == b"[DONE]" {
        " (it looks like a chat-completion stream: --api chat)"
    } else {
        ""
    };
    st.failure = Some(Failure::new(
        ErrorKind::InvalidResponse,
        format!("an event without `{field}` is not the {api}'s{seems}: {shown}"),
    ));
}

#[cfg(test)]
mod tests {
    use crate::cli::Api;
    use crate::measure::chat::StreamState;
    use crate::measure::record::{ErrorKind, RequestRecord};
    use crate::measure::sse::Event;

    fn feed(api: Api, events: &[(&str, f64)]) -> (RequestRecord, StreamState) {
        let mut rec = RequestRecord::new(0, 1.0, 0, 0, 0.0);
        let mut st = StreamState::of(api, true);
        for (data, t) in events {
            let event = "message";
            super::on_event(
                &mut st,
                Event {
                    event,
                    data: data.as_bytes(),
                },
                *t,
                &mut rec,
            );
        }
        (rec, st)
    }

    #[test]
    fn a_responses_stream_times_its_text_splits_reasoning_and_reads_usage_at_the_end() {
        let (rec, st) = feed(
            Api::Responses,
            &[
                (r#"{"type":"response.created","response":{}}"#, 0.01),
                (
                    r#"{"type":"response.reasoning_text.delta","delta":"hm"}"#,
                    0.05,
                ),
                (r#"{"type":"response.output_text.delta","delta":"a"}"#, 0.06),
                (r#"{"type":"response.output_text.delta","delta":"b"}"#, 0.08),
                (
                    r#"{"type":"response.completed","response":{"usage":{"input_tokens":9,"output_tokens":3,"input_tokens_details":{"cached_tokens":4},"output_tokens_details":{"reasoning_tokens":1}}}}"#,
                    0.09,
                ),
            ],
        );
        assert!(st.done && st.failure.is_none());
        assert_eq!(st.reply.as_deref(), Some("ab"));
        assert_eq!(rec.first_token_s, Some(0.05));
        assert_eq!(rec.first_answer_s, Some(0.06));
        assert_eq!(rec.content_chunks, 3);
        assert_eq!(
            (rec.prompt_tokens, rec.completion_tokens),
            (Some(9), Some(3))
        );
        assert_eq!(rec.cached_tokens, Some(4));
        assert_eq!(rec.reasoning_tokens, Some(1));
        assert_eq!(rec.itl_s.len(), 2);
    }

    #[test]
    fn an_anthropic_stream_reads_usage_from_its_start_and_delta_events() {
        let (rec, st) = feed(
            Api::Anthropic,
            &[
                (
                    r#"{"type":"message_start","message":{"usage":{"input_tokens":2,"cache_read_input_tokens":10,"output_tokens":1}}}"#,
                    0.01,
                ),
                (
                    r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
                    0.01,
                ),
                (r#"{"type":"ping"}"#, 0.02),
                (
                    r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
                    0.04,
                ),
                (
                    r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}}"#,
                    0.05,
                ),
                (
                    r#"{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":2}}"#,
                    0.05,
                ),
                (r#"{"type":"message_stop"}"#, 0.05),
            ],
        );
        assert!(st.done && st.failure.is_none());
        assert_eq!(st.reply.as_deref(), Some("Hi!"));
        assert_eq!(rec.first_token_s, Some(0.04));
        assert_eq!(
            (rec.prompt_tokens, rec.completion_tokens),
            (Some(12), Some(2))
        );
        // The prompt is the fresh tokens and the cache's reads: 2 + 10.
        assert_eq!(rec.cached_tokens, Some(10));
    }

    #[test]
    fn errors_and_another_apis_stream_are_named() {
        let (_, st) = feed(
            Api::Anthropic,
            &[(
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
                0.1,
            )],
        );
        let f = st.failure.unwrap();
        assert_eq!(f.kind, ErrorKind::StreamError);
        assert!(f.detail.contains("Overloaded"), "{}", f.detail);
        let (_, st) = feed(
            Api::Responses,
            &[(
                r#"{"type":"response.failed","response":{"error":{"message":"boom"}}}"#,
                0.1,
            )],
        );
        assert_eq!(st.failure.unwrap().kind, ErrorKind::StreamError);
        let (_, st) = feed(
            Api::Responses,
            &[(r#"{"choices":[{"delta":{"content":"x"}}]}"#, 0.1)],
        );
        let f = st.failure.unwrap();
        assert_eq!(f.kind, ErrorKind::InvalidResponse);
        assert!(f.detail.contains("--api chat"), "{}", f.detail);
    }
}
