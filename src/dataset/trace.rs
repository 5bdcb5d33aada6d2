//! `--trace FILE`: a request trace replayed on its own timestamps, read from
//! - **Mooncake** JSON Lines: `{"timestamp": ms, "input_length": n, "output_length": m,
//!   "hash_ids": [..]}`, where requests that share a hash id share that 512-token block of their
//!   prompt (the k-th hash id of a request covers its tokens `512 k .. 512 (k + 1)`), which
//!   reproduces the trace's prefix reuse;
//! - **CSV** with a header naming a timestamp, input-token and output-token column
//!   (`timestamp,input_tokens,output_tokens`; also Azure's `TIMESTAMP,ContextTokens,GeneratedTokens`
//!   and Mooncake's names), or three unnamed columns in that order. A numeric timestamp is in
//!   milliseconds (as in Mooncake); a date-time (`2023-11-16 18:15:46.68`, RFC 3339) is read as one.
//!
//! Times become seconds from the first request, divided by `--trace-speed`. Prompts are built from
//! the corpus of `synthetic.rs`: each hash id is a block of text of exactly 512 tokens (ending in
//! a line break, so blocks add up: a pre-tokenizer never merges a line break with the next word),
//! the same text wherever the id appears; the prompt's tail (a partial last block, or all of it
//! without hash ids) is text of its own. Everything is built before the level starts, so sending
//! only joins pieces.

use super::synthetic::Corpus;
use super::types::DatasetError;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Tokens covered by one Mooncake hash id.
pub const BLOCK_TOKENS: u64 = 512;
/// Requests one trace may hold.
const MAX_REQUESTS: usize = 20_000_000;

/// One request of the trace.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceRequest {
    /// Seconds from the trace's first request (already scaled by the speed).
    pub at_s: f64,
    pub input_tokens: u64,
    pub output_tokens: u32,
    pub hash_ids: Vec<u64>,
}

/// The trace's shape, for the console and metadata.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceFormat {
    Mooncake,
    Csv,
}

impl std::fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TraceFormat::Mooncake => "Mooncake JSON Lines",
            TraceFormat::Csv => "CSV",
        })
    }
}

#[derive(Debug, Clone)]
pub struct Trace {
    pub requests: Vec<TraceRequest>,
    pub format: TraceFormat,
    /// The file was not in time order (the requests are sorted).
    pub reordered: bool,
}

#[derive(Deserialize)]
struct MooncakeLine {
    timestamp: f64,
    input_length: u64,
    output_length: u64,
    #[serde(default)]
    hash_ids: Vec<u64>,
}

/// Reads a trace file, its times divided by `speed`; errors name it as the trace it is.
pub fn load(path: &Path, speed: f64) -> anyhow::Result<Trace> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|cause| anyhow::anyhow!("cannot read trace {name}: {cause}"))?;
    parse(&bytes, &name, speed).map_err(|e| match e {
        DatasetError::Empty { path } => anyhow::anyhow!(
            "trace {path} holds no requests: give one per line, as Mooncake JSON Lines or CSV (timestamp,input_tokens,output_tokens)"
        ),
        DatasetError::Field { path, at, problem } => {
            anyhow::anyhow!("trace {path}: {at}: {problem}")
        }
        other => anyhow::anyhow!("trace {name}: {other}"),
    })
}

