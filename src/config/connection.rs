//! How the run reaches the endpoint, validated: TLS trust and client certificates, HTTP version,
//! the user's headers (`--header`, `--header-env`), and the proxy (`--proxy`, or `HTTPS_PROXY`,
//! `HTTP_PROXY`, `ALL_PROXY` unless `NO_PROXY` names the host, as curl reads them).
//!
//! Header values are secrets like the key: they are kept here and sent, and only their names are
//! ever shown or written.

use crate::cli::ConnectionArgs;
use crate::config::endpoint::redact_str;
use anyhow::{bail, Result};
use reqwest::Url;
use std::net::IpAddr;
use std::path::PathBuf;

/// The connection's validated settings.
pub struct Settings {
    /// `--http2`.
    pub http2: bool,
    pub tls: TlsSettings,
    pub headers: Vec<Header>,
    pub proxy: Option<Proxy>,
}

/// The connection flags for `endpoint` (already completed): HTTP/2 only over https and not
/// through a proxy, TLS flags for https only, headers that do not clash with the key.
pub fn settings(endpoint: &Url, c: &ConnectionArgs, has_key: bool) -> Result<Settings> {
    if c.http2 && endpoint.scheme() != "https" {
        bail!("--http2 needs an https endpoint (HTTP/2 without TLS is not supported); leave it out for http");
    }
    let tls = tls(
        endpoint,
        c.cacert.clone(),
        c.insecure,
        c.cert.clone(),
        c.key.clone(),
    )?;
    let headers = headers(&c.headers, &c.header_envs, has_key)?;
    let proxy = proxy(endpoint, c.proxy.as_deref(), |n| std::env::var(n).ok())?;
    if c.http2 && proxy.is_some() {
        bail!("--http2 cannot go through a proxy yet (the proxy would hide HTTP/2's stream limits); leave out --http2, or set NO_PROXY for this host");
    }
    Ok(Settings {
        http2: c.http2,
        tls,
        headers,
        proxy,
    })
}

/// TLS settings for https endpoints.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsSettings {
    /// `--cacert`: a PEM bundle trusted besides the bundled roots and the system store.
    pub cacert: Option<PathBuf>,
    /// `--insecure`: no certificate verification.
    pub insecure: bool,
    /// `--cert` and `--key`: a client certificate for mutual TLS.
    pub client_auth: Option<(PathBuf, PathBuf)>,
}

/// A header sent with every request, validated once here; its value is marked sensitive.
#[derive(Clone, PartialEq)]
pub struct Header {
    /// Lower-cased.
    pub name: http::HeaderName,
    pub value: http::HeaderValue,
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: REDACTED", self.name)
    }
}

/// The proxy requests go through, and where it was set.
#[derive(Debug, Clone, PartialEq)]
pub struct Proxy {
    pub url: Url,
    /// `--proxy`, or the environment variable's name.
    pub source: String,
}

/// Headers redline sets itself, or that belong to the connection: a user's would be ambiguous.
const RESERVED: [&str; 9] = [
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "proxy-connection",
];

/// `--header "Name: value"` and `--header-env "Name: VAR"` (the value read from `$VAR`).
pub fn headers(given: &[String], from_env: &[String], has_key: bool) -> Result<Vec<Header>> {
    let mut out = Vec::new();
    for text in given {
        out.push(split_header("--header", text, "\"X-Tenant: blue\"")?);
    }
    for text in from_env {
        let (name, var) = split_header("--header-env", text, "\"api-key: AZURE_KEY\"")?;
        let value = match std::env::var(&var) {
            Ok(v) => v,
            Err(_) => bail!(
                "--header-env {name}: the environment variable {var} is not set (or not valid UTF-8); export it"
            ),
        };
        out.push((name, value));
    }
    let mut checked = Vec::new();
    for (name, value) in out {
        if RESERVED.contains(&name.as_str()) {
            bail!("--header {name}: redline sets this header itself; leave it out");
        }
        if (name == "authorization" || name == "x-api-key") && has_key {
            bail!("--header {name}: give either this header or --api-key (OPENAI_API_KEY, or ANTHROPIC_API_KEY for --api anthropic), not both");
        }
        let Ok(mut value) = http::HeaderValue::from_str(&value) else {
            bail!("--header {name}: the value holds characters not allowed in an HTTP header");
        };
        value.set_sensitive(true);
        checked.push(Header { name, value });
    }
    Ok(checked)
}

/// The name (validated, lower-cased) and the text after the colon.
fn split_header(flag: &str, text: &str, example: &str) -> Result<(http::HeaderName, String)> {
    let Some((name, value)) = text.split_once(':') else {
        bail!(
            "{flag} {:?}: write it as \"Name: value\", e.g. {flag} {example}",
            redact_header(text)
        );
    };
    let name = name.trim().to_ascii_lowercase();
    let Ok(parsed) = http::HeaderName::from_bytes(name.as_bytes()) else {
        bail!("{flag} {name:?}: not a valid header name, e.g. {flag} {example}");
    };
    Ok((parsed, value.trim().to_string()))
}

/// Only the part before the first colon: a header's value is never shown.
fn redact_header(text: &str) -> String {
    match text.split_once(':') {
        Some((name, _)) => format!("{name}: REDACTED"),
        None if text.len() > 40 => "<header>".into(),
        None => text.to_string(),
    }
}

