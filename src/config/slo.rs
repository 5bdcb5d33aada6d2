//! Service-level objectives (`--slo "success>=99,ttft_p95<=0.5,e2e_p99<=10,tpot_p50<=0.05"`): what a
//! level must meet to PASS, beside keeping up with its load. Parsed and validated here; `analyze/`
//! checks each level against them and counts the requests that met them all (goodput).
//!
//! Metrics: `success` (percent of requests, at least), and at any percentile `pNN` (`p95`, `p99.9`)
//! `ttft`, `e2e`, `itl`, `tpot` (seconds, at most) and `tokens_per_sec` (per request, at least).
//! `--max-ttft-p95 X` and `--max-e2e-p95 X` are the same as `ttft_p95<=X` and `e2e_p95<=X`.

use anyhow::{bail, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// What an objective measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Percent of scheduled requests that succeeded.
    Success,
    Ttft,
    E2e,
    Itl,
    Tpot,
    /// Output tokens per second of each request.
    TokensPerSec,
}

impl Metric {
    /// The flag's name of the metric.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Success => "success",
            Metric::Ttft => "ttft",
            Metric::E2e => "e2e",
            Metric::Itl => "itl",
            Metric::Tpot => "tpot",
            Metric::TokensPerSec => "tokens_per_sec",
        }
    }

    /// Whether the objective is a floor (`>=`) rather than a ceiling (`<=`).
    pub fn at_least(self) -> bool {
        matches!(self, Metric::Success | Metric::TokensPerSec)
    }

    /// Whether the metric is in seconds.
    pub fn seconds(self) -> bool {
        matches!(
            self,
            Metric::Ttft | Metric::E2e | Metric::Itl | Metric::Tpot
        )
    }
}

/// One objective: `metric_pNN <= bound` (or `>=` for floors).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Objective {
    pub metric: Metric,
    /// The percentile of the level's distribution; `None` for `success`.
    pub percentile: Option<f64>,
    pub bound: f64,
}

impl Objective {
    /// Whether `value` meets the objective.
    pub fn met_by(&self, value: f64) -> bool {
        if self.metric.at_least() {
            value >= self.bound
        } else {
            value <= self.bound
        }
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.metric.name())?;
        if let Some(p) = self.percentile {
            write!(f, "_p{p}")?;
        }
        let op = if self.metric.at_least() { ">=" } else { "<=" };
        write!(f, "{op}{}", self.bound)
    }
}

/// The objectives as one `--slo` text (canonical: `ttft_p95<=0.5,...`).
pub fn to_text(objectives: &[Objective]) -> String {
    objectives
        .iter()
        .map(|o| o.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Objectives as a results folder keeps them: typed in memory, the `--slo` text in the file
/// (`"success>=99,ttft_p95<=0.5"`), so the file reads as the flag and nothing re-parses text.
#[derive(Debug, Clone, PartialEq)]
pub struct Objectives(pub Vec<Objective>);

impl Serialize for Objectives {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_text(&self.0))
    }
}

impl<'de> Deserialize<'de> for Objectives {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text)
            .map(Objectives)
            .map_err(|e| serde::de::Error::custom(format!("slo {text:?}: {e:#}")))
    }
}

/// Parses `--slo`. Every problem names the objective and shows the form.
pub fn parse(text: &str) -> Result<Vec<Objective>> {
    let hint = "e.g. --slo \"success>=99,ttft_p95<=0.5,e2e_p99<=10,tpot_p50<=0.05\"";
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lhs, op, rhs) = match (part.find("<="), part.find(">=")) {
            (Some(i), None) => (&part[..i], "<=", &part[i + 2..]),
            (None, Some(i)) => (&part[..i], ">=", &part[i + 2..]),
            _ => bail!(
                "--slo {part:?}: write each objective as metric<=value or metric>=value; {hint}"
            ),
        };
        let lhs = lhs.trim().to_ascii_lowercase();
        let (name, percentile) = match lhs.rsplit_once("_p") {
            Some((name, p)) if !name.is_empty() && p.parse::<f64>().is_ok() => {
                (name.to_string(), p.parse::<f64>().ok())
            }
            _ => (lhs.clone(), None),
        };
        let metric = match name.as_str() {
            "success" => Metric::Success,
            "ttft" => Metric::Ttft,
            "e2e" => Metric::E2e,
            "itl" => Metric::Itl,
            "tpot" => Metric::Tpot,
            "tokens_per_sec" => Metric::TokensPerSec,
            _ => bail!("--slo {part:?}: unknown metric {name:?}; use success, ttft, e2e, itl, tpot or tokens_per_sec; {hint}"),
        };
        match (metric, percentile) {
            (Metric::Success, Some(_)) => {
                bail!("--slo {part:?}: success takes no percentile, e.g. success>=99")
            }
            (Metric::Success, None) => {}
            (_, None) => bail!(
                "--slo {part:?}: give the percentile, e.g. {}_p95",
                metric.name()
            ),
            (_, Some(p)) if !(p.is_finite() && (0.0..=100.0).contains(&p)) => {
                bail!("--slo {part:?}: the percentile must lie between 0 and 100")
            }
            _ => {}
        }
        let want = if metric.at_least() { ">=" } else { "<=" };
        if op != want {
            bail!(
                "--slo {part:?}: {} is an objective of the form {}{want}value",
                metric.name(),
                lhs
            );
        }
        let bound: f64 = match rhs.trim().parse() {
            Ok(v) if f64::is_finite(v) && v > 0.0 => v,
            _ => bail!("--slo {part:?}: the bound must be a number above 0; {hint}"),
        };
        if metric == Metric::Success && bound > 100.0 {
            bail!("--slo {part:?}: success is a percentage, at most 100");
        }
        out.push(Objective {
            metric,
            percentile,
            bound,
        });
    }
    if out.is_empty() {
        bail!("--slo is empty; {hint}");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objectives_parse_and_print_back() {
        let o = parse(
            "success>=99.5, ttft_p95<=0.5,e2e_p99.9<=10,tpot_p50<=0.05,tokens_per_sec_p50>=20",
        )
        .unwrap();
        assert_eq!(o.len(), 5);
        assert_eq!(o[0].metric, Metric::Success);
        assert_eq!(o[2].percentile, Some(99.9));
        assert_eq!(
            to_text(&o),
            "success>=99.5,ttft_p95<=0.5,e2e_p99.9<=10,tpot_p50<=0.05,tokens_per_sec_p50>=20"
        );
        assert_eq!(parse(&to_text(&o)).unwrap(), o);
        assert!(o[1].met_by(0.5) && !o[1].met_by(0.51));
        assert!(o[4].met_by(20.0) && !o[4].met_by(19.9));
    }

    #[test]
    fn bad_objectives_say_what_is_wrong() {
        for (text, says) in [
            ("ttft<=0.5", "give the percentile"),
            ("ttft_p95>=0.5", "form ttft_p95<=value"),
            ("latency_p95<=1", "unknown metric"),
            ("success>=101", "at most 100"),
            ("ttft_p95<=-1", "above 0"),
            ("ttft_p95=1", "metric<=value"),
            ("success_p50>=99", "no percentile"),
            ("", "empty"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
