//! The default output: one column per architecture, one row per figure, with units.

use super::units::{bytes, cores, count, rate};
use super::Report;
use crate::capacity::ArchitectureCapacity;

type Row = (&'static str, fn(&ArchitectureCapacity) -> String);

const ROWS: [Row; 14] = [
    ("proxies", |a| count(a.proxies)),
    ("memory, whole cluster", |a| bytes(a.memory_bytes_total)),
    ("memory, busiest node", |a| {
        bytes(a.memory_bytes_per_node_max)
    }),
    ("memory, largest proxy", |a| {
        bytes(a.memory_bytes_per_proxy_max)
    }),
    ("  of which eBPF maps", |a| {
        bytes(a.datapath_memory_bytes_total)
    }),
    ("connections per request", |a| {
        a.connections_per_request.to_string()
    }),
    ("socket buffers per request", |a| {
        bytes(a.socket_buffer_bytes_per_request)
    }),
    ("open connections", |a| count(a.connections_open_total)),
    ("socket memory, whole cluster", |a| {
        bytes(a.socket_memory_bytes_total)
    }),
    ("CPU at this load", |a| cores(a.cpu_cores)),
    ("CPU, busiest node", |a| cores(a.cpu_cores_per_node_max)),
    ("identities per proxy (max)", |a| {
        count(a.blast_radius.identities_per_proxy_max)
    }),
    ("workloads per proxy (max)", |a| {
        count(a.blast_radius.workloads_per_proxy_max)
    }),
    ("tenants per proxy (max)", |a| {
        count(a.blast_radius.tenants_per_proxy_max)
    }),
];

pub fn render(report: &Report) -> String {
    let s = &report.scenario;
    let mut out = format!("meshtwin capacity model: {} ({})\n", s.name, s.file);
    let profile = s.profile.as_deref().unwrap_or("calibrated defaults");
    let scopings: Vec<String> = s.scopings.iter().map(|x| x.to_string()).collect();
    out.push_str(&format!(
        "seed {} · {} nodes · {} pods · {} services · {} namespaces · {} rps · models: {} · scoping: {}\n",
        s.seed,
        count(s.nodes),
        count(s.pods),
        count(s.services),
        count(s.namespaces),
        rate(s.rps_total),
        profile,
        scopings.join(", "),
    ));
    out.push_str(&format!(
        "interception: {} · local acceleration: {} · connection reuse: {}\n\n",
        serde_plain(&s.interception),
        serde_plain(&s.local_acceleration),
        if s.connection_reuse { "yes" } else { "no" },
    ));

    let several_scopings = s.scopings.len() > 1;
    let headers: Vec<String> = report
        .architectures
        .iter()
        .map(|a| {
            if several_scopings {
                format!("{} ({})", a.name, a.scoping)
            } else {
                a.name.to_string()
            }
        })
        .collect();
    let cells: Vec<Vec<String>> = ROWS
        .iter()
        .map(|(_, f)| report.architectures.iter().map(f).collect())
        .collect();
    let label_width = ROWS
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            cells
                .iter()
                .map(|row| row[i].chars().count())
                .chain([h.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut line = format!("{:label_width$}", "");
    for (h, w) in headers.iter().zip(&widths) {
        line.push_str(&format!("  {h:>w$}"));
    }
    out.push_str(line.trim_end());
    out.push('\n');
    for ((label, _), row) in ROWS.iter().zip(&cells) {
        let mut line = format!("{label:label_width$}");
        for (cell, w) in row.iter().zip(&widths) {
            line.push_str(&format!("  {cell:>w$}"));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
