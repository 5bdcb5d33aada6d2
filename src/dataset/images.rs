//! `--images`: the images each request carries, made once before the first level and never on
//! the hot path. Generated images (`size=`) are drawn from the run's seed: each picks one of the
//! sizes, and its picture (soft gradients, blocks of colour and a little grain, so that it
//! compresses like a photo rather than a blank) is encoded as JPEG or PNG. A folder's (`dir=`)
//! are read as they are. Sample `i` gets pool images `i x count + j` (wrapping), attached to its
//! first user message; `pool=K` bounds the distinct images, so the same image repeats as an
//! encoder cache would see it. `pipeline/workload.rs` calls [`prepare`].

use crate::config::images::{ImageFormat, ImageSource, ImageSpec};
use crate::dataset::types::{Conversation, Image};
use anyhow::{bail, Context, Result};
use base64::Engine;
use rand::rngs::StdRng;
use rand::Rng;
use std::path::Path;
use std::sync::Arc;

/// The most the samples' image data may take in memory (each body is built once and held).
const MAX_TOTAL_BYTES: u64 = 4 << 30;

/// What [`prepare`] made, for the console and metadata.json.
#[derive(Debug, Clone, PartialEq)]
pub struct Made {
    pub distinct: usize,
    /// Mean encoded bytes of an image.
    pub mean_bytes: u64,
    /// Samples added by repeating the conversations, so that each pool image has a sample to ride
    /// on (a level sends as many samples as it has requests).
    pub added_samples: usize,
    /// The distinct images, for `send=url` to serve.
    pub pool: Vec<Arc<Image>>,
}

/// Attaches `spec`'s images to `convs`, repeating the conversations when `pool` holds more
/// images than the samples would carry.
pub fn prepare(convs: &mut Vec<Conversation>, spec: &ImageSpec, seed: u64) -> Result<Made> {
    let count = spec.count as usize;
    let wanted = spec.pool.map_or(convs.len() * count, |k| k as usize);
    let pool = match &spec.source {
        ImageSource::Synthetic { sizes } => generate(sizes, spec.format, wanted, seed)?,
        ImageSource::Dir(dir) => read_dir(dir, spec.pool)?,
    };
    let before = convs.len();
    let needed = pool.len().div_ceil(count);
    if spec.pool.is_some() && needed > before && before > 0 {
        let extra: Vec<Conversation> = (before..needed)
            .map(|i| convs[i % before].clone())
            .collect();
        convs.extend(extra);
    }
    let total: u64 = convs.len() as u64 * count as u64 * mean(&pool);
    if total > MAX_TOTAL_BYTES {
        bail!(
            "--images: {} samples x {count} images of {} KiB on average would hold {} MiB in memory; use smaller images, fewer per request, or --max-samples",
            convs.len(),
            mean(&pool) / 1024,
            total >> 20
        );
    }
    for (i, c) in convs.iter_mut().enumerate() {
        let Some(first) = c.messages.iter_mut().find(|m| m.role == "user") else {
            continue;
        };
        // After any the dataset's message already carries.
        first
            .images
            .extend((0..count).map(|j| pool[(i * count + j) % pool.len()].clone()));
    }
    Ok(Made {
        distinct: pool.len().min(convs.len() * count),
        mean_bytes: mean(&pool),
        added_samples: convs.len() - before,
        pool,
    })
}

fn mean(pool: &[Arc<Image>]) -> u64 {
    let sum: usize = pool.iter().map(|i| i.base64.len()).sum();
    (sum / pool.len().max(1)) as u64
}

