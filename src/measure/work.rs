//! What one arrival sends, whichever loop made it arrive (`runner.rs`'s open loop on deadlines,
//! `closed.rs`'s workers): the mode is data, an arrival process times a [`Work`], and both loops
//! hand every arrival to [`Work::arrive`].
//!
//! - [`Work::Samples`]: one request with the sample the level's `Picker` gives arrival `i`
//!   (`pick.rs`), its body built before the first level.
//! - [`Work::Trace`]: one request with trace request `i`'s prompt and reply length.
//! - [`Work::Sessions`]: a user session: the picked conversation's user turns one after another,
//!   each planned `--think-time` after the previous reply ended, with the real replies so far in
//!   its history (as a chat client sends them, so an endpoint's prefix cache sees what it would
//!   in production). A failed turn ends its session. Each turn is one record, with its session
//!   and turn number; with `--tools`, a turn whose reply calls tools sends their results in more
//!   requests of the same turn (`tool_loop.rs`), each a record with its `tool_round`.
//!
//! Every request ends as one `RequestRecord` sent to the level's collector as a [`Msg`].

use crate::config::ToolLoop;
use crate::dataset::trace::TracePrompts;
use crate::dataset::{Conversation, Lengths, Message};
use crate::measure::chat::KeptReply;
use crate::measure::pick::Picker;
use crate::measure::record::{ErrorKind, RequestRecord};
use crate::measure::target::{Payload, Target};
use crate::measure::time::since;
use crate::measure::tool_loop;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Ctrl-C handling: `stop` ends sending; `abort` ends requests still in flight.
#[derive(Clone, Default)]
pub struct Cancel {
    pub stop: CancellationToken,
    pub abort: CancellationToken,
}

/// What each arrival of a level sends.
#[derive(Clone)]
pub enum Work {
    Samples,
    Trace(Arc<TracePrompts>),
    Sessions(Arc<Sessions>),
}

/// What the level's collector hears.
pub enum Msg {
    Sent,
    Done(Box<RequestRecord>),
}

/// `--sessions`: the conversations as sessions, and the pause between a reply and the next turn.
pub struct Sessions {
    pub scripts: Vec<Script>,
    pub think_time_s: f64,
    /// The most turns of any session (numbers the requests).
    pub max_turns: usize,
    /// `--tools`: each tool call answered, and the turn continued.
    pub tools: Option<ToolLoop>,
}

/// One session: the messages that open every request (system prompts), the user turns in order,
/// and the lengths its prompts were built to.
pub struct Script {
    pub opening: Vec<Message>,
    pub turns: Vec<Message>,
    pub lengths: Option<Lengths>,
}

impl Sessions {
    /// Each conversation as a session: its leading system messages open every turn, each user
    /// message is a turn, and its recorded assistant replies are replaced by the real ones.
    pub fn new(conversations: &[Conversation], think_time_s: f64) -> Sessions {
        let scripts: Vec<Script> = conversations
            .iter()
            .map(|c| {
                let opening: Vec<Message> = c
                    .messages
                    .iter()
                    .take_while(|m| m.role == "system")
                    .cloned()
                    .collect();
                let turns = c.messages[opening.len()..]
                    .iter()
                    .filter(|m| m.role == "user")
                    .cloned()
                    .collect();
                Script {
                    opening,
                    turns,
                    lengths: c.lengths,
                }
            })
            .filter(|s| !s.turns.is_empty())
            .collect();
        Sessions {
            max_turns: scripts.iter().map(|s| s.turns.len()).max().unwrap_or(1),
            scripts,
            think_time_s,
            tools: None,
        }
    }

    /// Mean turns per session.
    pub fn mean_turns(&self) -> f64 {
        let n = self.scripts.len().max(1) as f64;
        self.scripts.iter().map(|s| s.turns.len()).sum::<usize>() as f64 / n
    }
}

/// A request's record, and its place under `--max-concurrency` while it is in flight. The record
/// is boxed (it goes to the collector boxed anyway), so it is not copied into each future that
/// moves it: a request's task stays small (docs/performance.md, memory per in-flight stream).
pub type Held = (Box<RequestRecord>, Option<OwnedSemaphorePermit>);

/// What every arrival of a level shares.
#[derive(Clone)]
pub struct Ctx {
    pub target: Arc<Target>,
    pub level: usize,
    pub qps: f64,
    /// The level's start: every time is seconds since it.
    pub start: Instant,
    pub cancel: Cancel,
    /// `--max-concurrency`.
    pub cap: Option<Arc<Semaphore>>,
    /// Which sample (or session) each arrival sends.
    pub picker: Picker,
    /// A closed-loop level's workers in this process (its records carry it instead of a rate).
    pub concurrency: Option<usize>,
    /// `--repeat`: the repetition its records carry.
    pub repeat: Option<u32>,
    pub tx: mpsc::UnboundedSender<Msg>,
}

