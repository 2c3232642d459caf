//! Products, encryption and the bill (`[mesh] products`, `[bill]`, models/resources.toml).

use sim::capacity::{self, ArchitectureCapacity};
use sim::config::{self, LoadOptions};
use sim::cost_model::Catalog;
use std::path::Path;

fn evaluate(text: &str) -> Vec<ArchitectureCapacity> {
    let catalog = Catalog::embedded();
    let (scenario, _) = config::load_str(Path::new("test.toml"), text, &LoadOptions::new(&catalog))
        .unwrap_or_else(|e| panic!("{e}"));
    capacity::evaluate(&scenario).unwrap()
}

fn column<'a>(results: &'a [ArchitectureCapacity], name: &str) -> &'a ArchitectureCapacity {
    results.iter().find(|a| a.name == name).unwrap()
}

const SMALL: &str = r#"
[cluster]
nodes = 10
pods_per_node = 10
services = 20
calls_per_service = 2
l7_policy_fraction = 0.5
[traffic]
rps_per_pod = 100
[latency]
enabled = false
"#;

#[test]
fn products_replace_the_architectures_unless_both_are_named() {
    let only = evaluate(&format!(
        "{SMALL}[mesh]\nproducts = [\"cilium\", \"linkerd\"]\n"
    ));
    let names: Vec<&str> = only.iter().map(|a| a.name).collect();
    assert_eq!(names, ["cilium", "linkerd"]);
    let both = evaluate(&format!(
        "{SMALL}[mesh]\narchitectures = [\"sidecar\"]\nproducts = [\"istio-sidecar\"]\n"
    ));
    let names: Vec<&str> = both.iter().map(|a| a.name).collect();
    assert_eq!(names, ["sidecar", "istio-sidecar"]);
    // Istio's sidecars are the `sidecar` building block, figure for figure.
    assert_eq!(
        both[0].memory_bytes_total, both[1].memory_bytes_total,
        "istio-sidecar is sidecar"
    );
    assert_eq!(both[0].cpu_cores, both[1].cpu_cores);
}

#[test]
fn each_product_is_built_from_its_blocks() {
    let all = evaluate(&format!(
        "{SMALL}[mesh]\nproducts = [\"istio-sidecar\", \"istio-ambient\", \"cilium\", \"linkerd\", \"kmesh\"]\n"
    ));
    let roles = |name: &str| -> Vec<&str> {
        column(&all, name)
            .proxy_groups
            .iter()
            .filter(|g| g.count > 0)
            .map(|g| g.role)
            .collect()
    };
    assert_eq!(roles("istio-sidecar"), ["sidecar"]);
    assert_eq!(roles("istio-ambient"), ["micro-proxy", "waypoint"]);
    assert_eq!(roles("cilium"), ["l7-node-proxy"]);
    assert_eq!(roles("linkerd"), ["sidecar"]);
    assert_eq!(roles("kmesh"), ["waypoint"]);
    assert_eq!(
        column(&all, "linkerd").proxy_groups[0].component,
        "linkerd2-proxy"
    );
    // Control planes: istiod for Istio and Kmesh, Linkerd's own, an agent per node for Cilium
    // (200 MB + 42 kB × (100 pods + 20 services) on each of the 10 nodes) and its operator:
    // two replicas of 100 MB, and the leader's 10,752 B × (100 pods + 20 services + 10 nodes).
    use sim::capacity::control_plane::ControlPlaneKind;
    let kind = |name: &str| column(&all, name).control_plane.kind;
    assert_eq!(kind("istio-sidecar"), ControlPlaneKind::Istiod);
    assert_eq!(kind("istio-ambient"), ControlPlaneKind::Istiod);
    assert_eq!(kind("kmesh"), ControlPlaneKind::Istiod);
    assert_eq!(kind("linkerd"), ControlPlaneKind::Linkerd);
    assert_eq!(kind("cilium"), ControlPlaneKind::CiliumAgents);
    let cilium = &column(&all, "cilium").control_plane;
    let operator = 2 * 100_000_000 + 130 * 10_752;
    assert_eq!(cilium.operator_replicas, 2);
    assert_eq!(cilium.operator_memory_bytes, operator);
    assert_eq!(
        cilium.memory_bytes,
        10 * (200_000_000 + 120 * 42_000) + operator
    );
    // CPU: 0.07 vCPU per agent, 0.1 for the leading operator.
    assert!((cilium.operator_cpu_cores - 0.1).abs() < 1e-12);
    assert!((cilium.cpu_cores - (10.0 * 0.07 + 0.1)).abs() < 1e-12);
    // No other control plane has an operator.
    assert_eq!(
        column(&all, "istio-sidecar")
            .control_plane
            .operator_memory_bytes,
        0
    );
    // Cilium's node Envoy carries only traffic under L7 policy: less than every request.
    let cilium = &column(&all, "cilium").proxy_groups[0];
    let served = 10.0 * 10.0 * 100.0;
    assert!(
        cilium.rps_total > 0.0 && cilium.rps_total < served,
        "{}",
        cilium.rps_total
    );
    // eBPF maps for the eBPF products, none for Istio's sidecars.
    assert!(column(&all, "cilium").datapath_memory_bytes_total > 0);
    assert!(column(&all, "kmesh").datapath_memory_bytes_total > 0);
    assert_eq!(column(&all, "istio-sidecar").datapath_memory_bytes_total, 0);
    // Linkerd holds only what its pod calls: less configuration than Istio's unscoped Envoy.
    assert!(
        column(&all, "linkerd").memory_bytes_per_proxy_max
            < column(&all, "istio-sidecar").memory_bytes_per_proxy_max
    );
}

