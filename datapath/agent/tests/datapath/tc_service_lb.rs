//! TC service load balancing on the node side of the pods' interfaces.

use std::{
    net::{Ipv4Addr, SocketAddrV4},
    time::Duration,
};

use meshtwin_datapath_common::{
    flow_hash::{backend_slot, flow_hash_v4},
    packet::{IPPROTO_TCP, IPPROTO_UDP},
};

use meshtwin_kernel_features::{Feature, LRU_HASH, TCX, TC_CLSACT};

use crate::{
    probes,
    support::{
        agent::Agent,
        gate,
        topology::Node,
        traffic::{connect, tcp_server, udp_ask, udp_server, Connection, Server},
    },
};

const VIP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 10);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const TIMEOUT: Duration = Duration::from_secs(2);

fn config(backends: &[&str]) -> String {
    let tcp: Vec<String> = backends
        .iter()
        .map(|b| format!("\"{}:8080\"", backend_ip(b)))
        .collect();
    let udp: Vec<String> = backends
        .iter()
        .map(|b| format!("\"{}:5353\"", backend_ip(b)))
        .collect();
    let mut text = format!(
        r#"
[[service]]
name = "web"
vip = "{VIP}"
port = 80
protocol = "tcp"
backends = [{}]

[[service]]
name = "dns"
vip = "{VIP}"
port = 53
protocol = "udp"
backends = [{}]
"#,
        tcp.join(", "),
        udp.join(", ")
    );
    for pod in ["client", "b1", "b2", "b3"] {
        text.push_str(&format!(
            "\n[[attach]]\ninterface = \"h-{pod}\"\nprogram = \"tc-service-lb\"\n"
        ));
    }
    text
}

fn backend_ip(name: &str) -> Ipv4Addr {
    match name {
        "b1" => Ipv4Addr::new(10, 77, 0, 11),
        "b2" => Ipv4Addr::new(10, 77, 0, 12),
        "b3" => Ipv4Addr::new(10, 77, 0, 13),
        other => panic!("no backend {other}"),
    }
}

