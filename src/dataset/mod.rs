//! Loads and validates the dataset and turns each sample into chat messages, whatever its format.
//!
//! Formats (`formats.rs` reads each; `--dataset-format` names one, else the first sample decides):
//! - **reference** (the Python tool's): `prompt_content` (the system prompt) and `cut_chat_history`
//!   (turns with `role` and `content`); a sample becomes `[system: prompt_content] + history`,
//!   skipping system turns inside the history.
//! - **sharegpt**: `conversations` of `{from, value}` (`system`, `human`, `gpt`).
//! - **openai**: `{"messages": [{role, content}, ...]}` per line (content a string or text parts).
//! - **prompts**: `{"prompt": "..."}` per line, or a text file with one prompt per line (a `.txt`
//!   file, or any non-JSON file with `--dataset-format prompts`).
//!
//! For ShareGPT and OpenAI chat samples, trailing assistant turns (the reply that was recorded) are
//! dropped: the request asks for that reply. A JSON array or JSON Lines (one sample per line) is
//! accepted for every JSON format. Unknown fields are ignored. Every problem is reported before any
//! request is sent, with the sample (`sample 3` in an array, `line 4` in JSON Lines) and field path.
//! `--max-samples` and `--shuffle` then pick the samples sent (`select`). `measure/request.rs` builds
//! request bodies from the result. The types every reader shares (messages, samples, errors) are in
//! `types.rs`, which the readers import instead of this file.

pub mod audio;
mod formats;
pub mod images;
pub mod synthetic;
pub mod tokenizer;
pub mod trace;
mod types;

use types::kind;
pub use types::{
    Audio, Conversation, Dataset, DatasetError, Image, Lengths, Loc, Message, ToolCall, ToolPart,
    MAX_DATASET_BYTES,
};

use crate::cli::DatasetFormat;
use rand::seq::SliceRandom;
use rand::{rngs::StdRng, SeedableRng};
use serde_json::Value;
use std::path::Path;

/// The bundled sample dataset (`data/conversations.json`), so `redline demo` works from any folder.
pub const BUNDLED: &[u8] = include_bytes!("../../data/conversations.json");

/// Reads and validates a dataset file, in `format` or the one its first sample shows.
pub fn load(path: &Path, format: DatasetFormat) -> Result<Dataset, DatasetError> {
    let name = path.display().to_string();
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.len() > MAX_DATASET_BYTES {
            return Err(DatasetError::TooLarge {
                path: name,
                mib: meta.len() / (1024 * 1024),
            });
        }
    }
    let bytes = std::fs::read(path).map_err(|cause| DatasetError::Read {
        path: name.clone(),
        cause,
    })?;
    parse_as(&bytes, &name, format)
}

/// Validates dataset bytes in any format it shows; `name` is used in error messages.
pub fn parse(bytes: &[u8], name: &str) -> Result<Vec<Conversation>, DatasetError> {
    parse_as(bytes, name, DatasetFormat::Auto).map(|d| d.conversations)
}

/// Validates dataset bytes in `format` (`Auto`: the one the first sample shows).
pub fn parse_as(bytes: &[u8], name: &str, format: DatasetFormat) -> Result<Dataset, DatasetError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_none() {
        // An empty file is empty, not invalid JSON.
        return Err(DatasetError::Empty { path: name.into() });
    }
    let json = matches!(first, Some(b'[') | Some(b'{')) || first.is_none();
    let text_file = name.ends_with(".txt");
    let (format, samples) = match (format, json) {
        (DatasetFormat::Prompts, false) => (format, formats::text_lines(bytes, name)?),
        (DatasetFormat::Auto, false) if text_file => {
            (DatasetFormat::Prompts, formats::text_lines(bytes, name)?)
        }
        (format, _) => {
            let values = parse_values(bytes, name).map_err(|e| not_json(e, bytes))?;
            let given = format;
            let format = match format {
                DatasetFormat::Auto => detect(&values, name)?,
                given => given,
            };
            let convs = values
                .iter()
                .map(|(loc, v)| formats::read(format, v, *loc))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|(at, mut problem)| {
                    // A format forced on a file of another: say which one it reads as.
                    match detect(&values, name) {
                        Ok(seen) if given != DatasetFormat::Auto && seen != given => {
                            problem.push_str(&format!(
                                " (the file reads as the {seen} format: leave out --dataset-format {given})"
                            ));
                        }
                        _ => {}
                    }
                    field(name, at, problem)
                })?;
            (format, convs)
        }
    };
    if samples.is_empty() {
        return Err(DatasetError::Empty { path: name.into() });
    }
    Ok(Dataset {
        conversations: samples,
        format,
    })
}

