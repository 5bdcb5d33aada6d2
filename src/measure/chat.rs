//! Reads one SSE data event of a reply stream into the request's record: whether it carries output
//! text (an answer or reasoning; a role-only first event does not), usage, an in-stream error, or
//! the stream's end. The chat and completions APIs' events (a JSON chunk, or `[DONE]`) are read
//! here; the Responses and Anthropic Messages APIs' in `events.rs`; every API's text goes through
//! [`StreamState::text`], so TTFT, ITL and the reasoning split mean the same for all. Only the
//! fields needed are parsed; strings are borrowed from the event where possible. `client.rs` feeds
//! it the events that `sse.rs` dispatches, with the time their bytes arrived.

use crate::cli::Api;
use crate::dataset::ToolCall;
use crate::measure::failure::Failure;
use crate::measure::record::{ErrorKind, RequestRecord};
use crate::measure::sse::Event;
use crate::measure::time::round6;
use serde::Deserialize;
use std::borrow::Cow;

/// What the stream has shown so far, beyond what is stored in the record.
#[derive(Default)]
pub struct StreamState {
    /// Whose events these are (chat by default).
    pub api: Option<Api>,
    /// Anthropic's prompt tokens written to its cache, from `message_start`.
    pub cache_written: u64,
    pub done: bool,
    pub failure: Option<Failure>,
    /// The reply's answer text so far (not its reasoning), kept only when asked for: a session
    /// sends it back in the next turn's history.
    pub reply: Option<String>,
    /// The tool calls it streamed, kept with the text: a session answers them.
    pub calls: Vec<ToolCall>,
}

/// What a session keeps of a reply: its answer text and the tools it called.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeptReply {
    pub text: String,
    pub calls: Vec<ToolCall>,
}

impl StreamState {
    /// A state that keeps the reply's text.
    pub fn keeping_reply() -> Self {
        StreamState {
            reply: Some(String::new()),
            ..StreamState::default()
        }
    }

    /// The state of a stream of `api`'s events, keeping the reply's text when asked.
    pub fn of(api: Api, keep_reply: bool) -> Self {
        StreamState {
            api: Some(api),
            reply: keep_reply.then(String::new),
            ..StreamState::default()
        }
    }

    /// The event that ends a whole stream of this API, for the error of one cut short.
    pub fn end_event(&self) -> &'static str {
        match self.api {
            Some(Api::Responses) => "response.completed",
            Some(Api::Anthropic) => "message_stop",
            _ => "data: [DONE]",
        }
    }

    /// One event that carried output: `answer` text (kept for a session's history) and/or
    /// reasoning. Sets TTFT (the first output of either kind), the reasoning split and ITL.
    pub fn text(&mut self, t: f64, rec: &mut RequestRecord, answer: Option<&str>, reasoning: bool) {
        let answer_seen = answer.is_some_and(|a| !a.is_empty());
        if let (Some(reply), Some(a)) = (&mut self.reply, answer) {
            reply.push_str(a);
        }
        if reasoning && rec.first_reasoning_s.is_none() {
            rec.first_reasoning_s = Some(t);
        }
        if answer_seen && rec.first_reasoning_s.is_some() && rec.first_answer_s.is_none() {
            rec.first_answer_s = Some(t);
        }
        if answer_seen || reasoning {
            output(t, rec);
        }
    }

    /// One event that carried a tool call's arguments: output like text (TTFT, ITL), and the
    /// time of the first tool-call token.
    pub fn tool(&mut self, t: f64, rec: &mut RequestRecord) {
        if rec.first_tool_call_s.is_none() {
            rec.first_tool_call_s = Some(t);
        }
        output(t, rec);
    }

    /// A tool call opened (its id and name), kept when the reply is.
    pub fn call_opened(&mut self, id: &str, name: &str) {
        if self.reply.is_some() {
            self.calls.push(ToolCall {
                id: id.to_string(),
                name: name.to_string(),
                arguments: String::new(),
            });
        }
    }

    /// More of the arguments of the `index`th call opened (the last one when `None`).
    pub fn call_arguments(&mut self, index: Option<usize>, text: &str) {
        let at = index.filter(|&i| i < self.calls.len());
        let call = match at {
            Some(i) => self.calls.get_mut(i),
            None => self.calls.last_mut(),
        };
        if let Some(c) = call {
            c.arguments.push_str(text);
        }
    }

    /// The reply kept (a session's), once the stream ended.
    pub fn take_reply(&mut self) -> Option<KeptReply> {
        let text = self.reply.take()?;
        Some(KeptReply {
            text,
            calls: std::mem::take(&mut self.calls),
        })
    }
}

