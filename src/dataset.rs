//! Loads and validates the conversations dataset and turns each sample into chat messages.
//!
//! Format (the reference tool's): a JSON array of samples, each with `prompt_content` (the system
//! prompt) and `cut_chat_history` (turns with `role` and `content`). JSON Lines (one sample per line)
//! is accepted too. A sample becomes `[system: prompt_content] + history`, skipping system turns inside
//! the history; unknown fields are ignored. Every problem is reported before any request is sent, with
//! the sample index and field path. `measure/client.rs` builds request bodies from the result.

use serde::Serialize;
use serde_json::Value;
use std::path::Path;
use thiserror::Error;

/// The bundled sample dataset (`data/conversations.json`), so `redline demo` works from any folder.
pub const BUNDLED: &[u8] = include_bytes!("../data/conversations.json");

/// One chat message as sent to the endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub role: &'static str,
    pub content: String,
}

/// A validated sample: the messages to send, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub messages: Vec<Message>,
}

#[derive(Debug, Error)]
pub enum DatasetError {
    #[error("cannot read dataset {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("dataset {path} is not valid JSON: {message} at line {line}, column {column}")]
    Syntax {
        path: String,
        message: String,
        line: usize,
        column: usize,
    },
    #[error("dataset {path}: {at}: {problem}")]
    Field {
        path: String,
        at: String,
        problem: String,
    },
    #[error("dataset {path} is {mib} MiB; redline holds the dataset in memory and accepts up to 256 MiB: sample it down (a few thousand conversations represent a workload well)")]
    TooLarge { path: String, mib: u64 },
    #[error("dataset {path} holds no samples; add at least one conversation")]
    Empty { path: String },
    #[error("dataset {path}: the top level must be an array of samples (or JSON Lines, one sample per line), found {found}")]
    NotArray { path: String, found: &'static str },
}

/// Largest dataset file loaded (it is held in memory with its request bodies).
pub const MAX_DATASET_BYTES: u64 = 256 * 1024 * 1024;

/// Reads and validates a dataset file.
pub fn load(path: &Path) -> Result<Vec<Conversation>, DatasetError> {
    let name = path.display().to_string();
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.len() > MAX_DATASET_BYTES {
            return Err(DatasetError::TooLarge {
                path: name,
                mib: meta.len() / (1024 * 1024),
            });
        }
    }
    let bytes = std::fs::read(path).map_err(|source| DatasetError::Read {
        path: name.clone(),
        source,
    })?;
    parse(&bytes, &name)
}

/// Validates dataset bytes; `name` is used in error messages.
pub fn parse(bytes: &[u8], name: &str) -> Result<Vec<Conversation>, DatasetError> {
    let samples = parse_values(bytes, name)?;
    if samples.is_empty() {
        return Err(DatasetError::Empty { path: name.into() });
    }
    samples
        .iter()
        .enumerate()
        .map(|(i, s)| conversation(s, i).map_err(|(at, problem)| field(name, at, problem)))
        .collect()
}

fn field(name: &str, at: String, problem: String) -> DatasetError {
    DatasetError::Field {
        path: name.into(),
        at,
        problem,
    }
}

fn parse_values(bytes: &[u8], name: &str) -> Result<Vec<Value>, DatasetError> {
    let syntax = |e: serde_json::Error, line_offset: usize| DatasetError::Syntax {
        path: name.into(),
        message: strip_position(&e.to_string()),
        line: e.line() + line_offset,
        column: e.column(),
    };
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') || first.is_none() {
        return match serde_json::from_slice::<Value>(bytes).map_err(|e| syntax(e, 0))? {
            Value::Array(v) => Ok(v),
            other => Err(DatasetError::NotArray {
                path: name.into(),
                found: kind(&other),
            }),
        };
    }
    // JSON Lines: one sample per non-blank line.
    let mut out = Vec::new();
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let v: Value = serde_json::from_slice(line).map_err(|e| syntax(e, n))?;
        if !v.is_object() {
            return Err(DatasetError::NotArray {
                path: name.into(),
                found: kind(&v),
            });
        }
        out.push(v);
    }
    Ok(out)
}

/// serde_json appends " at line L column C"; we report those as fields of our own.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

type FieldProblem = (String, String);

