//! Shared cores (`cores_per_node`, `[cluster.hosts]`): the hosts' cores against queueing theory,
//! the kernel's share, and one CPU story — where a proxy saturates is where its CPU per
//! request fills the cores, and the cores' busy time is the CPU the requests cost.

use sim::commands::{model, SimulationArgs};
use sim::config::{self, LoadOptions};
use sim::cost_model::Catalog;
use sim::latency::result::LatencyResult;
use sim::report::ArchitectureReport;
use std::path::Path;

/// The column of `architecture` in the report of a scenario given as text, latency run.
fn column(text: &str, architecture: &str) -> ArchitectureReport {
    let catalog = Catalog::embedded();
    let scenario = config::load_str(Path::new("inline.toml"), text, &LoadOptions::new(&catalog))
        .unwrap_or_else(|e| panic!("{e}"))
        .0;
    let args = SimulationArgs {
        no_latency: false,
        duration: None,
        threads: Some(2),
        quiet: true,
    };
    let report = model(&scenario, "test", &args).unwrap_or_else(|e| panic!("{e:?}"));
    report
        .architectures
        .into_iter()
        .find(|a| a.capacity.name == architecture)
        .expect("the architecture is a column")
}

/// The `ebpf` run (or `architecture`'s) of a scenario given as text.
fn run(text: &str, architecture: &str) -> LatencyResult {
    column(text, architecture)
        .latency
        .expect("the architecture ran")
}

/// One service on one core: an application with `app_us` of CPU per request at 1000 rps,
/// legs whose kernel part is `stack_us`, no wire latency, no mesh program (the 1 KB payload's
/// 0.8 µs on the wire each way is within the tolerance).
fn one_core(app_us: f64, stack_us: f64, seconds: f64) -> String {
    format!(
        r#"
[cluster]
nodes = 1
[cluster.hosts]
count = 1
cores = 1
[[service]]
name = "app"
replicas = 1
rps_per_pod = 1000
arrivals = "poisson"
[mesh]
architectures = ["ebpf"]
[models.app]
request_cpu_us = {app_us}
[models.kernel]
stack_us = {stack_us}
veth_crossing_us = 0
wire_us = 0
ebpf_program_us = 0
segment_sigma = 0
[latency]
duration_s = {seconds}
"#
    )
}

fn within(value: f64, expected: f64, tolerance: f64) -> bool {
    (value - expected).abs() <= expected * tolerance
}

/// `one_core`'s application at 1000 rps is an M/D/1 queue whose service is `service_us` of
/// CPU: its mean latency and its core's busy time against the closed form, within 2%.
fn assert_m_d_1(r: &LatencyResult, service_us: f64) {
    let rho = service_us / 1000.0;
    let expected = service_us + rho * service_us / (2.0 * (1.0 - rho));
    let mean = r.latency_us.unwrap().mean.unwrap();
    assert!(within(mean, expected, 0.02), "{mean} µs, theory {expected}");
    let cores = r.cores.expect("cores simulated");
    assert!(within(cores.cores_busy, rho, 0.02), "{cores:?}");
}

#[test]
fn an_application_on_one_core_is_an_m_d_1_queue() {
    // Poisson arrivals at 1000/s, 500 µs of CPU each: ρ = 0.5, mean wait ρS / (2(1 − ρ)).
    assert_m_d_1(&run(&one_core(500.0, 0.0, 200.0), "ebpf"), 500.0);
}

#[test]
fn the_kernel_comes_first_and_takes_its_share_of_the_core() {
    // Two legs of 100 µs of kernel work per request: 20% of the core. The application's
    // 500 µs stretch to 625 (ρ = 0.625), and the legs' own time adds 200 µs.
    let r = run(&one_core(500.0, 100.0, 200.0), "ebpf");
    let (service, rho) = (625.0, 0.625);
    let expected = service + rho * service / (2.0 * (1.0 - rho)) + 200.0;
    assert!(
        within(r.latency_us.unwrap().mean.unwrap(), expected, 0.02),
        "{} µs, theory {expected}",
        r.latency_us.unwrap().mean.unwrap()
    );
    let cores = r.cores.expect("cores simulated");
    assert!(within(cores.cores_busy, 0.7, 0.02), "{cores:?}");
}

/// A client generating `rps` in its pod, calling a server through sidecars, everything on one
/// core.
fn sidecars_on_one_core(rps: f64) -> String {
    format!(
        r#"
[cluster]
nodes = 2
[cluster.hosts]
count = 1
cores = 1
[[service]]
name = "client"
replicas = 1
rps_per_pod = {rps}
origin = "in-pod"
calls = ["server"]
[[service]]
name = "server"
replicas = 1
rps_per_pod = {rps}
[mesh]
architectures = ["sidecar"]
[latency]
duration_s = 20
"#
    )
}

#[test]
fn sidecars_saturate_a_core_where_their_cpu_fills_it() {
    // Two sidecars at 200 µs of CPU each per request, and the kernel's legs, share one core:
    // about 2,100 requests per second fill it.
    let light = run(&sidecars_on_one_core(1000.0), "sidecar");
    let cores = light.cores.expect("cores simulated");
    assert!(!light.saturated, "{cores:?}");
    // The cores' busy time is the CPU the requests cost: the sidecars' 400 µs per request
    // (what `cpu_cores` counts) plus the kernel's legs.
    let per_request_us = cores.cores_busy * 1e6 / light.throughput_rps;
    assert!(
        (400.0..500.0).contains(&per_request_us),
        "{per_request_us} µs of CPU per request"
    );
    let heavy = run(&sidecars_on_one_core(2600.0), "sidecar");
    assert!(heavy.saturated, "{:?}", heavy.cores);
}

