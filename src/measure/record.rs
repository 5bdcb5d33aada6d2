//! One `RequestRecord` per scheduled request: its times, tokens and outcome.
//!
//! `client.rs` fills a record as the exchange progresses (so a timeout or interruption keeps the
//! partial timings), `runner.rs` collects a level's records into a [`LevelRun`], `analyze/` summarises
//! them and `output/jsonl.rs` writes them one per line. Times are seconds from the level's start on
//! the monotonic clock (`time.rs`). The metric definitions (TTFT, E2E, TPOT, tokens/s, lag) are the
//! methods of [`RequestRecord`], used by every report and by the simulator's virtual sweep.

pub use super::error_kind::{ErrorKind, UnknownErrorKind};
use crate::config::LevelId;
use serde::{Deserialize, Serialize};

/// Everything measured about one scheduled request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Position of the level in the run (0-based).
    pub level: usize,
    /// Target QPS of the level this request belongs to; `null` on a closed-loop level, which
    /// offered `concurrency` arrivals in flight and no rate.
    pub qps_target: Option<f64>,
    /// On a closed-loop level: the arrivals this process held in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// `--repeat`: which repetition of its level (1-based) this request was sent in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<u32>,
    /// Position in the level's schedule (0-based).
    pub index: u64,
    /// Dataset sample used (with `--trace`: the trace's request).
    pub sample: usize,
    /// With `--sessions`: the session (its place in the level's schedule) and the turn (1-based)
    /// of this request, and how many turns the session has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_turns: Option<u32>,
    /// The prompt and reply lengths asked for, in tokens (synthetic prompts and traces; a
    /// session's later turns carry no input length, their history being the replies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_output_tokens: Option<u32>,
    /// When the schedule wanted it sent.
    #[serde(serialize_with = "crate::measure::time::micro::serialize")]
    pub planned_s: f64,
    /// When it was actually handed to the connection (absent if never sent).
    #[serde(serialize_with = "crate::measure::time::micro::opt::serialize")]
    pub sent_s: Option<f64>,
    /// Of the lag, the TCP connect of a connection the request opened for itself (HTTP/1.1, no
    /// idle connection to reuse): how long the endpoint took to accept it. Absent under a
    /// millisecond, and for requests sent on a connection opened before.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::measure::time::micro::opt::serialize"
    )]
    pub accept_wait_s: Option<f64>,
    /// When the response status and headers arrived.
    #[serde(serialize_with = "crate::measure::time::micro::opt::serialize")]
    pub headers_s: Option<f64>,
    /// When the first chunk carrying output text arrived.
    #[serde(serialize_with = "crate::measure::time::micro::opt::serialize")]
    pub first_token_s: Option<f64>,
    /// Reasoning models: when the first reasoning token (`reasoning_content`, `reasoning`) arrived.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::measure::time::micro::opt::serialize"
    )]
    pub first_reasoning_s: Option<f64>,
    /// Reasoning models: when the first answer token (`content`, `text`) arrived after reasoning.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::measure::time::micro::opt::serialize"
    )]
    pub first_answer_s: Option<f64>,
    /// Tool calls (`--tools`): when the first tool-call token (its arguments) arrived.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::measure::time::micro::opt::serialize"
    )]
    pub first_tool_call_s: Option<f64>,
    /// When the last chunk carrying output text arrived.
    #[serde(serialize_with = "crate::measure::time::micro::opt::serialize")]
    pub last_token_s: Option<f64>,
    /// When the exchange ended, successfully or not.
    #[serde(serialize_with = "crate::measure::time::micro::serialize")]
    pub end_s: f64,
    pub status: Option<u16>,
    /// `None` for a success.
    pub error: Option<ErrorKind>,
    /// A short description of the failure, for the user (never contains the API key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<String>,
    /// SSE data events received (including role-only, usage and `[DONE]`).
    pub chunks: u32,
    /// Data events that carried output text.
    pub content_chunks: u32,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    /// Of `prompt_tokens`, those the server's prefix cache served, when its usage says
    /// (`prompt_tokens_details.cached_tokens`, `input_tokens_details.cached_tokens`,
    /// `cache_read_input_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    /// Of `completion_tokens`, the reasoning ones, when the usage says
    /// (`completion_tokens_details.reasoning_tokens`, `output_tokens_details.reasoning_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// `--api embeddings`: the inputs the request carried (`--batch-size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<u32>,
    /// `--lora`: the adapter the request named as its model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<std::sync::Arc<str>>,
    /// `--images`: the images the request carried, their base64 bytes, and the whole body's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_bytes: Option<u64>,
    /// `--audio`: the clips the request carried and their seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_clips: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_seconds: Option<f64>,
    /// The answer text, kept in memory for the token check (`tokens_check.rs`), never written.
    #[serde(skip)]
    pub reply_text: Option<String>,
    /// `--tools` with `--sessions`: the request sent a turn's tool results (1 for the first
    /// round of results); absent on a turn's first request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_round: Option<u32>,
    /// `--api rerank`: the documents the request asked to score (`--batch-size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documents: Option<u32>,
    /// Gaps between consecutive content chunks, seconds.
    #[serde(
        default,
        serialize_with = "crate::measure::time::micro::vec::serialize"
    )]
    pub itl_s: Vec<f64>,
}

