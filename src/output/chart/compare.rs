//! `redline compare --plot`: the runs overlaid, one colour each, on four plots against the level's
//! rate (or concurrency): success, TTFT p95, E2E p95 and total throughput, with the run's legend
//! beside every plot.

use super::file::{files, write};
use super::legend::{self, Entry, Glyph};
use super::plot::{chart, font_ready, line, mesh, top, Area, COLORS};
use crate::analyze::compare::Comparison;
use crate::cli::PlotFormat;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::{Path, PathBuf};

const PANELS: [(&str, &str, &str); 4] = [
    ("success", "Success rate (%)", "%"),
    ("ttft_p95", "Time to first token, p95 (s)", "Seconds"),
    ("e2e_p95", "End-to-end latency, p95 (s)", "Seconds"),
    ("throughput", "Total throughput (tokens/s)", "Tokens / s"),
];

/// Draws the overlay to `path` (the PNG's name) in `format`; returns the files written.
pub fn draw(c: &Comparison, path: &Path, format: PlotFormat) -> Result<Vec<PathBuf>> {
    font_ready()?;
    if c.levels.is_empty() {
        return Err(anyhow!("the runs have no levels to draw"));
    }
    let size = (3200, 800);
    let (png, svg) = files(path);
    let mut written = Vec::new();
    if matches!(format, PlotFormat::Png | PlotFormat::Both) {
        written.push(write(
            &png,
            "png",
            |tmp, size| render(BitMapBackend::new(tmp, size).into_drawing_area(), c),
            size,
        )?);
    }
    if matches!(format, PlotFormat::Svg | PlotFormat::Both) {
        written.push(write(
            &svg,
            "svg",
            |tmp, size| render(SVGBackend::new(tmp, size).into_drawing_area(), c),
            size,
        )?);
    }
    Ok(written)
}

fn render<DB: DrawingBackend>(root: Area<DB>, c: &Comparison) -> Result<()> {
    root.fill(&WHITE).map_err(super::plot::err)?;
    let x_label = if c.levels[0].level.starts_with("Concurrency") {
        "Concurrency"
    } else {
        "Target QPS"
    };
    let x_max = c.levels.iter().map(|l| l.x).fold(0.0, f64::max) * 1.08 + 0.1;
    for (cell, (metric, title, unit)) in root.split_evenly((2, 2)).iter().zip(PANELS) {
        let (plot, side) = legend::split(cell);
        let series: Vec<Vec<(f64, f64)>> = (0..c.runs.len())
            .map(|i| {
                c.levels
                    .iter()
                    .filter_map(|l| {
                        let r = l.rows.iter().find(|r| r.metric == metric)?;
                        Some((l.x, r.values[i]?))
                    })
                    .collect()
            })
            .collect();
        let refs: Vec<&[(f64, f64)]> = series.iter().map(Vec::as_slice).collect();
        let y_max = top(&refs);
        let mut ch = chart(&plot, title, x_max, y_max, false)?;
        mesh(&mut ch, x_label, unit)?;
        let mut entries = Vec::new();
        for (i, pts) in series.into_iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            line(&mut ch, pts, color, 4)?;
            let (label, dir) = &c.runs[i];
            let name = Path::new(dir)
                .file_name()
                .map_or(dir.clone(), |n| n.to_string_lossy().into_owned());
            entries.push(Entry::new(
                format!("{label}: {name}"),
                color,
                Glyph::Line(4),
            ));
        }
        legend::draw(&side, &entries)?;
    }
    root.present().map_err(super::plot::err)
}