/// A file that is not JSON: when it reads as a trace's CSV, say where it goes.
fn not_json(e: DatasetError, bytes: &[u8]) -> DatasetError {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).to_ascii_lowercase();
    match e {
        DatasetError::Syntax {
            path,
            mut message,
            line,
            column,
        } if head.starts_with("timestamp") || head.contains("contexttokens") => {
            message.push_str(" (it reads as a request trace's CSV: give it with --trace)");
            DatasetError::Syntax {
                path,
                message,
                line,
                column,
            }
        }
        other => other,
    }
}

/// The format of the first sample.
fn detect(values: &[(Loc, Value)], name: &str) -> Result<DatasetFormat, DatasetError> {
    let Some((loc, first)) = values.first() else {
        return Ok(DatasetFormat::Reference);
    };
    let Some(obj) = first.as_object() else {
        return Ok(DatasetFormat::Reference); // reported, with its place, as not an object
    };
    let has = |k: &str| obj.contains_key(k);
    Ok(if has("cut_chat_history") || has("prompt_content") {
        DatasetFormat::Reference
    } else if has("conversations") {
        DatasetFormat::Sharegpt
    } else if has("messages") {
        DatasetFormat::Openai
    } else if has("prompt") {
        DatasetFormat::Prompts
    } else {
        return Err(DatasetError::UnknownFormat {
            path: name.into(),
            at: loc.to_string(),
        });
    })
}

/// The first `max` samples, after a shuffle seeded by `shuffle` when given.
pub fn select(
    mut convs: Vec<Conversation>,
    max: Option<usize>,
    shuffle: Option<u64>,
) -> Vec<Conversation> {
    if let Some(seed) = shuffle {
        convs.shuffle(&mut StdRng::seed_from_u64(seed));
    }
    if let Some(n) = max {
        convs.truncate(n.max(1));
    }
    convs
}

fn field(name: &str, at: String, problem: String) -> DatasetError {
    DatasetError::Field {
        path: name.into(),
        at,
        problem,
    }
}