#[test]
fn the_report_says_which_columns_encrypt() {
    let text = |cilium: &str| {
        format!(
            "{SMALL}[mesh]\narchitectures = [\"ebpf\", \"per-node\"]\nproducts = [\"istio-sidecar\", \"istio-ambient\", \"cilium\", \"linkerd\", \"kmesh\"]\ncilium_encryption = \"{cilium}\"\n"
        )
    };
    let all = evaluate(&text("wireguard"));
    for (name, encrypted) in [
        ("ebpf", false),
        ("per-node", false),
        ("istio-sidecar", true),
        ("istio-ambient", true),
        ("cilium", true),
        ("linkerd", true),
        ("kmesh", false),
    ] {
        let e = &column(&all, name).encryption;
        assert_eq!(e.encrypted, encrypted, "{name}");
        assert_eq!(e.crypto_cpu_cores > 0.0, encrypted, "{name}");
    }
    let wireguard = column(&all, "cilium").encryption.crypto_cpu_cores;
    let ipsec = evaluate(&text("ipsec"));
    assert!(column(&ipsec, "cilium").encryption.crypto_cpu_cores < wireguard);
    let none = evaluate(&text("none"));
    assert!(!column(&none, "cilium").encryption.encrypted);
    // Ambient's waypoint hop is a second encrypted hop: more bytes than the sidecars'.
    assert!(
        column(&all, "istio-ambient").encryption.bytes_per_second
            > column(&all, "istio-sidecar").encryption.bytes_per_second
    );
}

#[test]
fn the_bill_reserves_requests_and_prices_nodes() {
    let all = evaluate(&format!(
        "{SMALL}[mesh]\nproducts = [\"istio-sidecar\"]\n[bill]\nnode_cores = 8\nnode_memory_gib = 32\nprice_per_hour = 0.5\n"
    ));
    let bill = &column(&all, "istio-sidecar").bill;
    // 100 sidecars at Istio's default 100m and 128 Mi, and istiod's 500m and 2 Gi.
    assert!((bill.cpu_cores_requested - 10.5).abs() < 1e-9);
    assert_eq!(
        bill.memory_bytes_requested,
        100 * 128 * 1024 * 1024 + 2048 * 1024 * 1024
    );
    assert!(bill.cpu_cores_reserved >= bill.cpu_cores_requested);
    assert!(bill.memory_bytes_reserved >= bill.memory_bytes_requested);
    let nodes = bill.nodes.unwrap();
    let by_cpu = bill.cpu_cores_reserved / 8.0;
    let by_memory = bill.memory_bytes_reserved as f64 / (32.0 * 1024.0 * 1024.0 * 1024.0);
    assert_eq!(nodes, by_cpu.max(by_memory));
    assert!((bill.cost_per_month.unwrap() - nodes * 0.5 * 730.0).abs() < 1e-9);
    assert_eq!(bill.currency.as_deref(), Some("USD"));
}

