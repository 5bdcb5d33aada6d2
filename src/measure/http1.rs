//! A hand-written HTTP/1.1 client for `http://` and `https://` endpoints: the hot path of a load
//! test. Connections (TCP, or TLS over it) come from `conn.rs`, one per request in flight, as the
//! OpenAI SDKs and aiohttp-based tools use them, so no server limit on streams per connection can
//! queue a request inside the client.
//!
//! Why not reqwest here: with reqwest (and hyper's own client API) every connection is driven by a
//! task of its own that passes each body chunk to the request's task over a channel, so every SSE
//! chunk costs two task wake-ups, and each connection pre-allocates 8 KiB for writing headers plus an
//! adaptive read buffer (24 KiB per in-flight stream in all, docs/performance.md). Here the request's
//! own task owns the socket: it writes a request pre-serialised once per dataset sample, parses the
//! response head with `httparse`, decodes content-length, chunked or close-delimited framing itself,
//! and hands body bytes straight to the SSE parser. Idle connections are pooled, with spares opened
//! ahead of demand (`pool.rs`); one found closed is discarded before use. The send timestamp is taken when the request's bytes are handed to the
//! connection, after any connect or handshake, so that wait is schedule lag. Credentials in the URL,
//! proxies and redirects go through reqwest (`client.rs`), which also remains the reference every
//! fault test checks this path against.
//!
//! Words: a *body piece* is what one socket read decoded to ([`Body::next_piece`]), decoded into
//! one buffer the body keeps, so reading an event allocates nothing; *chunked* is
//! HTTP's transfer framing ([`ChunkedState`]); SSE events and chat events are `sse.rs`'s and
//! `chat.rs`'s.

use crate::measure::conn::{Conn, ConnectError, Dialer, SendTimes};
use crate::measure::pool::Pool;
use bytes::Bytes;
use std::io::Write as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// Bytes read per socket read. An SSE chunk is a few hundred bytes.
const READ_CHUNK: usize = 2048;
/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Longest chunk-size line accepted.
const MAX_SIZE_LINE: usize = 1024;

/// Why a body could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("connection broke: {0}")]
    Io(std::io::Error),
    #[error("connection already closed")]
    NoConnection,
    #[error("the connection closed before the end of the body")]
    ClosedEarly,
    /// The chunked transfer framing is broken.
    #[error("{0}")]
    Framing(String),
    #[error("gzip body: {0}")]
    Gzip(std::io::Error),
}

/// Why a request failed before its response head was read.
#[derive(Debug)]
pub enum SendError {
    /// The connection could not be made (TCP or TLS).
    Connect(ConnectError),
    /// The connection broke before the response head arrived.
    Io(std::io::Error),
    /// The response head is not HTTP/1.x.
    Malformed(String),
}

pub struct Http1 {
    pool: Pool,
}

/// A parsed response head.
pub struct Head {
    pub status: u16,
    /// An HTTP/1.0 response: its connection closes unless it says keep-alive.
    pub http10: bool,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

enum Framing {
    Length(u64),
    Chunked(ChunkedState),
    UntilClose,
}

#[derive(Clone, Copy, PartialEq)]
enum ChunkedState {
    Size,
    Data(u64),
    DataEnd,
    Trailer,
}

/// The body of one response, read from the socket the request owns.
pub struct Body {
    stream: Option<Conn>,
    /// Received bytes not yet decoded, from `pos`.
    raw: Vec<u8>,
    pos: usize,
    /// The last piece decoded, lent to the reader until the next one (the allocation is reused).
    out: Vec<u8>,
    framing: Framing,
    gzip: Option<flate2::write::GzDecoder<Vec<u8>>>,
    /// The whole body was read and the connection can be reused.
    complete: bool,
    keep_alive: bool,
}

impl Http1 {
    pub fn new(dialer: Dialer) -> Http1 {
        Http1 {
            pool: Pool::new(dialer),
        }
    }

    /// Spare connections for a level of `qps`, opened before it starts.
    pub async fn prepare(&self, qps: f64) {
        self.pool.prepare(qps).await;
    }

    /// Opens a connection now and keeps it idle for the next request: the TLS handshake is
    /// checked (and paid) before the first level.
    pub async fn warm(&self) -> Result<(), ConnectError> {
        self.pool.warm().await
    }

