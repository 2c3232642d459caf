//! HTTP visibility against unmodified nginx (gzip on: chunked responses) with curl and wrk
//! keeping their connections alive: the requests the agent counts equal the requests nginx
//! logged, for clients that connect to the service VIP (which the TC load balancer translates,
//! so the client's socket names the VIP) as for clients that connect to the pod's address,
//! with the sockmap bypass and without it. Nothing is reported unparsed.

use std::time::Duration;

use meshtwin_kernel_features::{
    Feature, CGROUP_LINK, LRU_HASH, SK_MSG, SOCK_HASH, SOCK_OPS, TC_CLSACT,
};
use meshtwin_testbed::nginx::{Nginx, NginxOptions, INDEX, LARGE};

use crate::{
    probes,
    support::{
        agent, gate,
        workloads::{MeshWorld, Process},
    },
};

const FEATURES: &[Feature] = &[
    SK_MSG,
    SOCK_OPS,
    SOCK_HASH,
    CGROUP_LINK,
    TC_CLSACT,
    LRU_HASH,
];
const LONG: Duration = Duration::from_secs(120);
const VIP: &str = "10.96.0.10:80";
const POD: &str = "10.77.0.3:8080";

fn config(world: &MeshWorld, bypass: bool) -> String {
    format!(
        r#"
[[service]]
name = "web"
vip = "10.96.0.10"
port = 80
protocol = "tcp"
backends = ["{POD}"]

[[attach]]
interface = "h-client"
program = "tc-service-lb"

[[attach]]
interface = "h-web"
program = "tc-service-lb"

[[workload]]
name = "client"
cgroup = "{}"
addresses = ["10.77.0.2"]
sockmap = {bypass}

[[workload]]
name = "web"
cgroup = "{}"
addresses = ["10.77.0.3"]
sockmap = {bypass}
http = ["web"]
"#,
        world.cgroup("client").display(),
        world.cgroup("web").display(),
    )
}

/// What the agent counted and what nginx logged, at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counts {
    /// `meshtwin_http_requests_total` of GET 2xx.
    agent: u64,
    /// Every other series of `meshtwin_http_requests_total`, and every unparsed message.
    agent_other: u64,
    /// Exchanges reported as not counted, a few per thousand under wrk on the VM tests' slow
    /// kernels: a head split across two sends (the documented limit), or a response sent after
    /// its client had closed (`no_request`: wrk closes its connections when its time is up,
    /// requests in flight; the close forgets the connection's pending requests, and nginx still
    /// logs the answer it wrote to the kernel). Reported, never silent.
    split: u64,
    /// Messages reported as not counted for any other reason.
    unparsed: u64,
    /// Requests nginx logged as answered: status 200 with body bytes written (a response that
    /// wrk's closing socket refused never reached sendmsg, so the kernel never saw it).
    nginx: u64,
    nginx_other: u64,
}

/// An unparsed series whose exchanges the test accepts as reported rather than counted.
fn reported(series: &str) -> bool {
    series.contains(r#"reason="split""#) || series.contains(r#"reason="no_request""#)
}

fn counts(metrics_text: &str, nginx: &Nginx) -> Counts {
    let series = |prefix: &str| -> Vec<(String, u64)> {
        metrics_text
            .lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| {
                let (name, value) = l.rsplit_once(' ')?;
                Some((name.to_string(), value.parse().ok()?))
            })
            .collect()
    };
    let requests = series("meshtwin_http_requests_total{");
    let get_2xx = r#"meshtwin_http_requests_total{service="web",method="GET",status_class="2xx"}"#;
    let log = nginx.access_log();
    Counts {
        agent: requests
            .iter()
            .filter(|(n, _)| n == get_2xx)
            .map(|(_, v)| v)
            .sum(),
        agent_other: requests
            .iter()
            .filter(|(n, _)| n != get_2xx)
            .map(|(_, v)| v)
            .sum(),
        split: series("meshtwin_http_unparsed_messages_total{")
            .iter()
            .filter(|(n, _)| reported(n))
            .map(|(_, v)| v)
            .sum(),
        unparsed: series("meshtwin_http_unparsed_messages_total{")
            .iter()
            .filter(|(n, _)| !reported(n))
            .map(|(_, v)| v)
            .sum(),
        nginx: log
            .iter()
            .filter(|e| e.method == "GET" && e.status == 200 && e.body_bytes > 0)
            .count() as u64,
        nginx_other: log
            .iter()
            .filter(|e| !(e.method == "GET" && e.status == 200 && e.body_bytes > 0))
            .count() as u64,
    }
}

/// curl with one process and `connections` keep-alive connections (`--parallel`), `requests`
/// GETs of `path`, gzip accepted: returns the status of each.
fn curl(
    world: &MeshWorld,
    to: &str,
    path: &str,
    requests: usize,
    connections: usize,
) -> Vec<String> {
    let mut command = world.command("client", "client", "/usr/bin/curl");
    command
        .args([
            "-s",
            "--compressed",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}\n",
        ])
        .args(["--parallel", "--parallel-max", &connections.to_string()])
        .arg(format!("http://{to}{path}?n=[1-{requests}]"));
    let statuses = Process::spawn("curl", command).success(LONG);
    assert_eq!(statuses.len(), requests, "{statuses:?}");
    assert!(statuses.iter().all(|s| s == "200"), "{statuses:?}");
    statuses
}

/// The keep-alive connections wrk opens.
const WRK_CONNECTIONS: u64 = 8;

