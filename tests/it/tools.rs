//! Tool calls (`--tools`): a call streamed back is output with its own first-token time under
//! every API, and with `--sessions` each call is answered with its result in the API's shape and
//! the turn goes on, as an agent's loop does; the simulator answers a result with text, so a
//! continuation that streams text proves the result arrived in a shape the API reads.

use crate::common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn a_tool_call_streamed_back_is_output_with_its_own_first_token_time_under_each_api() {
    let sim = start_sim(&["--profile", "fixed", "--ttft-ms", "20", "--itl-ms", "2"]).await;
    let dir = tempfile::tempdir().unwrap();
    let tools = dir.path().join("tools.json");
    let weather = r#"[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]"#;
    std::fs::write(&tools, weather).unwrap();
    let tools = tools.display().to_string();
    let mut outputs = Vec::new();
    for api in ["chat", "responses", "anthropic"] {
        let flags = [
            "--api",
            api,
            "--tools",
            &tools,
            "--qps",
            "10",
            "--duration",
            "1",
        ];
        let run = redline(&bench_args(&sim, &flags)).await;
        assert_eq!(run.code(), Some(0), "--api {api}: {}", run.stderr());
        let l = run.level(0);
        assert_eq!(l["success_rate"], 100.0, "--api {api}");
        // Every reply was a call of the tool, and its arguments are the output.
        assert_eq!(
            l["tool_call_requests"], l["requests_succeeded"],
            "--api {api}: {l}"
        );
        let tool = l["ttft_tool_call_s"]["p50"].as_f64().unwrap();
        assert_eq!(Some(tool), l["ttft"]["p50"].as_f64(), "--api {api}");
        outputs.push(l["total_output_tokens"].as_u64().unwrap());
    }
    assert!(
        outputs.iter().all(|&o| o == outputs[0] && o > 0),
        "{outputs:?}"
    );
    // The completions API has no tools.
    let run = redline(&bench_args(
        &sim,
        &["--api", "completions", "--tools", &tools, "--qps", "1"],
    ))
    .await;
    assert_eq!(run.code(), Some(1));
    assert!(
        run.stderr().contains("the completions API takes no tools"),
        "{}",
        run.stderr()
    );
}

/// A tools file of one tool whose result is `result`.
fn tools_file(dir: &std::path::Path, result: &str) -> String {
    let path = dir.join(format!("tools-{}.json", result.len()));
    let tools = serde_json::json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object"}}, "result": result}]);
    std::fs::write(&path, tools.to_string()).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_answers_each_tool_call_with_its_result_and_the_turn_goes_on_under_each_api() {
    let sim = start_sim(&["--profile", "fixed", "--ttft-ms", "20", "--itl-ms", "2"]).await;
    let dir = tempfile::tempdir().unwrap();
    let short = tools_file(dir.path(), "sunny");
    let long = tools_file(dir.path(), &"a long forecast of rain and sun ".repeat(20));
    let mut prompts_by_api = Vec::new();
    for api in ["chat", "responses", "anthropic"] {
        let mut result_tokens = Vec::new();
        for tools in [&short, &long] {
            let flags = [
                "--api",
                api,
                "--sessions",
                "--tools",
                tools,
                "--qps",
                "4",
                "--duration",
                "1",
                "--seed",
                "7",
            ];
            let run = redline(&bench_args(&sim, &flags)).await;
            assert_eq!(run.code(), Some(0), "--api {api}: {}", run.stderr());
            let l = run.level(0);
            assert_eq!(l["success_rate"], 100.0, "--api {api}: {l}");
            let recs = run.records();
            let first: Vec<&Value> = recs.iter().filter(|r| r["tool_round"].is_null()).collect();
            let results: Vec<&Value> = recs.iter().filter(|r| r["tool_round"] == 1).collect();
            // Every turn's reply called the tool, and every call was answered once, in a
            // request of the same session and turn whose reply is text: the simulator read the
            // result in the API's own shape.
            assert!(first.iter().all(|r| r["first_tool_call_s"].is_number()));
            assert_eq!(first.len(), results.len(), "--api {api}");
            for r in &results {
                assert!(r["first_tool_call_s"].is_null(), "--api {api}: {r}");
                assert!(r["completion_tokens"].as_u64().unwrap() > 0);
                let of = first
                    .iter()
                    .find(|f| f["session"] == r["session"] && f["turn"] == r["turn"])
                    .expect("the turn's first request");
                // The history grew by the call and its result.
                assert!(r["prompt_tokens"].as_u64() > of["prompt_tokens"].as_u64());
                assert_eq!(
                    r["planned_s"], of["end_s"],
                    "sent as the call's reply ended"
                );
            }
            let s = &l["sessions"];
            assert_eq!(s["tool_results"]["requests"], results.len());
            assert_eq!(s["tool_results"]["turns_calling_tools"], first.len());
            assert_eq!(s["completed"], s["sessions"], "--api {api}");
            let sent: u64 = results
                .iter()
                .map(|r| r["prompt_tokens"].as_u64().unwrap())
                .sum();
            result_tokens.push(sent / results.len() as u64);
            if tools == &short {
                let key = |r: &Value| format!("{} {} {}", r["session"], r["turn"], r["tool_round"]);
                let prompts: std::collections::BTreeMap<_, _> = recs
                    .iter()
                    .map(|r| (key(r), r["prompt_tokens"].clone()))
                    .collect();
                prompts_by_api.push(prompts);
            }
            assert!(run.stdout().contains("requests sent their results back"));
        }
        // The tool's own result is what was sent: a longer result, a longer prompt.
        assert!(
            result_tokens[1] > result_tokens[0] + 100,
            "--api {api}: {result_tokens:?}"
        );
    }
    // The same history costs the same prompt under chat and the Responses API, calls and results
    // included. (Anthropic's `tool_use` input must be JSON, and the simulator streams words as
    // arguments, so its history carries `{}` for them.)
    let (chat, responses) = (&prompts_by_api[0], &prompts_by_api[1]);
    let both: Vec<_> = chat.keys().filter(|k| responses.contains_key(*k)).collect();
    assert!(both.len() > 4, "{both:?}");
    for k in both {
        assert_eq!(chat[k], responses[k], "{k}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tool_loops_flags_need_tools_and_sessions() {
    let sim = start_sim(&["--profile", "fixed"]).await;
    let dir = tempfile::tempdir().unwrap();
    let tools = tools_file(dir.path(), "x");
    for (flags, says) in [
        (vec!["--tool-rounds", "2"], "give --tools FILE"),
        (
            vec!["--tools", &tools, "--tool-result", "y"],
            "apply to --sessions only",
        ),
        (
            vec!["--tools", &tools, "--sessions", "--tool-rounds", "0"],
            "--tool-rounds 0: a loop answers at least one call a turn",
        ),
    ] {
        refused(&sim, &flags, says).await;
    }
}
