//! Pictures, as SVG: for a run, end-to-end latency CDFs per architecture beside memory and
//! CPU bars; for a sweep, p99 against the swept parameter with the SLO as a line.
//!
//! Made to be read: the CDF's percentile axis is stretched at the tail (p50, p90, p99, p99.9,
//! p99.99 equally spaced), latency axes take the unit their values ask for, every bar carries
//! its name and value, and legends sit beside the data, never on it.

use super::plot_scale::{
    axis_number, percentile_label, tail_quantiles, LatencyUnit, LogAxis, TailAxis,
};
use super::units::{bytes, cores};
use super::Report;
use anyhow::{anyhow, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
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

/// Height of one legend row, in pixels.
const LEGEND_ROW: u32 = 20;
/// Points on each CDF, evenly spaced on the tail axis.
const CDF_POINTS: usize = 240;

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

/// Latency CDFs (left, legend below them) and memory / CPU bars (right) of one run.
pub fn run(report: &Report, path: &Path) -> Result<()> {
    let bars_count = report.architectures.len().max(1) as u32;
    // Each bar panel: a caption, a row per bar and an axis.
    let panel = (60 + 30 * bars_count).max(260);
    let root = SVGBackend::new(path, (1280, 2 * panel)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let (left, right) = root.split_horizontally(660);
    let (memory_area, cpu_area) = right.split_vertically(panel);

    let quantiles = tail_quantiles(TailAxis::P9999.top, CDF_POINTS);
    let curves: Vec<(String, Vec<(f64, f64)>)> = report
        .architectures
        .iter()
        .filter_map(|a| {
            let curve = a.latency.as_ref()?.end_to_end.quantile_curve(&quantiles);
            Some((label(a), curve))
        })
        .chain(report.baseline.iter().map(|b| {
            (
                "no mesh".to_string(),
                b.end_to_end.quantile_curve(&quantiles),
            )
        }))
        .filter(|(_, c)| !c.is_empty())
        .collect();
    latency_cdf(&left, &report.scenario.name, &curves)?;

    let names: Vec<String> = report.architectures.iter().map(label).collect();
    let memory: Vec<(f64, String)> = report
        .architectures
        .iter()
        .map(|a| {
            let b = a.capacity.memory_bytes_total;
            (b as f64, bytes(b))
        })
        .collect();
    let cpu: Vec<(f64, String)> = report
        .architectures
        .iter()
        .map(|a| (a.capacity.cpu_cores, cores(a.capacity.cpu_cores)))
        .collect();
    bars(&memory_area, "memory, whole cluster", &names, &memory)?;
    bars(
        &cpu_area,
        "CPU at this load (proxies and eBPF programs)",
        &names,
        &cpu,
    )?;
    root.present()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The CDFs on a tail axis, the legend in its own strip below the chart.
fn latency_cdf<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scenario: &str,
    curves: &[(String, Vec<(f64, f64)>)],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let names: Vec<&str> = curves.iter().map(|(n, _)| n.as_str()).collect();
    let (chart_area, legend_area) = split_for_legend(area, names.len(), 2);
    let max_us = curves
        .iter()
        .flat_map(|(_, c)| c.last().map(|p| p.0))
        .fold(1.0, f64::max);
    // A log latency axis: architectures differ by orders of magnitude (eBPF against
    // sidecars, a quiet tenant against a noisy one), and a linear one flattens the fast ones.
    let min_us = curves
        .iter()
        .flat_map(|(_, c)| c.first().map(|p| p.0))
        .fold(max_us, f64::min)
        .max(0.1);
    let unit = LatencyUnit::for_max(max_us);
    let mut chart = ChartBuilder::on(&chart_area)
        .caption(
            format!("end-to-end latency: {scenario}"),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(
            LogAxis::new(min_us / unit.us * 0.8, max_us / unit.us * 1.25),
            TailAxis::P9999,
        )
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .x_desc(format!("latency ({}, log scale)", unit.name))
        .y_desc("percentile of requests")
        .x_label_formatter(&|v| axis_number(*v))
        .y_label_formatter(&percentile_label)
        .draw()
        .map_err(plot_error)?;
    for (i, (_, curve)) in curves.iter().enumerate() {
        let points = curve
            .iter()
            .map(|&(us, q)| (us / unit.us, super::plot_scale::tail_position(q)));
        chart
            .draw_series(LineSeries::new(points, colour(i).stroke_width(2)))
            .map_err(plot_error)?;
    }
    legend(&legend_area, &names, 2)
}

/// Splits off a strip at the bottom for a legend of `entries` in `columns` columns.
fn split_for_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: usize,
    columns: usize,
) -> (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>) {
    let rows = entries.div_ceil(columns.max(1)) as u32;
    let (_, height) = area.dim_in_pixel();
    area.split_vertically(height.saturating_sub(rows * LEGEND_ROW + 12))
}

/// A line sample and a name per entry, in columns, colours in series order.
fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    names: &[&str],
    columns: usize,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (width, _) = area.dim_in_pixel();
    let column_width = (width as i32 - 70) / columns.max(1) as i32;
    for (i, name) in names.iter().enumerate() {
        let x = 70 + (i % columns) as i32 * column_width;
        let y = 4 + (i / columns) as i32 * LEGEND_ROW as i32 + LEGEND_ROW as i32 / 2;
        area.draw(&PathElement::new(
            vec![(x, y), (x + 24, y)],
            colour(i).stroke_width(3),
        ))
        .map_err(plot_error)?;
        area.draw(&Text::new(
            name.to_string(),
            (x + 30, y - 7),
            ("sans-serif", 14),
        ))
        .map_err(plot_error)?;
    }
    Ok(())
}

/// Horizontal bars, each named on the left and valued at its end.
fn bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    names: &[String],
    values: &[(f64, String)],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let max = values.iter().map(|v| v.0).fold(0.0, f64::max).max(1e-9);
    let n = names.len().max(1) as i32;
    let top = (n - 1).max(1);
    // Room at the right of the longest bar for its value.
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(4)
        .y_label_area_size(230)
        // A segmented range holds both its ends: `0..n - 1` is n rows (one row has two).
        .build_cartesian_2d(0.0..max * 1.3, (0..(n - 1).max(1)).into_segmented())
        .map_err(plot_error)?;
    let labels = names.to_vec();
    chart
        .configure_mesh()
        .disable_mesh()
        .y_labels(names.len().max(1))
        // The first architecture at the top, as in the table's columns from the left.
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => {
                labels.get((top - *i) as usize).cloned().unwrap_or_default()
            }
            _ => String::new(),
        })
        .x_labels(0)
        .draw()
        .map_err(plot_error)?;
    chart
        .draw_series(values.iter().enumerate().map(|(i, (v, _))| {
            let row = top - i as i32;
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(row)),
                    (*v, SegmentValue::Exact(row + 1)),
                ],
                colour(i).filled(),
            );
            bar.set_margin(4, 4, 0, 0);
            bar
        }))
        .map_err(plot_error)?;
    chart
        .draw_series(values.iter().enumerate().map(|(i, (v, text))| {
            Text::new(
                text.clone(),
                (*v + max * 0.02, SegmentValue::CenterOf(top - i as i32)),
                ("sans-serif", 13)
                    .into_text_style(area)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            )
        }))
        .map_err(plot_error)?;
    Ok(())
}

