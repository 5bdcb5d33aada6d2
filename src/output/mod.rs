//! Output adapters: each turns measurements or the `Report` into one format.
//! `files` (results folder, atomic JSON), `jsonl` (request records), `table` (console), `progress`
//! (live bar). None of them measures; `lib.rs` wires them to the runner.

pub mod chart;
pub mod files;
pub mod jsonl;
pub mod progress;
pub mod summary;
pub mod table;
