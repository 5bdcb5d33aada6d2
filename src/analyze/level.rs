//! One level's figures and verdict: `LevelReport`, built from its records (`LevelRun`) and judged
//! once by `verdict.rs`. `summary.rs` reads the judged levels; `report.rs` holds them in the output
//! contract.
//!
//! The reference tool's keys are kept verbatim (`qps_target`, `actual_qps`, `success_rate`, `ttft`,
//! `e2e_latency`, `tokens_per_sec`, `cost_analysis`, `errors`; latencies in seconds); everything
//! redline adds has a name with its unit. Definitions:
//! - latencies (TTFT, E2E, TPOT, tokens/s) are the `RequestRecord` methods: from the *planned* send
//!   time, over successful requests;
//! - `actual_qps` = requests sent / send window; `successful_qps` = successes / send window (goodput
//!   at the offered rate: equal to `actual_qps` when every request succeeds);
//! - level duration = level start until its last request ended (at least the send window);
//! - throughputs and cost use that level duration; cost uses `usage` tokens of successes only.

use crate::analyze::accept::{self, SlowAccept};
use crate::analyze::objectives;
use crate::analyze::queueing::{keep_up, KeepUp};
use crate::analyze::server::{self, ServerMetrics};
use crate::analyze::stats::{LagSummary, Percentiles};
use crate::analyze::verdict::{assess, Assessment, Evidence};
use crate::analyze::workload::{self, SessionSummary, TokenLengths};
use crate::config::{Metric, Objective, Offered, Policy, Pricing, ReportOptions};
use crate::measure::record::{LevelRun, RequestRecord};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostAnalysis {
    pub total_input_tokens: u64,
    pub total_output_tokens: u64,
    pub total_tokens: u64,
    pub gpu_cost: f64,
    /// `null` when no request reported usage.
    pub cost_per_million_tokens: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LevelReport {
    // The reference tool's keys.
    pub qps_target: f64,
    pub actual_qps: f64,
    /// Percent of scheduled requests that succeeded (0-100).
    pub success_rate: f64,
    pub ttft: Percentiles,
    pub e2e_latency: Percentiles,
    pub tokens_per_sec: Percentiles,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_analysis: Option<CostAnalysis>,
    pub errors: BTreeMap<String, u64>,
    // redline's additions.
    /// The server's message (or the failure's detail) of the first failure of each kind in
    /// `errors`, so the console can say why without opening requests.jsonl.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub error_samples: BTreeMap<String, String>,
    /// `verdict` (PASS/WARN/FAIL), `client_limited`, `verdict_reason`.
    #[serde(flatten)]
    pub assessment: Assessment,
    pub partial: bool,
    /// With `--concurrency`: this level's requests in flight (its `qps_target` is the rate it
    /// achieved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// With `--qps auto`: this level's place in the search (1 = first probe).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_probe: Option<usize>,
    pub requests_scheduled: u64,
    pub requests_sent: u64,
    pub requests_succeeded: u64,
    pub requests_failed: u64,
    pub client_side_errors: u64,
    /// Failures that are the endpoint's (all failures less client-side ones).
    pub endpoint_errors: u64,
    /// Percent of the requests that reached the endpoint that succeeded: what verdicts judge, so the
    /// client's own limits are never blamed on the endpoint.
    pub endpoint_success_rate: f64,
    pub successful_qps: f64,
    /// With objectives: percent of scheduled requests that succeeded and met every objective.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo_attainment_pct: Option<f64>,
    /// With objectives: those requests per second of send window (vLLM's goodput).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goodput_qps: Option<f64>,
    pub send_window_s: f64,
    pub duration_s: f64,
    pub in_flight_at_send_end: u64,
    pub total_input_tokens: u64,
    pub total_output_tokens: u64,
    /// Successful requests whose stream carried no `usage` (excluded from cost; output tokens counted
    /// from content chunks for throughput and tokens/s).
    pub requests_without_usage: u64,
    pub output_throughput_tok_s: f64,
    pub total_throughput_tok_s: f64,
    pub itl_s: Percentiles,
    pub tpot_s: Percentiles,
    /// Reasoning models (some reply streamed reasoning tokens): time to the first reasoning
    /// token, and to the first answer token, from the planned send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_reasoning_s: Option<Percentiles>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_answer_s: Option<Percentiles>,
    pub schedule_lag_s: LagSummary,
    /// Requests that waited a second or more for the endpoint to accept a connection: that part
    /// of their lag is the endpoint's, and the client is judged on the rest (`client_lag_p99_s`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slow_accept: Option<SlowAccept>,
    /// Whether the endpoint kept up with the offered load (see `queueing.rs`).
    pub keep_up: KeepUp,
    /// Synthetic prompts and traces: the token lengths asked for against those reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_lengths: Option<TokenLengths>,
    /// `--sessions`: the sessions, and the figures of each turn. The level's `qps_target` and
    /// `actual_qps` are then sessions started per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions: Option<SessionSummary>,
    /// `--metrics-url`: the endpoint's own view of the level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerMetrics>,
}

/// Summarises and judges one level: the user's `--percentiles`, pricing and verdict policy.
pub fn level_report(run: &LevelRun, o: &ReportOptions) -> LevelReport {
    let recs = &run.records;
    let ok: Vec<&RequestRecord> = recs.iter().filter(|r| r.succeeded()).collect();
    let errors = Errors::of(recs);
    let arrivals = arrivals(recs);
    let pct = |v: Vec<f64>| Percentiles::of(v, &o.percentiles);
    let sessions = workload::sessions(recs, run.duration_s, &o.percentiles);
    // A session's later turns are sent when the previous reply ends: only the arrivals have a
    // schedule to keep (the later turns' lag is in `sessions`).
    let schedule_lag_s = LagSummary::of(arrivals.iter().filter_map(|r| r.lag_s()).collect());
    let slow_accept = SlowAccept::of(&arrivals);
    let evidence = Evidence {
        lag_p99_s: accept::client_lag_p99(&schedule_lag_s, slow_accept.as_ref()),
        ..evidence(
            run,
            o,
            &ok,
            &arrivals,
            sessions.as_ref(),
            errors.client_side,
        )
    };
    let ttfts: Vec<f64> = ok.iter().filter_map(|r| r.ttft_s()).collect();
    let ttft_mean = (!ttfts.is_empty()).then(|| ttfts.iter().sum::<f64>() / ttfts.len() as f64);
    let server = server::summarize(&run.server, run.send_window_s, ttft_mean);
    let mut assessment = assess(&evidence, &o.policy);
    if assessment.verdict != crate::analyze::verdict::Verdict::Pass {
        assessment.reason.server = server.as_ref().and_then(|s| s.explanation.clone());
        assessment.reason.slow_accept = slow_accept
            .as_ref()
            .map(|s| (s.requests, s.wait_max_s.unwrap_or_default()));
    }
    let tokens = Tokens::of(&ok);
    let duration = run.duration_s.max(f64::EPSILON);
    let goodput = Goodput::of(
        run,
        o,
        &ok,
        sessions.is_some(),
        planned(run, sessions.as_ref()),
    );
    let reasoning = ok.iter().any(|r| r.first_reasoning_s.is_some());
    LevelReport {
        qps_target: run.qps,
        actual_qps: evidence.actual_qps,
        success_rate: evidence.success_rate,
        ttft: pct(ttfts),
        e2e_latency: pct(ok.iter().map(|r| r.e2e_s()).collect()),
        tokens_per_sec: pct(ok.iter().filter_map(|r| r.tokens_per_sec()).collect()),
        cost_analysis: o
            .pricing
            .map(|p| cost(p, duration, tokens.input, tokens.usage_output)),
        errors: errors.by_kind,
        error_samples: errors.samples,
        assessment,
        partial: run.partial,
        concurrency: run.id.workers(),
        search_probe: run.id.probe,
        requests_scheduled: recs.len() as u64,
        requests_sent: evidence.requests_sent,
        requests_succeeded: ok.len() as u64,
        requests_failed: (recs.len() - ok.len()) as u64,
        client_side_errors: errors.client_side,
        endpoint_errors: (recs.len() - ok.len()) as u64 - errors.client_side,
        endpoint_success_rate: evidence.endpoint_success_rate,
        successful_qps: goodput.successful_qps,
        slo_attainment_pct: goodput.slo_attainment_pct,
        goodput_qps: goodput.goodput_qps,
        send_window_s: run.send_window_s,
        duration_s: run.duration_s,
        in_flight_at_send_end: run.in_flight_at_send_end,
        total_input_tokens: tokens.input,
        total_output_tokens: tokens.output,
        requests_without_usage: tokens.without_usage,
        output_throughput_tok_s: tokens.output as f64 / duration,
        total_throughput_tok_s: (tokens.input + tokens.output) as f64 / duration,
        itl_s: pct(ok.iter().flat_map(|r| r.itl_s.iter().copied()).collect()),
        tpot_s: pct(ok.iter().filter_map(|r| r.tpot_s()).collect()),
        ttft_reasoning_s: reasoning
            .then(|| pct(ok.iter().filter_map(|r| r.ttft_reasoning_s()).collect())),
        ttft_answer_s: reasoning
            .then(|| pct(ok.iter().filter_map(|r| r.ttft_answer_s()).collect())),
        schedule_lag_s,
        slow_accept,
        keep_up: evidence.keep_up,
        token_lengths: workload::token_lengths(&ok, &o.percentiles),
        sessions,
        server,
    }
}

/// A level's failures: counted by kind, the first message of each kind, and how many were the
/// client's own.
struct Errors {
    by_kind: BTreeMap<String, u64>,
    samples: BTreeMap<String, String>,
    client_side: u64,
}

impl Errors {
    fn of(recs: &[RequestRecord]) -> Errors {
        let mut e = Errors {
            by_kind: BTreeMap::new(),
            samples: BTreeMap::new(),
            client_side: 0,
        };
        for r in recs {
            let Some(kind) = r.error else { continue };
            *e.by_kind.entry(kind.to_string()).or_insert(0u64) += 1;
            if let Some(d) = r.error_detail.as_ref().filter(|d| !d.is_empty()) {
                e.samples
                    .entry(kind.to_string())
                    .or_insert_with(|| d.clone());
            }
            e.client_side += u64::from(kind.is_client_side());
        }
        e
    }
}

/// The successes' tokens: input and output as `usage` reported them (cost counts these), output
/// as streamed (throughput counts these), and successes without `usage`.
struct Tokens {
    input: u64,
    usage_output: u64,
    output: u64,
    without_usage: u64,
}

impl Tokens {
    fn of(ok: &[&RequestRecord]) -> Tokens {
        let with_usage = ok.iter().filter(|r| r.completion_tokens.is_some());
        Tokens {
            input: with_usage.clone().filter_map(|r| r.prompt_tokens).sum(),
            usage_output: with_usage.filter_map(|r| r.completion_tokens).sum(),
            output: ok.iter().map(|r| r.output_tokens()).sum(),
            without_usage: ok.iter().filter(|r| r.completion_tokens.is_none()).count() as u64,
        }
    }
}

/// The level's arrivals: sessions arrive on the schedule and their later turns follow their
/// replies, so rates and keeping up are judged on the sessions' first turns (every request
/// otherwise).
fn arrivals(recs: &[RequestRecord]) -> std::borrow::Cow<'_, [RequestRecord]> {
    if recs.iter().any(|r| r.session.is_some()) {
        std::borrow::Cow::Owned(recs.iter().filter(|r| r.is_arrival()).cloned().collect())
    } else {
        std::borrow::Cow::Borrowed(recs)
    }
}

