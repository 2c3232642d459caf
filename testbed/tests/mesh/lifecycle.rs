//! The command's lifecycle: `meshtwin-testbed up` removes its mesh on SIGTERM, and after a
//! SIGKILL (nothing of the run can clean up) `meshtwin-testbed down --prefix` removes what it
//! left: processes, cgroups, pins, namespaces, run directory.

use std::{
    io::{BufRead as _, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use meshtwin_kernel_features::{gate, TC_CLSACT};
use meshtwin_testbed::mesh::cleanup;

use super::support;

/// Starts `meshtwin-testbed up` on the one-node, two-pod cluster and waits until it is up;
/// returns the child and the pids of its mesh's processes.
fn up(prefix: &str, architecture: &str) -> (Child, Vec<u32>) {
    let file = std::env::temp_dir().join(format!("meshtwin-lifecycle-{prefix}.toml"));
    std::fs::write(&file, support::ONE_NODE_TWO_PODS).expect("write the cluster file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshtwin-testbed"))
        .args(["up", "--architecture", architecture, "--prefix", prefix])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start meshtwin-testbed up");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut pids = Vec::new();
    let mut in_processes = false;
    for line in lines.by_ref() {
        let line = line.expect("read its output");
        if line.starts_with("processes") {
            in_processes = true;
        } else if line.starts_with("Ctrl-C") {
            let _ = std::fs::remove_file(&file);
            return (child, pids);
        } else if in_processes {
            pids.extend(
                line.split_whitespace()
                    .next()
                    .and_then(|p| p.parse::<u32>().ok()),
            );
        }
    }
    let _ = std::fs::remove_file(&file);
    panic!(
        "meshtwin-testbed up ended before the mesh was up: {:?}",
        child.wait()
    );
}

fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(child.id() as i32, signal) };
}

fn wait(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("wait for meshtwin-testbed") {
            return status;
        }
        assert!(Instant::now() < deadline, "meshtwin-testbed did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_removes_the_mesh() {
    let Some(gate) = gate::require("sigterm_removes_the_mesh", &[TC_CLSACT]) else {
        return;
    };
    let prefix = format!("tst{}", std::process::id() % 100_000);
    let (mut child, pids) = up(&prefix, "sidecar");
    assert!(
        pids.len() >= 4,
        "workloads, sidecars and the router's agent: {pids:?}"
    );
    assert!(!cleanup::leftovers(&prefix).is_empty());
    signal(&child, libc::SIGTERM);
    let status = wait(&mut child);
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{status:?}");
    let left = support::wait_until_nothing_left(&prefix, &pids, &[], &[]);
    assert!(left.is_empty(), "left behind: {left:?}");
    gate.pass();
}

#[test]
fn down_removes_what_a_killed_run_left() {
    let Some(gate) = gate::require("down_removes_what_a_killed_run_left", &[TC_CLSACT]) else {
        return;
    };
    let prefix = format!("tkl{}", std::process::id() % 100_000);
    let (mut child, pids) = up(&prefix, "ebpf");
    let (links, programs) = support::bpf_objects_of(&prefix);
    assert!(
        !programs.is_empty() && !links.is_empty(),
        "the agents attached nothing"
    );
    signal(&child, libc::SIGKILL);
    wait(&mut child);
    // Nothing ran to clean up: the mesh's processes, cgroups, pins and namespaces are there.
    let left = cleanup::leftovers(&prefix);
    assert!(
        !left.cgroups.is_empty() && !left.bpffs_dirs.is_empty() && !left.namespaces.is_empty(),
        "{left:?}"
    );
    assert!(pids
        .iter()
        .all(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists()));
    let output = Command::new(env!("CARGO_BIN_EXE_meshtwin-testbed"))
        .args(["down", "--prefix", &prefix])
        .output()
        .expect("run meshtwin-testbed down");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(&format!("{prefix}: removed")), "{stdout}");
    let left = support::wait_until_nothing_left(&prefix, &pids, &links, &programs);
    assert!(left.is_empty(), "left behind: {left:?}");
    gate.pass();
}
