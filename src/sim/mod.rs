//! The built-in simulated endpoint: an OpenAI-compatible chat completions server (streaming and not,
//! with `usage`) for demos and tests.
//!
//! Routes: `POST /v1/chat/completions`, `POST /v1/completions`, `POST /v1/responses` and
//! `POST /v1/messages` (the same engine, each answering in its API's events; all but completions
//! can open with reasoning tokens, `--reasoning-tokens`), `POST /v1/embeddings` and
//! `POST /v1/rerank` (whole replies, `batched.rs`), `POST /tokenize`, `GET /v1/models`, `/health`, `/metrics`,
//! `/sim/stats`. [`app`] builds the axum `Router` without binding a port; [`spawn`] binds `127.0.0.1:0` (or any
//! address) and returns the bound address; `redline sim` calls [`serve`]. What each request's timing
//! is, and whether it is served at all, is decided behind one seam, [`model::ResponseModel`]: the
//! batching engine (`engine.rs`, run by `driver.rs`) or the fixed-latency model. `profile.rs` turns
//! flags (`cli::SimModelArgs`) and presets into one of them; `metrics.rs` renders `/metrics`;
//! `sweep.rs` runs the engine through a redline level in virtual time. Prompt tokens are counted
//! per message as its content's tokens + 4: by `--tokenizer` when given, else ceil(characters /
//! 4); `prefix.rs` turns prompts into the blocks of the prefix cache (`--prefix-caching`).
//! Imports within `sim/` point one way: mod -> stream/profile -> driver -> model -> metrics,
//! engine -> prefix.

mod adapters;
mod batched;
pub mod driver;
pub mod engine;
mod lru;
pub mod metrics;
pub mod model;
pub mod prefix;
pub mod profile;
mod state;
mod stream;
pub mod sweep;
mod vision;

use state::{error, item, parse_body, part_text, respond, AppState, StreamOptions};
use stream::Shape;

use crate::cli::{SimArgs, SimModelArgs};
use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use model::{FixedLatency, ResponseModel, SimRequest};
use prefix::Tokens;
pub use profile::SimModel;
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// How the simulator reads prompts: `--reasoning-tokens`, `--tokenizer`, `--prefix-caching`.
#[derive(Clone, Default)]
pub struct Reading {
    pub reasoning_tokens: u64,
    pub tokens: Tokens,
    pub prefix_caching: bool,
    /// What images cost (`vision.rs`).
    pub vision: vision::VisionConfig,
    /// LoRA adapters kept loaded, and the time to load one (`adapters.rs`).
    pub max_loras: usize,
    pub lora_load_ms: f64,
}

/// The simulator's routes, ready to serve: `POST /v1/chat/completions`, `GET /v1/models`, `GET /health`.
pub fn app(model: Box<dyn ResponseModel>, served_model: String) -> Router {
    app_with(model, served_model, Reading::default())
}

