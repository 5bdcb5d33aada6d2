//! One level's figures and verdict: `LevelReport`, built from its records (`LevelRun`) and judged
//! once by `verdict.rs` on the evidence `evidence.rs` gathers. `summary.rs` reads the judged
//! levels; `report.rs` holds them in the output contract.
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
use crate::analyze::evidence::{
    arrivals, delivered, evidence, planned, steady_evidence, stopped_early, Goodput,
};
use crate::analyze::queueing::KeepUp;
use crate::analyze::server::{self, ServerMetrics};
use crate::analyze::stats::{sum_interval, Interval, LagSummary, Percentiles};
use crate::analyze::tally::{self, Counted, Embedded, Errors, PromptCache, Tokens};
use crate::analyze::verdict::{assess, Assessment, Evidence};
use crate::analyze::workload::{self, SessionSummary, TokenLengths};
use crate::config::{Metric, Objective, Policy, Pricing, ReportOptions};
use crate::measure::record::{EarlyStop, LevelRun, RequestRecord};
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
    /// The rate the level offered; `null` for a closed-loop level, which offered `concurrency`
    /// arrivals in flight and no rate (it achieved `actual_qps`).
    pub qps_target: Option<f64>,
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
    /// `--repeat`: which repetition of its level this run is (in `repetitions`), 1-based.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat: Option<u32>,
    /// `report --from-partial-records`: the records this level was rebuilt from, of those it
    /// measured; its verdict is not used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rebuilt_from_records: Option<KeptOf>,
    /// `--stop-on-saturation` stopped its sending at `at_s` seconds, for `reason`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_stop: Option<EarlyStop>,
    /// `--repeat`: this level's figures are means over these runs (`repeat.rs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repetitions: Option<Vec<LevelReport>>,
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
    /// Successful requests whose stream carried no `usage`, or a usage without the prompt's
    /// tokens (excluded from cost; output tokens counted from content chunks for throughput and
    /// tokens/s).
    pub requests_without_usage: u64,
    /// The prompt tokens the server's prefix cache served, over the successes whose usage says
    /// (`tally::PromptCache`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_cache: Option<PromptCache>,
    /// Of the output tokens, the reasoning ones, over the successes whose usage says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// The output tokens the client counted from the stream against those the server billed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tokens_counted: Option<Counted>,
    /// The level's first replies' text counted by a tokenizer against the tokens billed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tokens_checked: Option<crate::measure::checked::TokenCheck>,
    /// `--lora`: every figure of the level per adapter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_adapter: Option<Vec<crate::analyze::adapters::AdapterFigures>>,
    /// `--images`: images per request and per second, their bytes, the bodies' sizes, prompt
    /// tokens per request, and TTFT with and without images when mixed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<crate::analyze::images::ImageLoad>,
    /// `--audio`: clips per request and per second, seconds of audio per second, prompt tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio: Option<crate::analyze::images::AudioLoad>,
    /// `--api embeddings`: inputs per request, inputs/s and input tokens/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<Embedded>,
    /// `--api rerank`: the same, of documents scored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerank: Option<Embedded>,
    pub output_throughput_tok_s: f64,
    /// Its 95% interval over requests (`stats::sum_interval`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_throughput_tok_s_ci: Option<Interval>,
    pub total_throughput_tok_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_throughput_tok_s_ci: Option<Interval>,
    pub itl_s: Percentiles,
    pub tpot_s: Percentiles,
    /// Reasoning models (some reply streamed reasoning tokens): time to the first reasoning
    /// token, and to the first answer token, from the planned send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_reasoning_s: Option<Percentiles>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_answer_s: Option<Percentiles>,
    /// `--tools`: the successes that answered with a tool call, and their time to its first
    /// token, from the planned send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_requests: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_tool_call_s: Option<Percentiles>,
    pub schedule_lag_s: LagSummary,
    /// Requests that waited a second or more for the endpoint to accept a connection: that part
    /// of their lag is the endpoint's, and the client is judged on the rest (`client_lag_p99_s`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slow_accept: Option<SlowAccept>,
    /// Whether the endpoint kept up with the offered load (see `queueing.rs`).
    pub keep_up: KeepUp,
    /// The level's figures over its steady window, warm-up and drain left out (`steady.rs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steady: Option<crate::analyze::steady::Steady>,
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
    /// The level's rate for ordering and drawing: the one it offered, or for a closed loop the
    /// one it achieved (not written: `qps_target` and `actual_qps` say which).
    #[serde(skip)]
    pub rate: f64,
}

impl LevelReport {
    /// How the console names the level: `QPS 10.0`, or `Concurrency 16`.
    pub fn label(&self) -> String {
        match self.concurrency {
            Some(n) => format!("Concurrency {n}"),
            None => format!("QPS {}", crate::analyze::reason::Qps(self.rate)),
        }
    }

    /// A batched API's figures (embeddings, rerank), with what they are called.
    pub fn batched(&self) -> Option<(Batch, Embedded)> {
        match (self.embeddings, self.rerank) {
            (Some(e), _) => Some((Batch::EMBEDDINGS, e)),
            (_, Some(r)) => Some((Batch::RERANK, r)),
            _ => None,
        }
    }
}

/// What a batched API's requests carry, as the table, the chart and the report name it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Batch {
    /// `Embeddings`, `Rerank`.
    pub title: &'static str,
    /// `inputs`, `documents`.
    pub unit: &'static str,
    /// The table's column of units per second.
    pub column: &'static str,
    /// `an embeddings reply`, `a rerank reply`.
    pub reply: &'static str,
}

impl Batch {
    pub const EMBEDDINGS: Batch = Batch {
        title: "Embeddings",
        unit: "inputs",
        column: "Inputs/s",
        reply: "an embeddings reply",
    };
    pub const RERANK: Batch = Batch {
        title: "Rerank",
        unit: "documents",
        column: "Docs/s",
        reply: "a rerank reply",
    };

