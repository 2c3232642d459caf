//! The agent never reports as done what it did not do: `reload` and SIGHUP apply new
//! attachments and workloads (or refuse and change nothing); a change of `tc-attach` replaces
//! the tc program, never adds a second; `down` with nothing up is not an error; and under
//! `ip netns exec`, which hides bpffs, the agent says so.

use std::{
    ffi::CString,
    net::{Ipv4Addr, SocketAddrV4},
    os::unix::process::CommandExt as _,
    time::Duration,
};

use meshtwin_kernel_features::{
    Feature, CGROUP_LINK, LPM_TRIE, LRU_HASH, SOCK_OPS, TCX, TC_CLSACT, XDP, XDP_LINK,
};

use crate::{
    probes,
    support::{
        agent::{self, Agent},
        gate,
        topology::Node,
        traffic::{connect, tcp_server},
        workloads::{MeshWorld, Process},
    },
};

const LONG: Duration = Duration::from_secs(60);

fn reaches(node: &Node, to: SocketAddrV4) -> bool {
    connect(node.pod("client"), to, None, Duration::from_millis(700))
        .and_then(|mut c| c.ask())
        .is_ok()
}

const SERVER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 77, 0, 3), 8080);

#[test]
fn reload_and_sighup_apply_new_attachments_and_workloads_or_change_nothing() {
    let Some(gate) = gate::require(
        "reload_and_sighup_apply_new_attachments_and_workloads_or_change_nothing",
        &[XDP, XDP_LINK, LPM_TRIE, LRU_HASH, SOCK_OPS, CGROUP_LINK],
    ) else {
        return;
    };
    let world = MeshWorld::new("reload-attach", &[("client", 2), ("server", 3)]);
    let _server = tcp_server(world.node.pod("server"), 8080, "server");
    let identities = "[[identity]]\nname = \"server\"\nid = 20\naddresses = [\"10.77.0.3/32\"]\ndefault-deny = true\n";
    let attach = format!(
        "\n[[attach]]\ninterface = \"eth0\"\nnetns = \"{}\"\nprogram = \"xdp-policy\"\n",
        world.node.pod("server").ns.path().display()
    );
    let workload = format!(
        "\n[[workload]]\nname = \"client\"\ncgroup = \"{}\"\naddresses = [\"10.77.0.2\"]\n",
        world.cgroup("client").display()
    );
    let (node, agent) = (&world.node, &world.agent);

    // Policy with nowhere to enforce it: the client gets through.
    agent.write_config(identities);
    agent.ok(&node.ns, "up");
    assert!(reaches(node, SERVER), "nothing attached yet");

    // `reload` with a new [[attach]]: attached, and said so.
    agent.write_config(&format!("{identities}{attach}"));
    let out = agent.ok(&node.ns, "reload");
    assert!(
        out.contains("attached xdp_policy to eth0")
            && out.contains("attachments and workloads applied"),
        "{out}"
    );
    assert!(node.pod("server").ns.has_xdp("eth0"), "{out}");
    assert!(!reaches(node, SERVER), "the server is policed now");

    // Unchanged attachments: the maps only, and it says that too.
    let out = agent.ok(&node.ns, "reload");
    assert!(out.contains("attachments and workloads unchanged"), "{out}");

    // A config that cannot be applied (an absent interface) is refused whole: its new rule,
    // which would let the client in, is not written either.
    let client_allowed = "[[identity]]\nname = \"client\"\nid = 10\naddresses = [\"10.77.0.2/32\"]\n\n[[policy]]\nfrom = \"client\"\nto = \"server\"\nprotocol = \"tcp\"\nports = [8080]\n";
    agent.write_config(&format!(
        "{identities}{client_allowed}{attach}\n[[attach]]\ninterface = \"nope0\"\nprogram = \"tc-service-lb\"\n"
    ));
    let config = agent.config.to_str().expect("utf-8");
    let output = agent.run(&node.ns, &["reload", "--config", config]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("interface nope0 does not exist"),
        "{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("reloaded"),
        "{output:?}"
    );
    assert!(
        !reaches(node, SERVER),
        "the refused config's rule was applied"
    );

    // SIGHUP to `run` with a new [[workload]]: its cgroup gets sock_ops, and the log says so.
    agent.write_config(&format!("{identities}{client_allowed}{attach}"));
    let mut command = node.ns.command(agent::binary().to_str().expect("utf-8"));
    command.args([
        "run",
        "--config",
        config,
        "--metrics-address",
        "127.0.0.1:0",
    ]);
    let mut run = Process::spawn("meshtwin-agent run", command);
    run.metrics_address(LONG);
    assert!(reaches(node, SERVER), "the rule is in");
    agent.write_config(&format!("{identities}{client_allowed}{attach}{workload}"));
    run.signal(libc::SIGHUP);
    run.expect("attached sockops_mesh to the cgroup of client", LONG);
    run.expect(
        "reloaded on SIGHUP: attachments and workloads applied",
        LONG,
    );
    let status = agent.ok(&node.ns, "status");
    assert!(
        status.contains("sockops_mesh") && status.contains("client"),
        "{status}"
    );
    drop(run);
    gate.pass();
}

