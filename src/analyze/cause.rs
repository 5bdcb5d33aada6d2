//! Why requests failed, in the terms a user acts on: a misconfiguration (the key, the path or model
//! name, the request body, nothing listening, TLS, not a chat stream), which no lower rate fixes
//! and which stops a run at once, or overload (429, 503, 504, timeouts, broken streams), which is
//! what redline measures. The preflight request (`preflight.rs`), the check after each level
//! (`pipeline.rs`) and the summary's advice (`summary.rs`) all read failures through [`classify`],
//! so they always agree.

use crate::analyze::level::LevelReport;
use crate::measure::record::ErrorKind;

/// What a failure says about the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// 401, 403: the key or a gateway's header.
    Auth,
    /// 404: the path or the model name.
    NotFound,
    /// 501: the server has the path but does not serve this API there (llama.cpp's server without
    /// `--embeddings` or `--reranking`).
    NotImplemented,
    /// 400, 405, 413, 415, 422: the request itself was refused.
    BadRequest,
    /// Nothing accepted the connection.
    Refused,
    Tls,
    /// A 2xx answer that is not a chat-completion stream, or redirects that lead nowhere.
    NotAStream,
    /// The endpoint is busy: what a load test measures.
    Overload,
    /// The client's own limits (never the endpoint's).
    Client,
    /// The endpoint refused the request's images, whatever the status it gave (llama.cpp's server
    /// answers 500 "image input is not supported" without its `--mmproj`).
    NoImages,
}

impl Cause {
    /// A misconfiguration: every request will fail the same way, whatever the rate.
    pub fn is_misconfiguration(self) -> bool {
        !matches!(self, Cause::Overload | Cause::Client)
    }

    /// What to check, for a misconfiguration; what to do, for overload.
    pub fn advice(self) -> &'static str {
        match self {
            Cause::Auth => "the endpoint refused the credentials: check --api-key (or OPENAI_API_KEY, --api-key-env) and any --header your gateway expects",
            Cause::NotFound => "check the --endpoint path (a base URL is completed to the --api's path, /v1/chat/completions for chat) and the --model name (GET /v1/models lists what the server serves)",
            Cause::NotImplemented => "the server does not serve --api's requests there: start it with what its message names (llama.cpp's server: --embeddings, --reranking), or choose the --api it serves",
            Cause::BadRequest => "the endpoint rejected the request: check --model, and the request's size against the model's context (--max-tokens for a generated reply, --batch-size for embeddings and rerank); a server that rejects stream_options takes --no-stream-usage",
            Cause::Refused => "nothing accepted the connection: check the --endpoint host and port, and that the server is running",
            Cause::Tls => "the TLS handshake failed: trust the endpoint's CA with --cacert FILE, or skip verification with --insecure",
            Cause::NotAStream => "the endpoint did not answer with a stream of --api's events: check the --endpoint path and --api (chat, completions, responses or anthropic)",
            Cause::Overload => "the endpoint is overloaded at this rate: test lower rates",
            Cause::Client => "this machine could not send the load: see the client-side errors",
            Cause::NoImages => "the endpoint takes no images (or not these): serve a vision-language model there (llama.cpp's server needs its --mmproj), or leave out --images",
        }
    }
}

/// The cause of a failure of `kind` (a name as `errors` keys it, or the kind itself), with the
/// failure's detail when known (a refused connection is told from a broken one by it).
pub fn classify(kind: ErrorKind, detail: Option<&str>) -> Cause {
    match kind {
        ErrorKind::Http(401 | 403) => Cause::Auth,
        ErrorKind::Http(404) => Cause::NotFound,
        ErrorKind::Http(501) => Cause::NotImplemented,
        ErrorKind::Http(400 | 405 | 413 | 415 | 422) => Cause::BadRequest,
        ErrorKind::Tls => Cause::Tls,
        ErrorKind::InvalidResponse | ErrorKind::Redirect => Cause::NotAStream,
        ErrorKind::Connection
            if detail.is_some_and(|d| d.to_ascii_lowercase().contains("refused")) =>
        {
            Cause::Refused
        }
        k if k.is_client_side() => Cause::Client,
        _ => Cause::Overload,
    }
}

