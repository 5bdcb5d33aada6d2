//! Legends beside the plots, never on them: each panel gives up a column on its right, where its
//! entries (a sample of the line or marker, and the label, wrapped to the column) are listed, so no
//! legend can hide a point or the aggregate-throughput line. The text is drawn at the largest size
//! at which every entry fits in the column, so none runs past its panel.

use super::plot::{err, text, GREY};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Width of the legend column of a panel.
pub const WIDTH: u32 = 300;

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

/// Text sizes for the column, largest first: font and line height in pixels, characters a line
/// holds at that font in the column's width, and the space between entries.
const SIZES: [(u32, i32, usize, i32); 5] = [
    (20, 24, 22, 10),
    (17, 20, 26, 8),
    (14, 17, 32, 6),
    (12, 14, 37, 4),
    (11, 12, 42, 2),
];

/// Where the entries start, below the plot's caption.
const TOP: i32 = 60;

/// Draws the entries down the column, at the largest text size at which they all fit in it, so
/// that no entry runs past the panel into the next one.
pub fn draw<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, entries: &[Entry]) -> Result<()> {
    let (font, line, chars, gap) = size_for(entries, area.dim_in_pixel().1 as i32);
    let mut y = TOP;
    for e in entries {
        // The glyph sits by the entry's first line.
        let mid = y + line / 2 - 2;
        glyph(area, e, mid)?;
        for l in wrap(&e.label, chars) {
            area.draw(&Text::new(l, (54, y), text(font))).map_err(err)?;
            y += line;
        }
        y += gap;
    }
    Ok(())
}

/// The largest text size at which `entries` fit in a column `height` pixels tall.
fn size_for(entries: &[Entry], height: i32) -> (u32, i32, usize, i32) {
    SIZES
        .iter()
        .copied()
        .find(|&size| TOP + needed(entries, size) <= height)
        .unwrap_or(SIZES[SIZES.len() - 1])
}

/// The pixels `entries` take down the column at a size.
fn needed(entries: &[Entry], (_, line, chars, gap): (u32, i32, usize, i32)) -> i32 {
    entries
        .iter()
        .map(|e| wrap(&e.label, chars).len() as i32 * line + gap)
        .sum()
}

/// An entry's sample of its line or marker, centred at height `mid`.
fn glyph<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, e: &Entry, mid: i32) -> Result<()> {
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
    .map_err(err)
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
    fn a_long_legend_is_drawn_smaller_to_fit_its_panel() {
        // The QPS panel of a search with every kind of mark: ten entries, some of three lines.
        let entries: Vec<Entry> = (0..10)
            .map(|i| {
                Entry::new(
                    format!("entry {i}: a label long enough to wrap onto lines"),
                    GREY,
                    Glyph::Dot,
                )
            })
            .collect();
        let size = size_for(&entries, 400);
        assert!(TOP + needed(&entries, size) <= 400, "{size:?}");
        assert!(size.0 < SIZES[0].0);
        // A short legend keeps the largest size.
        assert_eq!(size_for(&entries[..2], 400), SIZES[0]);
    }

    #[test]
    fn wrapping_keeps_every_word() {
        let s = "shaded: a level whose verdict is not used (client-limited or partial)";
        let lines = wrap(s, SIZES[0].2);
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
