//! The dataset's types, shared by every reader (`formats.rs`, `synthetic.rs`, `trace.rs`) and by
//! the stages after it: a chat message, a validated sample with the lengths it was built to, a
//! loaded dataset, where a sample is in its file, and every way a dataset can be wrong.

use crate::cli::DatasetFormat;
use serde::Serialize;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use thiserror::Error;

/// One chat message as sent to the endpoint. It serialises as chat's message; `request.rs`
/// shapes it for the other APIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub role: &'static str,
    pub content: String,
    /// In a session with `--tools`: the calls an assistant message made, or the call a tool
    /// message answers.
    pub tool: Option<Box<ToolPart>>,
    /// `--images`: the images a user message carries after its text.
    pub images: Vec<Arc<Image>>,
    /// `--audio`: the audio clips it carries after its images.
    pub audio: Vec<Arc<Audio>>,
}

/// A WAV clip a message carries, as base64, with its length.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub base64: Arc<str>,
    pub bytes: usize,
    pub seconds: f64,
}

impl Eq for Audio {}

/// An image a message carries: its encoded bytes as base64, with their type and the picture's
/// size (`dataset/images.rs` makes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// `image/jpeg`, `image/png`, `image/webp`, `image/gif`.
    pub media_type: &'static str,
    pub base64: Arc<str>,
    /// A dataset's image given by its address (http or https), sent as it is; `base64` is then
    /// empty and the size unknown (0).
    pub url: Option<Arc<str>>,
    /// The encoded file's bytes.
    pub bytes: usize,
    pub width: u32,
    pub height: u32,
}

impl Image {
    /// As a `data:` URI, the way the OpenAI APIs take an inline image.
    pub fn data_uri(&self) -> String {
        match &self.url {
            Some(u) => u.to_string(),
            None => format!("data:{};base64,{}", self.media_type, self.base64),
        }
    }
}

/// A message's part in a tool loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolPart {
    /// The assistant's calls, as it streamed them.
    Calls(Vec<ToolCall>),
    /// The result sent back for one call (the message's content).
    Result(ToolCall),
}

/// A tool call a reply streamed: its id, the tool's name, and its arguments (JSON text).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

impl Message {
    pub fn new(role: &'static str, content: impl Into<String>) -> Message {
        Message {
            role,
            content: content.into(),
            tool: None,
            images: Vec::new(),
            audio: Vec::new(),
        }
    }

    /// An assistant's reply: its text, and the tools it called.
    pub fn assistant(content: String, calls: Vec<ToolCall>) -> Message {
        Message {
            tool: (!calls.is_empty()).then(|| Box::new(ToolPart::Calls(calls))),
            ..Message::new("assistant", content)
        }
    }

    /// The result of `call`.
    pub fn tool_result(call: ToolCall, result: String) -> Message {
        Message {
            tool: Some(Box::new(ToolPart::Result(call))),
            ..Message::new("tool", result)
        }
    }
}

/// Chat's shape: `role` and `content`; an assistant's calls as `tool_calls` (its content null
/// when it said nothing); a result with its `tool_call_id`.
impl Serialize for Message {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("role", self.role)?;
        match self.tool.as_deref() {
            None if !self.images.is_empty() || !self.audio.is_empty() => {
                // Text first, then each image as an `image_url` part, each clip `input_audio`.
                let mut parts = vec![serde_json::json!({"type": "text", "text": self.content})];
                parts.extend(self.images.iter().map(|i| {
                    serde_json::json!({"type": "image_url", "image_url": {"url": i.data_uri()}})
                }));
                parts.extend(self.audio.iter().map(|a| {
                    serde_json::json!({"type": "input_audio", "input_audio": {"data": &*a.base64, "format": "wav"}})
                }));
                m.serialize_entry("content", &parts)?;
            }
            None => m.serialize_entry("content", &self.content)?,
            Some(ToolPart::Calls(calls)) => {
                let content = (!self.content.is_empty()).then_some(&self.content);
                m.serialize_entry("content", &content)?;
                let calls: Vec<Value> = calls
                    .iter()
                    .map(|c| {
                        serde_json::json!({"id": c.id, "type": "function",
                            "function": {"name": c.name, "arguments": c.arguments}})
                    })
                    .collect();
                m.serialize_entry("tool_calls", &calls)?;
            }
            Some(ToolPart::Result(call)) => {
                m.serialize_entry("tool_call_id", &call.id)?;
                m.serialize_entry("content", &self.content)?;
            }
        }
        m.end()
    }
}

/// A validated sample: the messages to send, in order, and the lengths it was built to (synthetic
/// prompts and traces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub messages: Vec<Message>,
    pub lengths: Option<Lengths>,
}

/// The lengths a prompt was built to, in tokens: the whole prompt (of its first turn), and the
/// reply asked for (sent as its `max_tokens`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lengths {
    pub input_tokens: u64,
    pub output_tokens: u32,
}

/// A loaded dataset and the format it was read as.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub conversations: Vec<Conversation>,
    pub format: DatasetFormat,
}

#[derive(Debug, Error)]
pub enum DatasetError {
    #[error("cannot read dataset {path}: {cause}")]
    Read { path: String, cause: std::io::Error },
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
    #[error("dataset {path} is empty: it holds no samples; add at least one conversation")]
    Empty { path: String },
    #[error("dataset {path}: the top level must be an array of samples (or JSON Lines, one sample per line), found {found}")]
    NotArray { path: String, found: &'static str },
    #[error("dataset {path}: {at} has none of the fields redline reads: `prompt_content` and `cut_chat_history` (the reference format), `conversations` (ShareGPT), `messages` (OpenAI chat) or `prompt` (plain prompts); a text file holds one prompt per line. Choose one with --dataset-format")]
    UnknownFormat { path: String, at: String },
}

/// Largest dataset file loaded (it is held in memory with its request bodies).
pub const MAX_DATASET_BYTES: u64 = 256 * 1024 * 1024;

/// Where a sample is in its file: an index in a JSON array, or a line of JSON Lines or text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loc {
    Index(usize),
    Line(usize),
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loc::Index(i) => write!(f, "sample {i}"),
            Loc::Line(n) => write!(f, "line {n}"),
        }
    }
}

/// How a JSON value is named in an error: `a string`, `an object`, ...
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
