//! Replies that come whole, not streamed: `--api embeddings` (one vector per input) and
//! `--api rerank` (one score per document). `client.rs` reads the body to its end and hands it
//! here; the record gets the batch it carried, the prompt tokens from `usage`, no output tokens,
//! and the reply's arrival as its first and last token (its one latency).

use crate::cli::Api;
use crate::measure::failure::Failure;
use crate::measure::record::{ErrorKind, RequestRecord};
use serde::de::IgnoredAny;
use serde::Deserialize;

#[derive(Deserialize)]
struct Reply {
    /// Embeddings: one per input.
    #[serde(default)]
    data: Option<Vec<IgnoredAny>>,
    /// Rerank: one per document (Jina's, vLLM's and llama.cpp's `results`).
    #[serde(default)]
    results: Option<Vec<Scored>>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Scored {
    index: Option<u64>,
    relevance_score: Option<f64>,
}

#[derive(Deserialize)]
struct Usage {
    prompt_tokens: Option<u64>,
    /// vLLM's rerank usage has only this (all of it prompt: nothing is generated).
    total_tokens: Option<u64>,
}

/// A whole reply of `api`, arrived at `t`, to a request of `batch` inputs or documents.
pub fn whole(
    api: Api,
    body: &[u8],
    t: f64,
    rec: &mut RequestRecord,
    batch: usize,
) -> Result<(), Failure> {
    let what = match api {
        Api::Rerank => "a rerank",
        _ => "an embeddings",
    };
    let reply: Reply = serde_json::from_slice(body).map_err(|e| {
        let shown = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
        invalid(format!("not {what} reply ({e}): {shown}"))
    })?;
    match api {
        Api::Rerank => scores(reply.results.as_deref(), batch)?,
        _ => {
            let got = reply.data.as_ref().map_or(0, Vec::len);
            if got != batch {
                return Err(invalid(format!(
                    "{got} embeddings for the {batch} inputs sent"
                )));
            }
        }
    }
    rec.chunks = 1;
    rec.first_token_s = Some(t);
    rec.last_token_s = Some(t);
    rec.end_s = t;
    rec.prompt_tokens = reply.usage.and_then(|u| u.prompt_tokens.or(u.total_tokens));
    rec.completion_tokens = Some(0);
    let n = u32::try_from(batch).ok();
    match api {
        Api::Rerank => rec.documents = n,
        _ => rec.inputs = n,
    }
    Ok(())
}

/// A rerank reply scores every document sent, each once, by its index.
fn scores(results: Option<&[Scored]>, batch: usize) -> Result<(), Failure> {
    let Some(results) = results else {
        return Err(invalid(format!(
            "no `results` for the {batch} documents sent"
        )));
    };
    let mut seen = vec![false; batch];
    for r in results {
        let slot = r.index.and_then(|i| seen.get_mut(i as usize));
        match (slot, r.relevance_score) {
            (Some(s), Some(_)) if !*s => *s = true,
            _ => {
                return Err(invalid(format!(
                    "a result without a new index below {batch} and a relevance_score"
                )))
            }
        }
    }
    let scored = seen.iter().filter(|s| **s).count();
    if scored != batch {
        return Err(invalid(format!(
            "{scored} scores for the {batch} documents sent"
        )));
    }
    Ok(())
}

fn invalid(detail: String) -> Failure {
    Failure::new(ErrorKind::InvalidResponse, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(api: Api, body: &str, batch: usize) -> Result<RequestRecord, Failure> {
        let mut rec = RequestRecord::new(0, 0.0, 0, 0, 0.0);
        whole(api, body.as_bytes(), 0.25, &mut rec, batch).map(|()| rec)
    }

    #[test]
    fn an_embeddings_reply_holds_a_vector_per_input() {
        let rec = read(
            Api::Embeddings,
            r#"{"data":[{"embedding":[0.1]},{"embedding":[0.2]}],"usage":{"prompt_tokens":7}}"#,
            2,
        )
        .unwrap();
        assert_eq!((rec.inputs, rec.documents), (Some(2), None));
        assert_eq!(rec.prompt_tokens, Some(7));
        assert_eq!((rec.first_token_s, rec.end_s), (Some(0.25), 0.25));
        let f = read(Api::Embeddings, r#"{"data":[{"embedding":[0.1]}]}"#, 2).unwrap_err();
        assert!(
            f.detail.contains("1 embeddings for the 2 inputs"),
            "{}",
            f.detail
        );
    }

    #[test]
    fn a_rerank_reply_scores_every_document_once_and_its_usage_may_be_a_total() {
        let body = r#"{"results":[{"index":1,"relevance_score":0.9},{"index":0,"relevance_score":-2.5}],"usage":{"total_tokens":40}}"#;
        let rec = read(Api::Rerank, body, 2).unwrap();
        assert_eq!((rec.documents, rec.inputs), (Some(2), None));
        assert_eq!(rec.prompt_tokens, Some(40));
        assert_eq!(rec.completion_tokens, Some(0));
        for (bad, says) in [
            (
                r#"{"results":[{"index":0,"relevance_score":1}]}"#,
                "1 scores for the 2",
            ),
            (
                r#"{"results":[{"index":0,"relevance_score":1},{"index":0,"relevance_score":1}]}"#,
                "a new index",
            ),
            (
                r#"{"results":[{"index":5,"relevance_score":1}]}"#,
                "below 2",
            ),
            (r#"{"data":[]}"#, "no `results`"),
            ("<html>", "not a rerank reply"),
        ] {
            let f = read(Api::Rerank, bad, 2).unwrap_err();
            assert_eq!(f.kind, ErrorKind::InvalidResponse);
            assert!(f.detail.contains(says), "{bad}: {}", f.detail);
        }
    }
}
