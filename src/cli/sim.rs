//! The flags of `redline sim` and of the simulated endpoint that `redline demo` starts. The
//! simulator's `profile.rs` resolves them into a model.

use clap::Args;
use std::str::FromStr;

/// `redline sim`.
#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Print the effective parameters (preset plus overrides) as JSON and exit.
    #[arg(long)]
    pub print_config: bool,
    #[command(flatten)]
    pub model: SimModelArgs,
}

/// The simulated endpoint's behaviour, as flags.
#[derive(Debug, Clone, Args)]
pub struct SimModelArgs {
    /// Preset: llama-3.1-8b-h100, llama-3.1-70b-h100 (batching engine) or fixed (fixed latency).
    #[arg(long, default_value = "llama-3.1-8b-h100")]
    pub profile: String,
    /// [fixed] Time to first token, milliseconds.
    #[arg(long)]
    pub ttft_ms: Option<f64>,
    /// [fixed] Time between tokens, milliseconds.
    #[arg(long)]
    pub itl_ms: Option<f64>,
    /// [fixed] Reply length in tokens (default: the request's max_tokens).
    #[arg(long)]
    pub output_tokens: Option<u64>,
    /// [fixed] Fraction of requests failed at once (0-1).
    #[arg(long)]
    pub failure_rate: Option<f64>,
    /// [fixed] Status of those failures.
    #[arg(long)]
    pub failure_status: Option<u16>,
    /// [fixed] Responses served at once; more get 503 at once.
    #[arg(long)]
    pub max_inflight: Option<usize>,
    /// [engine] Batch slots: sequences decoded together.
    #[arg(long)]
    pub max_num_seqs: Option<usize>,
    /// [engine] KV-cache capacity in tokens (each request reserves prompt + max_tokens).
    #[arg(long)]
    pub kv_cache_tokens: Option<u64>,
    /// [engine] Tokens one step may process (decodes + prompt chunk).
    #[arg(long)]
    pub max_batched_tokens: Option<u64>,
    /// [engine] Prompt tokens processed per second.
    #[arg(long)]
    pub prefill_tps: Option<f64>,
    /// [engine] Fixed cost of a step, milliseconds.
    #[arg(long)]
    pub step_base_ms: Option<f64>,
    /// [engine] Step cost per decoding sequence, milliseconds.
    #[arg(long)]
    pub step_per_seq_ms: Option<f64>,
    /// [engine] Step cost per context token of decoding sequences, microseconds.
    #[arg(long)]
    pub step_per_ctx_token_us: Option<f64>,
    /// [engine] API server and network delay before a request reaches the queue, milliseconds.
    #[arg(long)]
    pub overhead_ms: Option<f64>,
    /// [engine] Waiting requests beyond which new ones are rejected at once, or "none".
    #[arg(long)]
    pub max_waiting: Option<Limit<usize>>,
    /// [engine] Seconds a request may wait before it is rejected, or "none".
    #[arg(long)]
    pub queue_timeout: Option<Limit<f64>>,
    /// [engine] Status for a full queue (503 or 429).
    #[arg(long)]
    pub reject_status: Option<u16>,
    /// [engine] Status for a queue timeout (503 or 504).
    #[arg(long)]
    pub queue_timeout_status: Option<u16>,
    /// [engine] Mean reply length without ignore_eos (uniform in mean/2..3mean/2, capped by max_tokens).
    #[arg(long)]
    pub mean_output_tokens: Option<f64>,
    /// [engine] Step time jitter, a fraction (0.05 = +-5%).
    #[arg(long)]
    pub jitter: Option<f64>,
    /// Seed of reply lengths, jitter and random failures.
    #[arg(long, default_value_t = 0)]
    pub sim_seed: u64,
    /// Replies open with this many reasoning tokens, as reasoning models stream them (chat's
    /// `delta.reasoning_content`, the Responses API's reasoning deltas, Anthropic's thinking).
    #[arg(long, default_value_t = 0)]
    pub reasoning_tokens: u64,
    /// Model name reported by /v1/models and in replies.
    #[arg(long, default_value = "redline-sim")]
    pub served_model: String,
    /// Count prompt tokens with this tokenizer.json (Hugging Face format) instead of 4
    /// characters a token.
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<std::path::PathBuf>,
    /// Reuse cached prompt blocks as vLLM's prefix caching does: a request whose leading blocks
    /// (of earlier prompts, or of a conversation's earlier turns and replies) are cached skips
    /// their prefill. Engine profiles only.
    #[arg(long)]
    pub prefix_caching: bool,
    /// Prompt tokens an image costs: one per this many pixels (Qwen2-VL merges 28x28 pixels into
    /// a token: 784), at least one.
    #[arg(long, default_value_t = 784)]
    pub image_token_pixels: u64,
    /// The vision encoder's time per image, milliseconds, plus --image-encode-ms-per-mpx per
    /// megapixel; one encoder, so images queue for it.
    #[arg(long, default_value_t = 2.0)]
    pub image_encode_ms: f64,
    #[arg(long, default_value_t = 20.0)]
    pub image_encode_ms_per_mpx: f64,
    /// Images whose encoding the encoder cache keeps, by content (0: none): a cached image
    /// skips the encoder; its tokens are still prefilled.
    #[arg(long, default_value_t = 64)]
    pub encoder_cache_images: usize,
    /// Prompt tokens per second of an input_audio clip (Qwen2-Audio: 25).
    #[arg(long, default_value_t = 25.0)]
    pub audio_tokens_per_s: f64,
    /// The encoder's time per second of audio, milliseconds.
    #[arg(long, default_value_t = 5.0)]
    pub audio_encode_ms_per_s: f64,
    /// LoRA adapters kept loaded (a request's model other than --served-model names one).
    #[arg(long, default_value_t = 4)]
    pub max_loras: usize,
    /// Time to load an adapter that is not, milliseconds, on one loader.
    #[arg(long, default_value_t = 20.0)]
    pub lora_load_ms: f64,
}

/// A limit that may be switched off: a number, or `none`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit<T>(pub Option<T>);

impl<T: FromStr> FromStr for Limit<T> {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" | "unlimited" => Ok(Limit(None)),
            _ => s
                .parse()
                .map(|v| Limit(Some(v)))
                .map_err(|_| format!("{s:?} is neither a number nor \"none\"")),
        }
    }
}
