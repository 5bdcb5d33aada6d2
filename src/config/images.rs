//! `--images SPEC`: the images each request carries, checked before anything is built. Either
//! generated (`count=1,size=1024x1024[|512x512...],format=jpeg|png,pool=K`) or read from a folder
//! (`dir=PATH,count=N[,pool=K]`); inline as base64 (`send=inline`, the default) or served by
//! redline on 127.0.0.1 for the endpoint to fetch (`send=url`). `dataset/images.rs` makes them
//! once, before the first level; `measure/request.rs` sends them in each API's shape.

use super::spec;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::path::PathBuf;

/// Where the images come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageSource {
    /// Generated from the run's seed, of these sizes (each image's picked uniformly).
    Synthetic { sizes: Vec<(u32, u32)> },
    /// The image files of a folder, in name order.
    Dir(PathBuf),
}

/// How generated images are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    Jpeg,
    Png,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageSpec {
    pub source: ImageSource,
    /// Images per request.
    pub count: u32,
    pub format: ImageFormat,
    /// Distinct images to draw from (`pool=K`): fewer repeat more, as an encoder cache sees them.
    /// Unset: every sample's images are its own.
    pub pool: Option<u32>,
    /// `send=url`: served by redline on 127.0.0.1 and sent as their address, for the endpoint
    /// to fetch; else (`send=inline`) inline as base64.
    pub by_url: bool,
}

/// The largest generated image side, in pixels.
const MAX_SIDE: u32 = 8192;

impl ImageSpec {
    pub fn parse(text: &str) -> Result<ImageSpec> {
        let example = "e.g. --images count=1,size=1024x1024 or --images dir=photos,count=2";
        let mut spec = ImageSpec {
            source: ImageSource::Synthetic { sizes: vec![] },
            count: 1,
            format: ImageFormat::Jpeg,
            pool: None,
            by_url: false,
        };
        let (mut sizes, mut dir, mut format) = (None, None, None);
        for (key, value) in spec::pairs("--images", text, example)? {
            let whole = |max| spec::whole("--images", (key, value), max, example);
            match key {
                "count" => spec.count = whole(64)?,
                "pool" => spec.pool = Some(whole(100_000)?),
                "size" => sizes = Some(parse_sizes(value)?),
                "dir" => dir = Some(PathBuf::from(value)),
                "send" => {
                    spec.by_url = match value {
                        "inline" => false,
                        "url" => true,
                        _ => bail!("--images send={value}: inline (base64 in the body) or url (served by redline on 127.0.0.1)"),
                    }
                }
                "format" => {
                    format = Some(match value {
                        "jpeg" | "jpg" => ImageFormat::Jpeg,
                        "png" => ImageFormat::Png,
                        _ => bail!("--images format={value}: jpeg or png"),
                    })
                }
                other => bail!(
                    "--images: unknown key {other:?}; the keys are count, size, format, pool, dir and send ({example})"
                ),
            }
        }
        spec.source = match (sizes, dir) {
            (Some(sizes), None) => ImageSource::Synthetic { sizes },
            (None, Some(d)) => {
                if format.is_some() {
                    bail!("--images format= applies to generated images; dir= sends the files as they are");
                }
                ImageSource::Dir(d)
            }
            (None, None) => bail!("--images needs size=WxH (generated) or dir=PATH ({example})"),
            (Some(_), Some(_)) => {
                bail!("--images: give size= (generated) or dir= (files), not both")
            }
        };
        spec.format = format.unwrap_or(ImageFormat::Jpeg);
        Ok(spec)
    }
}

/// `1024x1024|512x768`: each side from 1 to [`MAX_SIDE`].
fn parse_sizes(value: &str) -> Result<Vec<(u32, u32)>> {
    value
        .split('|')
        .map(|s| {
            let bad = || format!("--images size={value}: WxH in pixels, e.g. size=1024x1024 or size=512x512|1024x768");
            let (w, h) = s.trim().split_once(['x', 'X']).with_context(bad)?;
            let side = |t: &str| -> Result<u32> {
                let v: u32 = t.trim().parse().ok().with_context(bad)?;
                if !(1..=MAX_SIDE).contains(&v) {
                    bail!("--images size={value}: each side from 1 to {MAX_SIDE} pixels");
                }
                Ok(v)
            };
            Ok((side(w)?, side(h)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_names_generated_images_or_a_folder_and_each_mistake_its_key() {
        let s = ImageSpec::parse("count=2,size=1024x1024|512x256,format=png,pool=3").unwrap();
        assert_eq!(
            s.source,
            ImageSource::Synthetic {
                sizes: vec![(1024, 1024), (512, 256)]
            }
        );
        assert_eq!((s.count, s.format, s.pool), (2, ImageFormat::Png, Some(3)));
        let d = ImageSpec::parse("dir=photos").unwrap();
        assert_eq!(d.source, ImageSource::Dir("photos".into()));
        assert_eq!((d.count, d.format), (1, ImageFormat::Jpeg));
        for (bad, says) in [
            ("count=1", "needs size=WxH"),
            ("size=10", "WxH in pixels"),
            ("size=0x10", "from 1 to 8192"),
            ("size=1x1,dir=a", "not both"),
            ("size=1x1,format=gif", "jpeg or png"),
            ("size=1x1,count=0", "from 1 to 64"),
            ("size=1x1,colour=red", "unknown key"),
            ("dir=a,format=png", "applies to generated"),
        ] {
            let e = ImageSpec::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
