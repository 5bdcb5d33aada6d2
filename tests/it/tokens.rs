//! The token check: after each level, its first replies' text is counted by the server's own
//! `/tokenize` (or `--tokenizer`) against the tokens the server billed, reported per level and
//! kept in metadata.json so that `report` rebuilds it; nothing is sent for it during a level.

use crate::common::*;
use axum::routing::post;

#[tokio::test(flavor = "multi_thread")]
async fn each_levels_first_replies_are_counted_by_the_servers_tokenize_against_their_bill() {
    let sim = start_sim(&["--profile", "fixed", "--ttft-ms", "10", "--itl-ms", "1"]).await;
    let run = redline(&bench_args(&sim, &["--qps", "20,40", "--duration", "2"])).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert!(run
        .stderr()
        .contains("Token check: after each level, its first 50 replies"));
    for (i, l) in run.results_json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let c = &l["output_tokens_checked"];
        assert_eq!(c["by"], "/tokenize", "{l}");
        // The first 50 requests of each level: 40 at 20 QPS, 50 of the 80 at 40 QPS.
        assert_eq!(c["requests"], [40, 50][i]);
        // The simulator bills a word a token and its /tokenize counts the same.
        assert_eq!(c["counted_tokens"], c["billed_tokens"]);
        assert_eq!(
            (c["mismatched"].as_u64(), c["mismatch_pct"].as_f64()),
            (Some(0), Some(0.0))
        );
    }
    // A check that found nothing to report says so once.
    let said = "/tokenize counted, in the text of each of the 90 replies checked, the tokens billed for it";
    assert!(run.stdout().contains(said), "{}", run.stdout());
    let meta = read_json(&run.dir().join("metadata.json"));
    assert_eq!(meta["levels"][1]["token_check"]["requests"], 50);
    // The records hold no reply text, yet report rebuilds the check from metadata.json.
    assert!(!std::fs::read_to_string(run.dir().join("requests.jsonl"))
        .unwrap()
        .contains("reply_text"));
    assert!(re_reports_identically(&run.dir()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_billed_more_tokens_than_its_text_holds_is_a_mismatch() {
    // Three words streamed, four tokens billed; /tokenize counts a word a token.
    let sse = "data: {\"choices\":[{\"delta\":{\"content\":\"a \"}}]}\n\n\
data: {\"choices\":[{\"delta\":{\"content\":\"b \"}}]}\n\n\
data: {\"choices\":[{\"delta\":{\"content\":\"c\"}}]}\n\n\
data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":4}}\n\ndata: [DONE]\n\n";
    let app = axum::Router::new()
        .route(
            "/tokenize",
            post(|body: String| async move {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                let n = v["content"].as_str().unwrap().split_whitespace().count();
                axum::Json(serde_json::json!({"tokens": vec![1; n]}))
            }),
        )
        .fallback(move || async move { ([("content-type", "text/event-stream")], sse) });
    let base = start_fake(app).await;
    let run = redline(&bench_args(&base, &["--qps", "10", "--duration", "1"])).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let c = &run.level(0)["output_tokens_checked"];
    assert_eq!(
        (c["requests"].as_u64(), c["mismatched"].as_u64()),
        (Some(10), Some(10))
    );
    assert_eq!(
        (c["counted_tokens"].as_u64(), c["billed_tokens"].as_u64()),
        (Some(30), Some(40))
    );
    assert!(
        run.stdout().contains("/tokenize counted 30 tokens in the text of 10 replies billed 40 (10 of them differ, 100%)"),
        "{}",
        run.stdout()
    );
}
