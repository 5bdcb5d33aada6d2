//! The body of one level: the connection pool prepared for its rate, the endpoint's metrics
//! scraped alongside it (`--metrics-url`), the level run open-loop (`measure/runner.rs`) or
//! closed-loop (`measure/closed.rs`) with each finished record shown on the progress bar and
//! appended to `requests.jsonl` as it arrives. Returns the level's records with the scrapes.

use crate::measure::client::Target;
use crate::measure::closed;
use crate::measure::record::{LevelRun, RequestRecord};
use crate::measure::runner::{self, Observer};
use crate::measure::scrape::Scraper;
use crate::measure::work::Cancel;
use crate::output::jsonl::JsonlWriter;
use crate::output::progress::LevelProgress;
use crate::pipeline::plan::LevelPlan;
use reqwest::Url;
use std::sync::Arc;
use tokio::time::Instant;

/// Runs `plan` against `target`, appending every record to `records`.
pub async fn run(
    target: &Arc<Target>,
    plan: &LevelPlan,
    metrics_url: Option<&Url>,
    cancel: &Cancel,
    records: &mut JsonlWriter,
) -> LevelRun {
    let mut obs = RunObserver {
        progress: LevelProgress::new(plan.rate(), plan.arrivals()),
        records,
    };
    target.prepare(plan.rate()).await;
    let starts = plan.start_at().unwrap_or_else(Instant::now);
    let scraper = metrics_url
        .cloned()
        .map(|url| Scraper::start(target.clone(), url, plan.id().index, starts));
    let mut run = match plan {
        LevelPlan::Closed(level) => {
            closed::run_level(target.clone(), level, cancel, &mut obs).await
        }
        LevelPlan::Open { level, .. } => {
            runner::run_level(target.clone(), level, cancel, &mut obs).await
        }
    };
    if let Some(scraper) = scraper {
        run.server = scraper.finish().await;
    }
    obs.progress.finish();
    run
}

/// Sends each finished record to the progress bar and `requests.jsonl`.
struct RunObserver<'a> {
    progress: LevelProgress,
    records: &'a mut JsonlWriter,
}

impl Observer for RunObserver<'_> {
    fn sent(&mut self) {
        self.progress.sent();
    }
    fn finished(&mut self, record: &RequestRecord) {
        self.progress.finished(record);
        self.records.write(record);
    }
}
