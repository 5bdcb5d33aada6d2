//! The flag value types every command shares (`Api`, `DatasetFormat`, `QpsArg`, `Arrival`,
//! `PlotFormat`, `IgnoreEos`), the list parser `trimmed`, and the reference tool's defaults.

/// The reference tool's defaults, shared by the flags and by commands that build a configuration
/// in code (`BenchArgs::new`), so the two cannot drift.
pub mod defaults {
    pub const QPS: [f64; 4] = [1.0, 5.0, 10.0, 20.0];
    pub const DURATION_S: f64 = 60.0;
    pub const PERCENTILES: [f64; 3] = [50.0, 95.0, 99.0];
    pub const MAX_TOKENS: u32 = 512;
    pub const TEMPERATURE: f64 = 0.7;
    pub const OUTPUT: &str = "benchmark_qps_results.json";
    pub const PLOT_OUTPUT: &str = "benchmark_qps.png";
    pub const RESULTS_DIR: &str = "results";
    pub const TIMEOUT_S: f64 = 120.0;
    /// Verdict policy: success percentages for PASS and WARN, headroom percent.
    pub const PASS_THRESHOLD: f64 = 99.0;
    pub const WARN_THRESHOLD: f64 = 90.0;
    pub const HEADROOM: f64 = 25.0;
    /// `--qps auto`: first rate, and the final bracket's width in percent.
    pub const QPS_START: f64 = 1.0;
    pub const QPS_TOLERANCE: f64 = 5.0;
    pub const CAPACITY_PRECISION: f64 = 5.0;
    /// `--qps auto`: the shortest growth probe, seconds.
    pub const MIN_PROBE_S: f64 = 5.0;
}

/// Which OpenAI API the requests use (`--api`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// `/v1/chat/completions` with `messages`; replies in `choices[].delta`.
    Chat,
    /// `/v1/completions` with `prompt` (the conversation's text); replies in `choices[].text`.
    Completions,
    /// OpenAI's Responses API: `/v1/responses` with `input`; replies in
    /// `response.output_text.delta` events, usage in `response.completed`.
    Responses,
    /// Anthropic's Messages API: `/v1/messages` with `system` and `messages`, the key in
    /// `x-api-key`; replies in `content_block_delta` events, usage in `message_start` and
    /// `message_delta`.
    Anthropic,
    /// `/v1/embeddings`: `--batch-size` inputs per request, answered at once (no stream).
    Embeddings,
    /// `/v1/rerank`: a query and `--batch-size` documents to score, answered at once (no stream).
    Rerank,
}

impl Api {
    /// The path after `/v1/` that the API is served on.
    pub fn path(self) -> &'static str {
        match self {
            Api::Chat => "chat/completions",
            Api::Completions => "completions",
            Api::Responses => "responses",
            Api::Anthropic => "messages",
            Api::Embeddings => "embeddings",
            Api::Rerank => "rerank",
        }
    }

    /// Its `--api` value.
    pub fn name(self) -> &'static str {
        match self {
            Api::Chat => "chat",
            Api::Completions => "completions",
            Api::Responses => "responses",
            Api::Anthropic => "anthropic",
            Api::Embeddings => "embeddings",
            Api::Rerank => "rerank",
        }
    }

    pub const ALL: [Api; 6] = [
        Api::Chat,
        Api::Completions,
        Api::Responses,
        Api::Anthropic,
        Api::Embeddings,
        Api::Rerank,
    ];

    /// Whether replies stream (every API but embeddings and rerank).
    pub fn streams(self) -> bool {
        !self.batched()
    }

    /// Whether a request carries `--batch-size` inputs (embeddings) or documents (rerank).
    pub fn batched(self) -> bool {
        matches!(self, Api::Embeddings | Api::Rerank)
    }
}

