//! https end to end against an in-process TLS server on 127.0.0.1 (certificates generated at test
//! time with rcgen) serving the simulator: trust by --cacert, --insecure, mutual TLS, certificate
//! failures named with their fix, an HTTP/2 server allowing few streams per connection, a slow
//! handshake reported as schedule lag, and custom headers that arrive but are never written.

use crate::common::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A CA and what it signed, written where the binary can read them.
struct Pki {
    dir: tempfile::TempDir,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

impl Pki {
    fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "redline test CA");
        let ca_key = KeyPair::generate().unwrap();
        let ca = params.self_signed(&ca_key).unwrap();
        let pki = Pki {
            dir: tempfile::tempdir().unwrap(),
            ca,
            ca_key,
        };
        std::fs::write(pki.path("ca.pem"), pki.ca.pem()).unwrap();
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn ca_pem(&self) -> String {
        self.path("ca.pem").display().to_string()
    }

    /// A certificate for `names` (DNS names; `127.0.0.1` when `ip`), signed by the CA.
    fn issue(
        &self,
        names: &[&str],
        ip: bool,
        expired: bool,
    ) -> (
        CertificateDer<'static>,
        PrivateKeyDer<'static>,
        String,
        String,
    ) {
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        if ip {
            params
                .subject_alt_names
                .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        }
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        (
            cert.der().clone(),
            PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            cert.pem(),
            key.serialize_pem(),
        )
    }
}

/// What the server saw.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    headers: Mutex<Vec<(String, String)>>,
}

struct ServerOptions {
    /// DNS names of the server certificate, and whether it lists 127.0.0.1.
    names: Vec<&'static str>,
    ip: bool,
    expired: bool,
    /// Require a client certificate signed by the CA.
    mutual: bool,
    /// HTTP/2 streams allowed per connection.
    max_streams: u32,
    /// Held before each TLS handshake.
    handshake_delay: Duration,
    /// The simulator's time to first token.
    ttft_ms: f64,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            names: vec!["localhost"],
            ip: true,
            expired: false,
            mutual: false,
            max_streams: 128,
            handshake_delay: Duration::ZERO,
            ttft_ms: 1.0,
        }
    }
}

/// Serves the fixed-latency simulator over TLS (HTTP/1.1 and HTTP/2 by ALPN) on 127.0.0.1:0.
async fn start_tls(pki: &Pki, o: ServerOptions) -> (String, Arc<Seen>) {
    let (cert, key, _, _) = pki.issue(&o.names, o.ip, o.expired);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if o.mutual {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.ca.der().clone()).unwrap();
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder.with_single_cert(vec![cert], key).unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let seen = Arc::new(Seen::default());
    let model = redline::sim::model::FixedLatency::new(redline::sim::model::FixedLatencyConfig {
        ttft: Duration::from_secs_f64(o.ttft_ms / 1e3),
        itl: Duration::from_millis(1),
        output_tokens: Some(8),
        failure_rate: 0.0,
        failure_status: 503,
        max_inflight: None,
        seed: 0,
    });
    let record = seen.clone();
    let app =
        redline::sim::app(Box::new(model), "redline-sim".into()).layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let record = record.clone();
                async move {
                    if let Ok(mut h) = record.headers.lock() {
                        for (k, v) in req.headers() {
                            h.push((k.to_string(), v.to_str().unwrap_or_default().to_string()));
                        }
                    }
                    next.run(req).await
                }
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            count.connections.fetch_add(1, Ordering::SeqCst);
            let (acceptor, app) = (acceptor.clone(), app.clone());
            let (delay, streams) = (o.handshake_delay, o.max_streams);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut server = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                );
                server.http2().max_concurrent_streams(streams);
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = server
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (format!("https://localhost:{}", addr.port()), seen)
}

/// Each request's schedule lag: sent minus planned.
fn lags(run: &Run) -> Vec<f64> {
    run.records()
        .iter()
        .map(|r| r["sent_s"].as_f64().unwrap() - r["planned_s"].as_f64().unwrap())
        .collect()
}

