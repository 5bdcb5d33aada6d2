//! `--http2`: HTTP/2 over TLS with a pool of connections sized from each connection's own stream
//! limit (`SETTINGS_MAX_CONCURRENT_STREAMS`), so no request ever waits for a stream slot.
//!
//! A request takes a lease on a connection with a free stream, or opens a new connection rather than
//! wait; when the free streams run below 20 ms of arrivals plus two connection-opening times,
//! another connection is opened in the background, so that wait is rare (TCP connect, TLS with ALPN `h2`, the HTTP/2 preface and one PING, whose answer comes after
//! the server's SETTINGS, so the stream limit is known before the connection is used). The send
//! timestamp is taken when the stream is open and its headers queued for writing: `h2` holds a new
//! stream back while the server's limit is reached, and `ready()` after `send_request` waits for
//! exactly that, so any such wait shows as schedule lag. Bodies are read frame by frame, giving the
//! flow-control window back as they go. A PING every 10 s finds a connection a middlebox dropped
//! silently, and takes it out of the pool. Uses the `h2` crate directly (hyper and reqwest hide the
//! stream limit and queue requests inside the client).

use crate::measure::conn::{ConnectError, Dialer};
use crate::measure::http1::SendError;
use crate::measure::pool::SpareTarget;
use bytes::Bytes;
use h2::client::SendRequest;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

/// How often a connection is pinged, and how long its answer may take.
const KEEPALIVE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);
const KEEPALIVE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// Longest wait for the spare streams before a level.
const PREPARE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);
/// Most connections one `prepare` opens.
const MAX_PREPARE_OPENS: usize = 64;
/// The longest the HTTP/2 preface and the first PING may take on a new connection.
const PREFACE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Receive windows: large enough that a slow reader on one stream never stalls the others.
const STREAM_WINDOW: u32 = 1 << 20;
const CONNECTION_WINDOW: u32 = 16 << 20;

#[derive(Clone)]
pub struct Http2 {
    inner: Arc<Inner>,
}

struct Inner {
    dialer: Dialer,
    conns: Mutex<Vec<Arc<H2Conn>>>,
    /// Below this many free streams, another connection is opened in the background.
    target: SpareTarget,
    opening: AtomicBool,
}

struct H2Conn {
    send: SendRequest<Bytes>,
    in_flight: AtomicUsize,
    closed: Arc<AtomicBool>,
}

/// A stream's claim on its connection; gives the slot back when dropped.
struct Lease(Arc<H2Conn>);

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body being read; holds its stream's lease.
pub struct H2Body {
    stream: h2::RecvStream,
    _lease: Lease,
}

/// Why an HTTP/2 body could not be read on.
#[derive(Debug, thiserror::Error)]
#[error("HTTP/2 stream failed: {0}")]
pub struct H2BodyError(h2::Error);

impl Http2 {
    pub fn new(dialer: Dialer) -> Http2 {
        Http2 {
            inner: Arc::new(Inner {
                dialer,
                conns: Mutex::new(Vec::new()),
                target: SpareTarget::default(),
                opening: AtomicBool::new(false),
            }),
        }
    }

