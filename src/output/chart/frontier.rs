//! `redline sweep`'s frontier chart (`frontier.png`): each configuration with a capacity at its
//! output tokens per second per GPU (x) and per user (y), labelled with its name, capacity and cost;
//! the Pareto-optimal ones joined in order of throughput. Configurations without a capacity are
//! listed under the plot, so none is silently missing.

use super::file::write;
use super::plot::{chart, err, font_ready, mesh, text, GREY, ORANGE, PURPLE};
use crate::output::sweep::SweepFile;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

/// Draws the frontier of `sweep` to `path` (a PNG).
pub fn draw(sweep: &SweepFile, path: &Path) -> Result<()> {
    font_ready()?;
    if !sweep.configurations.iter().any(|e| e.at_capacity.is_some()) {
        return Err(anyhow!("no configuration has a capacity to draw"));
    }
    write(
        path,
        "png",
        |tmp, size| render(BitMapBackend::new(tmp, size).into_drawing_area(), sweep),
        (1800, 1100),
    )
    .map(|_| ())
}

/// A point's label: the configuration, its capacity and, when priced, its cost.
fn label(name: &str, a: &crate::analyze::frontier::AtCapacity) -> String {
    let cost = a
        .cost_per_million_tokens
        .map(|c| format!(", ${c:.2}/M"))
        .unwrap_or_default();
    let at_least = if a.capacity_is_lower_bound { ">=" } else { "" };
    format!("{name}: {at_least}{:.1} QPS{cost}", a.capacity_qps)
}

fn render<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    s: &SweepFile,
) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    let (plot, foot) = root.split_vertically(1000);
    let pts: Vec<(f64, f64, bool, String)> = s
        .configurations
        .iter()
        .filter_map(|e| {
            let a = e.at_capacity.as_ref()?;
            Some((
                a.output_tok_s_per_gpu,
                a.per_user_tok_s,
                e.pareto,
                label(&e.name, a),
            ))
        })
        .collect();
    let x_max = pts.iter().map(|p| p.0).fold(0.0, f64::max) * 1.25 + 1.0;
    let y_max = pts.iter().map(|p| p.1).fold(0.0, f64::max) * 1.2 + 1.0;
    let title = "Pareto frontier at capacity: speed per user vs throughput per GPU";
    let mut c = chart(&plot, title, x_max, y_max, false)?;
    mesh(
        &mut c,
        "Output tokens/s per GPU",
        "Output tokens/s per user (p50)",
    )?;
    let mut frontier: Vec<(f64, f64)> = pts.iter().filter(|p| p.2).map(|p| (p.0, p.1)).collect();
    frontier.sort_by(|a, b| a.0.total_cmp(&b.0));
    c.draw_series(LineSeries::new(frontier, PURPLE.stroke_width(4)))
        .map_err(err)?
        .label("Pareto frontier")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 30, y)], PURPLE.stroke_width(4)));
    for (x, y, on, name) in &pts {
        let color: &'static RGBColor = if *on { &PURPLE } else { &GREY };
        let style = text(22).color(color);
        let point = EmptyElement::at((*x, *y))
            + Circle::new((0, 0), 10, color.filled())
            + Text::new(name.clone(), (14, -30), style);
        c.draw_series([point]).map_err(err)?;
    }
    c.configure_series_labels()
        .label_font(text(22))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)?;
    let missing = s.without_capacity();
    if !missing.is_empty() {
        let line = format!("Not drawn, no capacity: {}", missing.join("; "));
        foot.draw(&Text::new(line, (40, 30), text(24).color(&ORANGE)))
            .map_err(err)?;
    }
    root.present().map_err(err)
}
