//! `--synthetic`: prompts of given lengths in the model's tokens, cut from a corpus of prose shipped
//! with redline (`data/corpus.txt`, written for the project and public domain).
//!
//! With a tokenizer (`tokenizer.rs`) the corpus is encoded once; a prompt of `n` tokens is the text
//! of `n` consecutive corpus tokens from a seeded position (the corpus repeats when it runs out),
//! decoded, counted again and adjusted until it counts exactly `n` (a decoded window can tokenize
//! a token longer or shorter at its edges). Without one, `n` tokens are `4 n` characters, the
//! approximation the run then says it used. Lengths are drawn per prompt: normal around `input`
//! and `output` with the spec's standard deviations (exact when 0). A shared prefix (`prefix=`) is
//! the first `prefix` tokens of every prompt, one of `prefixes` distinct texts (request `i` uses
//! prefix `i mod prefixes`); `input` counts it. With `turns=T` each conversation has T user
//! messages: the first is `input` tokens (prefix included), each later one `input - prefix` new
//! tokens.
//!
//! `trace.rs` builds trace prompts from the same corpus.

use super::tokenizer::Counter;
use super::types::{Conversation, Lengths, Message};
use crate::config::SyntheticSpec;
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

/// The corpus prompts are cut from.
pub const CORPUS: &str = include_str!("../../data/corpus.txt");

/// Prompts built when `--max-samples` does not say: as many as fit in 64 MiB, from 1 to 1,000
/// (cycled like a dataset's samples).
pub fn default_count(spec: &SyntheticSpec) -> usize {
    (BUDGET / spec.conversation_bytes().max(1) as usize).clamp(1, 1000)
}

/// Memory for the prompts when `--max-samples` does not say.
const BUDGET: usize = 64 * 1024 * 1024;

/// The corpus as the counter sees it: token ids with a tokenizer, characters without.
pub struct Corpus {
    counter: Counter,
    ids: Vec<u32>,
}

impl Corpus {
    pub fn new(counter: &Counter) -> Corpus {
        let ids = match counter.tokenizer() {
            Some(t) => t.encode(CORPUS),
            None => Vec::new(),
        };
        Corpus {
            counter: counter.clone(),
            ids,
        }
    }

    pub fn counter(&self) -> &Counter {
        &self.counter
    }

    /// Positions a window may start at.
    pub fn positions(&self) -> usize {
        match self.counter {
            Counter::Exact(_) => self.ids.len().max(1),
            Counter::Approx => CORPUS.len(),
        }
    }

    /// About `n` tokens of corpus text from position `at`, repeating the corpus as needed.
    pub fn window(&self, at: usize, n: u64) -> String {
        match &self.counter {
            Counter::Exact(t) if !self.ids.is_empty() => {
                let ids: Vec<u32> = (0..n as usize)
                    .map(|j| self.ids[(at + j) % self.ids.len()])
                    .collect();
                t.decode(&ids)
            }
            _ => {
                let bytes = CORPUS.as_bytes();
                let chars = (n * 4) as usize;
                // The corpus is ASCII (tested), so any byte is a character boundary.
                (0..chars)
                    .map(|j| bytes[(at + j) % bytes.len()] as char)
                    .collect()
            }
        }
    }

    /// `prefix` followed by corpus text from `at`, the whole counting `total` tokens (or as
    /// close as a few adjustments get; exact in practice).
    pub fn exact(&self, prefix: &str, at: usize, total: u64) -> String {
        self.exact_around(prefix, at, total, "")
    }

    /// [`Corpus::exact`] with `suffix` after the corpus text, counted in `total`.
    pub fn exact_around(&self, prefix: &str, at: usize, total: u64, suffix: &str) -> String {
        let have = if prefix.is_empty() && suffix.is_empty() {
            0
        } else {
            self.counter.count(&format!("{prefix}{suffix}"))
        };
        let mut k = total.saturating_sub(have);
        let mut best: Option<(u64, String)> = None;
        for _ in 0..8 {
            let text = format!("{prefix}{}{suffix}", self.window(at, k));
            let c = self.counter.count(&text);
            let miss = c.abs_diff(total);
            if best.as_ref().is_none_or(|(m, _)| miss < *m) {
                best = Some((miss, text));
            }
            if c == total {
                break;
            }
            k = (k as i64 + total as i64 - c as i64).max(0) as u64;
        }
        best.map(|(_, t)| t).unwrap_or_default()
    }
}

