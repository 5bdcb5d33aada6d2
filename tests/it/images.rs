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
        // By address, the simulator fetches them from redline and bills the same.
        let url = ["--images", "count=2,size=56x56,format=png,send=url"];
        let by_url = [&["--api", api][..], &level[..], &url[..]].concat();
        let fetched = redline(&bench_args(&sim, &by_url)).await;
        assert_eq!(fetched.code(), Some(0), "--api {api}: {}", fetched.stderr());
        assert_eq!(
            prompts(&fetched),
            after,
            "--api {api}: by address as inline"
        );
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
        assert!(run.stdout().contains("\nImages:\n"), "{}", run.stdout());
        // The console's line is the JSON's figures, each with its unit.
        let said = format!(
            "QPS 10.0: 2.0 per request, {:.1} images/s, ",
            i["images_per_s"].as_f64().unwrap()
        );
        assert!(run.stdout().contains(&said), "{said}: {}", run.stdout());
        assert!(run
            .stdout()
            .contains(" KiB/s of image data; request body p50 "));
        assert!(
            run.stderr().contains("Images: 2 per request"),
            "{}",
            run.stderr()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_image_repeated_hits_the_encoder_cache_and_distinct_ones_miss_it() {
    let sim = start_sim(&["--profile", "fixed", "--ttft-ms", "5", "--itl-ms", "1"]).await;
    let mut seen = Vec::new();
    for pool in ["pool=1", "pool=300"] {
        sim_stats(&sim, "encoder").await;
        let spec = format!("count=1,size=28x28,{pool}");
        let flags = ["--images", &spec, "--qps", "20", "--duration", "1"];
        let run = redline(&bench_args(&sim, &flags)).await;
        assert_eq!(run.code(), Some(0), "{}", run.stderr());
        seen.push(sim_stats(&sim, "encoder").await);
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
        let run = refused(&sim, &flags, says).await;
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
    // Without the preflight, the level's failures are read the same way: one cause, one advice,
    // and the run stops there, since no other rate would serve images.
    let run = redline(&bench_args(
        &text_only,
        &[
            "--images",
            "size=8x8",
            "--qps",
            "4,8",
            "--duration",
            "0.5",
            "--no-preflight",
        ],
    ))
    .await;
    assert_eq!(run.code(), Some(1), "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("stopped after QPS 4.0: every request failed with HTTP 500")
            && run
                .stderr()
                .contains("the endpoint takes no images (or not these)"),
        "{}",
        run.stderr()
    );
    assert_eq!(run.results_json()["results"].as_array().unwrap().len(), 1);
    // A server that reads no body over 2 MB (axum's default limit) answers 413 and closes
    // while the body is still being written: the answer is read, not a broken pipe.
    let app = axum::Router::new().fallback(|_body: axum::body::Bytes| async { "ok" });
    let limited = start_fake(app).await;
    let big = [
        "--images",
        "size=1200x1200,format=png",
        "--max-samples",
        "1",
        "--qps",
        "1",
    ];
    let run = redline(&bench_args(&limited, &big)).await;
    assert_eq!(run.code(), Some(1), "{}", run.stderr());
    assert!(run.stderr().contains("HTTP 413"), "{}", run.stderr());
    assert!(run.stderr().contains("(--images)"), "{}", run.stderr());
    // An endpoint that finds the images too large: preflight names them.
    let app = axum::Router::new().fallback(|| async {
        (
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "request entity too large",
        )
    });
    let small = start_fake(app).await;
    let run = redline(&bench_args(&small, &["--images", "size=8x8", "--qps", "1"])).await;
    assert_eq!(run.code(), Some(1));
    assert!(run.stderr().contains("HTTP 413"), "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("the request carried images (--images)"),
        "{}",
        run.stderr()
    );
}

/// A 56x56 PNG as a data URI.
fn png_uri() -> String {
    use base64::Engine;
    use image::ImageEncoder;
    let mut buf = Vec::new();
    image::codecs::png::PngEncoder::new(&mut buf)
        .write_image(&[90; 56 * 56 * 3], 56, 56, image::ColorType::Rgb8)
        .unwrap();
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(buf)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_datasets_image_parts_are_sent_and_a_mixed_level_splits_ttft() {
    // The simulator's encoder takes 200 ms an image before the request is admitted (no cache:
    // the dataset's images are all the same).
    let sim = start_sim(&[
        "--profile",
        "fixed",
        "--ttft-ms",
        "5",
        "--itl-ms",
        "1",
        "--image-encode-ms",
        "200",
        "--encoder-cache-images",
        "0",
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("vlm.jsonl");
    let uri = png_uri();
    let lines: Vec<String> = (0..20)
        .map(|i| {
            let content = match i % 2 {
                0 => serde_json::json!(format!("question {i}")),
                _ => serde_json::json!([{"type": "text", "text": format!("what is in {i}?")},
                    {"type": "image_url", "image_url": {"url": uri}}]),
            };
            serde_json::json!({"messages": [{"role": "user", "content": content}]}).to_string()
        })
        .collect();
    std::fs::write(&data, lines.join("\n")).unwrap();
    let path = data.display().to_string();
    let args = [
        "--endpoint",
        &sim,
        "--model",
        "redline-sim",
        "--dataset",
        &path,
        "--qps",
        "20",
        "--duration",
        "1",
    ];
    let run = redline(&args).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let i = &run.level(0)["images"];
    assert_eq!(i["per_request"], 0.5, "{i}");
    let with = i["ttft_with_images_s"]["p50"].as_f64().unwrap();
    assert!(i["ttft_without_images_s"]["p50"].is_number(), "{i}");
    assert!(with >= 0.2, "the encoder's 200 ms are in it: {with}");
    assert!(run.stdout().contains("s with images,"), "{}", run.stdout());
    // A part redline does not send is refused by its path, not dropped.
    let bad = r#"{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AA=="}}]}]}"#;
    std::fs::write(&data, bad).unwrap();
    let run = redline(&args).await;
    assert_eq!(run.code(), Some(1));
    assert!(
        run.stderr().contains("messages[0].content[0].type"),
        "{}",
        run.stderr()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn audio_clips_cost_prompt_tokens_by_their_seconds() {
    let sim = start_sim(&["--profile", "fixed", "--ttft-ms", "5", "--itl-ms", "1"]).await;
    let level = ["--qps", "10", "--duration", "1"];
    let text = redline(&bench_args(&sim, &level)).await;
    assert_eq!(text.code(), Some(0), "{}", text.stderr());
    let mut flags = level.to_vec();
    flags.extend(["--audio", "count=1,seconds=2,kind=noise"]);
    let run = redline(&bench_args(&sim, &flags)).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    // Two seconds at the simulator's 25 tokens a second.
    let (before, after) = (prompts(&text), prompts(&run));
    for (sample, tokens) in &after {
        assert_eq!(*tokens, before[sample] + 50, "sample {sample}");
    }
    assert!(run
        .records()
        .iter()
        .all(|r| r["audio_clips"] == 1 && r["audio_seconds"] == 2.0));
    let a = &run.level(0)["audio"];
    assert_eq!(a["per_request"], 1.0, "{a}");
    assert!(run.stdout().contains("\nAudio:\n"), "{}", run.stdout());
    let refused = redline(&bench_args(
        &sim,
        &["--api", "anthropic", "--audio", "seconds=1", "--qps", "1"],
    ))
    .await;
    assert_eq!(refused.code(), Some(1));
    assert!(
        refused.stderr().contains("--api anthropic takes none"),
        "{}",
        refused.stderr()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn images_sent_by_url_are_served_by_redline_for_the_endpoint_to_fetch() {
    // An endpoint that fetches each request's image from its address and answers once it has.
    let fetched = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let f = fetched.clone();
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let f = f.clone();
        async move {
            let v: Value = serde_json::from_slice(&body).unwrap_or_default();
            let url = v["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["content"].as_array())
                .flatten()
                .find_map(|p| p.pointer("/image_url/url").and_then(Value::as_str));
            let ok = match url {
                Some(u) if u.starts_with("http://127.0.0.1:") => {
                    let r = reqwest::get(u).await.unwrap();
                    let jpeg = r.headers()["content-type"] == "image/jpeg";
                    let bytes = r.bytes().await.unwrap();
                    jpeg && image::load_from_memory(&bytes).is_ok()
                }
                _ => false,
            };
            if ok {
                f.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let sse = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]\n\n";
            match ok {
                true => (
                    axum::http::StatusCode::OK,
                    [("content-type", "text/event-stream")],
                    sse,
                ),
                false => (
                    axum::http::StatusCode::BAD_REQUEST,
                    [("content-type", "text/plain")],
                    "no image",
                ),
            }
        }
    });
    let base = start_fake(app).await;
    let flags = [
        "--images",
        "size=256x256,send=url",
        "--qps",
        "10",
        "--duration",
        "1",
    ];
    let run = redline(&bench_args(&base, &flags)).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert!(
        run.stderr().contains("for the endpoint to fetch"),
        "{}",
        run.stderr()
    );
    let l = run.level(0);
    assert_eq!(l["success_rate"], 100.0, "{l}");
    // Every request's image and the preflight's were fetched; the bodies carry only addresses.
    assert_eq!(
        fetched.load(std::sync::atomic::Ordering::Relaxed),
        l["requests_succeeded"].as_u64().unwrap() + 1
    );
    // (A 256x256 JPEG alone is over 4 KiB as base64.)
    let image = l["images"]["image_bytes"].as_f64().unwrap() / 10.0;
    let body = l["images"]["request_bytes"]["p100"].as_f64().unwrap();
    assert!(image > 4096.0 && body < 4096.0, "{image} {body}");
    // An endpoint on another host could not reach 127.0.0.1.
    let far = redline(&bench_args(
        "http://10.255.255.1:8000",
        &["--images", "size=8x8,send=url", "--qps", "1"],
    ))
    .await;
    assert_eq!(far.code(), Some(1));
    assert!(
        far.stderr().contains("cannot reach: use send=inline"),
        "{}",
        far.stderr()
    );
}
