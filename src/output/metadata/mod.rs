//! `metadata.json`: the run's settings and the levels run so far (`schema.rs`), and the questions
//! asked of it, one file each: the run's kind and each level's identity (`kind.rs`), the plan a
//! shard belongs to, with the one list of settings that plans and comparisons read (`plan.rs`),
//! what a re-report is built with and what it changed (`rereport.rs`, the record's types in
//! `change.rs`), and what a merge joined
//! (`merge.rs`). The results folder's owner (`output/folder.rs`) reads and writes it.

pub mod change;
pub mod kind;
pub mod merge;
pub mod plan;
pub mod rereport;
pub mod schema;

pub use change::{Change, Changed, LevelRecords, ReportChange};
pub use merge::{MergeRecord, ShardRun};
pub use plan::{Setting, SETTINGS};
pub use rereport::Overrides;
pub use schema::{
    ConnectionInfo, LevelInfo, Metadata, SessionsInfo, ShardInfo, TlsInfo, TraceInfo,
};
