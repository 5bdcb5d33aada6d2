//! Tests of a run's HTML report (`run.rs`): every panel of the PNG is there, with toggles and
//! hover figures; text from the endpoint is escaped; the page fetches nothing.

use super::*;
use crate::analyze::server::{Gauge, ServerMetrics, ServerTtft};
use crate::config::{Pricing, ReportOptions};
use crate::measure::record::{ErrorKind, LevelRun, RequestRecord};

/// A level of `n` requests at `qps`, every `fail_every`th failing with a 503.
fn level(i: usize, qps: f64, n: u64, fail_every: u64) -> LevelRun {
    let records = (0..n)
        .map(|k| {
            let mut r = RequestRecord::new(i, qps, k, 0, k as f64 / qps);
            r.sent_s = Some(r.planned_s);
            if fail_every > 0 && k % fail_every == 0 {
                r.error = Some(ErrorKind::Http(503));
                r.end_s = r.planned_s + 0.01;
            } else {
                r.first_token_s = Some(r.planned_s + 0.1 + qps / 100.0);
                r.end_s = r.planned_s + 1.0;
                r.content_chunks = 10;
                r.prompt_tokens = Some(100);
                r.completion_tokens = Some(10);
            }
            r
        })
        .collect();
    LevelRun::new(
        crate::config::LevelId::rate(i, qps),
        qps,
        n as f64 / qps,
        records,
        None,
    )
}

fn options(priced: bool) -> ReportOptions {
    ReportOptions {
        pricing: priced.then_some(Pricing {
            gpu_rate: 2.3,
            num_gpus: 1,
        }),
        ..ReportOptions::default()
    }
}

fn report(priced: bool) -> Report {
    let runs = [
        level(0, 2.0, 40, 0),
        level(1, 4.0, 80, 0),
        level(2, 8.0, 160, 4),
    ];
    Report::from_runs(&runs, &options(priced))
}

const PS: [f64; 3] = [50.0, 95.0, 99.0];

const CORE: [&str; 4] = [
    "Target vs actual QPS, with success rate",
    "Time to first token (s)",
    "End-to-end latency (s)",
    "Generation speed: per request (left), aggregate (right)",
];

#[test]
fn every_panel_of_the_png_is_drawn_with_toggles_and_hover_figures() {
    let r = report(true);
    let html = run_page(&r, &PS, "demo run");
    for title in CORE {
        assert!(
            html.contains(&format!("<figcaption>{}", esc(title))),
            "{title}"
        );
    }
    assert!(html.contains("Cost per million tokens (input + output)"));
    assert!(html.contains("<figcaption>Errors by kind"));
    assert!(!html.contains("Server: requests running"));
    assert_eq!(html.matches("<figure").count(), 6);
    // Each series a button, each point a hover.
    assert!(html.matches("<button type=\"button\" data-s=").count() >= 6 + 3 + 3 + 4);
    assert!(
        html.contains("data-tip=\"QPS 8.0&#9;FAIL"),
        "the failed level's hover"
    );
    assert!(html.contains("TTFT p95&#9;"));
    // The marks as the PNG names them.
    assert!(
        html.contains("max sustainable 4"),
        "{}",
        summary::render(&r)
    );
    assert!(html.contains("saturation 8 (FAIL: 75.0% success)"));
    // The table: each level's target, and its verdict.
    for q in ["2.0", "4.0", "8.0"] {
        assert!(html.contains(&format!("<tr><td>{q}</td>")), "{q}");
    }
    assert!(html.contains("<th>$/M Tokens</th>") && html.contains("<th>TTFT P99(s)</th>"));
}

#[test]
fn the_console_text_is_in_the_page_word_for_word() {
    let r = report(true);
    let mut html = run_page(&r, &PS, "demo run");
    // The verdict words are coloured: the text is the same without the tags.
    for class in ["pass", "warn", "fail"] {
        html = html.replace(&format!("<b class=\"{class}\">"), "");
    }
    let html = html.replace("</b>", "");
    for text in [summary::render(&r), table::render_errors(&r.results)] {
        for word in text.split_whitespace() {
            assert!(html.contains(&esc(word)), "{word} is missing");
        }
    }
    assert!(html.contains("Maximum sustainable QPS: 4.0"));
}

