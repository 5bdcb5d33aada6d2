//! The chart's text panel: the verdicts (left) and the answer with its recommendations, capacity
//! plan and notes (right), the same lines as the console's summary. Long lines wrap at word
//! boundaries onto indented continuation lines, and the panel grows to hold every line, so nothing
//! is cut.

use super::legend::wrap;
use super::plot::{err, text, ORANGE};
use crate::analyze::report::Report;
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Characters per line in a column of 1,600 px at 24 px.
const CHARS: usize = 112;
const TOP: i32 = 75;
const LINE: i32 = 29;
const MIN_HEIGHT: u32 = 400;

/// The summary's two columns, each a list of (line, its verdict's colour), wrapped.
fn columns(report: &Report) -> [Vec<(String, Option<RGBColor>)>; 2] {
    let summary = crate::output::summary::render(report);
    let text = summary.trim_start_matches('\n');
    // The verdicts come first, then a blank line, then the answer.
    let (verdicts, answer) = text.split_once("\n\n").unwrap_or((text, ""));
    let lay = |block: &str| {
        let mut out = Vec::new();
        for line in block.lines().filter(|l| !l.trim().is_empty()) {
            let color = if line.contains(": FAIL") || line.contains("(FAIL") {
                Some(RED)
            } else if line.contains(": WARN") || line.contains("(WARN") {
                Some(ORANGE)
            } else {
                None
            };
            for (i, part) in wrap(line, CHARS).into_iter().enumerate() {
                out.push((if i == 0 { part } else { format!("    {part}") }, color));
            }
        }
        out
    };
    [lay(verdicts), lay(answer)]
}

/// The panel's height: every line of the longer column, and at least 400 px.
pub fn height(report: &Report) -> u32 {
    let lines = columns(report).iter().map(Vec::len).max().unwrap_or(0) as i32;
    ((TOP + LINE * lines + 30) as u32).max(MIN_HEIGHT)
}

pub fn draw<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, report: &Report) -> Result<()> {
    area.fill(&RGBColor(246, 246, 246)).map_err(err)?;
    area.draw(&Text::new(
        "Summary and recommendations",
        (40, 20),
        text(34),
    ))
    .map_err(err)?;
    let w = area.dim_in_pixel().0;
    let (left, right) = area.split_horizontally(w / 2);
    for (col, lines, x) in [
        (&left, &columns(report)[0], 40),
        (&right, &columns(report)[1], 20),
    ] {
        for (i, (l, color)) in lines.iter().enumerate() {
            let style = match color {
                Some(c) => text(24).color(c),
                None => text(24),
            };
            col.draw(&Text::new(l.clone(), (x, TOP + LINE * i as i32), style))
                .map_err(err)?;
        }
    }
    Ok(())
}
