//! The default output: one column per architecture, one row per figure, with units.

use super::capacity_rows::{self, with_range};
use super::units::{bytes, cores, count, rate};
use super::{ArchitectureReport, Report};
use crate::engine::{Bounds, Percentiles};

type Row = (&'static str, fn(&ArchitectureReport) -> String);

const CAPACITY_ROWS: [Row; 14] = [
    ("proxies", |a| count(a.capacity.proxies)),
    ("memory, whole cluster", |a| {
        with_range(
            a.capacity.memory_bytes_total,
            a.capacity.range.as_ref().map(|r| r.memory_bytes_total),
            bytes,
        )
    }),
    ("memory, busiest node", |a| {
        bytes(a.capacity.memory_bytes_per_node_max)
    }),
    ("memory, largest proxy", |a| {
        with_range(
            a.capacity.memory_bytes_per_proxy_max,
            a.capacity
                .range
                .as_ref()
                .map(|r| r.memory_bytes_per_proxy_max),
            bytes,
        )
    }),
    ("  of which eBPF maps", |a| {
        bytes(a.capacity.datapath_memory_bytes_total)
    }),
    ("connections per request", |a| {
        a.capacity.connections_per_request.to_string()
    }),
    ("socket buffers per request", |a| {
        bytes(a.capacity.socket_buffer_bytes_per_request)
    }),
    ("open connections", |a| {
        count(a.capacity.connections_open_total)
    }),
    ("socket memory, whole cluster", |a| {
        bytes(a.capacity.socket_memory_bytes_total)
    }),
    ("CPU at this load", |a| {
        with_range(
            a.capacity.cpu_cores,
            a.capacity.range.as_ref().map(|r| r.cpu_cores),
            cores,
        )
    }),
    ("CPU, busiest node", |a| {
        let node = cores(a.capacity.cpu_cores_per_node_max);
        match a.capacity.busiest_host {
            // Where the nodes' cores are given, the busiest host against its cores.
            Some(h) => format!(
                "{node}; host {} of {}{}",
                cores(h.cpu_cores),
                h.cores,
                if h.cpu_cores > h.cores as f64 {
                    " OVER"
                } else {
                    ""
                }
            ),
            None => node,
        }
    }),
    ("identities per proxy (max)", |a| {
        count(a.capacity.blast_radius.identities_per_proxy_max)
    }),
    ("workloads per proxy (max)", |a| {
        count(a.capacity.blast_radius.workloads_per_proxy_max)
    }),
    ("tenants per proxy (max)", |a| {
        count(a.capacity.blast_radius.tenants_per_proxy_max)
    }),
];

fn latency(a: &ArchitectureReport, f: fn(&crate::latency::LatencyResult) -> String) -> String {
    a.latency.as_ref().map_or_else(|| "—".into(), f)
}

/// A latency in µs; `None` is past the histograms' range.
pub fn us(v: Option<f64>) -> String {
    let Some(v) = v else {
        return format!("> {} s", Bounds::PRECISE.high / 1_000_000_000);
    };
    if v >= 10_000.0 {
        format!("{:.1} ms", v / 1000.0)
    } else if v >= 1000.0 {
        format!("{:.2} ms", v / 1000.0)
    } else {
        format!("{v:.0} µs")
    }
}

/// Nothing measured is said so, not shown as 0 µs.
pub const NOTHING_MEASURED: &str = "no requests measured";

fn pair(p: Option<&Percentiles>) -> String {
    match p {
        Some(p) => format!("{} / {}", us(p.p50), us(p.p99)),
        None => NOTHING_MEASURED.into(),
    }
}

/// A difference of latencies: unknown when either was past the histograms' range.
fn added_pair(p: Option<&Percentiles>) -> String {
    let us = |v: Option<f64>| v.map_or_else(|| UNKNOWN_DIFFERENCE.to_string(), |v| us(Some(v)));
    match p {
        Some(p) => format!("{} / {}", us(p.p50), us(p.p99)),
        None => NOTHING_MEASURED.into(),
    }
}

/// The entry hop's cell when every request starts inside its pod.
pub const NO_ENTRY_HOP: &str = "none (requests start in the pod)";

/// What a difference shows when a latency it needs is past the histograms' range.
pub const UNKNOWN_DIFFERENCE: &str = "n/a";

const LATENCY_ROWS: [Row; 10] = [
    ("latency p50 / p99", |a| {
        latency(a, |l| pair(l.latency_us.as_ref()))
    }),
    ("latency p99.9", |a| {
        latency(a, |l| {
            l.latency_us
                .as_ref()
                .map_or_else(|| NOTHING_MEASURED.into(), |p| us(p.p999))
        })
    }),
    // Differences of percentiles (made monotone), not percentiles of per-request differences.
    ("added p50 / p99 (Δ of percentiles)", |a| {
        latency(a, |l| added_pair(l.added_latency_us.as_ref()))
    }),
    ("added at the entry hop p50 / p99", |a| {
        latency(a, |l| match l.added_entry_hop_latency_us {
            // Requests that start inside their pod (a load generator there) take no entry hop.
            None if l.latency_us.is_some() => NO_ENTRY_HOP.into(),
            p => added_pair(p.as_ref()),
        })
    }),
    ("added per service hop p50 / p99", |a| {
        latency(a, |l| added_pair(l.added_service_hop_latency_us.as_ref()))
    }),
    ("requests measured", |a| latency(a, |l| count(l.requests))),
    ("entry requests completed", |a| {
        latency(a, |l| format!("{} rps", rate(l.entry_rps_completed)))
    }),
    ("dropped / timed out", |a| {
        latency(a, |l| {
            format!("{} / {}", count(l.dropped), count(l.timed_out))
        })
    }),
    ("busiest proxy utilisation", |a| {
        latency(a, |l| {
            let u = l
                .proxies
                .iter()
                .map(|p| p.utilisation_max)
                .fold(0.0, f64::max);
            // The band of the busiest kind: `saturated` only where its queues grew or dropped.
            let band = l
                .proxies
                .iter()
                .map(|p| p.band)
                .max_by_key(|b| match *b {
                    "saturated" => 2,
                    "busy" => 1,
                    _ => 0,
                })
                .unwrap_or("ok");
            let band = if band == "ok" {
                String::new()
            } else {
                format!(" ({band})")
            };
            if l.proxies.is_empty() {
                "—".into()
            } else if u < 0.1 {
                format!("{:.1}%{band}", u * 100.0)
            } else {
                format!("{:.0}%{band}", u * 100.0)
            }
        })
    }),
    ("saturated (past capacity)", |a| {
        latency(a, |l| {
            if l.saturated {
                "YES".into()
            } else {
                "no".into()
            }
        })
    }),
];

/// Shown where the scenario simulates the hosts' cores.
const CORE_ROWS: [Row; 1] = [("cores busy (busiest host)", |a| {
    latency(a, |l| {
        l.cores.map_or_else(
            || "—".into(),
            |c| {
                format!(
                    "{} ({:.0}%)",
                    cores(c.cores_busy),
                    c.utilisation_max * 100.0
                )
            },
        )
    })
})];

pub fn render(report: &Report) -> String {
    let s = &report.scenario;
    let mut out = format!("meshtwin: {} ({})\n", s.name, s.file);
    let profile = s.profile.as_deref().unwrap_or("calibrated defaults");
    let scopings: Vec<String> = s.scopings.iter().map(|x| x.to_string()).collect();
    out.push_str(&format!(
        "seed {} · {} nodes · {} pods · {} services · {} namespaces · {} rps served by all pods, {} rps entering the mesh · models: {} · scoping: {}\n",
        s.seed,
        count(s.nodes),
        count(s.pods),
        count(s.services),
        count(s.namespaces),
        rate(s.rps_served_by_pods),
        rate(s.rps_entering_mesh),
        profile,
        scopings.join(", "),
    ));
    out.push_str(&format!(
        "interception: {} · local acceleration: {} · connection reuse: {}\n",
        serde_plain(&s.interception),
        serde_plain(&s.local_acceleration),
        if s.connection_reuse { "yes" } else { "no" },
    ));
    if let (Some(duration), Some(warmup), Some(b)) =
        (s.simulated_seconds, s.warmup_seconds, &report.baseline)
    {
        let baseline = match &b.latency_us {
            Some(p) => format!("p50 {} · p99 {}", us(p.p50), us(p.p99)),
            None => NOTHING_MEASURED.into(),
        };
        out.push_str(&format!(
            "latency: {duration} s simulated after {warmup} s warm-up · baseline without mesh: {baseline}\n"
        ));
    }
    out.push('\n');

    let several_scopings = s.scopings.len() > 1;
    let several_schedulings = {
        let mut kinds: Vec<_> = report
            .architectures
            .iter()
            .filter_map(|a| a.scheduling)
            .collect();
        kinds.sort();
        kinds.dedup();
        kinds.len() > 1
    };
    let headers: Vec<String> = report
        .architectures
        .iter()
        .map(|a| {
            let mut variant = Vec::new();
            if several_scopings {
                variant.push(a.capacity.scoping.to_string());
            }
            if several_schedulings {
                variant.extend(a.scheduling.map(|x| x.to_string()));
            }
            if variant.is_empty() {
                a.capacity.name.to_string()
            } else {
                format!("{} ({})", a.capacity.name, variant.join(", "))
            }
        })
        .collect();
    let mut rows: Vec<&Row> = Vec::new();
    let products = report
        .architectures
        .iter()
        .any(|a| a.capacity.product.is_some());
    if products {
        rows.extend(capacity_rows::PRODUCT_ROWS.iter());
    }
    rows.extend(CAPACITY_ROWS.iter());
    rows.extend(capacity_rows::ENCRYPTION_ROWS.iter());
    let (memory_and_cpu, other_control_plane) = capacity_rows::CONTROL_PLANE_ROWS.split_at(1);
    rows.extend(memory_and_cpu.iter());
    if report
        .architectures
        .iter()
        .any(|a| a.capacity.control_plane.operator_replicas > 0)
    {
        rows.extend(capacity_rows::OPERATOR_ROWS.iter());
    }
    rows.extend(other_control_plane.iter());
    if report
        .architectures
        .iter()
        .any(|a| a.capacity.control_plane.churn.endpoint_changes_per_second > 0.0)
    {
        rows.extend(capacity_rows::CHURN_ROWS.iter());
    }
    if products || report.scenario.bill_node_shape {
        rows.extend(capacity_rows::BILL_ROWS.iter());
    }
    if report
        .architectures
        .iter()
        .any(|a| !a.capacity.bill.over_memory_limit.is_empty())
    {
        rows.extend(capacity_rows::LIMIT_ROWS.iter());
    }
    if report.baseline.is_some() {
        rows.extend(LATENCY_ROWS.iter());
    }
    if report.baseline.as_ref().is_some_and(|b| b.cores.is_some()) {
        rows.extend(CORE_ROWS.iter());
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(_, f)| report.architectures.iter().map(f).collect())
        .collect();
    let label_width = rows
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
    for ((label, _), row) in rows.iter().zip(&cells) {
        let mut line = format!("{label:label_width$}");
        for (cell, w) in row.iter().zip(&widths) {
            line.push_str(&format!("  {cell:>w$}"));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(&super::request_types::section(report, &headers));
    out
}

fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
