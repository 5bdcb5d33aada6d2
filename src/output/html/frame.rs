//! What every chart of a run's HTML report shares (`run.rs` and `server.rs` draw with it): the
//! levels in the order of their x (the rate each offered, or for a closed loop the rate it
//! achieved), each level's hover rows, and the marks at the maximum sustainable level and the
//! saturation point, named with the words the PNG uses (`output/chart/plot.rs`), so the two charts
//! of a run never disagree.

use super::svg::{Chart, Mark, Point, GREEN, RED};
use crate::analyze::level::LevelReport;
use crate::analyze::reason::Qps;
use crate::analyze::report::Report;
use crate::output::chart::Marks;
use crate::output::summary::{dollars, thousands};

/// A level's cost per million tokens, when priced and known.
pub fn cost(l: &LevelReport) -> Option<f64> {
    l.cost_analysis.as_ref()?.cost_per_million_tokens
}

/// What every chart of the run shares: the levels along x, each level's hover rows, the marks.
pub struct Frame<'a> {
    /// The levels in the order of their x.
    pub levels: Vec<&'a LevelReport>,
    pub tips: Vec<Vec<(String, String)>>,
    pub marks: Vec<Mark>,
    pub closed: bool,
}

impl<'a> Frame<'a> {
    pub fn of(report: &'a Report) -> Self {
        let mut levels: Vec<&LevelReport> = report.results.iter().collect();
        levels.sort_by(|a, b| a.rate.total_cmp(&b.rate));
        let tips = levels.iter().map(|l| level_tip(l)).collect();
        Frame {
            levels,
            tips,
            marks: marks(report),
            closed: report.results.iter().any(|l| l.concurrency.is_some()),
        }
    }

    pub fn x_label(&self) -> &'static str {
        if self.closed {
            "Achieved QPS (each level a concurrency)"
        } else {
            "Target QPS"
        }
    }

    /// The points of `get` at each level that has it, hovering as `name: show(value)`.
    pub fn points(
        &self,
        name: &str,
        get: impl Fn(&LevelReport) -> Option<f64>,
        show: impl Fn(f64) -> String,
    ) -> Vec<Point> {
        self.levels
            .iter()
            .zip(&self.tips)
            .filter_map(|(l, tip)| {
                let y = get(l).filter(|y| y.is_finite())?;
                // The level's heading row, this point's figure, then the level's figures.
                let (head, rest) = tip.split_first()?;
                let mut rows = vec![head.clone(), (name.to_string(), show(y))];
                rows.extend(rest.iter().cloned());
                Some(Point {
                    x: l.rate,
                    y,
                    tip: rows,
                    label: None,
                })
            })
            .collect()
    }

    pub fn chart(&self, title: &str, y_label: &str, y2_label: Option<&str>) -> Chart {
        Chart {
            title: title.into(),
            x_label: self.x_label().into(),
            y_label: y_label.into(),
            y2_label: y2_label.map(Into::into),
            marks: self.marks.clone(),
            x_span: self.levels.iter().map(|l| l.rate).collect(),
            ..Chart::default()
        }
    }
}

/// A level's figures, as its points' hover shows them: the level and verdict first.
fn level_tip(l: &LevelReport) -> Vec<(String, String)> {
    let secs = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.3} s"));
    let mut rows = vec![(l.label(), l.assessment.verdict.to_string())];
    match (l.concurrency, l.qps_target) {
        (Some(n), _) => rows.push(("concurrency".into(), n.to_string())),
        (None, Some(t)) => rows.push(("target".into(), format!("{} req/s", Qps(t)))),
        (None, None) => {}
    }
    rows.extend([
        ("actual".into(), format!("{:.2} req/s", l.actual_qps)),
        ("success".into(), format!("{:.1}%", l.success_rate)),
        ("TTFT p50".into(), secs(l.ttft.get(50.0))),
        ("TTFT p95".into(), secs(l.ttft.get(95.0))),
        ("E2E p95".into(), secs(l.e2e_latency.get(95.0))),
        (
            "tokens/s p50".into(),
            l.tokens_per_sec
                .get(50.0)
                .map_or("-".into(), |v| format!("{v:.1}")),
        ),
        (
            "throughput".into(),
            format!("{} output tok/s", thousands(l.output_throughput_tok_s)),
        ),
    ]);
    if let Some(c) = cost(l) {
        rows.push(("cost".into(), format!("{}/M tokens", dollars(c))));
    }
    rows
}

/// The maximum sustainable level and the saturation point, named with the PNG's own labels
/// (`output/chart/plot.rs`): `max sustainable 30`, `saturation 40 (FAIL: 85.9% success; queueing)`.
fn marks(r: &Report) -> Vec<Mark> {
    let m = Marks::of(r);
    let mark = |(x, label): (f64, String), color: &str| Mark {
        x,
        label,
        color: color.into(),
    };
    m.max_ok
        .map(|p| mark(p, GREEN))
        .into_iter()
        .chain(m.saturation.map(|p| mark(p, RED)))
        .collect()
}
