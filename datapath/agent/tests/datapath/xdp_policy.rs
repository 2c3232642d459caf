//! The XDP identity policy, attached to a server pod's interface.

use std::{
    io::BufRead as _,
    net::{Ipv4Addr, SocketAddrV4},
    time::Duration,
};

use meshtwin_kernel_features::{LPM_TRIE, LRU_HASH, XDP, XDP_LINK};

use crate::{
    probes::{self, eventually},
    support::{
        agent::Agent,
        gate,
        netns::Netns,
        topology::Node,
        traffic::{
            connect, connect_in, tcp_server, tcp_server_in, udp_ask, udp_server, Flood, Server,
        },
    },
};

const FRONTEND: u32 = 10;
const SERVER: u32 = 20;
const OTHER: u32 = 30;
const UNKNOWN: u32 = 0;

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 3);
const DENIED: Duration = Duration::from_millis(700);

fn identities_and_rules(extra_rules: &str, server_ns: &str) -> String {
    format!(
        r#"
[[identity]]
name = "frontend"
id = {FRONTEND}
addresses = ["10.77.0.2/32"]

[[identity]]
name = "server"
id = {SERVER}
addresses = ["10.77.0.3"]

[[identity]]
name = "other"
id = {OTHER}
addresses = ["10.77.0.4/32"]

[[policy]]
from = "frontend"
to = "server"
protocol = "tcp"
ports = [8080]

[[policy]]
from = "frontend"
to = "server"
protocol = "udp"
ports = [9090]
{extra_rules}
[[attach]]
interface = "eth0"
netns = "{server_ns}"
program = "xdp-policy"
"#
    )
}

/// Fields drop in order: the agent (`down`), then servers, then the namespaces.
pub struct World {
    pub agent: Agent,
    pub servers: Vec<Server>,
    pub node: Node,
}

fn world(test: &str) -> World {
    let mut node = Node::new();
    node.add_pod("frontend", 2);
    node.add_pod("server", 3);
    node.add_pod("other", 4);
    node.add_pod("stranger", 5);
    let server = node.pod("server");
    let servers = vec![
        tcp_server(server, 8080, "server"),
        tcp_server(server, 8081, "server-8081"),
        udp_server(server, 9090, "server-udp"),
    ];
    let agent = Agent::new(test);
    let server_ns = node.pod("server").ns.path();
    agent.write_config(&identities_and_rules("", server_ns.to_str().unwrap()));
    World {
        agent,
        servers,
        node,
    }
}

fn tcp_reaches(world: &World, from: &str, port: u16) -> bool {
    match connect(
        world.node.pod(from),
        SocketAddrV4::new(SERVER_IP, port),
        None,
        DENIED,
    ) {
        Ok(mut connection) => connection.ask().is_ok(),
        Err(_) => false,
    }
}

#[test]
fn xdp_policy_allows_denies_and_counts() {
    let Some(gate) = gate::require(
        "xdp_policy_allows_denies_and_counts",
        &[XDP, XDP_LINK, LPM_TRIE, LRU_HASH],
    ) else {
        return;
    };
    let world = world("xdp-allow-deny");
    // Without the program everyone reaches the server: the denials below are the program's.
    assert!(
        eventually(Duration::from_secs(10), || tcp_reaches(
            &world, "other", 8080
        )),
        "before up, other must reach the server"
    );

    world.agent.ok(&world.node.ns, "up");
    let dir = &world.agent.bpffs_dir;

    assert!(
        tcp_reaches(&world, "frontend", 8080),
        "frontend -> server:8080/tcp is allowed"
    );
    assert!(
        !tcp_reaches(&world, "frontend", 8081),
        "frontend -> server:8081 has no rule"
    );
    assert!(
        !tcp_reaches(&world, "other", 8080),
        "other -> server has no rule"
    );
    assert!(
        !tcp_reaches(&world, "stranger", 8080),
        "stranger has no identity"
    );
    let to_udp = SocketAddrV4::new(SERVER_IP, 9090);
    assert_eq!(
        udp_ask(world.node.pod("frontend"), to_udp, None, DENIED).as_deref(),
        Some("server-udp")
    );
    assert_eq!(udp_ask(world.node.pod("other"), to_udp, None, DENIED), None);

    let allowed = probes::policy_counters(dir, FRONTEND, SERVER);
    assert!(
        allowed.passed_packets >= 4,
        "frontend -> server passes counted: {allowed:?}"
    );
    assert!(allowed.passed_bytes >= 4 * 54, "{allowed:?}");
    assert!(
        allowed.dropped_packets >= 1,
        "the 8081 SYN was dropped and counted: {allowed:?}"
    );
    let other = probes::policy_counters(dir, OTHER, SERVER);
    assert!(
        other.dropped_packets >= 2 && other.passed_packets == 0,
        "other -> server: {other:?}"
    );
    let unknown = probes::policy_counters(dir, UNKNOWN, SERVER);
    assert!(
        unknown.dropped_packets >= 1 && unknown.passed_packets == 0,
        "unknown -> server: {unknown:?}"
    );
    gate.pass();
}