fn conversation(sample: &Value, i: usize) -> Result<Conversation, FieldProblem> {
    let at = |p: &str| format!("sample {i}{p}");
    let obj = sample.as_object().ok_or_else(|| {
        (
            at(""),
            format!("expected an object, found {}", kind(sample)),
        )
    })?;
    let system = string_field(obj.get("prompt_content"), || at(".prompt_content"))?;
    let history = match obj.get("cut_chat_history") {
        Some(Value::Array(turns)) => turns,
        Some(other) => {
            return Err((
                at(".cut_chat_history"),
                format!("expected an array of turns, found {}", kind(other)),
            ))
        }
        None => return Err((at(".cut_chat_history"), "missing required field".into())),
    };
    let mut messages = vec![Message {
        role: "system",
        content: system,
    }];
    for (t, turn) in history.iter().enumerate() {
        let tat = || at(&format!(".cut_chat_history[{t}]"));
        let turn = turn
            .as_object()
            .ok_or_else(|| (tat(), format!("expected an object, found {}", kind(turn))))?;
        let role = string_field(turn.get("role"), || format!("{}.role", tat()))?;
        let content = string_field(turn.get("content"), || format!("{}.content", tat()))?;
        let role = match role.as_str() {
            "user" => "user",
            "assistant" => "assistant",
            "system" => continue,
            other => {
                return Err((
                    format!("{}.role", tat()),
                    format!(
                        "unknown role {other:?}; expected \"user\", \"assistant\" or \"system\""
                    ),
                ))
            }
        };
        messages.push(Message { role, content });
    }
    if messages.len() == 1 {
        return Err((
            at(".cut_chat_history"),
            "has no user or assistant turn; a request needs at least one".into(),
        ));
    }
    Ok(Conversation { messages })
}

fn string_field(v: Option<&Value>, at: impl Fn() -> String) -> Result<String, FieldProblem> {
    match v {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err((at(), format!("expected a string, found {}", kind(other)))),
        None => Err((at(), "missing required field".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text.as_bytes(), "d.json").unwrap_err().to_string()
    }

    #[test]
    fn builds_messages_and_skips_history_system_turns() {
        let c = parse(
            br#"[{"prompt_content":"S","extra":1,"cut_chat_history":[
                {"role":"user","content":"a"},{"role":"system","content":"x"},{"role":"assistant","content":"b"}]}]"#,
            "d",
        )
        .unwrap();
        let roles: Vec<&str> = c[0].messages.iter().map(|m| m.role).collect();
        assert_eq!(roles, ["system", "user", "assistant"]);
        assert_eq!(c[0].messages[0].content, "S");
    }

    #[test]
    fn accepts_json_lines() {
        let text = "{\"prompt_content\":\"S\",\"cut_chat_history\":[{\"role\":\"user\",\"content\":\"a\"}]}\n\n{\"prompt_content\":\"T\",\"cut_chat_history\":[{\"role\":\"user\",\"content\":\"b\"}]}\n";
        assert_eq!(parse(text.as_bytes(), "d").unwrap().len(), 2);
    }

    #[test]
    fn malformed_json_reports_line_and_column() {
        let e = err("[\n  {\"prompt_content\": \"S\",,}\n]");
        assert!(e.contains("line 2, column"), "{e}");
    }

    #[test]
    fn jsonl_error_reports_the_file_line() {
        let e = err("{\"prompt_content\":\"S\",\"cut_chat_history\":[]}\n{oops}\n");
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn missing_and_mistyped_fields_name_index_and_path() {
        let e = err(
            r#"[{"prompt_content":"S","cut_chat_history":[{"role":"user","content":"a"}]},{"cut_chat_history":[]}]"#,
        );
        assert!(
            e.contains("sample 1.prompt_content: missing required field"),
            "{e}"
        );
        let e = err(r#"[{"prompt_content":"S","cut_chat_history":[{"role":"user","content":5}]}]"#);
        assert!(
            e.contains("sample 0.cut_chat_history[0].content: expected a string, found a number"),
            "{e}"
        );
    }

    #[test]
    fn unknown_role_empty_dataset_and_no_turns() {
        let e =
            err(r#"[{"prompt_content":"S","cut_chat_history":[{"role":"tool","content":"a"}]}]"#);
        assert!(e.contains("unknown role \"tool\""), "{e}");
        assert!(err("[]").contains("holds no samples"));
        assert!(err("  ").contains("not valid JSON"));
        let e =
            err(r#"[{"prompt_content":"S","cut_chat_history":[{"role":"system","content":"a"}]}]"#);
        assert!(e.contains("no user or assistant turn"), "{e}");
    }

    #[test]
    fn top_level_must_be_array() {
        assert!(err("[1]").contains("sample 0: expected an object, found a number"));
        assert!(err("\"x\"").contains("top level must be an array"));
    }

    #[test]
    fn non_utf8_is_an_error_not_a_panic() {
        assert!(parse(b"[\"\xff\"]", "d").is_err());
    }

    #[test]
    fn bundled_dataset_is_valid_and_mixed() {
        let c = parse(include_bytes!("../data/conversations.json"), "bundled").unwrap();
        assert!(c.len() >= 25, "{}", c.len());
        let turns = |c: &Conversation| c.messages.len() - 1;
        assert!(c.iter().any(|c| turns(c) == 1));
        assert!(c.iter().any(|c| (3..=5).contains(&turns(c))));
        assert!(c.iter().any(|c| turns(c) >= 10));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse(&bytes, "fuzz");
        }
    }
}