    /// The batch of a run's levels, if its API is batched.
    pub fn of(levels: &[LevelReport]) -> Option<Batch> {
        levels.iter().find_map(|l| l.batched().map(|(b, _)| b))
    }

    /// The TTFT panel's note: a whole reply has no first token.
    pub fn no_first_token(self) -> String {
        format!(
            "does not apply: {} comes whole (its latency is beside)",
            self.reply
        )
    }
}

/// Summarises and judges one level: the user's `--percentiles`, pricing and verdict policy.
/// Records a level was rebuilt from, of those it measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KeptOf {
    pub kept: u64,
    pub measured: u64,
}

impl LevelReport {
    /// The runs this level measured: its repetitions (`--repeat`), or itself.
    pub fn runs(&self) -> &[LevelReport] {
        self.repetitions
            .as_deref()
            .unwrap_or(std::slice::from_ref(self))
    }
}

pub fn level_report(run: &LevelRun, o: &ReportOptions) -> LevelReport {
    let recs = &run.records;
    // In the order they were planned, so that a percentile's interval (which reads runs of
    // neighbours) is the same live and re-reported, whatever order the records finished in.
    let mut ok: Vec<&RequestRecord> = recs.iter().filter(|r| r.succeeded()).collect();
    ok.sort_by(|a, b| {
        a.planned_s
            .total_cmp(&b.planned_s)
            .then(a.index.cmp(&b.index))
    });
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
    let steady = crate::analyze::steady::steady(recs, run.send_window_s, &o.percentiles);
    let mut assessment = match steady.as_ref().filter(|_| o.policy.steady_verdict) {
        // `--verdict-window steady`: the same rules on the steady window's requests.
        Some(s) => {
            let sub = crate::analyze::steady::sub_run(run, s.from_s, s.to_s);
            let mut a = assess(&steady_evidence(&sub, o, evidence.lag_p99_s), &o.policy);
            a.reason.window = Some((s.from_s, s.to_s));
            a
        }
        None => assess(&evidence, &o.policy),
    };
    if assessment.verdict != crate::analyze::verdict::Verdict::Pass {
        assessment.reason.server = server.as_ref().and_then(|s| s.explanation.clone());
        assessment.reason.slow_accept = slow_accept
            .as_ref()
            .map(|s| (s.requests, s.wait_max_s.unwrap_or_default()));
    }
    if let Some(stop) = &run.early_stop {
        stopped_early(&mut assessment, stop);
    }
    // An embeddings or rerank reply comes whole: its "first token" is the reply, and the text
    // says so.
    assessment.reason.whole_reply = ok
        .iter()
        .any(|r| r.inputs.is_some() || r.documents.is_some());
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
    let tools = ok.iter().any(|r| r.first_tool_call_s.is_some());
    LevelReport {
        qps_target: run.id.workers().is_none().then_some(run.qps),
        rate: run.qps,
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
        repeat: run.id.repeat,
        early_stop: run.early_stop.clone(),
        repetitions: None,
        rebuilt_from_records: run
            .rebuilt_from
            .map(|(kept, measured)| KeptOf { kept, measured }),
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
        prompt_cache: PromptCache::of(&ok),
        reasoning_tokens: tally::reasoning_tokens(&ok),
        output_tokens_counted: Counted::of(&ok),
        output_tokens_checked: run.token_check.clone(),
        audio: crate::analyze::images::AudioLoad::of(&ok, run.send_window_s, &o.percentiles),
        by_adapter: crate::analyze::adapters::by_adapter(recs, run.duration_s, &o.percentiles),
        images: crate::analyze::images::ImageLoad::of(recs, &ok, run.send_window_s, &o.percentiles),
        embeddings: Embedded::of(&ok, |r| r.inputs, duration),
        rerank: Embedded::of(&ok, |r| r.documents, duration),
        output_throughput_tok_s: tokens.output as f64 / duration,
        output_throughput_tok_s_ci: sum_interval(&tally::per_request_output(recs), duration),
        total_throughput_tok_s: (tokens.input + tokens.output) as f64 / duration,
        total_throughput_tok_s_ci: sum_interval(&tally::per_request_total(recs), duration),
        itl_s: pct(ok.iter().flat_map(|r| r.itl_s.iter().copied()).collect()),
        tpot_s: pct(ok.iter().filter_map(|r| r.tpot_s()).collect()),
        ttft_reasoning_s: reasoning
            .then(|| pct(ok.iter().filter_map(|r| r.ttft_reasoning_s()).collect())),
        ttft_answer_s: reasoning
            .then(|| pct(ok.iter().filter_map(|r| r.ttft_answer_s()).collect())),
        tool_call_requests: tools
            .then(|| ok.iter().filter(|r| r.first_tool_call_s.is_some()).count() as u64),
        ttft_tool_call_s: tools
            .then(|| pct(ok.iter().filter_map(|r| r.ttft_tool_call_s()).collect())),
        schedule_lag_s,
        slow_accept,
        keep_up: evidence.keep_up,
        steady,
        token_lengths: workload::token_lengths(&ok, &o.percentiles),
        sessions,
        server,
    }
}

impl LevelReport {
    /// What the verdict rests on, read back from the figures (the planned window is not among them,
    /// so the delivered ratio is sent over scheduled). For judging a report again without its
    /// records, as the tests do.
    pub fn evidence(&self, p: &Policy) -> Evidence {
        Evidence {
            qps_target: self.rate,
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
            rebuilt_from: self.rebuilt_from_records.map(|k| (k.kept, k.measured)),
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
#[path = "level_tests.rs"]
mod tests;
