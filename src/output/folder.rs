//! A run's results folder, and the one owner of its file names: `metadata.json` (the settings and
//! the levels run so far), `requests.jsonl` (every request's record), `server_metrics.jsonl` (the
//! endpoint's metrics, with `--metrics-url`), the results JSON (`--output`, named in the metadata)
//! and the chart (`--plot-output`). A run writes it as it goes (`pipeline/`), `redline report`
//! rebuilds its levels from it, `redline merge` reads shards' folders and writes a new one, and
//! `redline compare` reads folders as they were written; none of them names a file.
//!
//! Folders are never overwritten: a run's folder is new (`files::create_run_dir`), a merge's is new
//! or empty. JSON is written atomically (`files::write_json_atomic`); the records are appended line
//! by line (`jsonl.rs`) and read back up to the last complete line.

use crate::measure::prometheus::Scrape;
use crate::measure::record::{LevelRun, RequestRecord};
use crate::output::files;
use crate::output::jsonl::JsonlWriter;
use crate::output::metadata::Metadata;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

const METADATA: &str = "metadata.json";
const REQUESTS: &str = "requests.jsonl";
const SERVER_METRICS: &str = "server_metrics.jsonl";

/// A results folder on disk.
#[derive(Debug, Clone)]
pub struct RunFolder {
    dir: PathBuf,
}

/// A folder's `requests.jsonl`, by level, with the lines that could not be read.
pub struct Records {
    pub by_level: Vec<Vec<RequestRecord>>,
    /// 1-based numbers of the lines that are incomplete or not request records.
    pub skipped: Vec<usize>,
}

impl RunFolder {
    /// Creates `root` (`--results-dir`) if needed, so a run can check it before it sends anything.
    pub fn ensure_root(root: &Path) -> Result<()> {
        files::ensure_results_root(root)
    }

    /// A new, empty run folder under `root`, named after `now` (never an existing one).
    pub fn create(root: &Path, now: chrono::DateTime<chrono::Local>) -> Result<RunFolder> {
        Ok(RunFolder {
            dir: files::create_run_dir(root, now)?,
        })
    }

    /// `dir` as a new results folder: it must not exist or be empty (a merge never overwrites).
    pub fn create_empty(dir: &Path) -> Result<RunFolder> {
        if dir.read_dir().is_ok_and(|mut e| e.next().is_some()) {
            bail!(
                "--output-dir {} is not empty: give a new folder (a merge never overwrites one)",
                dir.display()
            );
        }
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create --output-dir {}", dir.display()))?;
        Ok(RunFolder::open(dir))
    }

    /// `dir` as a run's folder, made if needed: it may hold other files (a sweep's server log),
    /// never a run's (a run is never written over).
    pub fn adopt(dir: &Path) -> Result<RunFolder> {
        if RunFolder::open(dir).holds_a_run() {
            bail!(
                "{} already holds a run; a run is never written over",
                dir.display()
            );
        }
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(RunFolder::open(dir))
    }

    /// Whether the folder holds a run's files (its settings or its records).
    pub fn holds_a_run(&self) -> bool {
        self.dir.join(METADATA).exists() || self.dir.join(REQUESTS).exists()
    }