    /// Writes `request` and reads the response head. `sent.at` is set when the request's bytes are
    /// handed to an open connection, and `sent.tcp_connect` when it opened that connection itself.
    ///
    /// A server may close an idle connection just as a request is written to it (its keep-alive
    /// timeout racing the reuse). When a reused connection fails before any byte of a response,
    /// the request is sent once more on a new connection, with its send time taken again: the
    /// first attempt reached no server that answered it.
    pub async fn send(
        &self,
        request: &[u8],
        sent: &mut SendTimes,
    ) -> Result<(Head, Body), SendError> {
        let (stream, opened) = self.pool.take().await.map_err(SendError::Connect)?;
        sent.tcp_connect = opened;
        match exchange_head(stream, request, &mut sent.at).await {
            Err((SendError::Io(_), true)) if opened.is_none() => {
                let (stream, tcp) = self.pool.fresh().await.map_err(SendError::Connect)?;
                sent.tcp_connect = Some(tcp);
                exchange_head(stream, request, &mut sent.at)
                    .await
                    .map_err(|(e, _)| e)
            }
            other => other.map_err(|(e, _)| e),
        }
    }

    /// Gives back the connection of a body read to its end.
    pub fn release(&self, body: Body) {
        if let (true, true, Some(s)) = (body.complete, body.keep_alive, body.stream) {
            self.pool.put(s);
        }
    }
}

/// Writes `request` on `stream` and reads the response head. On failure, says whether no byte of a
/// response had arrived.
async fn exchange_head(
    mut stream: Conn,
    request: &[u8],
    sent_at: &mut Option<Instant>,
) -> Result<(Head, Body), (SendError, bool)> {
    *sent_at = Some(Instant::now());
    // A server may refuse a request before reading all of it (413 for a body too large) and
    // close: the write then fails, but its answer may be there to read, and it says more than
    // the broken pipe.
    let written = match stream.write_all(request).await {
        Ok(()) => stream.flush().await,
        Err(e) => Err(e),
    };
    if let Err(e) = written {
        let answer = Box::pin(tokio::time::timeout(REFUSAL_WAIT, read_head(stream))).await;
        return match answer {
            Ok(Ok(head)) => Ok(head),
            _ => Err((SendError::Io(e), true)),
        };
    }
    read_head(stream).await
}

/// How long a failed write waits for the server's answer to it.
const REFUSAL_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Reads the response head from `stream`. On failure, says whether no byte of a response had
/// arrived.
async fn read_head(mut stream: Conn) -> Result<(Head, Body), (SendError, bool)> {
    let mut raw = Vec::with_capacity(READ_CHUNK);
    // Whether any byte of a response arrived (an interim response counts).
    let mut got_any = false;
    // Read when what is buffered holds no complete head (an interim response may leave the final
    // one already buffered).
    let mut read = true;
    loop {
        if raw.len() > MAX_HEAD {
            let m = format!("response head over {MAX_HEAD} bytes");
            return Err((SendError::Malformed(m), false));
        }
        if read || raw.is_empty() {
            raw.reserve(READ_CHUNK);
            match stream.read_buf(&mut raw).await {
                Ok(0) => {
                    let eof = SendError::Io(std::io::ErrorKind::UnexpectedEof.into());
                    return Err((eof, !got_any));
                }
                Ok(_) => got_any = true,
                Err(e) => return Err((SendError::Io(e), !got_any)),
            }
        }
        read = true;
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&raw) {
            Ok(httparse::Status::Partial) => continue,
            Err(e) => {
                let m = format!("invalid HTTP response: {e}");
                return Err((SendError::Malformed(m), false));
            }
            Ok(httparse::Status::Complete(len))
                if resp
                    .code
                    .is_some_and(|c| (100..200).contains(&c) && c != 101) =>
            {
                // An interim response (100 Continue, 103 Early Hints): the real one follows.
                raw.drain(..len);
                read = false;
                continue;
            }
            Ok(httparse::Status::Complete(len)) => {
                let head = Head {
                    status: resp.code.unwrap_or(0),
                    http10: resp.version == Some(0),
                    headers: resp
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_ascii_lowercase(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect(),
                };
                let body = Body::new(&head, stream, raw, len).map_err(|e| (e, false))?;
                return Ok((head, body));
            }
        }
    }
}

impl Body {
    fn new(head: &Head, stream: Conn, raw: Vec<u8>, pos: usize) -> Result<Body, SendError> {
        let has = |name: &str, token: &str| {
            head.get(name)
                .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        };
        let no_body = head.status == 204 || head.status == 304 || (100..200).contains(&head.status);
        let framing = if no_body {
            Framing::Length(0)
        } else if has("transfer-encoding", "chunked") {
            Framing::Chunked(ChunkedState::Size)
        } else if let Some(len) = head.get("content-length") {
            Framing::Length(
                len.trim()
                    .parse()
                    .map_err(|_| SendError::Malformed(format!("bad content-length {len:?}")))?,
            )
        } else {
            Framing::UntilClose
        };
        let keep_alive = if head.http10 {
            has("connection", "keep-alive")
        } else {
            !has("connection", "close")
        };
        Ok(Body {
            stream: Some(stream),
            raw,
            pos,
            out: Vec::new(),
            complete: no_body || matches!(framing, Framing::Length(0)),
            keep_alive: keep_alive && !matches!(framing, Framing::UntilClose),
            framing,
            gzip: has("content-encoding", "gzip")
                .then(|| flate2::write::GzDecoder::new(Vec::new())),
        })
    }

