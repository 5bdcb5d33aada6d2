//! A response being read, whichever transport carried it: the hand-written HTTP/1.1 path
//! (`transport.rs`) for plain http, or reqwest (https, redirects). `client.rs` reads status, headers
//! and body pieces through [`Reply`] without caring which; a fully read body on the hand-written path
//! gives its connection back to the pool.

use crate::measure::failure::error_chain;
use crate::measure::transport::{Body, BodyError, Head, Http1};
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
}

/// Why the body could not be read on.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{}", error_chain(.0))]
    Reqwest(reqwest::Error),
    #[error(transparent)]
    Raw(#[from] BodyError),
}

impl Reply<'_> {
    pub fn status(&self) -> StatusCode {
        match self {
            Reply::Reqwest(r) => r.status(),
            Reply::Raw { head, .. } => {
                StatusCode::from_u16(head.status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
        }
    }

    pub fn header(&self, name: reqwest::header::HeaderName) -> Option<&str> {
        match self {
            Reply::Reqwest(r) => r.headers().get(name).and_then(|v| v.to_str().ok()),
            Reply::Raw { head, .. } => head.get(name.as_str()),
        }
    }

    /// The next piece of the (decoded) body; `None` at its end.
    pub async fn next_bytes(&mut self) -> Result<Option<Bytes>, ReadError> {
        match self {
            Reply::Reqwest(r) => r
                .chunk()
                .await
                .map_err(|e| ReadError::Reqwest(e.without_url())),
            Reply::Raw { body, .. } => Ok(body.next_bytes().await?),
        }
    }

    /// Done with the reply: a fully read body gives its connection back to the pool.
    pub fn finish(self) {
        if let Reply::Raw { body, pool, .. } = self {
            pool.release(body);
        }
    }
}
