//! A small chart builder that draws inline SVG for the HTML report: linear axes with round ticks,
//! series on a left or a right axis (points, joined or not, solid or dashed), labelled vertical
//! marks, and a legend of buttons. Nothing needs JavaScript to draw; `page.rs`'s script only adds
//! the hover (each point's `data-tip`) and the legend's toggles (each series carries the class
//! `s<i>` inside its `<figure>`, which its legend button names in `data-s`).
//!
//! The API is generic: `run.rs` and `compare.rs` draw levels on x, and a sweep's Pareto frontier can
//! draw any x against any y, with labelled points and a series joined through chosen points.

use super::page::esc;
use std::fmt::Write;

/// The plot's size in SVG units (it scales with the page).
const W: f64 = 760.0;
const H: f64 = 340.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 44.0;
const LEFT: f64 = 64.0;
/// The right margin with and without a right axis.
const RIGHT_AXIS: f64 = 64.0;
const RIGHT_NONE: f64 = 20.0;

/// The colours a series gets by its index when it names none.
pub const PALETTE: [&str; 8] = [
    "#1f77b4", "#2ca02c", "#ff7f0e", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];
pub const GREEN: &str = "#00963c";
pub const RED: &str = "#d62728";
pub const PURPLE: &str = "#8000a0";
pub const GREY: &str = "#969696";

/// One chart: its title, axes' names, series and marks.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// The right axis's name; series with `right_axis` are drawn against it.
    pub y2_label: Option<String>,
    pub series: Vec<Series>,
    pub marks: Vec<Mark>,
    /// Said in the middle of the plot when no series has a point (why the plot is empty).
    pub note: Option<String>,
    /// Values the x axis must reach besides the points' and marks' (e.g. every level's, so that
    /// charts of the same levels share their x axis).
    pub x_span: Vec<f64>,
}

/// A named set of points, toggled as one by its legend button.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
    pub right_axis: bool,
    /// Joins the points in the order given (sort them first for a line along x).
    pub lines: bool,
    pub dashed: bool,
    /// A CSS colour; `None` takes the palette's colour for the series' index.
    pub color: Option<String>,
}

/// One point: where it is, the figures its hover shows (name, value), and a text drawn beside it.
#[derive(Debug, Clone, Default)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub tip: Vec<(String, String)>,
    pub label: Option<String>,
}

/// A labelled vertical line, e.g. "max sustainable 30" or "saturation 40".
#[derive(Debug, Clone)]
pub struct Mark {
    pub x: f64,
    pub label: String,
    /// A CSS colour.
    pub color: String,
}

impl Series {
    /// A line through `points` in `color` (None: the palette's).
    pub fn line(name: impl Into<String>, points: Vec<Point>) -> Self {
        Series {
            name: name.into(),
            points,
            lines: true,
            ..Series::default()
        }
    }

    pub fn colored(mut self, color: &str) -> Self {
        self.color = Some(color.to_string());
        self
    }

    pub fn on_right(mut self) -> Self {
        self.right_axis = true;
        self
    }

    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }
}

/// A linear scale from data to SVG units.
#[derive(Debug, Clone, Copy)]
struct Scale {
    lo: f64,
    hi: f64,
    from: f64,
    to: f64,
    step: f64,
}

impl Scale {
    /// A scale over `values` (and zero), rounded out to whole ticks.
    fn over(values: impl Iterator<Item = f64>, from: f64, to: f64) -> Self {
        let (mut lo, mut hi) = (0.0_f64, 0.0_f64);
        for v in values.filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if hi - lo <= 0.0 {
            hi = lo + 1.0;
        }
        let step = nice_step((hi - lo) / 5.0);
        let lo = (lo / step).floor() * step;
        let hi = (hi / step).ceil() * step;
        Scale {
            lo,
            hi,
            from,
            to,
            step,
        }
    }

    fn at(&self, v: f64) -> f64 {
        self.from + (v - self.lo) / (self.hi - self.lo) * (self.to - self.from)
    }

    fn ticks(&self) -> Vec<f64> {
        let n = ((self.hi - self.lo) / self.step).round() as usize;
        (0..=n.min(50))
            .map(|i| self.lo + i as f64 * self.step)
            .collect()
    }

