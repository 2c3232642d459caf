//! Issue 15's protocols per port: HTTP/2 and gRPC calls are streams on one connection, so
//! every pool keeps one connection to each upstream of such a service; plain TCP cannot be
//! under L7 policy.

use sim::capacity;
use sim::config::{self, LoadOptions, Scenario};
use sim::cost_model::Catalog;
use std::path::Path;

fn load_str(text: &str) -> Result<Scenario, String> {
    let catalog = Catalog::embedded();
    config::load_str(Path::new("inline.toml"), text, &LoadOptions::new(&catalog))
        .map(|(scenario, _)| scenario)
        .map_err(|e| e.to_string())
}

/// web (2 pods, HTTP/1.1) calls api (3 pods) on `ports`, pools of 8 per upstream.
fn open_connections(ports: &str) -> Vec<(&'static str, u64)> {
    let scenario = load_str(&format!(
        r#"
[cluster]
nodes = 2

[[service]]
name = "web"
replicas = 2
calls = ["api"]

[[service]]
name = "api"
replicas = 3
{ports}

[traffic]
connections_per_upstream = 8

[mesh]
architectures = ["sidecar", "ebpf"]
"#
    ))
    .unwrap();
    capacity::evaluate(&scenario)
        .unwrap()
        .iter()
        .map(|a| (a.name, a.connections_open_total))
        .collect()
}

#[test]
fn grpc_and_http2_callees_take_one_connection_per_pool() {
    // Sidecars: each web pod's app → sidecar 8, sidecar → every api replica 3 × 8, pools to
    // its app 2 workers × 8; each api pod's pools to its app 2 × 8: 2 × 48 + 3 × 16.
    assert_eq!(
        open_connections("http_ports = [8080]"),
        [("sidecar", 144), ("ebpf", 16)]
    );
    // gRPC: one per pool to api: 2 × (1 + 3 + 16) + 3 × 2; the apps' own 2 × 1.
    let grpc = [("sidecar", 46), ("ebpf", 2)];
    assert_eq!(open_connections("grpc_ports = [9090]"), grpc);
    assert_eq!(open_connections("http2_ports = [8443]"), grpc);
    // A metrics port beside gRPC does not make its calls HTTP/1.1.
    assert_eq!(
        open_connections("http_ports = [9102]\ngrpc_ports = [9090]"),
        grpc
    );
}

#[test]
fn grpc_ports_are_http_listeners() {
    let scenario = load_str(
        "[cluster]\nnodes = 1\n[[service]]\nname = \"api\"\nreplicas = 1\ngrpc_ports = [9090]\ntcp_ports = [6379]\n",
    )
    .unwrap();
    let api = &scenario.cluster.services[0];
    assert_eq!(api.http_ports, [9090]);
    assert_eq!(api.tcp_ports, [6379]);
    assert_eq!(api.protocol, sim::cluster::protocol::Protocol::Grpc);
}

#[test]
fn plain_tcp_cannot_be_under_l7_policy() {
    let error = load_str(
        "[cluster]\nnodes = 1\n[[service]]\nname = \"redis\"\nreplicas = 1\ntcp_ports = [6379]\nl7_policy = true\n",
    )
    .unwrap_err();
    assert!(error.contains("waypoints do not see it"), "{error}");
}
