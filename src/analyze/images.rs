//! `--images` and `--audio`: what a level's images and clips cost. How many each request carried and how many went out per
//! second, their bytes, the request bodies' sizes, the prompt tokens per request from the server's
//! usage (an image's token cost shows there), and, when the level mixed requests with and without
//! images, TTFT for each. `level.rs` adds it to the level's figures; `output/workload.rs` prints it.

use crate::analyze::stats::Percentiles;
use crate::measure::record::RequestRecord;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageLoad {
    /// Images per successful request, on average.
    pub per_request: f64,
    /// Images of the successful requests, and per second of send window.
    pub images: u64,
    pub images_per_s: f64,
    /// Their base64 bytes, and per second of send window.
    pub image_bytes: u64,
    pub image_bytes_per_s: f64,
    /// The request bodies' sizes, bytes (every request sent).
    pub request_bytes: Percentiles,
    /// Prompt tokens per successful request, from the server's usage.
    pub prompt_tokens: Percentiles,
    /// When the level mixed them: TTFT of the successes with images, and without.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_with_images_s: Option<Percentiles>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_without_images_s: Option<Percentiles>,
}

impl ImageLoad {
    /// `None` unless the level's requests carried images.
    pub fn of(
        recs: &[RequestRecord],
        ok: &[&RequestRecord],
        window_s: f64,
        percentiles: &[f64],
    ) -> Option<ImageLoad> {
        if !recs.iter().any(|r| r.images.is_some_and(|n| n > 0)) {
            return None;
        }
        let pct = |v: Vec<f64>| Percentiles::of(v, percentiles);
        let images: u64 = ok.iter().filter_map(|r| r.images).map(u64::from).sum();
        let bytes: u64 = ok.iter().filter_map(|r| r.image_bytes).sum();
        let window = window_s.max(1e-9);
        let (with, without): (Vec<&&RequestRecord>, Vec<&&RequestRecord>) =
            ok.iter().partition(|r| r.images.is_some_and(|n| n > 0));
        let ttft = |rs: &[&&RequestRecord]| pct(rs.iter().filter_map(|r| r.ttft_s()).collect());
        let mixed = !with.is_empty() && !without.is_empty();
        Some(ImageLoad {
            per_request: images as f64 / ok.len().max(1) as f64,
            images,
            images_per_s: images as f64 / window,
            image_bytes: bytes,
            image_bytes_per_s: bytes as f64 / window,
            request_bytes: Percentiles::of(
                recs.iter()
                    .filter_map(|r| r.request_bytes)
                    .map(|b| b as f64)
                    .collect(),
                &[100.0],
            ),
            prompt_tokens: pct(ok
                .iter()
                .filter_map(|r| r.prompt_tokens)
                .map(|t| t as f64)
                .collect()),
            ttft_with_images_s: mixed.then(|| ttft(&with)),
            ttft_without_images_s: mixed.then(|| ttft(&without)),
        })
    }
}

/// `--audio`: what a level's audio clips cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AudioLoad {
    pub per_request: f64,
    /// Clips of the successful requests, and per second of send window.
    pub clips: u64,
    pub clips_per_s: f64,
    /// Their seconds of audio, and per second of send window.
    pub audio_seconds: f64,
    pub audio_seconds_per_s: f64,
    /// Prompt tokens per successful request, from the server's usage.
    pub prompt_tokens: Percentiles,
}

impl AudioLoad {
    /// `None` unless the level's requests carried audio.
    pub fn of(ok: &[&RequestRecord], window_s: f64, percentiles: &[f64]) -> Option<AudioLoad> {
        let with: Vec<&&RequestRecord> = ok.iter().filter(|r| r.audio_clips.is_some()).collect();
        if with.is_empty() {
            return None;
        }
        let clips: u64 = with
            .iter()
            .filter_map(|r| r.audio_clips)
            .map(u64::from)
            .sum();
        let seconds: f64 = with.iter().filter_map(|r| r.audio_seconds).sum();
        let window = window_s.max(1e-9);
        Some(AudioLoad {
            per_request: clips as f64 / ok.len().max(1) as f64,
            clips,
            clips_per_s: clips as f64 / window,
            audio_seconds: seconds,
            audio_seconds_per_s: seconds / window,
            prompt_tokens: Percentiles::of(
                ok.iter()
                    .filter_map(|r| r.prompt_tokens)
                    .map(|t| t as f64)
                    .collect(),
                percentiles,
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(images: u32, prompt: u64, ttft: f64) -> RequestRecord {
        let mut r = RequestRecord::new(0, 0.0, 0, 0, 0.0);
        r.images = Some(images);
        r.image_bytes = Some(u64::from(images) * 1000);
        r.request_bytes = Some(u64::from(images) * 1000 + 200);
        r.prompt_tokens = Some(prompt);
        r.first_token_s = Some(ttft);
        r
    }

    #[test]
    fn a_level_says_its_images_bytes_and_ttft_with_and_without_them() {
        let recs = [rec(2, 900, 0.4), rec(2, 900, 0.6), rec(0, 100, 0.1)];
        let ok: Vec<&RequestRecord> = recs.iter().collect();
        let l = ImageLoad::of(&recs, &ok, 2.0, &[50.0]).unwrap();
        assert_eq!((l.images, l.image_bytes), (4, 4000));
        assert_eq!((l.images_per_s, l.image_bytes_per_s), (2.0, 2000.0));
        assert_eq!(l.request_bytes.get(50.0), Some(2200.0));
        assert_eq!(l.prompt_tokens.get(50.0), Some(900.0));
        assert_eq!(l.ttft_with_images_s.unwrap().get(50.0), Some(0.5));
        assert_eq!(l.ttft_without_images_s.unwrap().get(50.0), Some(0.1));
        let plain = [rec(0, 100, 0.1)];
        assert_eq!(ImageLoad::of(&plain, &[&plain[0]], 1.0, &[50.0]), None);
    }
}
