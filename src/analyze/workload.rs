//! What a level's workload was, beyond its latencies: the token lengths asked for against those
//! the endpoint reported (`usage`), for synthetic prompts and traces; and for `--sessions`, how
//! many sessions ran and finished, and the figures of each turn (a prefix cache shows as later
//! turns answering faster than first ones). `level.rs` adds both to the level's report.

use crate::analyze::stats::{LagSummary, Percentiles};
use crate::measure::record::RequestRecord;
use serde::Serialize;
use std::collections::BTreeMap;

/// Requested against measured lengths, over successful requests that asked for a length and
/// whose stream reported `usage`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenLengths {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<LengthFit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<LengthFit>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LengthFit {
    pub requests: u64,
    pub requested_mean: f64,
    pub measured_mean: f64,
    /// (measured - requested) / requested of the means, percent.
    pub mean_error_pct: f64,
    pub measured: Percentiles,
}

/// The level's lengths, or `None` when no request asked for one.
pub fn token_lengths(ok: &[&RequestRecord], percentiles: &[f64]) -> Option<TokenLengths> {
    let fit = |pairs: Vec<(f64, f64)>| {
        if pairs.is_empty() {
            return None;
        }
        let n = pairs.len() as f64;
        let requested = pairs.iter().map(|p| p.0).sum::<f64>() / n;
        let measured = pairs.iter().map(|p| p.1).sum::<f64>() / n;
        Some(LengthFit {
            requests: pairs.len() as u64,
            requested_mean: requested,
            measured_mean: measured,
            mean_error_pct: (measured - requested) / requested.max(f64::MIN_POSITIVE) * 100.0,
            measured: Percentiles::of(pairs.iter().map(|p| p.1).collect(), percentiles),
        })
    };
    let input = fit(ok
        .iter()
        .filter_map(|r| Some((r.requested_input_tokens? as f64, r.prompt_tokens? as f64)))
        .collect());
    let output = fit(ok
        .iter()
        .filter_map(|r| {
            Some((
                f64::from(r.requested_output_tokens?),
                r.completion_tokens? as f64,
            ))
        })
        .collect());
    let asked = ok
        .iter()
        .any(|r| r.requested_input_tokens.is_some() || r.requested_output_tokens.is_some());
    asked.then_some(TokenLengths { input, output })
}

/// `--sessions`: the level's sessions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionSummary {
    /// Sessions whose first turn was scheduled.
    pub sessions: u64,
    /// Sessions whose every turn succeeded.
    pub completed: u64,
    /// The turns of the sessions that started, and those never sent because their session ended
    /// at an earlier failure (they count as failed in the level's success rate).
    pub turns_planned: u64,
    pub turns_not_sent: u64,
    /// Of those, the turns of sessions that ended at a client-side failure (the client's
    /// concurrency cap, its resources, an interruption): not counted against the endpoint.
    pub turns_not_sent_client_side: u64,
    /// Requests of all turns, and per session on average.
    pub requests: u64,
    pub mean_turns_sent: f64,
    /// Requests per second over the level's duration (sessions multiply the arrival rate).
    pub request_rate_qps: f64,
    /// How late the later turns went out after the previous reply ended (and the think time):
    /// the client's own delay, not part of the arrival schedule's lag.
    pub later_turn_lag_s: LagSummary,
    /// Each turn's first request (a turn's tool results are counted beside).
    pub by_turn: Vec<TurnReport>,
    /// `--tools`: the requests that sent a turn's tool results, and of those the successes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_results: Option<ToolResults>,
}

/// The requests of a level's sessions that sent tool results back (`--tools`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolResults {
    pub requests: u64,
    pub succeeded: u64,
    /// Of the turns' first requests that succeeded, those whose reply called a tool.
    pub turns_calling_tools: u64,
}

/// One turn index across the level's sessions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TurnReport {
    pub turn: u32,
    pub requests: u64,
    pub succeeded: u64,
    pub ttft: Percentiles,
    pub e2e_latency: Percentiles,
    /// Mean prompt tokens the endpoint reported (the history grows turn by turn).
    pub input_tokens_mean: Option<f64>,
}

