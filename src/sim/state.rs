//! What every route of the simulator shares: its state (the response model, the served model's
//! name, how prompts are read), reading a request body, an error's body, a prompt's tokens and
//! blocks, a content's text, and answering an admitted request as a stream or one JSON body.
//! `mod.rs` and `batched.rs` build their routes on it; `stream.rs` writes the replies.

use super::model::{Admission, ReplyEvent, ResponseModel, SimRequest};
use super::prefix::{self, PromptKey, Tokens};
use super::stream::{self, Shape};
use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub(super) struct AppState {
    pub(super) model: Box<dyn ResponseModel>,
    pub(super) served_model: String,
    pub(super) next_id: AtomicU64,
    /// Chat replies open with this many reasoning tokens (`--reasoning-tokens`).
    pub(super) reasoning_tokens: u64,
    /// How prompts are counted (`--tokenizer`).
    pub(super) tokens: Tokens,
    /// Give each request its prompt's blocks (`--prefix-caching`).
    pub(super) prefix_caching: bool,
    /// The vision encoder and its cache (`vision.rs`).
    pub(super) vision: super::vision::Vision,
    /// The LoRA adapters loaded (`adapters.rs`).
    pub(super) adapters: super::adapters::Adapters,
}

#[derive(Deserialize)]
pub(super) struct StreamOptions {
    #[serde(default)]
    pub(super) include_usage: bool,
}

/// A request body as JSON, or the 400 answer to it.
pub(super) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            &format!("invalid request body: {e}"),
            "invalid_request_error",
        ))
    })
}

pub(super) fn error(status: StatusCode, message: &str, kind: &str) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "code": status.as_u16()}});
    (status, Json(body)).into_response()
}

impl AppState {
    /// A prompt's tokens (each message's content + 4), and with `--prefix-caching` its blocks and
    /// those of the conversation once the reply is appended, as the next turn sends it back.
    pub(super) fn prompt(&self, messages: &[(&str, &str)]) -> (u64, Option<Arc<PromptKey>>) {
        if !self.prefix_caching {
            let n = messages.iter().map(|(_, t)| self.tokens.count(t) + 4).sum();
            return (n, None);
        }
        let mut seq = Vec::new();
        for (role, text) in messages {
            self.tokens.message(role, text, &mut seq);
        }
        let (tokens, reasoning) = (self.tokens.clone(), self.reasoning_tokens);
        let blocks = prefix::block_hashes(&seq);
        let n = seq.len() as u64;
        let key = PromptKey::new(blocks, move |generated| {
            let reply = stream::reply_text(reasoning, generated);
            let mut seq = seq.clone();
            tokens.message("assistant", &reply, &mut seq);
            prefix::block_hashes(&seq)
        });
        (n, Some(Arc::new(key)))
    }
}

/// A message item: its role and its text. The Responses API's `function_call` counts its name
/// and arguments and its `function_call_output` its output, as chat's and Anthropic's calls and
/// results do.
pub(super) fn item(v: &serde_json::Value) -> (String, String) {
    match v.get("type").and_then(|t| t.as_str()) {
        Some("function_call") => {
            let (name, args) = (v["name"].as_str(), v["arguments"].as_str());
            return ("assistant".into(), call_text(name, args));
        }
        Some("function_call_output") => return ("tool".into(), part_text(&v["output"])),
        _ => {}
    }
    let role = v.get("role").and_then(|r| r.as_str()).unwrap_or("user");
    (role.to_string(), part_text(v.get("content").unwrap_or(v)))
}

/// A tool call's text as a prompt holds it, the same under every API: its name and arguments.
pub(super) fn call_text(name: Option<&str>, arguments: Option<&str>) -> String {
    format!("{} {}", name.unwrap_or(""), arguments.unwrap_or(""))
}

/// A content value's text: a string, or its parts' texts joined.
pub(super) fn part_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        // Text parts; a tool's result (Anthropic's `tool_result`) by its content, a call
        // (`tool_use`) by its input.
        serde_json::Value::Array(parts) => parts
            .iter()
            .filter_map(|p| match p.get("text").and_then(|t| t.as_str()) {
                Some(t) => Some(t.to_string()),
                None => p.get("content").map(part_text).or_else(|| {
                    let input = p.get("input")?.to_string();
                    Some(call_text(p["name"].as_str(), Some(&input)))
                }),
            })
            .collect::<Vec<_>>()
            .join(""),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl AppState {
    /// What every chunk of a reply shares: its id, the model named (else the served one), usage
    /// when asked, and the API's shape (chat replies open with the reasoning tokens).
    pub(super) fn meta(
        &self,
        model: Option<String>,
        options: Option<StreamOptions>,
        shape: Shape,
        prompt_tokens: u64,
    ) -> stream::Meta {
        stream::Meta {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            model: model.unwrap_or_else(|| self.served_model.clone()),
            include_usage: options.is_some_and(|o| o.include_usage),
            shape,
            reasoning_tokens: match shape {
                Shape::Completions => 0,
                _ => self.reasoning_tokens,
            },
            prompt_tokens,
            tool: None,
            inputs: 0,
        }
    }
}

impl AppState {
    /// What a request's images (and clips) and adapter cost before it is admitted: the encoder's
    /// time and an adapter's load, waited here; returns the prompt tokens the media add.
    pub(super) async fn before_admission(
        &self,
        carried: &super::vision::Carried,
        model: Option<&str>,
    ) -> u64 {
        let images = &carried.fetched().await;
        self.vision.encode(images).await;
        // A model other than the served one names a LoRA adapter: loaded first when it is not.
        if let Some(m) = model.filter(|m| *m != self.served_model) {
            self.adapters.serve(m).await;
        }
        self.vision.tokens(images)
    }
}

/// Admits a request and answers it: a stream, one JSON body, or an error.
pub(super) async fn respond(
    st: &AppState,
    sim_req: SimRequest,
    meta: stream::Meta,
    streaming: bool,
    start: tokio::time::Instant,
) -> Response {
    match st.model.admit(&sim_req) {
        Admission::Reject { status, message } => reject(status, &message),
        Admission::Serve(plan) if streaming => sse_response(Body::from_stream(stream::timed_sse(
            meta,
            sim_req.prompt_tokens,
            plan,
            start,
        ))),
        Admission::Serve(plan) => {
            Json(stream::timed_json(meta, sim_req.prompt_tokens, plan, start).await).into_response()
        }
        // The status is chosen once the engine has either produced a first token or rejected.
        Admission::Queued(mut ticket) => match ticket.next().await {
            Some(ReplyEvent::Token) if streaming => {
                sse_response(Body::from_stream(stream::queued_sse(meta, ticket)))
            }
            Some(ReplyEvent::Token) => match stream::queued_json(meta, ticket).await {
                Some(v) => Json(v).into_response(),
                None => reject(503, "the engine stopped"),
            },
            Some(ReplyEvent::Rejected { status, message }) => reject(status, &message),
            Some(ReplyEvent::Done { .. }) | None => reject(503, "the engine stopped"),
        },
    }
}

pub(super) fn reject(status: u16, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    error(status, message, "server_error")
}

pub(super) fn sse_response(body: Body) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(body)
        .unwrap_or_else(|_| reject(500, "response build failed"))
}
