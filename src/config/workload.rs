//! What the run sends, validated: a dataset file, token-exact synthetic prompts (`--synthetic`), or
//! a request trace (`--trace`); whether conversations run as multi-turn sessions (`--sessions`,
//! `--think-time`); the tokenizer that measures prompt lengths (`--tokenizer`); and when
//! `ignore_eos` pins output lengths (`--ignore-eos`). `dataset/` builds the prompts from this,
//! `measure/` sends them.

use crate::cli::{IgnoreEos, SampleOrder, WorkloadArgs};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where the prompts come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// `--dataset` (its path is `Config::dataset`).
    Dataset,
    /// `--synthetic`.
    Synthetic(SyntheticSpec),
    /// `--trace` (its path is `Config::dataset`): one level on the trace's own timestamps.
    Trace { speed: f64 },
}

/// The workload settings beyond the rates.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub source: Source,
    /// `--sessions`: seconds between a reply's end and the session's next turn.
    pub sessions: Option<f64>,
    /// `--tokenizer`: a Hugging Face `tokenizer.json`.
    pub tokenizer: Option<PathBuf>,
    pub ignore_eos: IgnoreEos,
    /// `--sample-order`: which samples (or sessions) each level sends.
    pub sample_order: SampleOrder,
    /// `--images`: the images each request carries.
    pub images: Option<crate::config::images::ImageSpec>,
    /// `--audio`: the audio clips each request carries.
    pub audio: Option<crate::config::audio::AudioSpec>,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            source: Source::Dataset,
            sessions: None,
            tokenizer: None,
            ignore_eos: IgnoreEos::Auto,
            sample_order: SampleOrder::Spread,
            images: None,
            audio: None,
        }
    }
}

impl Workload {
    /// Whether requests carry their own output lengths (synthetic prompts or a trace), which
    /// `ignore_eos` can pin.
    pub fn has_output_lengths(&self) -> bool {
        !matches!(self.source, Source::Dataset)
    }
}

/// `--synthetic input=1024,output=128[,input_std=..][,output_std=..][,prefix=..][,prefixes=..][,turns=..]`.
///
/// `input` counts the whole prompt, shared prefix included; lengths are in the model's tokens
/// with `--tokenizer`, else approximate (4 characters a token).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SyntheticSpec {
    pub input: u64,
    pub output: u32,
    #[serde(default)]
    pub input_std: f64,
    #[serde(default)]
    pub output_std: f64,
    /// Tokens at the start of every prompt shared by all requests (0: none).
    #[serde(default)]
    pub prefix: u64,
    /// Distinct shared prefixes (request i uses prefix i mod prefixes).
    #[serde(default = "one")]
    pub prefixes: u32,
    /// Turns of each synthetic conversation (`--sessions`).
    #[serde(default = "one")]
    pub turns: u32,
}

fn one() -> u32 {
    1
}

/// Longest synthetic prompt or reply, in tokens.
const MAX_LENGTH: u64 = 1_000_000;

impl SyntheticSpec {
    /// Parses and validates the spec; every problem names the key and an example.
    pub fn parse(text: &str) -> Result<SyntheticSpec> {
        Self::parse_for(text, true)
    }

