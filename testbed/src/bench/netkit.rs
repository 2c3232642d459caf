//! The netkit rows of the datapath benchmark: the same pod-to-pod request/response on veth
//! pairs and on netkit pairs (6.7+, L2 mode), each without programs and with the service load
//! balancer on the node side of both pods (tcx on the veth's host end; a netkit link at
//! `BPF_NETKIT_PEER` on the netkit primary), reaching the server through its VIP.
//!
//! ```text
//! (v)  veth            client pod -> veth -> node -> veth -> server pod
//! (vl) veth + LB       the same to the VIP, tc_service_lb on tcx at h-client and h-server
//! (n)  netkit          client pod -> netkit -> node -> netkit -> server pod
//! (nl) netkit + LB     the same to the VIP, tc_service_lb as netkit links
//! ```
//!
//! On a kernel without netkit (older than 6.7, or built without CONFIG_NETKIT) the netkit rows
//! are skipped with the kernel's answer.

use std::path::Path;

use anyhow::Result;

use super::{
    processes::{start, AgentRun},
    record_run, round_trips, Options, PathResult,
};
use crate::{
    cgroup::CgroupTree,
    topology::{Node, PodLink},
};

const CONFIG: &str = r#"
[[service]]
name = "echo"
vip = "10.96.0.10"
port = 7
protocol = "tcp"
backends = ["10.77.0.3:7000"]

[[attach]]
interface = "h-client"
program = "tc-service-lb"

[[attach]]
interface = "h-server"
program = "tc-service-lb"
"#;

pub(super) fn run(
    options: &Options,
    traffic: &Path,
    agent: &Path,
    paths: &mut Vec<PathResult>,
) -> Result<()> {
    let pid = std::process::id();
    for (link, plain_key, plain, lb_key, lb) in [
        (
            PodLink::Veth,
            "v",
            "veth pod to pod",
            "vl",
            "veth + tc LB (tcx) to the VIP",
        ),
        (
            PodLink::Netkit,
            "n",
            "netkit pod to pod",
            "nl",
            "netkit + tc LB (netkit link) to the VIP",
        ),
    ] {
        let mut node = Node::new();
        let made = match node.add_pod_on("client", 2, link).map(drop) {
            Ok(()) => node.add_pod_on("server", 3, link).map(drop),
            Err(error) => Err(error),
        };
        if let Err(error) = made {
            let reason = format!("no {link:?} pods on this kernel: {error}");
            for (key, path) in [(plain_key, plain), (lb_key, lb)] {
                paths.push(PathResult::skipped(key, path, reason.clone()));
            }
            continue;
        }
        let mut cgroups = CgroupTree::new(&format!("meshtwin-bench-{link:?}-{pid}"))?;
        for name in ["client", "server"] {
            cgroups.add(name)?;
        }
        let server_ns = &node.pod("server").ns;
        let client_ns = &node.pod("client").ns;
        let mut echo = cgroups.command("server", traffic, Some(server_ns));
        echo.args(["echo-server", "--listen", "0.0.0.0:7000"]);
        let _server = start(echo, "listening")?;
        let measure = |connect: &str| round_trips(options, &cgroups, traffic, client_ns, connect);
        paths.push(record_run(plain_key, plain, measure("10.77.0.3:7000")));
        let agent_run = AgentRun {
            agent: agent.to_owned(),
            config: std::env::temp_dir().join(format!("meshtwin-bench-{link:?}-{pid}.toml")),
            bpffs_dir: Path::new("/sys/fs/bpf").join(format!("meshtwin-bench-{link:?}-{pid}")),
        };
        let result = agent_run
            .up(&node.ns, CONFIG)
            .and_then(|()| measure("10.96.0.10:7"));
        paths.push(record_run(lb_key, lb, result));
    }
    Ok(())
}
