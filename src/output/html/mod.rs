//! The self-contained HTML report: one `.html` file that opens offline (its style, script and
//! charts inline, a Content-Security-Policy that forbids every fetch), with the verdicts, the
//! per-level table, and interactive charts (hover a point for its level's figures; the legend's
//! buttons hide and show series).
//!
//! `run_page` renders a run's `Report` (`run.rs`, its server panels in `server.rs`, what its charts
//! share in `frame.rs`), `compare_page` a `Comparison` (`compare.rs`), `sweep_page` a sweep's frontier (`sweep.rs`); both reuse the console's text
//! (`summary.rs`, `table.rs`, `compare.rs` of `output/`), so no two outputs disagree. `svg.rs` is a
//! generic chart builder (any x against any y, labelled points, lines through chosen points) that
//! other pages, such as a sweep's Pareto frontier, can draw with; `page.rs` is the document and its
//! escaping. [`write`] writes a page atomically.

mod compare;
mod frame;
pub mod page;
mod run;
mod server;
pub mod svg;
mod sweep;

pub use compare::compare_page;
pub use page::{esc, page};
pub use run::run_page;
pub use sweep::sweep_page;

use anyhow::{Context, Result};
use std::path::Path;

/// Writes `html` to `path` atomically (a temporary file, then a rename): a crash leaves the old
/// file or the new one, never half of one.
pub fn write(path: &Path, html: &str) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, html).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("report.html");
        write(&p, "<p>one</p>").unwrap();
        write(&p, "<p>two</p>").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "<p>two</p>");
        assert!(!dir.path().join("report.html.tmp").exists());
        assert!(write(&dir.path().join("no/such/dir.html"), "x").is_err());
    }
}