    /// [`SyntheticSpec::parse`] for an API that generates a reply (`generates`), or one whose
    /// reply comes whole (embeddings, rerank), which takes no `output=` and leaves it 0.
    pub fn parse_for(text: &str, generates: bool) -> Result<SyntheticSpec> {
        let example = "e.g. --synthetic input=1024,output=128";
        let mut spec = SyntheticSpec {
            input: 0,
            output: 0,
            input_std: 0.0,
            output_std: 0.0,
            prefix: 0,
            prefixes: 1,
            turns: 1,
        };
        let (mut input, mut output) = (None, None);
        for (key, value) in super::spec::pairs("--synthetic", text, example)? {
            let number = |max: f64| -> Result<f64> {
                let v: f64 = value
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite())
                    .with_context(|| {
                        format!("--synthetic {key}={value}: not a number ({example})")
                    })?;
                if !(0.0..=max).contains(&v) {
                    bail!("--synthetic {key}={value}: must be from 0 to {max}");
                }
                Ok(v)
            };
            let whole = |max: f64| -> Result<u64> {
                let v = number(max)?;
                if v.fract() != 0.0 {
                    bail!("--synthetic {key}={value}: must be a whole number of tokens");
                }
                Ok(v as u64)
            };
            match key {
                "input" => input = Some(whole(MAX_LENGTH as f64)?),
                "output" => output = Some(whole(MAX_LENGTH as f64)?),
                "input_std" => spec.input_std = number(MAX_LENGTH as f64)?,
                "output_std" => spec.output_std = number(MAX_LENGTH as f64)?,
                "prefix" => spec.prefix = whole(MAX_LENGTH as f64)?,
                "prefixes" => spec.prefixes = whole(100_000.0)? as u32,
                "turns" => spec.turns = whole(1_000.0)? as u32,
                other => bail!(
                    "--synthetic: unknown key {other:?}; the keys are input, output, input_std, output_std, prefix, prefixes and turns"
                ),
            }
        }
        spec.input = input.with_context(|| format!("--synthetic needs input= ({example})"))?;
        if !generates && (output.is_some() || spec.output_std > 0.0) {
            bail!("--synthetic output=: the reply of this --api comes whole (embeddings, rerank), so no output length is asked for; give input= alone");
        }
        spec.output = match (output, generates) {
            (Some(o), _) => o as u32,
            (None, false) => 0,
            (None, true) => bail!("--synthetic needs output= ({example})"),
        };
        if spec.input == 0 || (spec.output == 0 && generates) {
            bail!("--synthetic: input and output must be at least 1 token ({example})");
        }
        if spec.prefix >= spec.input {
            bail!(
                "--synthetic prefix={} must be shorter than input={} (input counts the whole prompt, shared prefix included)",
                spec.prefix,
                spec.input
            );
        }
        if spec.prefixes == 0 || spec.turns == 0 {
            bail!("--synthetic: prefixes and turns must be at least 1");
        }
        if spec.prefixes > 1 && spec.prefix == 0 {
            bail!(
                "--synthetic prefixes={} needs prefix=N, the length of each shared prefix",
                spec.prefixes
            );
        }
        Ok(spec)
    }

    /// About how many bytes one conversation of the spec takes (4 characters a token).
    pub fn conversation_bytes(&self) -> u64 {
        self.input.max(1) * 4 * u64::from(self.turns)
    }

    /// The spec as `--synthetic` takes it, defaults left out.
    pub fn to_text(&self) -> String {
        let mut s = format!("input={}", self.input);
        // A spec for a reply that comes whole has no output (0).
        if self.output > 0 {
            s.push_str(&format!(",output={}", self.output));
        }
        if self.input_std > 0.0 {
            s.push_str(&format!(",input_std={}", self.input_std));
        }
        if self.output_std > 0.0 {
            s.push_str(&format!(",output_std={}", self.output_std));
        }
        if self.prefix > 0 {
            s.push_str(&format!(",prefix={}", self.prefix));
        }
        if self.prefixes > 1 {
            s.push_str(&format!(",prefixes={}", self.prefixes));
        }
        if self.turns > 1 {
            s.push_str(&format!(",turns={}", self.turns));
        }
        s
    }
}