impl RequestRecord {
    /// A record for a request planned at `planned_s` (rounded to the microsecond, like every time).
    pub fn new(level: usize, qps_target: f64, index: u64, sample: usize, planned_s: f64) -> Self {
        let planned_s = crate::measure::time::round6(planned_s);
        RequestRecord {
            level,
            qps_target: Some(qps_target),
            concurrency: None,
            repeat: None,
            index,
            sample,
            session: None,
            turn: None,
            session_turns: None,
            requested_input_tokens: None,
            requested_output_tokens: None,
            planned_s,
            sent_s: None,
            accept_wait_s: None,
            headers_s: None,
            first_token_s: None,
            first_reasoning_s: None,
            first_answer_s: None,
            first_tool_call_s: None,
            last_token_s: None,
            end_s: planned_s,
            status: None,
            error: None,
            error_detail: None,
            chunks: 0,
            content_chunks: 0,
            prompt_tokens: None,
            completion_tokens: None,
            cached_tokens: None,
            reasoning_tokens: None,
            inputs: None,
            documents: None,
            tool_round: None,
            reply_text: None,
            adapter: None,
            images: None,
            image_bytes: None,
            request_bytes: None,
            audio_clips: None,
            audio_seconds: None,
            itl_s: Vec::new(),
        }
    }

    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }

    /// An arrival of the level's schedule: any request but a session's later turns and tool
    /// results (which are sent when the previous reply ends, not on the schedule).
    pub fn is_arrival(&self) -> bool {
        self.turn.is_none_or(|t| t <= 1) && self.tool_round.is_none()
    }

    /// Time to first token, from the planned send time.
    pub fn ttft_s(&self) -> Option<f64> {
        self.first_token_s.map(|t| t - self.planned_s)
    }

    /// Time to the first reasoning token, from the planned send time (reasoning models).
    pub fn ttft_reasoning_s(&self) -> Option<f64> {
        self.first_reasoning_s.map(|t| t - self.planned_s)
    }

    /// Time to the first answer token, from the planned send time: after the reasoning, for a
    /// reasoning model; the TTFT otherwise.
    /// Time to the first tool-call token, from the planned send.
    pub fn ttft_tool_call_s(&self) -> Option<f64> {
        self.first_tool_call_s.map(|t| t - self.planned_s)
    }

    pub fn ttft_answer_s(&self) -> Option<f64> {
        match self.first_reasoning_s {
            Some(_) => self.first_answer_s.map(|t| t - self.planned_s),
            None => self.ttft_s(),
        }
    }

    /// End-to-end latency, from the planned send time.
    pub fn e2e_s(&self) -> f64 {
        self.end_s - self.planned_s
    }

    /// How late the client sent it.
    pub fn lag_s(&self) -> Option<f64> {
        self.sent_s.map(|t| (t - self.planned_s).max(0.0))
    }

    /// The lag the client is answerable for: all of it, but a TCP connect of [`SLOW_ACCEPT_S`] or
    /// more, which means the endpoint did not accept the connection (a connect whose first SYN
    /// went unanswered is retried only after a second: the endpoint's accept queue was full). A
    /// slow TLS handshake stays the client's lag, as does any wait for a connection other
    /// requests opened.
    pub fn client_lag_s(&self) -> Option<f64> {
        let lag = self.lag_s()?;
        Some(match self.accept_wait_s {
            Some(w) if w >= SLOW_ACCEPT_S => (lag - w).max(0.0),
            _ => lag,
        })
    }

    /// When the client tried to send it: its send time, less a TCP connect the endpoint was slow
    /// to accept.
    pub fn attempt_s(&self) -> Option<f64> {
        let sent = self.sent_s?;
        Some(match self.accept_wait_s {
            Some(w) if w >= SLOW_ACCEPT_S => sent - w,
            _ => sent,
        })
    }

    /// Output tokens: the server's `usage`, else the number of content chunks (an estimate).
    pub fn output_tokens(&self) -> u64 {
        self.completion_tokens
            .unwrap_or(u64::from(self.content_chunks))
    }

    /// Time per output token after the first: (E2E - TTFT) / (output_tokens - 1).
    pub fn tpot_s(&self) -> Option<f64> {
        let n = self.output_tokens();
        let ttft = self.ttft_s()?;
        (n > 1).then(|| (self.e2e_s() - ttft) / (n - 1) as f64)
    }

    /// Output tokens per second of end-to-end time, as the reference tool defines it.
    pub fn tokens_per_sec(&self) -> Option<f64> {
        let e2e = self.e2e_s();
        (e2e > 0.0).then(|| self.output_tokens() as f64 / e2e)
    }
}

/// A wait for a connection this long is the endpoint's: it did not accept in time (see
/// [`RequestRecord::client_lag_s`]).
pub const SLOW_ACCEPT_S: f64 = 1.0;

