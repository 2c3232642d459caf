//! One CSV row per architecture (and scoping, and scheduling): the headline columns of the
//! JSON schema. Wall time is left out so that the same seed gives the same bytes.

use super::Report;
use crate::engine::{Bounds, Percentiles};

const HEADER: &str = "name,scoping,scheduling,proxies,memory_bytes_total,memory_bytes_per_node_max,memory_bytes_per_proxy_max,datapath_memory_bytes_total,connections_per_request,socket_buffer_bytes_per_request,connections_open_total,new_connections_per_second,socket_memory_bytes_total,cpu_cores,cpu_cores_per_node_max,identities_per_proxy_max,workloads_per_proxy_max,tenants_per_proxy_max,latency_us_p50,latency_us_p90,latency_us_p99,latency_us_p999,latency_us_mean,added_latency_us_p50,added_latency_us_p90,added_latency_us_p99,added_latency_us_p999,added_latency_us_mean,requests,dropped,timed_out,throughput_rps,saturated,events";

/// Five cells: empty when nothing was measured, `beyond` for a value past the histograms'
/// range.
fn percentiles(p: Option<&Percentiles>, beyond: &str) -> [String; 5] {
    let Some(p) = p else {
        return Default::default();
    };
    [p.p50, p.p90, p.p99, p.p999, p.mean].map(|v| match v {
        Some(v) => format!("{v:.3}"),
        None => beyond.to_string(),
    })
}

pub fn render(report: &Report) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    for item in &report.architectures {
        let a = &item.capacity;
        let b = &a.blast_radius;
        let mut row = vec![
            a.name.to_string(),
            a.scoping.to_string(),
            item.scheduling.map(|s| s.to_string()).unwrap_or_default(),
            a.proxies.to_string(),
            a.memory_bytes_total.to_string(),
            a.memory_bytes_per_node_max.to_string(),
            a.memory_bytes_per_proxy_max.to_string(),
            a.datapath_memory_bytes_total.to_string(),
            a.connections_per_request.to_string(),
            a.socket_buffer_bytes_per_request.to_string(),
            a.connections_open_total.to_string(),
            format!("{:.3}", a.new_connections_per_second),
            a.socket_memory_bytes_total.to_string(),
            format!("{:.4}", a.cpu_cores),
            format!("{:.4}", a.cpu_cores_per_node_max),
            b.identities_per_proxy_max.to_string(),
            b.workloads_per_proxy_max.to_string(),
            b.tenants_per_proxy_max.to_string(),
        ];
        match &item.latency {
            Some(l) => {
                let ceiling = format!(">{}", Bounds::PRECISE.high / 1000);
                row.extend(percentiles(l.latency_us.as_ref(), &ceiling));
                row.extend(percentiles(
                    l.added_latency_us.as_ref(),
                    super::table::UNKNOWN_DIFFERENCE,
                ));
                row.extend([
                    l.requests.to_string(),
                    l.dropped.to_string(),
                    l.timed_out.to_string(),
                    format!("{:.3}", l.throughput_rps),
                    l.saturated.to_string(),
                    l.events.to_string(),
                ]);
            }
            None => row.extend(std::iter::repeat_n(String::new(), 16)),
        }
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}
