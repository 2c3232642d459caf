//! The published figures of ../shared/ANCHORS.md reproduced by the shipped anchor scenarios
//! (`sim/scenarios/anchor-*.toml`), each within a stated tolerance:
//!
//! - CPU per 1000 rps through a proxy: within 5% of the published figure (the model's CPU is
//!   the published rate times the requests it counts through the proxy, plus handshakes, none
//!   with pooled connections: a miscount of the requests shows as a miss).
//! - Memory published for a proxy kind: inside the range that the models' sources give (every
//!   parameter at its `low`, then its `high`); where the model's own value is close, also
//!   within the stated fraction of it. Where it is not, the test says by how much, and
//!   docs/architecture.md ("Anchors") says why.

use sim::capacity::{self, ArchitectureCapacity, ProxyGroup};
use sim::config::{self, LoadOptions};
use sim::cost_model::Catalog;
use std::path::Path;

fn evaluate(name: &str) -> Vec<ArchitectureCapacity> {
    let catalog = Catalog::embedded();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    let (scenario, _) =
        config::load(&path, &LoadOptions::new(&catalog)).unwrap_or_else(|e| panic!("{e}"));
    capacity::evaluate(&scenario).unwrap()
}

fn column<'a>(results: &'a [ArchitectureCapacity], name: &str) -> &'a ArchitectureCapacity {
    results
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

fn group<'a>(column: &'a ArchitectureCapacity, role: &str) -> &'a ProxyGroup {
    column
        .proxy_groups
        .iter()
        .find(|g| g.role == role)
        .unwrap_or_else(|| panic!("{} has no {role} proxies", column.name))
}

/// vCPU per 1000 requests per second through the group's proxies.
fn vcpu_per_krps(g: &ProxyGroup) -> f64 {
    g.cpu_cores / (g.rps_total / 1000.0)
}

fn within(value: f64, published: f64, tolerance: f64, what: &str) {
    let off = (value - published).abs() / published;
    assert!(
        off <= tolerance,
        "{what}: the model gives {value}, published {published}: {:.0}% off, more than {:.0}%",
        off * 100.0,
        tolerance * 100.0
    );
}

/// The published memory lies in the range of the column's largest proxy.
fn in_memory_range(column: &ArchitectureCapacity, published: u64, what: &str) {
    let range = column
        .range
        .as_ref()
        .expect("the models give ranges")
        .memory_bytes_per_proxy_max;
    assert!(
        range.low <= published && published <= range.high,
        "{what}: published {published} B is outside the model's range {} – {} B",
        range.low,
        range.high
    );
}

#[test]
fn istio_1_24_per_proxy_cpu_at_1000_rps() {
    let results = evaluate("anchor-istio-1.24-pair.toml");
    let sidecars = group(column(&results, "istio-sidecar"), "sidecar");
    assert_eq!(sidecars.count, 2);
    within(
        vcpu_per_krps(sidecars),
        0.20,
        0.05,
        "sidecar vCPU per 1000 rps",
    );
    // Each sidecar carries the 1000 rps once (client out, server in).
    within(
        sidecars.rps_max,
        1000.0,
        0.0,
        "requests through one sidecar",
    );
    let ambient = column(&results, "istio-ambient");
    within(
        vcpu_per_krps(group(ambient, "micro-proxy")),
        0.06,
        0.05,
        "ztunnel vCPU per 1000 rps",
    );
    within(
        vcpu_per_krps(group(ambient, "waypoint")),
        0.25,
        0.05,
        "waypoint vCPU per 1000 rps",
    );
}

#[test]
fn istio_1_24_per_proxy_memory_at_1000_rps() {
    let results = evaluate("anchor-istio-1.24-pair.toml");
    let sidecar = column(&results, "istio-sidecar");
    // 60 MB: inside the Envoy model's range (11–210 MB base, envoy issues 18515, 34467); the
    // model's own value (its base is the lower RSS bound) is a third of it.
    in_memory_range(sidecar, 60_000_000, "sidecar memory");
    let ambient = column(&results, "istio-ambient");
    // 12 MB is the ztunnel model's base itself: the two pods add a few kB.
    within(
        group(ambient, "micro-proxy").memory_bytes_max as f64,
        12e6,
        0.05,
        "ztunnel memory",
    );
    // The waypoint is an Envoy: 60 MB inside its range.
    in_memory_range(ambient, 60_000_000, "waypoint memory");
}

#[test]
fn istio_test_mesh_counts_2000_sidecars_at_0_20_vcpu_per_1000_rps() {
    let results = evaluate("anchor-istio-test-mesh.toml");
    let sidecar = column(&results, "istio-sidecar");
    let sidecars = group(sidecar, "sidecar");
    assert_eq!(sidecars.count, 2_000);
    within(
        sidecars.rps_total,
        70_000.0,
        0.001,
        "requests through the sidecars",
    );
    within(
        vcpu_per_krps(sidecars),
        0.20,
        0.05,
        "sidecar vCPU per 1000 rps",
    );
    // 70,000 rps at 0.20 vCPU per 1000: 14 cores of sidecars mesh-wide.
    within(sidecar.cpu_cores, 14.0, 0.05, "the sidecars' CPU");
    let ambient = column(&results, "istio-ambient");
    assert_eq!(
        group(ambient, "micro-proxy").count,
        100,
        "a ztunnel per node"
    );
    within(
        vcpu_per_krps(group(ambient, "micro-proxy")),
        0.06,
        0.05,
        "ztunnel vCPU per 1000 rps",
    );
}

#[test]
fn linkerd_2_11_against_istio_1_12_at_2000_rps() {
    let results = evaluate("anchor-linkerd-vs-istio-2021.toml");
    let linkerd = column(&results, "linkerd");
    let istio = column(&results, "istio-sidecar");
    // Linkerd's largest proxy, 26.3 MB: within 25% of the model's value and in its range.
    within(
        linkerd.memory_bytes_per_proxy_max as f64,
        26.3e6,
        0.25,
        "linkerd2-proxy memory",
    );
    in_memory_range(linkerd, 26_300_000, "linkerd2-proxy memory");
    // Istio 1.12's Envoy, 156.2 MB: only inside the range. The model's own value is the
    // lower RSS bound of Envoy's base and misses it by 7×: the harness's Envoy held the whole
    // cluster's services and Istio 1.12's statistics, which the scenario does not know.
    in_memory_range(istio, 156_200_000, "Envoy memory");
    assert!(
        (istio.memory_bytes_per_proxy_max as f64) < 156.2e6 / 5.0,
        "the Envoy model's own value moved towards Istio 1.12's 156.2 MB: tighten this test"
    );
}