    fn label(&self, v: f64) -> String {
        let digits = (-self.step.log10()).ceil().max(0.0) as usize;
        let v = if v.abs() < self.step * 1e-9 { 0.0 } else { v };
        format!("{v:.digits$}")
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !raw.is_finite() || raw <= 0.0 {
        return 1.0;
    }
    let pow = 10f64.powf(raw.log10().floor());
    let f = raw / pow;
    let m = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * pow
}

/// The chart as a `<figure>`: its title, the SVG and the legend's buttons.
pub fn render(c: &Chart) -> String {
    let right = if c.y2_label.is_some() {
        RIGHT_AXIS
    } else {
        RIGHT_NONE
    };
    let pts = |r: bool| {
        c.series
            .iter()
            .filter(move |s| s.right_axis == r)
            .flat_map(|s| s.points.iter())
    };
    let xs = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.x))
        .chain(c.marks.iter().map(|m| m.x))
        .chain(c.x_span.iter().copied());
    let x = Scale::over(xs, LEFT, W - right);
    // Room above the highest point for the marks' labels.
    let y = Scale::over(pts(false).map(|p| p.y * 1.12), H - BOTTOM, TOP);
    let y2 = Scale::over(pts(true).map(|p| p.y * 1.12), H - BOTTOM, TOP);
    let mut out = format!(
        "<figure class=\"chart\"><figcaption>{}</figcaption><svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">",
        esc(&c.title),
        esc(&c.title)
    );
    axes(&mut out, c, &x, &y, c.y2_label.as_ref().map(|_| &y2));
    marks(&mut out, &c.marks, &x);
    for (i, s) in c.series.iter().enumerate() {
        let scale = if s.right_axis { &y2 } else { &y };
        series(&mut out, i, s, &x, scale);
    }
    if c.series.iter().all(|s| s.points.is_empty()) {
        if let Some(note) = &c.note {
            let _ = write!(
                out,
                "<text class=\"note\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                (LEFT + W - right) / 2.0,
                (TOP + H - BOTTOM) / 2.0,
                esc(note)
            );
        }
    }
    out.push_str("</svg>");
    legend(&mut out, c);
    out.push_str("</figure>\n");
    out
}

fn axes(out: &mut String, c: &Chart, x: &Scale, y: &Scale, y2: Option<&Scale>) {
    out.push_str("<g class=\"axis\">");
    for t in x.ticks() {
        let px = x.at(t);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{TOP}\" y2=\"{}\"/><text x=\"{px:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            H - BOTTOM,
            H - BOTTOM + 16.0,
            x.label(t)
        );
    }
    for t in y.ticks() {
        let py = y.at(t);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{py:.1}\" y2=\"{py:.1}\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            x.to,
            LEFT - 6.0,
            py + 4.0,
            y.label(t)
        );
    }
    if let Some(y2) = y2 {
        for t in y2.ticks() {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                x.to + 6.0,
                y2.at(t) + 4.0,
                y2.label(t)
            );
        }
    }
    let _ = write!(
        out,
        "<rect class=\"frame\" x=\"{LEFT}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{}\"/>",
        x.to - LEFT,
        H - BOTTOM - TOP
    );
    let _ = write!(
        out,
        "<text class=\"name\" x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        (LEFT + x.to) / 2.0,
        H - 6.0,
        esc(&c.x_label)
    );
    let mid = (TOP + H - BOTTOM) / 2.0;
    let _ = write!(
        out,
        "<text class=\"name\" transform=\"translate(14 {mid}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        esc(&c.y_label)
    );
    if let Some(l) = &c.y2_label {
        let _ = write!(
            out,
            "<text class=\"name\" transform=\"translate({} {mid}) rotate(90)\" text-anchor=\"middle\">{}</text>",
            W - 8.0,
            esc(l)
        );
    }
    out.push_str("</g>");
}

/// Dashed vertical lines, each labelled at its top: the first mark's label left of its line and
/// the next one's right of its own (away from each other), unless the plot's edge is too near;
/// one under the other, so two near marks never overlap.
fn marks(out: &mut String, marks: &[Mark], x: &Scale) {
    for (i, m) in marks.iter().enumerate() {
        if !m.x.is_finite() {
            continue;
        }
        let px = x.at(m.x);
        let wide = m.label.chars().count() as f64 * LABEL_CHAR;
        let left = if i % 2 == 0 {
            px - wide >= LEFT
        } else {
            px + wide > x.to
        };
        let (anchor, at) = if left {
            ("end", px - 4.0)
        } else {
            ("start", px + 4.0)
        };
        let color = esc(&m.color);
        let _ = write!(
            out,
            "<g class=\"mark\"><line x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{TOP}\" y2=\"{}\" stroke=\"{color}\" stroke-dasharray=\"6 4\"/><text x=\"{at:.1}\" y=\"{:.1}\" fill=\"{color}\" text-anchor=\"{anchor}\">{}</text></g>",
            H - BOTTOM,
            TOP + 12.0 + 13.0 * i as f64,
            esc(&m.label)
        );
    }
}

/// SVG units across one character of a mark's label (11 px bold, generously).
const LABEL_CHAR: f64 = 6.5;

fn color(i: usize, s: &Series) -> String {
    esc(s.color.as_deref().unwrap_or(PALETTE[i % PALETTE.len()]))
}

