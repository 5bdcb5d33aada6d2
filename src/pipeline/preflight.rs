//! Fail fast: before the first level, one request (one of the run's prompts, the one of median
//! length, with `max_tokens` 1) checks that the endpoint answers this model. A misconfiguration (the key, the
//! path or model name, a refused body, nothing listening, TLS, not a chat stream; see
//! `analyze/cause.rs`) stops the run at once with the server's own message and the likely fix,
//! instead of running every level to advise "test lower rates"; a busy endpoint only gets a
//! warning, since measuring it is the point. When `GET /v1/models` lists models and not `--model`,
//! the run goes on with a warning naming them (some servers answer any name). `--no-preflight`
//! skips it. `pipeline.rs` calls [`check`].

use crate::analyze::cause::{classify_media, Cause};
use crate::cli::Api;
use crate::dataset::Message;
use crate::measure::record::RequestRecord;
use crate::measure::target::{Payload, Target};
use anyhow::{bail, Result};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Sends `messages` once and judges the answer; `Err` when the run cannot measure anything.
pub async fn check(target: &Target, messages: &[Message], model: &str) -> Result<()> {
    // One token is all that is needed, but OpenAI's Responses API refuses fewer than 16.
    let one = match target.template.api() {
        Api::Responses => 16,
        _ => 1,
    };
    let body = match target.template.api() {
        // The run's batch, of this prompt: the reply must hold as many vectors or scores.
        api if api.batched() => {
            let conv = crate::dataset::Conversation {
                messages: messages.to_vec(),
                lengths: None,
            };
            target.template.batch(&[conv], 0, target.batch)
        }
        _ => target.template.build(messages, Some(one)),
    };
    let mut rec = RequestRecord::new(0, 0.0, 0, 0, 0.0);
    let start = Instant::now();
    target
        .measure_payload(
            &mut rec,
            &Payload::Body(body),
            false,
            start,
            &CancellationToken::new(),
        )
        .await;
    let Some(kind) = rec.error else {
        let after = match target.template.api().streams() {
            true => "first token after",
            false => "its answer after",
        };
        eprintln!(
            "Preflight: the endpoint answered {model:?} ({after} {:.3} s)",
            rec.ttft_s().unwrap_or(rec.e2e_s())
        );
        if let Some(warning) = unlisted(target, model).await {
            eprintln!("{warning}");
        }
        return Ok(());
    };
    let detail = rec.error_detail.unwrap_or_default();
    let with_images = messages.iter().any(|m| !m.images.is_empty());
    let cause = classify_media(kind, Some(&detail), with_images);
    if !cause.is_misconfiguration() {
        eprintln!(
            "warning: preflight request failed ({kind}: {detail}); the endpoint may be busy, so the levels will measure how requests fare"
        );
        return Ok(());
    }
    let mut served = match cause {
        Cause::NotFound | Cause::BadRequest => served_models(target).await,
        _ => String::new(),
    };
    let other_api = matches!(
        cause,
        Cause::NotFound | Cause::NotImplemented | Cause::NotAStream
    );
    if other_api || other_apis_stream(&detail) {
        served.push_str(&apis_spoken(target).await);
    }
    let http = |codes: &[u16]| {
        codes
            .iter()
            .any(|c| kind == crate::measure::record::ErrorKind::Http(*c))
    };
    if with_images && cause != Cause::NoImages && http(&[400, 413, 415, 422]) {
        served.push_str("; the request carried images (--images): the endpoint may take no images (a text-only model), or not this many or this large");
    }
    if cause == Cause::BadRequest && target.template.ignore_eos() {
        served.push_str("; the requests carried \"ignore_eos\": true, which some servers refuse: try --ignore-eos off");
    }
    bail!(
        "the endpoint cannot serve this run: the preflight request failed with {kind}: {detail}\n  {}{served}\n  (nothing was measured; --no-preflight skips this check)",
        cause.advice()
    )
}

/// A warning when `GET /v1/models` answers with a list that does not name `model`: some servers
/// (llama.cpp's) answer any model name with the one they serve, so the run would measure another
/// model than it says.
async fn unlisted(target: &Target, model: &str) -> Option<String> {
    let listed = target.models().await.filter(|m| !m.is_empty())?;
    if listed.iter().any(|(id, _)| id == model) {
        return None;
    }
    let ids: Vec<&str> = listed.iter().take(10).map(|(id, _)| id.as_str()).collect();
    Some(format!(
        "warning: GET /v1/models lists {}, not {model:?}: the endpoint may be answering with another model under this name; check --model (the run goes on)",
        ids.join(", ")
    ))
}

/// A stream of another API's events (`events.rs` names it).
fn other_apis_stream(detail: &str) -> bool {
    detail.contains("is not the") && detail.contains("--api")
}

/// "; --api responses sends to /v1/responses, but the server seems to speak chat/completions
/// (--api chat)", from a POST asking for one token to each other API's path, when the API's own path finds no
/// route (nothing when it does: then the model or the server refused, not the path).
async fn apis_spoken(target: &Target) -> String {
    let own = target.template.api();
    // The API's own path answers (a 400 for a body without input): the 404 was the model's, not the API's.
    if let Some(url) = target.sibling(own.path()) {
        if target.routes(url).await {
            return String::new();
        }
    }
    let mut spoken = Vec::new();
    for api in Api::ALL.into_iter().filter(|&a| a != own) {
        if let Some(url) = target.sibling(api.path()) {
            if target.routes(url).await {
                spoken.push(format!("{} (--api {})", api.path(), api.name()));
            }
        }
    }
    match spoken.is_empty() {
        true => format!("; --api {}: no other API's path answers either", own.name()),
        false => format!(
            "; --api {} sends to /v1/{}, but the server seems to speak {}",
            own.name(),
            own.path(),
            spoken.join(", ")
        ),
    }
}

/// "; it serves: a, b" from `GET /v1/models`, or nothing.
async fn served_models(target: &Target) -> String {
    match target.models().await {
        Some(m) if !m.is_empty() => {
            let ids: Vec<String> = m.into_iter().take(10).map(|(id, _)| id).collect();
            format!("; GET /v1/models lists: {}", ids.join(", "))
        }
        _ => String::new(),
    }
}