/// Parses trace bytes; `name` is used in error messages.
pub fn parse(bytes: &[u8], name: &str, speed: f64) -> Result<Trace, DatasetError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| problem(name, "text", format!("not UTF-8 ({e})")))?;
    let first = text.trim_start().chars().next();
    let (format, mut rows) = match first {
        Some('{') => (TraceFormat::Mooncake, mooncake(text, name)?),
        Some('[') => {
            return Err(problem(
                name,
                "file",
                "a JSON array: a trace is Mooncake JSON Lines (one {...} per line) or CSV; a dataset of conversations goes to --dataset".into(),
            ))
        }
        Some(_) => (TraceFormat::Csv, csv(text, name)?),
        None => return Err(DatasetError::Empty { path: name.into() }),
    };
    if rows.is_empty() {
        return Err(DatasetError::Empty { path: name.into() });
    }
    if rows.len() > MAX_REQUESTS {
        return Err(problem(
            name,
            "file",
            format!(
                "holds {} requests; redline replays up to {MAX_REQUESTS} in one level",
                rows.len()
            ),
        ));
    }
    let reordered = rows.windows(2).any(|w| w[1].at_s < w[0].at_s);
    rows.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    let t0 = rows[0].at_s;
    let span = (rows[rows.len() - 1].at_s - t0) / speed;
    if span > 31_536_000.0 {
        return Err(problem(name, "file", format!("spans {:.0} days at --trace-speed {speed}; redline replays traces of up to a year (are the timestamps milliseconds?)", span / 86_400.0)));
    }
    for r in &mut rows {
        r.at_s = (r.at_s - t0) / speed;
    }
    Ok(Trace {
        requests: rows,
        format,
        reordered,
    })
}

fn problem(name: &str, at: impl Into<String>, what: String) -> DatasetError {
    DatasetError::Field {
        path: name.into(),
        at: at.into(),
        problem: what,
    }
}

/// One request's lengths, checked; `at_s` still in the file's milliseconds / 1000.
fn request(
    at_ms: f64,
    input: u64,
    output: u64,
    hash_ids: Vec<u64>,
    at: &str,
    name: &str,
) -> Result<TraceRequest, DatasetError> {
    if !(at_ms.is_finite() && at_ms >= 0.0) {
        return Err(problem(
            name,
            format!("{at}.timestamp"),
            format!("{at_ms} is not a time of 0 or more"),
        ));
    }
    if input == 0 || output == 0 || input > 10_000_000 || output > 10_000_000 {
        return Err(problem(
            name,
            at,
            format!("input {input} and output {output} tokens must be from 1 to 10,000,000"),
        ));
    }
    Ok(TraceRequest {
        at_s: at_ms / 1000.0,
        input_tokens: input,
        output_tokens: output as u32,
        hash_ids,
    })
}

fn mooncake(text: &str, name: &str) -> Result<Vec<TraceRequest>, DatasetError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("line {}", n + 1);
        let l: MooncakeLine = serde_json::from_str(line).map_err(|e| {
            problem(
                name,
                at.clone(),
                format!("not a Mooncake trace line ({e}); each line needs timestamp (ms), input_length, output_length and optionally hash_ids"),
            )
        })?;
        out.push(request(
            l.timestamp,
            l.input_length,
            l.output_length,
            l.hash_ids,
            &at,
            name,
        )?);
    }
    Ok(out)
}

/// Column names read as the timestamp, input tokens and output tokens.
const TIME_NAMES: [&str; 4] = ["timestamp", "time", "arrival_time", "timestamp_ms"];
const INPUT_NAMES: [&str; 5] = [
    "input_tokens",
    "input_length",
    "contexttokens",
    "prompt_tokens",
    "input",
];
const OUTPUT_NAMES: [&str; 5] = [
    "output_tokens",
    "output_length",
    "generatedtokens",
    "completion_tokens",
    "output",
];