#[test]
fn a_price_without_a_node_shape_is_a_located_error() {
    let catalog = Catalog::embedded();
    let text = format!("{SMALL}[bill]\nprice_per_hour = 0.5\n");
    let error = config::load_str(Path::new("test.toml"), &text, &LoadOptions::new(&catalog))
        .unwrap_err()
        .to_string();
    assert!(error.contains("test.toml:13:"), "{error}");
    assert!(
        error.contains("bill.price_per_hour needs bill.node_cores"),
        "{error}"
    );
}

/// TCP services add a listener each to every unscoped sidecar: past some hundreds the
/// sidecar's high-water memory passes a 128 Mi limit and it is flagged (istio/istio issue
/// 12765: OOM-killed at 600–700 TCP services under 128 Mi).
#[test]
fn a_sidecar_past_its_memory_limit_is_flagged() {
    let over = |services: usize| {
        let mut text = String::from(
            "[cluster]\nnodes = 10\n[latency]\nenabled = false\n[mesh]\nproducts = [\"istio-sidecar\"]\n[models.resources]\nenvoy_sidecar_memory_limit_bytes = 134217728\n",
        );
        for s in 0..services {
            text.push_str(&format!(
                "[[service]]\nname = \"s{s}\"\nreplicas = 1\ntcp_ports = [9000]\nhttp_ports = []\n"
            ));
        }
        let all = evaluate(&text);
        let c = column(&all, "istio-sidecar");
        (
            c.bill.over_memory_limit.clone(),
            c.memory_bytes_per_proxy_max,
        )
    };
    let (flagged, memory) = over(100);
    assert!(flagged.is_empty(), "100 TCP services: {memory} B");
    let (flagged, memory) = over(1_000);
    assert_eq!(flagged, ["sidecar"], "1,000 TCP services: {memory} B");
}