/// [`app`] reading prompts as `reading` says.
pub fn app_with(model: Box<dyn ResponseModel>, served_model: String, reading: Reading) -> Router {
    let state = Arc::new(AppState {
        model,
        served_model,
        next_id: AtomicU64::new(0),
        reasoning_tokens: reading.reasoning_tokens,
        tokens: reading.tokens,
        prefix_caching: reading.prefix_caching,
        vision: vision::Vision::new(reading.vision),
        adapters: adapters::Adapters::new(reading.max_loras, reading.lora_load_ms),
    });
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/embeddings", post(batched::embeddings))
        .route("/v1/rerank", post(batched::rerank))
        .route("/tokenize", post(batched::tokenize))
        .route(
            "/v1/responses",
            post(|State(st): State<Arc<AppState>>, body: Bytes| {
                other_api(st, body, Shape::Responses)
            }),
        )
        .route(
            "/v1/messages",
            post(|State(st): State<Arc<AppState>>, body: Bytes| {
                other_api(st, body, Shape::Anthropic)
            }),
        )
        .route("/v1/models", get(models))
        .route("/health", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/sim/stats", get(sim_stats))
        // Multimodal bodies run to many MB (axum's default stops at 2 MB); a real server's limit
        // is its own, and a test that wants a refusal uses a fake.
        .layer(axum::extract::DefaultBodyLimit::max(1 << 30))
        .with_state(state)
}

/// Binds `addr` and serves the simulator in the background. Call within a tokio runtime.
pub async fn spawn(args: &SimModelArgs, addr: SocketAddr) -> Result<SocketAddr> {
    let (model, prefix_caching): (Box<dyn ResponseModel>, bool) = match profile::resolve(args)? {
        SimModel::Fixed(view) => (
            Box::new(FixedLatency::new(view.cfg.expect("resolved fixed config"))),
            false,
        ),
        SimModel::Engine(cfg) => {
            let caching = cfg.prefix_caching;
            (Box::new(driver::EngineHandle::start(cfg)), caching)
        }
    };
    let tokenizer = args
        .tokenizer
        .as_deref()
        .map(crate::dataset::tokenizer::Tokenizer::load)
        .transpose()?;
    let reading = Reading {
        reasoning_tokens: args.reasoning_tokens,
        tokens: Tokens::new(tokenizer),
        prefix_caching,
        vision: vision::VisionConfig {
            token_pixels: args.image_token_pixels,
            encode_ms: args.image_encode_ms,
            encode_ms_per_mpx: args.image_encode_ms_per_mpx,
            cache_images: args.encoder_cache_images,
            audio_tokens_per_s: args.audio_tokens_per_s,
            audio_encode_ms_per_s: args.audio_encode_ms_per_s,
        },
        max_loras: args.max_loras,
        lora_load_ms: args.lora_load_ms,
    };
    let router = app_with(model, args.served_model.clone(), reading);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(bound)
}

/// `redline sim`: serves until Ctrl-C.
pub async fn serve(args: &SimArgs) -> Result<()> {
    if args.print_config {
        println!(
            "{}",
            serde_json::to_string_pretty(&profile::resolve(&args.model)?)?
        );
        return Ok(());
    }
    let addr: SocketAddr = format!("{}:{}", args.host, args.port)
        .parse()
        .with_context(|| {
            format!(
                "--host {} --port {}: not a valid address",
                args.host, args.port
            )
        })?;
    let bound = spawn(&args.model, addr).await?;
    println!(
        "redline sim listening on http://{bound}/v1/chat/completions (model {:?}); Ctrl-C stops it",
        args.model.served_model
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}

#[derive(Deserialize)]
struct ChatRequest {
    #[serde(default)]
    model: Option<String>,
    messages: Vec<ChatMessage>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    max_completion_tokens: Option<u64>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    ignore_eos: bool,
    #[serde(default)]
    tools: Vec<serde_json::Value>,
}

/// The name of the first tool offered (chat's `function.name`, or the others' `name`): a
/// request that offers tools is answered with a call of it, unless it ends with a tool's result.
fn first_tool(tools: &[serde_json::Value]) -> Option<String> {
    let t = tools.first()?;
    let name = t.pointer("/function/name").or_else(|| t.get("name"))?;
    Some(name.as_str().unwrap_or("tool").to_string())
}

#[derive(Deserialize)]
struct CompletionRequest {
    #[serde(default)]
    model: Option<String>,
    prompt: serde_json::Value,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    ignore_eos: bool,
}

#[derive(Deserialize)]
struct ChatMessage {
    #[serde(default = "user")]
    role: String,
    #[serde(default)]
    content: serde_json::Value,
    /// An assistant's calls in a tool loop's history (null or absent: none).
    #[serde(default)]
    tool_calls: Option<Vec<serde_json::Value>>,
}

fn user() -> String {
    "user".into()
}

impl ChatMessage {
    /// Its text: a string, or its parts' texts (an image part's tokens are the encoder's), and
    /// each tool call's name and arguments, as every API's history is counted.
    fn text(&self) -> std::borrow::Cow<'_, str> {
        let text: std::borrow::Cow<'_, str> = match &self.content {
            serde_json::Value::String(s) => s.into(),
            other => part_text(other).into(),
        };
        let Some(calls) = self.tool_calls.as_ref().filter(|c| !c.is_empty()) else {
            return text;
        };
        let mut text = text.into_owned();
        for c in calls {
            let f = &c["function"];
            text.push_str(&state::call_text(
                f["name"].as_str(),
                f["arguments"].as_str(),
            ));
        }
        text.into()
    }
}

/// `POST /v1/completions`: the same engine, answering with `choices[].text`.
async fn completions(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let start = tokio::time::Instant::now();
    let req: CompletionRequest = match parse_body(&body) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let prompt = match &req.prompt {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let (prompt_tokens, key) = st.prompt(&[("user", &prompt)]);
    let sim_req = SimRequest {
        prompt_tokens,
        max_tokens: req.max_tokens.unwrap_or(16),
        ignore_eos: req.ignore_eos,
        key,
    };
    let meta = st.meta(
        req.model,
        req.stream_options,
        Shape::Completions,
        prompt_tokens,
    );
    respond(&st, sim_req, meta, req.stream, start).await
}

async fn chat(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let start = tokio::time::Instant::now();
    let req: ChatRequest = match parse_body(&body) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    if req.messages.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "messages must not be empty",
            "invalid_request_error",
        );
    }
    let texts: Vec<_> = req.messages.iter().map(|m| m.text()).collect();
    let messages: Vec<(&str, &str)> = req
        .messages
        .iter()
        .zip(&texts)
        .map(|(m, t)| (m.role.as_str(), t.as_ref()))
        .collect();
    let (mut prompt_tokens, key) = st.prompt(&messages);
    let mut images = vision::Carried::default();
    req.messages
        .iter()
        .for_each(|m| vision::images_in(&m.content, &mut images));
    prompt_tokens += st.before_admission(&images, req.model.as_deref()).await;
    let sim_req = SimRequest {
        prompt_tokens,
        max_tokens: req.max_tokens.or(req.max_completion_tokens).unwrap_or(16),
        ignore_eos: req.ignore_eos,
        key,
    };
    let mut meta = st.meta(req.model, req.stream_options, Shape::Chat, prompt_tokens);
    // A tool's result last: the model answers it in text, as an agent's model does.
    let answered = req.messages.last().is_some_and(|m| m.role == "tool");
    meta.tool = first_tool(&req.tools).filter(|_| !answered);
    respond(&st, sim_req, meta, req.stream, start).await
}

