//! The console's workload sections, after the results table: what the usage says about the
//! tokens, each level's images (`--images`), each level's token lengths asked for
//! against those the endpoint reported (synthetic prompts, traces), and with `--sessions` each
//! level's sessions and a table of its figures by turn. Nothing is printed for a plain dataset run.

use crate::analyze::level::LevelReport;
use crate::analyze::workload::LengthFit;
use crate::output::table;
use std::fmt::Write;

/// The token-lengths and sessions sections, or an empty string.
pub fn render(levels: &[LevelReport], percentiles: &[f64]) -> String {
    let mut out = accounting(levels);
    out.push_str(&images(levels));
    out.push_str(&adapters(levels, percentiles));
    if levels.iter().any(|l| l.token_lengths.is_some()) {
        out.push_str("\nToken lengths, requested -> reported by the endpoint (mean):\n");
        for l in levels {
            let Some(t) = &l.token_lengths else { continue };
            let part = |name: &str, f: &Option<LengthFit>| match f {
                Some(f) => format!(
                    "{name} {:.1} -> {:.1} ({:+.1}%)",
                    f.requested_mean, f.measured_mean, f.mean_error_pct
                ),
                None => format!("{name} - (no usage reported)"),
            };
            // A session's later turns carry its history: only first turns have a length asked.
            let input = if l.sessions.is_some() {
                "input (first turns)"
            } else {
                "input"
            };
            // A reply that comes whole was asked for no output length.
            let output = match l.batched() {
                Some(_) => String::new(),
                None => format!(", {}", part("output", &t.output)),
            };
            let _ = writeln!(out, "  {}: {}{output}", l.label(), part(input, &t.input),);
        }
    }
    for l in levels {
        let Some(s) = &l.sessions else { continue };
        let not_sent = match s.turns_not_sent {
            0 => String::new(),
            n => {
                format!(", {n} turns not sent (their session ended at an error; counted as failed)")
            }
        };
        let _ = writeln!(
            out,
            "\n{} - Sessions: {} started, {} completed every turn, {:.1} turns each, {:.2} requests/s{not_sent}",
            l.label(), s.sessions, s.completed, s.mean_turns_sent, s.request_rate_qps
        );
        let mut header = vec!["Turn".to_string(), "Requests".into(), "Success%".into()];
        for name in ["TTFT", "E2E"] {
            header.extend(percentiles.iter().map(|p| format!("{name} P{p}(s)")));
        }
        header.push("Input tok".into());
        let mut rows = vec![header];
        for t in &s.by_turn {
            let mut cells = vec![
                t.turn.to_string(),
                t.requests.to_string(),
                format!(
                    "{:.1}",
                    t.succeeded as f64 / t.requests.max(1) as f64 * 100.0
                ),
            ];
            for p in [&t.ttft, &t.e2e_latency] {
                cells.extend(percentiles.iter().map(|&q| match p.get(q) {
                    Some(v) => format!("{v:.3}"),
                    None => "-".into(),
                }));
            }
            cells.push(
                t.input_tokens_mean
                    .map_or("-".into(), |v| format!("{v:.0}")),
            );
            rows.push(cells);
        }
        out.push_str(&table::aligned(&rows, "  ", |_| 12));
        if let Some(t) = &s.tool_results {
            let _ = writeln!(
                out,
                "  Tools: {} turns' replies called a tool; {} requests sent their results back in the same turn ({:.1}% success; in the level's figures, not in the turn rows)",
                t.turns_calling_tools,
                t.requests,
                t.succeeded as f64 / t.requests.max(1) as f64 * 100.0
            );
        }
    }
    out
}

/// `--lora`: a table of each level's figures per adapter.
fn adapters(levels: &[LevelReport], percentiles: &[f64]) -> String {
    if !levels.iter().any(|l| l.by_adapter.is_some()) {
        return String::new();
    }
    let mut header = vec![
        "Level".to_string(),
        "Adapter".into(),
        "Requests".into(),
        "Success%".into(),
    ];
    for name in ["TTFT", "E2E"] {
        header.extend(percentiles.iter().map(|p| format!("{name} P{p}(s)")));
    }
    header.extend(["Tok/s P50".into(), "Output tok/s".into()]);
    let mut rows = vec![header];
    for l in levels {
        for a in l.by_adapter.iter().flatten() {
            let mut cells = vec![
                l.label(),
                a.adapter.clone(),
                a.requests.to_string(),
                format!("{:.1}", a.success_rate),
            ];
            for p in [&a.ttft, &a.e2e_latency] {
                cells.extend(
                    percentiles
                        .iter()
                        .map(|&q| p.get(q).map_or("-".into(), |v| format!("{v:.3}"))),
                );
            }
            cells.push(
                a.tokens_per_sec
                    .get(50.0)
                    .map_or("-".into(), |v| format!("{v:.1}")),
            );
            cells.push(format!("{:.1}", a.output_throughput_tok_s));
            rows.push(cells);
        }
    }
    format!(
        "\nBy adapter (--lora):\n{}",
        table::aligned(&rows, "  ", |_| 12)
    )
}