    /// The next piece of the decoded body (as much as one socket read gave), lent until the next
    /// call; `None` at its end.
    pub async fn next_piece(&mut self) -> Result<Option<&[u8]>, BodyError> {
        loop {
            let mut out = std::mem::take(&mut self.out);
            out.clear();
            self.decode(&mut out)?;
            self.out = self.unzip(out)?;
            if !self.out.is_empty() {
                return Ok(Some(&self.out));
            }
            if self.complete {
                return Ok(None);
            }
            self.fill().await?;
        }
    }

    /// Reads more bytes from the socket into `raw`.
    async fn fill(&mut self) -> Result<(), BodyError> {
        if self.pos > 0 && self.pos == self.raw.len() {
            self.raw.clear();
            self.pos = 0;
        } else if self.pos > READ_CHUNK {
            self.raw.drain(..self.pos);
            self.pos = 0;
        }
        self.raw.reserve(READ_CHUNK);
        let stream = self.stream.as_mut().ok_or(BodyError::NoConnection)?;
        let n = stream
            .read_buf(&mut self.raw)
            .await
            .map_err(BodyError::Io)?;
        if n == 0 {
            if matches!(self.framing, Framing::UntilClose) {
                self.complete = true;
                return Ok(());
            }
            return Err(BodyError::ClosedEarly);
        }
        Ok(())
    }

    /// Decodes what `raw` holds into `out`, per the framing.
    fn decode(&mut self, out: &mut Vec<u8>) -> Result<(), BodyError> {
        loop {
            let avail = &self.raw[self.pos..];
            match &mut self.framing {
                Framing::UntilClose => {
                    out.extend_from_slice(avail);
                    self.pos = self.raw.len();
                    return Ok(());
                }
                Framing::Length(left) => {
                    let take = (*left).min(avail.len() as u64) as usize;
                    out.extend_from_slice(&avail[..take]);
                    self.pos += take;
                    *left -= take as u64;
                    self.complete = *left == 0;
                    return Ok(());
                }
                Framing::Chunked(state) => match *state {
                    ChunkedState::Size | ChunkedState::Trailer => {
                        let Some(end) = avail.windows(2).position(|w| w == b"\r\n") else {
                            if avail.len() > MAX_SIZE_LINE {
                                return Err(BodyError::Framing("chunk-size line too long".into()));
                            }
                            return Ok(());
                        };
                        let line = &avail[..end];
                        self.pos += end + 2;
                        if *state == ChunkedState::Trailer {
                            if line.is_empty() {
                                self.complete = true;
                                return Ok(());
                            }
                            continue;
                        }
                        let hex = line.split(|&b| b == b';').next().unwrap_or_default();
                        let size = std::str::from_utf8(hex)
                            .ok()
                            .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
                            .ok_or_else(|| {
                                BodyError::Framing(format!(
                                    "bad chunk size {:?}",
                                    String::from_utf8_lossy(line)
                                ))
                            })?;
                        *state = if size == 0 {
                            ChunkedState::Trailer
                        } else {
                            ChunkedState::Data(size)
                        };
                    }
                    ChunkedState::Data(left) => {
                        if avail.is_empty() {
                            return Ok(());
                        }
                        let take = left.min(avail.len() as u64) as usize;
                        out.extend_from_slice(&avail[..take]);
                        self.pos += take;
                        *state = if left == take as u64 {
                            ChunkedState::DataEnd
                        } else {
                            ChunkedState::Data(left - take as u64)
                        };
                    }
                    ChunkedState::DataEnd => {
                        if avail.len() < 2 {
                            return Ok(());
                        }
                        if &avail[..2] != b"\r\n" {
                            return Err(BodyError::Framing(
                                "chunk data not followed by CRLF".into(),
                            ));
                        }
                        self.pos += 2;
                        *state = ChunkedState::Size;
                    }
                },
            }
        }
    }

