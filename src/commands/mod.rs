//! The commands besides a plain run, built on the pipeline and the stages below it: `demo` (the
//! simulator benchmarked in-process), `report` (`redline report`: a results folder rebuilt from its
//! records), `compare` (`redline compare`: results folders side by side), `merge` (`redline merge`: a plan's
//! shards as one run), `calibrate` (this machine's client ceiling) and `sweep` (`redline sweep`:
//! a server's configurations, each measured, and their Pareto frontier). None calls back into `lib.rs`.

pub mod calibrate;
pub mod compare;
pub mod demo;
pub mod merge;
pub mod report;
pub mod sweep;
