//! One plan on many machines: `--shard I/N` (this process's slice), the common start (`--start-at`,
//! or `--start-after` seconds from `--created-at`) and the gap that keeps every shard's levels
//! together (`--level-gap`), validated. `measure/` sends shard I's arrivals (index mod N = I);
//! `pipeline/` waits for the start and starts level k at start + k x (duration + gap); `redline
//! merge` joins the shards.

use crate::cli::ShardArgs;
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// This process's slice of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Whether arrival `j` of a level is this shard's.
    pub fn owns(&self, j: u64) -> bool {
        j % self.count as u64 == self.index as u64
    }

    /// Of `total` arrivals (indexes 0..total), how many are this shard's.
    pub fn share_of(&self, total: usize) -> usize {
        (0..total).filter(|&j| self.owns(j as u64)).count()
    }
}

/// When the run starts, and how its levels are spaced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Start {
    pub at: DateTime<Utc>,
    /// Seconds between a level's send window and the next level's start.
    pub level_gap: Duration,
}

/// The sharding flags, validated; `timeout` is `--timeout` (the default gap).
pub fn shard(
    a: &ShardArgs,
    timeout: Duration,
    now: DateTime<Utc>,
) -> Result<(Option<Shard>, Option<Start>)> {
    let shard = match (a.shard.as_deref(), a.shards) {
        (Some(text), _) => Some(parse_shard(text)?),
        (None, Some(n)) => Some(indexed(a.job_completion_index.as_deref(), n)?),
        (None, None) => None,
    };
    let at = match (&a.start_at, a.start_after) {
        (Some(_), Some(_)) => bail!("give one of --start-at and --start-after"),
        (Some(t), None) => Some(time("--start-at", t)?),
        (None, Some(s)) => {
            if !(s.is_finite() && (0.0..=604_800.0).contains(&s)) {
                bail!(
                    "--start-after {s}: seconds from 0 to 604800 (a week), e.g. --start-after 60"
                );
            }
            let base = a.created_at.as_deref().context(
                "--start-after counts from --created-at (or $REDLINE_CREATED_AT), the Job's creation time; give it, or use --start-at",
            )?;
            let after = chrono::Duration::milliseconds((s * 1000.0) as i64);
            let at = time("--created-at", base)?
                .checked_add_signed(after)
                .context(
                    "--created-at plus --start-after is past the last time redline can represent",
                )?;
            Some(at)
        }
        (None, None) => None,
    };
    if let Some(at) = at {
        if at - now > chrono::Duration::days(7) {
            bail!(
                "the common start {} is {:.1} days away: redline waits up to a week; check the date (and its time zone)",
                at.to_rfc3339(),
                (at - now).num_minutes() as f64 / 1440.0
            );
        }
        if at <= now {
            let fix = if a.start_at.is_some() {
                "give a later --start-at"
            } else {
                "raise --start-after (it counts from --created-at)"
            };
            let who = if shard.is_some() {
                "every shard must wait for the same future time"
            } else {
                "the run waits for a future time"
            };
            bail!(
                "the common start {} is already past (by {:.1} s): {who}; {fix}",
                at.to_rfc3339(),
                (now - at).num_milliseconds() as f64 / 1000.0
            );
        }
    }
    if shard.is_some() && at.is_none() {
        bail!("--shard needs a common start so every shard sends together: add --start-at TIME (or --start-after S with --created-at)");
    }
    let gap = match a.level_gap {
        Some(g) if !(g.is_finite() && (0.0..=86_400.0).contains(&g)) => {
            bail!("--level-gap {g}: seconds from 0 to 86400, e.g. --level-gap 30")
        }
        Some(_) if at.is_none() => {
            bail!("--level-gap spaces levels after a common start; add --start-at")
        }
        Some(g) => Duration::from_secs_f64(g),
        None => timeout,
    };
    Ok((shard, at.map(|at| Start { at, level_gap: gap })))
}

fn parse_shard(text: &str) -> Result<Shard> {
    let bad = || {
        format!("--shard {text:?}: give this process's index and the number of shards, I/N with 0 <= I < N, e.g. --shard 0/3")
    };
    let (i, n) = text.split_once('/').with_context(bad)?;
    let index: usize = i.trim().parse().ok().with_context(bad)?;
    let count: usize = n.trim().parse().ok().with_context(bad)?;
    if count == 0 || count > 10_000 || index >= count {
        bail!(bad());
    }
    Ok(Shard { index, count })
}

