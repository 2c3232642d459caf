//! The latency simulation on shipped scenarios: the published sidecar and ztunnel figures,
//! the noisy neighbour, saturation, determinism.

use sim::commands::{model, SimulationArgs};
use sim::config::{self, LoadOptions, Scenario};
use sim::cost_model::Catalog;
use sim::report::Report;
use std::path::Path;

fn load(name: &str) -> Scenario {
    let catalog = Catalog::embedded();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    config::load(&path, &LoadOptions::new(&catalog))
        .unwrap_or_else(|e| panic!("{e}"))
        .0
}

fn load_str(text: &str) -> Scenario {
    let catalog = Catalog::embedded();
    config::load_str(Path::new("inline.toml"), text, &LoadOptions::new(&catalog))
        .unwrap_or_else(|e| panic!("{e}"))
        .0
}

fn simulate(scenario: &Scenario) -> Report {
    let args = SimulationArgs {
        no_latency: false,
        duration: None,
        threads: Some(2),
        quiet: true,
    };
    model(scenario, "test", &args).unwrap_or_else(|e| panic!("{e:?}"))
}

/// End-to-end p90 and p99 (µs) minus the baseline's.
fn added(report: &Report, architecture: &str) -> (f64, f64) {
    let base = report.baseline.as_ref().unwrap().latency_us.unwrap();
    let item = report
        .architectures
        .iter()
        .find(|a| a.capacity.name == architecture)
        .unwrap();
    let mesh = item.latency.as_ref().unwrap().latency_us.unwrap();
    (
        mesh.p90.unwrap() - base.p90.unwrap(),
        mesh.p99.unwrap() - base.p99.unwrap(),
    )
}

fn within(value: f64, published: f64, tolerance: f64) -> bool {
    (value - published).abs() <= published * tolerance
}

#[test]
fn sidecars_and_ztunnels_add_the_published_latency_at_1000_rps() {
    let report = simulate(&load("istio-sidecar-1000rps.toml"));
    // Istio 1.20: both sidecars add 0.228 ms p90 / 0.298 ms p99 (models/envoy.toml).
    let (p90, p99) = added(&report, "sidecar");
    assert!(
        within(p90, 228.0, 0.15) && within(p99, 298.0, 0.15),
        "sidecar: {p90} / {p99}"
    );
    // Istio 1.22 ambient: two ztunnels add 0.17 ms p90 / 0.20 ms p99 (models/ztunnel.toml).
    let (p90, p99) = added(&report, "uproxy");
    assert!(
        within(p90, 170.0, 0.15) && within(p99, 200.0, 0.15),
        "ztunnel: {p90} / {p99}"
    );
    // eBPF adds next to nothing on the same path.
    let (p90, _) = added(&report, "ebpf");
    assert!(p90 < 20.0, "ebpf: {p90}");
}

fn service_p99(report: &Report, architecture: &str, scheduling: &str, service: &str) -> f64 {
    let item = report
        .architectures
        .iter()
        .find(|a| a.capacity.name == architecture && a.scheduling.unwrap().name() == scheduling)
        .unwrap();
    let latency = item.latency.as_ref().unwrap();
    latency
        .per_service
        .iter()
        .find(|s| s.name == service)
        .unwrap()
        .latency_us
        .unwrap()
        .p99
        .unwrap()
}

#[test]
fn a_bursty_tenant_hurts_its_neighbours_behind_a_fifo_node_proxy_but_not_with_fair_queueing() {
    let report = simulate(&load("noisy-neighbour.toml"));
    let fifo = service_p99(&report, "per-node", "fifo", "web");
    let fair = service_p99(&report, "per-node", "fair", "web");
    assert!(
        fifo > 10.0 * fair,
        "per-node web p99: fifo {fifo} µs, fair {fair} µs"
    );
    // Sidecars do not share: the neighbour's burst does not reach `web` either way.
    let sidecar_fifo = service_p99(&report, "sidecar", "fifo", "web");
    let sidecar_fair = service_p99(&report, "sidecar", "fair", "web");
    assert!(sidecar_fifo < 2.0 * sidecar_fair && sidecar_fair < 2.0 * sidecar_fifo);
    assert!(sidecar_fifo < fifo / 10.0);
}

#[test]
fn an_overloaded_proxy_is_reported_saturated_and_the_run_ends() {
    let report = simulate(&load_str(
        "[cluster]\nnodes = 1\n[[service]]\nname = \"hot\"\nreplicas = 1\nrps_per_pod = 200000\n[mesh]\narchitectures = [\"sidecar\", \"ebpf\"]\n[latency]\nduration_s = 1\nwarmup_s = 0\n",
    ));
    let sidecar = report.architectures[0].latency.as_ref().unwrap();
    assert!(sidecar.saturated);
    assert!(sidecar.dropped > 0);
    assert!(sidecar.proxies[0].utilisation_max > 0.95);
    assert!(
        sidecar.throughput_rps < 100_000.0,
        "{}",
        sidecar.throughput_rps
    );
    let ebpf = report.architectures[1].latency.as_ref().unwrap();
    assert!(!ebpf.saturated && ebpf.dropped == 0);
}

