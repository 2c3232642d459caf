//! connect4_proxy + getpeername4 + the node proxy: a workload's connection to a service VIP
//! lands on the node proxy, which recovers the original destination and reaches the backend the
//! shared flow hash picks; getpeername still answers the VIP; the proxy's own connections are
//! never redirected.

use std::{net::Ipv4Addr, time::Duration};

use meshtwin_datapath_common::{
    flow_hash::{backend_slot, flow_hash_v4},
    packet::IPPROTO_TCP,
};

use meshtwin_kernel_features::{
    Feature, CGROUP_CONNECT4, CGROUP_GETPEERNAME4, CGROUP_LINK, SK_MSG, SOCK_HASH, SOCK_OPS,
};

use crate::{
    probes,
    support::{
        gate,
        workloads::{proxy_binary, sockmap_counters, MeshWorld, Process},
    },
};

const FEATURES: &[Feature] = &[
    CGROUP_CONNECT4,
    CGROUP_GETPEERNAME4,
    SOCK_OPS,
    SK_MSG,
    SOCK_HASH,
    CGROUP_LINK,
];
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 10);
const BACKENDS: [&str; 2] = ["b1", "b2"];
const LONG: Duration = Duration::from_secs(60);
/// Service "by-port" (id 2) has a port of its own on the proxy's address.
const PROXY_PORT_OF_BY_PORT: u16 = 15081;

fn config(world: &MeshWorld, sockmap: bool) -> String {
    format!(
        r#"
[[service]]
name = "web"
vip = "{VIP}"
port = 80
protocol = "tcp"
backends = ["10.77.0.11:8080", "10.77.0.12:8080"]

[[service]]
name = "echo"
vip = "{VIP}"
port = 7
protocol = "tcp"
backends = ["10.77.0.11:7000"]

[[service]]
name = "by-port"
vip = "{VIP}"
port = 81
protocol = "tcp"
backends = ["10.77.0.11:8080"]
proxy-port = {PROXY_PORT_OF_BY_PORT}

[node-proxy]
address = "10.77.0.1"
port = 15001
cgroup = "{proxy}"
sockmap = {sockmap}

[[workload]]
name = "client"
cgroup = "{client}"
addresses = ["{CLIENT}"]
redirect = true
sockmap = {sockmap}

[[workload]]
name = "b1"
cgroup = "{b1}"
addresses = ["10.77.0.11"]
sockmap = {sockmap}

[[workload]]
name = "b2"
cgroup = "{b2}"
addresses = ["10.77.0.12"]
"#,
        proxy = world.cgroup("proxy").display(),
        client = world.cgroup("client").display(),
        b1 = world.cgroup("b1").display(),
        b2 = world.cgroup("b2").display(),
    )
}

/// The node, the agent up, name servers on both backends, and the node proxy running in the
/// node namespace and its own cgroup. Returns the world and the proxy's metrics address.
fn world(test: &str, sockmap: bool) -> (MeshWorld, String) {
    let mut world = MeshWorld::new(test, &[("client", 2), ("b1", 11), ("b2", 12)]);
    world.cgroups.add("proxy").expect("the proxy's cgroup");
    world.agent.write_config(&config(&world, sockmap));
    world.agent.ok(&world.node.ns, "up");
    for backend in BACKENDS {
        let mut server = world.traffic(
            backend,
            &["name-server", "--listen", "0.0.0.0:8080", "--name", backend],
        );
        server.expect("listening", LONG);
        world.processes.push(server);
    }
    world.echo_server("b1", 7000, &[]);
    let mut command = world.command("node", "proxy", proxy_binary());
    command.arg("--bpffs-dir").arg(&world.agent.bpffs_dir);
    command.args(["--metrics-address", "127.0.0.1:0"]);
    let mut proxy = Process::spawn("meshtwin-node-proxy", command);
    proxy.expect("listening", LONG);
    let address = proxy.metrics_address(LONG);
    world.processes.push(proxy);
    (world, address)
}

/// Connections connect4 sent to the proxy for service "web" (id 0), over CPUs.
fn redirects_of_web(maps: &meshtwin_datapath_pins::PinnedMaps) -> u64 {
    maps.redirect_counts
        .get(&0, 0)
        .expect("service 0 counters")
        .iter()
        .map(|c| c.connections)
        .sum()
}

/// The backend the flow hash picks for the client's source port.
fn predicted(source_port: u16) -> &'static str {
    let hash = flow_hash_v4(CLIENT.octets(), VIP.octets(), source_port, 80, IPPROTO_TCP);
    BACKENDS[backend_slot(hash, 2).expect("two backends") as usize]
}

/// Source ports that cover both backends, two each.
fn ports() -> Vec<u16> {
    let mut chosen = Vec::new();
    for backend in BACKENDS {
        chosen.extend((42000..44000).filter(|p| predicted(*p) == backend).take(2));
    }
    chosen
}

