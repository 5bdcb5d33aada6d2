//! The live progress bar of a level: sent / scheduled, done, in flight, errors. Hidden when stdout
//! is not a terminal, so logs and CI output stay clean.

use crate::measure::record::RequestRecord;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

pub struct LevelProgress {
    bar: ProgressBar,
    sent: u64,
    done: u64,
    /// Finished requests that were actually sent (not refused by the client's cap).
    done_sent: u64,
    errors: u64,
}

impl LevelProgress {
    pub fn new(qps: f64, scheduled: u64) -> Self {
        let target = if std::io::stdout().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(scheduled), target);
        bar.set_style(
            ProgressStyle::with_template("QPS {prefix:>7} [{bar:30}] {pos}/{len} sent  {msg}")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{qps:.1}"));
        LevelProgress {
            bar,
            sent: 0,
            done: 0,
            done_sent: 0,
            errors: 0,
        }
    }

    pub fn sent(&mut self) {
        self.sent += 1;
        self.bar.set_position(self.sent);
        self.update();
    }

    pub fn finished(&mut self, rec: &RequestRecord) {
        self.done += 1;
        self.done_sent += u64::from(rec.sent_s.is_some());
        self.errors += u64::from(!rec.succeeded());
        self.update();
    }

    fn update(&self) {
        let in_flight = self.sent.saturating_sub(self.done_sent);
        self.bar.set_message(format!(
            "{} done, {in_flight} in flight, {} errors",
            self.done, self.errors
        ));
    }

    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}
