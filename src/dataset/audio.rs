//! `--audio`: WAV clips (16 kHz, mono, 16-bit) made once before the first level from the run's
//! seed, a tone of a drawn pitch or white noise, each of one of the spec's lengths. Sample `i`'s
//! first user message gets pool clips `i x count + j`, as `images.rs` gives images.
//! `pipeline/workload.rs` calls [`prepare`]; `measure/request.rs` sends them as `input_audio`.

use crate::config::audio::{AudioKind, AudioSpec};
use crate::dataset::types::{Audio, Conversation};
use anyhow::{Context, Result};
use base64::Engine;
use rand::Rng;
use std::sync::Arc;

const RATE: u32 = 16_000;

/// The distinct clips made, and their mean base64 bytes.
pub fn prepare(convs: &mut [Conversation], spec: &AudioSpec, seed: u64) -> Result<(usize, u64)> {
    let count = spec.count as usize;
    let n = spec.pool.map_or(convs.len() * count, |k| k as usize).max(1);
    let pool: Vec<Arc<Audio>> = (0..n)
        .map(|i| clip(spec, seed, i).map(Arc::new))
        .collect::<Result<_>>()?;
    for (i, c) in convs.iter_mut().enumerate() {
        if let Some(first) = c.messages.iter_mut().find(|m| m.role == "user") {
            first
                .audio
                .extend((0..count).map(|j| pool[(i * count + j) % pool.len()].clone()));
        }
    }
    let mean = pool.iter().map(|a| a.base64.len() as u64).sum::<u64>() / n as u64;
    Ok((n.min(convs.len() * count), mean))
}

/// Clip `i`: from its own seeded generator.
fn clip(spec: &AudioSpec, seed: u64, i: usize) -> Result<Audio> {
    let mut rng = crate::config::seeds::item(seed, 0x000a_0d10, i as u64);
    let seconds = spec.seconds[rng.random_range(0..spec.seconds.len())];
    let samples = (seconds * f64::from(RATE)).round() as usize;
    let pitch = rng.random_range(200.0..1000.0_f64);
    let wav = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut buf, wav).context("writing a generated WAV")?;
        for k in 0..samples {
            let v = match spec.kind {
                AudioKind::Tone => {
                    (2.0 * std::f64::consts::PI * pitch * k as f64 / f64::from(RATE)).sin() * 0.3
                }
                AudioKind::Noise => rng.random_range(-0.3..0.3),
            };
            w.write_sample((v * f64::from(i16::MAX)) as i16)
                .context("writing a generated WAV")?;
        }
        w.finalize().context("writing a generated WAV")?;
    }
    let bytes = buf.into_inner();
    Ok(Audio {
        base64: base64::engine::general_purpose::STANDARD
            .encode(&bytes)
            .into(),
        bytes: bytes.len(),
        seconds: samples as f64 / f64::from(RATE),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::types::Message;

    #[test]
    fn clips_are_seeded_wav_of_the_length_asked() {
        let spec = AudioSpec::parse("count=1,seconds=0.5,pool=2").unwrap();
        let mut c = vec![
            Conversation {
                messages: vec![Message::new("user", "a")],
                lengths: None,
            };
            3
        ];
        let (distinct, _) = prepare(&mut c, &spec, 3).unwrap();
        assert_eq!(distinct, 2);
        let a = &c[0].messages[0].audio[0];
        assert_eq!((a.seconds, a.bytes), (0.5, 44 + 8000 * 2));
        assert_eq!(
            c[2].messages[0].audio[0], c[0].messages[0].audio[0],
            "pool of 2: sample 2 repeats 0"
        );
    }
}
