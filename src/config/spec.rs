//! The `key=value,...` specs of `--images`, `--audio` and `--synthetic`: split into pairs, and a
//! key's whole number checked, every problem naming the flag, the key and an example.

use anyhow::{bail, Context, Result};

/// The `key=value` pairs of `text`, trimmed; an empty part is skipped.
pub fn pairs<'a>(flag: &str, text: &'a str, example: &str) -> Result<Vec<(&'a str, &'a str)>> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| match part.split_once('=') {
            Some((key, value)) => Ok((key.trim(), value.trim())),
            None => bail!("{flag}: {part:?} is not key=value ({example})"),
        })
        .collect()
}

/// `key=value`'s whole number, from 1 to `max`.
pub fn whole(flag: &str, (key, value): (&str, &str), max: u32, example: &str) -> Result<u32> {
    let v: u32 = value
        .parse()
        .ok()
        .with_context(|| format!("{flag} {key}={value}: not a whole number ({example})"))?;
    if !(1..=max).contains(&v) {
        bail!("{flag} {key}={value}: must be from 1 to {max}");
    }
    Ok(v)
}
