//! A level's token check (`tokens_check.rs` runs it): how many of its first replies' text a
//! tokenizer counted as billed, and which requests it counts. A leaf, so the record, the client
//! and the check can all name it.

use serde::{Deserialize, Serialize};

/// The most replies checked per level: the first ones, in the order they were planned.
pub const CHECKED: u64 = 50;

/// Whether `arrival` of a level (a request, or a whole session with all its turns) is one whose
/// replies the check may count: one of its first.
pub fn wanted(arrival: u64) -> bool {
    arrival < CHECKED
}

/// A level's token check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenCheck {
    /// `/tokenize` (the server's tokenizer) or `--tokenizer`.
    pub by: String,
    /// Replies counted: successes with text, billed output, and neither reasoning nor tool calls
    /// (whose tokens the answer text does not hold).
    pub requests: u64,
    pub counted_tokens: u64,
    pub billed_tokens: u64,
    /// Replies whose count differed from their bill.
    pub mismatched: u64,
    pub mismatch_pct: f64,
}

impl TokenCheck {
    /// The check of (counted, billed) pairs; `None` when there are none.
    pub fn of(by: &str, pairs: &[(u64, u64)]) -> Option<TokenCheck> {
        let n = pairs.len() as u64;
        let mismatched = pairs.iter().filter(|(c, b)| c != b).count() as u64;
        (n > 0).then(|| TokenCheck {
            by: by.to_string(),
            requests: n,
            counted_tokens: pairs.iter().map(|p| p.0).sum(),
            billed_tokens: pairs.iter().map(|p| p.1).sum(),
            mismatched,
            mismatch_pct: mismatched as f64 / n as f64 * 100.0,
        })
    }
}

impl TokenCheck {
    /// Checks of one level's parts (a sharded run's shards), as one.
    pub fn sum(parts: &[&TokenCheck]) -> Option<TokenCheck> {
        let first = parts.first()?;
        let total = |f: fn(&TokenCheck) -> u64| parts.iter().map(|c| f(c)).sum::<u64>();
        let (requests, mismatched) = (total(|c| c.requests), total(|c| c.mismatched));
        Some(TokenCheck {
            by: first.by.clone(),
            requests,
            counted_tokens: total(|c| c.counted_tokens),
            billed_tokens: total(|c| c.billed_tokens),
            mismatched,
            mismatch_pct: mismatched as f64 / requests.max(1) as f64 * 100.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_whose_count_differs_from_its_bill_is_a_mismatch() {
        let c = TokenCheck::of("/tokenize", &[(10, 10), (9, 10), (16, 16), (17, 16)]).unwrap();
        assert_eq!((c.requests, c.mismatched), (4, 2));
        assert_eq!((c.counted_tokens, c.billed_tokens), (52, 52));
        assert_eq!(c.mismatch_pct, 50.0);
        assert_eq!(TokenCheck::of("/tokenize", &[]), None);
    }
}