/// The requests success is counted over. With sessions, a turn that was never sent because its
/// session ended at an error still counts against success: every planned turn of every session
/// that started is in the denominator, so a failed first turn weighs as much as the turns it cost.
fn planned(run: &LevelRun, sessions: Option<&SessionSummary>) -> usize {
    sessions.map_or(run.records.len(), |s| s.turns_planned as usize)
}

/// What the verdict rests on (all but the client's lag, which needs the slow accepts).
fn evidence(
    run: &LevelRun,
    o: &ReportOptions,
    ok: &[&RequestRecord],
    arrivals: &[RequestRecord],
    sessions: Option<&SessionSummary>,
    client_side_errors: u64,
) -> Evidence {
    let planned = planned(run, sessions);
    // Turns a client-side failure cost are the client's, like the failure itself.
    let client_side_unsent = sessions.map_or(0, |s| s.turns_not_sent_client_side as usize);
    let arrivals_sent = arrivals.iter().filter(|r| r.sent_s.is_some()).count() as u64;
    Evidence {
        qps_target: run.qps,
        actual_qps: arrivals_sent as f64 / run.send_window_s.max(f64::EPSILON),
        success_rate: ratio(ok.len(), planned) * 100.0,
        endpoint_success_rate: ratio(
            ok.len(),
            planned - client_side_errors as usize - client_side_unsent,
        ) * 100.0,
        client_side_errors,
        // A closed loop sends only as fast as replies end: it cannot queue, so it is not judged.
        keep_up: keep_up(
            arrivals,
            run.send_window_s,
            match run.id.offered {
                Offered::Rate(_) => o.ramp_up_s,
                Offered::Concurrency(_) => f64::INFINITY,
            },
        ),
        measured: objectives::measure(&o.policy.objectives, ok),
        lag_p99_s: None,
        requests_scheduled: run.records.len() as u64,
        requests_sent: run.records.iter().filter(|r| r.sent_s.is_some()).count() as u64,
        delivered_ratio: delivered(
            arrivals_sent,
            run.send_window_s,
            arrivals.len() as u64,
            run.planned_window_s,
        ),
        partial: run.partial,
    }
}

