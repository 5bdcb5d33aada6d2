//! What every panel of the chart shares, for any plotters backend (PNG or SVG): the bundled font,
//! a plot with the levels on x, its mesh, lines with dots, and the marks every plot carries: the
//! maximum sustainable level, the saturation point (labelled with the words of its verdict, so the
//! chart and the text never disagree), and a shaded band at each level whose verdict is not used.

use crate::analyze::level::LevelReport;
use crate::analyze::report::Report;
use crate::analyze::verdict::Verdict;
use anyhow::{anyhow, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::sync::OnceLock;

const FONT_BYTES: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
const FONT: &str = "sans-serif";
pub const PURPLE: RGBColor = RGBColor(128, 0, 160);
pub const ORANGE: RGBColor = RGBColor(230, 130, 0);
pub const GREEN_OK: RGBColor = RGBColor(0, 150, 60);
pub const GREY: RGBColor = RGBColor(120, 120, 120);
pub const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

pub type Area<DB> = DrawingArea<DB, Shift>;
pub type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;
/// A plot with a second y axis on the right.
pub type DualChart<'a, DB> = plotters::chart::DualCoordChartContext<
    'a,
    DB,
    Cartesian2d<RangedCoordf64, RangedCoordf64>,
    Cartesian2d<RangedCoordf64, RangedCoordf64>,
>;

pub fn font_ready() -> Result<()> {
    static READY: OnceLock<bool> = OnceLock::new();
    let ok = *READY.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    ok.then_some(())
        .ok_or_else(|| anyhow!("the bundled font could not be loaded"))
}

pub fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("{e:?}")
}

pub fn text(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

/// What every plot marks.
pub struct Marks {
    pub x_max: f64,
    /// A closed loop: its levels stand at the rates they achieved, and it had no target rate.
    pub closed: bool,
    /// The maximum sustainable level's x and its label.
    pub max_ok: Option<(f64, String)>,
    /// The saturation point's x, and its label with the words of its verdict.
    pub saturation: Option<(f64, String)>,
    /// Levels whose verdict is not used, and why.
    shaded: Vec<(f64, &'static str)>,
}

impl Marks {
    pub fn of(r: &Report) -> Self {
        let top = r.results.iter().map(|l| l.rate).fold(0.0, f64::max);
        let s = &r.summary;
        // A closed loop's levels stand at the rates they achieved, named by their concurrency.
        let at_concurrency = |n: usize| {
            r.results
                .iter()
                .find(|l| l.concurrency == Some(n))
                .map(|l| l.rate)
        };
        let max_ok = match (s.max_sustainable_qps, s.max_sustainable_concurrency) {
            (Some(q), _) => Some((q, format!("max sustainable {q}"))),
            (None, Some(n)) => {
                at_concurrency(n).map(|x| (x, format!("max sustainable concurrency {n}")))
            }
            (None, None) => None,
        };
        let saturation = match (s.saturation_qps, s.saturation_concurrency) {
            (Some(q), _) => Some((q, format!("saturation {q}"))),
            (None, Some(n)) => {
                at_concurrency(n).map(|x| (x, format!("saturation concurrency {n}")))
            }
            (None, None) => None,
        }
        .map(|(x, label)| {
            let words = r
                .results
                .iter()
                .find(|l| l.rate == x && l.assessment.verdict != Verdict::Pass)
                .map(verdict_words)
                .unwrap_or_default();
            (x, format!("{label} ({words})"))
        });
        Marks {
            x_max: top * 1.08 + 0.1,
            closed: r.results.iter().any(|l| l.concurrency.is_some()),
            max_ok,
            saturation,
            shaded: r
                .results
                .iter()
                .filter_map(|l| shade(l).map(|why| (l.rate, why)))
                .collect(),
        }
    }

    /// The x axis's name: the rate each level offered, or for a closed loop the rate it achieved.
    pub fn x_label(&self) -> &'static str {
        if self.closed {
            "Achieved QPS (each level a concurrency)"
        } else {
            "Target QPS"
        }
    }

    /// Whether some level is shaded.
    pub fn any_shaded(&self) -> bool {
        !self.shaded.is_empty()
    }
}

/// Why a level's verdict is not used, if it is not.
pub fn shade(l: &LevelReport) -> Option<&'static str> {
    if l.partial {
        Some("partial")
    } else if !l.assessment.trusted {
        Some("client-limited")
    } else {
        None
    }
}

/// "FAIL: 85.9% success; queueing": the start of the level's verdict as the text tells it.
pub fn verdict_words(l: &LevelReport) -> String {
    let r = &l.assessment.reason;
    let mut s = format!("{}: {:.1}% success", l.assessment.verdict, r.success_pct);
    if r.queueing.is_some() {
        s.push_str("; queueing");
    }
    if !r.misses.is_empty() {
        s.push_str("; objective missed");
    }
    s
}

