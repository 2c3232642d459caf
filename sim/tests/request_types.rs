//! Issue 15's request types: a service-level cycle inside a finite tree is accepted and runs
//! to the end, a tree past the depth bound is refused at the call that passes it, the
//! services' loads add up over the trees, and results come per type.

use sim::cluster::requests::MAX_CALL_DEPTH;
use sim::commands::{model, SimulationArgs};
use sim::config::{self, LoadOptions, Scenario};
use sim::cost_model::Catalog;
use sim::report::Report;
use std::path::Path;

fn load_str(text: &str) -> Result<Scenario, String> {
    let catalog = Catalog::embedded();
    config::load_str(Path::new("inline.toml"), text, &LoadOptions::new(&catalog))
        .map(|(scenario, _)| scenario)
        .map_err(|e| e.to_string())
}

fn simulate(scenario: &Scenario) -> Report {
    let args = SimulationArgs {
        no_latency: false,
        duration: None,
        threads: Some(1),
        quiet: true,
    };
    model(scenario, "test", &args).unwrap_or_else(|e| panic!("{e:?}"))
}

fn load_of(scenario: &Scenario, name: &str) -> f64 {
    let s = scenario
        .cluster
        .services
        .iter()
        .find(|s| s.name == name)
        .unwrap();
    s.rps_per_pod * s.replicas as f64
}

const SERVICES: &str = r#"
[cluster]
nodes = 3

[[service]]
name = "frontend"
replicas = 2

[[service]]
name = "user"
replicas = 2

[[service]]
name = "social-graph"
replicas = 1

[mesh]
architectures = ["sidecar"]

[latency]
warmup_s = 0.0
duration_s = 10.0
"#;

/// user → social-graph → user: a cycle between services, two calls to `user` per request.
const CYCLE: &str = r#"
[[request]]
name = "follow"
entry = "frontend"
rate = 50.0
calls = [
  { service = "user", calls = [
    { service = "social-graph", calls = [{ service = "user", per_request = 2.0 }] },
  ] },
]

[[request]]
name = "login"
entry = "frontend"
rate = 150.0
calls = [{ service = "user" }]
"#;

#[test]
fn a_service_level_cycle_in_a_request_tree_is_accepted_and_every_request_ends() {
    let scenario = load_str(&format!("{SERVICES}{CYCLE}")).unwrap();
    assert!(
        scenario.cluster.call_graph.find_cycle().is_some(),
        "user ↔ social-graph"
    );
    // user: once per follow and login, twice more under social-graph per follow.
    assert_eq!(load_of(&scenario, "frontend"), 200.0);
    assert_eq!(load_of(&scenario, "user"), 50.0 * 3.0 + 150.0);
    assert_eq!(load_of(&scenario, "social-graph"), 50.0);

    let report = simulate(&scenario);
    let sidecar = report.architectures[0].latency.as_ref().unwrap();
    // Every request started ended (the run drains its calls): per type, in file order.
    let types: Vec<(&str, u64)> = sidecar
        .per_request_type
        .iter()
        .map(|t| (t.name.as_str(), t.requests))
        .collect();
    assert_eq!(types.len(), 2);
    assert_eq!(types[0].0, "follow");
    assert!((400..600).contains(&types[0].1), "{types:?}");
    assert!((1300..1700).contains(&types[1].1), "{types:?}");
    assert_eq!(sidecar.requests, types[0].1 + types[1].1);
    let calls = |name: &str| {
        sidecar
            .per_service
            .iter()
            .find(|s| s.name == name)
            .unwrap()
            .calls
    };
    assert_eq!(calls("social-graph"), types[0].1);
    assert_eq!(calls("user"), 3 * types[0].1 + types[1].1);
    // The follow request's three calls deep are slower than a login's one.
    assert_eq!(
        sidecar.worst_p99_request_type.as_deref(),
        Some("follow"),
        "{:?}",
        sidecar.per_request_type
    );
    let p99 = |t: usize| sidecar.per_request_type[t].latency_us.unwrap().p99.unwrap();
    assert!(p99(0) > p99(1));
    // The table says so in its own section.
    let table = sim::report::table::render(&report);
    assert!(table.contains("per request type, p50 / p99"), "{table}");
    assert!(table.contains("worst p99"), "{table}");
}

