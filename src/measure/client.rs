//! Builds the run's [`Target`] (`target.rs`) once, and answers what it knows: each sample's body
//! and request bytes, lengths, adapters, and the endpoint's sibling routes (`/v1/models`,
//! `/tokenize`). The transport that carries every request is chosen here (`Transport`):
//! - the hand-written HTTP/1.1 path (`http1.rs`), for http and https: the request's task owns its
//!   connection, one per request in flight, requests serialised once per sample;
//! - `--http2`: the HTTP/2 pool (`http2.rs`), sized from each connection's stream limit;
//! - reqwest, for credentials in the URL, proxies, and redirects (a 307/308 on the other paths is
//!   handed to it).
//!
//! `exchange.rs` measures each request on the Target, and `reply.rs` reads any transport's reply
//! the same way. The send time is when the request's bytes are handed to an open connection (an
//! open stream on HTTP/2); connect, TLS handshake and any wait for a stream come before it, so
//! they are schedule lag (on reqwest, the time it is handed to reqwest). Every way an exchange can
//! fail ends as one named `ErrorKind` (`failure.rs`), with a short detail that never holds the API
//! key or a header value.

use crate::config::Config;
use crate::dataset::{Conversation, Lengths};
use crate::measure::chat::KeptReply;
use crate::measure::conn::Dialer;
use crate::measure::failure::{reqwest_failure, Failure};
use crate::measure::http1::{self, Http1, SendError};
use crate::measure::http2::Http2;
use crate::measure::record::RequestRecord;
use crate::measure::request::{BodyTemplate, RequestHead, USER_AGENT_VALUE};
use crate::measure::target::{send_error, Payload, Target, Transport};
use crate::measure::tls::{self, Alpn};
use anyhow::{Context, Result};
use bytes::Bytes;
use std::time::Duration;

/// The longest a connection (TCP, TLS, HTTP/2 preface) may take to open, within `--timeout`.
const MAX_CONNECT: Duration = Duration::from_secs(30);
/// Redirects followed (307/308 keep the POST and its body) before a `Redirect error`.
const MAX_REDIRECTS: usize = 5;

impl Target {
    /// The URL of `path` beside the API's own (`.../v1/models` beside `.../v1/chat/completions`),
    /// when the endpoint's path ends with its API's.
    pub fn sibling(&self, path: &str) -> Option<reqwest::Url> {
        let mut url = self.head.url.clone();
        let own = format!("/{}", self.template.api().path());
        let base = url.path().strip_suffix(&own)?.to_string();
        url.set_path(&format!("{base}/{path}"));
        url.set_query(None);
        Some(url)
    }

