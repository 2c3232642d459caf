//! The node proxy and the identity policy (issue 14, hole 2): the proxy must not launder
//! identities. Real clients (curl) in pods under connect4's redirect, a real HTTP server (hyper)
//! in a policed backend pod with the XDP policy on its interface, the node proxy between them:
//!
//! - an allowed client reaches the policed backend through the VIP, although the backend sees
//!   the proxy's address (before the fix: "000", the proxy's address has no identity);
//! - a denied client is refused by the proxy, also when the proxy's own address is given an
//!   identity that may reach the backend (before the fix: "200" through the VIP, "000" direct);
//! - an open connection through the proxy is closed once `reload` revokes its pair.

use std::time::Duration;

use meshtwin_kernel_features::{
    Feature, CGROUP_CONNECT4, CGROUP_LINK, LPM_TRIE, LRU_HASH, SOCK_HASH, SOCK_OPS, XDP, XDP_LINK,
};

use crate::{
    probes,
    support::{
        gate,
        workloads::{proxy_binary, MeshWorld, Process},
    },
};

const FEATURES: &[Feature] = &[
    XDP,
    XDP_LINK,
    LPM_TRIE,
    LRU_HASH,
    CGROUP_CONNECT4,
    SOCK_OPS,
    SOCK_HASH,
    CGROUP_LINK,
];
const LONG: Duration = Duration::from_secs(60);
const CURL: &str = "/usr/bin/curl";
const VIP_URL: &str = "http://10.96.0.10/status/200";
const DIRECT_URL: &str = "http://10.77.0.11:8080/status/200";

/// `frontend` may reach `backend` on 8080 (HTTP) and 7000 (echo); `intruder` may not. With
/// `proxy_allowed`, the node proxy's own address (10.77.0.1) is an identity that may reach the
/// backend too: the configuration under which a laundering proxy lets everyone in.
fn config(world: &MeshWorld, frontend_allowed: bool, proxy_allowed: bool) -> String {
    let backend_ns = world.node.pod("backend").ns.path();
    let frontend_rule = if frontend_allowed {
        "[[policy]]\nfrom = \"frontend\"\nto = \"backend\"\nprotocol = \"tcp\"\nports = [8080, 7000]\n"
    } else {
        ""
    };
    let proxy_rule = if proxy_allowed {
        "[[identity]]\nname = \"node\"\nid = 40\naddresses = [\"10.77.0.1/32\"]\n\n\
         [[policy]]\nfrom = \"node\"\nto = \"backend\"\nprotocol = \"tcp\"\nports = [8080, 7000]\n"
    } else {
        ""
    };
    format!(
        r#"
[[identity]]
name = "frontend"
id = 10
addresses = ["10.77.0.2/32"]

[[identity]]
name = "backend"
id = 20
addresses = ["10.77.0.11/32"]
default-deny = true

[[identity]]
name = "intruder"
id = 30
addresses = ["10.77.0.4/32"]

{frontend_rule}
{proxy_rule}
[[attach]]
interface = "eth0"
netns = "{backend_ns}"
program = "xdp-policy"

[[service]]
name = "web"
vip = "10.96.0.10"
port = 80
protocol = "tcp"
backends = ["10.77.0.11:8080"]

[[service]]
name = "echo"
vip = "10.96.0.10"
port = 7
protocol = "tcp"
backends = ["10.77.0.11:7000"]

[node-proxy]
address = "10.77.0.1"
port = 15001
cgroup = "{proxy}"

[[workload]]
name = "frontend"
cgroup = "{frontend}"
addresses = ["10.77.0.2"]
redirect = true

[[workload]]
name = "intruder"
cgroup = "{intruder}"
addresses = ["10.77.0.4"]
redirect = true

[[workload]]
name = "backend"
cgroup = "{backend}"
addresses = ["10.77.0.11"]
"#,
        backend_ns = backend_ns.display(),
        proxy = world.cgroup("proxy").display(),
        frontend = world.cgroup("frontend").display(),
        intruder = world.cgroup("intruder").display(),
        backend = world.cgroup("backend").display(),
    )
}

