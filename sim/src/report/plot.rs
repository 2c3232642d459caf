//! Pictures, as SVG: for a run, end-to-end latency CDFs per architecture beside memory and
//! CPU bars; for a sweep, p99 against the swept parameter with the SLO as a line.

use super::Report;
use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;
use std::path::Path;

const COLOURS: [RGBColor; 8] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
];

fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

fn plot_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e:?}")
}

fn label(item: &super::ArchitectureReport) -> String {
    match item.scheduling {
        Some(s) => format!("{} ({}, {})", item.capacity.name, item.capacity.scoping, s),
        None => format!("{} ({})", item.capacity.name, item.capacity.scoping),
    }
}

/// Latency CDFs (left) and memory / CPU bars (right) of one run.
pub fn run(report: &Report, path: &Path) -> Result<()> {
    let root = SVGBackend::new(path, (1200, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let (left, right) = root.split_horizontally(640);
    let (memory_area, cpu_area) = right.split_vertically(250);

    let curves: Vec<(String, Vec<(f64, f64)>)> = report
        .architectures
        .iter()
        .filter_map(|a| Some((label(a), a.latency.as_ref()?.end_to_end.cdf(200))))
        .chain(
            report
                .baseline
                .iter()
                .map(|b| ("no mesh".to_string(), b.end_to_end.cdf(200))),
        )
        .collect();
    let x_max = curves
        .iter()
        .flat_map(|(_, c)| c.last().map(|p| p.0))
        .fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&left)
        .caption(
            format!("end-to-end latency: {}", report.scenario.name),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..x_max * 1.05, 0.0..1.0)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("latency (µs)")
        .y_desc("fraction of requests")
        .draw()
        .map_err(plot_error)?;
    for (i, (name, cdf)) in curves.iter().enumerate() {
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(cdf.iter().copied(), c.stroke_width(2)))
            .map_err(plot_error)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)?;

    let names: Vec<String> = report.architectures.iter().map(label).collect();
    let memory: Vec<f64> = report
        .architectures
        .iter()
        .map(|a| a.capacity.memory_bytes_total as f64 / 1e9)
        .collect();
    let cpu: Vec<f64> = report
        .architectures
        .iter()
        .map(|a| a.capacity.cpu_cores)
        .collect();
    bars(&memory_area, "memory, whole cluster (GB)", &names, &memory)?;
    bars(&cpu_area, "proxy CPU (cores)", &names, &cpu)?;
    root.present()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    names: &[String],
    values: &[f64],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let max = values.iter().copied().fold(0.0, f64::max).max(1e-9);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..names.len() as f64, 0.0..max * 1.15)
        .map_err(plot_error)?;
    let labels = names.to_vec();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(names.len().max(1))
        .x_label_formatter(&|x| {
            labels
                .get(x.floor() as usize)
                .map(|l| l.split(' ').next().unwrap_or("").to_string())
                .unwrap_or_default()
        })
        .draw()
        .map_err(plot_error)?;
    chart
        .draw_series(values.iter().enumerate().map(|(i, &v)| {
            Rectangle::new(
                [(i as f64 + 0.15, 0.0), (i as f64 + 0.85, v)],
                colour(i).filled(),
            )
        }))
        .map_err(plot_error)?;
    Ok(())
}

/// p99 (ms) against the swept parameter, one line per architecture, and the SLO.
pub fn sweep(
    title: &str,
    parameter: &str,
    series: &[(String, Vec<(f64, f64)>)],
    slo_ms: Option<f64>,
    path: &Path,
) -> Result<()> {
    let root = SVGBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let xs: Vec<f64> = series
        .iter()
        .flat_map(|(_, s)| s.iter().map(|p| p.0))
        .collect();
    let (x_min, x_max) = xs
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let y_max = series
        .iter()
        .flat_map(|(_, s)| s.iter().map(|p| p.1))
        .chain(slo_ms)
        .fold(0.0, f64::max)
        .max(1e-6);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x_min..x_max.max(x_min + 1e-9), 0.0..y_max * 1.1)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc(parameter)
        .y_desc("p99 end to end (ms)")
        .draw()
        .map_err(plot_error)?;
    for (i, (name, points)) in series.iter().enumerate() {
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
            .map_err(plot_error)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    if let Some(slo) = slo_ms {
        chart
            .draw_series(LineSeries::new(
                vec![(x_min, slo), (x_max, slo)],
                BLACK.stroke_width(1),
            ))
            .map_err(plot_error)?
            .label(format!("SLO p99 {slo} ms"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)?;
    root.present()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
