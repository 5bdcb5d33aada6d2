//! Reads one SSE data event of a chat-completion stream (one "chat event": a JSON chat-completion
//! chunk, or `[DONE]`) into the request's record: whether it carries output text (`delta.content`,
//! `delta.reasoning_content`, `delta.reasoning` or `text`; the role-only first event does not),
//! `usage`, an in-stream `error`, or `[DONE]`. Only those fields are parsed; strings are borrowed
//! from the event where possible. `client.rs` feeds it the events that `sse.rs` dispatches, with the
//! time their bytes arrived.

use crate::measure::failure::Failure;
use crate::measure::record::{ErrorKind, RequestRecord};
use crate::measure::sse::Event;
use crate::measure::time::round6;
use serde::Deserialize;
use std::borrow::Cow;

/// What the stream has shown so far, beyond what is stored in the record.
#[derive(Default)]
pub struct StreamState {
    pub done: bool,
    pub failure: Option<Failure>,
    /// The reply's answer text so far (not its reasoning), kept only when asked for: a session
    /// sends it back in the next turn's history.
    pub reply: Option<String>,
}

impl StreamState {
    /// A state that keeps the reply's text.
    pub fn keeping_reply() -> Self {
        StreamState {
            reply: Some(String::new()),
            ..StreamState::default()
        }
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
}

#[derive(Deserialize)]
struct Usage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

fn non_empty(s: &Option<Cow<'_, str>>) -> bool {
    s.as_deref().is_some_and(|s| !s.is_empty())
}

impl StreamState {
    pub fn on_event(&mut self, ev: Event<'_>, t: f64, rec: &mut RequestRecord) {
        if self.done || self.failure.is_some() {
            return;
        }
        rec.chunks += 1;
        if ev.data.trim_ascii() == b"[DONE]" {
            self.done = true;
            return;
        }
        let chat: ChatEvent = match serde_json::from_slice(ev.data) {
            Ok(c) => c,
            Err(e) => {
                let shown = String::from_utf8_lossy(&ev.data[..ev.data.len().min(80)]).into_owned();
                self.failure = Some(Failure::new(
                    ErrorKind::InvalidResponse,
                    format!("chunk is not chat-completion JSON ({e}): {shown}"),
                ));
                return;
            }
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
        }
        let answer = chat
            .choices
            .iter()
            .any(|c| non_empty(&c.text) || c.delta.as_ref().is_some_and(|d| non_empty(&d.content)));
        if let (Some(reply), true) = (&mut self.reply, answer) {
            for c in &chat.choices {
                let delta = c.delta.as_ref().and_then(|d| d.content.as_deref());
                reply.push_str(c.text.as_deref().or(delta).unwrap_or(""));
            }
        }
        let reasoning = chat.choices.iter().any(|c| {
            c.delta
                .as_ref()
                .is_some_and(|d| non_empty(&d.reasoning_content) || non_empty(&d.reasoning))
        });
        if reasoning && rec.first_reasoning_s.is_none() {
            rec.first_reasoning_s = Some(t);
        }
        if answer && rec.first_reasoning_s.is_some() && rec.first_answer_s.is_none() {
            rec.first_answer_s = Some(t);
        }
        let has_text = answer || reasoning;
        if has_text {
            rec.content_chunks += 1;
            match rec.last_token_s {
                Some(last) => rec.itl_s.push(round6(t - last)),
                None => rec.first_token_s = Some(t),
            }
            rec.last_token_s = Some(t);
        }
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
}
