//! Verdicts, the summary, the chart and `redline report`, end to end.

use crate::common::*;
use std::path::Path;

async fn priced_run(extra: &[&str]) -> Run {
    let sim = start_sim(&[
        "--profile",
        "fixed",
        "--ttft-ms",
        "100",
        "--itl-ms",
        "1",
        "--max-inflight",
        "2",
    ])
    .await;
    let mut args = bench_args(
        &sim,
        &[
            "--qps",
            "5,40",
            "--duration",
            "2",
            "--gpu-rate",
            "2.30",
            "--num-gpus",
            "1",
            "--daily-tokens",
            "100M",
        ],
    );
    args.extend_from_slice(extra);
    let run = redline(&args).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    run
}

async fn report(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["report".to_string(), dir.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_redline"))
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_and_summary_reach_console_and_json() {
    let run = priced_run(&[]).await;
    let json = run.results_json();
    assert_eq!(json["results"][0]["verdict"], "PASS");
    assert_eq!(
        json["results"][1]["verdict"], "FAIL",
        "{}",
        json["results"][1]
    );
    let s = &json["summary"];
    assert_eq!(s["max_sustainable_qps"], 5.0);
    assert_eq!(s["saturation_qps"], 40.0);
    assert_eq!(s["recommended_qps"], 3.75);
    assert!(s["cost_per_million_at_recommended"].is_number());
    assert!(s["capacity_plan"]["gpus_needed"].as_u64().unwrap() >= 1);
    let out = run.stdout();
    assert!(out.contains("QPS 5.0: PASS - 100.0% success"), "{out}");
    assert!(out.contains("Maximum sustainable QPS: 5.0"), "{out}");
    assert!(out.contains("Saturation point: 40.0 QPS (FAIL"), "{out}");
    assert!(
        out.contains("Recommended production limit: 3.8 QPS"),
        "{out}"
    );
    assert!(
        out.contains("Capacity plan for 100,000,000 tokens/day"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_reproduces_the_runs_json_exactly_and_accepts_new_options() {
    let run = priced_run(&[]).await;
    let dir = run.dir();
    let out = report(&dir, &["--output", "rebuilt.json"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let original = std::fs::read_to_string(dir.join("benchmark_qps_results.json")).unwrap();
    let rebuilt = std::fs::read_to_string(dir.join("rebuilt.json")).unwrap();
    assert_eq!(original, rebuilt, "byte-identical JSON");
    assert!(String::from_utf8_lossy(&out.stdout).contains("QPS BENCHMARK RESULTS"));

    let out = report(
        &dir,
        &[
            "--output",
            "p90.json",
            "--percentiles",
            "90",
            "--gpu-rate",
            "4.60",
            "--headroom",
            "50",
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("TTFT P90(s)"));
    let v = read_json(&dir.join("p90.json"));
    let o = read_json(&dir.join("rebuilt.json"));
    let cost = |v: &serde_json::Value| {
        v["results"][0]["cost_analysis"]["gpu_cost"]
            .as_f64()
            .unwrap()
    };
    assert!(
        (cost(&v) - 2.0 * cost(&o)).abs() < 1e-12,
        "double the rate, double the cost"
    );
    assert_eq!(v["summary"]["recommended_qps"], 2.5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_reads_a_requests_file_cut_short_by_a_kill() {
    let run = priced_run(&[]).await;
    let dir = run.dir();
    let path = dir.join("requests.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines = text.lines().count();
    let cut = &text[..text.len() - 25]; // the last line loses its end
    std::fs::write(&path, cut).unwrap();
    // The folder's results say one more request was measured: a rebuild must be asked for.
    let out = report(&dir, &["--output", "cut.json"]).await;
    assert_eq!(out.status.code(), Some(1));
    let out = report(&dir, &["--from-partial-records", "--output", "cut.json"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 line(s)") && err.contains("records"),
        "{err}"
    );
    let v = read_json(&dir.join("cut.json"));
    let scheduled: u64 = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["requests_scheduled"].as_u64().unwrap())
        .sum();
    assert_eq!(scheduled as usize, lines - 1);
    let out = report(&dir.join("nope"), &[]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("results folder"));
}

/// Share of pixels in the rectangle that are not the background.
fn inked(img: &image::RgbImage, x0: u32, y0: u32, w: u32, h: u32) -> f64 {
    let mut ink = 0u64;
    for y in y0..y0 + h {
        for x in x0..x0 + w {
            let p = img.get_pixel(x, y).0;
            ink += u64::from(p != [255, 255, 255] && p != [246, 246, 246]);
        }
    }
    ink as f64 / f64::from(w * h)
}

fn assert_panels(png: &Path, rows: u32) {
    let img = image::open(png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (3200, 400 * rows));
    for r in 0..rows - 1 {
        for c in 0..2 {
            let share = inked(&img, c * 1600, r * 400, 1600, 400);
            assert!(share > 0.02, "panel row {r} col {c}: {share}");
        }
    }
    assert!(
        inked(&img, 0, (rows - 1) * 400, 3200, 400) > 0.005,
        "text panel"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_draws_every_panel_standard_and_with_cost() {
    let run = priced_run(&["--plot"]).await;
    assert!(run.stdout().contains("Chart: "), "{}", run.stdout());
    let png = run.dir().join("benchmark_qps.png");
    assert_panels(&png, 4);
    // A report at another price redraws the chart the folder holds, unasked: no stale cost.
    let before = std::fs::read(&png).unwrap();
    let out = report(&run.dir(), &["--gpu-rate", "9", "--num-gpus", "2"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Chart: "));
    assert_ne!(std::fs::read(&png).unwrap(), before);
    // Without pricing: the 3 x 2 layout, redrawn by `redline report` from the saved folder.
    let sim = start_sim(&["--profile", "fixed", "--ttft-ms", "5", "--itl-ms", "1"]).await;
    let run = redline(&bench_args(&sim, &["--qps", "2,4", "--duration", "0.5"])).await;
    let out = report(&run.dir(), &["--plot", "--plot-output", "again.png"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_panels(&run.dir().join("again.png"), 3);
}

/// Results folders written by redline 0.1.0: one with queueing FAILs, one with client-limited
/// levels, latency objectives, pricing, a capacity plan and a p99.9 column. `redline report` must
/// reproduce every figure of their JSON; only the verdicts' wording and trust (`verdict_reason`,
/// `verdict_trusted`, the summary's `notes`) may have changed since, by design, and keys added
/// since (goodput and objective attainment, for a run that had latency objectives; a sample of
/// the server's message per error kind, the load offered in the steady half) are new, and a level
/// that queued is said to saturate by queueing even where it shed requests too.
#[test]
fn folders_written_by_an_earlier_version_re_report_every_figure() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v0.1.0");
    for name in ["queueing", "client-limited"] {
        let tmp = tempfile::tempdir().unwrap();
        for file in [
            "metadata.json",
            "requests.jsonl",
            "benchmark_qps_results.json",
        ] {
            std::fs::copy(fixtures.join(name).join(file), tmp.path().join(file)).unwrap();
        }
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_redline"))
            .args(["report", &tmp.path().display().to_string()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {:?}", out);
        let figures = |path: &Path| {
            let mut v = read_json(path);
            for l in v["results"].as_array_mut().unwrap() {
                let l = l.as_object_mut().unwrap();
                for k in [
                    "verdict_reason",
                    "verdict_trusted",
                    "slo_attainment_pct",
                    "goodput_qps",
                    "error_samples",
                    // A queue is named the cause even where it also shed requests (issue 26).
                    "saturation_cause",
                ] {
                    l.remove(k);
                }
                if let Some(k) = l.get_mut("keep_up").and_then(|k| k.as_object_mut()) {
                    k.remove("steady_offered_qps");
                }
                // Steady-window figures are new since (issue 22), and the output tokens counted
                // against those billed (issue 24).
                l.remove("steady");
                l.remove("output_tokens_counted");
            }
            // Intervals (`*_ci`) and standard errors (`*_se`) are new since.
            fn strip(v: &mut serde_json::Value) {
                if let Some(o) = v.as_object_mut() {
                    o.retain(|k, _| !k.ends_with("_ci") && !k.ends_with("_se"));
                    o.values_mut().for_each(strip);
                } else if let Some(a) = v.as_array_mut() {
                    a.iter_mut().for_each(strip);
                }
            }
            strip(&mut v);
            let summary = v["summary"].as_object_mut().unwrap();
            summary.remove("notes");
            summary.remove("slo");
            summary.remove("saturation_cause");
            v
        };
        assert_eq!(
            figures(&tmp.path().join("benchmark_qps_results.json")),
            figures(&fixtures.join(name).join("benchmark_qps_results.json")),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn report_writes_the_html_report_when_asked_and_keeps_a_held_one_current() {
    let run = priced_run(&[]).await;
    let dir = run.dir();
    let page = dir.join("benchmark_qps.html");
    // A run without --plot or --html writes none.
    assert!(!page.exists());
    let out = report(&dir, &["--html"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = std::fs::read_to_string(&page).unwrap();
    assert!(first.contains("Maximum sustainable QPS"));
    // A later report with other pricing rewrites the page the folder holds: never a stale one.
    let out = report(&dir, &["--gpu-rate", "4.60", "--num-gpus", "1"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second = std::fs::read_to_string(&page).unwrap();
    assert_ne!(first, second);
    let results = std::fs::read_to_string(dir.join("benchmark_qps_results.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&results).unwrap();
    let cost = json["results"][0]["cost_analysis"]["cost_per_million_tokens"]
        .as_f64()
        .unwrap();
    assert!(
        second.contains(&format!("<td>${cost:.4}</td>")),
        "the new cost is shown"
    );
}