fn files_text(run: &Run) -> String {
    let mut all = String::new();
    for e in std::fs::read_dir(run.dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x != "png") {
            all.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_ca_is_trusted_with_cacert_and_named_without_it() {
    let pki = Pki::new();
    let (url, _) = start_tls(&pki, ServerOptions::default()).await;
    let ca = pki.ca_pem();
    let run = redline(&bench_args(
        &url,
        &["--qps", "10", "--duration", "0.5", "--cacert", &ca],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert_eq!(run.level(0)["success_rate"], 100.0);
    let meta = read_json(&run.dir().join("metadata.json"));
    assert_eq!(meta["connection"]["protocol"], "HTTP/1.1");
    assert_eq!(meta["connection"]["client"], "redline-http1");
    assert_eq!(meta["connection"]["tls"]["verify_certificate"], true);
    assert_eq!(meta["connection"]["tls"]["extra_ca"], true);

    let run = redline(&bench_args(&url, &["--qps", "10", "--duration", "0.5"])).await;
    assert_eq!(run.code(), Some(1));
    let err = run.stderr();
    assert!(
        err.contains("unknown issuer") && err.contains("--cacert"),
        "{err}"
    );
    assert_eq!(run.run_dirs(), 0, "stopped before the first level");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_skips_verification_and_says_so() {
    let pki = Pki::new();
    let (url, _) = start_tls(&pki, ServerOptions::default()).await;
    let run = redline(&bench_args(
        &url,
        &["--qps", "10", "--duration", "0.5", "--insecure"],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert_eq!(run.level(0)["success_rate"], 100.0);
    assert!(run.stderr().contains("--insecure"), "{}", run.stderr());
    let meta = read_json(&run.dir().join("metadata.json"));
    assert_eq!(meta["connection"]["tls"]["verify_certificate"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_mismatch_and_an_expired_certificate_are_named() {
    let pki = Pki::new();
    let ca = pki.ca_pem();
    let wrong_name = ServerOptions {
        names: vec!["inference.example.com"],
        ip: false,
        ..ServerOptions::default()
    };
    let (url, _) = start_tls(&pki, wrong_name).await;
    let run = redline(&bench_args(
        &url,
        &["--qps", "10", "--duration", "0.5", "--cacert", &ca],
    ))
    .await;
    assert_eq!(run.code(), Some(1));
    assert!(run.stderr().contains("name mismatch"), "{}", run.stderr());
    let expired = ServerOptions {
        expired: true,
        ..ServerOptions::default()
    };
    let (url, _) = start_tls(&pki, expired).await;
    let run = redline(&bench_args(
        &url,
        &["--qps", "10", "--duration", "0.5", "--cacert", &ca],
    ))
    .await;
    assert_eq!(run.code(), Some(1));
    assert!(run.stderr().contains("expired"), "{}", run.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_presents_the_client_certificate() {
    let pki = Pki::new();
    let (_, _, cert_pem, key_pem) = pki.issue(&["redline-client"], false, false);
    std::fs::write(pki.path("client.pem"), cert_pem).unwrap();
    std::fs::write(pki.path("client.key"), key_pem).unwrap();
    let mutual = ServerOptions {
        mutual: true,
        ..ServerOptions::default()
    };
    let (url, _) = start_tls(&pki, mutual).await;
    let (ca, cert, key) = (
        pki.ca_pem(),
        pki.path("client.pem").display().to_string(),
        pki.path("client.key").display().to_string(),
    );
    let flags = ["--qps", "10", "--duration", "0.5", "--cacert", &ca];
    let mut with_cert = flags.to_vec();
    with_cert.extend_from_slice(&["--cert", &cert, "--key", &key]);
    let run = redline(&bench_args(&url, &with_cert)).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert_eq!(run.level(0)["success_rate"], 100.0);
    let meta = read_json(&run.dir().join("metadata.json"));
    assert_eq!(meta["connection"]["tls"]["client_certificate"], true);
    // Without the certificate the server refuses every request.
    let run = redline(&bench_args(&url, &flags)).await;
    let refused = run.code() == Some(1) || run.level(0)["requests_succeeded"] == 0;
    assert!(refused, "{}", run.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_opens_connections_past_the_stream_limit_instead_of_queueing() {
    // 4 streams per connection; each reply takes at least 300 ms and one arrives every 25 ms, so
    // about 12 are in flight: one connection would queue 8 of them inside the client.
    let pki = Pki::new();
    let few_streams = ServerOptions {
        max_streams: 4,
        ttft_ms: 300.0,
        ..ServerOptions::default()
    };
    let (url, seen) = start_tls(&pki, few_streams).await;
    let ca = pki.ca_pem();
    let run = redline(&bench_args(
        &url,
        &["--qps", "40", "--duration", "1", "--cacert", &ca, "--http2"],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert_eq!(run.level(0)["success_rate"], 100.0);
    assert!(
        seen.connections.load(Ordering::SeqCst) >= 3,
        "{} connections",
        seen.connections.load(Ordering::SeqCst)
    );
    let meta = read_json(&run.dir().join("metadata.json"));
    assert_eq!(meta["connection"]["protocol"], "HTTP/2");
    let limits = meta["connection"]["http2_stream_limits"]
        .as_array()
        .unwrap();
    assert!(
        !limits.is_empty() && limits.iter().all(|l| l == 4),
        "{limits:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handshake_is_schedule_lag_and_marks_the_level() {
    // Every connection waits 3.2 s before its handshake: longer than redline waits for its spare
    // connections before a level (3 s), and HTTP/2 allows one stream per connection. Replies take
    // 200 ms and one request is due every 50 ms, so the level needs connections that are not
    // open yet, and the requests that wait for them must show that wait as lag.
    let pki = Pki::new();
    let slow = ServerOptions {
        handshake_delay: Duration::from_millis(3200),
        ttft_ms: 200.0,
        max_streams: 1,
        ..ServerOptions::default()
    };
    let (url, _) = start_tls(&pki, slow).await;
    let ca = pki.ca_pem();
    // HTTP/1.1 and HTTP/2 side by side: each waits out the same slow handshakes.
    let flags = |extra: &'static [&'static str]| {
        let mut flags = vec!["--qps", "20", "--duration", "0.5", "--cacert", &ca];
        flags.extend_from_slice(extra);
        flags
    };
    let (h1, h2) = (flags(&[]), flags(&["--http2"]));
    let (a1, a2) = (bench_args(&url, &h1), bench_args(&url, &h2));
    let (h1, h2) = tokio::join!(redline(&a1), redline(&a2));
    for (extra, run) in [(&[][..], h1), (&["--http2"][..], h2)] {
        assert_eq!(run.code(), Some(0), "{}", run.stderr());
        let lags = lags(&run);
        assert!(
            lags.iter().any(|&l| l >= 0.3),
            "{extra:?}: the handshake wait is in the lag: {lags:?}"
        );
        assert_eq!(run.level(0)["client_limited"], true, "{extra:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spare_connections_keep_handshakes_off_the_requests_clock() {
    // The same 200 ms replies at 20 req/s, with a 300 ms handshake: the spares opened before the
    // level, and kept topped up, hold every handshake; no request waits for one.
    let pki = Pki::new();
    let slow = ServerOptions {
        handshake_delay: Duration::from_millis(300),
        ttft_ms: 200.0,
        ..ServerOptions::default()
    };
    let (url, seen) = start_tls(&pki, slow).await;
    let ca = pki.ca_pem();
    let run = redline(&bench_args(
        &url,
        &["--qps", "20", "--duration", "1", "--cacert", &ca],
    ))
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let lags = lags(&run);
    assert!(lags.iter().all(|&l| l < 0.3), "{lags:?}");
    assert!(seen.connections.load(Ordering::SeqCst) >= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_headers_arrive_and_their_values_are_never_written() {
    let pki = Pki::new();
    let (url, seen) = start_tls(&pki, ServerOptions::default()).await;
    let ca = pki.ca_pem();
    for extra in [&[][..], &["--http2"][..]] {
        let mut flags = vec![
            "--qps",
            "10",
            "--duration",
            "0.3",
            "--cacert",
            &ca,
            "--header",
            "X-Tenant: tenant-s3cret-1",
            "--header-env",
            "api-key: REDLINE_TEST_AZURE_KEY",
        ];
        flags.extend_from_slice(extra);
        let run = redline_with_env(
            &bench_args(&format!("{url}/v1?api-version=2024-06-01"), &flags),
            &[("REDLINE_TEST_AZURE_KEY", "azure-s3cret-2")],
        )
        .await;
        assert_eq!(run.code(), Some(0), "{}", run.stderr());
        let got = seen.headers.lock().unwrap().clone();
        assert!(
            got.contains(&("x-tenant".into(), "tenant-s3cret-1".into())),
            "{got:?}"
        );
        assert!(
            got.contains(&("api-key".into(), "azure-s3cret-2".into())),
            "{got:?}"
        );
        let text = files_text(&run) + &run.stdout() + &run.stderr();
        assert!(
            !text.contains("s3cret"),
            "{extra:?}: a header value was written"
        );
        let meta = read_json(&run.dir().join("metadata.json"));
        assert_eq!(
            meta["connection"]["headers"],
            serde_json::json!(["x-tenant", "api-key"])
        );
    }
}
