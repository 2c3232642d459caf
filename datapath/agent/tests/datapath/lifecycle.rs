//! The agent's life cycle: `down` leaves nothing behind, bad input leaves nothing half-attached.

use std::{net::SocketAddrV4, os::unix::process::CommandExt as _, time::Duration};

use meshtwin_kernel_features::{TC_CLSACT, XDP, XDP_LINK};

use crate::{
    probes,
    support::{
        agent::{self, Agent},
        gate,
        topology::Node,
        traffic::{connect, tcp_server},
    },
};

fn config(server_ns: &str, extra_attach: &str) -> String {
    format!(
        r#"
[[identity]]
name = "server"
id = 20
addresses = ["10.77.0.3/32"]
default-deny = true

[[service]]
name = "web"
vip = "10.96.0.10"
port = 80
protocol = "tcp"
backends = ["10.77.0.3:8080"]

[[attach]]
interface = "eth0"
netns = "{server_ns}"
program = "xdp-policy"

[[attach]]
interface = "h-client"
program = "tc-service-lb"
{extra_attach}"#
    )
}

fn xdp_on(node: &Node, pod: &str) -> bool {
    node.pod(pod).ns.has_xdp("eth0")
}

fn reaches_server(node: &Node) -> bool {
    connect(
        node.pod("client"),
        SocketAddrV4::new(node.pod("server").ip, 8080),
        None,
        Duration::from_millis(700),
    )
    .is_ok()
}

#[test]
fn agent_down_leaves_nothing_attached() {
    let Some(gate) = gate::require(
        "agent_down_leaves_nothing_attached",
        &[XDP_LINK, XDP, TC_CLSACT],
    ) else {
        return;
    };
    let mut node = Node::new();
    node.add_pod("client", 2);
    node.add_pod("server", 3);
    let _server = tcp_server(node.pod("server"), 8080, "server");
    let agent = Agent::new("down");
    let server_ns = node.pod("server").ns.path();
    agent.write_config(&config(server_ns.to_str().unwrap(), ""));

    agent.ok(&node.ns, "up");
    assert!(
        xdp_on(&node, "server"),
        "xdp_policy is on the server's eth0"
    );
    assert!(
        !reaches_server(&node),
        "server is default-deny: the client has no identity"
    );
    let status = agent.ok(&node.ns, "status");
    let (links, programs) = probes::ids_from_status(&status);
    assert_eq!(programs.len(), 2, "two attachments in status:\n{status}");

    let down = agent.ok(&node.ns, "down");
    assert!(
        down.contains("detached xdp_policy from eth0")
            && down.contains("detached tc_service_lb from h-client"),
        "{down}"
    );
    assert!(
        !agent.bpffs_dir.exists(),
        "pins left in {}",
        agent.bpffs_dir.display()
    );
    assert!(!xdp_on(&node, "server"), "xdp still on the server's eth0");
    let left = probes::wait_until_gone(&programs, &links);
    assert!(left.is_empty(), "still in the kernel after down: {left:?}");
    let filters = node
        .ns
        .command("/sbin/tc")
        .args(["filter", "show", "dev", "h-client", "ingress"])
        .output()
        .expect("tc");
    assert!(!String::from_utf8_lossy(&filters.stdout).contains("tc_service_lb"));
    assert!(
        reaches_server(&node),
        "with the datapath down the server is reachable again"
    );
    gate.pass();
}

#[test]
fn agent_reports_an_absent_interface_and_leaves_nothing_half_attached() {
    let Some(gate) = gate::require(
        "agent_reports_an_absent_interface_and_leaves_nothing_half_attached",
        &[XDP_LINK, XDP, TC_CLSACT],
    ) else {
        return;
    };
    let mut node = Node::new();
    node.add_pod("client", 2);
    node.add_pod("server", 3);
    let agent = Agent::new("absent");
    let server_ns = node.pod("server").ns.path();
    let missing = "\n[[attach]]\ninterface = \"nope0\"\nprogram = \"tc-service-lb\"\n";
    agent.write_config(&config(server_ns.to_str().unwrap(), missing));
    let output = agent.run(
        &node.ns,
        &["up", "--config", agent.config.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("interface nope0 does not exist in the agent's network namespace"),
        "{stderr}"
    );
    assert!(
        !xdp_on(&node, "server"),
        "the xdp attached before the failure was not rolled back"
    );
    assert!(
        !agent.bpffs_dir.exists(),
        "pins left behind in {}",
        agent.bpffs_dir.display()
    );
    gate.pass();
}

/// Runs `up` with an empty config, adjusted by `adjust`; it must exit 1. Returns its stderr.
fn up_fails(test: &str, adjust: impl Fn(&mut std::process::Command)) -> String {
    let agent = Agent::new(test);
    agent.write_config("");
    let run = |binary: &std::path::Path| {
        let mut command = std::process::Command::new(binary);
        command.args(["up", "--config", agent.config.to_str().unwrap()]);
        adjust(&mut command);
        command.output()
    };
    let output = match run(&agent::binary()) {
        // Another user may not be allowed into the build directory: run a copy from /tmp.
        Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {
            let copy = agent.config.with_file_name("meshtwin-agent");
            std::fs::copy(agent::binary(), &copy).expect("copy the agent binary to /tmp");
            run(&copy)
        }
        other => other,
    }
    .expect("run the agent");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    stderr
}

#[test]
fn agent_refuses_to_run_without_root() {
    let Some(gate) = gate::require("agent_refuses_to_run_without_root", &[XDP]) else {
        return;
    };
    let stderr = up_fails("not-root", |command| {
        command.uid(65534).gid(65534);
    });
    assert!(stderr.contains("must run as root"), "{stderr}");
    gate.pass();
}

#[test]
fn agent_says_when_the_pin_directory_is_not_on_bpffs() {
    let Some(gate) = gate::require("agent_says_when_the_pin_directory_is_not_on_bpffs", &[XDP])
    else {
        return;
    };
    let agent = Agent::new("no-bpffs");
    agent.write_config("");
    let not_bpffs = std::env::temp_dir().join(format!("meshtwin-not-bpffs-{}", std::process::id()));
    let output = std::process::Command::new(agent::binary())
        .args([
            "up",
            "--config",
            agent.config.to_str().unwrap(),
            "--bpffs-dir",
        ])
        .arg(&not_bpffs)
        .output()
        .expect("run the agent");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is not on a bpf filesystem") && stderr.contains("mount -t bpf"),
        "{stderr}"
    );
    assert!(
        !not_bpffs.exists(),
        "the agent created {} anyway",
        not_bpffs.display()
    );
    gate.pass();
}
