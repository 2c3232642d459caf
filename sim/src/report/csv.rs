//! One CSV row per architecture (and scoping), the headline columns of the JSON schema.

use super::Report;

const HEADER: &str = "name,scoping,proxies,memory_bytes_total,memory_bytes_per_node_max,memory_bytes_per_proxy_max,datapath_memory_bytes_total,connections_per_request,socket_buffer_bytes_per_request,connections_open_total,new_connections_per_second,socket_memory_bytes_total,cpu_cores,cpu_cores_per_node_max,identities_per_proxy_max,workloads_per_proxy_max,tenants_per_proxy_max";

pub fn render(report: &Report) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    for a in &report.architectures {
        let b = &a.blast_radius;
        let row = [
            a.name.to_string(),
            a.scoping.to_string(),
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
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}