#[test]
fn connect4_sends_service_connections_to_the_node_proxy_which_reaches_the_right_backend() {
    let Some(gate) = gate::require(
        "connect4_sends_service_connections_to_the_node_proxy_which_reaches_the_right_backend",
        FEATURES,
    ) else {
        return;
    };
    let (world, proxy_metrics) = world("redirect", false);
    let ports = ports();
    for port in &ports {
        let ask = world.traffic(
            "client",
            &[
                "ask",
                "--connect",
                "10.96.0.10:80",
                "--source-port",
                &port.to_string(),
                "--lines",
                "3",
            ],
        );
        let output = ask.success(LONG);
        // getpeername answers the address the workload connected to, not the proxy's.
        assert_eq!(output[0], format!("peer {VIP}:80"), "{output:?}");
        let expected = format!("answer {}", predicted(*port));
        assert_eq!(
            output[1..],
            [expected.clone(), expected.clone(), expected],
            "port {port}"
        );
    }

    // Counters on both sides: the kernel's redirect count and the proxy's forwards.
    let text = probes::scrape(&world.node.ns, &proxy_metrics);
    assert_eq!(
        probes::sample(
            &text,
            r#"meshtwin_proxy_connections_total{result="forwarded"}"#
        ),
        Some(ports.len() as u64),
        "{text}"
    );
    assert_eq!(
        probes::sample(
            &text,
            r#"meshtwin_proxy_connections_total{result="no_original_destination"}"#
        ),
        Some(0)
    );
    let maps = world.maps();
    let redirected = redirects_of_web(&maps);
    assert_eq!(
        redirected,
        ports.len() as u64,
        "connect4 counted every connection"
    );
    // The proxy took each flow record; closing took each cookie record.
    assert!(
        probes::eventually(Duration::from_secs(5), || {
            maps.orig_dst_flow.keys().count() == 0 && maps.orig_dst_cookie.keys().count() == 0
        }),
        "original-destination records left: {} by flow, {} by cookie",
        maps.orig_dst_flow.keys().count(),
        maps.orig_dst_cookie.keys().count()
    );

    // The same connection from the proxy's cgroup is not redirected: from the node namespace
    // the VIP has no route, so it fails, and connect4 counts nothing.
    let mut command = world.command("node", "proxy", crate::support::workloads::traffic_binary());
    command.args(["ask", "--connect", "10.96.0.10:80"]);
    let status = command.output().expect("run ask from the proxy's cgroup");
    assert!(
        !status.status.success(),
        "the proxy's cgroup reached the VIP: {}",
        String::from_utf8_lossy(&status.stdout)
    );
    assert_eq!(
        redirects_of_web(&maps),
        redirected,
        "the proxy's own connection was redirected"
    );
    gate.pass();
}

#[test]
fn connect4_sends_a_service_with_a_proxy_port_to_that_port() {
    let Some(gate) = gate::require(
        "connect4_sends_a_service_with_a_proxy_port_to_that_port",
        FEATURES,
    ) else {
        return;
    };
    let (mut world, proxy_metrics) = world("redirect-port", false);
    // A listener of its own at the proxy's address and the service's proxy port, in the
    // proxy's cgroup: what a proxy with a listener per service (HAProxy) would be.
    let mut command = world.command("node", "proxy", crate::support::workloads::traffic_binary());
    command.args([
        "name-server",
        "--listen",
        &format!("10.77.0.1:{PROXY_PORT_OF_BY_PORT}"),
        "--name",
        "by-port-listener",
    ]);
    let mut listener = Process::spawn("by-port listener", command);
    listener.expect("listening", LONG);
    world.processes.push(listener);
    let output = world
        .traffic(
            "client",
            &["ask", "--connect", "10.96.0.10:81", "--lines", "2"],
        )
        .success(LONG);
    assert_eq!(output[0], format!("peer {VIP}:81"), "{output:?}");
    assert_eq!(
        output[1..],
        ["answer by-port-listener", "answer by-port-listener"],
        "{output:?}"
    );
    // connect4 counted it under its service; the node proxy at the common port saw nothing.
    let maps = world.maps();
    let redirected: u64 = maps
        .redirect_counts
        .get(&2, 0)
        .expect("service 2 counters")
        .iter()
        .map(|c| c.connections)
        .sum();
    assert_eq!(redirected, 1);
    assert_eq!(
        maps.proxy_ports.get(&2, 0).expect("service 2's port"),
        u32::from(PROXY_PORT_OF_BY_PORT)
    );
    assert_eq!(maps.proxy_ports.get(&0, 0).expect("service 0's port"), 0);
    let text = probes::scrape(&world.node.ns, &proxy_metrics);
    assert_eq!(
        probes::sample(
            &text,
            r#"meshtwin_proxy_connections_total{result="forwarded"}"#
        ),
        Some(0),
        "{text}"
    );
    gate.pass();
}

#[test]
fn connect4_with_sockmap_between_workload_and_proxy_carries_bytes_both_ways() {
    let Some(gate) = gate::require(
        "connect4_with_sockmap_between_workload_and_proxy_carries_bytes_both_ways",
        FEATURES,
    ) else {
        return;
    };
    let (world, _) = world("redirect-sockmap", true);
    let maps = world.maps();
    let before = sockmap_counters(&maps);
    // Through the VIP of "echo" (port 7): client -> proxy -> b1, sockmap on both legs.
    let client = world.traffic(
        "client",
        &[
            "echo-client",
            "--connect",
            "10.96.0.10:7",
            "--connections",
            "4",
            "--messages",
            "50",
            "--min-size",
            "1",
            "--max-size",
            "65536",
            "--half-close",
        ],
    );
    let output = client.success(LONG);
    let sent: u64 = output
        .iter()
        .find_map(|l| l.strip_prefix("ok ")?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("{output:?}"));
    let after = sockmap_counters(&maps);
    // Each byte crosses two bypassed legs each way: client -> proxy -> b1 -> proxy -> client.
    assert!(
        after.1 - before.1 >= 4 * sent,
        "{sent} bytes echoed through the proxy, {} redirected",
        after.1 - before.1
    );
    gate.pass();
}
