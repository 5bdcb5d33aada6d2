//! How an exchange failed: [`Failure`] (an `ErrorKind` and a short detail for the user), and the
//! rules that name a transport error: this machine's limits (out of file descriptors or ports) are
//! the client's, a failed handshake is TLS, a redirect loop is a redirect error, the rest is the
//! connection. Used by `client.rs`, `reply.rs` and `chat.rs`; a detail never holds the API key.

use crate::measure::record::ErrorKind;

/// Why one request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: ErrorKind,
    pub detail: String,
}

impl Failure {
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Failure {
            kind,
            detail: detail.into(),
        }
    }
}

/// EMFILE, ENFILE (no file descriptors), EADDRNOTAVAIL (no local ports), ENOBUFS.
const CLIENT_LIMITS: [i32; 4] = [24, 23, 99, 105];

/// Names a failure to get a response through reqwest.
pub fn reqwest_failure(e: reqwest::Error, https: bool) -> Failure {
    let e = e.without_url();
    let detail = error_chain(&e);
    let kind = if e.is_redirect() {
        ErrorKind::Redirect
    } else if e.is_timeout() {
        ErrorKind::Timeout
    } else if os_error(&e).is_some_and(|code| CLIENT_LIMITS.contains(&code)) {
        ErrorKind::ClientResources
    } else if https && is_tls(&detail) {
        ErrorKind::Tls
    } else {
        ErrorKind::Connection
    };
    Failure::new(kind, detail)
}

/// A TCP connect that failed on the hand-written path: this machine's limits are the client's.
pub fn connect_failure(e: &std::io::Error) -> Failure {
    let kind = match e.raw_os_error() {
        Some(code) if CLIENT_LIMITS.contains(&code) => ErrorKind::ClientResources,
        _ => ErrorKind::Connection,
    };
    Failure::new(kind, format!("cannot connect: {e}"))
}

fn os_error(e: &(dyn std::error::Error + 'static)) -> Option<i32> {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = src {
        if let Some(code) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.raw_os_error())
        {
            return Some(code);
        }
        src = err.source();
    }
    None
}

/// rustls and its certificate verifier describe handshake failures in their messages; reqwest
/// exposes no typed TLS error.
fn is_tls(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    [
        "tls",
        "certificate",
        "handshake",
        "corrupt message",
        "invalidcontenttype",
        "alert",
    ]
    .iter()
    .any(|w| d.contains(w))
}

/// An error and its sources, joined with ": ".
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// Longest error detail kept in a record.
const DETAIL_CHARS: usize = 300;

/// `s` cut to [`DETAIL_CHARS`] characters.
pub fn truncate(s: &str) -> String {
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
