//! The run's results folder: `results/<YYYY-MM-DD_HH-MM-SS>/` (with `_2`, `_3`... if it exists, never
//! overwriting), and atomic JSON writes (temp file + rename) so no file is ever half-written. What
//! goes in it: `metadata.rs`, `jsonl.rs`, the `Report` and `chart.rs`.

use anyhow::{Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Creates the folder that holds the runs' folders (`--results-dir`), so a run can check it
/// before it sends anything.
pub fn ensure_results_root(root: &Path) -> Result<()> {
    std::fs::create_dir_all(root).with_context(|| {
        format!(
            "cannot create the results folder {}; choose a writable one with --results-dir",
            root.display()
        )
    })
}

/// Creates a new, empty run folder under `root`, named after `now`. Fails (before any request is
/// sent) if the folder cannot be created or written.
pub fn create_run_dir(root: &Path, now: chrono::DateTime<chrono::Local>) -> Result<PathBuf> {
    ensure_results_root(root)?;
    let stamp = now.format("%Y-%m-%d_%H-%M-%S").to_string();
    for n in 1.. {
        let name = if n == 1 {
            stamp.clone()
        } else {
            format!("{stamp}_{n}")
        };
        let dir = root.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                let probe = dir.join(".write-test");
                std::fs::write(&probe, b"ok").with_context(|| {
                    format!(
                        "the results folder {} is not writable; choose another with --results-dir",
                        dir.display()
                    )
                })?;
                let _ = std::fs::remove_file(probe);
                return Ok(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot create {}; choose a writable folder with --results-dir",
                        dir.display()
                    )
                })
            }
        }
    }
    unreachable!("1.. is unbounded")
}

/// Writes `value` as pretty JSON to `path` atomically: a crash leaves the old file or the new one.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, &bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_dirs_never_collide() {
        let root = tempfile::tempdir().unwrap();
        let now = chrono::Local::now();
        let a = create_run_dir(root.path(), now).unwrap();
        let b = create_run_dir(root.path(), now).unwrap();
        assert_ne!(a, b);
        assert!(b.file_name().unwrap().to_str().unwrap().ends_with("_2"));
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json");
        write_json_atomic(&p, &vec![1, 2]).unwrap();
        write_json_atomic(&p, &vec![3]).unwrap();
        let v: Vec<i32> = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(v, [3]);
        assert!(!dir.path().join("x.json.tmp").exists());
    }
}