    /// Whether a POST to `url` finds a route (any answer but 404, 405 and 501): how preflight
    /// tells which APIs a server speaks. The body asks for one token and names no input, so a
    /// server that would generate from it (llama-cpp-python answers `{}` on chat by generating
    /// until its context is full, one request at a time) answers at once.
    pub async fn routes(&self, url: reqwest::Url) -> bool {
        let post = self
            .client
            .post(url)
            .headers(self.headers.clone())
            .body(r#"{"max_tokens":1}"#)
            .send();
        match tokio::time::timeout(Duration::from_secs(5), post).await {
            Ok(Ok(r)) => !matches!(r.status().as_u16(), 404 | 405 | 501),
            _ => false,
        }
    }

    /// POSTs `body` to `url` and reads a JSON answer within `limit`, or `None`.
    pub async fn post_json(
        &self,
        url: reqwest::Url,
        body: &serde_json::Value,
        limit: Duration,
    ) -> Option<serde_json::Value> {
        let post = async {
            let r = self
                .client
                .post(url)
                .headers(self.headers.clone())
                .body(serde_json::to_vec(body).unwrap_or_default())
                .send()
                .await
                .ok()?;
            let ok = r.status().is_success();
            let bytes = r.bytes().await.ok()?;
            ok.then(|| serde_json::from_slice(&bytes).ok()).flatten()
        };
        tokio::time::timeout(limit, post).await.ok().flatten()
    }

    /// `--lora`: a sample's adapter; `--images`, `--audio`: the request's media (a sample's, or
    /// those a session's caller set) and the sizes of its images and body.
    pub(super) fn note_sample(&self, rec: &mut RequestRecord, payload: &Payload) {
        if let (Payload::Sample(k), Some((names, _, _))) = (payload, &self.lora) {
            rec.adapter = names.get(k / self.samples.max(1)).cloned();
        }
        if self.media.is_empty() {
            return;
        }
        let body = match payload {
            Payload::Sample(k) => {
                let i = k % self.samples.max(1);
                self.media.get(i).copied().unwrap_or_default().note(rec);
                self.bodies.get(*k).map_or(0, Bytes::len)
            }
            Payload::Body(b) => b.len(),
        };
        rec.request_bytes = Some(body as u64);
    }

    /// `--lora`: arrival `index`'s adapter (its position and name), as `--lora-assignment` picks.
    pub fn adapter_of(&self, index: u64) -> Option<(usize, std::sync::Arc<str>)> {
        let (names, lora, seed) = self.lora.as_ref()?;
        let a = lora.pick(index, *seed);
        Some((a, names[a].clone()))
    }

    /// The body of `sample` for arrival `index`: its variant for the arrival's adapter.
    pub fn variant(&self, sample: usize, index: u64) -> usize {
        match self.adapter_of(index) {
            Some((a, _)) => a * self.samples + sample,
            None => sample,
        }
    }

    /// Whether the token check wants `rec`'s answer text: one of its level's first requests,
    /// while the run has a counter.
    pub fn wants_text(&self, rec: &RequestRecord) -> bool {
        self.checking.load(std::sync::atomic::Ordering::Relaxed)
            && crate::measure::checked::wanted(rec.session.unwrap_or(rec.index))
    }

    /// Keeps `reply`'s answer text on `rec` when the token check wants it.
    pub fn keep_for_check(&self, rec: &mut RequestRecord, reply: Option<&KeptReply>) {
        if self.wants_text(rec) {
            rec.reply_text = reply.map(|r| r.text.clone());
        }
    }
}

/// How the run's requests travel, for the console and metadata.json.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `HTTP/1.1` or `HTTP/2`.
    pub protocol: &'static str,
    /// `redline-http1`, `redline-http2` or `reqwest`.
    pub client: &'static str,
    /// Why reqwest carries it, when it does.
    pub why: Option<&'static str>,
}

impl Target {
    /// The run's transport, with no samples yet ([`Target::load`] adds them).
    pub fn new(cfg: &Config) -> Result<Target> {
        let https = cfg.endpoint.scheme() == "https";
        // Built once (the system store is read once); each transport offers its own protocols.
        let tls = if https {
            Some(tls::client_config(&cfg.tls)?)
        } else {
            None
        };
        let mut builder = reqwest::Client::builder()
            .pool_max_idle_per_host(usize::MAX)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
            .user_agent(USER_AGENT_VALUE)
            .no_proxy();
        if let Some(base) = &tls {
            // reqwest takes the configuration itself, not an Arc of it.
            let alpn = if cfg.http2 { Alpn::Both } else { Alpn::Http1 };
            builder = builder.use_preconfigured_tls(tls::offering(base, alpn));
        }
        if !cfg.http2 {
            builder = builder.http1_only();
        }
        if let Some(p) = &cfg.proxy {
            builder = builder
                .proxy(reqwest::Proxy::all(p.url.clone()).context("the proxy URL is not usable")?);
        }
        let client = builder.build().context("cannot build the HTTP client")?;
        let head = RequestHead::new(cfg)?;
        let template = BodyTemplate::new(cfg, false);
        let transport = match Target::route_of(cfg).client {
            "reqwest" => Transport::Reqwest,
            client => {
                let host = cfg.endpoint.host_str().unwrap_or("localhost").to_string();
                let port = cfg.endpoint.port_or_known_default().unwrap_or(80);
                let tls = match &tls {
                    Some(base) => {
                        let name = tls::server_name(&host).with_context(|| {
                            format!("--endpoint: {host:?} is not a valid TLS server name")
                        })?;
                        let alpn = if cfg.http2 { Alpn::Http2 } else { Alpn::Http1 };
                        Some((std::sync::Arc::new(tls::offering(base, alpn)), name))
                    }
                    None => None,
                };
                let dialer = Dialer {
                    authority: format!("{host}:{port}"),
                    host,
                    tls,
                    timeout: cfg.timeout.min(MAX_CONNECT),
                };
                if client == "redline-http2" {
                    Transport::Http2 {
                        pool: Http2::new(dialer),
                        head: head.http2()?,
                    }
                } else {
                    Transport::Http1 {
                        pool: Http1::new(dialer),
                        requests: Vec::new(),
                    }
                }
            }
        };
        Ok(Target {
            client,
            headers: head.header_map(),
            head,
            template,
            bodies: Vec::new(),
            batch: cfg.batch_size,
            checking: cfg.api.streams().into(),
            media: Vec::new(),
            lora: cfg.lora.clone().map(|l| {
                let names = l
                    .adapters
                    .iter()
                    .map(|a| std::sync::Arc::from(a.as_str()))
                    .collect();
                (names, l, cfg.seed)
            }),
            samples: 0,
            lengths: Vec::new(),
            timeout: cfg.timeout,
            ttft_timeout: cfg.ttft_timeout,
            transport,
        })
    }