/// [`classify`] for a request that carried images (or audio): an HTTP error whose message says
/// the model takes no images is [`Cause::NoImages`], whatever its status. Only then: a run without
/// images whose errors echo a prompt about "unsupported images" is not told to leave them out.
pub fn classify_media(kind: ErrorKind, detail: Option<&str>, carried_media: bool) -> Cause {
    match kind {
        ErrorKind::Http(_) if carried_media && detail.is_some_and(refuses_images) => {
            Cause::NoImages
        }
        _ => classify(kind, detail),
    }
}

/// An error that says the model takes no images, whatever its status.
fn refuses_images(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    d.contains("image")
        && [
            "not supported",
            "unsupported",
            "not support",
            "does not accept",
            "mmproj",
        ]
        .iter()
        .any(|w| d.contains(w))
}

/// [`classify`] for a kind as it is named in a level's `errors`.
pub fn classify_named(name: &str, detail: Option<&str>, carried_media: bool) -> Cause {
    name.parse()
        .map(|k| classify_media(k, detail, carried_media))
        .unwrap_or(Cause::Overload)
}

/// The one misconfiguration every failed request of a level shows, when no request succeeded:
/// `(cause, "HTTP 404 (12 requests): The model 'x' does not exist")`. A level with any success, or
/// with overload among its failures, has none.
pub fn level_misconfigured(l: &LevelReport) -> Option<(Cause, String)> {
    if l.requests_succeeded > 0 || l.endpoint_errors == 0 {
        return None;
    }
    let mut found: Option<(Cause, String)> = None;
    for (kind, n) in &l.errors {
        let sample = l.error_samples.get(kind).map(String::as_str);
        let cause = classify_named(kind, sample, l.images.is_some());
        if cause == Cause::Client {
            continue;
        }
        if !cause.is_misconfiguration() || found.as_ref().is_some_and(|(c, _)| *c != cause) {
            return None;
        }
        let said = sample.map(|m| format!(": {m}")).unwrap_or_default();
        found = Some((cause, format!("{kind} ({n} requests){said}")));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misconfigurations_are_told_from_overload() {
        for (kind, detail, cause) in [
            (ErrorKind::Http(401), None, Cause::Auth),
            (ErrorKind::Http(403), None, Cause::Auth),
            (ErrorKind::Http(404), None, Cause::NotFound),
            (ErrorKind::Http(422), None, Cause::BadRequest),
            (ErrorKind::Tls, None, Cause::Tls),
            (ErrorKind::InvalidResponse, None, Cause::NotAStream),
            (
                ErrorKind::Connection,
                Some("cannot connect: Connection refused (os error 111)"),
                Cause::Refused,
            ),
            (
                ErrorKind::Connection,
                Some("connection reset by peer"),
                Cause::Overload,
            ),
            (ErrorKind::Http(503), None, Cause::Overload),
            (ErrorKind::Http(429), None, Cause::Overload),
            (ErrorKind::Timeout, None, Cause::Overload),
            (ErrorKind::ConcurrencyLimit, None, Cause::Client),
        ] {
            assert_eq!(classify(kind, detail), cause, "{kind}");
        }
        assert!(Cause::NotFound.is_misconfiguration());
        assert!(!Cause::Overload.is_misconfiguration());
        assert_eq!(classify_named("HTTP 404", None, false), Cause::NotFound);
    }

    #[test]
    fn refused_images_are_their_own_cause_only_when_the_request_carried_some() {
        let refused =
            Some("image input is not supported - hint: you may need to provide the mmproj");
        let echoed = Some("Value error, unsupported: the prompt asks about images");
        for (kind, detail, media, cause) in [
            (ErrorKind::Http(500), refused, true, Cause::NoImages),
            (
                ErrorKind::Http(400),
                Some("this model does not accept image inputs"),
                true,
                Cause::NoImages,
            ),
            (
                ErrorKind::Http(500),
                Some("out of memory"),
                true,
                Cause::Overload,
            ),
            // Without images, a message that happens to match keeps its ordinary cause.
            (ErrorKind::Http(500), refused, false, Cause::Overload),
            (ErrorKind::Http(422), echoed, false, Cause::BadRequest),
            (ErrorKind::Timeout, refused, true, Cause::Overload),
        ] {
            assert_eq!(classify_media(kind, detail, media), cause, "{kind} {media}");
        }
    }
}
