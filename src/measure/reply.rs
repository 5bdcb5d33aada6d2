//! A response being read, whichever transport carried it: the hand-written HTTP/1.1 path
//! (`http1.rs`), the HTTP/2 pool (`http2.rs`), or reqwest (proxies, credentials, redirects).
//! `client.rs` reads status, headers and body pieces through [`Reply`] without caring which; a
//! fully read body on the hand-written path gives its connection back to the pool. Also reads an
//! error response's message and `Retry-After` for the record's detail.

use crate::measure::failure::error_chain;
use crate::measure::http1::{Body, BodyError, Head, Http1};
use crate::measure::http2::{H2Body, H2BodyError};
use bytes::Bytes;
use reqwest::StatusCode;

/// One per request, inside its future: the variants' size difference costs nothing, while boxing the
/// larger one would add an allocation per request on the hot path.
#[allow(clippy::large_enum_variant)]
pub enum Reply<'a> {
    Reqwest(reqwest::Response),
    Raw {
        head: Head,
        body: Body,
        pool: &'a Http1,
    },
    Http2 {
        parts: http::response::Parts,
        body: H2Body,
    },
}

/// One piece of a body: lent from the hand-written path's reused buffer, or a chunk another
/// transport handed over.
pub enum Piece<'a> {
    Lent(&'a [u8]),
    Owned(Bytes),
}

impl std::ops::Deref for Piece<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Piece::Lent(b) => b,
            Piece::Owned(b) => b,
        }
    }
}

/// Why the body could not be read on.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{}", error_chain(.0))]
    Reqwest(reqwest::Error),
    #[error(transparent)]
    Raw(#[from] BodyError),
    #[error(transparent)]
    Http2(#[from] H2BodyError),
}

impl Reply<'_> {
    pub fn status(&self) -> StatusCode {
        match self {
            Reply::Reqwest(r) => r.status(),
            Reply::Raw { head, .. } => {
                StatusCode::from_u16(head.status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            Reply::Http2 { parts, .. } => parts.status,
        }
    }

    pub fn header(&self, name: reqwest::header::HeaderName) -> Option<&str> {
        match self {
            Reply::Reqwest(r) => r.headers().get(name).and_then(|v| v.to_str().ok()),
            Reply::Raw { head, .. } => head.get(name.as_str()),
            Reply::Http2 { parts, .. } => parts.headers.get(name).and_then(|v| v.to_str().ok()),
        }
    }

    /// The next piece of the (decoded) body, until the next call; `None` at its end.
    pub async fn next_piece(&mut self) -> Result<Option<Piece<'_>>, ReadError> {
        match self {
            Reply::Reqwest(r) => Ok(r
                .chunk()
                .await
                .map_err(|e| ReadError::Reqwest(e.without_url()))?
                .map(Piece::Owned)),
            Reply::Raw { body, .. } => Ok(body.next_piece().await?.map(Piece::Lent)),
            Reply::Http2 { body, .. } => Ok(body.next_bytes().await?.map(Piece::Owned)),
        }
    }

    /// Done with the reply: a fully read body gives its connection back to the pool.
    pub fn finish(self) {
        if let Reply::Raw { body, pool, .. } = self {
            pool.release(body);
        }
    }
}

/// Most bytes of an error response body read for its message.
const ERROR_BODY_BYTES: usize = 16 * 1024;

/// " (Retry-After: 7)" when the server said when to come back.
pub fn retry_after(resp: &Reply<'_>) -> String {
    resp.header(reqwest::header::RETRY_AFTER)
        .map(|v| format!(" (Retry-After: {})", v.chars().take(40).collect::<String>()))
        .unwrap_or_default()
}

/// A short message from an error response: its JSON `error.message` / `message` / `detail`, else text.
pub async fn error_message(resp: &mut Reply<'_>) -> String {
    let mut buf = Vec::new();
    while buf.len() < ERROR_BODY_BYTES {
        match resp.next_piece().await {
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