/// The JSON report without the wall-clock fields, which are the only ones allowed to vary.
fn deterministic_json(report: &Report) -> String {
    // Through the report's own JSON, so the snapshots hold the rounded numbers it writes.
    let mut value: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    mask_wall_seconds(&mut value);
    serde_json::to_string_pretty(&value).unwrap()
}

fn mask_wall_seconds(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            if map.contains_key("wall_seconds") {
                map.insert("wall_seconds".into(), serde_json::json!(0));
            }
            map.values_mut().for_each(mask_wall_seconds);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_wall_seconds),
        _ => {}
    }
}

#[test]
fn same_seed_same_output_whatever_the_threads() {
    let scenario = load("noisy-neighbour.toml");
    let one = |threads| {
        let args = SimulationArgs {
            no_latency: false,
            duration: None,
            threads: Some(threads),
            quiet: true,
        };
        deterministic_json(&model(&scenario, "test", &args).unwrap_or_else(|e| panic!("{e:?}")))
    };
    assert_eq!(one(1), one(2));
    let mut other = scenario.clone();
    other.seed += 1;
    assert_ne!(one(2), deterministic_json(&simulate(&other)));
}

#[test]
fn shipped_scenarios_with_latency_snapshots() {
    for name in [
        "istio-sidecar-1000rps.toml",
        "noisy-neighbour.toml",
        "seed002-20-services-3-nodes.toml",
    ] {
        let report = simulate(&load(name));
        insta::assert_snapshot!(format!("latency-{name}"), deterministic_json(&report));
    }
}

#[test]
fn the_reference_cluster_runs_every_architecture() {
    let mut scenario = load("reference-500x30.toml");
    scenario.latency.duration_s = 1.0;
    scenario.latency.warmup_s = 0.5;
    let report = simulate(&scenario);
    assert_eq!(report.architectures.len(), 5);
    for item in &report.architectures {
        let l = item.latency.as_ref().unwrap();
        assert!(
            l.requests > 10_000,
            "{}: {}",
            item.capacity.name,
            l.requests
        );
        assert!(!l.saturated, "{}", item.capacity.name);
        let p = l.latency_us.unwrap();
        assert!(p.p50.unwrap() > 0.0 && p.p99 >= p.p50);
    }
    let added_p50 = |name: &str| {
        report
            .architectures
            .iter()
            .find(|a| a.capacity.name == name)
            .unwrap()
            .latency
            .as_ref()
            .unwrap()
            .added_hop_latency_us
            .unwrap()
            .p50
            .unwrap()
    };
    // More proxies on the path, more latency: sidecar > per-node > ebpf.
    assert!(added_p50("sidecar") > added_p50("per-node"));
    assert!(added_p50("per-node") > added_p50("ebpf"));
}

/// A request down a chain of 8,000 services, each calling the next: the walk that issues the
/// calls keeps its pending work on the heap, so the depth of the call graph costs no thread
/// stack (a recursive walk overflowed the simulation thread's 2 MiB at about 29,000 frames).
#[test]
fn a_chain_of_8000_services_runs_without_overflowing_the_stack() {
    for call_mode in ["sequential", "parallel"] {
        let mut text = format!(
            "[cluster]\nnodes = 80\n[mesh]\narchitectures = [\"ebpf\"]\n\
             [traffic]\nrps_per_pod = 20\ncall_mode = \"{call_mode}\"\n\
             [latency]\nduration_s = 1\nwarmup_s = 0\n"
        );
        let services = 8000;
        for i in 0..services {
            text.push_str(&format!("[[service]]\nname = \"s{i}\"\nreplicas = 1\n"));
            if i + 1 < services {
                text.push_str(&format!("calls = [\"s{}\"]\n", i + 1));
            }
        }
        let report = simulate(&load_str(&text));
        let ebpf = report.architectures[0].latency.as_ref().unwrap();
        for run in [report.baseline.as_ref().unwrap(), ebpf] {
            // Requests went down the whole chain (a request takes about 0.2 s; calls issued
            // after the measured second are not counted).
            assert!(run.requests > 0, "{call_mode}: no request measured");
            assert!(run.calls > services, "{call_mode}: {} calls", run.calls);
            assert!(run.calls <= run.requests * services, "{call_mode}");
        }
    }
}
