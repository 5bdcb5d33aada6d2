//! The simulator's vision (and audio) encoder: an image part (chat's `image_url`, the Responses
//! API's `input_image`, Anthropic's base64 `image`) costs prompt tokens by its pixels
//! (`--image-token-pixels`), and before the request is admitted, encoder time
//! (`--image-encode-ms` plus `--image-encode-ms-per-mpx`) on one encoder that images queue for;
//! an `input_audio` WAV clip costs `--audio-tokens-per-s` tokens and `--audio-encode-ms-per-s`
//! of the same encoder per second of audio.
//! An encoder cache keyed by the image's content (`--encoder-cache-images`, least recently used
//! out) lets a repeated image skip the encoder. `state.rs` holds it; the routes in `mod.rs` call
//! it; `/sim/stats` shows its hits and misses.

use super::lru::Lru;
use base64::Engine;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// An image or audio clip a request carries: its content's key, and its size in pixels (an
/// image) or seconds (a clip).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seen {
    pub key: u64,
    pub pixels: u64,
    pub seconds: f64,
}

/// How images cost, from the simulator's flags.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VisionConfig {
    pub token_pixels: u64,
    pub encode_ms: f64,
    pub encode_ms_per_mpx: f64,
    pub cache_images: usize,
    /// A clip's prompt tokens per second of audio, and its encoder time per second.
    pub audio_tokens_per_s: f64,
    pub audio_encode_ms_per_s: f64,
}

impl Default for VisionConfig {
    fn default() -> Self {
        VisionConfig {
            token_pixels: 784,
            encode_ms: 2.0,
            encode_ms_per_mpx: 20.0,
            cache_images: 64,
            audio_tokens_per_s: 25.0,
            audio_encode_ms_per_s: 5.0,
        }
    }
}

