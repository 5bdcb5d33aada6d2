//! `--tools FILE`, `--tool-result` and `--tool-rounds`: the function tools offered in every
//! request, and with `--sessions` the loop that answers each call (`measure/tool_loop.rs` runs it).
//! `mod.rs` puts them in the `Config`; `measure/request.rs` shapes the tools per API.

use crate::cli::{Api, BenchArgs};
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// A session's tool loop (`measure/tool_loop.rs` runs it).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolLoop {
    /// The most requests a user turn sends after its first, each with the previous calls'
    /// results.
    pub rounds: u32,
    /// Results by tool name (a tool's `result` in the `--tools` file).
    pub results: std::collections::BTreeMap<String, String>,
    /// Every other tool's result (`--tool-result`).
    pub default_result: String,
}

impl ToolLoop {
    /// The result sent back for a call of tool `name`.
    pub fn result(&self, name: &str) -> &str {
        self.results.get(name).unwrap_or(&self.default_result)
    }

    /// Requests per user turn at most: its first and one per round.
    pub fn slots(&self) -> u64 {
        1 + u64::from(self.rounds)
    }
}

/// The tools to offer, and the session's tool loop when there is one.
pub struct Offered {
    pub offered: Vec<Value>,
    pub session_loop: Option<ToolLoop>,
}

const SHAPE: &str =
    r#"[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]"#;

/// `--tools` and its loop's flags, checked: the loop's flags need `--tools` and `--sessions`.
pub fn of(a: &BenchArgs) -> Result<Option<Offered>> {
    let looped = a.tool_result.is_some() || a.tool_rounds.is_some();
    let Some(path) = a.tools.as_deref() else {
        if looped {
            bail!("--tool-result and --tool-rounds answer tool calls: give --tools FILE (and --sessions)");
        }
        return Ok(None);
    };
    if a.tool_rounds == Some(0) {
        bail!("--tool-rounds 0: a loop answers at least one call a turn; give 1 or more, or leave out --tool-rounds and --tool-result");
    }
    if looped && !a.workload.sessions {
        bail!("--tool-result and --tool-rounds apply to --sessions only (a single request has no next turn to send a result in)");
    }
    let (offered, results) = read(path, a.api)?;
    let session_loop = a.workload.sessions.then(|| ToolLoop {
        rounds: a.tool_rounds.unwrap_or(3),
        results,
        default_result: a
            .tool_result
            .clone()
            .unwrap_or_else(|| r#"{"ok":true}"#.into()),
    });
    Ok(Some(Offered {
        offered,
        session_loop,
    }))
}

/// `--tools FILE`: a JSON array of OpenAI function tools, each with a `function.name`, and the
/// `result` a tool may carry (taken out: it is not sent); not for the APIs without tools.
fn read(path: &Path, api: Api) -> Result<(Vec<Value>, BTreeMap<String, String>)> {
    if matches!(api, Api::Completions) || api.batched() {
        bail!(
            "--tools: the {} API takes no tools; use --api chat, responses or anthropic",
            api.name()
        );
    }
    let shown = path.display();
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read --tools {shown}"))?;
    let mut list: Vec<Value> = serde_json::from_str(&text)
        .with_context(|| format!("--tools {shown}: give a JSON array of tools, e.g. {SHAPE}"))?;
    if list.is_empty() {
        bail!("--tools {shown} lists no tool; e.g. {SHAPE}");
    }
    let mut results = BTreeMap::new();
    for (i, t) in list.iter_mut().enumerate() {
        let Some(name) = t.pointer("/function/name").and_then(Value::as_str) else {
            bail!(
                "--tools {shown}: tool {} has no function.name; e.g. {SHAPE}",
                i + 1
            );
        };
        let name = name.to_string();
        if let Some(r) = t.as_object_mut().and_then(|o| o.remove("result")) {
            let text = match r {
                Value::String(s) => s,
                other => other.to_string(),
            };
            results.insert(name, text);
        }
    }
    Ok((list, results))
}