#[derive(Deserialize)]
struct ChatEvent<'a> {
    #[serde(default, borrow)]
    choices: Vec<Choice<'a>>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(default, borrow)]
    delta: Option<Delta<'a>>,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    tool_calls: Vec<CallDelta<'a>>,
}

#[derive(Deserialize)]
struct CallDelta<'a> {
    #[serde(default)]
    index: Option<usize>,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    function: Option<Function<'a>>,
}

#[derive(Deserialize)]
struct Function<'a> {
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    arguments: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Usage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<Cached>,
    #[serde(default)]
    completion_tokens_details: Option<Reasoning>,
}

/// `reasoning_tokens` of a usage's output details (chat's and the Responses API's).
#[derive(Deserialize)]
pub struct Reasoning {
    pub reasoning_tokens: Option<u64>,
}

/// `cached_tokens` of a usage's prompt details (chat's and the Responses API's).
#[derive(Deserialize)]
pub struct Cached {
    pub cached_tokens: Option<u64>,
}

/// An event of output: the first sets TTFT, the others add a gap to ITL.
fn output(t: f64, rec: &mut RequestRecord) {
    rec.content_chunks += 1;
    match rec.last_token_s {
        Some(last) => rec.itl_s.push(round6(t - last)),
        None => rec.first_token_s = Some(t),
    }
    rec.last_token_s = Some(t);
}

fn non_empty(s: &Option<Cow<'_, str>>) -> bool {
    s.as_deref().is_some_and(|s| !s.is_empty())
}

impl StreamState {
    /// A chat or completions event (`events::on_event` reads every API's).
    pub fn on_event(&mut self, ev: Event<'_>, t: f64, rec: &mut RequestRecord) {
        if self.takes(rec) {
            self.chat(ev, t, rec);
        }
    }

    /// Whether the stream still reads events (not ended, not failed); counts the event if so.
    pub fn takes(&mut self, rec: &mut RequestRecord) -> bool {
        if self.done || self.failure.is_some() {
            return false;
        }
        rec.chunks += 1;
        true
    }

    /// A chat or completions event.
    fn chat(&mut self, ev: Event<'_>, t: f64, rec: &mut RequestRecord) {
        if ev.data.trim_ascii() == b"[DONE]" {
            self.done = true;
            return;
        }
        let chat: ChatEvent = match serde_json::from_slice(ev.data) {
            Ok(c) => c,
            Err(e) => return self.not_json(ev, &e, "chat-completion"),
        };
        if ev.event == "error" || chat.error.is_some() {
            let detail = chat
                .error
                .map(|e| e.to_string())
                .unwrap_or_else(|| String::from_utf8_lossy(ev.data).into_owned());
            self.failure = Some(Failure::new(ErrorKind::StreamError, detail));
            return;
        }
        if let Some(u) = chat.usage {
            rec.prompt_tokens = u.prompt_tokens.or(rec.prompt_tokens);
            rec.completion_tokens = u.completion_tokens.or(rec.completion_tokens);
            let cached = u.prompt_tokens_details.and_then(|d| d.cached_tokens);
            rec.cached_tokens = cached.or(rec.cached_tokens);
            let reasoning = u.completion_tokens_details.and_then(|d| d.reasoning_tokens);
            rec.reasoning_tokens = reasoning.or(rec.reasoning_tokens);
        }
        // Borrowed from the event for the usual one choice: no allocation per event.
        let mut answer: Option<Cow<'_, str>> = None;
        for c in &chat.choices {
            let delta = c.delta.as_ref().and_then(|d| d.content.as_deref());
            if let Some(text) = c.text.as_deref().or(delta).filter(|t| !t.is_empty()) {
                answer = Some(match answer {
                    None => Cow::Borrowed(text),
                    Some(before) => Cow::Owned(before.into_owned() + text),
                });
            }
        }
        let reasoning = chat.choices.iter().any(|c| {
            c.delta
                .as_ref()
                .is_some_and(|d| non_empty(&d.reasoning_content) || non_empty(&d.reasoning))
        });
        let tool = chat.choices.iter().any(|c| {
            c.delta.as_ref().is_some_and(|d| {
                d.tool_calls.iter().any(|tc| {
                    tc.function
                        .as_ref()
                        .is_some_and(|f| non_empty(&f.arguments))
                })
            })
        });
        if self.reply.is_some() {
            self.keep_calls(&chat.choices);
        }
        if tool && answer.is_none() && !reasoning {
            return self.tool(t, rec);
        }
        self.text(t, rec, answer.as_deref(), reasoning);
    }

