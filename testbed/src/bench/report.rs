//! What the benchmark prints and writes: each path's median run, the cost of `connect()`, and
//! the one-way costs the simulator's kernel model takes (models/kernel.toml).

use serde::Serialize;

use super::{
    program_cost::ProgramCost,
    wrk::{WrkLoad, WrkRun},
};
use crate::traffic::RoundTrips;

/// One path's result: the median run by p50, and every run.
#[derive(Debug, Serialize)]
pub(super) struct PathResult {
    pub(super) key: &'static str,
    pub(super) path: &'static str,
    pub(super) median: Option<RoundTrips>,
    pub(super) runs: Vec<RoundTrips>,
    pub(super) skipped: Option<String>,
    /// The node proxy's CPU time per round trip, on the paths through it.
    pub(super) proxy_cpu_us_per_round_trip: Option<f64>,
}

/// One many-connection row: the median run by p99, and every run.
#[derive(Debug, Serialize)]
pub(super) struct LoadResult {
    pub(super) key: &'static str,
    pub(super) path: &'static str,
    pub(super) median: Option<WrkRun>,
    pub(super) runs: Vec<WrkRun>,
    pub(super) skipped: Option<String>,
}

impl PathResult {
    pub(super) fn skipped(key: &'static str, path: &'static str, reason: String) -> Self {
        eprintln!("{key} {path}: {reason}");
        Self {
            key,
            path,
            median: None,
            runs: Vec::new(),
            skipped: Some(reason),
            proxy_cpu_us_per_round_trip: None,
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct ConnectCost {
    pub(super) direct_us: f64,
    pub(super) connect4_us: f64,
    pub(super) samples: usize,
}

#[derive(Debug, Serialize)]
pub(super) struct Report {
    pub(super) size_bytes: usize,
    pub(super) duration_secs: f64,
    pub(super) runs: usize,
    /// The CPU every process ran on (null: unpinned).
    pub(super) pinned_cpu: Option<usize>,
    pub(super) kernel: String,
    pub(super) load_average: String,
    pub(super) cpus: usize,
    pub(super) paths: Vec<PathResult>,
    pub(super) connect: Option<ConnectCost>,
    /// One-way costs for models/kernel.toml, from the medians.
    pub(super) per_leg_us: serde_json::Value,
    /// The many-connection rows (unpinned).
    pub(super) load: WrkLoad,
    pub(super) many: Vec<LoadResult>,
    /// sk_msg's mean run time per message in the rows with the bypass (BPF_ENABLE_STATS).
    pub(super) sk_msg_costs: Vec<RowCost>,
    /// The mTLS tunnel between two nodes against a plain proxy hop.
    pub(super) mtls: Option<super::mtls::MtlsReport>,
}

#[derive(Debug, Serialize)]
pub(super) struct RowCost {
    pub(super) row: &'static str,
    pub(super) cost: ProgramCost,
}

/// One-way costs from the medians' means: the simulator's model adds legs' means.
pub(super) fn per_leg(paths: &[PathResult], connect: Option<&ConnectCost>) -> serde_json::Value {
    let mean = |key: &str| {
        paths
            .iter()
            .find(|p| p.key == key)
            .and_then(|p| p.median.as_ref())
            .map(|m| m.mean_us)
    };
    let half = |v: Option<f64>| v.map(|v| v / 2.0);
    let difference = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a - b);
    serde_json::json!({
        // One direction of a loopback round trip: the stack, send and receive.
        "loopback_one_way_us": half(mean("0")),
        // One direction between pods: the stack plus two veth crossings.
        "veth_pod_to_pod_one_way_us": half(mean("a")),
        // What one veth crossing adds, one way.
        "veth_crossing_us": difference(mean("a"), mean("0")).map(|d| d / 4.0),
        // One direction socket to socket.
        "sockmap_one_way_us": half(mean("b")),
        // Extra per traversal of a leg that iptables intercepts (DNAT and reverse NAT).
        "iptables_redirect_extra_us": half(difference(mean("c"), mean("d"))),
        // The node proxy's hop (a second leg, and the proxy's copy), one way.
        "proxy_hop_one_way_us": half(difference(mean("d"), mean("a"))),
        // connect4 and its bookkeeping, once per connection.
        "connect4_per_connection_us": connect.map(|c| c.connect4_us - c.direct_us),
    })
}

pub(super) fn print_report(report: &Report) {
    println!(
        "Datapath round trips, {} B request and response, one connection, median of {} runs of {} s",
        report.size_bytes, report.runs, report.duration_secs
    );
    println!(
        "kernel {}, {} CPUs, {}, load average at the end: {}",
        report.kernel,
        report.cpus,
        report
            .pinned_cpu
            .map_or("unpinned".to_string(), |cpu| format!(
                "all processes on CPU {cpu}"
            )),
        report.load_average
    );
    println!(
        "{:<4} {:<40} {:>9} {:>9} {:>9} {:>14} {:>14}",
        "", "path", "p50 µs", "p99 µs", "mean µs", "round trips/s", "proxy CPU µs"
    );
    for path in &report.paths {
        match &path.median {
            Some(m) => println!(
                "({}) {:<40} {:>9.1} {:>9.1} {:>9.1} {:>14.0} {:>14}",
                path.key,
                path.path,
                m.p50_us,
                m.p99_us,
                m.mean_us,
                m.per_second,
                path.proxy_cpu_us_per_round_trip
                    .map_or(String::new(), |us| format!("{us:.1}"))
            ),
            None => println!(
                "({}) {:<40} skipped: {}",
                path.key,
                path.path,
                path.skipped.as_deref().unwrap_or("")
            ),
        }
    }
    if let Some(c) = &report.connect {
        println!(
            "connect() to the node proxy: {:.1} µs directly, {:.1} µs to the VIP through connect4 (mean of {})",
            c.direct_us, c.connect4_us, c.samples
        );
    }
    println!(
        "one-way costs for models/kernel.toml (µs): {}",
        report.per_leg_us
    );
    if !report.many.is_empty() {
        println!(
            "\nMany connections, unpinned: wrk, {} threads, {} keep-alive connections, {} s, against nginx (a worker per CPU); median of {} runs by p99",
            report.load.threads, report.load.connections, report.load.duration_secs, report.runs
        );
        println!(
            "{:<4} {:<40} {:>12} {:>9} {:>9} {:>9} {:>9} {:>10}",
            "", "path", "requests/s", "p50 µs", "p75 µs", "p90 µs", "p99 µs", "max µs"
        );
        for row in &report.many {
            match &row.median {
                Some(m) => println!(
                    "({}) {:<40} {:>12.0} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>10.0}",
                    row.key,
                    row.path,
                    m.requests_per_second,
                    m.p50_us,
                    m.p75_us,
                    m.p90_us,
                    m.p99_us,
                    m.max_us
                ),
                None => println!(
                    "({}) {:<40} skipped: {}",
                    row.key,
                    row.path,
                    row.skipped.as_deref().unwrap_or("")
                ),
            }
            for run in &row.runs {
                let per_k = |switches: u64| {
                    switches as f64 * 1000.0
                        / (run.requests_per_second * report.load.duration_secs).max(1.0)
                };
                println!(
                    "     run: {:.0} requests/s, p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs; preempted per 1000 requests: wrk {:.1}, nginx {:.1}; slept: wrk {:.1}, nginx {:.1}",
                    run.requests_per_second,
                    run.p50_us,
                    run.p99_us,
                    run.max_us,
                    per_k(run.wrk_involuntary_switches),
                    per_k(run.nginx_involuntary_switches),
                    per_k(run.wrk_voluntary_switches),
                    per_k(run.nginx_voluntary_switches),
                );
            }
        }
        for RowCost { row, cost } in &report.sk_msg_costs {
            println!(
                "({row}) {}: {:.0} ns per message, mean of {} runs (kernel run-time statistics)",
                cost.program, cost.mean_ns, cost.runs
            );
        }
    }
    if let Some(m) = &report.mtls {
        println!("node proxies, plain hop on one node (j) and mTLS tunnel between two nodes (k):");
        println!(
            "{:<4} {:<22} {:>9} {:>9} {:>16} {:>14} {:>18}",
            "", "path", "p50 µs", "p99 µs", "CPU µs/conn", "CPU ns/byte", "RSS bytes/conn"
        );
        for (key, name, costs) in [
            ("j", "plain proxy hop", &m.plain),
            ("k", "mTLS tunnel", &m.tunnel),
        ] {
            let (p50, p99) = costs
                .round_trips
                .as_ref()
                .map_or((f64::NAN, f64::NAN), |r| (r.p50_us, r.p99_us));
            println!(
                "({key}) {name:<22} {p50:>9.1} {p99:>9.1} {:>16.1} {:>14.2} {:>18.0}",
                costs.cpu_per_connection_us, costs.cpu_per_byte_ns, costs.rss_per_connection_bytes
            );
        }
        println!(
            "TLS per tunnel end: handshake {:.1} µs CPU, records {:.2} ns CPU per byte, {:.0} bytes per connection",
            m.handshake_cpu_us_per_end,
            m.record_cpu_ns_per_byte_per_end,
            m.memory_bytes_per_connection_per_end
        );
        println!("TLS alone, in memory: {}", m.tls_in_memory);
    }
}
