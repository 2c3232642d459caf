//! The table's section on request types (`[[request]]`): each type's end-to-end p50 / p99
//! without a mesh and under each architecture, and which type has the worst p99, which is what
//! an SLO is about. Nothing without request types.

use super::table::{us, NOTHING_MEASURED};
use super::Report;
use crate::latency::result::RequestTypeLatency;
use crate::latency::LatencyResult;

/// The section, after a blank line, with the main table's column headers (`headers`, one per
/// architecture) after a baseline column; empty without request types.
pub fn section(report: &Report, headers: &[String]) -> String {
    let Some(baseline) = &report.baseline else {
        return String::new();
    };
    if baseline.per_request_type.is_empty() {
        return String::new();
    }
    let columns: Vec<Option<&LatencyResult>> = std::iter::once(Some(baseline))
        .chain(report.architectures.iter().map(|a| a.latency.as_ref()))
        .collect();
    let mut header = vec!["no mesh".to_string()];
    header.extend(headers.iter().cloned());
    let mut rows: Vec<(String, Vec<String>)> = baseline
        .per_request_type
        .iter()
        .enumerate()
        .map(|(t, ty)| {
            let cells = columns
                .iter()
                .map(|c| match c.and_then(|l| l.per_request_type.get(t)) {
                    Some(l) => pair(l),
                    None => "—".into(),
                })
                .collect();
            (format!("  {}", ty.name), cells)
        })
        .collect();
    rows.push((
        "worst p99".into(),
        columns
            .iter()
            .map(|c| {
                c.and_then(|l| l.worst_p99_request_type.clone())
                    .unwrap_or_else(|| "—".into())
            })
            .collect(),
    ));
    let title = "per request type, p50 / p99";
    let label_width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .chain([title.chars().count()])
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|(_, cells)| cells[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::from("\n");
    let mut line = format!("{title:label_width$}");
    for (h, w) in header.iter().zip(&widths) {
        line.push_str(&format!("  {h:>w$}"));
    }
    out.push_str(line.trim_end());
    out.push('\n');
    for (label, cells) in &rows {
        let mut line = format!("{label:label_width$}");
        for (cell, w) in cells.iter().zip(&widths) {
            line.push_str(&format!("  {cell:>w$}"));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn pair(t: &RequestTypeLatency) -> String {
    match &t.latency_us {
        Some(p) => format!("{} / {}", us(p.p50), us(p.p99)),
        None => NOTHING_MEASURED.into(),
    }
}
