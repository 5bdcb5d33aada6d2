//! The built-in simulated endpoint: an OpenAI-compatible chat completions server (streaming and not,
//! with `usage`) for demos and tests.
//!
//! [`app`] builds the axum `Router` without binding a port; [`spawn`] binds `127.0.0.1:0` (or any
//! address) and returns the bound address; `redline sim` calls [`serve`]. What each request's timing
//! is, and whether it is served at all, is decided behind one seam, [`model::ResponseModel`].
//! Prompt tokens are counted by a fixed rule: ceil(characters / 4) per message, plus 4 per message.

pub mod model;
mod stream;

use anyhow::{Context, Result};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use model::{Admission, FixedLatency, FixedLatencyConfig, ResponseModel, SimRequest};
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Flags of the simulated endpoint's behaviour.
#[derive(Debug, Clone, clap::Args)]
pub struct SimModelArgs {
    /// Time to first token, milliseconds.
    #[arg(long, default_value_t = 50.0)]
    pub ttft_ms: f64,
    /// Time between tokens, milliseconds.
    #[arg(long, default_value_t = 10.0)]
    pub itl_ms: f64,
    /// Reply length in tokens (default: the request's max_tokens).
    #[arg(long)]
    pub output_tokens: Option<u64>,
    /// Fraction of requests failed at once (0-1).
    #[arg(long, default_value_t = 0.0)]
    pub failure_rate: f64,
    /// Status of those failures.
    #[arg(long, default_value_t = 503)]
    pub failure_status: u16,
    /// Responses served at once; further requests get 503 at once (default: unlimited).
    #[arg(long)]
    pub max_inflight: Option<usize>,
    /// Seed of the random failures.
    #[arg(long, default_value_t = 0)]
    pub sim_seed: u64,
    /// Model name reported by /v1/models.
    #[arg(long, default_value = "redline-sim")]
    pub served_model: String,
}

/// `redline sim`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    #[command(flatten)]
    pub model: SimModelArgs,
}

impl SimModelArgs {
    pub fn validate(&self) -> Result<FixedLatencyConfig> {
        let ms = |flag: &str, v: f64| -> Result<Duration> {
            anyhow::ensure!(
                v.is_finite() && (0.0..=3_600_000.0).contains(&v),
                "{flag} {v}: must be a number of milliseconds from 0 to 3,600,000"
            );
            Ok(Duration::from_secs_f64(v / 1000.0))
        };
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.failure_rate),
            "--failure-rate {}: must be a fraction between 0 and 1",
            self.failure_rate
        );
        anyhow::ensure!(
            StatusCode::from_u16(self.failure_status).is_ok_and(|s| !s.is_success()),
            "--failure-status {}: must be an HTTP error status such as 503 or 429",
            self.failure_status
        );
        anyhow::ensure!(
            self.output_tokens != Some(0),
            "--output-tokens 0: a reply needs at least one token"
        );
        Ok(FixedLatencyConfig {
            ttft: ms("--ttft-ms", self.ttft_ms)?,
            itl: ms("--itl-ms", self.itl_ms)?,
            output_tokens: self.output_tokens,
            failure_rate: self.failure_rate,
            failure_status: self.failure_status,
            max_inflight: self.max_inflight,
            seed: self.sim_seed,
        })
    }
}

struct AppState {
    model: Box<dyn ResponseModel>,
    served_model: String,
    next_id: AtomicU64,
}

/// The simulator's routes, ready to serve: `POST /v1/chat/completions`, `GET /v1/models`, `GET /health`.
pub fn app(model: Box<dyn ResponseModel>, served_model: String) -> Router {
    let state = Arc::new(AppState {
        model,
        served_model,
        next_id: AtomicU64::new(0),
    });
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", get(models))
        .route("/health", get(|| async { "ok" }))
        .with_state(state)
}

/// Binds `addr` and serves the fixed-latency simulator in the background.
pub async fn spawn(args: &SimModelArgs, addr: SocketAddr) -> Result<SocketAddr> {
    let cfg = args.validate()?;
    let router = app(Box::new(FixedLatency::new(cfg)), args.served_model.clone());
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(bound)
}

/// `redline sim`: serves until Ctrl-C.
pub async fn serve(args: &SimArgs) -> Result<()> {
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
}

#[derive(Deserialize)]
struct ChatMessage {
    #[serde(default)]
    content: serde_json::Value,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

fn error(status: StatusCode, message: &str, kind: &str) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "code": status.as_u16()}});
    (status, Json(body)).into_response()
}

/// ceil(chars / 4) + 4 per message.
fn prompt_tokens(messages: &[ChatMessage]) -> u64 {
    messages
        .iter()
        .map(|m| {
            let chars = match &m.content {
                serde_json::Value::String(s) => s.chars().count(),
                other => other.to_string().chars().count(),
            } as u64;
            chars.div_ceil(4) + 4
        })
        .sum()
}

async fn chat(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let start = tokio::time::Instant::now();
    let req: ChatRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("invalid request body: {e}"),
                "invalid_request_error",
            )
        }
    };
    if req.messages.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "messages must not be empty",
            "invalid_request_error",
        );
    }
    let sim_req = SimRequest {
        prompt_tokens: prompt_tokens(&req.messages),
        max_tokens: req.max_tokens.or(req.max_completion_tokens).unwrap_or(16),
    };
    let plan = match st.model.admit(&sim_req) {
        Admission::Reject { status, message } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return error(status, &message, "server_error");
        }
        Admission::Serve(plan) => plan,
    };
    let reply = stream::Reply {
        id: st.next_id.fetch_add(1, Ordering::Relaxed),
        model: req.model.unwrap_or_else(|| st.served_model.clone()),
        prompt_tokens: sim_req.prompt_tokens,
        include_usage: req.stream_options.is_some_and(|o| o.include_usage),
        plan,
        start,
    };
    if req.stream {
        Response::builder()
            .header(header::CONTENT_TYPE, "text/event-stream")
            .header(header::CACHE_CONTROL, "no-cache")
            .body(Body::from_stream(stream::sse(reply)))
            .unwrap_or_else(|_| {
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "response build failed",
                    "server_error",
                )
            })
    } else {
        Json(stream::json_body(reply).await).into_response()
    }
}

async fn models(State(st): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(
        json!({"object": "list", "data": [{"id": st.served_model, "object": "model", "owned_by": "redline"}]}),
    )
}