/// `n` images, each of one of `sizes`, from `seed`: image `i` from its own seeded generator, so
/// they are made on every core and come out the same.
fn generate(
    sizes: &[(u32, u32)],
    format: ImageFormat,
    n: usize,
    seed: u64,
) -> Result<Vec<Arc<Image>>> {
    let n = n.max(1);
    let one = |i: usize| -> Result<Arc<Image>> {
        let mut rng = crate::config::seeds::item(seed, 0x1a6e_5eed, i as u64);
        let (w, h) = sizes[rng.random_range(0..sizes.len())];
        let picture = picture(w, h, &mut rng);
        encode(&picture, format).map(Arc::new)
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(n);
    let made: Vec<Vec<Result<Arc<Image>>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| s.spawn(move || (t..n).step_by(threads).map(one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    // Back in index order: thread t made t, t + threads, ...
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let slot = made.get(i % threads).and_then(|v| v.get(i / threads));
        match slot {
            Some(Ok(img)) => out.push(img.clone()),
            Some(Err(e)) => bail!("--images: {e}"),
            None => bail!("--images: image {i} was not made"),
        }
    }
    Ok(out)
}

/// A picture that compresses like a photo: a gradient between two colours, a few blocks of
/// colour, and a little grain.
fn picture(w: u32, h: u32, rng: &mut StdRng) -> image::RgbImage {
    let mut colour = || [rng.random::<u8>(), rng.random::<u8>(), rng.random::<u8>()];
    let (a, b) = (colour(), colour());
    let blocks: Vec<([u32; 4], [u8; 3])> = (0..6)
        .map(|_| {
            let (x, y) = (rng.random_range(0..w), rng.random_range(0..h));
            let (bw, bh) = (
                rng.random_range(1..=w / 3 + 1),
                rng.random_range(1..=h / 3 + 1),
            );
            (
                [x, y, x + bw, y + bh],
                [rng.random(), rng.random(), rng.random()],
            )
        })
        .collect();
    let grain = rng.random::<u32>();
    image::RgbImage::from_fn(w, h, |x, y| {
        let t = (x + y) as f32 / (w + h).max(1) as f32;
        let mut px = [0u8; 3];
        for k in 0..3 {
            px[k] = (a[k] as f32 * (1.0 - t) + b[k] as f32 * t) as u8;
        }
        if let Some((_, c)) = blocks
            .iter()
            .rev()
            .find(|(r, _)| x >= r[0] && x < r[2] && y >= r[1] && y < r[3])
        {
            px = *c;
        }
        let noise = (x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663) ^ grain) % 9;
        image::Rgb(px.map(|v| v.saturating_add(noise as u8)))
    })
}

fn encode(picture: &image::RgbImage, format: ImageFormat) -> Result<Image> {
    use image::ImageEncoder;
    let (w, h) = picture.dimensions();
    let mut buf = Vec::new();
    let media_type = match format {
        ImageFormat::Jpeg => {
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 85)
                .encode_image(picture)
                .context("encoding a generated JPEG")?;
            "image/jpeg"
        }
        ImageFormat::Png => {
            image::codecs::png::PngEncoder::new(&mut buf)
                .write_image(picture.as_raw(), w, h, image::ColorType::Rgb8)
                .context("encoding a generated PNG")?;
            "image/png"
        }
    };
    Ok(Image {
        media_type,
        url: None,
        bytes: buf.len(),
        base64: base64::engine::general_purpose::STANDARD
            .encode(&buf)
            .into(),
        width: w,
        height: h,
    })
}

/// A folder's image files (PNG, JPEG, WebP, GIF), in name order, the first `limit` of them.
fn read_dir(dir: &Path, limit: Option<u32>) -> Result<Vec<Arc<Image>>> {
    let shown = dir.display();
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("--images dir={shown}: cannot read the folder"))?;
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| media_type(p).is_some())
        .collect();
    files.sort();
    files.truncate(limit.map_or(usize::MAX, |k| k as usize));
    if files.is_empty() {
        bail!("--images dir={shown}: no .png, .jpg, .jpeg, .webp or .gif file in it");
    }
    files.iter().map(|p| read_file(p).map(Arc::new)).collect()
}

fn media_type(p: &Path) -> Option<&'static str> {
    let ext = p.extension()?.to_str()?.to_ascii_lowercase();
    known(&format!("image/{ext}"))
}

/// A media type redline sends, as a static name.
fn known(media_type: &str) -> Option<&'static str> {
    Some(match media_type {
        "image/png" => "image/png",
        "image/jpg" | "image/jpeg" => "image/jpeg",
        "image/webp" => "image/webp",
        "image/gif" => "image/gif",
        _ => return None,
    })
}

/// An encoded image's width and height, from its header; (0, 0) when it gives none.
pub fn dimensions(bytes: &[u8]) -> (u32, u32) {
    image::io::Reader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()
        .and_then(|r| r.into_dimensions().ok())
        .unwrap_or((0, 0))
}

