//! `--images`: images in every request, in each API's shape, their cost in prompt tokens and
//! bytes, the simulator's encoder cache, and the bad inputs that stop a run before it sends.

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeMap;

/// Each sample's prompt tokens, as the records say.
fn prompts(run: &Run) -> BTreeMap<u64, u64> {
    run.records()
        .iter()
        .map(|r| {
            (
                r["sample"].as_u64().unwrap(),
                r["prompt_tokens"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn images_cost_prompt_tokens_by_their_pixels_under_each_api() {
    let sim = start_sim(&["--profile", "fixed", "--ttft-ms", "20", "--itl-ms", "1"]).await;
    let level = ["--qps", "10", "--duration", "1"];
    for api in ["chat", "responses", "anthropic"] {
        let mut flags = vec!["--api", api];
        flags.extend(level);
        let text = redline(&bench_args(&sim, &flags)).await;
        assert_eq!(text.code(), Some(0), "{}", text.stderr());
        // Two 56x56 images: 56 x 56 / 784 = 4 tokens each in the simulator.
        flags.extend(["--images", "count=2,size=56x56,format=png"]);
        let run = redline(&bench_args(&sim, &flags)).await;
        assert_eq!(run.code(), Some(0), "--api {api}: {}", run.stderr());
        let (before, after) = (prompts(&text), prompts(&run));
        assert_eq!(before.len(), after.len());
        for (sample, tokens) in &after {
            assert_eq!(*tokens, before[sample] + 8, "--api {api}: sample {sample}");
        }
        for r in run.records() {
            assert_eq!(r["images"], 2);
            let (img, body) = (
                r["image_bytes"].as_u64().unwrap(),
                r["request_bytes"].as_u64().unwrap(),
            );
            assert!(img > 0 && body > img, "{r}");
        }
        let l = run.level(0);
        let i = &l["images"];
        assert_eq!(i["per_request"], 2.0);
        assert_eq!(i["images"], 2 * l["requests_succeeded"].as_u64().unwrap());
        assert!(
            i["ttft_with_images_s"].is_null(),
            "every request had images"
        );
        assert!(
            run.stdout().contains("Images (--images):"),
            "{}",
            run.stdout()
        );
        assert!(
            run.stderr().contains("Images: 2 per request"),
            "{}",
            run.stderr()
        );
    }
}

async fn encoder(sim: &str) -> Value {
    let stats = reqwest::get(format!("{sim}/sim/stats?reset=1"))
        .await
        .unwrap();
    stats.json::<Value>().await.unwrap()["encoder"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_image_repeated_hits_the_encoder_cache_and_distinct_ones_miss_it() {
    let sim = start_sim(&["--profile", "fixed", "--ttft-ms", "5", "--itl-ms", "1"]).await;
    let mut seen = Vec::new();
    for pool in ["pool=1", "pool=300"] {
        encoder(&sim).await;
        let spec = format!("count=1,size=28x28,{pool}");
        let flags = ["--images", &spec, "--qps", "20", "--duration", "1"];
        let run = redline(&bench_args(&sim, &flags)).await;
        assert_eq!(run.code(), Some(0), "{}", run.stderr());
        seen.push(encoder(&sim).await);
    }
    // The preflight's image and 20 requests': one miss, then hits.
    assert_eq!(seen[0], serde_json::json!({"hits": 20, "misses": 1}));
    // 300 images over 300 samples (the conversations repeated): the level's 20 are distinct.
    assert!(seen[1]["misses"].as_u64().unwrap() >= 20, "{seen:?}");
    assert!(seen[1]["hits"].as_u64().unwrap() <= 1, "{seen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_images_stop_the_run_before_it_sends_naming_the_flag_or_file() {
    let sim = start_sim(&["--profile", "fixed"]).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.png"), b"not a png").unwrap();
    let broken = format!("dir={}", dir.path().display());
    let missing = format!("dir={}", dir.path().join("nowhere").display());
    for (flags, says) in [
        (
            vec!["--images", broken.as_str()],
            "broken.png is not a readable image",
        ),
        (vec!["--images", missing.as_str()], "cannot read the folder"),
        (vec!["--images", "count=1"], "needs size=WxH"),
        (
            vec!["--api", "completions", "--images", "size=8x8"],
            "the completions API takes no images",
        ),
    ] {
        let mut all = flags.clone();
        all.extend(["--qps", "1"]);
        let run = redline(&bench_args(&sim, &all)).await;
        assert_eq!(run.code(), Some(1), "{flags:?}: {}", run.stderr());
        assert!(run.stderr().contains(says), "{flags:?}: {}", run.stderr());
        assert_eq!(run.run_dirs(), 0, "nothing written");
    }
    // A text-only model's server refuses the images: preflight says so.
    let app = axum::Router::new().fallback(|| async {
        (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(serde_json::json!({"error": {"message": "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj"}})),
        )
    });
    let text_only = start_fake(app).await;
    let run = redline(&bench_args(
        &text_only,
        &["--images", "size=8x8", "--qps", "1"],
    ))
    .await;
    assert_eq!(run.code(), Some(1));
    assert!(
        run.stderr().contains("the endpoint takes no images"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("or leave out --images"),
        "{}",
        run.stderr()
    );
}