/// A dataset's format (`--dataset-format`); `dataset/mod.rs` describes each.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum DatasetFormat {
    /// Whatever the first sample shows (a text file: one prompt per line).
    Auto,
    /// The reference tool's `prompt_content` + `cut_chat_history`.
    Reference,
    /// ShareGPT: `conversations` of `{from, value}`.
    Sharegpt,
    /// OpenAI chat: `{"messages": [...]}` per line.
    Openai,
    /// `{"prompt": "..."}` per line, or a text file with one prompt per line.
    Prompts,
}

impl std::fmt::Display for DatasetFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DatasetFormat::Auto => "auto",
            DatasetFormat::Reference => "reference",
            DatasetFormat::Sharegpt => "sharegpt",
            DatasetFormat::Openai => "openai",
            DatasetFormat::Prompts => "prompts",
        })
    }
}

/// A number of a comma-separated list, spaces around it allowed (`--percentiles "50, 99"`), as
/// the reference tool's parsing accepts.
pub fn trimmed<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{:?} is not a number", s.trim()))
}

/// One `--qps` value: a rate, or `auto`. Spaces around values are allowed (`--qps "1, 5"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QpsArg {
    Rate(f64),
    Auto,
}

impl std::str::FromStr for QpsArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auto") {
            return Ok(QpsArg::Auto);
        }
        s.parse()
            .map(QpsArg::Rate)
            .map_err(|_| format!("{s:?} is neither a rate (e.g. 5 or 0.5) nor auto"))
    }
}

impl std::fmt::Display for QpsArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QpsArg::Rate(r) => write!(f, "{r}"),
            QpsArg::Auto => f.write_str("auto"),
        }
    }
}

/// How arrivals are spaced within a level.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum VerdictWindow {
    /// The whole level, as the reference tool judges it.
    Whole,
    /// The level's steady window: warm-up and drain left out (found from its records).
    Steady,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum RepeatOrder {
    /// Every level once, then every level again: drift hits all levels alike.
    Interleaved,
    /// Each level's repetitions back to back.
    Grouped,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Evenly spaced: request `i` at `i / qps`.
    Constant,
    /// A Poisson process: exponential gaps with mean `1 / qps`.
    Poisson,
    /// Gamma-distributed gaps of shape `--burstiness` (1 = Poisson, below 1 burstier).
    Gamma,
}

impl std::fmt::Display for Arrival {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Arrival::Constant => "constant",
            Arrival::Poisson => "poisson",
            Arrival::Gamma => "gamma",
        })
    }
}

/// The chart's file format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PlotFormat {
    #[default]
    Png,
    Svg,
    Both,
}

impl PlotFormat {
    /// The format asked for, else the one the chart's name says (`chart.svg`), else PNG.
    pub fn for_output(requested: Option<PlotFormat>, name: &str) -> PlotFormat {
        requested.unwrap_or(if name.to_ascii_lowercase().ends_with(".svg") {
            PlotFormat::Svg
        } else {
            PlotFormat::Png
        })
    }

    /// Both formats where `self` or `other` asks for each.
    pub fn with(self, other: Option<PlotFormat>) -> PlotFormat {
        let has = |f: PlotFormat, png: bool| match f {
            PlotFormat::Both => true,
            PlotFormat::Png => png,
            PlotFormat::Svg => !png,
        };
        let png = has(self, true) || other.is_some_and(|o| has(o, true));
        let svg = has(self, false) || other.is_some_and(|o| has(o, false));
        match (png, svg) {
            (true, true) => PlotFormat::Both,
            (false, true) => PlotFormat::Svg,
            _ => PlotFormat::Png,
        }
    }
}

/// When to send `ignore_eos`.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum IgnoreEos {
    /// With target output lengths, where the endpoint is known to accept it.
    #[default]
    Auto,
    On,
    Off,
}

/// Which samples a level sends (`--sample-order`); `measure/pick.rs` describes each.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum SampleOrder {
    /// Every level's mix represents the dataset.
    #[default]
    Spread,
    /// The reference tool's: request i sends sample i mod n.
    Cycle,
}