/// `count` conversations as the spec asks, seeded.
pub fn generate(
    spec: &SyntheticSpec,
    corpus: &Corpus,
    seed: u64,
    count: usize,
) -> Vec<Conversation> {
    let mut rng = StdRng::seed_from_u64(seed);
    let positions = corpus.positions();
    let prefixes: Vec<String> = (0..spec.prefixes as usize)
        .map(|p| {
            if spec.prefix == 0 {
                return String::new();
            }
            let at = p * positions / spec.prefixes as usize + rng.random_range(0..positions);
            corpus.exact("", at % positions, spec.prefix)
        })
        .collect();
    // Every draw is made here, in order, so the prompts depend on the seed alone.
    let plans: Vec<(u64, u32, Vec<usize>)> = (0..count)
        .map(|_| {
            let input = draw(&mut rng, spec.input as f64, spec.input_std, spec.prefix + 1);
            let output = draw(&mut rng, f64::from(spec.output), spec.output_std, 1) as u32;
            let starts = (0..spec.turns)
                .map(|_| rng.random_range(0..positions))
                .collect();
            (input, output, starts)
        })
        .collect();
    let build = |i: usize| {
        let (input, output, starts) = &plans[i];
        let prefix = &prefixes[i % prefixes.len()];
        let unique = input - spec.prefix;
        let messages = starts
            .iter()
            .enumerate()
            .map(|(turn, &at)| {
                let content = if turn == 0 {
                    corpus.exact(prefix, at, *input)
                } else {
                    corpus.exact("", at, unique)
                };
                Message::new("user", content)
            })
            .collect();
        Conversation {
            messages,
            lengths: Some(Lengths {
                input_tokens: *input,
                output_tokens: *output,
            }),
        }
    };
    parallel_map(count, build)
}

/// A normal draw around `mean` (exactly `mean` when `std` is 0), rounded, at least `min`.
fn draw(rng: &mut StdRng, mean: f64, std: f64, min: u64) -> u64 {
    let v = match Normal::new(mean, std) {
        Ok(n) if std > 0.0 => n.sample(rng),
        _ => mean,
    };
    (v.round().max(0.0) as u64).max(min)
}

/// `f(0..n)` in order, on every core (tokenizing thousands of prompts takes a while on one).
fn parallel_map<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |c| c.get())
        .min(n.max(1));
    let chunk = n.div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|from| {
                let f = &f;
                s.spawn(move || (from..(from + chunk).min(n)).map(f).collect::<Vec<T>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tokenizer::tests::sample;

    fn spec(text: &str) -> SyntheticSpec {
        SyntheticSpec::parse(text).unwrap()
    }

    #[test]
    fn the_corpus_is_ascii_prose() {
        assert!(CORPUS.is_ascii());
        assert!(CORPUS.split_whitespace().count() > 6000);
    }

    #[test]
    fn prompts_count_exactly_their_length_by_the_tokenizer() {
        let t = sample();
        let corpus = Corpus::new(&Counter::Exact(t.clone()));
        let convs = generate(&spec("input=300,output=20"), &corpus, 1, 40);
        assert_eq!(convs.len(), 40);
        for c in &convs {
            assert_eq!(t.count(&c.messages[0].content), 300);
            assert_eq!(c.lengths.unwrap().output_tokens, 20);
        }
        // Longer than the corpus: it repeats.
        let long = generate(&spec("input=30000,output=1"), &corpus, 2, 1);
        assert_eq!(t.count(&long[0].messages[0].content), 30000);
        // Seeded.
        assert_eq!(
            convs,
            generate(&spec("input=300,output=20"), &corpus, 1, 40)
        );
        assert_ne!(
            convs,
            generate(&spec("input=300,output=20"), &corpus, 3, 40)
        );
    }

    #[test]
    fn spreads_shared_prefixes_and_turns() {
        let t = sample();
        let corpus = Corpus::new(&Counter::Exact(t.clone()));
        let convs = generate(
            &spec("input=200,output=50,input_std=40,output_std=10,prefix=64,prefixes=3,turns=2"),
            &corpus,
            7,
            300,
        );
        let inputs: Vec<u64> = convs
            .iter()
            .map(|c| c.lengths.unwrap().input_tokens)
            .collect();
        let mean = inputs.iter().sum::<u64>() as f64 / inputs.len() as f64;
        assert!((190.0..210.0).contains(&mean), "{mean}");
        assert!(inputs.iter().any(|&i| i < 170) && inputs.iter().any(|&i| i > 230));
        for (i, c) in convs.iter().enumerate() {
            let l = c.lengths.unwrap();
            assert_eq!(c.messages.len(), 2);
            assert_eq!(t.count(&c.messages[0].content), l.input_tokens);
            assert_eq!(t.count(&c.messages[1].content), l.input_tokens - 64);
            // Prefix i mod 3 is shared.
            let same = &convs[(i + 3) % 300].messages[0].content;
            let head = |s: &str| t.decode(&t.encode(s)[..60]);
            assert_eq!(head(&c.messages[0].content), head(same));
        }
        let head = |c: &Conversation| c.messages[0].content[..100].to_string();
        assert_ne!(head(&convs[0]), head(&convs[1]));
    }

    #[test]
    fn without_a_tokenizer_lengths_are_four_characters_a_token() {
        let corpus = Corpus::new(&Counter::Approx);
        let convs = generate(&spec("input=100,output=8,prefix=20"), &corpus, 1, 5);
        for c in &convs {
            assert_eq!(c.messages[0].content.len(), 400);
        }
        assert_eq!(default_count(&spec("input=100,output=8")), 1000);
        assert_eq!(default_count(&spec("input=100000,output=8")), 167);
        assert_eq!(default_count(&spec("input=1000000,output=8,turns=100")), 1);
    }
}