fn csv(text: &str, name: &str) -> Result<Vec<TraceRequest>, DatasetError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .peekable();
    let Some((_, head)) = lines.peek().copied() else {
        return Ok(Vec::new());
    };
    let cells: Vec<String> = head
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let header = cells
        .iter()
        .any(|c| c.parse::<f64>().is_err() && parse_time(c).is_none());
    let columns = if header {
        lines.next();
        let find = |names: &[&str], what: &str| {
            cells
                .iter()
                .position(|c| names.contains(&c.as_str()))
                .ok_or_else(|| {
                    problem(
                        name,
                        "line 1",
                        format!(
                            "no {what} column: name one {} (found {})",
                            names.join(", "),
                            cells.join(", ")
                        ),
                    )
                })
        };
        [
            find(&TIME_NAMES, "timestamp")?,
            find(&INPUT_NAMES, "input-token")?,
            find(&OUTPUT_NAMES, "output-token")?,
        ]
    } else {
        [0, 1, 2]
    };
    let mut out = Vec::new();
    for (n, line) in lines {
        let at = format!("line {}", n + 1);
        let cells: Vec<&str> = line
            .split(',')
            .map(|c| c.trim().trim_matches('"'))
            .collect();
        let cell = |i: usize| cells.get(columns[i]).copied().unwrap_or("");
        let number = |i: usize, what: &str| -> Result<u64, DatasetError> {
            cell(i)
                .parse::<f64>()
                .ok()
                .filter(|v| v.fract() == 0.0 && *v >= 0.0)
                .map(|v| v as u64)
                .ok_or_else(|| {
                    problem(
                        name,
                        at.clone(),
                        format!("{what} {:?} is not a whole number of tokens", cell(i)),
                    )
                })
        };
        let time = cell(0);
        let at_ms = match time.parse::<f64>() {
            Ok(ms) => ms,
            Err(_) => parse_time(time).ok_or_else(|| {
                problem(name, at.clone(), format!("timestamp {time:?} is neither milliseconds nor a date-time (2023-11-16 18:15:46.6805900, RFC 3339)"))
            })?,
        };
        out.push(request(
            at_ms,
            number(1, "input")?,
            number(2, "output")?,
            Vec::new(),
            &at,
            name,
        )?);
    }
    Ok(out)
}

/// Milliseconds since the epoch of a date-time (`2023-11-16 18:15:46.6805900` or RFC 3339).
fn parse_time(s: &str) -> Option<f64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros() as f64 / 1000.0);
    }
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| t.and_utc().timestamp_micros() as f64 / 1000.0)
}

/// Every request's prompt, as pieces: shared 512-token blocks and a tail of its own.
pub struct TracePrompts {
    pub requests: Vec<TraceRequest>,
    pieces: Vec<Vec<Arc<str>>>,
    /// Distinct hash ids (blocks of shared text).
    pub blocks: usize,
}

impl TracePrompts {
    /// Builds every prompt of `trace` from `corpus`, seeded.
    pub fn build(trace: &Trace, corpus: &Corpus, seed: u64) -> TracePrompts {
        let positions = corpus.positions();
        let mut blocks: HashMap<u64, Arc<str>> = HashMap::new();
        let pieces = trace
            .requests
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let full = (r.input_tokens / BLOCK_TOKENS) as usize;
                let mut parts: Vec<Arc<str>> = r
                    .hash_ids
                    .iter()
                    .take(full)
                    .map(|&h| {
                        blocks
                            .entry(h)
                            .or_insert_with(|| {
                                corpus
                                    .exact_around("", spot(seed, h, positions), BLOCK_TOKENS, "\n")
                                    .into()
                            })
                            .clone()
                    })
                    .collect();
                let covered = parts.len() as u64 * BLOCK_TOKENS;
                let rest = r.input_tokens - covered;
                if rest > 0 {
                    // A partial last block starts like its full block; text without a hash id is
                    // the request's own.
                    let at = match r.hash_ids.get(parts.len()) {
                        Some(&h) => spot(seed, h, positions),
                        None => spot(seed ^ 0xA5A5_5A5A, (i as u64 + 1) << 32, positions),
                    };
                    parts.push(corpus.exact("", at, rest).into());
                }
                parts
            })
            .collect();
        TracePrompts {
            requests: trace.requests.clone(),
            blocks: blocks.len(),
            pieces,
        }
    }

    pub fn len(&self) -> usize {
        self.requests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// The prompt of request `i`.
    pub fn prompt(&self, i: usize) -> String {
        self.pieces.get(i).map(|p| p.concat()).unwrap_or_default()
    }
}

