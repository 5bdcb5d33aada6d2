//! The endpoint's URL: a base URL completed to the API's path, and credentials redacted wherever
//! a URL is shown or saved.

use crate::cli::Api;
use anyhow::{bail, Result};
use reqwest::Url;

/// Completes a base URL to the chat completions path: `http://h:8000` and `http://h:8000/v1` both
/// become `http://h:8000/v1/chat/completions`; a URL already ending in `/chat/completions`, or with any
/// other path, is used as given.
pub fn chat_completions_url(text: &str) -> Result<Url> {
    endpoint_url(text, Api::Chat)
}

/// Completes a base URL to the API's path (`/v1/chat/completions`, `/v1/completions`,
/// `/v1/responses` or `/v1/messages`); a URL with any other path is used as given.
pub fn endpoint_url(text: &str, api: Api) -> Result<Url> {
    let tail = api.path();
    let mut hint = format!("give the endpoint as http(s)://host[:port][/v1[/{tail}]]");
    if !text.contains("://") && redact_str(text.trim()) == text.trim() {
        hint = format!("{hint}: add the scheme, e.g. http://{}", text.trim());
    }
    let mut url = Url::parse(text.trim()).map_err(|e| {
        anyhow::anyhow!(
            "--endpoint {:?} is not a valid URL ({e}); {hint}",
            redact_str(text)
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        bail!(
            "--endpoint {:?}: only http and https URLs with a host are supported; {hint}",
            redact_str(text.trim())
        );
    }
    let path = url.path().trim_end_matches('/').to_string();
    // A path of another API: its requests would be refused (a missing `prompt`, `messages` or
    // `input`). `/chat/completions` also ends in `/completions`, so the longest path decides.
    let served = Api::ALL
        .into_iter()
        .filter(|a| path.ends_with(&format!("/{}", a.path())))
        .max_by_key(|a| a.path().len());
    if let Some(other) = served.filter(|&a| a != api) {
        let fix = match other {
            Api::Chat => "leave out --api (chat is the default)".to_string(),
            _ => format!("add --api {}", other.name()),
        };
        bail!(
            "--endpoint {:?} is the {} API's path, but --api {} sends {} requests: {fix}, or give the base URL (http(s)://host[:port]/v1)",
            redact_url(&url),
            other.name(),
            api.name(),
            api.name()
        );
    }
    let completed = if path.is_empty() {
        format!("/v1/{tail}")
    } else if path.ends_with("/v1") {
        format!("{path}/{tail}")
    } else {
        path
    };
    url.set_path(&completed);
    Ok(url)
}

/// The URL with any password replaced and query values hidden, for display and files.
pub fn redact_url(url: &Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("REDACTED"));
    }
    if !u.username().is_empty() {
        let _ = u.set_username("REDACTED");
    }
    if u.query().is_some() {
        let pairs: Vec<String> = u
            .query_pairs()
            .map(|(k, _)| format!("{k}=REDACTED"))
            .collect();
        u.set_query(Some(&pairs.join("&")));
    }
    u.to_string()
}

/// A URL as text, redacted; text that is no URL is shown as typed only when it reads as a host,
/// port and path (`127.0.0.1:8000/v1`), never when it could be a credential (a key pasted by
/// mistake, `user:password@`, a query).
pub(crate) fn redact_str(text: &str) -> String {
    let host_like = text.len() <= 200
        && text.contains(['.', ':'])
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".:/_-".contains(c));
    match Url::parse(text) {
        // Without "://", a "scheme" may be a user name before its password (`user:pw@host`).
        Ok(u) if text.contains("://") || !text.contains('@') => redact_url(&u),
        Err(_) if host_like => text.to_string(),
        _ => "<unparseable URL>".into(),
    }
}
