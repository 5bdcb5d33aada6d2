//! `--lora NAME,...` and `--lora-assignment`: a mix of LoRA adapters on one base model. Each
//! arrival (a request, or a whole session, which keeps its adapter for every turn) is given one
//! adapter, whose name its requests send as their `model`: in turn (`round-robin`, the default),
//! drawn from the run's seed and the arrival's index (`random`), or drawn by weight
//! (`weights=a:0.7,b:0.3`). `measure/client.rs` builds each sample's body once per adapter; the
//! level reports every figure per adapter as well.

use anyhow::{bail, Context, Result};
use rand::Rng;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    RoundRobin,
    Random,
    /// Each adapter's weight, in `adapters`' order (summing to 1).
    Weights(Vec<f64>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lora {
    pub adapters: Vec<String>,
    pub assignment: Assignment,
}

impl Lora {
    pub fn parse(names: &str, assignment: Option<&str>) -> Result<Lora> {
        let adapters: Vec<String> = names
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(String::from)
            .collect();
        if adapters.is_empty() {
            bail!("--lora: give the adapters' names, e.g. --lora sql-lora,chat-lora");
        }
        for (i, a) in adapters.iter().enumerate() {
            if adapters[..i].contains(a) {
                bail!("--lora: {a} is given twice");
            }
        }
        let assignment = match assignment.map(str::trim) {
            None | Some("round-robin") => Assignment::RoundRobin,
            Some("random") => Assignment::Random,
            Some(w) if w.starts_with("weights=") => weights(&w["weights=".len()..], &adapters)?,
            Some(other) => bail!(
                "--lora-assignment {other}: round-robin, random or weights=NAME:W,... (e.g. weights={}:0.7,{}:0.3)",
                adapters[0],
                adapters.get(1).unwrap_or(&adapters[0])
            ),
        };
        Ok(Lora {
            adapters,
            assignment,
        })
    }

    /// Arrival `i`'s adapter (an index into `adapters`): in turn, or drawn from `seed` and `i`
    /// alone, so a shard draws what one process would.
    pub fn pick(&self, i: u64, seed: u64) -> usize {
        let n = self.adapters.len();
        let mut rng = crate::config::seeds::item(seed, 0x10_7a, i);
        match &self.assignment {
            Assignment::RoundRobin => (i % n as u64) as usize,
            Assignment::Random => rng.random_range(0..n),
            Assignment::Weights(w) => {
                let mut x: f64 = rng.random();
                w.iter()
                    .position(|p| {
                        x -= p;
                        x < 0.0
                    })
                    .unwrap_or(n - 1)
            }
        }
    }
}

/// `a:0.7,b:0.3`: a weight for each adapter, normalised to sum to 1.
fn weights(text: &str, adapters: &[String]) -> Result<Assignment> {
    let mut w: Vec<Option<f64>> = vec![None; adapters.len()];
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = part
            .split_once(':')
            .with_context(|| format!("--lora-assignment weights: {part:?} is not NAME:WEIGHT"))?;
        let Some(i) = adapters.iter().position(|a| a == name.trim()) else {
            bail!("--lora-assignment weights: {name} is not one of --lora's adapters");
        };
        let v: f64 = value
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .with_context(|| {
                format!("--lora-assignment weights: {part:?}: a weight of 0 or more")
            })?;
        w[i] = Some(v);
    }
    // An adapter left out would silently get no requests: each is named, 0 when meant.
    if let Some(i) = w.iter().position(Option::is_none) {
        bail!(
            "--lora-assignment weights: {} has no weight; give every --lora adapter one ({}:0 sends it none)",
            adapters[i],
            adapters[i]
        );
    }
    let w: Vec<f64> = w.into_iter().flatten().collect();
    let total: f64 = w.iter().sum();
    if total <= 0.0 {
        bail!("--lora-assignment weights: give at least one adapter a weight above 0");
    }
    Ok(Assignment::Weights(w.iter().map(|v| v / total).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapters_are_assigned_in_turn_at_random_or_by_weight() {
        let rr = Lora::parse("a,b,c", None).unwrap();
        let picks = |l: &Lora, n: u64, seed| (0..n).map(|i| l.pick(i, seed)).collect::<Vec<_>>();
        assert_eq!(picks(&rr, 5, 1), [0, 1, 2, 0, 1]);
        let w = Lora::parse("a,b", Some("weights=a:3,b:1")).unwrap();
        assert_eq!(w.assignment, Assignment::Weights(vec![0.75, 0.25]));
        let drawn = picks(&w, 4000, 9);
        let share = drawn.iter().filter(|&&i| i == 0).count() as f64 / 4000.0;
        assert!((0.72..0.78).contains(&share), "{share}");
        assert_eq!(picks(&w, 50, 9), picks(&w, 50, 9), "seeded");
        let r = Lora::parse("a,b", Some("random")).unwrap();
        assert!(picks(&r, 100, 2).contains(&1));
        for (names, a, says) in [
            ("", None, "give the adapters"),
            ("a,a", None, "given twice"),
            ("a", Some("sometimes"), "round-robin, random or weights"),
            ("a,b", Some("weights=c:1"), "not one of --lora's"),
            ("a,b", Some("weights=a:0,b:0"), "above 0"),
            ("a,b", Some("weights=a:1"), "b has no weight"),
            ("a,b", Some("weights=a"), "NAME:WEIGHT"),
        ] {
            let e = Lora::parse(names, a).unwrap_err().to_string();
            assert!(e.contains(says), "{names} {a:?}: {e}");
        }
    }
}