#[test]
fn xdp_policy_keeps_denying_across_agent_restart_and_reloads_in_place() {
    let Some(gate) = gate::require(
        "xdp_policy_keeps_denying_across_agent_restart_and_reloads_in_place",
        &[XDP_LINK, XDP, LPM_TRIE, LRU_HASH],
    ) else {
        return;
    };
    let world = world("xdp-restart");
    let udp = &world.servers[2];
    let other_ip = world.node.pod("other").ip;
    let from_other = || {
        udp.received_from
            .lock()
            .unwrap()
            .iter()
            .filter(|ip| **ip == other_ip)
            .count()
    };

    let mut agent = world.agent.spawn_run(&world.node.ns);
    let (address, _stdout) = probes::metrics_address(&mut agent);
    // Denied traffic all along: not one datagram may reach the server across the restart.
    let flood = Flood::start(world.node.pod("other"), SocketAddrV4::new(SERVER_IP, 9090));
    assert!(eventually(
        Duration::from_secs(5),
        || probes::policy_counters(&world.agent.bpffs_dir, OTHER, SERVER).dropped_packets >= 20
    ));
    let metrics = probes::scrape(&world.node.ns, &address);
    let series =
        r#"meshtwin_policy_packets_total{source="other",destination="server",verdict="dropped"}"#;
    let scraped =
        probes::sample(&metrics, series).unwrap_or_else(|| panic!("no {series} in:\n{metrics}"));
    assert!(scraped >= 20, "{series} = {scraped}");

    // Restart: stop the agent, start a new one; it adopts the pinned maps and swaps its program
    // into the pinned link.
    probes::signal(&agent, libc::SIGTERM);
    assert!(agent.wait().expect("agent exit").success());
    let before = probes::policy_counters(&world.agent.bpffs_dir, OTHER, SERVER);
    std::thread::sleep(Duration::from_millis(200));
    let up = world.agent.ok(&world.node.ns, "up");
    assert!(up.contains("replaced xdp_policy on eth0 in place"), "{up}");
    let mut agent = world.agent.spawn_run(&world.node.ns);
    let (address, _stdout) = probes::metrics_address(&mut agent);
    std::thread::sleep(Duration::from_millis(300));
    let after = probes::policy_counters(&world.agent.bpffs_dir, OTHER, SERVER);
    assert!(
        after.dropped_packets > before.dropped_packets,
        "counters kept and still counting: {before:?} -> {after:?}"
    );
    assert_eq!(
        from_other(),
        0,
        "denied datagrams reached the server during the restart"
    );
    assert!(
        probes::sample(&probes::scrape(&world.node.ns, &address), series).unwrap()
            >= after.dropped_packets
    );

    // SIGHUP applies a changed config in place: other may now send to 9090/udp.
    let server_ns = world.node.pod("server").ns.path();
    let allow_other =
        "\n[[policy]]\nfrom = \"other\"\nto = \"server\"\nprotocol = \"udp\"\nports = [9090]\n";
    world.agent.write_config(&identities_and_rules(
        allow_other,
        server_ns.to_str().unwrap(),
    ));
    probes::signal(&agent, libc::SIGHUP);
    assert!(
        eventually(Duration::from_secs(5), || from_other() > 0),
        "SIGHUP reload did not allow other"
    );

    // `reload` with the original config takes the rule away again.
    world
        .agent
        .write_config(&identities_and_rules("", server_ns.to_str().unwrap()));
    let reloaded = world.agent.ok(&world.node.ns, "reload");
    assert!(reloaded.contains("reloaded"), "{reloaded}");
    std::thread::sleep(Duration::from_millis(100));
    let settled = from_other();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(from_other(), settled, "reload did not revoke the rule");
    assert!(flood.sent.load(std::sync::atomic::Ordering::SeqCst) > 100);
    drop(flood);

    probes::signal(&agent, libc::SIGTERM);
    let mut stdout = _stdout;
    assert!(agent.wait().expect("agent exit").success());
    let mut rest = String::new();
    while stdout.read_line(&mut rest).unwrap_or(0) > 0 {}
    assert!(rest.contains("reloaded on SIGHUP"), "agent output: {rest}");
    // The agent is gone; the pinned datapath still enforces.
    assert!(!tcp_reaches(&world, "other", 8080));
    assert!(tcp_reaches(&world, "frontend", 8080));
    gate.pass();
}