    /// A session's reply: a delta with an `id` opens a call, its arguments follow by `index`.
    fn keep_calls(&mut self, choices: &[Choice<'_>]) {
        for c in choices.iter().filter_map(|c| c.delta.as_ref()) {
            for tc in &c.tool_calls {
                let f = tc.function.as_ref();
                if let Some(id) = tc.id.as_deref() {
                    let name = f.and_then(|f| f.name.as_deref()).unwrap_or_default();
                    self.call_opened(id, name);
                }
                if let Some(args) = f.and_then(|f| f.arguments.as_deref()) {
                    self.call_arguments(tc.index, args);
                }
            }
        }
    }

    /// An event that is not the API's JSON: the stream is not what the API sends.
    pub fn not_json(&mut self, ev: Event<'_>, e: &serde_json::Error, what: &str) {
        let shown = String::from_utf8_lossy(&ev.data[..ev.data.len().min(80)]).into_owned();
        self.failure = Some(Failure::new(
            ErrorKind::InvalidResponse,
            format!("chunk is not {what} JSON ({e}): {shown}"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(events: &[(&str, &str, f64)]) -> (RequestRecord, StreamState) {
        let mut rec = RequestRecord::new(0, 1.0, 0, 0, 0.0);
        let mut st = StreamState::keeping_reply();
        for (event, data, t) in events {
            st.on_event(
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
    fn ttft_skips_role_only_chunk_and_counts_reasoning() {
        let (rec, st) = feed(&[
            (
                "message",
                r#"{"choices":[{"delta":{"role":"assistant","content":""}}]}"#,
                0.01,
            ),
            (
                "message",
                r#"{"choices":[{"delta":{"reasoning_content":"hm"}}]}"#,
                0.05,
            ),
            (
                "message",
                r#"{"choices":[{"delta":{"content":"a"}}]}"#,
                0.06,
            ),
            (
                "message",
                r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2}}"#,
                0.07,
            ),
            ("message", "[DONE]", 0.07),
        ]);
        assert!(st.done && st.failure.is_none());
        assert_eq!(
            st.reply.as_deref(),
            Some("a"),
            "the answer, not the reasoning"
        );
        assert_eq!(rec.first_token_s, Some(0.05));
        assert_eq!(rec.first_reasoning_s, Some(0.05));
        assert_eq!(rec.first_answer_s, Some(0.06));
        assert_eq!(rec.last_token_s, Some(0.06));
        assert_eq!(rec.content_chunks, 2);
        assert_eq!(rec.chunks, 5);
        assert_eq!(
            (rec.prompt_tokens, rec.completion_tokens),
            (Some(9), Some(2))
        );
        assert!((rec.itl_s[0] - 0.01).abs() < 1e-12);
    }

    #[test]
    fn in_stream_errors_and_bad_json_are_typed() {
        let (_, st) = feed(&[("message", r#"{"error":{"message":"boom"}}"#, 0.1)]);
        assert_eq!(st.failure.unwrap().kind, ErrorKind::StreamError);
        let (_, st) = feed(&[("error", r#"{"message":"x"}"#, 0.1)]);
        assert_eq!(st.failure.unwrap().kind, ErrorKind::StreamError);
        let (_, st) = feed(&[("message", "{not json", 0.1)]);
        assert_eq!(st.failure.unwrap().kind, ErrorKind::InvalidResponse);
    }

    #[test]
    fn a_kept_reply_holds_each_streamed_tool_call_with_its_arguments() {
        let (_, mut st) = feed(&[
            (
                "message",
                r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":""}}]}}]}"#,
                0.1,
            ),
            (
                "message",
                r#"{"choices":[{"delta":{"tool_calls":[{"index":1,"id":"b","function":{"name":"g","arguments":"{}"}}]}}]}"#,
                0.2,
            ),
            (
                "message",
                r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"x\":1}"}}]}}]}"#,
                0.3,
            ),
            ("message", "[DONE]", 0.3),
        ]);
        let reply = st.take_reply().unwrap();
        let got: Vec<(&str, &str, &str)> = reply
            .calls
            .iter()
            .map(|c| (c.id.as_str(), c.name.as_str(), c.arguments.as_str()))
            .collect();
        assert_eq!(got, [("a", "f", r#"{"x":1}"#), ("b", "g", "{}")]);
        assert_eq!(reply.text, "");
    }
}
