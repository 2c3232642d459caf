//! Issue 15's per-edge calls: a callee's load is the sum of its callers' rates × their calls
//! per request, in the capacity model and in the simulation alike.

use sim::commands::{model, SimulationArgs};
use sim::config::{self, LoadOptions, Scenario};
use sim::cost_model::Catalog;
use std::path::Path;

fn load_str(text: &str) -> Scenario {
    let catalog = Catalog::embedded();
    config::load_str(Path::new("inline.toml"), text, &LoadOptions::new(&catalog))
        .unwrap_or_else(|e| panic!("{e}"))
        .0
}

/// The shop's checkout calls currency 3 times per request (the split the issue found gave
/// 5.3); the frontend calls checkout on half its requests.
const SHOP: &str = r#"
[cluster]
nodes = 4

[[service]]
name = "frontend"
replicas = 2
rps_per_pod = 20.0
calls = [{ service = "checkout", per_request = 0.5 }]

[[service]]
name = "checkout"
replicas = 1
calls = [{ service = "currency", per_request = 3.0 }, "email"]

[[service]]
name = "currency"
replicas = 3

[[service]]
name = "email"
replicas = 1

[mesh]
architectures = ["sidecar"]

[latency]
duration_s = 20.0
warmup_s = 0.0
"#;

fn load_of(scenario: &Scenario, name: &str) -> f64 {
    let s = scenario
        .cluster
        .services
        .iter()
        .find(|s| s.name == name)
        .unwrap();
    s.rps_per_pod * s.replicas as f64
}

#[test]
fn a_callee_called_three_times_per_request_gets_three_times_the_callers_rate() {
    let scenario = load_str(SHOP);
    // frontend 40 rps; checkout 0.5 × 40 = 20; currency 3 × 20 = 60, not a split of its own
    // rate among its callers; email, a plain name, once per request: 20.
    assert_eq!(load_of(&scenario, "frontend"), 40.0);
    assert_eq!(load_of(&scenario, "checkout"), 20.0);
    assert!((load_of(&scenario, "currency") - 60.0).abs() < 1e-9);
    assert_eq!(load_of(&scenario, "email"), 20.0);
}

#[test]
fn the_simulation_makes_the_calls_per_request_the_file_gives() {
    let scenario = load_str(SHOP);
    let args = SimulationArgs {
        no_latency: false,
        duration: None,
        threads: Some(1),
        quiet: true,
    };
    let report = model(&scenario, "test", &args).unwrap_or_else(|e| panic!("{e:?}"));
    let latency = report.baseline.unwrap();
    let calls = |name: &str| {
        latency
            .per_service
            .iter()
            .find(|s| s.name == name)
            .map_or(0, |s| s.calls) as f64
    };
    // 20 s at 40 rps: about 800 requests, 400 to checkout; exactly 3 currency calls each.
    let (frontend, checkout) = (calls("frontend"), calls("checkout"));
    assert!((700.0..900.0).contains(&frontend), "{frontend}");
    assert!(
        (checkout / frontend - 0.5).abs() < 0.07,
        "{checkout} of {frontend}"
    );
    assert_eq!(calls("currency"), 3.0 * checkout);
    assert_eq!(calls("email"), checkout);
}