#[test]
fn text_from_the_endpoint_cannot_inject_markup() {
    let mut r = report(false);
    let evil = "<img src=x onerror=alert(1)>";
    r.results[2].errors.insert(evil.into(), 3);
    r.results[2].error_samples.insert(evil.into(), evil.into());
    let html = run_page(&r, &PS, "<script>alert('model')</script>");
    assert!(!html.contains(evil) && !html.contains("<script>alert"));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    // Unpriced, but failed: the cost panel says why it is empty.
    assert!(html.contains("no cost: the run had no pricing"));
}

#[test]
fn the_page_fetches_nothing() {
    let html = run_page(&report(true), &PS, "demo");
    for bad in [
        "http:", "https:", "ws:", "wss:", "src=", "href=", "url(", "@import",
    ] {
        assert!(!html.contains(bad), "{bad} in the page");
    }
    assert!(html.contains("default-src 'none'"));
}

#[test]
fn server_metrics_get_their_two_panels() {
    let mut r = report(false);
    let gauge = |mean: f64, max: f64| Gauge {
        mean,
        max,
        first: mean,
        last: mean,
        trend_per_s: 0.0,
    };
    for l in &mut r.results {
        l.server = Some(ServerMetrics {
            engine: "vllm".into(),
            scrapes: 10,
            failed_scrapes: 0,
            last_error: None,
            running: Some(gauge(3.0, 5.0)),
            waiting: Some(gauge(1.0, 2.0)),
            kv_cache_usage: Some(gauge(0.3, 0.5)),
            kv_cache_full_from_s: None,
            preemptions: None,
            prompt_tokens_per_s: None,
            generation_tokens_per_s: None,
            prefix_cache_hit_pct: None,
            spec_decode_acceptance_pct: None,
            ttft_s: Some(ServerTtft {
                requests: 10.0,
                mean: 0.08,
                p50: None,
                p95: None,
                p50_bucket_s: None,
                p95_bucket_s: None,
            }),
            ttft_gap_s: Some(0.02),
            explanation: None,
        });
    }
    let html = run_page(&r, &PS, "with metrics");
    assert!(html.contains("<figcaption>Server: requests running and waiting, KV cache"));
    assert!(html.contains("<figcaption>Time to first token: server vs redline"));
    assert!(html.contains("KV cache max %"));
    assert!(
        html.contains("0.100 s"),
        "redline's TTFT: the server's plus the gap"
    );
}

#[test]
fn a_closed_loop_is_drawn_at_its_achieved_rates() {
    let mut r = report(false);
    for (l, n) in r.results.iter_mut().zip([2, 4, 8]) {
        l.concurrency = Some(n);
        l.qps_target = None;
    }
    let html = run_page(&r, &PS, "closed");
    assert!(html.contains("Achieved QPS (each level a concurrency)"));
    assert!(html.contains("8 in flight") && html.contains("<th>Concurrency</th>"));
    assert!(!html.contains(">target<") && !html.contains("Target QPS"));
}

#[test]
fn an_empty_report_is_a_page_without_charts() {
    let r = Report::new(vec![], &options(false));
    let html = run_page(&r, &PS, "nothing");
    assert!(html.contains("0 levels") && !html.contains("<figure"));
}

#[test]
fn a_seven_level_page_stays_small() {
    let runs: Vec<LevelRun> = [5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
        .iter()
        .enumerate()
        .map(|(i, &q)| level(i, q, (q * 10.0) as u64, if q > 30.0 { 5 } else { 0 }))
        .collect();
    let html = run_page(&Report::from_runs(&runs, &options(true)), &PS, "seven");
    assert!(html.len() < 150_000, "{} bytes", html.len());
}