/// The workload flags, validated. `dataset` is `--dataset` (absent with `--synthetic` or `--trace`).
/// `generates`: the API generates a reply (not embeddings or rerank).
pub(super) fn workload(
    a: &WorkloadArgs,
    dataset: Option<&PathBuf>,
    generates: bool,
) -> Result<(Workload, PathBuf)> {
    let (source, path) = match (&a.synthetic, &a.trace, dataset) {
        (Some(spec), None, None) => {
            let spec = SyntheticSpec::parse_for(spec, generates)?;
            (Source::Synthetic(spec), PathBuf::from("synthetic"))
        }
        (None, Some(trace), None) => {
            if !(a.trace_speed.is_finite() && a.trace_speed > 0.0 && a.trace_speed <= 1e6) {
                bail!(
                    "--trace-speed {}: a factor above 0 (2 replays twice as fast), e.g. --trace-speed 2",
                    a.trace_speed
                );
            }
            (
                Source::Trace {
                    speed: a.trace_speed,
                },
                trace.clone(),
            )
        }
        (None, None, Some(d)) => (Source::Dataset, d.clone()),
        (None, None, None) => bail!(
            "missing --dataset: give a dataset file, --synthetic input=N,output=M, or --trace FILE"
        ),
        _ => bail!("give one of --dataset, --synthetic and --trace"),
    };
    if a.trace_speed != 1.0 && a.trace.is_none() {
        bail!("--trace-speed applies to --trace; add --trace FILE");
    }
    if let Source::Synthetic(spec) = &source {
        if spec.turns > 1 && !a.sessions {
            bail!("--synthetic turns={} makes multi-turn conversations; add --sessions to send them as sessions", spec.turns);
        }
    }
    if a.sessions && matches!(source, Source::Trace { .. }) {
        bail!("--sessions cannot replay a --trace (a trace has no conversations); leave one out");
    }
    if let Source::Synthetic(spec) = &source {
        // One conversation is held in memory with its request body.
        let bytes = spec.conversation_bytes();
        if bytes > 256 * 1024 * 1024 {
            bail!(
                "--synthetic {}: one conversation would take about {} MiB; keep input x turns under 64 million tokens",
                spec.to_text(),
                bytes / (1024 * 1024)
            );
        }
    }
    if a.sample_order.is_some() && matches!(source, Source::Trace { .. }) {
        bail!("--sample-order chooses a dataset's samples for each level; a trace replays its own requests in order: leave it out");
    }
    let think = a.think_time.unwrap_or(0.0);
    if a.think_time.is_some() && !a.sessions {
        bail!("--think-time is the pause between a session's turns; add --sessions");
    }
    if !(think.is_finite() && (0.0..=3600.0).contains(&think)) {
        bail!("--think-time {think}: seconds from 0 to 3600, e.g. --think-time 2");
    }
    // The model's folder stands for the tokenizer.json in it.
    let tokenizer = a.tokenizer.as_ref().map(|t| {
        if t.is_dir() {
            t.join("tokenizer.json")
        } else {
            t.clone()
        }
    });
    if let (Some(given), Some(t)) = (&a.tokenizer, &tokenizer) {
        if !t.is_file() {
            let what = if given.is_dir() {
                "a folder without a tokenizer.json"
            } else {
                "no such file"
            };
            bail!(
                "--tokenizer {}: {what}; give a Hugging Face tokenizer.json (it is in the model's folder)",
                given.display()
            );
        }
    }
    Ok((
        Workload {
            source,
            sessions: a.sessions.then_some(think),
            tokenizer,
            ignore_eos: a.ignore_eos,
            sample_order: a.sample_order.unwrap_or_default(),
            images: a
                .images
                .as_deref()
                .map(crate::config::images::ImageSpec::parse)
                .transpose()?,
            audio: a
                .audio
                .as_deref()
                .map(crate::config::audio::AudioSpec::parse)
                .transpose()?,
        },
        path,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_reply_takes_no_output_length_however_it_is_spelled() {
        for text in [
            "input=64,output=8",
            "input=64, output =8",
            "input=64,output_std=2",
        ] {
            let e = SyntheticSpec::parse_for(text, false)
                .unwrap_err()
                .to_string();
            assert!(e.contains("comes whole"), "{text}: {e}");
        }
        let s = SyntheticSpec::parse_for("input=64", false).unwrap();
        assert_eq!((s.output, s.to_text()), (0, "input=64".to_string()));
    }

    #[test]
    fn parses_every_key_and_round_trips() {
        let s = SyntheticSpec::parse(
            "input=1024, output=128,input_std=100,output_std=20,prefix=512,prefixes=8,turns=3",
        )
        .unwrap();
        assert_eq!(
            (s.input, s.output, s.prefix, s.prefixes, s.turns),
            (1024, 128, 512, 8, 3)
        );
        assert_eq!((s.input_std, s.output_std), (100.0, 20.0));
        assert_eq!(SyntheticSpec::parse(&s.to_text()).unwrap(), s);
        assert_eq!(
            SyntheticSpec::parse("output=5,input=10").unwrap().to_text(),
            "input=10,output=5"
        );
    }

    #[test]
    fn bad_specs_name_the_key() {
        for (text, says) in [
            ("input=10", "needs output="),
            ("output=10", "needs input="),
            ("input=10,output=x", "output=x: not a number"),
            ("input=10.5,output=1", "whole number"),
            ("input=10,output=1,colour=red", "unknown key \"colour\""),
            ("input=10,output=1,prefix=10", "shorter than input"),
            ("input=10,output=1,prefixes=3", "needs prefix=N"),
            ("input=0,output=1", "at least 1"),
            ("input=-5,output=1", "from 0 to"),
            ("input", "not key=value"),
        ] {
            let e = SyntheticSpec::parse(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