/// Each level's images (`--images`, or a dataset's image parts), their bytes, the bodies' sizes and the prompt tokens per
/// request (with TTFT with and without images when the level mixed them).
fn images(levels: &[LevelReport]) -> String {
    let kib = |b: f64| match b / 1024.0 {
        k if k < 100.0 => format!("{k:.1} KiB"),
        k if k < 1024.0 => format!("{k:.0} KiB"),
        k => format!("{:.1} MiB", k / 1024.0),
    };
    let p = |v: Option<f64>, show: &dyn Fn(f64) -> String| v.map_or("-".into(), show);
    let mut lines = Vec::new();
    for l in levels {
        let Some(i) = &l.images else { continue };
        let mut line = format!(
            "  {}: {:.1} per request, {:.1} images/s, {}/s of image data; request body p50 {}, max {}; prompt tokens per request p50 {}",
            l.label(),
            i.per_request,
            i.images_per_s,
            kib(i.image_bytes_per_s),
            p(i.request_bytes.get(50.0), &kib),
            p(i.request_bytes.get(100.0), &kib),
            p(i.prompt_tokens.get(50.0), &crate::output::summary::thousands),
        );
        if let (Some(w), Some(wo)) = (&i.ttft_with_images_s, &i.ttft_without_images_s) {
            let _ = write!(
                line,
                "; TTFT p50 {} s with images, {} s without",
                p(w.get(50.0), &|t| format!("{t:.3}")),
                p(wo.get(50.0), &|t| format!("{t:.3}"))
            );
        }
        lines.push(line + "\n");
    }
    let mut out = match lines.is_empty() {
        true => String::new(),
        false => format!("\nImages:\n{}", lines.concat()),
    };
    for l in levels {
        let Some(a) = &l.audio else { continue };
        let _ = writeln!(
            out,
            "{}  {}: {:.1} audio clips per request, {:.1} clips/s, {:.1} s of audio per second; prompt tokens per request p50 {}",
            if out.contains("Audio:") { "" } else { "\nAudio:\n" },
            l.label(),
            a.per_request,
            a.clips_per_s,
            a.audio_seconds_per_s,
            p(a.prompt_tokens.get(50.0), &crate::output::summary::thousands),
        );
    }
    out
}

/// What the server's usage says beyond the totals: the prompt tokens its prefix cache served,
/// reasoning tokens, output tokens streamed against those billed when they differ, and the
/// token check's count of the replies' text against their bill.
fn accounting(levels: &[LevelReport]) -> String {
    let n = |v: u64| crate::output::summary::thousands(v as f64);
    let mut lines = Vec::new();
    for l in levels {
        let mut parts = Vec::new();
        if let Some(c) = &l.prompt_cache {
            parts.push(format!(
                "prefix cache served {:.1}% of {} prompt tokens",
                c.hit_pct,
                n(c.prompt_tokens)
            ));
        }
        if let Some(r) = l.reasoning_tokens {
            parts.push(format!("{} of the output tokens were reasoning", n(r)));
        }
        if let Some(c) = l.output_tokens_counted.filter(|c| c.mismatch_pct > 0.0) {
            parts.push(format!(
                "the stream carried {} text events for {} billed output tokens ({:.0}% of requests differ)",
                n(c.streamed_text_events), n(c.billed_output_tokens), c.mismatch_pct
            ));
        }
        if let Some(c) = l
            .output_tokens_checked
            .as_ref()
            .filter(|c| c.mismatched > 0)
        {
            parts.push(format!(
                "{} counted {} tokens in the text of {} replies billed {} ({} of them differ, {:.0}%)",
                c.by,
                n(c.counted_tokens),
                c.requests,
                n(c.billed_tokens),
                c.mismatched,
                c.mismatch_pct
            ));
        }
        if !parts.is_empty() {
            lines.push(format!("  {}: {}\n", l.label(), parts.join("; ")));
        }
    }
    // A check that found every reply's text as billed says so once, not level by level.
    let checks: Vec<_> = levels
        .iter()
        .filter_map(|l| l.output_tokens_checked.as_ref())
        .collect();
    if !checks.is_empty() && checks.iter().all(|c| c.mismatched == 0) {
        let replies: u64 = checks.iter().map(|c| c.requests).sum();
        lines.push(format!(
            "  {} counted, in the text of each of the {replies} replies checked, the tokens billed for it\n",
            checks[0].by
        ));
    }
    match lines.is_empty() {
        true => String::new(),
        false => format!("\nTokens, from the server's usage:\n{}", lines.concat()),
    }
}