/// Rates of what went well, per second of send window, counting arrivals: sessions whose every
/// turn succeeded (or met every objective), like `actual_qps`; requests otherwise.
struct Goodput {
    successful_qps: f64,
    slo_attainment_pct: Option<f64>,
    goodput_qps: Option<f64>,
}

impl Goodput {
    fn of(
        run: &LevelRun,
        o: &ReportOptions,
        ok: &[&RequestRecord],
        sessions: bool,
        planned: usize,
    ) -> Goodput {
        let recs = &run.records;
        let objectives = &o.policy.objectives;
        let met = recs
            .iter()
            .filter(|r| objectives::met(r, objectives))
            .count();
        let (good, good_met) = if sessions {
            (
                workload::sessions_where(recs, RequestRecord::succeeded),
                workload::sessions_where(recs, |r| objectives::met(r, objectives)),
            )
        } else {
            (ok.len(), met)
        };
        let window = run.send_window_s.max(f64::EPSILON);
        let with_objectives = !objectives.is_empty();
        Goodput {
            successful_qps: good as f64 / window,
            slo_attainment_pct: with_objectives.then(|| ratio(met, planned) * 100.0),
            goodput_qps: with_objectives.then(|| good_met as f64 / window),
        }
    }
}

/// Sends per second over the send window against scheduled requests per second over the planned
/// window (1 for an empty level).
fn delivered(sent: u64, send_window_s: f64, scheduled: u64, planned_s: f64) -> f64 {
    if scheduled == 0 {
        return 1.0;
    }
    (sent as f64 / send_window_s.max(f64::EPSILON))
        / (scheduled as f64 / planned_s.max(f64::EPSILON))
}