#[test]
fn an_application_whose_cpu_falls_with_its_rate_is_charged_at_its_rate() {
    // 500 µs per request measured at 500 rps, falling as rate^-0.5: at 1000 rps, 353.6 µs.
    let text = one_core(500.0, 0.0, 200.0).replace(
        "[models.app]\n",
        "[models.app]\ncpu_rate_exponent = 0.5\ncpu_reference_requests_per_second = 500\n",
    );
    assert_m_d_1(&run(&text, "ebpf"), 500.0 / 2f64.sqrt());
}

#[test]
fn a_proxy_whose_cpu_falls_with_its_rate_costs_the_cores_what_the_cpu_figure_says() {
    // Each sidecar serves 1000 rps; 200 µs per request at 500 rps falling as rate^-0.3 is
    // 162.5 µs at 1000. No kernel time: the cores' busy time is the sidecars' CPU alone, and
    // the capacity model's cpu_cores says the same.
    let text = sidecars_on_one_core(1000.0)
        + "[models.envoy]\ncpu_rate_exponent = 0.3\ncpu_reference_requests_per_second = 500\n\
           [models.kernel]\nstack_us = 0\nveth_crossing_us = 0\nwire_us = 0\niptables_redirect_us = 0\n";
    let sidecar = column(&text, "sidecar");
    let per_request_us = 200.0 * 2f64.powf(-0.3);
    let cores = sidecar.latency.unwrap().cores.expect("cores simulated");
    assert!(
        within(cores.cores_busy, 2.0 * per_request_us / 1000.0, 0.03),
        "{cores:?}, expected {} cores",
        2.0 * per_request_us / 1000.0
    );
    assert!(
        within(
            sidecar.capacity.cpu_cores,
            2.0 * per_request_us / 1000.0,
            0.01
        ),
        "cpu_cores {}",
        sidecar.capacity.cpu_cores
    );
}

#[test]
fn a_request_from_outside_wakes_its_application_at_the_cost_for_its_rate() {
    // The application's 500 µs, plus the wake-up from another CPU: 200 µs at 500 rps falling
    // as rate^-1 is 100 µs at the pod's 1000 rps. One core, M/D/1 with S = 600 µs.
    let text = one_core(500.0, 0.0, 200.0).replace(
        "[models.kernel]\n",
        "[models.kernel]\noutside_wakeup_us = 200\noutside_wakeup_rate_exponent = 1\noutside_wakeup_reference_requests_per_second = 500\n",
    );
    assert_m_d_1(&run(&text, "ebpf"), 600.0);
}

/// A server called from outside at `rps` through `architecture`'s proxy, on one core with no
/// kernel time.
fn called_from_outside(architecture: &str, rps: f64, wakeup_us: f64) -> String {
    format!(
        r#"
[cluster]
nodes = 1
[cluster.hosts]
count = 1
cores = 1
[[service]]
name = "server"
replicas = 1
rps_per_pod = {rps}
[mesh]
architectures = ["{architecture}"]
[models.kernel]
stack_us = 0
veth_crossing_us = 0
wire_us = 0
iptables_redirect_us = 0
outside_wakeup_us = {wakeup_us}
[latency]
duration_s = 20
"#
    )
}

#[test]
fn the_proxy_a_request_from_outside_reaches_first_is_charged_its_wake_up_in_both_models() {
    // 1000 rps from outside: the proxy's CPU per request and the 100 µs wake-up, the same in
    // the cores' busy time and in the capacity model's cpu_cores.
    for architecture in ["sidecar", "per-node", "uproxy"] {
        charged_its_wake_up_in_both_models(architecture);
    }
}

fn charged_its_wake_up_in_both_models(architecture: &str) {
    let woken = column(
        &called_from_outside(architecture, 1000.0, 100.0),
        architecture,
    );
    let plain = column(
        &called_from_outside(architecture, 1000.0, 0.0),
        architecture,
    );
    let wakeup_cores = 1000.0 * 100.0 / 1e6;
    assert!(
        within(
            woken.capacity.cpu_cores - plain.capacity.cpu_cores,
            wakeup_cores,
            0.001
        ),
        "{architecture}: cpu_cores {} against {}",
        woken.capacity.cpu_cores,
        plain.capacity.cpu_cores
    );
    let busy = |c: &ArchitectureReport| {
        c.latency
            .as_ref()
            .unwrap()
            .cores
            .as_ref()
            .expect("cores simulated")
            .cores_busy
    };
    assert!(
        within(busy(&woken) - busy(&plain), wakeup_cores, 0.05),
        "{architecture}: cores busy {} against {}",
        busy(&woken),
        busy(&plain)
    );
    assert!(
        within(busy(&woken), woken.capacity.cpu_cores, 0.03),
        "{architecture}: cores busy {} against cpu_cores {}",
        busy(&woken),
        woken.capacity.cpu_cores
    );
}

#[test]
fn requests_between_pods_and_from_within_a_pod_wake_no_one_from_another_cpu() {
    // The client generates its requests in its own pod and calls the server: no request
    // comes from outside, so the wake-up changes nothing.
    let plain = column(&sidecars_on_one_core(1000.0), "sidecar");
    let text = sidecars_on_one_core(1000.0) + "[models.kernel]\noutside_wakeup_us = 100\n";
    let woken = column(&text, "sidecar");
    assert_eq!(woken.capacity.cpu_cores, plain.capacity.cpu_cores);
    assert_eq!(
        woken.latency.unwrap().latency_us,
        plain.latency.unwrap().latency_us
    );
}
