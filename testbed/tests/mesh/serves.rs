//! A one-node, two-pod mesh comes up with `sidecar` and with `ebpf`, serves two seconds of
//! real HTTP from the outside namespace with no error, and leaves nothing behind: no
//! namespace (so none of their iptables rules), cgroup, pin, BPF program or link, process, or
//! run directory.

use std::time::Duration;

use meshtwin_kernel_features::{
    gate, CGROUP_LINK, SK_MSG, SOCK_HASH, SOCK_OPS, TC_CLSACT, XDP_LINK,
};
use meshtwin_testbed::mesh::{self, ProcessKind};
use sim::mesh::Architecture;

use super::{load, support};

fn serves_and_leaves_nothing(architecture: Architecture, tag: &str, kinds: &[ProcessKind]) {
    let scenario = support::scenario(support::ONE_NODE_TWO_PODS);
    let options = support::options(Some(architecture), tag);
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
        "{architecture}: {} requests in 2 s, p50 {} µs, p99 {} µs, {} errors",
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
        Architecture::Sidecar,
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
        Architecture::Ebpf,
        "teb",
        &[ProcessKind::Workload, ProcessKind::Agent],
    );
    gate.pass();
}