pub fn points(levels: &[LevelReport], f: impl Fn(&LevelReport) -> Option<f64>) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = levels
        .iter()
        .filter_map(|l| f(l).filter(|y| y.is_finite()).map(|y| (l.rate, y)))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

/// A y range that holds every series, with room above the highest point for the marks' labels.
pub fn top(series: &[&[(f64, f64)]]) -> f64 {
    let m = series
        .iter()
        .flat_map(|s| s.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    if m > 0.0 {
        m * 1.25
    } else {
        1.0
    }
}

/// A plot of `title` with the levels on x; with `right`, room for a secondary axis.
pub fn chart<'a, DB: DrawingBackend>(
    area: &'a Area<DB>,
    title: &str,
    x_max: f64,
    y_max: f64,
    right: bool,
) -> Result<Chart<'a, DB>> {
    let mut b = ChartBuilder::on(area);
    b.caption(title, text(32))
        .margin(16)
        .margin_right(if right { 8 } else { 24 })
        .x_label_area_size(64)
        .y_label_area_size(110);
    if right {
        b.right_y_label_area_size(120);
    }
    b.build_cartesian_2d(0.0..x_max, 0.0..y_max).map_err(err)
}

pub fn mesh<DB: DrawingBackend>(c: &mut Chart<'_, DB>, x_desc: &str, y_desc: &str) -> Result<()> {
    c.configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|v| format!("{v}"))
        .label_style(text(24))
        .axis_desc_style(text(26))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .draw()
        .map_err(err)
}

/// A line with a dot at each point.
pub fn line<DB: DrawingBackend>(
    c: &mut Chart<'_, DB>,
    pts: Vec<(f64, f64)>,
    color: RGBColor,
    width: u32,
) -> Result<()> {
    c.draw_series(LineSeries::new(pts.clone(), color.stroke_width(width)))
        .map_err(err)?;
    c.draw_series(pts.into_iter().map(|p| Circle::new(p, 6, color.filled())))
        .map_err(err)?;
    Ok(())
}

/// The shaded levels, and dashed lines at the maximum sustainable level and the saturation point,
/// each labelled.
pub fn marks<DB: DrawingBackend>(c: &mut Chart<'_, DB>, m: &Marks, y_max: f64) -> Result<()> {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let half = m.x_max * 0.012;
    c.draw_series(m.shaded.iter().map(|(x, _)| {
        Rectangle::new(
            [(x - half, 0.0), (x + half, y_max)],
            GREY.mix(0.18).filled(),
        )
    }))
    .map_err(err)?;
    // Data units per pixel across, to place the labels.
    let px = c.plotting_area().get_pixel_range().0;
    let unit = m.x_max / (px.end - px.start).max(1) as f64;
    let width = |label: &str| label.chars().count() as f64 * LABEL_CHAR_PX * unit;
    let lines = [
        m.max_ok.clone().map(|(x, l)| (x, GREEN_OK, l, Side::Left)),
        m.saturation.clone().map(|(x, l)| (x, RED, l, Side::Right)),
    ];
    let xs: Vec<f64> = lines.iter().flatten().map(|l| l.0).collect();
    // One above the other (both above the data, which stays under 80% of the height); the max
    // label goes left of its line and the saturation label right of its own, away from each
    // other. Where the plot's edge is too near, a label goes to the other side, shortened to its
    // first words (`saturation 38.7`) if whole it would cross the other line.
    for ((x, color, label, prefer), y) in lines
        .into_iter()
        .zip([0.99, 0.91])
        .filter_map(|(l, y)| Some((l?, y)))
    {
        c.draw_series(DashedLineSeries::new(
            vec![(x, 0.0), (x, y_max)],
            14,
            8,
            color.stroke_width(3),
        ))
        .map_err(err)?;
        let (shown, side) = place(&label, x, prefer, &xs, m.x_max, &width, unit);
        let (from, to) = span(&shown, x, side, &width, unit);
        // A label that still crosses the other line gets a white ground under its words.
        if xs.iter().any(|&o| o != x && o > from && o < to) {
            c.draw_series(std::iter::once(Rectangle::new(
                [(from, y_max * (y - 0.075)), (to, y_max * y)],
                WHITE.filled(),
            )))
            .map_err(err)?;
        }
        let (anchor, shown) = match side {
            Side::Left => (HPos::Right, format!("{shown} ")),
            Side::Right => (HPos::Left, format!(" {shown}")),
        };
        let style = text(20).color(&color).pos(Pos::new(anchor, VPos::Top));
        c.draw_series(std::iter::once(Text::new(shown, (x, y_max * y), style)))
            .map_err(err)?;
    }
    Ok(())
}

