//! What is sent, built once before the first level: one JSON body per dataset sample (the reference
//! tool's fields, usage reporting, then `--extra-body`), and the headers every request carries
//! (content type, user agent, the key as a bearer token, the user's `--header`s). `client.rs` hands
//! them to whichever transport carries the run: serialised into complete HTTP/1.1 requests for
//! `http1.rs`, as an `http::Request` head for `http2.rs`, or to reqwest.

use crate::cli::Api;
use crate::config::Config;
use crate::dataset::Conversation;
use anyhow::{Context, Result};
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderName, HeaderValue};

pub const USER_AGENT_VALUE: &str = concat!("redline/", env!("CARGO_PKG_VERSION"));

/// Everything but the body, the same for every request of the run.
pub struct RequestHead {
    pub url: reqwest::Url,
    /// Path and query, as the request line carries them.
    pub target: String,
    /// The `Host` header (`:authority` in HTTP/2): the host, and the port when not the default.
    pub host: String,
    /// In the order sent; the authorization value is marked sensitive.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl RequestHead {
    pub fn new(cfg: &Config) -> Result<RequestHead> {
        let url = cfg.endpoint.clone();
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let host = host_header(&url)?;
        let mut headers = vec![
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE)),
        ];
        if let Some(key) = &cfg.api_key {
            let mut v = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                anyhow::anyhow!("--api-key holds characters not allowed in an HTTP header")
            })?;
            v.set_sensitive(true);
            headers.push((AUTHORIZATION, v));
        }
        // Validated and marked sensitive by `config`.
        headers.extend(
            cfg.headers
                .iter()
                .map(|h| (h.name.clone(), h.value.clone())),
        );
        Ok(RequestHead {
            url,
            target,
            host,
            headers,
        })
    }

    /// The headers as a map, for reqwest.
    pub fn header_map(&self) -> http::HeaderMap {
        self.headers.iter().cloned().collect()
    }

    /// The HTTP/2 request head: method, full URI and headers (no connection-specific ones).
    pub fn http2(&self) -> Result<http::Request<()>> {
        let mut req = http::Request::builder()
            .method(http::Method::POST)
            .uri(self.url.as_str())
            .body(())
            .context("the endpoint is not a valid HTTP/2 request URI")?;
        req.headers_mut().extend(self.headers.iter().cloned());
        Ok(req)
    }
}

/// The JSON request body for one sample: the reference's fields, usage reporting, then --extra-body.
/// With `--api completions` the conversation is one `prompt`: its messages' contents, in order,
/// separated by blank lines.
pub fn body(cfg: &Config, conv: &Conversation) -> Result<Bytes> {
    let mut body = match cfg.api {
        Api::Chat => serde_json::json!({
            "model": cfg.model,
            "messages": conv.messages,
            "max_tokens": cfg.max_tokens,
            "temperature": cfg.temperature,
            "stream": true,
        }),
        Api::Completions => serde_json::json!({
            "model": cfg.model,
            "prompt": conv
                .messages
                .iter()
                .map(|m| m.content.as_str())
                .collect::<Vec<_>>()
                .join("\n\n"),
            "max_tokens": cfg.max_tokens,
            "temperature": cfg.temperature,
            "stream": true,
        }),
    };
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
