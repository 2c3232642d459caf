//! Pods on netkit devices (6.7+): the service load balancer goes on the device itself, as a
//! netkit link at what the pod sends (`BPF_NETKIT_PEER`), and a service VIP spreads
//! connections over backend pods exactly as the shared hash predicts, with replies translated
//! back on the backends' own netkit devices. A kernel built without netkit (CONFIG_NETKIT
//! unset, as on this project's build host) skips: "kernel built without netkit".

use std::{
    net::{Ipv4Addr, SocketAddrV4},
    time::Duration,
};

use meshtwin_datapath_common::{
    flow_hash::{backend_slot, flow_hash_v4},
    packet::IPPROTO_TCP,
};
use meshtwin_kernel_features::{Feature, LRU_HASH, NETKIT};
use meshtwin_testbed::topology::PodLink;

use crate::support::{
    agent::Agent,
    gate,
    topology::Node,
    traffic::{connect, tcp_server},
};

const FEATURES: &[Feature] = &[NETKIT, LRU_HASH];
const VIP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 10);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const BACKENDS: [&str; 2] = ["b1", "b2"];

fn predicted(source_port: u16) -> &'static str {
    let hash = flow_hash_v4(CLIENT.octets(), VIP.octets(), source_port, 80, IPPROTO_TCP);
    BACKENDS[backend_slot(hash, 2).expect("two backends") as usize]
}

#[test]
fn tc_service_lb_on_netkit_pods_spreads_flows_as_predicted() {
    let Some(gate) = gate::require(
        "tc_service_lb_on_netkit_pods_spreads_flows_as_predicted",
        FEATURES,
    ) else {
        return;
    };
    let mut node = Node::new();
    for (pod, host) in [("client", 2), ("b1", 11), ("b2", 12)] {
        node.add_pod_on(pod, host, PodLink::Netkit)
            .unwrap_or_else(|error| panic!("netkit pod {pod}: {error}"));
    }
    let _servers: Vec<_> = BACKENDS
        .iter()
        .map(|b| tcp_server(node.pod(b), 8080, b))
        .collect();
    let agent = Agent::new("netkit");
    let mut config = String::from(
        "[[service]]\nname = \"web\"\nvip = \"10.96.0.10\"\nport = 80\nprotocol = \"tcp\"\n\
         backends = [\"10.77.0.11:8080\", \"10.77.0.12:8080\"]\n",
    );
    for pod in ["client", "b1", "b2"] {
        config.push_str(&format!(
            "\n[[attach]]\ninterface = \"h-{pod}\"\nprogram = \"tc-service-lb\"\n"
        ));
    }
    agent.write_config(&config);
    agent.ok(&node.ns, "up");

    // The links are netkit links on the primaries (pinned as every attachment is).
    let links: Vec<String> = std::fs::read_dir(agent.bpffs_dir.join("links"))
        .expect("the links directory")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    assert_eq!(links.len(), 3, "{links:?}");

    let mut reached = Vec::new();
    for backend in BACKENDS {
        for port in (43000..45000).filter(|p| predicted(*p) == backend).take(3) {
            let mut connection = connect(
                node.pod("client"),
                SocketAddrV4::new(VIP, 80),
                Some(port),
                Duration::from_secs(3),
            )
            .unwrap_or_else(|error| panic!("connect from port {port}: {error}"));
            let answer = connection.ask().expect("an answer through the VIP");
            assert_eq!(answer, backend, "source port {port}");
            reached.push(answer);
        }
    }
    assert_eq!(reached.len(), 6);
    // A restarted agent adopts the pinned netkit links (the program swapped in place).
    agent.ok(&node.ns, "up");
    let mut connection = connect(
        node.pod("client"),
        SocketAddrV4::new(VIP, 80),
        None,
        Duration::from_secs(3),
    )
    .expect("connect after a second up");
    assert!(BACKENDS.contains(&connection.ask().expect("an answer").as_str()));
    drop(agent);
    gate.pass();
}

/// The datapath benchmark's netkit rows (`meshtwin-testbed bench --sections netkit`) for a VM
/// whose kernel has netkit, which this project's build host lacks:
/// `cargo run --release -p vmtests -- 6.18 -- --ignored bench_netkit_rows --nocapture`
/// (the table lands in the kernel's guest.log). It measures; it checks nothing but that every
/// row was measured.
#[test]
#[ignore = "a benchmark: run it by name in a VM kernel that has netkit"]
fn bench_netkit_rows() {
    let Some(gate) = gate::require("bench_netkit_rows", FEATURES) else {
        return;
    };
    meshtwin_testbed::bench::run(&meshtwin_testbed::bench::Options {
        duration: Duration::from_secs(3),
        size: 1024,
        runs: 3,
        cpu: Some(0),
        json: std::env::temp_dir().join("meshtwin-bench-netkit.json"),
        sections: meshtwin_testbed::bench::Sections::Netkit,
    })
    .expect("the netkit benchmark");
    let report = std::fs::read_to_string(std::env::temp_dir().join("meshtwin-bench-netkit.json"))
        .expect("the benchmark's JSON");
    assert!(
        !report.contains("\"skipped\": \""),
        "a row was skipped: {report}"
    );
    gate.pass();
}