/// Where a mark's `label` goes beside its line at `x`: on the `prefer`red side, else the other,
/// whole if it fits and crosses none of the other lines at `xs`, else shortened to its first words;
/// `width` is a text's width in data units, `unit` one pixel's.
fn place(
    label: &str,
    x: f64,
    prefer: Side,
    xs: &[f64],
    x_max: f64,
    width: &dyn Fn(&str) -> f64,
    unit: f64,
) -> (String, Side) {
    let short = label.split(" (").next().unwrap_or(label).to_string();
    let fits = |(from, to): (f64, f64)| from >= 0.0 && to <= x_max;
    let clear = |(from, to): (f64, f64)| !xs.iter().any(|&o| o != x && o > from && o < to);
    let other = match prefer {
        Side::Left => Side::Right,
        Side::Right => Side::Left,
    };
    let choices = [
        (label.to_string(), prefer),
        (label.to_string(), other),
        (short.clone(), prefer),
        (short.clone(), other),
    ];
    choices
        .iter()
        .find(|(t, s)| {
            let sp = span(t, x, *s, width, unit);
            fits(sp) && clear(sp)
        })
        .or_else(|| {
            choices
                .iter()
                .find(|(t, s)| fits(span(t, x, *s, width, unit)))
        })
        .cloned()
        .unwrap_or((short, prefer))
}

/// The x range a label takes beside its line at `x`.
fn span(text: &str, x: f64, side: Side, width: &dyn Fn(&str) -> f64, unit: f64) -> (f64, f64) {
    let w = width(text) + 2.0 * unit * LABEL_CHAR_PX;
    match side {
        Side::Left => (x - w, x),
        Side::Right => (x, x + w),
    }
}

/// The y of each label of points at `xs` (ascending), each at its point's `ys` unless a label
/// already placed is within `near` across and `step` up or down: then a step higher.
pub fn stagger(points: &[(f64, f64)], near: f64, step: f64) -> Vec<f64> {
    let mut placed: Vec<(f64, f64)> = Vec::new();
    for &(x, y0) in points {
        let mut y = y0;
        while placed
            .iter()
            .any(|&(px, py)| (px - x).abs() < near && (py - y).abs() < step * 0.85)
        {
            y += step;
        }
        placed.push((x, y));
    }
    placed.into_iter().map(|p| p.1).collect()
}

/// A tick of the success axis: the axis runs past 100 only to leave the marks' labels room above
/// the data, so ticks above 100 are not labelled.
pub fn success_tick(v: &f64) -> String {
    if *v <= 100.0 {
        format!("{v:.0}")
    } else {
        String::new()
    }
}

/// Pixels across one character of a mark's label (DejaVu Sans at 20 px, generously).
const LABEL_CHAR_PX: f64 = 11.0;

/// Which side of its line a label goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Side {
    Left,
    Right,
}

/// A message in the middle of a plot that has nothing to draw, saying why.
pub fn empty<DB: DrawingBackend>(
    c: &mut Chart<'_, DB>,
    why: &str,
    x_max: f64,
    y_max: f64,
) -> Result<()> {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let style = text(24)
        .color(&GREY)
        .pos(Pos::new(HPos::Center, VPos::Center));
    c.draw_series(std::iter::once(Text::new(
        why.to_string(),
        (x_max / 2.0, y_max / 2.0),
        style,
    )))
    .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_label_never_crosses_the_other_line_when_it_can_help_it() {
        // A 70-wide plot of 1000 px: max sustainable at 32, saturation at 38.7 near the edge.
        let unit = 70.0 / 1000.0;
        let width = |t: &str| t.chars().count() as f64 * LABEL_CHAR_PX * unit;
        let label = "saturation 38.7 (FAIL: 89.7% success; queueing)";
        let (shown, side) = place(label, 38.7, Side::Right, &[32.0, 38.7], 70.0, &width, unit);
        let (from, to) = span(&shown, 38.7, side, &width, unit);
        assert!(from >= 0.0 && to <= 70.0, "{shown} {side:?}");
        assert!(!(from < 32.0 && to > 32.0), "{shown} {side:?} crosses 32");
        // With room, the whole label, on its own side.
        assert_eq!(
            place(label, 10.0, Side::Right, &[5.0, 10.0], 70.0, &width, unit),
            (label.to_string(), Side::Right)
        );
    }

    #[test]
    fn close_probe_labels_are_staggered_and_far_ones_are_not() {
        let ys = stagger(&[(39.2, 30.0), (40.8, 30.5), (80.0, 31.0)], 2.5, 4.0);
        assert_eq!(ys[0], 30.0);
        assert!(ys[1] >= 34.0, "{ys:?}");
        assert_eq!(ys[2], 31.0);
    }

    #[test]
    fn the_success_axis_labels_no_tick_above_100() {
        assert_eq!(success_tick(&100.0), "100");
        assert_eq!(success_tick(&120.0), "");
    }
}
