//! The dataset's types, shared by every reader (`formats.rs`, `synthetic.rs`, `trace.rs`) and by
//! the stages after it: a chat message, a validated sample with the lengths it was built to, a
//! loaded dataset, where a sample is in its file, and every way a dataset can be wrong.

use crate::cli::DatasetFormat;
use serde::Serialize;
use serde_json::Value;
use std::fmt;
use thiserror::Error;

/// One chat message as sent to the endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub role: &'static str,
    pub content: String,
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
