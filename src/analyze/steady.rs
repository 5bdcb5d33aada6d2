//! A level's steady window: its figures with the warm-up and the drain left out, found from the
//! level's own records rather than a fixed fraction. `level.rs` reports them beside the
//! whole-level figures (`steady` in the results JSON).
//!
//! - **Warm-up**: a level starts with nothing in flight; the requests in flight climb to the
//!   level's working load. The window starts when they first reach 90% of their median over the
//!   second half of the send window.
//! - **Drain**: after the last send the load falls away, so the last requests run lighter than the
//!   level. The window ends one median end-to-end latency before the send window closes: requests
//!   planned after that spent part of their life in the drain.
//!
//! Requests are taken by their planned time, whatever their outcome, so the window never prefers
//! the fast or the successful ones.

use crate::analyze::stats::{percentile, sorted, Percentiles};
use crate::analyze::verdict::MIN_REQUESTS;
use crate::measure::record::{LevelRun, RequestRecord};
use crate::measure::time::micro;
use serde::Serialize;

/// The steady part of a level and its figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Steady {
    /// The window, seconds of planned time since the level's start.
    #[serde(serialize_with = "micro::serialize")]
    pub from_s: f64,
    #[serde(serialize_with = "micro::serialize")]
    pub to_s: f64,
    /// Requests planned in the window.
    pub requests: u64,
    pub success_rate: f64,
    pub ttft: Percentiles,
    pub e2e_latency: Percentiles,
    /// Output tokens of the window's successes per second of the window.
    pub output_throughput_tok_s: f64,
}

/// Share of the working load in flight at which the warm-up is over.
const WARM: f64 = 0.9;

/// The steady figures of a level of `records` that sent for `window_s`, when its steady window
/// holds at least [`MIN_REQUESTS`] requests.
pub fn steady(records: &[RequestRecord], window_s: f64, percentiles: &[f64]) -> Option<Steady> {
    let (from_s, to_s) = window(records, window_s)?;
    let inside: Vec<&RequestRecord> = records
        .iter()
        .filter(|r| r.planned_s >= from_s && r.planned_s <= to_s)
        .collect();
    if inside.len() < MIN_REQUESTS as usize {
        return None;
    }
    let mut ok: Vec<&RequestRecord> = inside.iter().copied().filter(|r| r.succeeded()).collect();
    ok.sort_by(|a, b| a.planned_s.total_cmp(&b.planned_s));
    let tokens: u64 = ok.iter().map(|r| r.output_tokens()).sum();
    Some(Steady {
        from_s,
        to_s,
        requests: inside.len() as u64,
        success_rate: ok.len() as f64 / inside.len() as f64 * 100.0,
        ttft: Percentiles::of(ok.iter().filter_map(|r| r.ttft_s()).collect(), percentiles),
        e2e_latency: Percentiles::of(ok.iter().map(|r| r.e2e_s()).collect(), percentiles),
        output_throughput_tok_s: tokens as f64 / (to_s - from_s).max(f64::EPSILON),
    })
}

/// The part of `run` planned in `from..=to`, its times counted from `from`: a level of its own, to
/// judge by the ordinary rules (`--verdict-window steady`).
pub fn sub_run(run: &LevelRun, from: f64, to: f64) -> LevelRun {
    let shift = |t: &mut f64| *t -= from;
    let records = run
        .records
        .iter()
        .filter(|r| r.planned_s >= from && r.planned_s <= to)
        .cloned()
        .map(|mut r| {
            shift(&mut r.planned_s);
            shift(&mut r.end_s);
            for t in [
                &mut r.sent_s,
                &mut r.headers_s,
                &mut r.first_token_s,
                &mut r.first_reasoning_s,
                &mut r.first_answer_s,
                &mut r.last_token_s,
            ] {
                if let Some(t) = t.as_mut() {
                    shift(t);
                }
            }
            r
        })
        .collect();
    LevelRun::new(run.id, run.qps, to - from, records, None)
}