/// A dataset's `image_url.url`: a base64 `data:` URI (its size read from its header) or an
/// http(s) address, sent as it is.
pub fn from_url(url: &str) -> Result<Image, String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(Image {
            media_type: "image/jpeg",
            base64: "".into(),
            url: Some(url.into()),
            bytes: 0,
            width: 0,
            height: 0,
        });
    }
    let Some((head, data)) = url
        .strip_prefix("data:")
        .and_then(|r| r.split_once(";base64,"))
    else {
        return Err("expected a data:image/...;base64, URI or an http(s) address".into());
    };
    let media_type = known(head)
        .ok_or_else(|| format!("{head}: not an image type redline sends (png, jpeg, webp, gif)"))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| format!("its base64 does not decode ({e})"))?;
    let (width, height) = dimensions(&bytes);
    Ok(Image {
        media_type,
        base64: data.into(),
        url: None,
        bytes: bytes.len(),
        width,
        height,
    })
}

/// One image file, whose header must give its size (an unreadable or corrupt file stops the run
/// before anything is sent, naming the file).
fn read_file(p: &Path) -> Result<Image> {
    let bytes =
        std::fs::read(p).with_context(|| format!("--images: cannot read {}", p.display()))?;
    let media_type = media_type(p).unwrap_or("image/png");
    let (width, height) = dimensions(&bytes);
    if media_type != "image/webp" && media_type != "image/gif" && width == 0 {
        bail!(
            "--images: {} is not a readable image (its header gives no size)",
            p.display()
        );
    }
    Ok(Image {
        media_type,
        url: None,
        bytes: bytes.len(),
        base64: base64::engine::general_purpose::STANDARD
            .encode(&bytes)
            .into(),
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::types::Message;

    fn convs(n: usize) -> Vec<Conversation> {
        (0..n)
            .map(|i| Conversation {
                messages: vec![
                    Message::new("system", "s"),
                    Message::new("user", format!("q{i}")),
                ],
                lengths: None,
            })
            .collect()
    }

    #[test]
    fn generated_images_are_seeded_sized_and_shared_through_the_pool() {
        let spec = ImageSpec::parse("count=2,size=64x32,pool=3,format=png").unwrap();
        let mut c = convs(2);
        let made = prepare(&mut c, &spec, 7).unwrap();
        // Three pool images need two samples of two: no sample is added; 3 distinct are sent.
        assert_eq!((made.distinct, made.added_samples), (3, 0));
        let first = &c[0].messages[1].images;
        assert_eq!(first.len(), 2);
        assert_eq!(
            (first[0].width, first[0].height, first[0].media_type),
            (64, 32, "image/png")
        );
        assert!(
            c[0].messages[0].images.is_empty(),
            "the system message carries none"
        );
        // Sample 1's second image is pool image 3 mod 3 = 0: sample 0's first.
        assert_eq!(c[1].messages[1].images[1], c[0].messages[1].images[0]);
        // The same seed makes the same images.
        let mut again = convs(2);
        prepare(&mut again, &spec, 7).unwrap();
        assert_eq!(again, c);
        // A pool larger than the samples repeats the conversations so every image is sent.
        let big = ImageSpec::parse("count=1,size=8x8,pool=5").unwrap();
        let mut c = convs(2);
        let made = prepare(&mut c, &big, 7).unwrap();
        assert_eq!((c.len(), made.added_samples, made.distinct), (5, 3, 5));
    }

    #[test]
    fn a_folder_s_files_are_read_and_a_corrupt_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let png = encode(&image::RgbImage::new(5, 4), ImageFormat::Png).unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(png.base64.as_bytes())
            .unwrap();
        std::fs::write(dir.path().join("a.png"), raw).unwrap();
        let spec = ImageSpec::parse(&format!("dir={}", dir.path().display())).unwrap();
        let mut c = convs(1);
        prepare(&mut c, &spec, 1).unwrap();
        assert_eq!(
            (
                c[0].messages[1].images[0].width,
                c[0].messages[1].images[0].height
            ),
            (5, 4)
        );
        std::fs::write(dir.path().join("b.jpg"), b"not a jpeg").unwrap();
        let e = prepare(&mut convs(1), &spec, 1).unwrap_err().to_string();
        assert!(e.contains("b.jpg is not a readable image"), "{e}");
        let empty = tempfile::tempdir().unwrap();
        let spec = ImageSpec::parse(&format!("dir={}", empty.path().display())).unwrap();
        let e = prepare(&mut convs(1), &spec, 1).unwrap_err().to_string();
        assert!(e.contains("no .png"), "{e}");
    }
}
