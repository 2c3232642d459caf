//! mTLS between node proxies, with real clients across two nodes: node A (pods 10.77.0.x) and
//! node B (pods 10.78.0.x), each with its own agent and node proxy, joined by a veth underlay
//! (10.100.0.1 / .2) and no route between their pods. A client on A connects to a service VIP
//! whose backend (a hyper server under XDP policy) is on B; connect4 sends it to proxy A, which
//! carries it to proxy B in TLS 1.3 with the client's identity certificate:
//!
//! - curl and wrk succeed for the allowed identity; a denied identity is refused by proxy B
//!   (403 to proxy A, an empty reply to curl);
//! - the bytes on the underlay are not plaintext (a marker curl sends is absent there, present
//!   on the backend's own veth, and the TLS server name is there to show the capture works);
//! - a certificate of another CA and an expired one are refused in the handshake;
//! - rotating certificates keeps an established tunnel working and serves new ones.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use meshtwin_kernel_features::{
    Feature, CGROUP_CONNECT4, CGROUP_LINK, LPM_TRIE, LRU_HASH, SOCK_HASH, SOCK_OPS, XDP, XDP_LINK,
};
use meshtwin_testbed::{
    capture::{contains, Capture},
    topology::{link_nodes, Node, NODE_LINK},
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
const WRK: &str = "/usr/bin/wrk";
const URL: &str = "http://10.96.0.10/status/200";
const TRUST_DOMAIN: &str = "meshtwin.test";
const MARKER: &str = "meshtwin-marker-5d1c9e0b";

const IDENTITIES: &str = r#"
[[identity]]
name = "frontend"
id = 10
addresses = ["10.77.0.2/32"]

[[identity]]
name = "intruder"
id = 30
addresses = ["10.77.0.4/32"]

[[identity]]
name = "backend"
id = 20
addresses = ["10.78.0.11/32"]
"#;

fn config_a(a: &MeshWorld) -> String {
    format!(
        r#"{IDENTITIES}
[[service]]
name = "web"
vip = "10.96.0.10"
port = 80
protocol = "tcp"
backends = ["10.78.0.11:8080"]

[[service]]
name = "echo"
vip = "10.96.0.10"
port = 7
protocol = "tcp"
backends = ["10.78.0.11:7000"]

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
"#,
        proxy = a.cgroup("proxy").display(),
        frontend = a.cgroup("frontend").display(),
        intruder = a.cgroup("intruder").display(),
    )
}

fn config_b(b: &MeshWorld) -> String {
    format!(
        r#"{IDENTITIES}
[[policy]]
from = "frontend"
to = "backend"
protocol = "tcp"
ports = [8080, 7000]

[[attach]]
interface = "eth0"
netns = "{backend_ns}"
program = "xdp-policy"

[node-proxy]
address = "10.78.0.1"
port = 15001
cgroup = "{proxy}"

[[workload]]
name = "backend"
cgroup = "{backend}"
addresses = ["10.78.0.11"]
"#,
        backend_ns = b.node.pod("backend").ns.path().display(),
        proxy = b.cgroup("proxy").display(),
        backend = b.cgroup("backend").display(),
    )
}

/// Runs `meshtwin-node-proxy ca ...` and asserts it succeeded.
fn ca(args: &[&str]) {
    let output = std::process::Command::new(proxy_binary())
        .arg("ca")
        .args(args)
        .output()
        .expect("run meshtwin-node-proxy ca");
    assert!(
        output.status.success(),
        "meshtwin-node-proxy ca {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Replaces a node's certificate of `identity` with the one in `from` (another issue's
/// output), by a rename, as `ca issue` itself writes.
fn install(from: &Path, node_dir: &Path, identity: u32) {
    let name = format!("identity-{identity}.pem");
    let temporary = node_dir.join(format!(".{name}.test"));
    std::fs::copy(from.join(&name), &temporary).expect("copy a certificate");
    std::fs::rename(&temporary, node_dir.join(&name)).expect("install a certificate");
}

fn start_proxy(world: &MeshWorld, name: &str, extra: &[&str]) -> (Process, String) {
    let mut command = world.command("node", "proxy", proxy_binary());
    command.arg("--bpffs-dir").arg(&world.agent.bpffs_dir);
    command.args(["--metrics-address", "127.0.0.1:0"]);
    command.args(extra);
    let mut proxy = Process::spawn(name, command);
    proxy.expect("listening", LONG);
    let metrics = proxy.metrics_address(LONG);
    (proxy, metrics)
}

fn result(world: &MeshWorld, metrics: &str, result: &str) -> u64 {
    let text = probes::scrape(&world.node.ns, metrics);
    probes::sample(
        &text,
        &format!(r#"meshtwin_proxy_connections_total{{result="{result}"}}"#),
    )
    .unwrap_or(0)
}

/// The HTTP status curl got from `pod` through the VIP ("000" when it got no response).
fn curl(world: &MeshWorld, pod: &str) -> String {
    let output = world
        .command(pod, pod, CURL)
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(["--connect-timeout", "2", "--max-time", "5"])
        .args(["-H", &format!("X-Marker: {MARKER}"), URL])
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

struct Cluster {
    a: MeshWorld,
    b: MeshWorld,
    work: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

#[test]
fn node_proxies_carry_pod_traffic_between_nodes_in_mtls_by_identity() {
    let Some(gate) = gate::require(
        "node_proxies_carry_pod_traffic_between_nodes_in_mtls_by_identity",
        FEATURES,
    ) else {
        return;
    };
    let a = MeshWorld::on_node(
        "mtls-a",
        Node::with_subnet([10, 77, 0]),
        &[("frontend", 2), ("intruder", 4)],
    );
    let b = MeshWorld::on_node("mtls-b", Node::with_subnet([10, 78, 0]), &[("backend", 11)]);
    let work = std::env::temp_dir().join(format!("meshtwin-test-{}-mtls", std::process::id()));
    let mut cluster = Cluster { a, b, work };
    let (ca_dir, certs_a, certs_b, scratch) = (
        cluster.work.join("ca"),
        cluster.work.join("node-a"),
        cluster.work.join("node-b"),
        cluster.work.join("scratch"),
    );
    let _ = std::fs::remove_dir_all(&cluster.work);
    link_nodes(&cluster.a.node, &cluster.b.node, [10, 100, 0]);
    for world in [&mut cluster.a, &mut cluster.b] {
        world.cgroups.add("proxy").expect("the proxy's cgroup");
    }
    cluster.a.agent.write_config(&config_a(&cluster.a));
    cluster.b.agent.write_config(&config_b(&cluster.b));
    cluster.a.agent.ok(&cluster.a.node.ns, "up");
    cluster.b.agent.ok(&cluster.b.node.ns, "up");
    let mut server = cluster
        .b
        .traffic("backend", &["http-server", "--listen", "0.0.0.0:8080"]);
    server.expect("listening", LONG);
    cluster.b.processes.push(server);
    cluster.b.echo_server("backend", 7000, &[]);

    ca(&[
        "init",
        "--dir",
        path(&ca_dir),
        "--trust-domain",
        TRUST_DOMAIN,
    ]);
    let issue_a = ["issue", "--ca", path(&ca_dir), "--out", path(&certs_a)];
    let issue_b = ["issue", "--ca", path(&ca_dir), "--out", path(&certs_b)];
    ca(&[
        &issue_a[..],
        &["--identity", "10=frontend", "--identity", "30=intruder"],
    ]
    .concat());
    ca(&[&issue_b[..], &["--identity", "20=backend"]].concat());
    let (mut proxy_b, metrics_b) = start_proxy(
        &cluster.b,
        "node proxy B",
        &[
            "--certs",
            path(&certs_b),
            "--tunnel-listen",
            "10.100.0.2:15008",
        ],
    );
    let (mut proxy_a, metrics_a) = start_proxy(
        &cluster.a,
        "node proxy A",
        &[
            "--certs",
            path(&certs_a),
            "--peer",
            "10.78.0.0/24=10.100.0.2:15008",
        ],
    );
    let (a, b) = (&cluster.a, &cluster.b);

    // Allowed, with the wire watched on both sides of proxy B.
    let underlay = Capture::start(&b.node.ns, NODE_LINK).expect("capture the underlay");
    let backend_link = Capture::start(&b.node.ns, "h-backend").expect("capture the backend link");
    assert_eq!(curl(a, "frontend"), "200", "frontend across the nodes");
    let underlay = underlay.stop().expect("underlay capture");
    let backend_link = backend_link.stop().expect("backend capture");
    assert!(
        contains(&backend_link, MARKER.as_bytes()),
        "the marker never reached the backend in clear: the capture saw nothing ({} bytes)",
        backend_link.len()
    );
    assert!(
        contains(&underlay, b"identity-20.meshtwin.test"),
        "no TLS handshake on the underlay ({} bytes captured)",
        underlay.len()
    );
    assert!(
        !contains(&underlay, MARKER.as_bytes()),
        "the marker crossed the underlay in plaintext"
    );
    assert_eq!(result(b, &metrics_b, "forwarded"), 1);
    assert_eq!(result(a, &metrics_a, "tunneled"), 1);

    // wrk: four keep-alive connections, each its own tunnel, every response a 200.
    let wrk = a
        .command("frontend", "frontend", WRK)
        .args(["-t1", "-c4", "-d2s", URL])
        .output()
        .expect("run wrk");
    let report = String::from_utf8_lossy(&wrk.stdout);
    assert!(wrk.status.success(), "wrk failed: {report}");
    assert!(
        !report.contains("Non-2xx") && !report.contains("Socket errors"),
        "{report}"
    );
    let requests: u64 = report
        .lines()
        .find_map(|l| l.trim().split_once(" requests in ")?.0.parse().ok())
        .unwrap_or_else(|| panic!("no request count in {report}"));
    assert!(requests > 0, "{report}");
    // One tunnel per connection: at least wrk's four (it may open one more to start), each
    // accepted by proxy B.
    let tunnels = result(b, &metrics_b, "forwarded");
    assert!(
        tunnels >= 5,
        "{tunnels} tunnels for curl and wrk's 4 connections"
    );
    assert_eq!(result(a, &metrics_a, "tunneled"), tunnels);

    // Denied: refused by proxy B on the verified identity.
    assert_eq!(curl(a, "intruder"), "000", "intruder across the nodes");
    assert_eq!(result(b, &metrics_b, "denied"), 1);
    assert_eq!(result(a, &metrics_a, "tunnel_refused"), 1);

    // Rotation: an open tunnel keeps working while both nodes get new certificates.
    let mut open = a.traffic(
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
    assert!(
        probes::eventually(Duration::from_secs(10), || {
            result(b, &metrics_b, "forwarded") == tunnels + 1
        }),
        "the echo connection's tunnel was not set up"
    );
    ca(&[
        &issue_a[..],
        &["--identity", "10=frontend", "--identity", "30=intruder"],
    ]
    .concat());
    ca(&[&issue_b[..], &["--identity", "20=backend"]].concat());
    proxy_a.expect("certificates reloaded", LONG);
    proxy_b.expect("certificates reloaded", LONG);
    open.send("go");
    open.expect("exchanged", LONG);
    assert_eq!(curl(a, "frontend"), "200", "after rotation");
    drop(open);

    // A certificate for the same identity from another CA of the same trust domain.
    let forged_ca = cluster.work.join("forged-ca");
    ca(&[
        "init",
        "--dir",
        path(&forged_ca),
        "--trust-domain",
        TRUST_DOMAIN,
    ]);
    ca(&[
        "issue",
        "--ca",
        path(&forged_ca),
        "--out",
        path(&scratch),
        "--identity",
        "10",
    ]);
    install(&scratch, &certs_a, 10);
    proxy_a.expect("certificates reloaded", LONG);
    let failed = result(b, &metrics_b, "handshake_failed");
    assert_eq!(curl(a, "frontend"), "000", "a forged certificate");
    assert_eq!(result(b, &metrics_b, "handshake_failed"), failed + 1);

    // An expired certificate of the real CA.
    let expired = ["--valid-for-secs", "60", "--backdate-secs", "120"];
    let issue_scratch = ["issue", "--ca", path(&ca_dir), "--out", path(&scratch)];
    ca(&[&issue_scratch[..], &["--identity", "10"], &expired[..]].concat());
    install(&scratch, &certs_a, 10);
    proxy_a.expect("certificates reloaded", LONG);
    assert_eq!(curl(a, "frontend"), "000", "an expired certificate");
    assert_eq!(result(b, &metrics_b, "handshake_failed"), failed + 2);

    // A valid one again.
    ca(&[
        &issue_a[..],
        &["--identity", "10=frontend", "--identity", "30=intruder"],
    ]
    .concat());
    proxy_a.expect("certificates reloaded", LONG);
    assert_eq!(curl(a, "frontend"), "200", "a valid certificate again");
    drop((proxy_a, proxy_b));
    gate.pass();
}
