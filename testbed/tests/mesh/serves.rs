//! A one-node, two-pod mesh comes up with `sidecar` and with `ebpf`, serves two seconds of
//! real HTTP from the outside namespace with no error, and leaves nothing behind: no
//! namespace (so none of their iptables rules), cgroup, pin, BPF program or link, process, or
//! run directory. The other data planes (baseline, `per-node`, `uproxy`, `sidecar` with
//! connect4 interception) are held to the same.

use std::time::Duration;

use meshtwin_kernel_features::{
    gate, CGROUP_CONNECT4, CGROUP_LINK, SK_MSG, SOCK_HASH, SOCK_OPS, TC_CLSACT, XDP_LINK,
};
use meshtwin_testbed::mesh::{self, ProcessKind};
use sim::mesh::Architecture;

use super::{load, support};

fn serves_and_leaves_nothing(architecture: Option<Architecture>, tag: &str, kinds: &[ProcessKind]) {
    serves_and_leaves_nothing_with(support::ONE_NODE_TWO_PODS, architecture, tag, kinds);
}

fn serves_and_leaves_nothing_with(
    scenario_text: &str,
    architecture: Option<Architecture>,
    tag: &str,
    kinds: &[ProcessKind],
) {
    let scenario = support::scenario(scenario_text);
    let options = support::options(architecture, tag);
    let name = architecture.map_or("baseline", |a| a.name());
    let running = mesh::up(&scenario, &options).unwrap_or_else(|error| panic!("up: {error}"));
    for kind in kinds {
        assert!(
            running.processes().iter().any(|p| p.kind == *kind),
            "no {} process in {:?}",
            kind.name(),
            running.processes()
        );
    }
    assert!(running
        .processes()
        .iter()
        .all(|p| p.cpus == options.mesh_cpus));
    let [entry] = running.entries() else {
        panic!("one entry expected: {:?}", running.entries());
    };
    assert_eq!(entry.service, "front");
    assert_eq!(entry.rate_share, 1.0);
    let address = entry.address;
    let result = running
        .outside()
        .run(|| load::run(address, Duration::from_secs(2), 1024));
    println!(
        "{name}: {} requests in 2 s, p50 {} µs, p99 {} µs, {} errors",
        result.ok,
        result.percentile(50.0),
        result.percentile(99.0),
        result.errors.len()
    );
    assert!(
        result.errors.is_empty(),
        "errors: {:?}",
        &result.errors[..result.errors.len().min(5)]
    );
    assert!(
        result.ok > 100,
        "only {} requests in two seconds",
        result.ok
    );
    assert!(result.percentile(50.0) > 0);

    let (links, programs) = support::bpf_objects(&running);
    assert!(!programs.is_empty(), "the agents attached no program");
    let pids: Vec<u32> = running.processes().iter().map(|p| p.pid).collect();
    let prefix = running.prefix().to_owned();
    running.down().expect("down");
    let left = support::wait_until_nothing_left(&prefix, &pids, &links, &programs);
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn sidecar_mesh_serves_load_and_leaves_nothing() {
    let Some(gate) = gate::require("sidecar_mesh_serves_load_and_leaves_nothing", &[TC_CLSACT])
    else {
        return;
    };
    serves_and_leaves_nothing(
        Some(Architecture::Sidecar),
        "tsc",
        &[
            ProcessKind::Workload,
            ProcessKind::Sidecar,
            ProcessKind::Agent,
        ],
    );
    gate.pass();
}

#[test]
fn ebpf_mesh_serves_load_and_leaves_nothing() {
    let Some(gate) = gate::require(
        "ebpf_mesh_serves_load_and_leaves_nothing",
        &[
            XDP_LINK,
            TC_CLSACT,
            CGROUP_LINK,
            SOCK_OPS,
            SK_MSG,
            SOCK_HASH,
        ],
    ) else {
        return;
    };
    serves_and_leaves_nothing(
        Some(Architecture::Ebpf),
        "teb",
        &[ProcessKind::Workload, ProcessKind::Agent],
    );
    gate.pass();
}

#[test]
fn baseline_serves_load_and_leaves_nothing() {
    let Some(gate) = gate::require("baseline_serves_load_and_leaves_nothing", &[TC_CLSACT]) else {
        return;
    };
    serves_and_leaves_nothing(None, "tbl", &[ProcessKind::Workload, ProcessKind::Agent]);
    gate.pass();
}

#[test]
fn per_node_mesh_serves_load_and_leaves_nothing() {
    let Some(gate) = gate::require(
        "per_node_mesh_serves_load_and_leaves_nothing",
        &[CGROUP_CONNECT4, CGROUP_LINK, SOCK_OPS, TC_CLSACT],
    ) else {
        return;
    };
    serves_and_leaves_nothing(
        Some(Architecture::PerNode),
        "tpn",
        &[
            ProcessKind::Workload,
            ProcessKind::NodeProxy,
            ProcessKind::Agent,
        ],
    );
    gate.pass();
}

#[test]
fn uproxy_mesh_with_a_waypoint_serves_load_and_leaves_nothing() {
    let Some(gate) = gate::require(
        "uproxy_mesh_with_a_waypoint_serves_load_and_leaves_nothing",
        &[CGROUP_CONNECT4, CGROUP_LINK, SOCK_OPS, TC_CLSACT],
    ) else {
        return;
    };
    // "back" is under L7 policy: front's calls pass its HAProxy waypoint.
    let text = support::ONE_NODE_TWO_PODS.replace(
        "name = \"back\"\nreplicas = 1",
        "name = \"back\"\nreplicas = 1\nl7_policy = true",
    );
    assert!(text.contains("l7_policy"));
    serves_and_leaves_nothing_with(
        &text,
        Some(Architecture::Uproxy),
        "tup",
        &[
            ProcessKind::Workload,
            ProcessKind::NodeProxy,
            ProcessKind::Waypoint,
            ProcessKind::Agent,
        ],
    );
    gate.pass();
}

#[test]
fn sidecar_mesh_with_connect4_interception_serves_load_and_leaves_nothing() {
    let Some(gate) = gate::require(
        "sidecar_mesh_with_connect4_interception_serves_load_and_leaves_nothing",
        &[CGROUP_CONNECT4, CGROUP_LINK, SOCK_OPS, TC_CLSACT],
    ) else {
        return;
    };
    let text = format!(
        "{}\n[mesh]\ninterception = \"ebpf\"\n",
        support::ONE_NODE_TWO_PODS
    );
    serves_and_leaves_nothing_with(
        &text,
        Some(Architecture::Sidecar),
        "tsk",
        &[
            ProcessKind::Workload,
            ProcessKind::Sidecar,
            ProcessKind::Agent,
        ],
    );
    gate.pass();
}
