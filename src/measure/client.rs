//! The OpenAI-compatible streaming exchange: sends one chat request and measures it into a
//! `RequestRecord`. Plain-http endpoints use the hand-written HTTP/1.1 path (`transport.rs`: the
//! request's task owns its socket, requests are serialised once per sample); https, credentials in
//! the URL and redirects use reqwest. `reply.rs` reads either the same way. Request bodies are
//! built here from the dataset's conversations and the `Config`, once per sample.
//!
//! Timestamps are taken where bytes arrive (once per socket read), before any parsing. The body
//! goes through `sse.rs`; each data event is read for just what is measured: whether it carries
//! output text (`delta.content`, `delta.reasoning_content`, `delta.reasoning` or `text`), `usage`,
//! an in-stream `error`, and `[DONE]` (`chat.rs`). `runner.rs` calls [`Target::measure`] at each
//! deadline. Every way an exchange can fail ends as one named `ErrorKind` (`failure.rs`), with a
//! short detail that never holds the API key.

use crate::config::Config;
use crate::dataset::Conversation;
use crate::measure::chat::StreamState;
use crate::measure::failure::{connect_failure, reqwest_failure, Failure};
use crate::measure::record::{ErrorKind, RequestRecord};
use crate::measure::reply::Reply;
use crate::measure::sse::SseParser;
use crate::measure::time::since;
use crate::measure::transport::{self, Http1, SendError};
use anyhow::{Context, Result};
use bytes::Bytes;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Longest error detail kept in a record.
const DETAIL_CHARS: usize = 300;
/// Most bytes of an error response body read for its message.
const ERROR_BODY_BYTES: usize = 16 * 1024;
/// Redirects followed (307/308 keep the POST and its body) before a `Redirect error`.
const MAX_REDIRECTS: usize = 5;

/// Where and what to send: a shared HTTP client plus one pre-serialised body per dataset sample.
pub struct Target {
    client: reqwest::Client,
    url: reqwest::Url,
    auth: Option<HeaderValue>,
    bodies: Vec<Bytes>,
    timeout: Duration,
    ttft_timeout: Option<Duration>,
    /// Plain-http endpoints go through the hand-written HTTP/1.1 path (`transport.rs`), with each
    /// sample's request serialised once.
    http1: Option<Http1>,
    raw_requests: Vec<Bytes>,
}

impl Target {
    pub fn new(cfg: &Config, conversations: &[Conversation]) -> Result<Target> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(usize::MAX)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
            .user_agent(USER_AGENT_VALUE)
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
        let bodies: Vec<Bytes> = conversations
            .iter()
            .map(|c| request_body(cfg, c))
            .collect::<Result<_>>()?;
        let http1 = Http1::for_url(&cfg.endpoint);
        // Only the plain-http path sends pre-serialised requests; reqwest builds its own.
        let raw_requests = match &http1 {
            Some(_) => raw_requests(cfg, &bodies)?,
            None => Vec::new(),
        };
        Ok(Target {
            client,
            url: cfg.endpoint.clone(),
            auth,
            bodies,
            timeout: cfg.timeout,
            ttft_timeout: cfg.ttft_timeout,
            http1,
            raw_requests,
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
        rec.sent_s = Some(since(sent, level_start));
        let outcome = tokio::select! {
            r = self.exchange(rec, level_start) => r,
            _ = tokio::time::sleep_until(sent + self.timeout) => Err(Failure::new(
                ErrorKind::Timeout,
                format!("no complete response within {:?}", self.timeout),
            )),
            _ = abort.cancelled() => Err(Failure::new(ErrorKind::Interrupted, "run interrupted")),
        };
        if let Err(f) = outcome {
            rec.end_s = since(Instant::now(), level_start);
            rec.error = Some(f.kind);
            rec.error_detail = Some(truncate(&f.detail));
        }
    }

    /// Sends `sample` on the hand-written HTTP/1.1 path for plain http (a redirect is handed to
    /// reqwest, which follows it), or through reqwest.
    async fn open(&self, sample: usize) -> Result<Reply<'_>, Failure> {
        if let Some(h1) = &self.http1 {
            match h1.send(&self.raw_requests[sample]).await {
                Ok((head, body)) if !matches!(head.status, 307 | 308) => {
                    return Ok(Reply::Raw {
                        head,
                        body,
                        pool: h1,
                    })
                }
                Ok(_) => {}
                Err(SendError::Connect(e)) => return Err(connect_failure(&e)),
                Err(SendError::Io(e)) => {
                    return Err(Failure::new(
                        ErrorKind::Connection,
                        format!("connection failed: {e}"),
                    ))
                }
                Err(SendError::Malformed(m)) => {
                    return Err(Failure::new(ErrorKind::InvalidResponse, m))
                }
            }
        }
        let mut req = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(self.bodies[sample].clone());
        if let Some(auth) = &self.auth {
            req = req.header(AUTHORIZATION, auth.clone());
        }
        req.send()
            .await
            .map(Reply::Reqwest)
            .map_err(|e| reqwest_failure(e, self.url.scheme() == "https"))
    }