    /// An existing folder (nothing is read until asked).
    pub fn open(dir: &Path) -> RunFolder {
        RunFolder {
            dir: dir.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Refuses `--output` or `--plot-output` names that would write over one of the folder's own
    /// files (the results JSON over `requests.jsonl` would lose every record), or over each other.
    pub fn check_names(output: &str, plot_output: &str) -> Result<()> {
        for (flag, name) in [("--output", output), ("--plot-output", plot_output)] {
            let (png, svg) = crate::output::chart::files(std::path::Path::new(name));
            let html = crate::output::chart::html_file(std::path::Path::new(name));
            let written = if flag == "--output" {
                vec![name.to_string()]
            } else {
                [png, svg, html].map(|p| p.display().to_string()).to_vec()
            };
            if let Some(own) = [METADATA, REQUESTS, SERVER_METRICS]
                .into_iter()
                .find(|own| written.iter().any(|w| w == own))
            {
                bail!("{flag} {name}: {own} is a file of the results folder itself; give another name");
            }
        }
        let (png, svg) = crate::output::chart::files(std::path::Path::new(plot_output));
        let html = crate::output::chart::html_file(std::path::Path::new(plot_output));
        if [png, svg, html].iter().any(|p| p.as_os_str() == output) {
            bail!("--output {output} and --plot-output {plot_output} name the same file; give two names");
        }
        Ok(())
    }

    /// Whether this is the folder `other` names.
    pub fn is(&self, other: &Path) -> bool {
        match (self.dir.canonicalize(), other.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }

    /// A file of the folder, by the name a setting gives it (the chart).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn metadata(&self) -> Result<Metadata> {
        self.read_json(METADATA, "a redline metadata file")
    }

    /// A JSON file of the folder; `what` it should be, for the error when it is not.
    fn read_json<T: serde::de::DeserializeOwned>(&self, name: &str, what: &str) -> Result<T> {
        let path = self.dir.join(name);
        let bytes = std::fs::read(&path).with_context(|| {
            format!(
                "cannot read {}; give a run's results folder (results/<timestamp>) written by redline",
                path.display()
            )
        })?;
        serde_json::from_slice(&bytes).with_context(|| format!("{} is not {what}", path.display()))
    }

    pub fn write_metadata(&self, meta: &Metadata) -> Result<()> {
        files::write_json_atomic(&self.dir.join(METADATA), meta)
    }

    /// The metadata and the results file (`--output`) as written, by any redline version.
    pub fn as_written(&self) -> Result<(serde_json::Value, serde_json::Value)> {
        let json = |name: &str| -> Result<serde_json::Value> { self.read_json(name, "valid JSON") };
        let meta = json(METADATA)?;
        let output = meta["output"]
            .as_str()
            .unwrap_or(crate::cli::defaults::OUTPUT)
            .to_string();
        let results = json(&output)?;
        if !results["results"].is_array() {
            bail!(
                "{} holds no levels; is it a redline results file?",
                self.dir.join(output).display()
            );
        }
        Ok((meta, results))
    }

    /// The results file `name` as written, if it is there and JSON.
    pub fn results_as_written(&self, name: &str) -> Option<serde_json::Value> {
        self.read_json(name, "valid JSON").ok()
    }

    /// Writes the results JSON as `name` (`--output`, a plain file name).
    pub fn write_results<T: Serialize>(&self, name: &str, report: &T) -> Result<()> {
        files::write_json_atomic(&self.dir.join(name), report)
    }

    /// `requests.jsonl`, new, for a run to append to.
    pub fn records_writer(&self) -> Result<JsonlWriter> {
        JsonlWriter::create(&self.dir.join(REQUESTS))
            .with_context(|| format!("cannot create {REQUESTS} in {}", self.dir.display()))
    }

    /// `server_metrics.jsonl`, new, for a run with `--metrics-url` to append to.
    pub fn server_metrics_writer(&self) -> Result<JsonlWriter> {
        let path = self.dir.join(SERVER_METRICS);
        JsonlWriter::create(&path).with_context(|| format!("cannot create {}", path.display()))
    }

    /// The error of a records file that could not be written whole.
    pub fn records_incomplete(&self, e: String) -> anyhow::Error {
        anyhow::anyhow!("{REQUESTS} in {} is incomplete: {e}", self.dir.display())
    }

    /// Writes every level's records, in order, as `requests.jsonl` (a merged folder).
    pub fn write_records(&self, runs: &[LevelRun]) -> Result<()> {
        let mut out = self.records_writer()?;
        for r in runs.iter().flat_map(|run| &run.records) {
            out.write(r);
        }
        out.flush().map_err(|e| self.records_incomplete(e))
    }

    /// `requests.jsonl` by level (`levels` of them; records of later levels are skipped), in the
    /// order they were written. A line cut short by a killed process is skipped and counted.
    pub fn records(&self, levels: usize) -> Result<Records> {
        let path = self.dir.join(REQUESTS);
        let text =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut by_level: Vec<Vec<RequestRecord>> = vec![Vec::new(); levels];
        let mut skipped = Vec::new();
        for (n, line) in text.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<RequestRecord>(line) {
                Ok(r) if r.level < by_level.len() => by_level[r.level].push(r),
                _ => skipped.push(n + 1),
            }
        }
        Ok(Records { by_level, skipped })
    }

    /// The warning for records that could not be read, if any.
    pub fn skipped_warning(&self, skipped: &[usize]) -> Option<String> {
        let first = skipped.first()?;
        Some(format!(
            "warning: {} line(s) of {} are incomplete or not request records and were skipped (line {first}{})",
            skipped.len(),
            self.dir.join(REQUESTS).display(),
            if skipped.len() > 1 { ", ..." } else { "" }
        ))
    }

    /// `server_metrics.jsonl` by level: empty without it. A line cut short is skipped.
    pub fn scrapes(&self, levels: usize) -> Vec<Vec<Scrape>> {
        let mut by_level = vec![Vec::new(); levels];
        let Ok(text) = std::fs::read(self.dir.join(SERVER_METRICS)) else {
            return by_level;
        };
        for line in text.split(|&b| b == b'\n') {
            if let Ok(s) = serde_json::from_slice::<Scrape>(line) {
                if let Some(l) = by_level.get_mut(s.level) {
                    l.push(s);
                }
            }
        }
        by_level
    }

    pub fn has_server_metrics(&self) -> bool {
        self.dir.join(SERVER_METRICS).exists()
    }

    /// Copies `from`'s server metrics into this folder.
    pub fn copy_server_metrics(&self, from: &RunFolder) -> Result<()> {
        let to = self.dir.join(SERVER_METRICS);
        std::fs::copy(from.dir.join(SERVER_METRICS), &to)
            .with_context(|| format!("cannot write {}", to.display()))?;
        Ok(())
    }

    /// The levels of the run `meta` describes, rebuilt from their records and scrapes with the
    /// identity they were planned with: those that ran, plus one cut short by a killed process (it
    /// has records but no window in the metadata).
    pub fn level_runs(&self, meta: &Metadata) -> Result<Vec<LevelRun>> {
        let records = self.records(meta.qps_levels.len())?;
        if let Some(w) = self.skipped_warning(&records.skipped) {
            eprintln!("{w}");
        }
        let by_level = records.by_level;
        let mut scrapes = self.scrapes(by_level.len());
        let ran = meta.levels.len().max(
            by_level
                .iter()
                .rposition(|r| !r.is_empty())
                .map_or(0, |i| i + 1),
        );
        Ok(by_level
            .into_iter()
            .take(ran)
            .enumerate()
            .map(|(i, recs)| {
                let stopped_at = match meta.levels.get(i) {
                    Some(info) => {
                        (info.partial || info.early_stop.is_some()).then_some(info.send_window_s)
                    }
                    None => Some(recs.iter().filter_map(|r| r.sent_s).fold(1e-6, f64::max)),
                };
                let planned = meta
                    .levels
                    .get(i)
                    .and_then(|info| info.duration_s)
                    .unwrap_or(meta.duration);
                let mut run = LevelRun::new(
                    meta.level_id(i),
                    meta.qps_levels[i],
                    planned,
                    recs,
                    stopped_at,
                );
                run.server = std::mem::take(&mut scrapes[i]);
                run.token_check = meta.levels.get(i).and_then(|info| info.token_check.clone());
                match meta.levels.get(i).and_then(|info| info.early_stop.clone()) {
                    Some(stop) => run.stopped_early(stop),
                    None => run,
                }
            })
            .collect())
    }
}
