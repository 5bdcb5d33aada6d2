//! Why a request did not succeed ([`ErrorKind`]), by the reference tool's names (`HTTP 503`,
//! `Timeout`, ...), written and read back as those names. `record.rs` keeps one in each failed
//! [`RequestRecord`](super::record::RequestRecord) (and re-exports it); `failure.rs` decides which
//! kind a failure is, and `analyze/` counts the kinds per level.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a request did not succeed. Names follow the reference tool (`HTTP 503`, `Timeout`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// A non-2xx status.
    Http(u16),
    /// No complete response within `--timeout` of the send.
    Timeout,
    /// No first token within `--ttft-timeout` of the send.
    TtftTimeout,
    /// The connection could not be made or broke before a response arrived.
    Connection,
    /// The TLS handshake failed (wrong scheme, bad certificate, not a TLS server).
    Tls,
    /// Too many redirects, or a redirect that could not be followed.
    Redirect,
    /// The body stopped before the stream's `[DONE]`.
    StreamInterrupted,
    /// A 2xx response that is not a chat-completion stream (bad SSE or JSON).
    InvalidResponse,
    /// The server sent an error inside the stream.
    StreamError,
    /// Client side: the arrival found `--max-concurrency` requests in flight, so it was not sent.
    ConcurrencyLimit,
    /// Client side: the run was interrupted (Ctrl-C) while this request was in flight.
    Interrupted,
    /// Client side: this machine ran out of file descriptors or local ports.
    ClientResources,
}

impl ErrorKind {
    /// Errors caused by the client, not the endpoint.
    pub fn is_client_side(self) -> bool {
        matches!(
            self,
            ErrorKind::ConcurrencyLimit | ErrorKind::Interrupted | ErrorKind::ClientResources
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Http(code) => write!(f, "HTTP {code}"),
            ErrorKind::Timeout => f.write_str("Timeout"),
            ErrorKind::TtftTimeout => f.write_str("TTFT timeout"),
            ErrorKind::Connection => f.write_str("Connection error"),
            ErrorKind::Tls => f.write_str("TLS error"),
            ErrorKind::Redirect => f.write_str("Redirect error"),
            ErrorKind::StreamInterrupted => f.write_str("Stream interrupted"),
            ErrorKind::InvalidResponse => f.write_str("Invalid response"),
            ErrorKind::StreamError => f.write_str("Stream error"),
            ErrorKind::ConcurrencyLimit => f.write_str("Client concurrency limit"),
            ErrorKind::Interrupted => f.write_str("Interrupted"),
            ErrorKind::ClientResources => f.write_str("Client resource limit"),
        }
    }
}

/// A name that is not one of [`ErrorKind`]'s (in a `requests.jsonl` from elsewhere).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown error kind {0:?}")]
pub struct UnknownErrorKind(pub String);

impl std::str::FromStr for ErrorKind {
    type Err = UnknownErrorKind;
    fn from_str(s: &str) -> Result<Self, UnknownErrorKind> {
        Ok(match s {
            "Timeout" => ErrorKind::Timeout,
            "TTFT timeout" => ErrorKind::TtftTimeout,
            "Connection error" => ErrorKind::Connection,
            "TLS error" => ErrorKind::Tls,
            "Redirect error" => ErrorKind::Redirect,
            "Client resource limit" => ErrorKind::ClientResources,
            "Stream interrupted" => ErrorKind::StreamInterrupted,
            "Invalid response" => ErrorKind::InvalidResponse,
            "Stream error" => ErrorKind::StreamError,
            "Client concurrency limit" => ErrorKind::ConcurrencyLimit,
            "Interrupted" => ErrorKind::Interrupted,
            other => match other.strip_prefix("HTTP ").map(str::parse) {
                Some(Ok(code)) => ErrorKind::Http(code),
                _ => return Err(UnknownErrorKind(other.to_string())),
            },
        })
    }
}

impl Serialize for ErrorKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ErrorKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kind_names_round_trip() {
        for k in [
            ErrorKind::Http(503),
            ErrorKind::Timeout,
            ErrorKind::Connection,
            ErrorKind::StreamInterrupted,
            ErrorKind::InvalidResponse,
            ErrorKind::StreamError,
            ErrorKind::ConcurrencyLimit,
            ErrorKind::Interrupted,
            ErrorKind::TtftTimeout,
            ErrorKind::Tls,
            ErrorKind::Redirect,
            ErrorKind::ClientResources,
        ] {
            assert_eq!(k.to_string().parse::<ErrorKind>(), Ok(k));
        }
        assert_eq!(ErrorKind::Http(429).to_string(), "HTTP 429");
    }
}
