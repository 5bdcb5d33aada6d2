//! Counting a prompt's tokens the way the model will: a Hugging Face `tokenizer.json` read from
//! disk (`--tokenizer`; the `tokenizers` crate, nothing downloaded), or, without one, the
//! approximation of 4 characters a token (the simulator's rule). `synthetic.rs` and `trace.rs`
//! build prompts of exact lengths with it; the simulator (`sim/`) counts prompt tokens with the
//! same tokenizer when given one, so the two agree.
//!
//! A tokenizer's identity (file name, SHA-256 of its bytes, vocabulary size) goes into
//! metadata.json, so runs built with different tokenizers are not compared by accident.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;

/// Which tokenizer built the prompts, for metadata.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenizerInfo {
    pub path: String,
    pub sha256: String,
    pub vocab_size: usize,
}

/// A loaded `tokenizer.json`.
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    pub info: TokenizerInfo,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("info", &self.info)
            .finish()
    }
}

impl Tokenizer {
    /// Reads a `tokenizer.json`. The error says which file and why, and what to give instead.
    pub fn load(path: &Path) -> anyhow::Result<Arc<Tokenizer>> {
        let bytes = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("--tokenizer {}: cannot read it: {e}", path.display()))?;
        let inner = tokenizers::Tokenizer::from_bytes(&bytes).map_err(|e| {
            anyhow::anyhow!(
                "--tokenizer {}: not a Hugging Face tokenizer.json ({e}); give the tokenizer.json from the model's folder",
                path.display()
            )
        })?;
        let sha256 = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Arc::new(Tokenizer {
            info: TokenizerInfo {
                path: path.display().to_string(),
                sha256,
                vocab_size: inner.get_vocab_size(true),
            },
            inner,
        }))
    }

    /// The text's token ids, without special tokens (a chat template adds its own).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        self.inner
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .unwrap_or_default()
    }

    /// The text of some token ids.
    pub fn decode(&self, ids: &[u32]) -> String {
        self.inner.decode(ids, false).unwrap_or_default()
    }

    pub fn count(&self, text: &str) -> u64 {
        self.encode(text).len() as u64
    }
}

/// Tokens of a text by the approximation used without a tokenizer: 4 characters a token.
pub fn approx_count(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// How prompt lengths are measured: by a real tokenizer, or approximately.
#[derive(Clone, Debug, Default)]
pub enum Counter {
    Exact(Arc<Tokenizer>),
    #[default]
    Approx,
}

impl Counter {
    pub fn count(&self, text: &str) -> u64 {
        match self {
            Counter::Exact(t) => t.count(text),
            Counter::Approx => approx_count(text),
        }
    }

    pub fn tokenizer(&self) -> Option<&Arc<Tokenizer>> {
        match self {
            Counter::Exact(t) => Some(t),
            Counter::Approx => None,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The project's sample tokenizer (`data/sample-tokenizer.json`, a small byte-level BPE).
    pub fn sample() -> Arc<Tokenizer> {
        Tokenizer::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/sample-tokenizer.json"
        )))
        .unwrap()
    }

    #[test]
    fn loads_hashes_and_round_trips() {
        let t = sample();
        assert_eq!(t.info.vocab_size, 2048);
        assert_eq!(t.info.sha256.len(), 64);
        let text = "The keeper climbed the stairs at dusk.";
        let ids = t.encode(text);
        assert!(!ids.is_empty() && ids.len() < text.len());
        assert_eq!(t.decode(&ids), text);
    }

    #[test]
    fn a_file_that_is_not_a_tokenizer_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.json");
        std::fs::write(&p, "{\"not\": 1}").unwrap();
        let e = Tokenizer::load(&p).unwrap_err().to_string();
        assert!(e.contains("not a Hugging Face tokenizer.json"), "{e}");
        let e = Tokenizer::load(&dir.path().join("missing.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read it"), "{e}");
    }

    #[test]
    fn approximation_is_four_characters_a_token() {
        assert_eq!(approx_count(""), 0);
        assert_eq!(approx_count("abcd"), 1);
        assert_eq!(approx_count("abcde"), 2);
    }
}