pub struct Vision {
    cfg: VisionConfig,
    cache: Mutex<Lru>,
    encoder: tokio::sync::Mutex<()>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Vision {
    pub fn new(cfg: VisionConfig) -> Vision {
        Vision {
            cfg,
            cache: Mutex::new(Lru::new(cfg.cache_images)),
            encoder: tokio::sync::Mutex::new(()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The prompt tokens `images` (and clips) cost.
    pub fn tokens(&self, images: &[Seen]) -> u64 {
        let per = self.cfg.token_pixels.max(1);
        images
            .iter()
            .map(|i| match i.seconds > 0.0 {
                true => (i.seconds * self.cfg.audio_tokens_per_s).ceil() as u64,
                false => i.pixels.div_ceil(per),
            })
            .map(|t| t.max(1))
            .sum()
    }

    /// Encodes the images the cache does not hold, one at a time on the one encoder.
    pub async fn encode(&self, images: &[Seen]) {
        for image in images {
            if self.cached(image.key) {
                self.hits.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            self.misses.fetch_add(1, Ordering::Relaxed);
            let ms = match image.seconds > 0.0 {
                true => self.cfg.audio_encode_ms_per_s * image.seconds,
                false => {
                    self.cfg.encode_ms + self.cfg.encode_ms_per_mpx * image.pixels as f64 / 1e6
                }
            };
            let _encoder = self.encoder.lock().await;
            tokio::time::sleep(Duration::from_secs_f64(ms.max(0.0) / 1e3)).await;
        }
    }

    /// Whether `key` is cached, refreshing it; a miss is cached from now on.
    fn cached(&self, key: u64) -> bool {
        self.cache.lock().is_ok_and(|mut c| c.touch(key))
    }

    /// `{"hits", "misses"}` since the start or the last reset (which `reset` makes).
    pub fn stats(&self, reset: bool) -> serde_json::Value {
        let read = |c: &AtomicU64| match reset {
            true => c.swap(0, Ordering::Relaxed),
            false => c.load(Ordering::Relaxed),
        };
        serde_json::json!({"hits": read(&self.hits), "misses": read(&self.misses)})
    }
}

/// The images of a request body's value, wherever their parts sit.
pub fn images_in(v: &serde_json::Value, out: &mut Carried) {
    match v {
        serde_json::Value::Array(items) => items.iter().for_each(|i| images_in(i, out)),
        serde_json::Value::Object(o) => {
            let kind = o.get("type").and_then(|t| t.as_str());
            let source = o.get("source");
            let data = match kind {
                Some("image_url") => o.get("image_url").and_then(|u| u.get("url")),
                Some("input_image") => o.get("image_url"),
                Some("image") => source.and_then(|s| s.get("data").or_else(|| s.get("url"))),
                Some("input_audio") => o.get("input_audio").and_then(|a| a.get("data")),
                _ => None,
            };
            match data.and_then(|d| d.as_str()) {
                Some(d) if d.starts_with("http://") || d.starts_with("https://") => {
                    out.urls.push(d.to_string())
                }
                Some(d) => out.seen.extend(seen(d, kind == Some("input_audio"))),
                None => o.values().for_each(|x| images_in(x, out)),
            }
        }
        _ => {}
    }
}

/// What a request carries: its inline images and clips, and the addresses of images to fetch.
#[derive(Debug, Default)]
pub struct Carried {
    pub seen: Vec<Seen>,
    pub urls: Vec<String>,
}

impl Carried {
    /// Every image, those given by address fetched as a server fetches a user's image: from this
    /// machine only (127.0.0.1 or localhost, within 10 s). One that cannot be fetched, or is not
    /// an image, costs one token, as an unreadable inline one does.
    pub async fn fetched(&self) -> Vec<Seen> {
        let mut all = self.seen.clone();
        for url in &self.urls {
            let bytes = fetch_local(url).await.unwrap_or_default();
            let mut h = DefaultHasher::new();
            bytes.hash(&mut h);
            let (w, hgt) = crate::dataset::images::dimensions(&bytes);
            all.push(Seen {
                key: h.finish(),
                pixels: u64::from(w) * u64::from(hgt),
                seconds: 0.0,
            });
        }
        all
    }
}

/// The body at `url` when it names this machine.
async fn fetch_local(url: &str) -> Option<Vec<u8>> {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let parsed = reqwest::Url::parse(url).ok()?;
    if !matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")) {
        return None;
    }
    // Straight to this machine: no proxy, no redirect elsewhere, at most 64 MiB.
    let client = CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default()
    });
    let get = async {
        let mut r = client.get(parsed).send().await.ok()?;
        let mut body = Vec::new();
        while let Some(chunk) = r.chunk().await.ok()? {
            body.extend_from_slice(&chunk);
            if body.len() > 64 << 20 {
                return None;
            }
        }
        Some(body)
    };
    tokio::time::timeout(Duration::from_secs(10), get)
        .await
        .ok()?
}

/// An image (or a WAV clip) from a `data:` URI or bare base64: its content's hash and its pixels
/// (its seconds), 0 when its header gives no size: it still costs one token. The hash is of the
/// base64 text; only as much of it is decoded as holds the header (PNG's and WAV's are at the
/// start, a JPEG's frame header within its first tables), so a body of megabytes is not decoded
/// again on every request.
fn seen(data: &str, audio: bool) -> Option<Seen> {
    let b64 = data.split_once("base64,").map_or(data, |(_, b)| b);
    let mut h = DefaultHasher::new();
    b64.hash(&mut h);
    let key = h.finish();
    if audio {
        let seconds = by_prefix(b64, |bytes| {
            hound::WavReader::new(std::io::Cursor::new(bytes))
                .ok()
                .map(|r| f64::from(r.duration()) / f64::from(r.spec().sample_rate.max(1)))
        })?
        .unwrap_or(0.0);
        return Some(Seen {
            key,
            pixels: 0,
            seconds,
        });
    }
    let (w, hgt) = by_prefix(b64, |bytes| {
        Some(crate::dataset::images::dimensions(bytes)).filter(|&(w, h)| w > 0 && h > 0)
    })?
    .unwrap_or((0, 0));
    Some(Seen {
        key,
        pixels: u64::from(w) * u64::from(hgt),
        seconds: 0.0,
    })
}

/// `read` of the first 3 KiB the base64 decodes to, then of the first 48 KiB, then of all of it,
/// until it finds what it reads; `None` when the text is not base64 at all. Only the part read is
/// checked: an image whose base64 goes bad after its header still costs its pixels here (a real
/// server would refuse it; the simulator is not the judge of a client's encoding).
fn by_prefix<T>(b64: &str, read: impl Fn(&[u8]) -> Option<T>) -> Option<Option<T>> {
    for chars in [4 << 10, 64 << 10] {
        if b64.len() <= chars {
            break;
        }
        let prefix = &b64.as_bytes()[..chars];
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(prefix) else {
            break;
        };
        if let Some(found) = read(&bytes) {
            return Some(Some(found));
        }
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Some(read(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_image_costs_tokens_by_its_pixels_and_a_repeated_one_skips_the_encoder() {
        let v = Vision::new(VisionConfig {
            cache_images: 1,
            ..VisionConfig::default()
        });
        let a = Seen {
            key: 1,
            pixels: 1_000_000,
            seconds: 0.0,
        };
        let b = Seen {
            key: 2,
            pixels: 784,
            seconds: 0.0,
        };
        assert_eq!(v.tokens(&[a, b]), 1276 + 1);
        let t = tokio::time::Instant::now();
        v.encode(&[a]).await;
        // 2 ms + 20 ms per megapixel.
        assert_eq!(t.elapsed(), Duration::from_millis(22));
        v.encode(&[a]).await;
        assert_eq!(
            t.elapsed(),
            Duration::from_millis(22),
            "a cached image is free"
        );
        v.encode(&[b, a]).await; // b pushes a out of the one-image cache
        assert_eq!(v.stats(true), serde_json::json!({"hits": 1, "misses": 3}));
        assert_eq!(v.stats(false), serde_json::json!({"hits": 0, "misses": 0}));
    }

    #[test]
    fn image_parts_are_found_in_each_apis_shape() {
        let png = {
            let mut buf = Vec::new();
            image::codecs::png::PngEncoder::new(&mut buf)
                .write_image(&[0; 12], 2, 2, image::ColorType::Rgb8)
                .unwrap();
            base64::engine::general_purpose::STANDARD.encode(buf)
        };
        let uri = format!("data:image/png;base64,{png}");
        let body = serde_json::json!([
            {"role": "user", "content": [{"type": "text", "text": "hi"},
                {"type": "image_url", "image_url": {"url": uri}}]},
            {"type": "message", "content": [{"type": "input_image", "image_url": uri}]},
            {"role": "user", "content": [{"type": "image", "source": {"type": "base64", "data": png}}]}
        ]);
        let mut carried = Carried::default();
        images_in(&body, &mut carried);
        let found = carried.seen;
        assert_eq!(found.len(), 3);
        assert!(found.iter().all(|s| s.pixels == 4 && s.key == found[0].key));
    }

    #[test]
    fn a_large_image_is_sized_from_its_header_and_anything_else_still_costs_a_token() {
        let noisy_png = |w: u32, h: u32, text: usize| {
            let pixels: Vec<u8> = (0..w * h * 3)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
                .collect();
            let mut buf = Vec::new();
            image::codecs::png::PngEncoder::new(&mut buf)
                .write_image(&pixels, w, h, image::ColorType::Rgb8)
                .unwrap();
            // A large private ancillary chunk between the header and the data, so no prefix
            // holds both.
            if text > 0 {
                let data = vec![b'a'; text];
                let mut crc = flate2::Crc::new();
                crc.update(b"rdLn");
                crc.update(&data);
                let mut chunk = (text as u32).to_be_bytes().to_vec();
                chunk.extend_from_slice(b"rdLn");
                chunk.extend_from_slice(&data);
                chunk.extend_from_slice(&crc.sum().to_be_bytes());
                buf.splice(33..33, chunk);
            }
            base64::engine::general_purpose::STANDARD.encode(buf)
        };
        for (w, h, text) in [(600, 400, 0), (64, 48, 100_000)] {
            let b64 = noisy_png(w, h, text);
            assert!(b64.len() > 64 << 10 || text == 0);
            let s = seen(&b64, false).unwrap();
            assert_eq!(
                s.pixels,
                u64::from(w * h),
                "{w}x{h} with {text} bytes of text"
            );
        }
        // Not an image, or not base64 (multi-byte text included): no size, never a panic.
        let not_image = base64::engine::general_purpose::STANDARD.encode(vec![7u8; 10_000]);
        assert_eq!(seen(&not_image, false).unwrap().pixels, 0);
        assert!(seen(&"é".repeat(40_000), false).is_none());
    }
    use image::ImageEncoder;
}
