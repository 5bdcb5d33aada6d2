//! Turns the workload settings (`config::Workload`) into what the levels send: the dataset's
//! conversations, synthetic prompts of exact lengths (`dataset/synthetic.rs`) or a trace's prompts
//! and schedule (`dataset/trace.rs`), as single requests or sessions (`measure::work::Work`), with
//! the tokenizer that measured them. It says in the console what it built, so a user always knows
//! what was sent and whether its lengths are exact. The pipeline runs the levels with the result.

use crate::config::{Config, Source, SyntheticSpec};
use crate::dataset::synthetic::{self, Corpus};
use crate::dataset::tokenizer::{Counter, Tokenizer, TokenizerInfo};
use crate::dataset::trace::{self, TraceFormat, TracePrompts};
use crate::dataset::{self, Conversation, Dataset, Message};
use crate::measure::pick;
use crate::measure::work::{Sessions, Work};
use anyhow::Result;
use std::sync::Arc;
use std::time::Duration;

/// What the levels send.
pub struct Prepared {
    /// The samples whose bodies are built once (empty for a trace).
    pub conversations: Vec<Conversation>,
    pub work: Work,
    /// How the samples were made, for metadata.json (`dataset_format`, `synthetic`, `trace`).
    pub origin: Origin,
    pub tokenizer: Option<TokenizerInfo>,
    /// `--tokenizer`, loaded: the token check counts replies with it.
    pub tokens: Option<Arc<Tokenizer>>,
    /// A trace's one level: its arrival offsets and its window.
    pub trace: Option<TraceLevel>,
    /// The samples (or, with sessions, the session scripts) ordered by length, from which each
    /// level draws its mix (`measure/pick.rs`); empty for a trace.
    pub by_length: Arc<Vec<u32>>,
}

/// Where the samples came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    Dataset(crate::cli::DatasetFormat),
    Synthetic,
    Trace(TraceFormat),
}

/// The single level of `--trace`.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceLevel {
    pub offsets: Vec<Duration>,
    /// The window the trace spans: its last arrival plus one mean gap, so that rate x window is
    /// the number of requests.
    pub window: Duration,
    pub qps: f64,
}

impl Prepared {
    /// The dataset file's format, when the samples came from one.
    pub fn format(&self) -> Option<crate::cli::DatasetFormat> {
        match self.origin {
            Origin::Dataset(f) => Some(f),
            _ => None,
        }
    }

    /// A trace's format, number of requests and send window.
    pub fn trace_format(&self) -> Option<(TraceFormat, usize, Duration)> {
        match (&self.origin, &self.trace) {
            (Origin::Trace(f), Some(t)) => Some((*f, self.samples(), t.window)),
            _ => None,
        }
    }

    /// The prompt the preflight request sends: one the run sends, the one of median length (a
    /// trace's first).
    pub fn first_messages(&self) -> Vec<Message> {
        let median = self
            .by_length
            .get(self.by_length.len() / 2)
            .map_or(0, |&i| i as usize);
        match &self.work {
            Work::Trace(t) => vec![Message::new("user", t.prompt(0))],
            Work::Sessions(s) => s
                .scripts
                .get(median)
                .map(|s| [&s.opening[..], &s.turns[..1]].concat())
                .unwrap_or_default(),
            Work::Samples => self
                .conversations
                .get(median)
                .map(|c| c.messages.clone())
                .unwrap_or_default(),
        }
    }

    /// Samples (or trace requests) each level draws from.
    pub fn samples(&self) -> usize {
        match &self.work {
            Work::Trace(t) => t.len(),
            _ => self.conversations.len(),
        }
    }

    /// What a level picks from: the samples, or with sessions the session scripts.
    pub fn choices(&self) -> usize {
        match &self.work {
            Work::Sessions(s) => s.scripts.len(),
            _ => self.by_length.len(),
        }
    }
}