/// The level's sessions, or `None` when its requests were not sessions.
pub fn sessions(
    recs: &[RequestRecord],
    duration_s: f64,
    percentiles: &[f64],
) -> Option<SessionSummary> {
    let by_session = tally(recs, RequestRecord::succeeded);
    let mut by_turn: BTreeMap<u32, Vec<&RequestRecord>> = BTreeMap::new();
    for r in recs.iter().filter(|r| r.tool_round.is_none()) {
        if let (Some(_), Some(t)) = (r.session, r.turn) {
            by_turn.entry(t).or_default().push(r);
        }
    }
    if by_session.is_empty() {
        return None;
    }
    let requests: u64 = by_session.values().map(|e| u64::from(e.0)).sum();
    let turns_planned: u64 = by_session.values().map(|e| u64::from(e.1.max(e.0))).sum();
    let tool_results = tool_results(recs);
    let turns = by_turn
        .into_iter()
        .map(|(turn, rs)| {
            let ok: Vec<&&RequestRecord> = rs.iter().filter(|r| r.succeeded()).collect();
            let inputs: Vec<f64> = ok
                .iter()
                .filter_map(|r| r.prompt_tokens)
                .map(|t| t as f64)
                .collect();
            TurnReport {
                turn,
                requests: rs.len() as u64,
                succeeded: ok.len() as u64,
                ttft: Percentiles::of(ok.iter().filter_map(|r| r.ttft_s()).collect(), percentiles),
                e2e_latency: Percentiles::of(ok.iter().map(|r| r.e2e_s()).collect(), percentiles),
                input_tokens_mean: (!inputs.is_empty())
                    .then(|| inputs.iter().sum::<f64>() / inputs.len() as f64),
            }
        })
        .collect();
    Some(SessionSummary {
        sessions: by_session.len() as u64,
        completed: by_session.values().filter(|e| e.2 && e.0 >= e.1).count() as u64,
        turns_planned,
        turns_not_sent: turns_planned - requests,
        turns_not_sent_client_side: unsent_after_client_failures(recs),
        requests,
        mean_turns_sent: (requests - tool_results.as_ref().map_or(0, |t| t.requests)) as f64
            / by_session.len() as f64,
        request_rate_qps: requests as f64 / duration_s.max(f64::EPSILON),
        later_turn_lag_s: LagSummary::of(
            recs.iter()
                .filter(|r| !r.is_arrival())
                .filter_map(|r| r.lag_s())
                .collect(),
        ),
        by_turn: turns,
        tool_results,
    })
}

/// The tool-result requests of a level's sessions, when any reply called a tool.
fn tool_results(recs: &[RequestRecord]) -> Option<ToolResults> {
    let sent: Vec<&RequestRecord> = recs.iter().filter(|r| r.tool_round.is_some()).collect();
    let calling = recs
        .iter()
        .filter(|r| r.tool_round.is_none() && r.succeeded() && r.first_tool_call_s.is_some())
        .count() as u64;
    (calling > 0 || !sent.is_empty()).then(|| ToolResults {
        requests: sent.len() as u64,
        succeeded: sent.iter().filter(|r| r.succeeded()).count() as u64,
        turns_calling_tools: calling,
    })
}

/// Sessions all of whose planned turns ran and satisfy `f`.
pub fn sessions_where(recs: &[RequestRecord], f: impl Fn(&RequestRecord) -> bool) -> usize {
    tally(recs, f)
        .values()
        .filter(|e| e.2 && e.0 >= e.1)
        .count()
}

/// The turns never sent because their session ended at a client-side failure. A failed turn
/// ends its session, so a session with a client-side failure ended at it.
fn unsent_after_client_failures(recs: &[RequestRecord]) -> u64 {
    tally(recs, |r| !r.error.is_some_and(|k| k.is_client_side()))
        .values()
        .filter(|(_, _, no_client_failure)| !no_client_failure)
        .map(|(sent, planned, _)| u64::from(planned.saturating_sub(*sent)))
        .sum()
}