/// Pins and tc filters of `tc_service_lb` on h-client (h-server has its own, for the replies): (tcx links in status, netlink filters
/// in status, filters `tc` lists).
fn tc_programs(node: &Node, agent: &Agent) -> (usize, usize, usize) {
    let status = agent.ok(&node.ns, "status");
    let lines = |kind: &str| {
        status
            .lines()
            .filter(|l| l.contains("tc_service_lb") && l.contains("h-client") && l.contains(kind))
            .count()
    };
    let filters = node
        .ns
        .command("/sbin/tc")
        .args(["filter", "show", "dev", "h-client", "ingress"])
        .output()
        .expect("run tc");
    let listed = String::from_utf8_lossy(&filters.stdout)
        .lines()
        .filter(|l| l.contains("tc_service_lb"))
        .count();
    (lines("tcx link"), lines("netlink filter"), listed)
}

#[test]
fn changing_tc_attach_replaces_the_tc_program_and_never_adds_a_second() {
    let features: &[Feature] = &[TC_CLSACT, TCX, LRU_HASH];
    let Some(gate) = gate::require(
        "changing_tc_attach_replaces_the_tc_program_and_never_adds_a_second",
        features,
    ) else {
        return;
    };
    let mut node = Node::new();
    node.add_pod("client", 2);
    node.add_pod("server", 3);
    let _server = tcp_server(node.pod("server"), 8080, "server");
    let agent = Agent::new("tc-switch");
    // The fixture's config starts with the [agent] table: the first line lands in it.
    let write = |mode: &str| {
        agent.write_config(&format!(
            "tc-attach = \"{mode}\"\n\n[[service]]\nname = \"web\"\nvip = \"10.96.0.10\"\nport = 80\nprotocol = \"tcp\"\nbackends = [\"10.77.0.3:8080\"]\n\n[[attach]]\ninterface = \"h-client\"\nprogram = \"tc-service-lb\"\n\n[[attach]]\ninterface = \"h-server\"\nprogram = \"tc-service-lb\"\n"
        ))
    };
    let vip = SocketAddrV4::new(Ipv4Addr::new(10, 96, 0, 10), 80);

    write("tcx");
    agent.ok(&node.ns, "up");
    assert_eq!(tc_programs(&node, &agent), (1, 0, 0));
    assert!(reaches(&node, vip), "the VIP works over tcx");
    let (old_links, _) = probes::ids_from_status(&agent.ok(&node.ns, "status"));

    write("netlink");
    let out = agent.ok(&node.ns, "up");
    assert!(
        out.contains("detached tc_service_lb from h-client"),
        "{out}"
    );
    assert_eq!(
        tc_programs(&node, &agent),
        (0, 1, 1),
        "the tcx link is replaced by one netlink filter"
    );
    let left = probes::wait_until_gone(&[], &old_links);
    assert!(
        left.is_empty(),
        "the tcx link is still in the kernel: {left:?}"
    );
    assert!(reaches(&node, vip), "the VIP works over the netlink filter");

    write("tcx");
    agent.ok(&node.ns, "up");
    assert_eq!(
        tc_programs(&node, &agent),
        (1, 0, 0),
        "and back: the filter is deleted, one tcx link"
    );
    assert!(reaches(&node, vip), "the VIP works over tcx again");
    gate.pass();
}

