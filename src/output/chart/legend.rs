//! Legends beside the plots, never on them: each panel gives up a column on its right, where its
//! entries (a sample of the line or marker, and the label, wrapped to the column) are listed, so no
//! legend can hide a point or the aggregate-throughput line.

use super::plot::{err, text, GREY};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Width of the legend column of a panel.
pub const WIDTH: u32 = 300;
/// Characters of a label per line in the column.
const CHARS: usize = 22;

/// How an entry is drawn.
#[derive(Debug, Clone, Copy)]
pub enum Glyph {
    Line(u32),
    Dashed,
    Dot,
    Triangle,
    Cross,
    Ring,
    Band,
}

pub struct Entry {
    pub label: String,
    pub color: RGBColor,
    pub glyph: Glyph,
}

impl Entry {
    pub fn new(label: impl Into<String>, color: RGBColor, glyph: Glyph) -> Self {
        Entry {
            label: label.into(),
            color,
            glyph,
        }
    }

    /// The entry of the shaded bands, for panels that have some.
    pub fn shaded() -> Self {
        Entry::new(
            "shaded: a level whose verdict is not used (client-limited or partial)",
            GREY,
            Glyph::Band,
        )
    }
}

/// A panel's plot area and its legend column.
pub fn split<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
) -> (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>) {
    let w = area.dim_in_pixel().0;
    area.split_horizontally(w.saturating_sub(WIDTH))
}

/// Draws the entries down the column.
pub fn draw<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, entries: &[Entry]) -> Result<()> {
    let mut y = 70i32;
    for e in entries {
        let mid = y + 10;
        let c = e.color;
        match e.glyph {
            Glyph::Line(w) => area.draw(&PathElement::new(
                vec![(8, mid), (44, mid)],
                c.stroke_width(w.max(3)),
            )),
            Glyph::Dashed => area
                .draw(&PathElement::new(
                    vec![(8, mid), (18, mid)],
                    c.stroke_width(3),
                ))
                .and_then(|_| {
                    area.draw(&PathElement::new(
                        vec![(26, mid), (36, mid)],
                        c.stroke_width(3),
                    ))
                }),
            Glyph::Dot => area.draw(&Circle::new((26, mid), 8, c.filled())),
            Glyph::Triangle => area.draw(&TriangleMarker::new((26, mid), 10, c.filled())),
            Glyph::Cross => area.draw(&Cross::new((26, mid), 8, c.stroke_width(3))),
            Glyph::Ring => area.draw(&Circle::new((26, mid), 9, c.stroke_width(3))),
            Glyph::Band => area.draw(&Rectangle::new(
                [(16, mid - 12), (36, mid + 12)],
                c.mix(0.25).filled(),
            )),
        }
        .map_err(err)?;
        for l in wrap(&e.label, CHARS) {
            area.draw(&Text::new(l, (54, y), text(20))).map_err(err)?;
            y += 24;
        }
        y += 10;
    }
    Ok(())
}

/// `s` in lines of at most `n` characters, broken between words (a longer word is cut into
/// pieces of `n`).
pub fn wrap(s: &str, n: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    let n = n.max(1);
    let words = s.split_whitespace().flat_map(|w| {
        let chars: Vec<char> = w.chars().collect();
        chars
            .chunks(n)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
    });
    for word in words {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > n {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(&word);
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_word() {
        let s = "shaded: a level whose verdict is not used (client-limited or partial)";
        let lines = wrap(s, 22);
        assert!(lines.iter().all(|l| l.chars().count() <= 22), "{lines:?}");
        assert_eq!(lines.join(" "), s);
        // A word longer than a line is cut, never let out of the column.
        assert_eq!(
            wrap("a-very-long-word x", 5),
            ["a-ver", "y-lon", "g-wor", "d x"]
        );
        assert_eq!(wrap("", 5), [""]);
    }
}