/// `POST /v1/responses` and `POST /v1/messages`: the same engine, answering in the Responses
/// API's or the Anthropic Messages API's events. The conversation is `input` (a string or
/// messages), or `system` and `messages`; a message's content is a string or text parts.
async fn other_api(st: Arc<AppState>, body: Bytes, shape: Shape) -> Response {
    let start = tokio::time::Instant::now();
    let req: OtherRequest = match parse_body(&body) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let mut turns: Vec<(String, String)> = Vec::new();
    if let Some(system) = &req.system {
        turns.push(("system".into(), part_text(system)));
    }
    match &req.input {
        Some(serde_json::Value::String(s)) => turns.push(("user".into(), s.clone())),
        Some(serde_json::Value::Array(items)) => turns.extend(items.iter().map(item)),
        _ => {}
    }
    turns.extend(req.messages.iter().map(item));
    if turns.iter().all(|(role, _)| role == "system") {
        let what = if shape == Shape::Anthropic {
            "messages"
        } else {
            "input"
        };
        return error(
            StatusCode::BAD_REQUEST,
            &format!("{what} must not be empty"),
            "invalid_request_error",
        );
    }
    let messages: Vec<(&str, &str)> = turns
        .iter()
        .map(|(r, t)| (r.as_str(), t.as_str()))
        .collect();
    let (mut prompt_tokens, key) = st.prompt(&messages);
    let mut images = vision::Carried::default();
    if let Some(input) = &req.input {
        vision::images_in(input, &mut images);
    }
    req.messages
        .iter()
        .for_each(|m| vision::images_in(m, &mut images));
    prompt_tokens += st.before_admission(&images, req.model.as_deref()).await;
    let sim_req = SimRequest {
        prompt_tokens,
        max_tokens: req.max_output_tokens.or(req.max_tokens).unwrap_or(16),
        ignore_eos: req.ignore_eos,
        key,
    };
    let answered = req.ends_with_a_result();
    let mut meta = st.meta(req.model, None, shape, prompt_tokens);
    meta.tool = first_tool(&req.tools).filter(|_| !answered);
    respond(&st, sim_req, meta, req.stream, start).await
}

#[derive(Deserialize)]
struct OtherRequest {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    input: Option<serde_json::Value>,
    #[serde(default)]
    system: Option<serde_json::Value>,
    #[serde(default)]
    messages: Vec<serde_json::Value>,
    #[serde(default)]
    max_output_tokens: Option<u64>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    ignore_eos: bool,
    #[serde(default)]
    tools: Vec<serde_json::Value>,
}

impl OtherRequest {
    /// Whether its last item is a tool's result (the Responses API's `function_call_output`,
    /// or an Anthropic `tool_result` block).
    fn ends_with_a_result(&self) -> bool {
        let kind =
            |v: &serde_json::Value, k: &str| v.get("type").and_then(|t| t.as_str()) == Some(k);
        let input = match &self.input {
            Some(serde_json::Value::Array(items)) => items.last(),
            _ => None,
        };
        let block = self
            .messages
            .last()
            .and_then(|m| m.get("content"))
            .and_then(|c| c.as_array());
        input.is_some_and(|i| kind(i, "function_call_output"))
            || block.is_some_and(|b| b.iter().any(|b| kind(b, "tool_result")))
    }
}

/// `GET /sim/stats[?reset=1]`: the simulator's own measurements (true TTFT of the fixed model).
async fn sim_stats(
    State(st): State<Arc<AppState>>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Response {
    let reset = q.is_some_and(|q| q.split('&').any(|kv| kv == "reset=1"));
    let mut stats = st
        .model
        .stats(reset)
        .and_then(|s| serde_json::to_value(s).ok())
        .unwrap_or_else(|| json!({}));
    if let Some(o) = stats.as_object_mut() {
        o.insert("encoder".into(), st.vision.stats(reset));
        o.insert("adapters".into(), st.adapters.stats(reset));
    }
    Json(stats).into_response()
}

async fn metrics(State(st): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.model.metrics(&st.served_model),
    )
        .into_response()
}

async fn models(State(st): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(
        json!({"object": "list", "data": [{"id": st.served_model, "object": "model", "owned_by": "redline"}]}),
    )
}
