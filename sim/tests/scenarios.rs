//! The shipped example scenarios: the figures the seed articles argue with, asserted exactly,
//! and every scenario's JSON report snapshot-tested.

use sim::capacity::{self, ArchitectureCapacity};
use sim::config::{self, LoadOptions, Scenario};
use sim::cost_model::Catalog;
use sim::report::Report;
use std::path::{Path, PathBuf};

fn scenario_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

fn load(name: &str, seed: Option<u64>) -> Scenario {
    let catalog = Catalog::embedded();
    config::load(
        &scenario_path(name),
        &LoadOptions {
            seed,
            ..LoadOptions::new(&catalog)
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .0
}

fn architecture<'a>(results: &'a [ArchitectureCapacity], name: &str) -> &'a ArchitectureCapacity {
    results.iter().find(|a| a.name == name).unwrap()
}

fn report_json(name: &str) -> String {
    let scenario = load(name, None);
    let label = format!("scenarios/{name}");
    Report::new(
        &scenario,
        &label,
        capacity::evaluate(&scenario).unwrap(),
        None,
    )
    .to_json()
}

#[test]
fn seed_003_sidecars_take_1_05_tb_and_node_proxies_35_gb() {
    let results = capacity::evaluate(&load("seed003-flat-70MB.toml", None)).unwrap();
    let sidecar = architecture(&results, "sidecar");
    let per_node = architecture(&results, "per-node");
    assert_eq!(sidecar.proxies, 15_000);
    assert_eq!(sidecar.proxy_memory_bytes_total, 1_050_000_000_000);
    assert_eq!(per_node.proxies, 500);
    assert_eq!(per_node.proxy_memory_bytes_total, 35_000_000_000);
    assert_eq!(
        sidecar.proxy_memory_bytes_total,
        30 * per_node.proxy_memory_bytes_total
    );
    // The blog's "1.5 TB" would need 100 MB per proxy.
    assert_ne!(sidecar.proxy_memory_bytes_total, 1_500_000_000_000);
}

#[test]
fn seed_002_one_hundred_sidecars_take_about_2_gb_per_node() {
    let scenario = load("seed002-20-services-3-nodes.toml", None);
    assert_eq!(scenario.cluster.services.len(), 20);
    assert_eq!(scenario.cluster.nodes(), 3);
    let results = capacity::evaluate(&scenario).unwrap();
    let sidecar = architecture(&results, "sidecar");
    let per_node = architecture(&results, "per-node");
    assert_eq!(sidecar.proxies, 100);
    assert_eq!(per_node.proxies, 3);
    // 100 sidecars at 60 MB on 3 nodes: 34 on the busiest node.
    assert_eq!(sidecar.memory_bytes_per_node_max, 34 * 60_000_000);
    let per_node_average = sidecar.proxy_memory_bytes_total as f64 / 3.0;
    assert!(
        (1.9e9..=2.4e9).contains(&per_node_average),
        "{per_node_average}"
    );
}

#[test]
fn cross_node_paths_need_one_two_and_three_connections() {
    let results = capacity::evaluate(&load("reference-500x30.toml", None)).unwrap();
    assert_eq!(architecture(&results, "ebpf").connections_per_request, 1);
    assert_eq!(
        architecture(&results, "per-node").connections_per_request,
        2
    );
    assert_eq!(architecture(&results, "sidecar").connections_per_request, 3);
    assert_eq!(
        architecture(&results, "uproxy")
            .paths
            .cross_node_l7
            .connections,
        4
    );
}

#[test]
fn sidecar_memory_follows_the_visible_mesh_and_shrinks_with_call_graph_scoping() {
    let results = capacity::evaluate(&load("scoping-mesh-vs-call-graph.toml", None)).unwrap();
    let sidecar = |scoping: &str| {
        results
            .iter()
            .find(|a| a.name == "sidecar" && a.scoping.name() == scoping)
            .unwrap()
            .memory_bytes_per_proxy_max
    };
    assert!(sidecar("call-graph") < sidecar("namespace"));
    assert!(sidecar("namespace") < sidecar("mesh"));
    assert!(sidecar("mesh") > 2 * sidecar("call-graph"));
}

#[test]
fn sidecar_memory_grows_with_the_number_of_services_under_mesh_scoping() {
    let text = |services: u32| {
        format!("seed = 1\n[cluster]\nnodes = 100\npods_per_node = 20\nservices = {services}\n[mesh]\narchitectures = [\"sidecar\"]\n")
    };
    let catalog = Catalog::embedded();
    let memory: Vec<u64> = [50, 200, 800]
        .into_iter()
        .map(|services| {
            let (scenario, _) = config::load_str(
                Path::new("grow.toml"),
                &text(services),
                &LoadOptions::new(&catalog),
            )
            .unwrap();
            capacity::evaluate(&scenario).unwrap()[0].memory_bytes_per_proxy_max
        })
        .collect();
    assert!(memory[0] < memory[1] && memory[1] < memory[2], "{memory:?}");
}

#[test]
fn same_seed_same_report_other_seed_other_call_graph() {
    let a = load("reference-500x30.toml", Some(5));
    let b = load("reference-500x30.toml", Some(5));
    let c = load("reference-500x30.toml", Some(6));
    let json = |s: &Scenario| Report::new(s, "x", capacity::evaluate(s).unwrap(), None).to_json();
    assert_eq!(json(&a), json(&b));
    assert_eq!(a.cluster.call_graph, b.cluster.call_graph);
    assert_ne!(a.cluster.call_graph, c.cluster.call_graph);
}

#[test]
fn the_embedded_default_is_the_shipped_reference_scenario() {
    assert_eq!(
        config::DEFAULT_SCENARIO,
        std::fs::read_to_string(scenario_path("reference-500x30.toml")).unwrap()
    );
}

#[test]
fn every_shipped_scenario_has_a_snapshot() {
    let mut names: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
    names.sort();
    for name in names {
        insta::assert_snapshot!(name.clone(), report_json(&name));
    }
}