/// The steady window `(from, to)` in planned seconds, `None` when there is none.
pub fn window(records: &[RequestRecord], window_s: f64) -> Option<(f64, f64)> {
    let sent: Vec<(f64, f64)> = records
        .iter()
        .filter_map(|r| Some((r.sent_s?, r.end_s)))
        .collect();
    if sent.len() < MIN_REQUESTS as usize || window_s <= 0.0 {
        return None;
    }
    // Requests in flight, sampled 200 times over the send window.
    let step = window_s / 200.0;
    let in_flight: Vec<f64> = (0..200)
        .map(|i| {
            let t = i as f64 * step;
            sent.iter().filter(|(s, e)| *s <= t && *e > t).count() as f64
        })
        .collect();
    let working = percentile(&sorted(in_flight[100..].to_vec()), 50.0)?;
    let from = in_flight
        .iter()
        .position(|&n| n >= WARM * working)
        .map_or(0.0, |i| i as f64 * step);
    let e2e = percentile(&sorted(sent.iter().map(|(s, e)| e - s).collect()), 50.0)?;
    let to = window_s - e2e;
    (to > from).then_some((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` requests at `qps`, each taking `e2e(i)` seconds, its first token at a tenth of it.
    fn level(n: u64, qps: f64, e2e: impl Fn(u64) -> f64) -> Vec<RequestRecord> {
        (0..n)
            .map(|i| {
                let mut r = RequestRecord::new(0, qps, i, 0, i as f64 / qps);
                r.sent_s = Some(r.planned_s);
                r.first_token_s = Some(r.planned_s + e2e(i) / 10.0);
                r.end_s = r.planned_s + e2e(i);
                r
            })
            .collect()
    }

    #[test]
    fn the_window_leaves_out_the_climb_to_the_working_load_and_the_drain() {
        // 20 req/s for 30 s, each 2 s: 40 in flight after 2 s of climbing.
        let recs = level(600, 20.0, |_| 2.0);
        let (from, to) = window(&recs, 30.0).unwrap();
        assert!((1.6..=2.0).contains(&from), "{from}");
        assert!((to - 28.0).abs() < 1e-9, "{to}");
        let s = steady(&recs, 30.0, &[]).unwrap();
        assert_eq!(
            s.requests,
            recs.iter()
                .filter(|r| r.planned_s >= from && r.planned_s <= to)
                .count() as u64
        );
        assert!((s.ttft.get(50.0).unwrap() - 0.2).abs() < 1e-9);
    }

    #[test]
    fn a_level_of_short_requests_is_steady_almost_from_its_start() {
        let recs = level(100, 10.0, |_| 0.05);
        let (from, to) = window(&recs, 10.0).unwrap();
        assert!(from < 0.2 && to > 9.9, "{from} {to}");
    }

    #[test]
    fn too_few_requests_have_no_steady_window() {
        assert_eq!(steady(&level(5, 1.0, |_| 0.1), 5.0, &[]), None);
    }

    #[test]
    fn a_cold_start_fails_the_whole_level_but_not_its_steady_window_when_asked() {
        use crate::analyze::level::level_report;
        use crate::analyze::verdict::Verdict;
        use crate::config::{LevelId, ReportOptions};
        // 20 req/s for 30 s, each 2 s; the first 5 s refused at once (a cold start: 503s).
        let mut recs = level(600, 20.0, |_| 2.0);
        for r in recs.iter_mut().filter(|r| r.planned_s < 5.0) {
            r.error = Some(crate::measure::record::ErrorKind::Http(503));
            r.first_token_s = None;
            r.end_s = r.planned_s + 0.01;
        }
        for r in recs.iter_mut() {
            r.prompt_tokens = Some(10);
            r.completion_tokens = Some(10);
        }
        let run = LevelRun::new(LevelId::rate(0, 20.0), 20.0, 30.0, recs, None);
        let mut o = ReportOptions::default();
        let whole = level_report(&run, &o);
        assert_eq!(whole.assessment.verdict, Verdict::Fail);
        o.policy.steady_verdict = true;
        let steady = level_report(&run, &o);
        assert_eq!(
            steady.assessment.verdict,
            Verdict::Pass,
            "{}",
            steady.assessment.reason
        );
        let (from, _) = steady.assessment.reason.window.unwrap();
        assert!(from >= 5.0, "{from}");
        assert!(steady
            .assessment
            .reason
            .to_string()
            .starts_with("steady window"));
        // The reported figures stay the whole level's.
        assert_eq!(steady.success_rate, whole.success_rate);
    }
}
