//! The flags' validation, on parsed command lines.

use super::*;
use crate::cli::Cli;
use clap::Parser;

fn cfg(extra: &[&str]) -> Result<Config> {
    let mut args = vec![
        "redline",
        "--endpoint",
        "http://127.0.0.1:9",
        "--model",
        "m",
        "--dataset",
        "d.json",
    ];
    args.extend_from_slice(extra);
    Config::from_args(&Cli::try_parse_from(args)?.bench)
}

#[test]
fn reference_defaults() {
    let c = cfg(&[]).unwrap();
    assert_eq!(c.levels, Levels::Rates(vec![1.0, 5.0, 10.0, 20.0]));
    assert_eq!(c.duration, Duration::from_secs(60));
    assert_eq!(c.percentiles, [50.0, 95.0, 99.0]);
    assert_eq!(c.max_tokens, 512);
    assert_eq!(c.temperature, Some(0.7));
    assert_eq!(c.output, "benchmark_qps_results.json");
    assert_eq!(c.plot_output, "benchmark_qps.png");
    assert_eq!(c.timeout, Duration::from_secs(120));
    assert!(c.pricing.is_none() && c.stream_usage);
}

#[test]
fn endpoint_completion() {
    for (given, want) in [
        ("http://h:8000", "http://h:8000/v1/chat/completions"),
        ("http://h:8000/", "http://h:8000/v1/chat/completions"),
        ("https://h/v1", "https://h/v1/chat/completions"),
        ("https://h/v1/", "https://h/v1/chat/completions"),
        (
            "https://h/openai/v1/chat/completions",
            "https://h/openai/v1/chat/completions",
        ),
    ] {
        assert_eq!(chat_completions_url(given).unwrap().as_str(), want);
    }
    assert!(chat_completions_url("ftp://h").is_err());
    assert!(chat_completions_url("not a url").is_err());
}

#[test]
fn bad_values_name_the_flag() {
    for (args, flag) in [
        (vec!["--qps", "0"], "--qps"),
        (vec!["--qps", "-1"], "--qps"),
        (vec!["--qps", "NaN"], "--qps"),
        (vec!["--percentiles", "101"], "--percentiles"),
        (vec!["--duration", "0"], "--duration"),
        (vec!["--gpu-rate", "2.3"], "--gpu-rate"),
        (vec!["--extra-body", "[1]"], "--extra-body"),
        (vec!["--output", "../x.json"], "--output"),
        (vec!["--max-concurrency", "0"], "--max-concurrency"),
        (
            vec!["--qps", "1000000", "--duration", "100"],
            "shorten --duration",
        ),
    ] {
        let e = cfg(&args).unwrap_err().to_string();
        assert!(e.contains(flag), "{args:?}: {e}");
    }
    let e = cfg(&["--qps", "fast"]).unwrap_err().to_string();
    assert!(e.contains("--qps"), "{e}");
}

#[test]
fn policy_flags() {
    let c = cfg(&[
        "--pass-threshold",
        "99.5",
        "--headroom",
        "30",
        "--daily-tokens",
        "2.5B",
    ])
    .unwrap();
    assert_eq!(c.policy.pass_pct, 99.5);
    assert_eq!(c.policy.headroom_pct, 30.0);
    assert_eq!(c.daily_tokens, Some(2_500_000_000));
    assert_eq!(daily_tokens("100M").unwrap(), 100_000_000);
    assert_eq!(daily_tokens("500000").unwrap(), 500_000);
    for (args, flag) in [
        (vec!["--warn-threshold", "99.5"], "--warn-threshold"),
        (vec!["--pass-threshold", "101"], "--pass-threshold"),
        (vec!["--headroom", "100"], "--headroom"),
        (vec!["--daily-tokens", "lots"], "--daily-tokens"),
        (vec!["--daily-tokens", "-5M"], "--daily-tokens"),
        (vec!["--max-ttft-p95", "0"], "--max-ttft-p95"),
    ] {
        let e = cfg(&args).unwrap_err().to_string();
        assert!(e.contains(flag), "{args:?}: {e}");
    }
}

#[test]
fn a_key_over_plain_http_off_this_machine_is_flagged() {
    let with = |endpoint: &str, key: Option<&str>| {
        let mut c = cfg(&["--endpoint", endpoint]).unwrap_or_else(|_| cfg(&[]).unwrap());
        c.endpoint = chat_completions_url(endpoint).unwrap();
        c.api_key = key.map(String::from);
        key_in_clear(&c)
    };
    assert!(with("http://10.1.2.3:8000", Some("k")));
    assert!(with("http://inference.example.com", Some("k")));
    assert!(!with("https://inference.example.com", Some("k")));
    assert!(!with("http://127.0.0.1:8000", Some("k")));
    assert!(!with("http://localhost:8000", Some("k")));
    assert!(!with("http://[::1]:8000", Some("k")));
    assert!(!with("http://10.1.2.3:8000", None));
}

#[test]
fn a_path_of_the_other_api_names_the_flag() {
    let e = chat_completions_url("http://h:8000/v1/completions")
        .unwrap_err()
        .to_string();
    assert!(e.contains("add --api completions"), "{e}");
    let e = endpoint_url(
        "http://h:8000/v1/chat/completions",
        crate::cli::Api::Completions,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("leave out --api"), "{e}");
    assert!(endpoint_url("http://h:8000/v1/completions", crate::cli::Api::Completions).is_ok());
}

#[test]
fn redaction_hides_credentials() {
    let u = Url::parse("https://user:s3cret@h/v1?key=s3cret&x=1").unwrap();
    let shown = redact_url(&u);
    assert!(
        !shown.contains("s3cret") && !shown.contains("user"),
        "{shown}"
    );
    assert!(shown.contains("key=REDACTED"));
    let e = chat_completions_url("ftp://a:s3cret@h")
        .unwrap_err()
        .to_string();
    assert!(!e.contains("s3cret"), "{e}");
    // Text that is no URL: shown when it reads as host:port (with the fix), hidden when it could
    // be a key pasted by mistake or carry credentials.
    let e = chat_completions_url("127.0.0.1:8000")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("\"127.0.0.1:8000\"") && e.contains("http://127.0.0.1:8000"),
        "{e}"
    );
    for secret in ["sk-s3cret0123456789", "user:s3cret@host:1"] {
        let e = chat_completions_url(secret).unwrap_err().to_string();
        assert!(!e.contains("s3cret"), "{e}");
    }
}