    fn unzip(&mut self, data: Vec<u8>) -> Result<Vec<u8>, BodyError> {
        let Some(g) = &mut self.gzip else {
            return Ok(data);
        };
        g.write_all(&data).map_err(BodyError::Gzip)?;
        let mut out = std::mem::take(g.get_mut());
        if self.complete {
            if let Some(g) = self.gzip.take() {
                out.extend(g.finish().map_err(BodyError::Gzip)?);
            }
        }
        Ok(out)
    }
}

/// The request bytes for one body, with `headers` (content type, user agent, authorization, the
/// user's own): written once per dataset sample, sent as they are.
pub fn request_bytes(
    path: &str,
    host: &str,
    headers: &[(http::HeaderName, http::HeaderValue)],
    body: &[u8],
) -> Bytes {
    // Sized once: a body of megabytes is not copied again as the request grows.
    let head: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    let mut r = Vec::with_capacity(path.len() + host.len() + head + body.len() + 64);
    r.extend_from_slice(format!("POST {path} HTTP/1.1\r\nhost: {host}\r\n").as_bytes());
    for (name, value) in headers {
        r.extend_from_slice(name.as_str().as_bytes());
        r.extend_from_slice(b": ");
        r.extend_from_slice(value.as_bytes());
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    r.extend_from_slice(body);
    Bytes::from(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(framing: Framing, raw: &[u8]) -> Body {
        Body {
            stream: None,
            raw: raw.to_vec(),
            pos: 0,
            out: Vec::new(),
            framing,
            gzip: None,
            complete: false,
            keep_alive: true,
        }
    }

    #[test]
    fn chunked_decoding_handles_extensions_trailers_and_splits() {
        let wire = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n";
        // Every split of the bytes decodes to the same body.
        for cut in 0..=wire.len() {
            let mut b = body(Framing::Chunked(ChunkedState::Size), &wire[..cut]);
            let mut out = Vec::new();
            b.decode(&mut out).unwrap();
            b.raw.extend_from_slice(&wire[cut..]);
            b.decode(&mut out).unwrap();
            assert_eq!(out, b"hello world", "cut at {cut}");
            assert!(b.complete);
        }
    }

    #[tokio::test]
    async fn pieces_are_lent_from_one_reused_buffer_until_the_end() {
        let wire = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        let mut b = body(Framing::Chunked(ChunkedState::Size), wire);
        assert_eq!(b.next_piece().await.unwrap(), Some(&b"hello world"[..]));
        let kept = b.out.as_ptr();
        assert_eq!(b.next_piece().await.unwrap(), None);
        assert!(b.complete);
        // The piece's buffer was cleared and kept, not dropped and allocated again.
        assert_eq!(b.out.as_ptr(), kept);
    }

    #[test]
    fn bad_framing_is_an_error() {
        let mut out = Vec::new();
        assert!(body(Framing::Chunked(ChunkedState::Size), b"zz\r\n")
            .decode(&mut out)
            .is_err());
        assert!(body(Framing::Chunked(ChunkedState::Size), b"2\r\nabXY")
            .decode(&mut out)
            .is_err());
    }

    #[test]
    fn content_length_stops_at_the_end() {
        let mut b = body(Framing::Length(3), b"abcdef");
        let mut out = Vec::new();
        b.decode(&mut out).unwrap();
        assert_eq!(out, b"abc");
        assert!(b.complete);
    }
}
