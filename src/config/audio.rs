//! `--audio SPEC`: the audio clips each request carries (`input_audio` parts, chat API), generated
//! once before the first level: `count=1,seconds=5[|10...],kind=tone|noise[,pool=K]`. Checked here;
//! `dataset/audio.rs` makes them; `measure/request.rs` sends them.

use super::spec;
use anyhow::{bail, Context, Result};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioKind {
    /// A sine tone (its pitch drawn per clip).
    Tone,
    /// White noise.
    Noise,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AudioSpec {
    /// Clips per request.
    pub count: u32,
    /// Each clip's length, seconds, drawn from these.
    pub seconds: Vec<f64>,
    pub kind: AudioKind,
    /// Distinct clips (unset: every sample's are its own).
    pub pool: Option<u32>,
}

/// The longest clip, seconds.
const MAX_SECONDS: f64 = 600.0;

impl AudioSpec {
    pub fn parse(text: &str) -> Result<AudioSpec> {
        let example = "e.g. --audio count=1,seconds=5 or --audio seconds=2|10,kind=noise";
        let mut spec = AudioSpec {
            count: 1,
            seconds: vec![],
            kind: AudioKind::Tone,
            pool: None,
        };
        for (key, value) in spec::pairs("--audio", text, example)? {
            let whole = |max| spec::whole("--audio", (key, value), max, example);
            match key {
                "count" => spec.count = whole(16)?,
                "pool" => spec.pool = Some(whole(100_000)?),
                "seconds" => {
                    spec.seconds = value
                        .split('|')
                        .map(|s| {
                            let v: f64 = s.trim().parse().ok().filter(|v: &f64| v.is_finite()).with_context(
                                || format!("--audio seconds={value}: seconds, e.g. seconds=5 or seconds=2|10"),
                            )?;
                            if !(v > 0.0 && v <= MAX_SECONDS) {
                                bail!("--audio seconds={value}: each above 0 and at most {MAX_SECONDS}");
                            }
                            Ok(v)
                        })
                        .collect::<Result<_>>()?
                }
                "kind" => {
                    spec.kind = match value {
                        "tone" => AudioKind::Tone,
                        "noise" => AudioKind::Noise,
                        _ => bail!("--audio kind={value}: tone or noise"),
                    }
                }
                other => bail!(
                    "--audio: unknown key {other:?}; the keys are count, seconds, kind and pool ({example})"
                ),
            }
        }
        if spec.seconds.is_empty() {
            bail!("--audio needs seconds= ({example})");
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_names_the_clips_and_each_mistake_its_key() {
        let s = AudioSpec::parse("count=2,seconds=1.5|3,kind=noise,pool=4").unwrap();
        assert_eq!(
            (s.count, s.seconds.clone(), s.kind, s.pool),
            (2, vec![1.5, 3.0], AudioKind::Noise, Some(4))
        );
        for (bad, says) in [
            ("count=1", "needs seconds="),
            ("seconds=0", "above 0"),
            ("seconds=5,kind=music", "tone or noise"),
            ("seconds=5,rate=8000", "unknown key"),
        ] {
            let e = AudioSpec::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
