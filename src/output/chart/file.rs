//! A chart's files: the PNG and SVG names a `--plot-output` gives, and each written to a temporary
//! name beside its place, then renamed, so no chart is ever half-written.

use anyhow::{anyhow, Result};
use std::path::{Path, PathBuf};

/// The PNG and SVG files of a chart named `path`: a name ending in `.png` or `.svg` keeps its
/// stem, any other gets the extension added (`mychart` -> `mychart.png`, as matplotlib saves it).
pub fn files(path: &Path) -> (PathBuf, PathBuf) {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("png" | "svg") => (path.with_extension("png"), path.with_extension("svg")),
        _ => {
            let add = |e: &str| {
                let mut name = path.as_os_str().to_owned();
                name.push(format!(".{e}"));
                PathBuf::from(name)
            };
            (add("png"), add("svg"))
        }
    }
}

/// The HTML report of a chart named `path`: the PNG's name with `.html` (`benchmark_qps.html`).
pub fn html_file(path: &Path) -> PathBuf {
    files(path).0.with_extension("html")
}

/// Draws with `draw` into a temporary file beside `path`, then renames it into place.
pub fn write(
    path: &Path,
    ext: &str,
    draw: impl FnOnce(&Path, (u32, u32)) -> Result<()>,
    size: (u32, u32),
) -> Result<PathBuf> {
    let tmp = path.with_extension(format!("tmp.{ext}"));
    draw(&tmp, size)?;
    std::fs::rename(&tmp, path).map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(path.to_path_buf())
}
