//! The validation's picture (SVG, like `sim --plot`): one panel per architecture, p50 and p99
//! against the offered rate on a logarithmic latency axis, measured (thick, circles) and
//! predicted (thin, light, crosses).

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;
use sim::report::plot_scale::{axis_number, LatencyUnit};

use super::report::Report;

const P50: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const P99: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const P50_PREDICTED: RGBColor = RGBColor(0x7f, 0xb8, 0xe0);
const P99_PREDICTED: RGBColor = RGBColor(0xf0, 0x90, 0x90);

fn plot_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e:?}")
}

pub fn latency_against_load(report: &Report, path: &Path) -> Result<()> {
    let mut architectures: Vec<&str> = Vec::new();
    for p in &report.points {
        if !architectures.contains(&p.architecture.as_str()) {
            architectures.push(&p.architecture);
        }
    }
    let panels = architectures.len().max(1);
    let columns = panels.min(3);
    let rows = panels.div_ceil(columns);
    let root =
        SVGBackend::new(path, (420 * columns as u32, 340 * rows as u32 + 40)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let (title, body) = root.split_vertically(40);
    title
        .titled(
            &format!(
                "{}: latency against load, measured and predicted",
                report.file
            ),
            ("sans-serif", 18),
        )
        .map_err(plot_error)?;
    let areas = body.split_evenly((rows, columns));
    for (area, arch) in areas.iter().zip(&architectures) {
        let points: Vec<_> = report
            .points
            .iter()
            .filter(|p| p.architecture == *arch)
            .collect();
        let x_max = points.iter().map(|p| p.rate).fold(1.0, f64::max) * 1.1;
        let values = points
            .iter()
            .flat_map(|p| {
                [
                    p.measured.p50_us,
                    p.measured.p99_us,
                    p.predicted.p50_us,
                    p.predicted.p99_us,
                ]
            })
            .filter(|v| v.is_finite() && *v > 0.0);
        let (y_min, y_max) = values.fold((f64::INFINITY, 1.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        // In the unit the largest latency asks for (µs, ms or s), as the simulator's plots.
        let unit = LatencyUnit::for_max(y_max);
        let y_min = if y_min.is_finite() { y_min / 1.5 } else { 1.0 } / unit.us;
        let y_max = y_max * 1.5 / unit.us;
        let mut chart = ChartBuilder::on(area)
            .caption(*arch, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(0.0..x_max, (y_min..y_max).log_scale())
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("offered load (requests/s)")
            .y_desc(format!("latency ({})", unit.name))
            .x_label_formatter(&|v| axis_number(*v))
            .y_label_formatter(&|v| axis_number(*v))
            // Few enough labels on the log axis that its minor ticks stay unlabelled.
            .y_labels(6)
            .draw()
            .map_err(plot_error)?;
        type Pick = fn(&super::report::Point) -> f64;
        let series: [(&str, Pick, RGBColor, bool); 4] = [
            ("measured p50", |p| p.measured.p50_us, P50, true),
            ("measured p99", |p| p.measured.p99_us, P99, true),
            (
                "predicted p50",
                |p| p.predicted.p50_us,
                P50_PREDICTED,
                false,
            ),
            (
                "predicted p99",
                |p| p.predicted.p99_us,
                P99_PREDICTED,
                false,
            ),
        ];
        for (name, pick, colour, measured) in series {
            let line: Vec<(f64, f64)> = points
                .iter()
                .map(|p| (p.rate, pick(p) / unit.us))
                .filter(|(_, v)| *v > 0.0)
                .collect();
            let width = 2;
            chart
                .draw_series(LineSeries::new(line.clone(), colour.stroke_width(width)))
                .map_err(plot_error)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(width))
                });
            if measured {
                chart
                    .draw_series(line.iter().map(|p| Circle::new(*p, 3, colour.filled())))
                    .map_err(plot_error)?;
            } else {
                chart
                    .draw_series(
                        line.iter()
                            .map(|p| Cross::new(*p, 4, colour.stroke_width(1))),
                    )
                    .map_err(plot_error)?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(plot_error)?;
    }
    root.present().map_err(plot_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::{
        report::{Measured, Point},
        simulate::Prediction,
    };

    #[test]
    fn draws_a_panel_per_architecture_with_every_series() {
        let point = |arch: &str, rate: f64| Point {
            measured: Measured {
                p50_us: 300.0,
                p99_us: 900.0,
                ..Measured::default()
            },
            ..Point::new(
                arch,
                format!("{rate} rps"),
                rate,
                Vec::new(),
                Prediction {
                    p50_us: 250.0,
                    p99_us: 700.0,
                    ..Prediction::default()
                },
            )
        };
        let report: Report = serde_json::from_value(serde_json::json!({
            "file": "f.toml", "date": "2026-12-03",
            "machine_at_start": {"machine": {"kernel": "", "cpus": 2, "cpu_model": "", "date": "", "load_average": ""}, "cpu_pressure_avg10": null},
            "machine_at_end": {"machine": {"kernel": "", "cpus": 2, "cpu_model": "", "date": "", "load_average": ""}, "cpu_pressure_avg10": null},
            "mesh_cpus": [0], "load_cpu": 1, "repeats": 1, "warmup_s": 1.0, "duration_s": 1.0,
            "connections_per_entry": 1, "p99_bound_ms": 100.0, "profile": null,
            "simulator_ignored": [], "points": [], "saturation": [],
            "order": [], "failed": []
        }))
        .unwrap();
        let report = Report {
            points: vec![
                point("sidecar", 100.0),
                point("sidecar", 200.0),
                point("ebpf", 100.0),
            ],
            ..report
        };
        let path = std::env::temp_dir().join(format!("meshtwin-plot-{}.svg", std::process::id()));
        latency_against_load(&report, &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        for text in ["sidecar", "ebpf", "measured p99", "predicted p50"] {
            assert!(svg.contains(text), "no {text:?} in the SVG");
        }
    }
}
