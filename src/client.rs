//! The OpenAI-compatible streaming exchange: sends one chat request and measures it into a
//! `RequestRecord`.
//!
//! Timestamps are taken where bytes arrive (once per socket read), before any parsing. The body
//! goes through `sse.rs`; each data event is read for just what is measured: whether it carries
//! output text (`delta.content`, `delta.reasoning_content`, `delta.reasoning` or `text`), `usage`,
//! an in-stream `error`, and `[DONE]`. `runner.rs` calls [`Target::measure`] at each deadline.

use crate::config::Config;
use crate::dataset::Conversation;
use crate::record::{ErrorKind, RequestRecord};
use crate::sse::{Event, SseParser};
use anyhow::{Context, Result};
use bytes::Bytes;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde::Deserialize;
use std::borrow::Cow;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Longest error detail kept in a record.
const DETAIL_CHARS: usize = 300;
/// Most bytes of an error response body read for its message.
const ERROR_BODY_BYTES: usize = 16 * 1024;

/// Where and what to send: a shared HTTP client plus one pre-serialised body per dataset sample.
pub struct Target {
    client: reqwest::Client,
    url: reqwest::Url,
    auth: Option<HeaderValue>,
    bodies: Vec<Bytes>,
    timeout: Duration,
}

type Failure = (ErrorKind, String);

impl Target {
    pub fn new(cfg: &Config, conversations: &[Conversation]) -> Result<Target> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(usize::MAX)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .user_agent(concat!("redline/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        let auth = match &cfg.api_key {
            Some(key) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                    anyhow::anyhow!("--api-key holds characters not allowed in an HTTP header")
                })?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        let bodies = conversations
            .iter()
            .map(|c| request_body(cfg, c))
            .collect::<Result<_>>()?;
        Ok(Target {
            client,
            url: cfg.endpoint.clone(),
            auth,
            bodies,
            timeout: cfg.timeout,
        })
    }

    pub fn samples(&self) -> usize {
        self.bodies.len()
    }

    /// Sends `rec`'s sample now and fills in `rec` until the exchange ends, the per-request timeout
    /// passes or `abort` fires. Times are seconds since `level_start`.
    pub async fn measure(
        &self,
        rec: &mut RequestRecord,
        level_start: Instant,
        abort: &CancellationToken,
    ) {
        let sent = Instant::now();
        rec.sent_s = Some(secs(sent, level_start));
        let outcome = tokio::select! {
            r = self.exchange(rec, level_start) => r,
            _ = tokio::time::sleep_until(sent + self.timeout) => Err((
                ErrorKind::Timeout,
                format!("no complete response within {:?}", self.timeout),
            )),
            _ = abort.cancelled() => Err((ErrorKind::Interrupted, "run interrupted".into())),
        };
        if let Err((kind, detail)) = outcome {
            rec.end_s = secs(Instant::now(), level_start);
            rec.error = Some(kind);
            rec.error_detail = Some(truncate(&detail));
        }
    }

    async fn exchange(&self, rec: &mut RequestRecord, start: Instant) -> Result<(), Failure> {
        let mut req = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(self.bodies[rec.sample].clone());
        if let Some(auth) = &self.auth {
            req = req.header(AUTHORIZATION, auth.clone());
        }
        let mut resp = req.send().await.map_err(send_failure)?;
        rec.headers_s = Some(secs(Instant::now(), start));
        let status = resp.status();
        rec.status = Some(status.as_u16());
        if !status.is_success() {
            let detail = error_body(&mut resp).await;
            return Err((ErrorKind::Http(status.as_u16()), detail));
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_string();
        let mut parser = SseParser::new();
        let mut stream = StreamState::default();
        loop {
            let chunk = resp.chunk().await.map_err(|e| {
                (
                    ErrorKind::StreamInterrupted,
                    format!("body read failed: {}", e.without_url()),
                )
            })?;
            let Some(chunk) = chunk else { break };
            let t = secs(Instant::now(), start);
            parser
                .feed(&chunk, |ev| stream.on_event(ev, t, rec))
                .map_err(|e| (ErrorKind::InvalidResponse, e.to_string()))?;
            if let Some(f) = stream.failure.take() {
                return Err(f);
            }
            if stream.done {
                rec.end_s = t;
                // Read the (normally empty) rest so the connection returns to the pool.
                let drain = async { while let Ok(Some(_)) = resp.chunk().await {} };
                let _ = tokio::time::timeout(Duration::from_millis(200), drain).await;
                return Ok(());
            }
        }
        if rec.chunks == 0 {
            return Err((
                ErrorKind::InvalidResponse,
                format!("2xx response with no SSE data events (content-type: {content_type})"),
            ));
        }
        Err((
            ErrorKind::StreamInterrupted,
            "stream ended before data: [DONE]".into(),
        ))
    }
}