/// The HTTP status curl got from `pod` for `url` ("000" when it got no response).
fn curl(world: &MeshWorld, pod: &str, url: &str) -> String {
    let output = world
        .command(pod, pod, CURL)
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(["--connect-timeout", "2", "--max-time", "3", url])
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn proxy_result(world: &MeshWorld, metrics: &str, result: &str) -> u64 {
    let text = probes::scrape(&world.node.ns, metrics);
    probes::sample(
        &text,
        &format!(r#"meshtwin_proxy_connections_total{{result="{result}"}}"#),
    )
    .unwrap_or(0)
}

#[test]
fn the_node_proxy_enforces_the_original_clients_identity() {
    let Some(gate) = gate::require(
        "the_node_proxy_enforces_the_original_clients_identity",
        FEATURES,
    ) else {
        return;
    };
    let mut world = MeshWorld::new(
        "proxy-policy",
        &[("frontend", 2), ("intruder", 4), ("backend", 11)],
    );
    world.cgroups.add("proxy").expect("the proxy's cgroup");
    world.agent.write_config(&config(&world, true, false));
    world.agent.ok(&world.node.ns, "up");
    let mut server = world.traffic("backend", &["http-server", "--listen", "0.0.0.0:8080"]);
    server.expect("listening", LONG);
    world.processes.push(server);
    world.echo_server("backend", 7000, &[]);
    let mut command = world.command("node", "proxy", proxy_binary());
    command.arg("--bpffs-dir").arg(&world.agent.bpffs_dir);
    command.args(["--metrics-address", "127.0.0.1:0"]);
    let mut proxy = Process::spawn("meshtwin-node-proxy", command);
    proxy.expect("listening", LONG);
    let metrics = proxy.metrics_address(LONG);
    world.processes.push(proxy);

    // Direct paths: the XDP policy alone.
    assert_eq!(
        curl(&world, "frontend", DIRECT_URL),
        "200",
        "frontend direct"
    );
    assert_eq!(
        curl(&world, "intruder", DIRECT_URL),
        "000",
        "intruder direct"
    );
    // Through the VIP and the proxy: the allowed client gets through although the backend
    // sees the proxy's address, and the denied one is refused by the proxy itself.
    assert_eq!(
        curl(&world, "frontend", VIP_URL),
        "200",
        "frontend via the VIP"
    );
    assert_eq!(
        curl(&world, "intruder", VIP_URL),
        "000",
        "intruder via the VIP"
    );
    assert_eq!(proxy_result(&world, &metrics, "denied"), 1);

    // The proxy's own address becomes an identity allowed to reach the backend: a laundering
    // proxy would now let the intruder in.
    world.agent.write_config(&config(&world, true, true));
    world.agent.ok(&world.node.ns, "reload");
    assert_eq!(
        curl(&world, "intruder", VIP_URL),
        "000",
        "intruder via the VIP"
    );
    assert_eq!(
        curl(&world, "intruder", DIRECT_URL),
        "000",
        "intruder direct"
    );
    assert_eq!(
        curl(&world, "frontend", VIP_URL),
        "200",
        "frontend via the VIP"
    );
    assert_eq!(proxy_result(&world, &metrics, "denied"), 2);

    // An open connection through the proxy: exchanged while allowed, closed by the proxy once
    // `reload` revokes frontend -> backend (the proxy's address stays allowed all along).
    let mut open = world.traffic(
        "frontend",
        &[
            "echo-client",
            "--connect",
            "10.96.0.10:7",
            "--messages",
            "4",
            "--handshake",
        ],
    );
    open.expect("connected", LONG);
    open.send("go");
    open.expect("exchanged", LONG);
    world.agent.write_config(&config(&world, false, true));
    world.agent.ok(&world.node.ns, "reload");
    assert!(
        probes::eventually(Duration::from_secs(5), || {
            proxy_result(&world, &metrics, "revoked") == 1
        }),
        "the proxy did not close the revoked connection"
    );
    drop(open);
    assert_eq!(curl(&world, "frontend", VIP_URL), "000", "frontend revoked");
    gate.pass();
}
