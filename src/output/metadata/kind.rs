//! The run's kind and each level's identity as a results folder records them, decided once when
//! the folder is read: `redline report` and `redline merge` rebuild levels with the same
//! [`LevelId`] the run planned them with (the rate each ran at, its workers, its probe number, a
//! shard's share of the plan).

use crate::config::{LevelId, Levels, Offered, PlanShare};
use crate::output::metadata::schema::Metadata;

impl Metadata {
    /// The kind of run: a search, closed-loop levels, a trace, or fixed rates.
    pub fn kind(&self) -> Levels {
        if let Some(a) = self.search {
            Levels::Search(a)
        } else if let Some(c) = &self.concurrency_levels {
            Levels::Concurrency(c.clone())
        } else if self.trace.is_some() {
            Levels::Trace
        } else {
            Levels::Rates(self.qps_levels.clone())
        }
    }

    /// Level `i`'s identity: the rate it ran at (`qps_levels`), or the workers it held in flight,
    /// its place in a search, and on a shard the plan's level it sent a share of.
    pub fn level_id(&self, i: usize) -> LevelId {
        let offered = match self.concurrency_levels.as_ref().and_then(|c| c.get(i)) {
            Some(&n) => Offered::Concurrency(n),
            None => Offered::Rate(self.qps_levels.get(i).copied().unwrap_or_default()),
        };
        let plan = self.levels.get(i).and_then(|l| {
            Some(PlanShare {
                qps: l.plan_qps?,
                arrivals: l.plan_arrivals?,
            })
        });
        let n = self.repeat.map_or(1, |r| r.n);
        let repeat = self.repeat.map(|r| {
            let info = self.levels.get(i).and_then(|l| l.repeat);
            info.unwrap_or_else(|| r.repetition(i, self.qps_levels.len() / n))
        });
        LevelId {
            index: i,
            offered,
            probe: self.search.is_some().then_some(i / n + 1),
            plan,
            repeat,
        }
    }

    /// How many levels the plan has: a shard's plan's, else the run's own (`None`: a search).
    pub fn planned_levels(&self) -> Option<usize> {
        match &self.shard {
            Some(s) => Some(
                s.plan_concurrency_levels
                    .as_ref()
                    .map_or(s.plan_qps_levels.len().max(1), Vec::len),
            ),
            None => self.kind().planned(),
        }
    }
}