#[test]
fn xdp_policy_applies_to_ipv6() {
    let Some(gate) = gate::require(
        "xdp_policy_applies_to_ipv6",
        &[XDP, XDP_LINK, LPM_TRIE, LRU_HASH],
    ) else {
        return;
    };
    // Two namespaces on one veth pair; the client holds two addresses of different identities
    // and picks its identity by binding one of them.
    let client = Netns::new();
    let server = Netns::new();
    let server_path = server.path();
    client.add_veth("eth0", &server, "eth0");
    for (ns, addresses) in [
        (&client, &["fd77::2", "fd77::4"][..]),
        (&server, &["fd77::3"][..]),
    ] {
        for address in addresses {
            ns.add_address("eth0", address.parse().unwrap(), 64);
        }
        ns.set_up("eth0");
    }
    client.wait_link_up("eth0");
    server.wait_link_up("eth0");
    let server_address: std::net::SocketAddr = "[fd77::3]:8080".parse().unwrap();
    let _listener = tcp_server_in(&server, server_address, "server6");
    let agent = Agent::new("xdp-ipv6");
    agent.write_config(&format!(
        r#"
[[identity]]
name = "frontend"
id = {FRONTEND}
addresses = ["fd77::2"]

[[identity]]
name = "server"
id = {SERVER}
addresses = ["fd77::3/128"]

[[identity]]
name = "other"
id = {OTHER}
addresses = ["fd77::4"]

[[policy]]
from = "frontend"
to = "server"
protocol = "tcp"
ports = [8080]

[[attach]]
interface = "eth0"
netns = "{}"
program = "xdp-policy"
"#,
        server_path.display()
    ));
    let reaches = |from: &str| {
        let source: std::net::SocketAddr = format!("[{from}]:0").parse().unwrap();
        connect_in(&client, server_address, Some(source), DENIED)
            .and_then(|mut c| c.ask())
            .ok()
    };
    // (A new veth link may drop the first packets until the kernel activates its queue.)
    assert!(
        eventually(Duration::from_secs(10), || reaches("fd77::4").is_some()),
        "before up, other reaches the server"
    );

    agent.ok(&client, "up");
    // Neighbour discovery keeps working (the cache entry is gone after a flush), and policy
    // applies to IPv6 as to IPv4.
    server.ip(&["-6", "neigh", "flush", "dev", "eth0"]);
    assert_eq!(
        reaches("fd77::2").as_deref(),
        Some("server6"),
        "frontend -> server over IPv6 is allowed"
    );
    assert_eq!(
        reaches("fd77::4"),
        None,
        "other -> server over IPv6 has no rule"
    );
    let other = probes::policy_counters(&agent.bpffs_dir, OTHER, SERVER);
    assert!(
        other.dropped_packets >= 1 && other.passed_packets == 0,
        "{other:?}"
    );
    assert!(probes::policy_counters(&agent.bpffs_dir, FRONTEND, SERVER).passed_packets >= 3);
    drop(agent);
    gate.pass();
}
