//! The simulator's whole-reply routes: `POST /v1/embeddings` and `POST /v1/rerank`. Each is one
//! prefill of its tokens by the same engine as the streaming APIs (one step of decode, as a
//! pooling or scoring head), answered at once: a vector per input, or a score per document.
//! And `POST /tokenize`, as llama.cpp's server and vLLM answer it, outside the engine.
//! `mod.rs` routes here; `stream.rs` writes the reply.

use super::model::SimRequest;
use super::state::{error, parse_body, part_text, respond, AppState};
use super::stream::Shape;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
pub(super) struct EmbeddingsRequest {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    input: serde_json::Value,
}

/// `POST /v1/embeddings`: every input's tokens prefilled, a vector per input.
pub(super) async fn embeddings(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let start = tokio::time::Instant::now();
    let req: EmbeddingsRequest = match parse_body(&body) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let inputs: Vec<String> = match req.input {
        serde_json::Value::String(s) => vec![s],
        serde_json::Value::Array(items) => items.iter().map(part_text).collect(),
        _ => vec![],
    };
    if inputs.is_empty() {
        return empty("input");
    }
    let prompt_tokens = inputs.iter().map(|t| st.tokens.count(t)).sum();
    whole(
        &st,
        req.model,
        Shape::Embeddings,
        prompt_tokens,
        inputs.len(),
        start,
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct RerankRequest {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    query: serde_json::Value,
    #[serde(default)]
    documents: Vec<serde_json::Value>,
}

/// `POST /v1/rerank`: each document scored against the query as a cross-encoder does, so the
/// query's tokens are prefilled once per document with the document's own.
pub(super) async fn rerank(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let start = tokio::time::Instant::now();
    let req: RerankRequest = match parse_body(&body) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let query = part_text(&req.query);
    if query.is_empty() {
        return empty("query");
    }
    if req.documents.is_empty() {
        return empty("documents");
    }
    let q = st.tokens.count(&query);
    let prompt_tokens = req
        .documents
        .iter()
        .map(|d| q + st.tokens.count(&part_text(d)))
        .sum();
    let n = req.documents.len();
    whole(&st, req.model, Shape::Rerank, prompt_tokens, n, start).await
}

/// One prefill of `prompt_tokens`, answered whole for `n` inputs (documents).
async fn whole(
    st: &Arc<AppState>,
    model: Option<String>,
    shape: Shape,
    prompt_tokens: u64,
    n: usize,
    start: tokio::time::Instant,
) -> Response {
    let sim_req = SimRequest {
        prompt_tokens,
        max_tokens: 1,
        ignore_eos: true,
        key: None,
    };
    let mut meta = st.meta(model, None, shape, prompt_tokens);
    meta.inputs = n;
    respond(st, sim_req, meta, false, start).await
}

fn empty(field: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        &format!("{field} must not be empty"),
        "invalid_request_error",
    )
}

#[derive(Deserialize)]
pub(super) struct TokenizeRequest {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    prompt: Option<String>,
}

/// `POST /tokenize` (`content`, llama.cpp's, or `prompt`, vLLM's): by `--tokenizer` when given,
/// else a word a token, as the simulator's replies are made and billed.
pub(super) async fn tokenize(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let req: TokenizeRequest = match parse_body(&body) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let text = req.content.or(req.prompt).unwrap_or_default();
    let count = st.tokens.reply(&text);
    let tokens: Vec<u64> = (0..count).collect();
    axum::Json(serde_json::json!({"tokens": tokens, "count": count})).into_response()
}