/// Each session's turns sent, turns planned, and whether every sent turn satisfies `f`.
fn tally(
    recs: &[RequestRecord],
    f: impl Fn(&RequestRecord) -> bool,
) -> BTreeMap<u64, (u32, u32, bool)> {
    let mut by_session: BTreeMap<u64, (u32, u32, bool)> = BTreeMap::new();
    for r in recs {
        let (Some(s), Some(t)) = (r.session, r.turn) else {
            continue;
        };
        let e = by_session
            .entry(s)
            .or_insert((0, r.session_turns.unwrap_or(t), true));
        e.0 += 1;
        e.2 &= f(r);
    }
    by_session
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(session: u64, turn: u32, of: u32, ok: bool, ttft: f64, prompt: u64) -> RequestRecord {
        let mut r = RequestRecord::new(0, 1.0, session * 10 + u64::from(turn), 0, session as f64);
        r.session = Some(session);
        r.turn = Some(turn);
        r.session_turns = Some(of);
        r.sent_s = Some(r.planned_s);
        r.first_token_s = Some(r.planned_s + ttft);
        r.end_s = r.planned_s + 1.0;
        r.prompt_tokens = Some(prompt);
        r.completion_tokens = Some(10);
        if !ok {
            r.error = Some(crate::measure::record::ErrorKind::Http(503));
        }
        r
    }

    #[test]
    fn sessions_count_completions_and_split_by_turn() {
        let recs = vec![
            turn(0, 1, 2, true, 0.4, 100),
            turn(0, 2, 2, true, 0.1, 220),
            turn(1, 1, 2, true, 0.6, 100),
            turn(1, 2, 2, false, 0.1, 0),
            turn(2, 1, 2, true, 0.5, 100),
        ];
        let s = sessions(&recs, 10.0, &[50.0]).unwrap();
        assert_eq!((s.sessions, s.completed, s.requests), (3, 1, 5));
        // Session 2 ended after its first turn: one planned turn never sent.
        assert_eq!((s.turns_planned, s.turns_not_sent), (6, 1));
        assert_eq!(sessions_where(&recs, RequestRecord::succeeded), 1);
        assert!((s.request_rate_qps - 0.5).abs() < 1e-12);
        assert_eq!(s.by_turn.len(), 2);
        assert_eq!((s.by_turn[0].requests, s.by_turn[0].succeeded), (3, 3));
        assert!((s.by_turn[0].ttft.get(50.0).unwrap() - 0.5).abs() < 1e-9);
        assert!((s.by_turn[1].ttft.get(50.0).unwrap() - 0.1).abs() < 1e-9);
        assert_eq!(s.by_turn[1].input_tokens_mean, Some(220.0));
        assert!(sessions(&[RequestRecord::new(0, 1.0, 0, 0, 0.0)], 1.0, &[]).is_none());
    }

    #[test]
    fn turns_a_client_side_failure_cost_are_the_clients() {
        let mut capped = turn(1, 1, 4, false, 0.1, 0);
        capped.error = Some(crate::measure::record::ErrorKind::ConcurrencyLimit);
        let recs = vec![
            turn(0, 1, 3, true, 0.1, 100),
            turn(0, 2, 3, false, 0.1, 0),
            capped,
        ];
        let s = sessions(&recs, 10.0, &[50.0]).unwrap();
        // Session 0 lost 1 turn to the endpoint's 503; session 1 lost 3 to the client's cap.
        assert_eq!((s.turns_not_sent, s.turns_not_sent_client_side), (4, 3));
    }

    #[test]
    fn lengths_compare_what_was_asked_with_usage() {
        let mut a = RequestRecord::new(0, 1.0, 0, 0, 0.0);
        a.requested_input_tokens = Some(100);
        a.requested_output_tokens = Some(10);
        a.prompt_tokens = Some(104);
        a.completion_tokens = Some(10);
        let mut b = a.clone();
        b.prompt_tokens = Some(102);
        let l = token_lengths(&[&a, &b], &[]).unwrap();
        let input = l.input.unwrap();
        assert_eq!(
            (input.requests, input.requested_mean, input.measured_mean),
            (2, 100.0, 103.0)
        );
        assert!((input.mean_error_pct - 3.0).abs() < 1e-9);
        assert_eq!(l.output.unwrap().mean_error_pct, 0.0);
        assert!(token_lengths(&[&RequestRecord::new(0, 1.0, 0, 0, 0.0)], &[]).is_none());
    }
}
