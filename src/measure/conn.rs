//! One connection to the endpoint, plain TCP or TLS over it, opened by [`connect`]: what the
//! hand-written HTTP/1.1 path (`http1.rs`) and the HTTP/2 pool (`http2.rs`) write requests to.
//! Opening includes the TCP connect and the TLS handshake; the caller takes its send timestamp only
//! after, so that time shows as schedule lag, never hidden inside a latency.

use crate::measure::tls;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// Where and how to connect.
#[derive(Clone)]
pub struct Dialer {
    /// `host:port`.
    pub authority: String,
    /// The host, for messages and SNI.
    pub host: String,
    pub tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    /// The longest a connect and its TLS handshake may take.
    pub timeout: Duration,
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{0}")]
    Tcp(io::Error),
    /// The TLS handshake failed; the message names the certificate's problem and its fix.
    #[error("{0}")]
    Tls(String),
}

/// A connection, plain or TLS. The TLS stream is boxed: it carries rustls' buffers.
pub enum Conn {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Dialer {
    /// Opens a connection (TCP, then TLS when configured) within the dialer's timeout; with how
    /// long the TCP connect took (the endpoint accepting it, before any handshake).
    pub async fn connect(&self) -> Result<(Conn, Duration), ConnectError> {
        match tokio::time::timeout(self.timeout, self.open()).await {
            Ok(result) => result,
            Err(_) => Err(ConnectError::Tcp(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "no connection (TCP and TLS) to {} within {:?}",
                    self.authority, self.timeout
                ),
            ))),
        }
    }

    async fn open(&self) -> Result<(Conn, Duration), ConnectError> {
        let start = std::time::Instant::now();
        let tcp = TcpStream::connect(&self.authority)
            .await
            .map_err(ConnectError::Tcp)?;
        let accepted = start.elapsed();
        tcp.set_nodelay(true).map_err(ConnectError::Tcp)?;
        let Some((config, name)) = &self.tls else {
            return Ok((Conn::Tcp(tcp), accepted));
        };
        let tls = TlsConnector::from(config.clone())
            .connect(name.clone(), tcp)
            .await
            .map_err(|e| ConnectError::Tls(tls::describe(&e, &self.host)))?;
        Ok((Conn::Tls(Box::new(tls)), accepted))
    }
}

impl Conn {
    /// The protocol the server chose in the TLS handshake (`h2`, `http/1.1`), if any.
    pub fn alpn(&self) -> Option<&[u8]> {
        match self {
            Conn::Tcp(_) => None,
            Conn::Tls(t) => t.get_ref().1.alpn_protocol(),
        }
    }

    /// Whether an idle connection is still open and quiet: a closed socket reads 0 bytes, and any
    /// bytes the server sent while idle (an error response) make it unusable either way. On TLS
    /// the check reads through rustls, which takes the session tickets a TLS 1.3 server sends
    /// after the handshake (they are not application data) and reports a close alert as the end.
    pub fn is_reusable(&mut self) -> bool {
        let mut probe = [0u8; 1];
        match self {
            Conn::Tcp(t) => {
                matches!(t.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
            Conn::Tls(t) => {
                use futures_util::FutureExt;
                use tokio::io::AsyncReadExt;
                // Pending: nothing to read, the connection is open and quiet.
                t.read(&mut probe).now_or_never().is_none()
            }
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Tcp(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Tcp(s) => s.is_write_vectored(),
            Conn::Tls(s) => s.is_write_vectored(),
        }
    }
}

/// When a request went out, and what it waited for first: filled in by the transport as it sends.
#[derive(Debug, Default)]
pub struct SendTimes {
    /// When the request's bytes were handed to an open connection (stream).
    pub at: Option<tokio::time::Instant>,
    /// The TCP connect of a connection this request opened for itself (HTTP/1.1): the time the
    /// endpoint took to accept it.
    pub tcp_connect: Option<Duration>,
}