/// `--shards N` in a Kubernetes Indexed Job: the index from `$JOB_COMPLETION_INDEX`.
fn indexed(index: Option<&str>, count: usize) -> Result<Shard> {
    if !(1..=10_000).contains(&count) {
        bail!("--shards {count}: give the number of shards, 1 to 10000, e.g. --shards 3");
    }
    let Some(index) = index else {
        bail!("--shards {count} takes this process's index from $JOB_COMPLETION_INDEX, which a Kubernetes Indexed Job sets in each pod; it is not set here: give --shard I/{count} instead");
    };
    parse_shard(&format!("{}/{count}", index.trim())).map_err(|_| {
        anyhow::anyhow!("$JOB_COMPLETION_INDEX {index:?} with --shards {count}: the index must be a whole number from 0 to {}; keep --shards equal to the Job's completions", count.saturating_sub(1))
    })
}

fn time(flag: &str, text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| {
            format!("{flag} {text:?}: not an RFC 3339 time; give e.g. 2026-12-01T12:00:00Z")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(shard: Option<&str>, start_at: Option<&str>) -> ShardArgs {
        ShardArgs {
            shard: shard.map(String::from),
            start_at: start_at.map(String::from),
            ..ShardArgs::default()
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn shards_split_arrivals_by_index() {
        let (s, start) = shard(
            &args(Some("1/3"), Some("2026-12-01T12:01:00Z")),
            Duration::from_secs(120),
            now(),
        )
        .unwrap();
        let s = s.unwrap();
        assert_eq!((s.index, s.count), (1, 3));
        let owned: Vec<u64> = (0..9).filter(|&j| s.owns(j)).collect();
        assert_eq!(owned, [1, 4, 7]);
        assert_eq!(s.share_of(10), 3);
        let start = start.unwrap();
        assert_eq!(start.level_gap, Duration::from_secs(120));
        // The three shards own every arrival exactly once.
        let all: usize = (0..3)
            .map(|i| Shard { index: i, count: 3 }.share_of(100))
            .sum();
        assert_eq!(all, 100);
    }

    #[test]
    fn bad_shard_flags_are_explained() {
        let t = Duration::from_secs(1);
        for (a, says) in [
            (
                args(Some("3/3"), Some("2026-12-01T12:01:00Z")),
                "0 <= I < N",
            ),
            (args(Some("x"), Some("2026-12-01T12:01:00Z")), "I/N"),
            (args(Some("0/2"), None), "needs a common start"),
            (
                args(None, Some("2026-12-01T11:59:00Z")),
                "already past (by 60.0 s)",
            ),
            (args(Some("0/2"), Some("2027-01-01T00:00:00Z")), "days away"),
            (args(None, Some("noon")), "RFC 3339"),
            (
                ShardArgs {
                    start_after: Some(5.0),
                    ..args(None, None)
                },
                "counts from --created-at",
            ),
            (
                ShardArgs {
                    level_gap: Some(5.0),
                    ..args(None, None)
                },
                "add --start-at",
            ),
        ] {
            let e = shard(&a, t, now()).unwrap_err().to_string();
            assert!(e.contains(says), "{a:?}: {e}");
        }
        let a = ShardArgs {
            start_after: Some(30.0),
            created_at: Some("2026-12-01T11:59:45Z".into()),
            ..args(Some("0/2"), None)
        };
        let (_, start) = shard(&a, t, now()).unwrap();
        assert_eq!(start.unwrap().at.to_rfc3339(), "2026-12-01T12:00:15+00:00");
    }

    #[test]
    fn shards_takes_its_index_from_the_indexed_job() {
        let t = Duration::from_secs(60);
        let with = |index: Option<&str>| ShardArgs {
            shards: Some(3),
            job_completion_index: index.map(String::from),
            ..args(None, Some("2026-12-01T12:01:00Z"))
        };
        let (s, _) = shard(&with(Some("2")), t, now()).unwrap();
        assert_eq!(s, Some(Shard { index: 2, count: 3 }));
        let e = shard(&with(None), t, now()).unwrap_err().to_string();
        assert!(
            e.contains("$JOB_COMPLETION_INDEX") && e.contains("--shard I/3"),
            "{e}"
        );
        let e = shard(&with(Some("3")), t, now()).unwrap_err().to_string();
        assert!(e.contains("from 0 to 2"), "{e}");
    }
}