/// p99 against the swept parameter, one line per architecture, and the SLO; `series` in ms.
pub fn sweep(
    title: &str,
    parameter: &str,
    series: &[(String, Vec<(f64, f64)>)],
    slo_ms: Option<f64>,
    path: &Path,
) -> Result<()> {
    let mut names: Vec<String> = series.iter().map(|(n, _)| n.clone()).collect();
    if let Some(slo) = slo_ms {
        names.push(format!("SLO: p99 {} ms", axis_number(slo)));
    }
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let (chart_area, legend_area) = split_for_legend(&root, names.len(), 2);
    let xs: Vec<f64> = series
        .iter()
        .flat_map(|(_, s)| s.iter().map(|p| p.0))
        .collect();
    let (x_min, x_max) = xs
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let (x_min, x_max) = if xs.is_empty() {
        (0.0, 1.0)
    } else {
        (x_min, x_max)
    };
    let y_max_ms = series
        .iter()
        .flat_map(|(_, s)| s.iter().map(|p| p.1))
        .chain(slo_ms)
        .fold(0.0, f64::max)
        .max(1e-6);
    // A log axis: past the tipping point p99 grows by orders of magnitude, and a linear axis
    // flattens the SLO and every line below it onto the floor.
    let y_min_ms = series
        .iter()
        .flat_map(|(_, s)| s.iter().map(|p| p.1))
        .chain(slo_ms)
        .filter(|&v| v > 0.0)
        .fold(y_max_ms, f64::min);
    let unit = LatencyUnit::for_max(y_max_ms * 1000.0);
    let scale = 1000.0 / unit.us;
    let mut chart = ChartBuilder::on(&chart_area)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(
            x_min..x_max.max(x_min + 1e-9),
            LogAxis::new(y_min_ms * scale * 0.8, y_max_ms * scale * 1.25),
        )
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc(parameter)
        .light_line_style(WHITE)
        .y_desc(format!("p99 end to end ({}, log scale)", unit.name))
        .x_label_formatter(&|v| axis_number(*v))
        .y_label_formatter(&|v| axis_number(*v))
        .draw()
        .map_err(plot_error)?;
    for (i, (_, points)) in series.iter().enumerate() {
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|&(x, ms)| (x, ms * scale)),
                c.stroke_width(2),
            ))
            .map_err(plot_error)?;
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&(x, ms)| Circle::new((x, ms * scale), 3, c.filled())),
            )
            .map_err(plot_error)?;
    }
    if let Some(slo) = slo_ms {
        chart
            .draw_series(LineSeries::new(
                vec![(x_min, slo * scale), (x_max, slo * scale)],
                colour(series.len()).stroke_width(1),
            ))
            .map_err(plot_error)?;
    }
    legend(&legend_area, &name_refs, 2)?;
    root.present()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
