//! The simulator's prefix cache (`redline sim --prefix-caching`), as vLLM's automatic prefix
//! caching works: a prompt is a sequence of tokens cut into blocks of [`BLOCK_TOKENS`]; each block
//! is named by a hash chained over every token before it, so two prompts share a cached block only
//! when everything up to its end is the same. A request whose leading blocks are cached skips their
//! prefill (all but its last token, which must still be computed). After a prompt is prefilled its
//! blocks are cached, and when the reply ends, so are the blocks of the prompt followed by the reply
//! as the next turn of the conversation sends it back, so a session's next turn finds its whole
//! history cached. The cache lives in the KV-cache memory that running requests do not hold and
//! gives the least recently used blocks back when they need it.
//!
//! [`Tokens`] is the simulator's view of a prompt as tokens: a chat message is a role marker, its
//! content's tokens and three closing markers (so it counts its content's tokens + 4, the
//! simulator's rule); content tokens come from `--tokenizer` when given, else one token per 4
//! characters. `engine.rs` holds the [`PrefixCache`]; `sim/mod.rs` builds each request's
//! [`PromptKey`].

use crate::dataset::tokenizer::Tokenizer;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Tokens per cached block (vLLM's default block size).
pub const BLOCK_TOKENS: u64 = 16;

/// Markers that frame each message (ids no tokenizer uses).
const END: u32 = u32::MAX - 1;
const BREAK: u32 = u32::MAX - 2;

/// How the simulator turns text into tokens.
#[derive(Clone, Default)]
pub struct Tokens {
    tokenizer: Option<Arc<Tokenizer>>,
}

impl Tokens {
    pub fn new(tokenizer: Option<Arc<Tokenizer>>) -> Self {
        Tokens { tokenizer }
    }

    /// The content's tokens.
    pub fn content(&self, text: &str) -> Vec<u32> {
        match &self.tokenizer {
            Some(t) => t.encode(text),
            None => {
                let chars: Vec<char> = text.chars().collect();
                chars
                    .chunks(4)
                    .map(|c| hash32(&c.iter().collect::<String>()))
                    .collect()
            }
        }
    }

    /// A reply's tokens as `/tokenize` counts them: by the tokenizer, else a word a token (the
    /// simulator's replies stream and bill a word a token).
    pub fn reply(&self, text: &str) -> u64 {
        match &self.tokenizer {
            Some(t) => t.count(text),
            None => text.split_whitespace().count() as u64,
        }
    }

    /// Content tokens only, without building them where the count is enough.
    pub fn count(&self, text: &str) -> u64 {
        match &self.tokenizer {
            Some(t) => t.count(text),
            None => (text.chars().count() as u64).div_ceil(4),
        }
    }

    /// A message as tokens: role marker, content, closing markers (content + 4).
    pub fn message(&self, role: &str, text: &str, out: &mut Vec<u32>) {
        out.push(u32::MAX - 3 - (hash32(role) % 1024));
        out.extend(self.content(text));
        out.extend([END, BREAK, BREAK]);
    }
}

fn hash32(s: &str) -> u32 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish() as u32
}

/// Chained hashes of the full blocks of `tokens`.
pub fn block_hashes(tokens: &[u32]) -> Vec<u64> {
    let mut prev = 0u64;
    tokens
        .chunks_exact(BLOCK_TOKENS as usize)
        .map(|block| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            prev.hash(&mut h);
            block.hash(&mut h);
            prev = h.finish();
            prev
        })
        .collect()
}

/// What the cache knows of one request: its prompt's blocks, and how to name the blocks of the
/// prompt followed by a reply of `n` tokens as the next turn sends it back.
pub struct PromptKey {
    pub blocks: Vec<u64>,
    with_reply: Box<dyn Fn(u64) -> Vec<u64> + Send + Sync>,
}

impl PromptKey {
    pub fn new(
        blocks: Vec<u64>,
        with_reply: impl Fn(u64) -> Vec<u64> + Send + Sync + 'static,
    ) -> Self {
        PromptKey {
            blocks,
            with_reply: Box::new(with_reply),
        }
    }

    /// The blocks of the conversation once a reply of `n` tokens is part of it.
    pub fn with_reply(&self, n: u64) -> Vec<u64> {
        (self.with_reply)(n)
    }
}

impl std::fmt::Debug for PromptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PromptKey({} blocks)", self.blocks.len())
    }
}

/// Cached blocks, least recently used first out.
#[derive(Debug, Default)]
pub struct PrefixCache {
    /// Block hash -> when it was last used.
    used: HashMap<u64, u64>,
    /// When -> block hash, oldest first.
    order: BTreeMap<u64, u64>,
    clock: u64,
}

impl PrefixCache {
    /// Tokens the cache holds.
    pub fn tokens(&self) -> u64 {
        self.used.len() as u64 * BLOCK_TOKENS
    }

    fn touch(&mut self, h: u64) {
        self.clock += 1;
        if let Some(old) = self.used.insert(h, self.clock) {
            self.order.remove(&old);
        }
        self.order.insert(self.clock, h);
    }

    /// Tokens of the leading blocks that are cached (they are marked used).
    pub fn lookup(&mut self, blocks: &[u64]) -> u64 {
        let hits = blocks
            .iter()
            .take_while(|h| self.used.contains_key(h))
            .count();
        for &h in &blocks[..hits] {
            self.touch(h);
        }
        hits as u64 * BLOCK_TOKENS
    }

    pub fn insert(&mut self, blocks: &[u64]) {
        for &h in blocks {
            self.touch(h);
        }
    }

    /// Gives back the least recently used blocks until at most `tokens` remain.
    pub fn shrink_to(&mut self, tokens: u64) {
        while self.tokens() > tokens {
            let Some((_, h)) = self.order.pop_first() else {
                break;
            };
            self.used.remove(&h);
        }
    }
}

/// The simulator's token rule for one message without a tokenizer: ceil(characters / 4) + 4.
pub fn message_tokens(content: &str) -> u64 {
    (content.chars().count() as u64).div_ceil(4) + 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_named_by_everything_before_them() {
        let a: Vec<u32> = (0..40).collect();
        let mut b = a.clone();
        b[20] = 999;
        let (ha, hb) = (block_hashes(&a), block_hashes(&b));
        assert_eq!(ha.len(), 2, "40 tokens hold 2 full blocks");
        assert_eq!(ha[0], hb[0]);
        assert_ne!(ha[1], hb[1]);
        let mut c = a.clone();
        c[0] = 7;
        assert!(block_hashes(&c).iter().zip(&ha).all(|(x, y)| x != y));
    }

    #[test]
    fn lookups_count_leading_hits_and_eviction_is_lru() {
        let mut c = PrefixCache::default();
        c.insert(&[1, 2, 3]);
        assert_eq!(c.lookup(&[1, 2, 9, 3]), 32);
        assert_eq!(c.lookup(&[9, 1]), 0);
        c.lookup(&[1]);
        c.shrink_to(32); // 3 is the least recently used
        assert_eq!(c.tokens(), 32);
        assert_eq!(c.lookup(&[1, 2]), 32);
        assert_eq!(c.lookup(&[3]), 0);
    }

    #[test]
    fn a_message_counts_its_content_and_four() {
        let t = Tokens::default();
        let mut out = Vec::new();
        t.message("user", "abcdefghi", &mut out);
        assert_eq!(out.len(), 3 + 4);
        assert_eq!(t.count("abcdefghi"), 3);
    }
}
