//! The server's figures of a level from hand-built scrapes: each engine's names, gauges and
//! their trend, counters' deltas, the TTFT histogram and the verdict's sentence.

use super::*;

fn scrape(t_s: f64, values: &[(&str, f64)]) -> Scrape {
    Scrape {
        level: 0,
        t_s,
        values: values.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        error: None,
    }
}

fn vllm(t: f64, waiting: f64, kv: f64, done: f64) -> Scrape {
    let b = "vllm:time_to_first_token_seconds_bucket";
    scrape(
        t,
        &[
            ("vllm:num_requests_running{model_name=\"m\"}", 8.0),
            ("vllm:num_requests_waiting{model_name=\"m\"}", waiting),
            ("vllm:kv_cache_usage_perc{model_name=\"m\"}", kv),
            ("vllm:num_preemptions_total{model_name=\"m\"}", t.floor()),
            ("vllm:generation_tokens_total{model_name=\"m\"}", 100.0 * t),
            ("vllm:prompt_tokens_total{model_name=\"m\"}", 50.0 * t),
            (
                "vllm:prefix_cache_queries_total{model_name=\"m\"}",
                50.0 * t,
            ),
            ("vllm:prefix_cache_hits_total{model_name=\"m\"}", 20.0 * t),
            (
                "vllm:spec_decode_num_draft_tokens_total{model_name=\"m\"}",
                40.0 * t,
            ),
            (
                "vllm:spec_decode_num_accepted_tokens_total{model_name=\"m\"}",
                30.0 * t,
            ),
            (&format!("{b}{{le=\"0.1\",model_name=\"m\"}}"), 0.0),
            (&format!("{b}{{le=\"0.5\",model_name=\"m\"}}"), done),
            (&format!("{b}{{le=\"+Inf\",model_name=\"m\"}}"), done),
            (
                "vllm:time_to_first_token_seconds_count{model_name=\"m\"}",
                done,
            ),
            (
                "vllm:time_to_first_token_seconds_sum{model_name=\"m\"}",
                done * 0.3,
            ),
        ],
    )
}

#[test]
fn a_saturating_vllm_level_is_read_and_explained() {
    let scrapes = vec![
        vllm(0.0, 0.0, 0.2, 0.0),
        vllm(1.0, 10.0, 0.6, 10.0),
        vllm(2.0, 60.0, 1.0, 20.0),
        vllm(3.0, 120.0, 1.0, 30.0),
    ];
    let m = summarize(&scrapes, 3.0, Some(0.35)).unwrap();
    assert_eq!(m.engine, "vllm");
    assert_eq!((m.scrapes, m.failed_scrapes), (4, 0));
    let w = m.waiting.clone().unwrap();
    assert_eq!((w.max, w.first, w.last), (120.0, 0.0, 120.0));
    assert!(w.trend_per_s > 30.0, "{}", w.trend_per_s);
    assert_eq!(m.kv_cache_full_from_s, Some(2.0));
    assert_eq!(m.preemptions, Some(3.0));
    assert_eq!(m.generation_tokens_per_s, Some(100.0));
    assert_eq!(m.prompt_tokens_per_s, Some(50.0));
    assert_eq!(m.prefix_cache_hit_pct, Some(40.0));
    assert_eq!(m.spec_decode_acceptance_pct, Some(75.0));
    let ttft = m.ttft_s.clone().unwrap();
    assert_eq!(ttft.requests, 30.0);
    assert!((ttft.mean - 0.3).abs() < 1e-12);
    // Every observation in (0.1, 0.5]: the median interpolates to 0.3.
    assert!((ttft.p50.unwrap() - 0.3).abs() < 1e-12);
    assert_eq!(ttft.p50_bucket_s, Some([Some(0.1), Some(0.5)]));
    assert!((m.ttft_gap_s.unwrap() - 0.05).abs() < 1e-12);
    assert_eq!(
        m.explanation.as_deref(),
        Some("queue grew to 120 waiting; KV cache 100% full from 2 s; 3 preemptions")
    );
}

#[test]
fn a_ratio_is_the_fullest_engines_and_le_is_the_bucket_label() {
    let kv = |t: f64, a: f64, b: f64| {
        scrape(
            t,
            &[
                ("vllm:kv_cache_usage_perc{engine=\"0\"}", a),
                ("vllm:kv_cache_usage_perc{engine=\"1\"}", b),
                ("vllm:num_requests_running{engine=\"0\"}", 3.0),
                ("vllm:num_requests_running{engine=\"1\"}", 4.0),
            ],
        )
    };
    let m = summarize(&[kv(0.0, 0.5, 0.5), kv(1.0, 0.6, 0.4)], 1.0, None).unwrap();
    assert_eq!(m.kv_cache_usage.unwrap().max, 0.6, "not 1.0, the sum");
    assert_eq!(m.kv_cache_full_from_s, None);
    assert_eq!(m.running.unwrap().max, 7.0);
    assert_eq!(le("h_bucket{module=\"3\",le=\"0.5\"}"), Some(0.5));
    assert_eq!(le("h_bucket{le=\"+Inf\"}"), Some(f64::INFINITY));
    assert_eq!(le("h_bucket{handle=\"2\"}"), None);
}

#[test]
fn the_queue_is_read_while_the_load_was_offered_not_while_it_drained() {
    let at = |t: f64, waiting: f64| scrape(t, &[("vllm:num_requests_waiting", waiting)]);
    // Growing for 3 s of sending, then drained by the scrape after the level.
    let scrapes = vec![
        at(0.0, 0.0),
        at(1.0, 50.0),
        at(2.0, 100.0),
        at(3.0, 150.0),
        at(9.0, 0.0),
    ];
    let m = summarize(&scrapes, 3.0, None).unwrap();
    assert_eq!(m.waiting.unwrap().last, 150.0);
    assert_eq!(m.explanation.as_deref(), Some("queue grew to 150 waiting"));
}

#[test]
fn failed_scrapes_are_counted_and_other_engines_are_read() {
    let mut dead = scrape(2.0, &[]);
    dead.error = Some("connection refused".into());
    let m = summarize(
        &[
            scrape(
                0.0,
                &[
                    ("llamacpp:requests_processing", 2.0),
                    ("llamacpp:tokens_predicted_total", 0.0),
                ],
            ),
            scrape(
                1.0,
                &[
                    ("llamacpp:requests_processing", 4.0),
                    ("llamacpp:tokens_predicted_total", 80.0),
                ],
            ),
            dead,
        ],
        2.0,
        None,
    )
    .unwrap();
    assert_eq!(m.engine, "llamacpp");
    assert_eq!((m.scrapes, m.failed_scrapes), (3, 1));
    assert_eq!(m.last_error.as_deref(), Some("connection refused"));
    assert_eq!(m.running.unwrap().mean, 3.0);
    assert_eq!(m.generation_tokens_per_s, Some(80.0));
    assert!(m.explanation.is_none() && m.ttft_s.is_none());
    let unknown = summarize(&[scrape(0.0, &[("my_metric", 1.0)])], 1.0, None).unwrap();
    assert_eq!(unknown.engine, "unknown");
    assert!(summarize(&[], 1.0, None).is_none());
}