/// wrk, 2 threads and [`WRK_CONNECTIONS`] keep-alive connections for a second, gzip accepted.
fn wrk(world: &MeshWorld, to: &str) {
    let mut command = world.command("client", "client", "/usr/bin/wrk");
    command
        .args(["-t2", "-d1s", "-H", "Accept-Encoding: gzip"])
        .arg(format!("-c{WRK_CONNECTIONS}"))
        .arg(format!("http://{to}{INDEX}"));
    let output = Process::spawn("wrk", command).success(LONG);
    assert!(
        output.iter().any(|l| l.contains("requests in")),
        "{output:?}"
    );
}

/// The traffic of one phase: curl (to, path, requests, connections), or wrk (to).
enum Traffic {
    Curl(&'static str, &'static str, usize, usize),
    Wrk(&'static str),
}

fn counts_equal_nginx(test: &'static str, tag: &str, bypass: bool) {
    let Some(gate) = gate::require(test, FEATURES) else {
        return;
    };
    let mut world = MeshWorld::new(tag, &[("client", 2), ("web", 3)]);
    world.agent.write_config(&config(&world, bypass));
    let mut command = world
        .node
        .ns
        .command(agent::binary().to_str().expect("utf-8"));
    command.args([
        "run",
        "--config",
        world.agent.config.to_str().expect("utf-8"),
        "--metrics-address",
        "127.0.0.1:0",
    ]);
    let mut run = Process::spawn("meshtwin-agent run", command);
    let metrics = run.metrics_address(LONG);
    world.processes.push(run);
    let nginx = Nginx::start(
        &world.cgroups,
        "web",
        &world.node.pod("web").ns,
        &NginxOptions::default(),
    )
    .unwrap_or_else(|error| panic!("start nginx: {error}"));
    let now = |world: &MeshWorld| counts(&probes::scrape(&world.node.ns, &metrics), &nginx);

    let phases = [
        (
            "curl, one connection, to the VIP",
            Traffic::Curl(VIP, INDEX, 50, 1),
        ),
        (
            "curl, one connection, to the pod",
            Traffic::Curl(POD, INDEX, 50, 1),
        ),
        (
            "curl, large chunked responses, to the VIP",
            Traffic::Curl(VIP, LARGE, 6, 2),
        ),
        (
            "curl, four connections, to the VIP",
            Traffic::Curl(VIP, INDEX, 80, 4),
        ),
        ("wrk to the VIP", Traffic::Wrk(VIP)),
        ("wrk to the pod", Traffic::Wrk(POD)),
    ];
    let mut before = now(&world);
    for (phase, traffic) in &phases {
        match *traffic {
            Traffic::Curl(to, path, requests, connections) => {
                curl(&world, to, path, requests, connections);
            }
            Traffic::Wrk(to) => wrk(&world, to),
        }
        // nginx logs after it writes; the last lines may lag the client by a moment.
        let mut after = now(&world);
        // Every answered GET is counted, or reported (never silently missed).
        let accounted = |before: &Counts, after: &Counts| {
            after.agent - before.agent + after.split - before.split
        };
        probes::eventually(Duration::from_secs(5), || {
            after = now(&world);
            accounted(&before, &after) == after.nginx - before.nginx
        });
        assert!(after.nginx > before.nginx, "{phase}: nginx logged nothing");
        assert_eq!(
            accounted(&before, &after),
            after.nginx - before.nginx,
            "{phase} (bypass {bypass}): the agent counted GET 2xx (and reported split or unmatched ones), nginx logged answered GETs\nbefore {before:?}\nafter {after:?}\n{}\n{}",
            nginx.error_log(),
            probes::scrape(&world.node.ns, &metrics)
        );
        assert_eq!(
            (after.agent_other, after.unparsed),
            (0, 0),
            "{phase}: nothing else counted, nothing unparsed but split or unmatched: {after:?}\n{}",
            probes::scrape(&world.node.ns, &metrics)
        );
        // Reported exchanges are the exception: at most 1% of a phase's requests, or one per
        // connection, whichever is more. A connection has one exchange in flight at a time, so
        // a client closing its connections at the end leaves at most one unmatched on each
        // (wrk's 494 requests in a second on 5.10 under TCG left 5 on its 8: 1.01%).
        let connections = match *traffic {
            Traffic::Curl(_, _, _, connections) => connections as u64,
            Traffic::Wrk(_) => WRK_CONNECTIONS,
        };
        let requests = after.nginx - before.nginx;
        let reported = after.split - before.split;
        assert!(
            reported * 100 <= requests || reported <= connections,
            "{phase}: {reported} of {requests} reported split or unmatched over {connections} connections: {after:?}"
        );
        before = after;
    }
    if bypass {
        let maps = world.maps();
        let (redirected, _, _) = crate::support::workloads::sockmap_counters(&maps);
        assert!(redirected > 0, "the bypass carried the traffic");
    }
    drop(nginx);
    gate.pass();
}

#[test]
fn http_counts_equal_nginx_access_log_to_vip_and_pod_through_the_bypass() {
    counts_equal_nginx(
        "http_counts_equal_nginx_access_log_to_vip_and_pod_through_the_bypass",
        "nginx-bypass",
        true,
    );
}

#[test]
fn http_counts_equal_nginx_access_log_to_vip_and_pod_on_tcp() {
    counts_equal_nginx(
        "http_counts_equal_nginx_access_log_to_vip_and_pod_on_tcp",
        "nginx-tcp",
        false,
    );
}