fn parse_values(bytes: &[u8], name: &str) -> Result<Vec<(Loc, Value)>, DatasetError> {
    let syntax = |e: serde_json::Error, line_offset: usize| DatasetError::Syntax {
        path: name.into(),
        message: strip_position(&e.to_string()),
        line: e.line() + line_offset,
        column: e.column(),
    };
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') || first.is_none() {
        return match serde_json::from_slice::<Value>(bytes).map_err(|e| syntax(e, 0))? {
            Value::Array(v) => Ok(v
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Loc::Index(i), v))
                .collect()),
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
        out.push((Loc::Line(n + 1), v));
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
        assert!(err("  ").contains("is empty"));
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
        let c = parse(include_bytes!("../../data/conversations.json"), "bundled").unwrap();
        assert!(c.len() >= 25, "{}", c.len());
        let turns = |c: &Conversation| c.messages.len() - 1;
        assert!(c.iter().any(|c| turns(c) == 1));
        assert!(c.iter().any(|c| (3..=5).contains(&turns(c))));
        assert!(c.iter().any(|c| turns(c) >= 10));
    }

    fn roles(c: &Conversation) -> Vec<&str> {
        c.messages.iter().map(|m| m.role).collect()
    }

    #[test]
    fn every_bundled_format_sample_is_detected_and_read() {
        for (bytes, name, format, n) in [
            (
                &include_bytes!("../../data/sharegpt.json")[..],
                "sharegpt.json",
                DatasetFormat::Sharegpt,
                4,
            ),
            (
                &include_bytes!("../../data/openai-chat.jsonl")[..],
                "openai-chat.jsonl",
                DatasetFormat::Openai,
                4,
            ),
            (
                &include_bytes!("../../data/prompts.jsonl")[..],
                "prompts.jsonl",
                DatasetFormat::Prompts,
                4,
            ),
            (
                &include_bytes!("../../data/prompts.txt")[..],
                "prompts.txt",
                DatasetFormat::Prompts,
                4,
            ),
            (BUNDLED, "conversations.json", DatasetFormat::Reference, 30),
        ] {
            let d = parse_as(bytes, name, DatasetFormat::Auto).unwrap();
            assert_eq!((d.format, d.conversations.len()), (format, n), "{name}");
            for c in &d.conversations {
                assert!(c.messages.iter().any(|m| m.role == "user"), "{name}");
                assert_ne!(c.messages.last().unwrap().role, "assistant", "{name}");
            }
        }
    }

    #[test]
    fn chat_formats_map_roles_and_drop_the_recorded_reply() {
        let d = parse_as(
            include_bytes!("../../data/sharegpt.json"),
            "s",
            DatasetFormat::Auto,
        )
        .unwrap();
        assert_eq!(roles(&d.conversations[0]), ["system", "user"]);
        assert_eq!(roles(&d.conversations[1]), ["user", "assistant", "user"]);
        let d = parse_as(
            include_bytes!("../../data/openai-chat.jsonl"),
            "o",
            DatasetFormat::Auto,
        )
        .unwrap();
        assert_eq!(roles(&d.conversations[2]), ["system", "user"]);
        assert_eq!(
            d.conversations[2].messages[1].content,
            "Describe a lighthouse in one sentence."
        );
    }

    #[test]
    fn json_lines_errors_name_the_line() {
        let text = "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}\n\n\n{\"messages\":[{\"role\":\"tool\",\"content\":\"b\"}]}\n";
        let e = err(text);
        assert!(
            e.contains("line 4.messages[0].role: unknown role \"tool\""),
            "{e}"
        );
    }

    #[test]
    fn an_unknown_shape_names_the_formats_redline_reads() {
        let e = err(r#"[{"question":"x"}]"#);
        assert!(
            e.contains("ShareGPT") && e.contains("OpenAI chat") && e.contains("--dataset-format"),
            "{e}"
        );
        // A forced format reads as that format, with its own errors.
        let e = parse_as(br#"[{"question":"x"}]"#, "d", DatasetFormat::Sharegpt)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("sample 0.conversations: missing required field"),
            "{e}"
        );
        // Forced on a file of another format, the error says which one it reads as.
        let e = parse_as(BUNDLED, "d", DatasetFormat::Sharegpt)
            .unwrap_err()
            .to_string();
        assert!(e.contains("reads as the reference format"), "{e}");
        // A trace's CSV given as a dataset points at --trace.
        let e = err("timestamp,input_tokens,output_tokens\n0,10,2\n");
        assert!(e.contains("give it with --trace"), "{e}");
    }

    #[test]
    fn select_shuffles_with_the_seed_and_keeps_the_first_n() {
        let all = parse(BUNDLED, "b").unwrap();
        assert_eq!(select(all.clone(), Some(5), None), all[..5].to_vec());
        let a = select(all.clone(), Some(5), Some(7));
        assert_eq!(a, select(all.clone(), Some(5), Some(7)));
        assert_ne!(a, all[..5].to_vec());
        assert_eq!(select(all.clone(), None, Some(7)).len(), all.len());
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse(&bytes, "fuzz");
        }
    }
}