/// Builds what the run sends; `data` is a dataset already loaded (`redline demo`), else the one
/// `--dataset` names is read.
pub fn prepare(cfg: &Config, data: Option<Dataset>) -> Result<Prepared> {
    let counter = counter(cfg)?;
    let tokenizer = counter.tokenizer().map(|t| t.info.clone());
    let (mut conversations, origin) = match &cfg.workload.source {
        Source::Dataset => {
            let data = match data {
                Some(d) => d,
                None => dataset::load(&cfg.dataset, cfg.dataset_format)?,
            };
            let format = data.format;
            (samples(cfg, data), Origin::Dataset(format))
        }
        Source::Synthetic(spec) => (synthetic(cfg, spec, &counter), Origin::Synthetic),
        Source::Trace { speed } => return replay(cfg, *speed, &counter, tokenizer),
    };
    if let Some(spec) = &cfg.workload.images {
        attach_images(&mut conversations, spec, cfg.seed)?;
    }
    if let Some(spec) = &cfg.workload.audio {
        let (distinct, mean) = crate::dataset::audio::prepare(&mut conversations, spec, cfg.seed)?;
        eprintln!(
            "Audio: {} per request, {distinct} distinct, {} KiB each on average as base64 (generated from the seed)",
            spec.count,
            crate::output::summary::thousands((mean / 1024) as f64)
        );
    }
    if let Some(l) = &cfg.lora {
        let how = match &l.assignment {
            crate::config::lora::Assignment::RoundRobin => "in turn".to_string(),
            crate::config::lora::Assignment::Random => "at random from the seed".into(),
            crate::config::lora::Assignment::Weights(w) => format!(
                "by weight ({})",
                l.adapters
                    .iter()
                    .zip(w)
                    .map(|(a, w)| format!("{a} {:.0}%", w * 100.0))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        eprintln!(
            "LoRA: {} adapters ({}), one per {} {how}; each level's figures are also given per adapter",
            l.adapters.len(),
            l.adapters.join(", "),
            if cfg.workload.sessions.is_some() { "session" } else { "request" }
        );
    }
    let work = match cfg.workload.sessions {
        Some(think) => sessions(cfg, &conversations, think)?,
        None => Work::Samples,
    };
    let lens: Vec<usize> = match &work {
        Work::Sessions(s) => s
            .scripts
            .iter()
            .map(|s| chars(&s.opening) + chars(&s.turns))
            .collect(),
        _ => conversations.iter().map(|c| chars(&c.messages)).collect(),
    };
    Ok(Prepared {
        tokens: counter.tokenizer().cloned(),
        conversations,
        work,
        origin,
        tokenizer,
        trace: None,
        by_length: Arc::new(pick::by_length(&lens)),
    })
}

/// `--images`: made once and attached to each sample's first user message, said in the console.
fn attach_images(
    conversations: &mut Vec<Conversation>,
    spec: &crate::config::images::ImageSpec,
    seed: u64,
) -> Result<()> {
    if let crate::config::images::ImageSource::Synthetic { .. } = &spec.source {
        let n = spec
            .pool
            .map_or(conversations.len() * spec.count as usize, |k| k as usize);
        eprintln!("Images: generating {n} before the first level...");
    }
    let made = crate::dataset::images::prepare(conversations, spec, seed)?;
    let added = match made.added_samples {
        0 => String::new(),
        n => format!(
            "; {n} samples added by repeating the conversations, so that each pool image has one (a level sends only as many samples as it has requests)"
        ),
    };
    let how = match spec.by_url {
        true => format!(
            "; served at {} for the endpoint to fetch",
            crate::pipeline::image_server::serve(conversations, &made.pool)?
        ),
        false => String::new(),
    };
    eprintln!(
        "Images: {} per request, {} distinct, {} KiB each on average as base64 ({}){added}{how}",
        spec.count,
        made.distinct,
        crate::output::summary::thousands((made.mean_bytes / 1024) as f64),
        match &spec.source {
            crate::config::images::ImageSource::Synthetic { .. } => "generated from the seed",
            crate::config::images::ImageSource::Dir(_) => "read from the folder",
        }
    );
    Ok(())
}

/// How prompt lengths are counted: by `--tokenizer`, exactly, or approximately.
fn counter(cfg: &Config) -> Result<Counter> {
    let Some(path) = &cfg.workload.tokenizer else {
        return Ok(Counter::Approx);
    };
    let t = Tokenizer::load(path)?;
    eprintln!(
        "Tokenizer: {} (vocabulary {}, sha256 {}...)",
        t.info.path,
        t.info.vocab_size,
        &t.info.sha256[..12]
    );
    Ok(Counter::Exact(t))
}

/// `--synthetic`: the prompts, drawn once with the run's seed.
fn synthetic(cfg: &Config, spec: &SyntheticSpec, counter: &Counter) -> Vec<Conversation> {
    let count = cfg
        .max_samples
        .unwrap_or_else(|| synthetic::default_count(spec));
    let corpus = Corpus::new(counter);
    let convs = synthetic::generate(spec, &corpus, cfg.seed, count);
    eprintln!(
        "Synthetic prompts: {count} of {} ({}), drawn by each level like a dataset's samples",
        spec.to_text(),
        lengths_note(counter)
    );
    convs
}

/// `--trace`: its prompts and its one level, said in the console.
fn replay(
    cfg: &Config,
    speed: f64,
    counter: &Counter,
    tokenizer: Option<TokenizerInfo>,
) -> Result<Prepared> {
    let t = trace::load(&cfg.dataset, speed)?;
    let corpus = Corpus::new(counter);
    let prompts = TracePrompts::build(&t, &corpus, cfg.seed);
    let level = trace_level(&prompts);
    let span = level.offsets.last().map_or(0.0, Duration::as_secs_f64);
    // Blocks are the Mooncake format's shared prefixes; a CSV has none.
    let blocks = match prompts.blocks {
        0 => String::new(),
        b => format!(", {b} distinct 512-token blocks"),
    };
    eprintln!(
        "Trace: {} ({}), {} requests spanning {span:.1} s ({:.2} req/s over a {:.1} s send window, one mean gap past the last{}){blocks}; prompt {}{}",
        cfg.dataset.display(),
        t.format,
        prompts.len(),
        level.qps,
        level.window.as_secs_f64(),
        if speed != 1.0 { format!(", at {speed}x") } else { String::new() },
        lengths_note(counter),
        if t.reordered { "; the file was not in time order, so it was sorted" } else { "" }
    );
    Ok(Prepared {
        tokens: counter.tokenizer().cloned(),
        conversations: Vec::new(),
        work: Work::Trace(Arc::new(prompts)),
        origin: Origin::Trace(t.format),
        tokenizer,
        trace: Some(level),
        by_length: Arc::default(),
    })
}

/// `--sessions`: each conversation with a user turn as a session of its turns.
fn sessions(cfg: &Config, conversations: &[Conversation], think: f64) -> Result<Work> {
    let mut sessions = Sessions::new(conversations, think);
    sessions.tools = cfg.tool_loop.clone();
    let dropped = conversations.len() - sessions.scripts.len();
    if sessions.scripts.is_empty() {
        anyhow::bail!(
            "--sessions: no conversation of {} has a user turn, so there is no session to send; give conversations with user messages",
            cfg.dataset.display()
        );
    }
    if dropped > 0 {
        eprintln!(
            "note: {dropped} conversations have no user turn and are left out of the sessions"
        );
    }
    eprintln!(
        "Sessions: {} conversations of {:.1} turns on average; each turn waits for the previous reply{}",
        sessions.scripts.len(),
        sessions.mean_turns(),
        if think > 0.0 { format!(" and {think} s of think time") } else { String::new() }
    );
    Ok(Work::Sessions(Arc::new(sessions)))
}

/// The characters of `messages`: how a sample's length is measured for the mix of a level.
fn chars(messages: &[Message]) -> usize {
    messages.iter().map(|m| m.content.len()).sum()
}

fn lengths_note(counter: &Counter) -> &'static str {
    match counter {
        Counter::Exact(_) => "lengths token-exact by the tokenizer",
        Counter::Approx => {
            "lengths approximate, about 4 characters a token: give --tokenizer for exact ones"
        }
    }
}

/// The trace's arrivals as one level.
fn trace_level(prompts: &TracePrompts) -> TraceLevel {
    let offsets: Vec<Duration> = prompts
        .requests
        .iter()
        .map(|r| Duration::from_secs_f64(r.at_s))
        .collect();
    let n = offsets.len().max(1) as f64;
    let span = offsets.last().map_or(0.0, Duration::as_secs_f64);
    let window = if n > 1.0 && span > 0.0 {
        span * n / (n - 1.0)
    } else {
        1.0
    };
    TraceLevel {
        offsets,
        window: Duration::from_secs_f64(window),
        qps: n / window,
    }
}

/// The samples sent: `--shuffle` (seeded by the run's seed) and `--max-samples` applied, said in
/// the console with the format they were read as.
fn samples(cfg: &Config, data: Dataset) -> Vec<Conversation> {
    let total = data.conversations.len();
    let picked = dataset::select(
        data.conversations,
        cfg.max_samples,
        cfg.shuffle.then_some(cfg.seed),
    );
    let of = if picked.len() < total {
        format!(" of {total}")
    } else {
        String::new()
    };
    eprintln!(
        "Dataset: {} ({} format), {} conversations{of}{}",
        cfg.dataset.display(),
        data.format,
        picked.len(),
        if cfg.shuffle { ", shuffled" } else { "" }
    );
    picked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::trace::TraceRequest;

    #[test]
    fn a_trace_level_offers_its_requests_over_its_window() {
        let req = |at_s| TraceRequest {
            at_s,
            input_tokens: 1,
            output_tokens: 1,
            hash_ids: Vec::new(),
        };
        let trace = trace::Trace {
            requests: vec![req(0.0), req(1.0), req(4.0)],
            format: TraceFormat::Csv,
            reordered: false,
        };
        let prompts = TracePrompts::build(&trace, &Corpus::new(&Counter::Approx), 0);
        let l = trace_level(&prompts);
        assert_eq!(l.offsets.len(), 3);
        assert_eq!(l.window, Duration::from_secs(6));
        assert!((l.qps - 0.5).abs() < 1e-12);
    }
}
