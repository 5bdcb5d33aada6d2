//! The built-in endpoint's HTTP surface, spoken to with a plain HTTP client.

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_models_health_and_non_streaming_completions() {
    let sim = fast_sim(&["--output-tokens", "5"]).await;
    let http = reqwest::Client::new();
    let models: serde_json::Value = http
        .get(format!("{sim}/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], "redline-sim");
    assert_eq!(
        http.get(format!("{sim}/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let body = serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "12345678"}], "max_tokens": 50});
    let resp: serde_json::Value = http
        .post(format!("{sim}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resp["usage"]["completion_tokens"], 5);
    // ceil(8 / 4) + 4 per message.
    assert_eq!(resp["usage"]["prompt_tokens"], 6);
    assert!(
        resp["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .len()
            > 5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_request_is_a_json_400() {
    let sim = start_sim(&["--profile", "fixed"]).await;
    let resp = reqwest::Client::new()
        .post(format!("{sim}/v1/chat/completions"))
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("invalid request body"));
}
