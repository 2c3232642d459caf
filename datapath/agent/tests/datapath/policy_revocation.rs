//! Revoking a pair reaches its established connections: curl keeps one connection to nginx
//! open and sends a request on it every 200 ms; `reload` then denies the pair. The next request
//! on that connection must get no answer, with the sockmap bypass carrying the connection as
//! well as without it, and the new connections curl then opens must be refused. nginx's access
//! log says what reached the server.

use std::time::Duration;

use meshtwin_kernel_features::{
    Feature, CGROUP_LINK, LPM_TRIE, LRU_HASH, SK_MSG, SOCK_HASH, SOCK_OPS, XDP, XDP_LINK,
};
use meshtwin_testbed::nginx::{Nginx, NginxOptions, INDEX};

use crate::{
    probes,
    support::{
        gate,
        workloads::{mesh_sockets, sockmap_counters, MeshWorld, Process},
    },
};

const FEATURES: &[Feature] = &[
    XDP,
    XDP_LINK,
    LPM_TRIE,
    LRU_HASH,
    SK_MSG,
    SOCK_OPS,
    SOCK_HASH,
    CGROUP_LINK,
];
const CLIENT_ID: u32 = 10;
const WEB_ID: u32 = 20;
const LONG: Duration = Duration::from_secs(90);
/// Requests curl sends, one every 200 ms, each given at most a second: 6 s of schedule, so
/// that the revocation lands mid-sequence even where starting `reload` takes seconds (with
/// 12, 5.10 under emulation on a busy host answered 10 before the reload took effect).
const REQUESTS: usize = 30;

fn config(world: &MeshWorld, bypass: bool, allowed: bool) -> String {
    let rule = if allowed {
        "[[policy]]\nfrom = \"client\"\nto = \"web\"\nprotocol = \"tcp\"\nports = [8080]\n"
    } else {
        ""
    };
    format!(
        r#"
[[identity]]
name = "client"
id = {CLIENT_ID}
addresses = ["10.77.0.2/32"]

[[identity]]
name = "web"
id = {WEB_ID}
addresses = ["10.77.0.3/32"]
default-deny = true

{rule}
[[attach]]
interface = "eth0"
netns = "{web_ns}"
program = "xdp-policy"

[[workload]]
name = "client"
cgroup = "{client}"
addresses = ["10.77.0.2"]
sockmap = {bypass}

[[workload]]
name = "web"
cgroup = "{web}"
addresses = ["10.77.0.3"]
sockmap = {bypass}
"#,
        web_ns = world.node.pod("web").ns.path().display(),
        client = world.cgroup("client").display(),
        web = world.cgroup("web").display(),
    )
}

/// What curl reported for one request: its status (0: no answer) and the connections it
/// opened for it.
#[derive(Debug)]
struct Transfer {
    status: u16,
    connects: u32,
}

fn revocation_reaches_the_open_connection(test: &'static str, tag: &str, bypass: bool) {
    let Some(gate) = gate::require(test, FEATURES) else {
        return;
    };
    let world = MeshWorld::new(tag, &[("client", 2), ("web", 3)]);
    world.agent.write_config(&config(&world, bypass, true));
    world.agent.ok(&world.node.ns, "up");
    let nginx = Nginx::start(
        &world.cgroups,
        "web",
        &world.node.pod("web").ns,
        &NginxOptions::default(),
    )
    .unwrap_or_else(|error| panic!("start nginx: {error}"));

    let mut curl = world.command("client", "client", "/usr/bin/curl");
    curl.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{num_connects}\n",
    ])
    .args(["--rate", "5/s", "--max-time", "1", "--connect-timeout", "1"])
    .arg(format!("http://10.77.0.3:8080{INDEX}?n=[1-{REQUESTS}]"));
    let curl = Process::spawn("curl", curl);

    // A few requests answered on the kept connection, then the pair is revoked.
    assert!(
        probes::eventually(Duration::from_secs(30), || nginx.access_log().len() >= 3),
        "curl's first requests did not reach nginx: {:?}\n{}",
        nginx.access_log(),
        nginx.error_log()
    );
    let maps = world.maps();
    if bypass {
        let sockets = mesh_sockets(&maps);
        assert!(
            sockets.iter().any(|k| k.remote_port == 8080),
            "curl's connection is in the socket hash: {sockets:?}"
        );
        assert!(
            sockmap_counters(&maps).0 >= 3,
            "the requests went through the bypass"
        );
    }
    let dropped_before = probes::policy_counters(&world.agent.bpffs_dir, CLIENT_ID, WEB_ID);
    world.agent.write_config(&config(&world, bypass, false));
    world.agent.ok(&world.node.ns, "reload");
    // A request already on its way when the maps changed may still be answered.
    std::thread::sleep(Duration::from_millis(300));
    let answered_at_revocation = nginx.access_log().len();

    // curl exits with 28 (timeout): its last transfers got no answer.
    let (_, lines) = curl.finish(LONG);
    let transfers: Vec<Transfer> = lines
        .iter()
        .map(|line| {
            let (status, connects) = line.split_once(' ').expect("status and connects");
            Transfer {
                status: status.parse().expect("a status"),
                connects: connects.parse().expect("a count"),
            }
        })
        .collect();
    assert_eq!(transfers.len(), REQUESTS, "{transfers:?}");
    let log = nginx.access_log();
    assert_eq!(
        log.len(),
        answered_at_revocation,
        "requests reached nginx after the pair was revoked: {log:?}\ncurl saw {transfers:?}"
    );
    let answered = transfers.iter().filter(|t| t.status == 200).count();
    assert_eq!(answered, log.len(), "every answer is logged: {transfers:?}");
    let first_refused = transfers
        .iter()
        .position(|t| t.status != 200)
        .expect("requests after the revocation are not answered");
    assert!(
        transfers[first_refused..].iter().all(|t| t.status == 0),
        "nothing is answered after the first refusal: {transfers:?}"
    );
    assert!(
        transfers[1..first_refused].iter().all(|t| t.connects == 0),
        "the answered requests shared one connection: {transfers:?}"
    );
    assert_eq!(
        transfers[first_refused].connects, 0,
        "the first unanswered request was sent on the kept connection: {transfers:?}"
    );
    assert!(
        REQUESTS - first_refused >= 3,
        "the revocation came too late to see new connections refused: {transfers:?}"
    );
    if bypass {
        let revoked: u64 = maps
            .sockmap_counts
            .get(&0, 0)
            .map(|per_cpu| per_cpu.iter().map(|c| c.revoked_messages).sum())
            .unwrap_or(0);
        assert!(
            revoked >= 1,
            "sk_msg sent the request after the revocation through TCP"
        );
    }
    let after = probes::policy_counters(&world.agent.bpffs_dir, CLIENT_ID, WEB_ID);
    assert!(
        after.dropped_packets > dropped_before.dropped_packets,
        "XDP dropped the unanswered requests and the new SYNs: {after:?}"
    );
    drop(nginx);
    gate.pass();
}

#[test]
fn revocation_reaches_an_open_keepalive_connection_on_tcp() {
    revocation_reaches_the_open_connection(
        "revocation_reaches_an_open_keepalive_connection_on_tcp",
        "revoke-tcp",
        false,
    );
}

#[test]
fn revocation_reaches_an_open_keepalive_connection_through_the_bypass() {
    revocation_reaches_the_open_connection(
        "revocation_reaches_an_open_keepalive_connection_through_the_bypass",
        "revoke-bypass",
        true,
    );
}