/// Where in the corpus the block of hash id `h` starts.
fn spot(seed: u64, h: u64, positions: usize) -> usize {
    let mut x = h ^ seed.rotate_left(17);
    x = (x ^ (x >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    x = (x ^ (x >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    ((x ^ (x >> 33)) % positions.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tokenizer::{tests::sample, Counter};

    const MOONCAKE: &str = "{\"timestamp\": 0, \"input_length\": 1200, \"output_length\": 10, \"hash_ids\": [1, 2, 3]}\n{\"timestamp\": 500, \"input_length\": 700, \"output_length\": 5, \"hash_ids\": [1, 4]}\n\n{\"timestamp\": 250, \"input_length\": 100, \"output_length\": 3}\n";

    #[test]
    fn reads_mooncake_sorts_and_scales_time() {
        let t = parse(MOONCAKE.as_bytes(), "t.jsonl", 2.0).unwrap();
        assert_eq!(t.format, TraceFormat::Mooncake);
        assert!(t.reordered);
        let at: Vec<f64> = t.requests.iter().map(|r| r.at_s).collect();
        assert_eq!(at, [0.0, 0.125, 0.25]);
        assert_eq!(t.requests[2].hash_ids, [1, 4]);
    }

    #[test]
    fn reads_csv_with_and_without_header_and_date_times() {
        let t = parse(
            b"timestamp,input_tokens,output_tokens\n1000,10,2\n1500,20,3\n",
            "t.csv",
            1.0,
        )
        .unwrap();
        assert_eq!(t.format, TraceFormat::Csv);
        assert_eq!(
            (
                t.requests[1].at_s,
                t.requests[1].input_tokens,
                t.requests[1].output_tokens
            ),
            (0.5, 20, 3)
        );
        let t = parse(b"0,10,2\n250,11,3\n", "t.csv", 1.0).unwrap();
        assert_eq!(t.requests[1].at_s, 0.25);
        let azure = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:50.9951690,396,109\n";
        let t = parse(azure.as_bytes(), "azure.csv", 1.0).unwrap();
        assert!(
            (t.requests[1].at_s - 4.314579).abs() < 1e-6,
            "{}",
            t.requests[1].at_s
        );
        assert_eq!(t.requests[1].input_tokens, 396);
    }

    #[test]
    fn bad_lines_are_named() {
        for (text, says) in [
            ("{\"timestamp\": 0}\n", "line 1: not a Mooncake trace line"),
            (
                "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 1}\n{oops\n",
                "line 2",
            ),
            (
                "{\"timestamp\": -4, \"input_length\": 5, \"output_length\": 1}\n",
                "line 1.timestamp",
            ),
            (
                "{\"timestamp\": 0, \"input_length\": 0, \"output_length\": 1}\n",
                "must be from 1",
            ),
            (
                "timestamp,input_tokens,output_tokens\n0,ten,2\n",
                "line 2: input \"ten\"",
            ),
            (
                "when,input_tokens,output_tokens\n0,1,2\n",
                "no timestamp column",
            ),
            (
                "timestamp,input_tokens,output_tokens\nyesterday,1,2\n",
                "neither milliseconds",
            ),
            ("", "holds no samples"),
            ("0,10,2\n1e23,10,2\n", "replays traces of up to a year"),
        ] {
            let e = parse(text.as_bytes(), "t", 1.0).unwrap_err().to_string();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }

    #[test]
    fn prompts_have_their_lengths_and_share_blocks_by_hash_id() {
        let tok = sample();
        let corpus = Corpus::new(&Counter::Exact(tok.clone()));
        let trace = parse(MOONCAKE.as_bytes(), "t", 1.0).unwrap();
        let p = TracePrompts::build(&trace, &corpus, 9);
        assert_eq!(p.blocks, 2); // 1 and 2 whole; 3 and 4 only as partial last blocks
        for (i, r) in p.requests.iter().enumerate() {
            assert_eq!(tok.count(&p.prompt(i)), r.input_tokens, "request {i}");
        }
        // Hash id 1 opens the first and the last request: the same 512 tokens.
        let first = tok.encode(&p.prompt(0));
        let last = tok.encode(&p.prompt(2));
        assert_eq!(first[..512], last[..512]);
        assert_ne!(first[512..600], last[512..600]);
    }
}
