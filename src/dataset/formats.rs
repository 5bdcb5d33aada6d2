//! One reader per dataset format (see `mod.rs`): a sample's JSON (or a text line) in, the messages
//! to send out, or the field at fault and what is wrong with it.

use super::types::{kind, Conversation, DatasetError, Loc, Message};
use crate::cli::DatasetFormat;
use serde_json::Value;

/// Reads one JSON sample in `format`.
pub(super) fn read(
    format: DatasetFormat,
    v: &Value,
    loc: Loc,
) -> Result<Conversation, FieldProblem> {
    match format {
        DatasetFormat::Reference | DatasetFormat::Auto => reference(v, loc),
        DatasetFormat::Sharegpt => sharegpt(v, loc),
        DatasetFormat::Openai => openai(v, loc),
        DatasetFormat::Prompts => prompt(v, loc),
    }
}

/// A text file: one prompt per non-blank line.
pub(super) fn text_lines(bytes: &[u8], name: &str) -> Result<Vec<Conversation>, DatasetError> {
    let text = std::str::from_utf8(bytes).map_err(|e| DatasetError::Field {
        path: name.into(),
        at: "text".into(),
        problem: format!("not UTF-8 ({e}); a prompts file holds one UTF-8 prompt per line"),
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| user_only(l.to_string()))
        .collect())
}

fn user_only(content: String) -> Conversation {
    Conversation {
        messages: vec![Message::new("user", content)],
        lengths: None,
    }
}

fn object<'a>(v: &'a Value, at: &str) -> Result<&'a serde_json::Map<String, Value>, FieldProblem> {
    v.as_object().ok_or_else(|| {
        (
            at.to_string(),
            format!("expected an object, found {}", kind(v)),
        )
    })
}

/// `{"prompt": "..."}`.
fn prompt(v: &Value, loc: Loc) -> Result<Conversation, FieldProblem> {
    let at = loc.to_string();
    let obj = object(v, &at)?;
    let text = string_field(obj.get("prompt"), || format!("{at}.prompt"))?;
    Ok(user_only(text))
}

/// ShareGPT: `{"conversations": [{"from": "human" | "gpt" | "system", "value": "..."}]}`.
fn sharegpt(v: &Value, loc: Loc) -> Result<Conversation, FieldProblem> {
    let at = loc.to_string();
    let obj = object(v, &at)?;
    let turns = array(obj.get("conversations"), || format!("{at}.conversations"))?;
    let mut messages = Vec::new();
    for (t, turn) in turns.iter().enumerate() {
        let tat = format!("{at}.conversations[{t}]");
        let turn = object(turn, &tat)?;
        let from = string_field(turn.get("from"), || format!("{tat}.from"))?;
        let content = string_field(turn.get("value"), || format!("{tat}.value"))?;
        let role = match from.as_str() {
            "human" | "user" => "user",
            "gpt" | "assistant" | "chatgpt" | "bard" | "bing" => "assistant",
            "system" => "system",
            other => {
                return Err((
                    format!("{tat}.from"),
                    format!("unknown speaker {other:?}; expected \"human\", \"gpt\" or \"system\""),
                ))
            }
        };
        messages.push(Message::new(role, content));
    }
    finish(messages, &format!("{at}.conversations"))
}

/// OpenAI chat: `{"messages": [{"role": ..., "content": "..." | [{"type": "text", "text": ...}]}]}`.
fn openai(v: &Value, loc: Loc) -> Result<Conversation, FieldProblem> {
    let at = loc.to_string();
    let obj = object(v, &at)?;
    let list = array(obj.get("messages"), || format!("{at}.messages"))?;
    let mut messages = Vec::new();
    for (t, m) in list.iter().enumerate() {
        let mat = format!("{at}.messages[{t}]");
        let m = object(m, &mat)?;
        let role = string_field(m.get("role"), || format!("{mat}.role"))?;
        let role = match role.as_str() {
            "user" => "user",
            "assistant" => "assistant",
            "system" | "developer" => "system",
            other => {
                return Err((
                    format!("{mat}.role"),
                    format!(
                        "unknown role {other:?}; expected \"system\", \"user\" or \"assistant\""
                    ),
                ))
            }
        };
        let mut images = Vec::new();
        let content = match m.get("content") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(parts)) => parts_of(parts, &mut images, &format!("{mat}.content"))?,
            Some(other) => {
                return Err((
                    format!("{mat}.content"),
                    format!("expected a string or parts, found {}", kind(other)),
                ))
            }
            None => return Err((format!("{mat}.content"), "missing required field".into())),
        };
        let mut message = Message::new(role, content);
        message.images = images;
        messages.push(message);
    }
    finish(messages, &format!("{at}.messages"))
}

/// OpenAI content parts: the `text` parts joined, each `image_url` part's image kept; any other
/// part is refused rather than dropped, so nothing in the file goes unsent without a word.
fn parts_of(
    parts: &[Value],
    images: &mut Vec<std::sync::Arc<crate::dataset::types::Image>>,
    at: &str,
) -> Result<String, FieldProblem> {
    let mut texts = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let here = format!("{at}[{i}]");
        match p.get("type").and_then(Value::as_str) {
            Some("text") | None if p.get("text").is_some() => {
                texts.push(p.get("text").and_then(Value::as_str).unwrap_or_default())
            }
            Some("image_url") => {
                let url = p.pointer("/image_url/url").and_then(Value::as_str);
                let url = url.ok_or_else(|| {
                    (
                        format!("{here}.image_url.url"),
                        "missing required field".to_string(),
                    )
                })?;
                let image = crate::dataset::images::from_url(url)
                    .map_err(|e| (format!("{here}.image_url.url"), e))?;
                images.push(std::sync::Arc::new(image));
            }
            other => {
                return Err((
                    format!("{here}.type"),
                    format!("{other:?}: redline sends text and image_url parts"),
                ))
            }
        }
    }
    Ok(texts.join("\n"))
}

/// Drops the recorded reply (trailing assistant turns); at least one user turn must remain.
fn finish(mut messages: Vec<Message>, at: &str) -> Result<Conversation, FieldProblem> {
    while messages.last().is_some_and(|m| m.role == "assistant") {
        messages.pop();
    }
    if !messages.iter().any(|m| m.role == "user") {
        return Err((
            at.to_string(),
            "has no user turn; a request needs at least one".into(),
        ));
    }
    Ok(Conversation {
        messages,
        lengths: None,
    })
}

fn array(v: Option<&Value>, at: impl Fn() -> String) -> Result<&Vec<Value>, FieldProblem> {
    match v {
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err((at(), format!("expected an array, found {}", kind(other)))),
        None => Err((at(), "missing required field".into())),
    }
}

type FieldProblem = (String, String);

/// A reference-format sample.
fn reference(sample: &Value, loc: Loc) -> Result<Conversation, FieldProblem> {
    let at = |p: &str| format!("{loc}{p}");
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
    let mut messages = vec![Message::new("system", system)];
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
        messages.push(Message::new(role, content));
    }
    if messages.len() == 1 {
        return Err((
            at(".cut_chat_history"),
            "has no user or assistant turn; a request needs at least one".into(),
        ));
    }
    Ok(Conversation {
        messages,
        lengths: None,
    })
}

pub(super) fn string_field(
    v: Option<&Value>,
    at: impl Fn() -> String,
) -> Result<String, FieldProblem> {
    match v {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err((at(), format!("expected a string, found {}", kind(other)))),
        None => Err((at(), "missing required field".into())),
    }
}
