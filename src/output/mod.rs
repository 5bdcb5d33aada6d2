//! Output adapters: each turns measurements or the `Report` into one format, and none measures.
//!
//! `folder` (a run's results folder: the one owner of its file names, with their writers and
//! readers), `files` (new folders, atomic JSON writes), `metadata` (`metadata.json`), `jsonl`
//! (request records), `progress` (live bar), `table` (console results table and errors), `summary` (verdict
//! lines and the answer), `workload` (token lengths and sessions by turn), `server` (the endpoint's
//! metrics), `chart` (the PNG), `html` (the self-contained HTML report: a run's, a comparison's, a
//! sweep's, and the SVG charts they share), `console` (prints table, summary and chart at the end),
//! `ceiling` (this machine's saved client ceiling), `compare` (`redline compare`'s formats),
//! `sweep` (`redline sweep`'s `sweep.json` and frontier tables). `pipeline.rs` and the commands
//! wire them up.

pub mod ceiling;
pub mod chart;
pub mod compare;
pub mod console;
pub mod files;
pub mod folder;
pub mod html;
pub mod jsonl;
pub mod metadata;
pub mod progress;
pub mod server;
pub mod summary;
pub mod sweep;
pub mod table;
pub mod workload;