    /// The transport a configuration gets.
    pub fn route_of(cfg: &Config) -> Route {
        let protocol = if cfg.http2 { "HTTP/2" } else { "HTTP/1.1" };
        let why = if cfg.proxy.is_some() {
            Some("requests go through a proxy")
        } else if !cfg.endpoint.username().is_empty() || cfg.endpoint.password().is_some() {
            Some("the endpoint URL holds credentials")
        } else {
            None
        };
        let client = match (why, cfg.http2) {
            (Some(_), _) => "reqwest",
            (None, true) => "redline-http2",
            (None, false) => "redline-http1",
        };
        Route {
            protocol,
            client,
            why,
        }
    }

    /// Builds each sample's request once, before the first level; `ignore_eos` as decided for
    /// this endpoint.
    pub fn load(&mut self, conversations: &[Conversation], ignore_eos: bool) {
        self.template.set_ignore_eos(ignore_eos);
        self.bodies = match self.template.api() {
            api if api.batched() => (0..conversations.len())
                .map(|i| self.template.batch(conversations, i, self.batch))
                .collect(),
            // Each sample once per adapter (or once, naming --model).
            _ => {
                let names: Vec<Option<&str>> = match &self.lora {
                    Some((names, _, _)) => names.iter().map(|n| Some(&**n)).collect(),
                    None => vec![None],
                };
                names
                    .iter()
                    .flat_map(|a| conversations.iter().map(|c| self.template.sample(c, *a)))
                    .collect()
            }
        };
        self.samples = conversations.len();
        self.lengths = conversations.iter().map(|c| c.lengths).collect();
        let media: Vec<crate::measure::media::Media> = conversations
            .iter()
            .map(|c| crate::measure::media::media_of(&c.messages))
            .collect();
        self.media = match media.iter().any(|m| m.images + m.clips > 0) {
            true => media,
            false => Vec::new(),
        };
        if let Transport::Http1 { requests, .. } = &mut self.transport {
            let h = &self.head;
            *requests = Vec::with_capacity(self.bodies.len());
            for body in &mut self.bodies {
                let request = http1::request_bytes(&h.target, &h.host, &h.headers, body);
                // The body is the request's tail: kept once, as a view of the request's bytes,
                // not twice (a run with images holds bodies of megabytes).
                *body = request.slice(request.len() - body.len()..);
                requests.push(request);
            }
        }
    }