/// Runs `sim run --format json` on `text` and returns the report.
fn run_json(name: &str, text: &str) -> serde_json::Value {
    let dir = std::env::temp_dir().join(format!("meshtwin-products-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("products.toml");
    std::fs::write(&file, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["run", file.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Istio's sidecar and ambient columns are `sidecar` and `uproxy` in the latency simulation
/// too: the same results; the other products have simulations of their own.
#[test]
fn istio_products_take_their_blocks_latency_and_the_others_their_own() {
    let report = run_json(
        "istio",
        &(SMALL.replace("enabled = false", "duration_s = 0.3")
            + "[mesh]\narchitectures = [\"sidecar\"]\nproducts = [\"istio-sidecar\", \"istio-ambient\", \"cilium\"]\n"),
    );
    let columns = report["architectures"].as_array().unwrap();
    let find = |name: &str| columns.iter().find(|c| c["name"] == name).unwrap();
    assert_eq!(
        find("sidecar")["latency_us"],
        find("istio-sidecar")["latency_us"]
    );
    assert!(find("istio-ambient")["latency_us"]["p99"].as_f64().unwrap() > 0.0);
    assert!(find("cilium")["latency_us"]["p99"].as_f64().unwrap() > 0.0);
}

/// A front end calls `api` (under L7 policy) and `db` (not) once per request, on 4 nodes.
const L7_SPLIT: &str = r#"
seed = 3
[cluster]
nodes = 4
[[service]]
name = "front"
replicas = 4
rps_per_pod = 200
calls = [{ service = "api", per_request = 1 }, { service = "db", per_request = 1 }]
[[service]]
name = "api"
replicas = 4
l7_policy = true
[[service]]
name = "db"
replicas = 4
[latency]
duration_s = 2
[mesh]
products = ["istio-sidecar", "istio-ambient", "cilium", "linkerd", "kmesh"]
"#;

/// Each product's proxies see the traffic its data path sends them: Cilium's node Envoy and
/// Kmesh's waypoint every call to the service under L7 policy and no other, Linkerd's
/// sidecars every call as Istio's do; and the added latency ranks as their paths do.
#[test]
fn products_simulate_their_own_data_paths() {
    let report = run_json("paths", L7_SPLIT);
    let columns = report["architectures"].as_array().unwrap();
    let find = |name: &str| columns.iter().find(|c| c["name"] == name).unwrap();
    let visits = |name: &str, kind: &str| -> u64 {
        find(name)["proxies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["kind"] == kind)
            .map(|p| p["visits"].as_u64().unwrap())
            .sum()
    };
    let calls_to = |name: &str, service: &str| -> u64 {
        find(name)["per_service"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == service)
            .unwrap()["calls"]
            .as_u64()
            .unwrap()
    };
    let kinds = |name: &str| -> Vec<String> {
        find(name)["proxies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["visits"].as_u64().unwrap() > 0)
            .map(|p| p["kind"].as_str().unwrap().to_string())
            .collect()
    };
    // Cilium: the node Envoy, once for every call to `api` (a quarter of them on the caller's
    // own node), never for `db`.
    assert_eq!(kinds("cilium"), ["node-proxy"]);
    let (envoy, api) = (visits("cilium", "node-proxy"), calls_to("cilium", "api"));
    assert_eq!(envoy, api, "cilium: Envoy visits against calls to api");
    // Kmesh: a waypoint for the same calls; no node proxy.
    assert_eq!(kinds("kmesh"), ["waypoint"]);
    let (waypoint, api) = (visits("kmesh", "waypoint"), calls_to("kmesh", "api"));
    assert_eq!(waypoint, api, "kmesh: waypoint visits against calls to api");
    // Linkerd: sidecars on every call, as many visits per request as Istio's sidecars.
    assert_eq!(kinds("linkerd"), ["sidecar"]);
    let per_request = |name: &str| {
        visits(name, "sidecar") as f64 / find(name)["requests"].as_u64().unwrap() as f64
    };
    assert!(
        (per_request("linkerd") / per_request("istio-sidecar") - 1.0).abs() < 0.02,
        "{} vs {}",
        per_request("linkerd"),
        per_request("istio-sidecar")
    );
    // Added median: one Envoy on some calls < one waypoint on some < two linkerd2-proxies on
    // every call < two Envoys on every call; and Linkerd below ambient's two ztunnels on every
    // call and a waypoint on some (as Linkerd's own 2025 benchmark has it, ../shared/ANCHORS.md).
    let added_p50 = |name: &str| find(name)["added_latency_us"]["p50"].as_f64().unwrap();
    assert!(added_p50("linkerd") < added_p50("istio-ambient"));
    let order = ["cilium", "kmesh", "linkerd", "istio-sidecar"];
    for pair in order.windows(2) {
        assert!(
            added_p50(pair[0]) < added_p50(pair[1]),
            "{}: {} µs, {}: {} µs",
            pair[0],
            added_p50(pair[0]),
            pair[1],
            added_p50(pair[1])
        );
    }
}

/// Cilium's WireGuard costs every leg between nodes its crypto: without it, less latency.
#[test]
fn cilium_encryption_adds_its_crypto_to_the_legs_between_nodes() {
    let with = |encryption: &str| -> f64 {
        let text = L7_SPLIT.replace(
            "[mesh]\n",
            &format!(
                "[traffic]\npayload_bytes = 65536\n[mesh]\ncilium_encryption = \"{encryption}\"\n"
            ),
        );
        let report = run_json(&format!("wg-{encryption}"), &text);
        let cilium = report["architectures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "cilium")
            .unwrap()
            .clone();
        cilium["latency_us"]["p50"].as_f64().unwrap()
    };
    let (plain, wireguard) = (with("none"), with("wireguard"));
    assert!(
        wireguard > plain + 10.0,
        "64 KiB payloads: {plain} µs plain, {wireguard} µs with WireGuard"
    );
}

/// Two services of one HTTP port each: `a` (2 replicas) calls `b` (3 replicas).
fn churn_file(changes: Option<f64>, products: &str) -> String {
    let key = changes.map_or(String::new(), |c| {
        format!("endpoint_changes_per_second = {c}\n")
    });
    format!(
        r#"
[cluster]
nodes = 2
{key}
[[service]]
name = "a"
replicas = 2
calls = ["b"]
[[service]]
name = "b"
replicas = 3
[latency]
enabled = false
[mesh]
products = [{products}]
"#
    )
}

#[test]
fn endpoint_churn_becomes_istiod_pushes_by_hand() {
    let all = evaluate(&churn_file(Some(1.0), "\"istio-sidecar\""));
    let c = &column(&all, "istio-sidecar").control_plane;
    // One change a second, debounced by 100 ms: a push follows each change no other follows
    // within 100 ms, e^-0.1 per second; each push holds e^0.1 changes.
    let pushes = (-0.1f64).exp();
    assert!((c.churn.pushes_per_second - pushes).abs() < 1e-12);
    assert!((c.churn.changes_per_push - 0.1f64.exp()).abs() < 1e-12);
    // Unscoped, every one of the 5 sidecars holds both services (5 endpoints, and its own
    // inbound one): every push reaches all 5.
    assert!((c.churn.proxies_per_push - 5.0).abs() < 1e-12);
    // A change hits a pod at random, so a service with the chance of its replicas: its
    // cluster resent whole is (2 × 2 + 3 × 3) / 5 = 2.6 endpoints. A push sends each sidecar
    // e^0.1 × 2.6 endpoints of 250 B: 718 B; all of them per second 1 × 5 × 2.6 × 250.
    assert_eq!(c.churn.bytes_per_push_per_proxy_max, 718);
    assert!((c.churn.bytes_per_second - 3250.0).abs() < 1e-9);
    // istiod's CPU: 0.0005 vCPU per proxy, plus 2 ms per proxy a push reaches.
    let churn_cpu = pushes * 5.0 * 0.002;
    assert!((c.churn.cpu_cores - churn_cpu).abs() < 1e-12);
    assert!((c.base_cpu_cores - 5.0 * 0.0005).abs() < 1e-12);
    assert!((c.cpu_cores - (5.0 * 0.0005 + churn_cpu)).abs() < 1e-12);
}

#[test]
fn endpoint_churn_reaches_only_linkerds_callers() {
    let all = evaluate(&churn_file(Some(1.0), "\"linkerd\""));
    let c = &column(&all, "linkerd").control_plane;
    // Linkerd's destination service sends each change as it comes: one push per change.
    assert!((c.churn.pushes_per_second - 1.0).abs() < 1e-12);
    // a's 2 proxies hold b's 3 endpoints and their inbound one, b's 3 only their inbound one:
    // 11 of the cluster's 5 endpoints over 5 proxies, a share of 2.2 / 5 = 0.44 each.
    assert!((c.churn.proxies_per_push - 2.2).abs() < 1e-12);
    // Each reached proxy gets the changed address only: 250 B; 2.2 × 250 B per second.
    assert_eq!(c.churn.bytes_per_push_per_proxy_max, 250);
    assert!((c.churn.bytes_per_second - 550.0).abs() < 1e-9);
    // No published CPU figure for Linkerd's control plane.
    assert_eq!(c.cpu_cores, 0.0);
}

#[test]
fn no_churn_changes_nothing() {
    let products = "\"istio-sidecar\", \"istio-ambient\", \"cilium\", \"linkerd\", \"kmesh\"";
    let without = evaluate(&churn_file(None, products));
    let zero = evaluate(&churn_file(Some(0.0), products));
    let json = |a: &[ArchitectureCapacity]| serde_json::to_string(a).unwrap();
    assert_eq!(json(&without), json(&zero));
    for a in &zero {
        let c = &a.control_plane;
        assert_eq!(c.churn, Default::default(), "{}", a.name);
        assert_eq!(c.cpu_cores, c.base_cpu_cores, "{}", a.name);
    }
}
