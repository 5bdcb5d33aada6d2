//! What a run sends to and through: the [`Target`] (the transport chosen once per run, each
//! sample's body and request bytes, timeouts, media and adapters) and a request's [`Payload`].
//! `client.rs` builds a Target and answers questions about it; `exchange.rs` measures each request
//! on it. Both see its fields; no other module does.

use crate::dataset::Lengths;
use crate::measure::conn::ConnectError;
use crate::measure::failure::{connect_failure, Failure};
use crate::measure::http1::{Http1, SendError};
use crate::measure::http2::Http2;
use crate::measure::record::ErrorKind;
use crate::measure::request::{BodyTemplate, RequestHead};
use bytes::Bytes;
use std::time::Duration;

/// The transport that carries the run's requests.
pub(super) enum Transport {
    /// Each sample's complete request, serialised once.
    Http1 {
        pool: Http1,
        requests: Vec<Bytes>,
    },
    Http2 {
        pool: Http2,
        head: http::Request<()>,
    },
    Reqwest,
}

/// What one request sends: a dataset sample's body, built once before the first level, or a body
/// built for it (a session's turn, a trace request).
#[derive(Debug, Clone)]
pub enum Payload {
    Sample(usize),
    Body(Bytes),
}

/// Where and what to send: the run's transport, one body per dataset sample, and reqwest for
/// what the fast paths hand over.
pub struct Target {
    pub(super) client: reqwest::Client,
    pub(super) head: RequestHead,
    pub(super) headers: http::HeaderMap,
    /// Builds the bodies of sessions' turns and trace requests.
    pub template: BodyTemplate,
    pub(super) bodies: Vec<Bytes>,
    /// The lengths each sample was built to (synthetic prompts).
    pub(super) lengths: Vec<Option<Lengths>>,
    pub(super) timeout: Duration,
    pub(super) ttft_timeout: Option<Duration>,
    pub(super) transport: Transport,
    /// `--batch-size`: inputs per embeddings request, documents per rerank query.
    pub batch: usize,
    /// `--images`, `--audio`: each sample's media (empty without any).
    pub(super) media: Vec<crate::measure::media::Media>,
    /// `--lora`: the adapters, how requests get them, the run's seed, and the samples per
    /// adapter: `bodies` holds each sample once per adapter, adapter by adapter.
    pub(super) lora: Option<(Vec<std::sync::Arc<str>>, crate::config::lora::Lora, u64)>,
    pub(super) samples: usize,
    /// Keep the answer text of each level's first requests, for the token check
    /// (`tokens_check.rs`).
    pub checking: std::sync::atomic::AtomicBool,
}

/// Names a failure to send on a fast path.
pub(super) fn send_error(e: SendError, host: &str) -> Failure {
    match e {
        SendError::Connect(ConnectError::Tcp(e)) => connect_failure(&e),
        SendError::Connect(ConnectError::Tls(why)) => {
            Failure::new(ErrorKind::Tls, format!("{host}: {why}"))
        }
        SendError::Io(e) => Failure::new(ErrorKind::Connection, format!("connection failed: {e}")),
        SendError::Malformed(m) => Failure::new(ErrorKind::InvalidResponse, m),
    }
}