impl Ctx {
    /// A new record of request `i` of the level: on a closed loop it carries the concurrency,
    /// not a rate.
    pub fn record(&self, i: u64, sample: usize, planned_s: f64) -> RequestRecord {
        let mut rec = RequestRecord::new(self.level, self.qps, i, sample, planned_s);
        rec.repeat = self.repeat;
        if let Some(n) = self.concurrency {
            rec.qps_target = None;
            rec.concurrency = Some(n);
        }
        rec
    }

    /// A permit for one more request in flight; `None` when refused (the refusal's record is sent).
    pub fn permit(&self, rec: RequestRecord) -> Option<Held> {
        let Some(sem) = &self.cap else {
            return Some((Box::new(rec), None));
        };
        match sem.clone().try_acquire_owned() {
            Ok(p) => Some((Box::new(rec), Some(p))),
            Err(_) => {
                let mut rec = rec;
                rec.end_s = since(Instant::now(), self.start);
                rec.error = Some(ErrorKind::ConcurrencyLimit);
                rec.error_detail =
                    Some("--max-concurrency requests were already in flight; not sent".into());
                let _ = self.tx.send(Msg::Done(Box::new(rec)));
                None
            }
        }
    }
}

impl Work {
    /// Whether arrivals run one request each (the loop may check the cap before spawning them).
    pub fn single(&self) -> bool {
        !matches!(self, Work::Sessions(_))
    }

    /// The record of arrival `i` planned at `planned_s`, for a single-request arrival.
    pub fn record(&self, ctx: &Ctx, i: u64, planned_s: f64) -> RequestRecord {
        let (sample, lengths) = match self {
            Work::Trace(t) => {
                let r = t.requests.get(i as usize);
                (
                    i as usize,
                    r.map(|r| Lengths {
                        input_tokens: r.input_tokens,
                        output_tokens: r.output_tokens,
                    }),
                )
            }
            _ => {
                let s = ctx.picker.pick(i);
                (s, ctx.target.lengths(s))
            }
        };
        let mut rec = ctx.record(i, sample, planned_s);
        rec.requested_input_tokens = lengths.map(|l| l.input_tokens);
        // A reply that comes whole (embeddings, rerank) was asked for no output tokens.
        let generates = !ctx.target.template.api().batched();
        rec.requested_output_tokens = lengths.filter(|_| generates).map(|l| l.output_tokens);
        rec
    }

    /// What a single-request arrival sends: its sample's body, built before the first level, or
    /// a trace request's, built here (the open loop calls this before the arrival's deadline, so
    /// building never delays the send).
    pub fn payload(&self, ctx: &Ctx, rec: &RequestRecord) -> Payload {
        match self {
            Work::Trace(t) => {
                let messages = [Message::new("user", t.prompt(rec.sample))];
                Payload::Body(
                    ctx.target
                        .template
                        .build(&messages, rec.requested_output_tokens),
                )
            }
            _ => Payload::Sample(ctx.target.variant(rec.sample, rec.index)),
        }
    }

    /// Runs arrival `i`, planned at `planned_s`: a request whose record (from [`Work::record`])
    /// already holds its permit, with its payload, or a whole session.
    pub async fn arrive(&self, ctx: &Ctx, i: u64, planned_s: f64, single: Option<(Held, Payload)>) {
        match (self, single) {
            // Boxed: a session's future is larger than a request's, and would size every task.
            (Work::Sessions(s), _) => Box::pin(session(s, ctx, i, planned_s)).await,
            (_, None) => {}
            (_, Some(((mut rec, permit), payload))) => {
                let keep = ctx.target.wants_text(&rec);
                let reply = ctx
                    .target
                    .measure_payload(&mut rec, &payload, keep, ctx.start, &ctx.cancel.abort)
                    .await;
                ctx.target.keep_for_check(&mut rec, reply.as_ref());
                drop(permit);
                let _ = ctx.tx.send(Msg::Done(rec));
            }
        }
    }
}