/// `--stop-on-saturation`: a level stopped sending once it was certain not to pass, then waited
/// for its requests in flight. Found by `analyze::early`, kept in metadata.json so that `redline
/// report` rebuilds the same level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlyStop {
    /// Seconds into the level when sending stopped.
    pub at_s: f64,
    /// What made it certain, in words.
    pub reason: String,
    /// What kind of saturation: the endpoint queued, or refused requests.
    pub cause: StopCause,
    /// Seconds of sending the stop saved (the planned window less `at_s`).
    pub saved_s: f64,
}

/// Why a level was stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopCause {
    Queueing,
    Errors,
}

/// What a level measured. Everything but the records is derived from them by [`LevelRun::new`],
/// so `redline report` rebuilds the same figures from `requests.jsonl`.
#[derive(Debug, Clone)]
pub struct LevelRun {
    /// Which level this is, as it was planned.
    pub id: LevelId,
    /// The level's rate: what it offered, or for a closed loop what it achieved.
    pub qps: f64,
    /// The window the schedule was planned for (`--duration`, or until an interruption).
    pub planned_window_s: f64,
    /// In the order they finished.
    pub records: Vec<RequestRecord>,
    /// The configured duration, stretched to the last actual send if the client sent late, or cut
    /// short by an interruption.
    pub send_window_s: f64,
    /// From the level's start until its last request ended (at least the send window).
    pub duration_s: f64,
    /// Requests still in flight when the send window closed.
    pub in_flight_at_send_end: u64,
    /// Interrupted before every scheduled request was sent and finished.
    pub partial: bool,
    /// `--metrics-url`: the endpoint's metrics, scraped during the level.
    pub server: Vec<crate::measure::prometheus::Scrape>,
    /// `report --from-partial-records`: the level was rebuilt from fewer records than it
    /// measured (kept, measured), so its verdict may not be used.
    pub rebuilt_from: Option<(u64, u64)>,
    /// `--stop-on-saturation` stopped sending early; the level is whole, not interrupted.
    pub early_stop: Option<EarlyStop>,
    /// Its first replies' tokens counted by a tokenizer against the server's bill.
    pub token_check: Option<crate::measure::checked::TokenCheck>,
}

impl LevelRun {
    /// Derives a level's windows from its records. `duration_s` is the configured send window;
    /// `stopped_at` is when an interruption stopped sending (seconds since the level start).
    pub fn new(
        id: LevelId,
        qps: f64,
        duration_s: f64,
        records: Vec<RequestRecord>,
        stopped_at: Option<f64>,
    ) -> Self {
        // A session's later turns follow its replies, so only arrivals can stretch the window; and
        // only the client's lateness can, not an endpoint slow to accept connections.
        let last_sent = records
            .iter()
            .filter(|r| r.is_arrival())
            .filter_map(|r| r.attempt_s())
            .fold(0.0, f64::max);
        let send_window_s = match stopped_at {
            Some(t) => t.max(1e-6),
            None => duration_s.max(last_sent),
        };
        let last_end = records.iter().map(|r| r.end_s).fold(0.0, f64::max);
        let in_flight_at_send_end = records
            .iter()
            .filter(|r| r.sent_s.is_some_and(|s| s <= duration_s) && r.end_s > duration_s)
            .count() as u64;
        let partial = stopped_at.is_some() || interrupted(&records);
        LevelRun {
            id,
            qps,
            planned_window_s: stopped_at.unwrap_or(duration_s).max(1e-6),
            duration_s: send_window_s.max(last_end),
            send_window_s,
            in_flight_at_send_end,
            partial,
            records,
            server: Vec::new(),
            rebuilt_from: None,
            early_stop: None,
            token_check: None,
        }
    }

    /// The level as stopped early: sending stopped at `stop.at_s` on purpose, and every request
    /// sent was waited for, so it is whole, not interrupted.
    pub fn stopped_early(mut self, stop: EarlyStop) -> Self {
        self.partial = interrupted(&self.records);
        self.early_stop = Some(stop);
        self
    }
}

/// Whether an interruption cut any of `records` short.
fn interrupted(records: &[RequestRecord]) -> bool {
    records
        .iter()
        .any(|r| r.error == Some(ErrorKind::Interrupted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_latencies_count_from_planned_time() {
        let mut r = RequestRecord::new(0, 1.0, 0, 0, 1.0);
        r.sent_s = Some(1.002);
        r.first_token_s = Some(1.05);
        r.end_s = 2.05;
        r.completion_tokens = Some(101);
        assert!((r.ttft_s().unwrap() - 0.05).abs() < 1e-9);
        assert!((r.e2e_s() - 1.05).abs() < 1e-9);
        assert!((r.tpot_s().unwrap() - 0.01).abs() < 1e-9);
        assert!((r.lag_s().unwrap() - 0.002).abs() < 1e-9);
        assert!((r.tokens_per_sec().unwrap() - 101.0 / 1.05).abs() < 1e-9);
    }
}