/// The backend the kernel must choose for a client source port: the same hash, from the
/// shared crate, over the same tuple.
fn predicted(backends: &[&'static str], source_port: u16, port: u16, protocol: u8) -> &'static str {
    let hash = flow_hash_v4(
        CLIENT_IP.octets(),
        VIP.octets(),
        source_port,
        port,
        protocol,
    );
    backends[backend_slot(hash, backends.len() as u32).expect("backends") as usize]
}

/// Source ports, `per_backend` for each backend, so that every backend is exercised.
fn ports_covering(
    backends: &[&'static str],
    per_backend: usize,
    start: u16,
    protocol: u8,
    port: u16,
) -> Vec<u16> {
    let mut chosen = Vec::new();
    for backend in backends {
        let mut found = 0;
        for source in start..start + 2000 {
            if predicted(backends, source, port, protocol) == *backend && !chosen.contains(&source)
            {
                chosen.push(source);
                found += 1;
                if found == per_backend {
                    break;
                }
            }
        }
    }
    chosen
}

struct World {
    agent: Agent,
    _servers: Vec<Server>,
    node: Node,
}

fn world(test: &str, tc_attach: &str) -> World {
    let mut node = Node::new();
    node.add_pod("client", 2);
    node.add_pod("b1", 11);
    node.add_pod("b2", 12);
    node.add_pod("b3", 13);
    let mut servers = Vec::new();
    for name in ["b1", "b2", "b3"] {
        servers.push(tcp_server(node.pod(name), 8080, name));
        servers.push(udp_server(node.pod(name), 5353, name));
    }
    let agent = Agent::new(test);
    agent.write_config(&with_tc_attach(&config(&["b1", "b2", "b3"]), tc_attach));
    World {
        agent,
        _servers: servers,
        node,
    }
}

fn with_tc_attach(body: &str, tc_attach: &str) -> String {
    // The fixture's config starts with the [agent] table: this line lands in it.
    format!("tc-attach = \"{tc_attach}\"\n{body}")
}

fn open(world: &World, source_port: u16) -> Connection {
    connect(
        world.node.pod("client"),
        SocketAddrV4::new(VIP, 80),
        Some(source_port),
        TIMEOUT,
    )
    .unwrap_or_else(|error| panic!("client:{source_port} -> {VIP}:80: {error}"))
}

fn spreads_and_keeps_flows(test: &'static str, tc_attach: &str, features: &[Feature]) {
    let Some(gate) = gate::require(test, features) else {
        return;
    };
    let world = world(test, tc_attach);
    // Nothing answers on the VIP until the load balancer is attached.
    assert!(connect(
        world.node.pod("client"),
        SocketAddrV4::new(VIP, 80),
        None,
        Duration::from_millis(500)
    )
    .is_err());

    let up = world.agent.ok(&world.node.ns, "up");
    let status = world.agent.ok(&world.node.ns, "status");
    let expected_kind = if tc_attach == "netlink" || !gate::kernel_has(TCX) {
        "netlink filter"
    } else {
        "tcx link"
    };
    assert!(
        status.contains(expected_kind),
        "expected {expected_kind} attachments:\n{up}\n{status}"
    );

    let backends = ["b1", "b2", "b3"];
    let ports = ports_covering(&backends, 2, 30000, IPPROTO_TCP, 80);
    assert_eq!(ports.len(), 6);
    let mut reached = Vec::new();
    for port in &ports {
        let mut connection = open(&world, *port);
        let expected = predicted(&backends, *port, 80, IPPROTO_TCP);
        // Several requests on one connection: the flow must stay on its backend.
        for _ in 0..3 {
            assert_eq!(
                connection.ask().expect("answer over the VIP"),
                expected,
                "source port {port}"
            );
        }
        reached.push(expected);
    }
    for backend in backends {
        assert!(
            reached.contains(&backend),
            "{backend} never chosen: {reached:?}"
        );
    }

    // UDP through the same VIP, another port: replies come back from the VIP (else the client's
    // connected socket would drop them) with valid checksums.
    for port in ports_covering(&backends, 1, 40000, IPPROTO_UDP, 53) {
        let answer = udp_ask(
            world.node.pod("client"),
            SocketAddrV4::new(VIP, 53),
            Some(port),
            TIMEOUT,
        );
        assert_eq!(
            answer.as_deref(),
            Some(predicted(&backends, port, 53, IPPROTO_UDP)),
            "udp from port {port}"
        );
    }

    let maps = probes::maps(&world.agent.bpffs_dir);
    let mut packets = 0;
    let mut bytes = 0;
    for (id, _) in maps.service_ids() {
        for c in maps
            .service_counts
            .get(&id, 0)
            .expect("service counters")
            .iter()
        {
            packets += c.packets;
            bytes += c.bytes;
        }
    }
    // 6 connections x (handshake + 3 round trips + close) in both directions, plus UDP.
    assert!(packets >= 6 * 8, "service packets {packets}");
    assert!(
        bytes >= packets * 40,
        "service bytes {bytes} for {packets} packets"
    );
    assert!(
        maps.lb_conntrack.keys().count() >= 9,
        "conntrack entries for 6 TCP + 3 UDP flows"
    );
    gate.pass();
}

#[test]
fn tc_service_lb_spreads_flows_and_keeps_each_on_one_backend() {
    spreads_and_keeps_flows(
        "tc_service_lb_spreads_flows_and_keeps_each_on_one_backend",
        "auto",
        &[TC_CLSACT, LRU_HASH],
    );
}

#[test]
fn tc_service_lb_over_netlink_filters() {
    spreads_and_keeps_flows(
        "tc_service_lb_over_netlink_filters",
        "netlink",
        &[TC_CLSACT, LRU_HASH],
    );
}

#[test]
fn tc_service_lb_removing_a_backend_moves_only_new_flows() {
    let Some(gate) = gate::require(
        "tc_service_lb_removing_a_backend_moves_only_new_flows",
        &[TC_CLSACT, LRU_HASH],
    ) else {
        return;
    };
    let world = world("lb-remove", "auto");
    world.agent.ok(&world.node.ns, "up");
    let all = ["b1", "b2", "b3"];
    let mut old = Vec::new();
    for port in ports_covering(&all, 1, 31000, IPPROTO_TCP, 80) {
        let mut connection = open(&world, port);
        let backend = connection.ask().expect("answer");
        assert_eq!(backend, predicted(&all, port, 80, IPPROTO_TCP));
        old.push((connection, backend));
    }

    world
        .agent
        .write_config(&with_tc_attach(&config(&["b1", "b2"]), "auto"));
    world.agent.ok(&world.node.ns, "reload");

    // Established flows, the one on b3 included, stay where they are.
    for (connection, backend) in &mut old {
        assert_eq!(&connection.ask().expect("old flow still answers"), backend);
    }
    assert!(old.iter().any(|(_, backend)| backend == "b3"));
    // New flows only see b1 and b2, as the hash over two backends says.
    let remaining = ["b1", "b2"];
    for port in 32000..32012u16 {
        let answer = open(&world, port).ask().expect("answer");
        assert_ne!(answer, "b3", "a new flow went to the removed backend");
        assert_eq!(
            answer,
            predicted(&remaining, port, 80, IPPROTO_TCP),
            "source port {port}"
        );
    }
    gate.pass();
}