    /// The models the endpoint serves and who says it serves them (`GET /v1/models`: each
    /// `id` and `owned_by`, e.g. `vllm`, `llamacpp`, `sglang`, `redline`), asked with the run's
    /// TLS, proxy and headers; `None` when it does not answer that.
    pub async fn models(&self) -> Option<Vec<(String, Option<String>)>> {
        let url = self.sibling("models")?;
        let get = self.client.get(url).headers(self.headers.clone()).send();
        let resp = tokio::time::timeout(Duration::from_secs(5), get)
            .await
            .ok()?
            .ok()?;
        let bytes = tokio::time::timeout(Duration::from_secs(5), resp.bytes())
            .await
            .ok()?
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let list = v.get("data")?.as_array()?;
        Some(
            list.iter()
                .filter_map(|m| {
                    let id = m.get("id")?.as_str()?.to_string();
                    let owner = m.get("owned_by").and_then(|o| o.as_str()).map(String::from);
                    Some((id, owner))
                })
                .collect(),
        )
    }

    /// The text at `url` (a `GET` with the run's TLS and proxy; the key and `--header`s only when
    /// `url` is on the endpoint's own origin, so they never travel elsewhere), within `timeout`.
    pub async fn fetch_text(
        &self,
        url: &reqwest::Url,
        timeout: Duration,
    ) -> Result<String, String> {
        let same_origin = url.origin() == self.head.url.origin();
        let mut get = self.client.get(url.clone());
        if same_origin {
            get = get.headers(self.headers.clone());
        }
        let fetch = async {
            let resp = get
                .send()
                .await
                .map_err(|e| reqwest_failure(e, url.scheme() == "https").detail)?;
            if !resp.status().is_success() {
                return Err(format!("HTTP {}", resp.status().as_u16()));
            }
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| format!("body read failed: {e}"))?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        };
        tokio::time::timeout(timeout, fetch)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")))
    }

    pub fn samples(&self) -> usize {
        self.bodies.len()
    }

    /// The lengths sample `i` was built to, if it was.
    pub fn lengths(&self, i: usize) -> Option<Lengths> {
        self.lengths.get(i).copied().flatten()
    }

    /// Opens a first connection before the first level (https only): a certificate problem stops
    /// the run before any level, with its cause and fix, and the first request pays no handshake.
    pub async fn warm(&self) -> Result<(), Failure> {
        if self.head.url.scheme() != "https" {
            return Ok(());
        }
        let result = match &self.transport {
            Transport::Http1 { pool, .. } => pool.warm().await.map_err(SendError::Connect),
            Transport::Http2 { pool, .. } => pool.warm().await,
            Transport::Reqwest => Ok(()),
        };
        result.map_err(|e| send_error(e, &self.head.host))
    }

    /// Spare connections (or HTTP/2 streams) for a level of `qps`, opened before it starts, so its
    /// requests rarely wait for a connection.
    pub async fn prepare(&self, qps: f64) {
        match &self.transport {
            Transport::Http1 { pool, .. } => pool.prepare(qps).await,
            Transport::Http2 { pool, .. } => pool.prepare(qps).await,
            Transport::Reqwest => {}
        }
    }

    /// HTTP/2 connections open, and the streams each allows.
    pub fn http2_connections(&self) -> Vec<usize> {
        match &self.transport {
            Transport::Http2 { pool, .. } => pool.connections(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_the_http1_path_each_body_is_a_view_of_its_request_not_a_second_copy() {
        let args = crate::cli::BenchArgs::new("http://127.0.0.1:9", "m", "bundled".into());
        let cfg = Config::from_args(&args).unwrap();
        let convs = crate::dataset::parse(crate::dataset::BUNDLED, "bundled").unwrap();
        let mut target = Target::new(&cfg).unwrap();
        target.load(&convs, false);
        let Transport::Http1 { requests, .. } = &target.transport else {
            panic!("plain http takes the HTTP/1.1 path");
        };
        assert_eq!(requests.len(), target.bodies.len());
        for (request, body) in requests.iter().zip(&target.bodies) {
            assert!(request.ends_with(body));
            let within = request.as_ptr_range();
            assert!(within.contains(&body.as_ptr()), "the body was copied");
        }
    }
}
