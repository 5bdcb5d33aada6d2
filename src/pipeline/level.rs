//! The body of one level: the connection pool prepared for its rate, the endpoint's metrics
//! scraped alongside it (`--metrics-url`), the level run open-loop (`measure/runner.rs`) or
//! closed-loop (`measure/closed.rs`) with each finished record shown on the progress bar and
//! appended to `requests.jsonl` as it arrives. Returns the level's records with the scrapes.

use crate::analyze::early::Watch;
use crate::measure::closed;
use crate::measure::prometheus::Scrape;
use crate::measure::record::{EarlyStop, LevelRun, RequestRecord};
use crate::measure::runner::{self, Observer};
use crate::measure::scrape::Scraper;
use crate::measure::target::Target;
use crate::measure::work::Cancel;
use crate::output::jsonl::JsonlWriter;
use crate::output::progress::LevelProgress;
use crate::pipeline::plan::LevelPlan;
use reqwest::Url;
use std::sync::Arc;
use tokio::time::Instant;

/// Runs `plan` against `target`, appending every record to `records`; `watch` may stop it early
/// (`--stop-on-saturation`).
pub async fn run(
    target: &Arc<Target>,
    plan: &LevelPlan,
    metrics_url: Option<&Url>,
    cancel: &Cancel,
    records: &mut JsonlWriter,
    watch: Option<Watch>,
) -> LevelRun {
    target.prepare(plan.rate()).await;
    let starts = plan.start_at().unwrap_or_else(Instant::now);
    let scraper = metrics_url
        .cloned()
        .map(|url| Scraper::start(target.clone(), url, plan.id().index, starts));
    let mut obs = RunObserver {
        progress: LevelProgress::new(plan.rate(), plan.arrivals()),
        records,
        watch,
        stopped: None,
        scrapes: scraper.as_ref().map(|s| (s.live.clone(), 0)),
    };
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
    match obs.stopped {
        // An interruption after the stop still makes the level partial.
        Some(stop) if !cancel.stop.is_cancelled() => {
            eprintln!(
                "  stopped early at {:.1} s: {}; waited for the requests in flight ({:.1} s of sending saved)",
                stop.at_s, stop.reason, stop.saved_s
            );
            run.stopped_early(stop)
        }
        _ => run,
    }
}

/// Sends each finished record to the progress bar, `requests.jsonl` and the watch.
struct RunObserver<'a> {
    progress: LevelProgress,
    records: &'a mut JsonlWriter,
    watch: Option<Watch>,
    stopped: Option<EarlyStop>,
    /// `--metrics-url`: the level's scrapes so far, and how many the watch has read.
    scrapes: Option<(Arc<std::sync::Mutex<Vec<Scrape>>>, usize)>,
}

impl Observer for RunObserver<'_> {
    fn sent(&mut self) {
        self.progress.sent();
    }
    fn finished(&mut self, record: &RequestRecord) {
        self.progress.finished(record);
        self.records.write(record);
        if let Some(w) = &mut self.watch {
            w.record(record);
        }
    }
    fn stop_sending(&mut self, now_s: f64) -> bool {
        if let (Some(w), Some((live, read))) = (&mut self.watch, &mut self.scrapes) {
            if let Ok(scrapes) = live.lock() {
                for s in &scrapes[*read..] {
                    if let Some(waiting) = crate::analyze::server::waiting(s) {
                        w.server(s.t_s, waiting);
                    }
                }
                *read = scrapes.len();
            }
        }
        if self.stopped.is_none() {
            self.stopped = self.watch.as_mut().and_then(|w| w.check(now_s));
        }
        self.stopped.is_some()
    }
}