    /// Connections open now and the streams they allow, for the run's metadata.
    pub fn connections(&self) -> Vec<usize> {
        self.inner
            .conns
            .lock()
            .map(|c| {
                c.iter()
                    .map(|c| c.send.current_max_send_streams())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Opens the first connection before the first level: the handshake is checked and the
    /// server's stream limit known.
    pub async fn warm(&self) -> Result<(), SendError> {
        let conn = self.open().await?;
        self.add(conn);
        Ok(())
    }

    /// Spare streams for a level of `qps`, opened before it starts: within [`PREPARE_WAIT`], at
    /// most [`MAX_PREPARE_OPENS`] connections, and none more once one adds no free stream (a
    /// server that allows none, or is draining).
    pub async fn prepare(&self, qps: f64) {
        self.inner.target.set_rate(qps);
        let spare = self.inner.target.count();
        let open_more = async {
            for _ in 0..MAX_PREPARE_OPENS {
                let before = self.free_streams();
                if before >= spare {
                    return;
                }
                match self.open().await {
                    Ok(conn) => self.add(conn),
                    Err(_) => return,
                }
                if self.free_streams() <= before {
                    return;
                }
            }
        };
        // As long as the HTTP/1.1 pool waits for its spares, and no longer.
        let _ = tokio::time::timeout(PREPARE_WAIT, open_more).await;
    }

    fn add(&self, conn: Arc<H2Conn>) {
        if let Ok(mut conns) = self.inner.conns.lock() {
            conns.push(conn);
        }
    }

    /// Streams the open connections can still take.
    fn free_streams(&self) -> usize {
        let Ok(conns) = self.inner.conns.lock() else {
            return 0;
        };
        conns
            .iter()
            .filter(|c| !c.closed.load(Ordering::Acquire))
            .map(|c| {
                c.send
                    .current_max_send_streams()
                    .saturating_sub(c.in_flight.load(Ordering::Acquire))
            })
            .fold(0usize, usize::saturating_add)
    }

    /// A connection with a free stream, claimed.
    fn claim(&self) -> Option<Lease> {
        let mut conns = self.inner.conns.lock().ok()?;
        conns.retain(|c| !c.closed.load(Ordering::Acquire));
        for c in conns.iter() {
            let limit = c.send.current_max_send_streams();
            if c.in_flight.load(Ordering::Acquire) < limit {
                c.in_flight.fetch_add(1, Ordering::AcqRel);
                return Some(Lease(c.clone()));
            }
        }
        None
    }

    async fn lease(&self) -> Result<Lease, SendError> {
        let claimed = self.claim();
        self.top_up();
        if let Some(l) = claimed {
            return Ok(l);
        }
        let conn = self.open().await?;
        conn.in_flight.store(1, Ordering::Release);
        self.add(conn.clone());
        Ok(Lease(conn))
    }

    /// Opens another connection in the background when the free streams run below the spare
    /// count (one at a time).
    fn top_up(&self) {
        let spare = self.inner.target.count();
        if self.free_streams() >= spare || self.inner.opening.swap(true, Ordering::AcqRel) {
            return;
        }
        let pool = self.clone();
        tokio::spawn(async move {
            if let Ok(conn) = pool.open().await {
                pool.add(conn);
            }
            pool.inner.opening.store(false, Ordering::Release);
        });
    }

    /// A new connection, ready for streams, with the server's SETTINGS applied.
    async fn open(&self) -> Result<Arc<H2Conn>, SendError> {
        let start = std::time::Instant::now();
        let opened = self.open_timed().await;
        if opened.is_ok() {
            self.inner.target.opened_in(start.elapsed());
        }
        opened
    }

    async fn open_timed(&self) -> Result<Arc<H2Conn>, SendError> {
        match tokio::time::timeout(self.inner.dialer.timeout + PREFACE_TIMEOUT, self.open_now())
            .await
        {
            Ok(result) => result,
            Err(_) => Err(SendError::Malformed(format!(
                "no HTTP/2 connection to {} within {:?}",
                self.inner.dialer.authority,
                self.inner.dialer.timeout + PREFACE_TIMEOUT
            ))),
        }
    }

    async fn open_now(&self) -> Result<Arc<H2Conn>, SendError> {
        let dialer = &self.inner.dialer;
        let (io, _) = dialer.connect().await.map_err(SendError::Connect)?;
        if io.alpn() != Some(b"h2") {
            return Err(SendError::Connect(ConnectError::Tls(format!(
                "{} did not agree to HTTP/2 in the TLS handshake (ALPN); leave out --http2 to use HTTP/1.1",
                dialer.host
            ))));
        }
        let (send, mut connection) = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .handshake::<_, Bytes>(io)
            .await
            .map_err(|e| SendError::Malformed(format!("HTTP/2 handshake failed: {e}")))?;
        let ping = connection.ping_pong();
        let closed = Arc::new(AtomicBool::new(false));
        let flag = closed.clone();
        tokio::spawn(async move {
            let _ = connection.await;
            flag.store(true, Ordering::Release);
        });
        // The server's SETTINGS frame comes before its answer to our PING.
        if let Some(mut ping) = ping {
            ping.ping(h2::Ping::opaque())
                .await
                .map_err(|e| SendError::Malformed(format!("HTTP/2 connection failed: {e}")))?;
            tokio::spawn(keep_alive(ping, closed.clone()));
        }
        Ok(Arc::new(H2Conn {
            send,
            in_flight: AtomicUsize::new(0),
            closed,
        }))
    }

    /// Sends a request with `body` and waits for the response head. `sent_at` is set once the
    /// stream is open. A connection that closed under us (GOAWAY) is replaced once.
    pub async fn send(
        &self,
        head: &http::Request<()>,
        body: &Bytes,
        sent_at: &mut Option<Instant>,
    ) -> Result<(http::response::Parts, H2Body), SendError> {
        let mut retried = false;
        loop {
            let lease = self.lease().await?;
            match open_stream(&lease.0.send, head, body).await {
                Ok(response) => {
                    *sent_at = Some(Instant::now());
                    let resp = response
                        .await
                        .map_err(|e| SendError::Io(std::io::Error::other(e)))?;
                    let (parts, stream) = resp.into_parts();
                    return Ok((
                        parts,
                        H2Body {
                            stream,
                            _lease: lease,
                        },
                    ));
                }
                Err(e) if !retried && (e.is_go_away() || e.is_io()) => {
                    lease.0.closed.store(true, Ordering::Release);
                    retried = true;
                }
                Err(e) => return Err(SendError::Io(std::io::Error::other(e))),
            }
        }
    }
}

/// Pings the connection every [`KEEPALIVE_EVERY`]; one unanswered within [`KEEPALIVE_WAIT`] (a
/// middlebox dropped the flow silently) marks it closed, so no request is sent on it again. Ends
/// when the connection does.
async fn keep_alive(mut ping: h2::PingPong, closed: Arc<AtomicBool>) {
    loop {
        tokio::time::sleep(KEEPALIVE_EVERY).await;
        if closed.load(Ordering::Acquire) {
            return;
        }
        match tokio::time::timeout(KEEPALIVE_WAIT, ping.ping(h2::Ping::opaque())).await {
            Ok(Ok(_)) => {}
            _ => {
                closed.store(true, Ordering::Release);
                return;
            }
        }
    }
}

/// Opens a stream for the request and queues its headers and body; returns once the stream is
/// open (not held back by the server's stream limit).
async fn open_stream(
    send: &SendRequest<Bytes>,
    head: &http::Request<()>,
    body: &Bytes,
) -> Result<h2::client::ResponseFuture, h2::Error> {
    let send = send.clone().ready().await?;
    let mut req = http::Request::builder()
        .method(head.method().clone())
        .uri(head.uri().clone())
        .body(())
        .map_err(|_| h2::Reason::INTERNAL_ERROR)?;
    *req.headers_mut() = head.headers().clone();
    let mut send = send;
    let (response, mut stream) = send.send_request(req, false)?;
    stream.send_data(body.clone(), true)?;
    // Waits while h2 holds the new stream back (the server's stream limit reached).
    send.ready().await?;
    Ok(response)
}

impl H2Body {
    /// The next piece of the body; `None` at its end.
    pub async fn next_bytes(&mut self) -> Result<Option<Bytes>, H2BodyError> {
        match self.stream.data().await {
            None => Ok(None),
            Some(Err(e)) => Err(H2BodyError(e)),
            Some(Ok(b)) => {
                let _ = self.stream.flow_control().release_capacity(b.len());
                Ok(Some(b))
            }
        }
    }
}
