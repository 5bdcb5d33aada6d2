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
    max_ok: Option<f64>,
    /// The saturation point and the words of its verdict.
    saturation: Option<(f64, String)>,
    /// Levels whose verdict is not used, and why.
    shaded: Vec<(f64, &'static str)>,
}

impl Marks {
    pub fn of(r: &Report) -> Self {
        let top = r.results.iter().map(|l| l.rate).fold(0.0, f64::max);
        let saturation = r.summary.saturation_qps.map(|q| {
            let words = r
                .results
                .iter()
                .find(|l| l.rate == q && l.assessment.verdict != Verdict::Pass)
                .map(verdict_words)
                .unwrap_or_default();
            (q, words)
        });
        Marks {
            x_max: top * 1.08 + 0.1,
            max_ok: r.summary.max_sustainable_qps,
            saturation,
            shaded: r
                .results
                .iter()
                .filter_map(|l| shade(l).map(|why| (l.rate, why)))
                .collect(),
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
    let lines = [
        m.max_ok
            .map(|x| (x, GREEN_OK, format!("max sustainable {x}"))),
        m.saturation
            .as_ref()
            .map(|(x, words)| (*x, RED, format!("saturation {x} ({words})"))),
    ];
    // One above the other (both above the data, which stays under 80% of the height), so
    // neighbouring marks never overwrite each other's labels.
    for ((x, color, label), y) in lines
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
        // Near the right edge the label goes left of its line, so it stays inside the plot.
        let (anchor, shown) = if x > 0.6 * m.x_max {
            (HPos::Right, format!("{label} "))
        } else {
            (HPos::Left, format!(" {label}"))
        };
        let style = text(20).color(&color).pos(Pos::new(anchor, VPos::Top));
        c.draw_series(std::iter::once(Text::new(shown, (x, y_max * y), style)))
            .map_err(err)?;
    }
    Ok(())
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