fn series(out: &mut String, i: usize, s: &Series, x: &Scale, y: &Scale) {
    let color = color(i, s);
    let finite: Vec<&Point> = s
        .points
        .iter()
        .filter(|p| p.x.is_finite() && p.y.is_finite())
        .collect();
    let _ = write!(
        out,
        "<g class=\"s{i}\" fill=\"{color}\" stroke=\"{color}\">"
    );
    if s.lines && finite.len() > 1 {
        let path: Vec<String> = finite
            .iter()
            .map(|p| format!("{:.1},{:.1}", x.at(p.x), y.at(p.y)))
            .collect();
        let dash = if s.dashed {
            " stroke-dasharray=\"8 5\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<polyline fill=\"none\" stroke-width=\"2\"{dash} points=\"{}\"/>",
            path.join(" ")
        );
    }
    for p in finite {
        let (px, py) = (x.at(p.x), y.at(p.y));
        let rows: Vec<String> = p.tip.iter().map(|(k, v)| format!("{k}\t{v}")).collect();
        let tip = esc(&rows.join("\n"))
            .replace('\t', "&#9;")
            .replace('\n', "&#10;");
        let title = esc(&p
            .tip
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("\n"));
        let _ = write!(
            out,
            "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"4\" data-tip=\"{tip}\"><title>{title}</title></circle>"
        );
        if let Some(l) = &p.label {
            let _ = write!(
                out,
                "<text class=\"label\" stroke=\"none\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                px,
                py - 8.0,
                esc(l)
            );
        }
    }
    out.push_str("</g>");
}

/// One button per series: a swatch and its name; pressing it hides or shows the series.
fn legend(out: &mut String, c: &Chart) {
    out.push_str("<div class=\"legend\">");
    for (i, s) in c.series.iter().enumerate() {
        let side = if s.right_axis { " (right axis)" } else { "" };
        let dash = if s.dashed { " dashed" } else { "" };
        let _ = write!(
            out,
            "<button type=\"button\" data-s=\"s{i}\" aria-pressed=\"true\"><i class=\"sw{dash}\" style=\"border-color:{}\"></i>{}{side}</button>",
            color(i, s),
            esc(&s.name)
        );
    }
    out.push_str("</div>");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(x: f64, y: f64) -> Point {
        Point {
            x,
            y,
            tip: vec![("level".into(), format!("<{x}>"))],
            label: None,
        }
    }

    #[test]
    fn ticks_are_round_and_cover_the_data() {
        assert_eq!(nice_step(0.23), 0.5);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(1.5), 2.0);
        let s = Scale::over([0.0, 43.0].into_iter(), 0.0, 100.0);
        assert_eq!((s.lo, s.hi, s.step), (0.0, 50.0, 10.0));
        assert_eq!(s.ticks().len(), 6);
        let small = Scale::over([0.012].into_iter(), 0.0, 1.0);
        assert_eq!(small.label(small.step), "0.005");
        // No data at all still makes an axis.
        let none = Scale::over(std::iter::empty(), 0.0, 1.0);
        assert_eq!((none.lo, none.hi), (0.0, 1.0));
        let nan = Scale::over([f64::NAN, f64::INFINITY].into_iter(), 0.0, 1.0);
        assert_eq!((nan.lo, nan.hi), (0.0, 1.0));
    }

    #[test]
    fn points_carry_escaped_tips_and_series_toggle_by_class() {
        let mut frontier = Series::line("frontier <b>", vec![point(1.0, 2.0), point(3.0, 1.0)]);
        frontier.points[0].label = Some("tp=2 & ep=4".into());
        let c = Chart {
            title: "Pareto & co".into(),
            x_label: "tokens/s per GPU".into(),
            y_label: "tokens/s per user".into(),
            series: vec![
                Series {
                    name: "all".into(),
                    points: vec![point(2.0, 2.0), point(f64::NAN, 1.0)],
                    ..Series::default()
                },
                frontier,
            ],
            marks: vec![Mark {
                x: 2.0,
                label: "max sustainable 2".into(),
                color: GREEN.into(),
            }],
            ..Chart::default()
        };
        let svg = render(&c);
        assert!(svg.contains("Pareto &amp; co"));
        assert!(svg.contains("data-tip=\"level&#9;&lt;1&gt;\""), "{svg}");
        assert!(svg.contains("<title>level: &lt;1&gt;</title>"));
        assert!(svg.contains("tp=2 &amp; ep=4"));
        assert!(svg.contains("frontier &lt;b&gt;"));
        assert!(svg.contains("data-s=\"s0\"") && svg.contains("data-s=\"s1\""));
        assert!(svg.contains("<g class=\"s1\""));
        // Only the joined series has a line; the point at NaN is left out.
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("max sustainable 2"));
    }

    #[test]
    fn an_empty_chart_says_why() {
        let c = Chart {
            title: "Cost".into(),
            series: vec![Series::line("$ / M tokens", vec![])],
            note: Some("no cost: the run had no pricing".into()),
            ..Chart::default()
        };
        assert!(render(&c).contains("no cost: the run had no pricing"));
    }
}