    async fn exchange(&self, rec: &mut RequestRecord, start: Instant) -> Result<(), Failure> {
        // Until the first token, every wait is also bounded by --ttft-timeout.
        let ttft_deadline = self.ttft_timeout.map(|t| Instant::now() + t);
        let ttft_failure = || {
            Failure::new(
                ErrorKind::TtftTimeout,
                format!(
                    "no output token within --ttft-timeout {:?}",
                    self.ttft_timeout.unwrap_or_default()
                ),
            )
        };
        let mut resp = match ttft_deadline {
            Some(d) => tokio::time::timeout_at(d, self.open(rec.sample))
                .await
                .map_err(|_| ttft_failure())?,
            None => self.open(rec.sample).await,
        }?;
        rec.headers_s = Some(since(Instant::now(), start));
        let status = resp.status();
        rec.status = Some(status.as_u16());
        if !status.is_success() {
            let retry = retry_after(&resp);
            let detail = error_body(&mut resp).await;
            return Err(Failure::new(
                ErrorKind::Http(status.as_u16()),
                format!("{detail}{retry}"),
            ));
        }
        let content_type = resp.header(CONTENT_TYPE).unwrap_or("none").to_string();
        let mut parser = SseParser::new();
        let mut stream = StreamState::default();
        loop {
            let next = match ttft_deadline.filter(|_| rec.first_token_s.is_none()) {
                Some(d) => tokio::time::timeout_at(d, resp.next_bytes())
                    .await
                    .map_err(|_| ttft_failure())?,
                None => resp.next_bytes().await,
            };
            let piece = next.map_err(|e| {
                Failure::new(
                    ErrorKind::StreamInterrupted,
                    format!("body read failed: {e}"),
                )
            })?;
            let Some(piece) = piece else { break };
            let t = since(Instant::now(), start);
            parser
                .feed(&piece, |ev| stream.on_event(ev, t, rec))
                .map_err(|e| Failure::new(ErrorKind::InvalidResponse, e.to_string()))?;
            if let Some(f) = stream.failure.take() {
                return Err(f);
            }
            if stream.done {
                rec.end_s = t;
                // Read the (normally empty) rest so the connection returns to the pool.
                let drain = async { while let Ok(Some(_)) = resp.next_bytes().await {} };
                let _ = tokio::time::timeout(Duration::from_millis(200), drain).await;
                resp.finish();
                return Ok(());
            }
        }
        if rec.chunks == 0 {
            return Err(Failure::new(
                ErrorKind::InvalidResponse,
                format!("2xx response with no SSE data events (content-type: {content_type})"),
            ));
        }
        Err(Failure::new(
            ErrorKind::StreamInterrupted,
            "stream ended before data: [DONE]",
        ))
    }
}

/// Each body as a complete HTTP/1.1 request for the plain-http path, serialised once.
fn raw_requests(cfg: &Config, bodies: &[Bytes]) -> Result<Vec<Bytes>> {
    let target = match cfg.endpoint.query() {
        Some(q) => format!("{}?{q}", cfg.endpoint.path()),
        None => cfg.endpoint.path().to_string(),
    };
    let host = host_header(&cfg.endpoint)?;
    let key = cfg.api_key.as_ref().map(|k| format!("Bearer {k}"));
    Ok(bodies
        .iter()
        .map(|b| transport::request_bytes(&target, &host, key.as_deref(), USER_AGENT_VALUE, b))
        .collect())
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

/// The `Host` header: the host, and the port when it is not the scheme's default.
fn host_header(url: &reqwest::Url) -> Result<String> {
    let host = url.host_str().unwrap_or("localhost");
    let text = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    HeaderValue::from_str(&text).context("the endpoint's host is not a valid Host header")?;
    Ok(text)
}

const USER_AGENT_VALUE: &str = concat!("redline/", env!("CARGO_PKG_VERSION"));

/// " (Retry-After: 7)" when the server said when to come back.
fn retry_after(resp: &Reply<'_>) -> String {
    resp.header(reqwest::header::RETRY_AFTER)
        .map(|v| format!(" (Retry-After: {})", v.chars().take(40).collect::<String>()))
        .unwrap_or_default()
}

/// A short message from an error response: its JSON `error.message` / `message` / `detail`, else text.
async fn error_body(resp: &mut Reply<'_>) -> String {
    let mut buf = Vec::new();
    while buf.len() < ERROR_BODY_BYTES {
        match resp.next_bytes().await {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_is_char_safe() {
        let s = "é".repeat(400);
        assert!(truncate(&s).ends_with("..."));
    }
}