/// The JSON request body for one sample: the reference's fields, usage reporting, then --extra-body.
fn request_body(cfg: &Config, conv: &Conversation) -> Result<Bytes> {
    let mut body = serde_json::json!({
        "model": cfg.model,
        "messages": conv.messages,
        "max_tokens": cfg.max_tokens,
        "temperature": cfg.temperature,
        "stream": true,
    });
    let obj = body.as_object_mut().expect("json! object literal");
    if cfg.stream_usage {
        obj.insert(
            "stream_options".into(),
            serde_json::json!({"include_usage": true}),
        );
    }
    if let Some(extra) = &cfg.extra_body {
        for (k, v) in extra {
            obj.insert(k.clone(), v.clone());
        }
    }
    Ok(Bytes::from(serde_json::to_vec(&body)?))
}

fn send_failure(e: reqwest::Error) -> Failure {
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else {
        ErrorKind::Connection
    };
    (kind, error_chain(&e.without_url()))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// A short message from an error response: its JSON `error.message` / `message` / `detail`, else text.
async fn error_body(resp: &mut reqwest::Response) -> String {
    let mut buf = Vec::new();
    while buf.len() < ERROR_BODY_BYTES {
        match resp.chunk().await {
            Ok(Some(c)) => buf.extend_from_slice(&c),
            _ => break,
        }
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&buf) {
        let msg = v
            .pointer("/error/message")
            .or_else(|| v.get("message"))
            .or_else(|| v.get("detail"))
            .or_else(|| v.get("error"));
        if let Some(m) = msg {
            return match m {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
        }
    }
    String::from_utf8_lossy(&buf).trim().to_string()
}

fn truncate(s: &str) -> String {
    match s.char_indices().nth(DETAIL_CHARS) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// Seconds since `start`, rounded to the microsecond when captured, so the record in memory and
/// the one read back from requests.jsonl are the same numbers (`redline report` reproduces a run).
fn secs(t: Instant, start: Instant) -> f64 {
    crate::stats::round6(t.saturating_duration_since(start).as_secs_f64())
}

/// What the stream has shown so far, beyond what is stored in the record.
#[derive(Default)]
struct StreamState {
    done: bool,
    failure: Option<Failure>,
}

#[derive(Deserialize)]
struct Chunk<'a> {
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
    fn on_event(&mut self, ev: Event<'_>, t: f64, rec: &mut RequestRecord) {
        if self.done || self.failure.is_some() {
            return;
        }
        rec.chunks += 1;
        if ev.data.trim_ascii() == b"[DONE]" {
            self.done = true;
            return;
        }
        let chunk: Chunk = match serde_json::from_slice(ev.data) {
            Ok(c) => c,
            Err(e) => {
                let shown = String::from_utf8_lossy(&ev.data[..ev.data.len().min(80)]).into_owned();
                self.failure = Some((
                    ErrorKind::InvalidResponse,
                    format!("chunk is not chat-completion JSON ({e}): {shown}"),
                ));
                return;
            }
        };
        if ev.event == "error" || chunk.error.is_some() {
            let detail = chunk
                .error
                .map(|e| e.to_string())
                .unwrap_or_else(|| String::from_utf8_lossy(ev.data).into_owned());
            self.failure = Some((ErrorKind::StreamError, detail));
            return;
        }
        if let Some(u) = chunk.usage {
            rec.prompt_tokens = u.prompt_tokens.or(rec.prompt_tokens);
            rec.completion_tokens = u.completion_tokens.or(rec.completion_tokens);
        }
        let has_text = chunk.choices.iter().any(|c| {
            non_empty(&c.text)
                || c.delta.as_ref().is_some_and(|d| {
                    non_empty(&d.content)
                        || non_empty(&d.reasoning_content)
                        || non_empty(&d.reasoning)
                })
        });
        if has_text {
            rec.content_chunks += 1;
            match rec.last_token_s {
                Some(last) => rec.itl_s.push(crate::stats::round6(t - last)),
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
        let mut st = StreamState::default();
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
        assert_eq!(rec.first_token_s, Some(0.05));
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
        assert_eq!(st.failure.unwrap().0, ErrorKind::StreamError);
        let (_, st) = feed(&[("error", r#"{"message":"x"}"#, 0.1)]);
        assert_eq!(st.failure.unwrap().0, ErrorKind::StreamError);
        let (_, st) = feed(&[("message", "{not json", 0.1)]);
        assert_eq!(st.failure.unwrap().0, ErrorKind::InvalidResponse);
    }

    #[test]
    fn truncate_is_char_safe() {
        let s = "é".repeat(400);
        assert!(truncate(&s).ends_with("..."));
    }
}