#[test]
fn down_with_nothing_up_exits_zero_with_a_note() {
    let Some(gate) = gate::require("down_with_nothing_up_exits_zero_with_a_note", &[XDP]) else {
        return;
    };
    let dir = agent::bpffs_root().join(format!("meshtwin-test-{}-never-up", std::process::id()));
    let output = std::process::Command::new(agent::binary())
        .args(["down", "--bpffs-dir"])
        .arg(&dir)
        .output()
        .expect("run the agent");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("nothing to take down"), "{stdout}");
    gate.pass();
}

/// What iproute2's `ip netns exec NAME` does to the mounts before it runs its command
/// (`netns_switch`): a mount namespace of its own, no propagation back, and a new sysfs on
/// /sys named after the network namespace, which hides whatever was mounted under /sys.
fn as_ip_netns_exec(command: &mut std::process::Command, netns: &str) {
    let name = CString::new(netns).expect("no NUL");
    let (root, sys, sysfs) = (c"/", c"/sys", c"sysfs");
    // SAFETY: only system calls between fork and exec, on strings that outlive them.
    unsafe {
        command.pre_exec(move || {
            let fail = || Err(std::io::Error::last_os_error());
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return fail();
            }
            let flags = libc::MS_SLAVE | libc::MS_REC;
            if libc::mount(
                c"".as_ptr(),
                root.as_ptr(),
                c"none".as_ptr(),
                flags,
                std::ptr::null(),
            ) != 0
            {
                return fail();
            }
            if libc::umount2(sys.as_ptr(), libc::MNT_DETACH) != 0 {
                return fail();
            }
            if libc::mount(
                name.as_ptr(),
                sys.as_ptr(),
                sysfs.as_ptr(),
                0,
                std::ptr::null(),
            ) != 0
            {
                return fail();
            }
            Ok(())
        });
    }
}

#[test]
fn under_ip_netns_exec_the_agent_says_bpffs_is_hidden_and_what_works() {
    let Some(gate) = gate::require(
        "under_ip_netns_exec_the_agent_says_bpffs_is_hidden_and_what_works",
        &[XDP],
    ) else {
        return;
    };
    let agent = Agent::new("netns-exec");
    if !agent.bpffs_dir.starts_with("/sys") {
        gate.skip(&format!(
            "the tests' bpffs is at {}, not under /sys, so remounting /sys cannot hide it",
            agent.bpffs_dir.display()
        ));
        return;
    }
    agent.write_config("");
    let node = Node::new();
    agent.ok(&node.ns, "up");
    let config = agent.config.to_str().expect("utf-8").to_string();
    for subcommand in ["up", "reload", "status", "down"] {
        let mut command = node.ns.command(agent::binary().to_str().expect("utf-8"));
        command.args([subcommand, "--config", &config]);
        as_ip_netns_exec(&mut command, "blue");
        let output = command.output().expect("run the agent");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{subcommand}: {output:?}");
        assert!(
            stderr.contains("ip netns exec blue")
                && stderr.contains("nsenter --net=/run/netns/blue")
                && !stderr.contains("mount -t bpf"),
            "{subcommand}: {stderr}"
        );
    }
    assert!(agent.bpffs_dir.exists(), "nothing was taken down");
    gate.pass();
}