/// Session `i`: its turns in order until one fails, the run stops, or they are done. With a
/// tool loop, a turn whose reply calls tools goes on with their results (`tool_loop.rs`).
async fn session(s: &Sessions, ctx: &Ctx, i: u64, first_planned_s: f64) {
    let picked = ctx.picker.pick(i);
    let Some(script) = s.scripts.get(picked) else {
        return;
    };
    let mut history = script.opening.clone();
    let mut planned = first_planned_s;
    let turns = script.turns.len() as u32;
    // Requests sent after a turn's first: they add to the session's planned requests.
    let mut continued = 0;
    let slots = s.tools.as_ref().map_or(1, ToolLoop::slots);
    for (k, user) in script.turns.iter().enumerate() {
        if k > 0 {
            let due = ctx.start + Duration::from_secs_f64(planned.max(0.0));
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                _ = ctx.cancel.stop.cancelled() => return,
            }
        }
        history.push(user.clone());
        for round in 0..slots {
            // Session i's turn k is request (i x max_turns + k) x slots + round: the same in
            // one process or a shard.
            let index = (i * s.max_turns as u64 + k as u64) * slots + round;
            let mut rec = ctx.record(index, picked, planned);
            rec.session = Some(i);
            rec.turn = Some(k as u32 + 1);
            rec.tool_round = (round > 0).then_some(round as u32);
            continued += u32::from(round > 0);
            rec.session_turns = Some(turns + continued);
            rec.requested_input_tokens = script
                .lengths
                .filter(|_| k == 0 && round == 0)
                .map(|l| l.input_tokens);
            rec.requested_output_tokens = script.lengths.map(|l| l.output_tokens);
            crate::measure::media::media_of(&history).note(&mut rec);
            rec.adapter = ctx.target.adapter_of(i).map(|(_, name)| name);
            let Some((reply, ended)) = turn(ctx, rec, &history).await else {
                return;
            };
            let calls = reply.calls.clone();
            history.push(Message::assistant(reply.text, reply.calls));
            planned = ended;
            match (&s.tools, calls.is_empty()) {
                (Some(tools), false) => history.extend(tool_loop::answer(tools, &calls)),
                _ => break,
            }
        }
        planned += s.think_time_s;
    }
}

/// One request of a session with `history`: its reply and when it ended, or `None` when it
/// was not sent or failed (the session ends).
async fn turn(ctx: &Ctx, rec: RequestRecord, history: &[Message]) -> Option<(KeptReply, f64)> {
    let (mut rec, permit) = ctx.permit(rec)?;
    let body =
        ctx.target
            .template
            .build_as(history, rec.requested_output_tokens, rec.adapter.as_deref());
    let _ = ctx.tx.send(Msg::Sent);
    let reply = ctx
        .target
        .measure_payload(
            &mut rec,
            &Payload::Body(body),
            true,
            ctx.start,
            &ctx.cancel.abort,
        )
        .await;
    drop(permit);
    ctx.target.keep_for_check(&mut rec, reply.as_ref());
    let ended = rec.end_s;
    let _ = ctx.tx.send(Msg::Done(rec));
    reply.map(|r| (r, ended))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(role: &'static str, content: &str) -> Message {
        Message::new(role, content)
    }

    #[test]
    fn a_conversation_becomes_its_user_turns_after_its_system_prompt() {
        let c = Conversation {
            messages: vec![
                m("system", "S"),
                m("user", "u1"),
                m("assistant", "recorded"),
                m("user", "u2"),
            ],
            lengths: None,
        };
        let s = Sessions::new(&[c], 0.5);
        assert_eq!(s.scripts[0].opening, vec![m("system", "S")]);
        assert_eq!(s.scripts[0].turns, vec![m("user", "u1"), m("user", "u2")]);
        assert_eq!(s.mean_turns(), 2.0);
    }

    /// Every request in flight is one task holding this future, so its size is most of a
    /// stream's memory: sessions, reqwest, HTTP/2, the TLS handshake and the error paths are
    /// boxed so they do not size every request's task (it was 7.3 KiB, 11 KiB per stream in
    /// all; docs/performance.md measures the whole, `bench/run.sh` section 3).
    #[tokio::test]
    async fn a_requests_task_stays_small() {
        let args = crate::cli::BenchArgs::new("http://127.0.0.1:9", "m", "bundled".into());
        let cfg = crate::config::Config::from_args(&args).unwrap();
        let convs = crate::dataset::parse(crate::dataset::BUNDLED, "bundled").unwrap();
        let mut target = Target::new(&cfg).unwrap();
        target.load(&convs, false);
        let (tx, _rx) = mpsc::unbounded_channel();
        let ctx = Ctx {
            target: Arc::new(target),
            level: 0,
            qps: 1.0,
            start: Instant::now(),
            cancel: Cancel {
                stop: Default::default(),
                abort: Default::default(),
            },
            cap: None,
            picker: Picker::Cycle(1),
            concurrency: None,
            repeat: None,
            tx,
        };
        let held = ctx.permit(ctx.record(0, 0, 0.0)).unwrap();
        let task = Work::Samples.arrive(&ctx, 0, 0.0, Some((held, Payload::Sample(0))));
        let bytes = std::mem::size_of_val(&task);
        assert!(bytes <= 4096, "a request's future is {bytes} bytes");
    }
}
