//! The analysing stage: a level's `RequestRecord`s in, the `Report` out. Pure functions of the
//! records and the user's `config::ReportOptions`, so a live run and `redline report` (reading
//! `requests.jsonl` back) build the same report.
//!
//! `stats` (percentiles), `queueing` (did the endpoint keep up?) and `objectives` (the level against
//! `--slo`, and goodput), `compare` (`redline compare`: runs against a baseline into a `comparison`, each level's difference tested by
//! `significance`), `server` (the endpoint's metrics, `--metrics-url`), `cause` (misconfiguration or overload), `accept` (connections the endpoint was slow to accept) and `workload` (token lengths asked against reported; sessions and their
//! turns) read records; `verdict` holds the rules and `reason` their text; `level` summarises and
//! judges one level (with the counts of `tally`); `summary` gives the run's
//! answer from the judged levels, with the capacity's interval from `capacity`; `frontier` reads a
//! sweep's reports at their capacities and finds the Pareto-optimal ones; `search` picks the next probe of `--qps auto` from the judged
//! probes; `report` is the output contract that `output/` renders. Imports
//! point one way: report -> summary -> level -> verdict -> queueing -> stats.

pub mod accept;
pub mod adapters;
pub mod capacity;
pub mod cause;
pub mod compare;
pub mod comparison;
pub mod early;
pub mod evidence;
pub mod frontier;
pub mod images;
pub mod level;
pub mod objectives;
pub mod queueing;
pub mod reason;
pub mod repeat;
pub mod report;
pub mod search;
pub mod server;
pub mod significance;
pub mod stats;
pub mod steady;
pub mod summary;
pub mod tally;
pub mod verdict;
pub mod workload;