impl LevelReport {
    /// What the verdict rests on, read back from the figures (the planned window is not among them,
    /// so the delivered ratio is sent over scheduled). For judging a report again without its
    /// records, as the tests do.
    pub fn evidence(&self, p: &Policy) -> Evidence {
        Evidence {
            qps_target: self.qps_target,
            actual_qps: self.actual_qps,
            success_rate: self.success_rate,
            endpoint_success_rate: self.endpoint_success_rate,
            client_side_errors: self.client_side_errors,
            keep_up: self.keep_up.clone(),
            measured: p.objectives.iter().map(|o| (*o, self.stored(o))).collect(),
            lag_p99_s: accept::client_lag_p99(&self.schedule_lag_s, self.slow_accept.as_ref()),
            requests_scheduled: self.requests_scheduled,
            requests_sent: self.requests_sent,
            delivered_ratio: delivered(self.requests_sent, 1.0, self.requests_scheduled, 1.0),
            partial: self.partial,
        }
    }
}

impl LevelReport {
    /// The level's value for an objective, from the percentiles it stored.
    fn stored(&self, o: &Objective) -> Option<f64> {
        let p = o.percentile.unwrap_or(50.0);
        match o.metric {
            Metric::Success => Some(self.success_rate),
            Metric::Ttft => self.ttft.get(p),
            Metric::E2e => self.e2e_latency.get(p),
            Metric::Itl => self.itl_s.get(p),
            Metric::Tpot => self.tpot_s.get(p),
            Metric::TokensPerSec => self.tokens_per_sec.get(p),
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The reference formula: cost_per_1m = (num_gpus x rate x hours) x 1,000,000 / total_tokens.
pub fn cost(p: Pricing, duration_s: f64, input: u64, output: u64) -> CostAnalysis {
    let total = input + output;
    let gpu_cost = f64::from(p.num_gpus) * p.gpu_rate * duration_s / 3600.0;
    CostAnalysis {
        total_input_tokens: input,
        total_output_tokens: output,
        total_tokens: total,
        gpu_cost,
        cost_per_million_tokens: (total > 0).then(|| gpu_cost / total as f64 * 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::record::ErrorKind;

    fn opts(percentiles: &[f64], pricing: Option<Pricing>) -> ReportOptions {
        ReportOptions {
            percentiles: percentiles.to_vec(),
            pricing,
            ..ReportOptions::default()
        }
    }

    #[test]
    fn reference_cost_example() {
        // 30 s, 1 GPU at $2.30/h, 3,659,418 input + 28,146 output tokens -> ~$0.0052/M.
        let c = cost(
            Pricing {
                gpu_rate: 2.30,
                num_gpus: 1,
            },
            30.0,
            3_659_418,
            28_146,
        );
        assert_eq!(c.total_tokens, 3_687_564);
        assert!((c.gpu_cost - 0.019166).abs() < 1e-5);
        assert!((c.cost_per_million_tokens.unwrap() - 0.0052).abs() < 1e-4);
    }

    fn rec(i: u64, ok: bool, usage: bool) -> RequestRecord {
        let mut r = RequestRecord::new(0, 2.0, i, 0, i as f64 * 0.5);
        r.sent_s = Some(r.planned_s + 0.001);
        if ok {
            r.first_token_s = Some(r.planned_s + 0.1);
            r.end_s = r.planned_s + 1.1;
            r.content_chunks = 11;
            if usage {
                r.prompt_tokens = Some(100);
                r.completion_tokens = Some(11);
            }
        } else {
            r.error = Some(ErrorKind::Http(503));
            r.end_s = r.planned_s + 0.01;
        }
        r
    }

    #[test]
    fn level_summary_counts_and_rates() {
        let records = vec![
            rec(0, true, true),
            rec(1, true, false),
            rec(2, false, false),
            rec(3, true, true),
        ];
        let run = LevelRun::new(
            crate::config::LevelId::rate(0, 2.0),
            2.0,
            2.0,
            records,
            None,
        );
        assert!((run.duration_s - 2.6).abs() < 1e-9);
        assert_eq!(run.in_flight_at_send_end, 1);
        let pricing = Pricing {
            gpu_rate: 3.6,
            num_gpus: 1,
        };
        let l = level_report(&run, &opts(&[50.0], Some(pricing)));
        assert_eq!(l.actual_qps, 2.0);
        assert_eq!(l.success_rate, 75.0);
        assert_eq!(l.errors.get("HTTP 503"), Some(&1));
        assert_eq!(l.requests_without_usage, 1);
        assert_eq!(l.total_input_tokens, 200);
        assert_eq!(l.total_output_tokens, 33);
        let c = l.cost_analysis.unwrap();
        assert_eq!(c.total_tokens, 222);
        assert!((c.gpu_cost - 0.0026).abs() < 1e-12);
        assert!((l.ttft.get(50.0).unwrap() - 0.1).abs() < 1e-9);
        assert!((l.tpot_s.get(50.0).unwrap() - 0.1).abs() < 1e-9);
        assert!((l.schedule_lag_s.max.unwrap() - 0.001).abs() < 1e-9);
    }

    #[test]
    fn a_session_that_fails_early_counts_its_unsent_turns_as_failed() {
        // Ten sessions of ten turns at 1 session/s; session 0 fails at its first turn.
        let mut records = Vec::new();
        for session in 0..10u64 {
            let turns = if session == 0 { 1 } else { 10 };
            for turn in 1..=turns {
                let mut r = rec(0, session != 0, true);
                r.index = session * 10 + u64::from(turn);
                let at = session as f64 + f64::from(turn - 1) * 0.5;
                (r.planned_s, r.sent_s, r.end_s) = (at, Some(at + 0.001), at + 0.2);
                r.first_token_s = r.first_token_s.map(|_| at + 0.1);
                r.session = Some(session);
                r.turn = Some(turn);
                r.session_turns = Some(10);
                records.push(r);
            }
        }
        let run = LevelRun::new(
            crate::config::LevelId::rate(0, 1.0),
            1.0,
            10.0,
            records,
            None,
        );
        let l = level_report(&run, &opts(&[50.0], None));
        // 90 of the 100 planned turns succeeded (not 90 of the 91 sent).
        assert_eq!(l.success_rate, 90.0);
        let s = l.sessions.unwrap();
        assert_eq!(
            (s.turns_planned, s.turns_not_sent, s.completed),
            (100, 9, 9)
        );
        // Arrivals are sessions: 10 per 10 s, 9 of them completed.
        assert_eq!(l.actual_qps, 1.0);
        assert!((l.successful_qps - 0.9).abs() < 1e-12);
    }

    #[test]
    fn reference_keys_present() {
        let run = LevelRun::new(crate::config::LevelId::rate(0, 1.0), 1.0, 1.0, vec![], None);
        let pricing = Pricing {
            gpu_rate: 1.0,
            num_gpus: 1,
        };
        let v = serde_json::to_value(level_report(&run, &opts(&[], Some(pricing)))).unwrap();
        for k in [
            "qps_target",
            "actual_qps",
            "success_rate",
            "ttft",
            "e2e_latency",
            "tokens_per_sec",
            "cost_analysis",
            "errors",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
        for k in ["p50", "p90", "p95", "p99"] {
            assert!(v["ttft"].get(k).is_some());
        }
    }
}