/// A chain of `depth` calls below the entry, alternating user and social-graph.
fn chain(depth: u32) -> String {
    let mut tree = String::new();
    for level in 0..depth {
        let service = if level % 2 == 0 {
            "user"
        } else {
            "social-graph"
        };
        tree = if tree.is_empty() {
            format!("{{ service = \"{service}\" }}")
        } else {
            format!("{{ service = \"{service}\", calls = [{tree}] }}")
        };
    }
    format!("[[request]]\nname = \"deep\"\nentry = \"frontend\"\nrate = 10.0\ncalls = [{tree}]\n")
}

#[test]
fn a_tree_past_the_depth_bound_is_refused_at_the_call_past_it() {
    assert!(load_str(&format!("{SERVICES}{}", chain(MAX_CALL_DEPTH))).is_ok());
    let error = load_str(&format!("{SERVICES}{}", chain(MAX_CALL_DEPTH + 1))).unwrap_err();
    assert!(
        error.contains(&format!("goes deeper than {MAX_CALL_DEPTH} calls")),
        "{error}"
    );
    assert!(
        error.contains("frontend → user → social-graph → …"),
        "{error}"
    );
    // Located on the request's line, at the innermost call.
    let line = SERVICES.lines().count() + 5;
    assert!(error.contains(&format!("inline.toml:{line}:")), "{error}");
}

#[test]
fn the_depth_bound_is_the_one_the_page_states() {
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/config.md"))
            .unwrap();
    assert!(page.contains(&format!("at most {MAX_CALL_DEPTH} calls deep")));
}

#[test]
fn the_online_shops_checkout_calls_currency_three_times_per_request() {
    let catalog = Catalog::embedded();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/online-shop.toml");
    let scenario = config::load(&path, &LoadOptions::new(&catalog)).unwrap().0;
    // Only the checkout request reaches the checkout service, once per request: 100 rps; it
    // calls currency 3 times per request.
    assert_eq!(load_of(&scenario, "checkout"), 100.0);
    let services = &scenario.cluster.services;
    let index = |name: &str| services.iter().position(|s| s.name == name).unwrap() as u32;
    let graph = &scenario.cluster.call_graph;
    let (checkout, currency) = (index("checkout"), index("currency"));
    let at = graph
        .callees(checkout)
        .iter()
        .position(|&c| c == currency)
        .unwrap();
    assert_eq!(graph.per_request(checkout)[at], 3.0);
}

#[test]
fn a_calls_payload_is_what_crosses_the_wire() {
    // The same call with a 1 KB and a 1 MB payload: the larger adds its bytes' wire time on
    // the cross-node leg there and back (the kernel model's wire_gbps), over a millisecond.
    // Packed two pods a node, the front end and social-graph never share one.
    let services = SERVICES.replace("nodes = 3", "nodes = 3\nmax_pods_per_node = 2")
        + "\n[placement]\nstrategy = \"pack\"\n";
    let scenario = load_str(&format!(
        r#"{services}
[[request]]
name = "small"
entry = "frontend"
rate = 50.0
calls = [{{ service = "social-graph", payload_bytes = 1000 }}]

[[request]]
name = "large"
entry = "frontend"
rate = 50.0
calls = [{{ service = "social-graph", payload_bytes = 1000000 }}]
"#
    ))
    .unwrap();
    let report = simulate(&scenario);
    let baseline = report.baseline.as_ref().unwrap();
    let p50 = |t: usize| {
        baseline.per_request_type[t]
            .latency_us
            .unwrap()
            .p50
            .unwrap()
    };
    assert!(p50(1) > p50(0) + 1000.0, "{} vs {}", p50(1), p50(0));
    assert_eq!(baseline.worst_p99_request_type.as_deref(), Some("large"));
}