/// The TLS flags, for https endpoints only.
pub fn tls(
    endpoint: &Url,
    cacert: Option<PathBuf>,
    insecure: bool,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
) -> Result<TlsSettings> {
    let client_auth = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        (Some(_), None) => {
            bail!("--cert needs --key too (the client certificate's private key, PEM)")
        }
        (None, Some(_)) => bail!("--key needs --cert too (the client certificate, PEM)"),
    };
    let tls = TlsSettings {
        cacert,
        insecure,
        client_auth,
    };
    if endpoint.scheme() != "https" && tls != TlsSettings::default() {
        bail!(
            "--cacert, --insecure, --cert and --key apply to https endpoints; this one is {}",
            endpoint.scheme()
        );
    }
    for (flag, path) in [
        ("--cacert", tls.cacert.as_ref()),
        ("--cert", tls.client_auth.as_ref().map(|(c, _)| c)),
        ("--key", tls.client_auth.as_ref().map(|(_, k)| k)),
    ] {
        if let Some(p) = path.filter(|p| !p.is_file()) {
            bail!(
                "{flag} {}: no such file; give the path of a PEM file",
                p.display()
            );
        }
    }
    Ok(tls)
}

/// The proxy for `endpoint`: `--proxy`, else the environment (as curl reads it), unless `NO_PROXY`
/// names the host. `env` looks a variable up (the process environment, or a test's).
pub fn proxy(
    endpoint: &Url,
    flag: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Proxy>> {
    let (text, source) = match flag {
        Some(p) => (p.to_string(), "--proxy".to_string()),
        None => {
            let names: &[&str] = if endpoint.scheme() == "https" {
                &["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
            } else {
                // Only the lower-case form for http, as curl does (CGI sets HTTP_PROXY from a header).
                &["http_proxy", "all_proxy", "ALL_PROXY"]
            };
            match names
                .iter()
                .find_map(|n| env(n).filter(|v| !v.trim().is_empty()).map(|v| (v, n)))
            {
                Some((v, n)) => (v, n.to_string()),
                None => return Ok(None),
            }
        }
    };
    let no_proxy = env("no_proxy")
        .or_else(|| env("NO_PROXY"))
        .unwrap_or_default();
    let host = endpoint.host_str().unwrap_or_default();
    if flag.is_none() && bypass(&no_proxy, host) {
        return Ok(None);
    }
    let with_scheme = if text.contains("://") {
        text.clone()
    } else {
        format!("http://{text}")
    };
    let url = match Url::parse(with_scheme.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => u,
        _ => bail!(
            "{source}: {:?} is not a proxy URL; give http://host:port (HTTP and HTTPS proxies are supported)",
            redact_str(&with_scheme)
        ),
    };
    Ok(Some(Proxy { url, source }))
}

/// Whether `NO_PROXY` (comma-separated: `*`, host names, `.domain` suffixes, IPs, CIDR ranges)
/// names `host`.
pub fn bypass(no_proxy: &str, host: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let ip: Option<IpAddr> = host.parse().ok();
    no_proxy
        .split(',')
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            if let (Some(ip), Some((net, bits))) = (ip, entry.split_once('/')) {
                return in_cidr(ip, net, bits);
            }
            let entry = entry.trim_start_matches("*.").trim_start_matches('.');
            let entry = entry.trim_start_matches('[').trim_end_matches(']');
            host == entry || host.ends_with(&format!(".{entry}"))
        })
}

fn in_cidr(ip: IpAddr, net: &str, bits: &str) -> bool {
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_matches_hosts_domains_ips_and_ranges() {
        for (list, host, want) in [
            ("*", "a.example.com", true),
            ("example.com", "a.example.com", true),
            (".example.com", "example.com", true),
            ("example.com", "badexample.com", false),
            ("localhost,127.0.0.1", "127.0.0.1", true),
            ("10.0.0.0/8", "10.1.2.3", true),
            ("10.0.0.0/8", "11.1.2.3", false),
            ("::1", "[::1]", true),
            ("", "h", false),
        ] {
            assert_eq!(bypass(list, host), want, "{list} {host}");
        }
    }

    #[test]
    fn proxy_from_flag_or_environment() {
        let url = |s: &str| Url::parse(s).unwrap();
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |n: &str| {
                vars.iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| v.to_string())
            }
        };
        let p = proxy(
            &url("https://h/v1"),
            None,
            env(&[("HTTPS_PROXY", "proxy:3128")]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (p.url.as_str(), p.source.as_str()),
            ("http://proxy:3128/", "HTTPS_PROXY")
        );
        let none = proxy(
            &url("https://h/v1"),
            None,
            env(&[("HTTPS_PROXY", "proxy:3128"), ("NO_PROXY", "h")]),
        )
        .unwrap();
        assert!(none.is_none());
        // HTTP_PROXY (upper case) is not read for http endpoints, as curl does.
        assert!(proxy(&url("http://h"), None, env(&[("HTTP_PROXY", "p:1")]))
            .unwrap()
            .is_none());
        let flag = proxy(&url("http://h"), Some("http://p:8080"), env(&[]))
            .unwrap()
            .unwrap();
        assert_eq!(flag.source, "--proxy");
        assert!(proxy(&url("http://h"), Some("socks5://p:1"), env(&[])).is_err());
    }

    #[test]
    fn headers_parse_and_never_show_values() {
        let h = headers(&["X-Tenant: blue".into()], &[], false).unwrap();
        assert_eq!(
            (h[0].name.as_str(), h[0].value.to_str().unwrap()),
            ("x-tenant", "blue")
        );
        assert!(!format!("{h:?}").contains("blue"));
        let e = headers(&["api-key s3cret".into()], &[], false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("Name: value"), "{e}");
        let e = headers(&["Content-Length: 5".into()], &[], false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("sets this header itself"), "{e}");
        assert!(headers(&["Authorization: Bearer x".into()], &[], true).is_err());
        let e = headers(&[], &["api-key: REDLINE_UNSET_VAR_FOR_TEST".into()], false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("REDLINE_UNSET_VAR_FOR_TEST"), "{e}");
    }
}
