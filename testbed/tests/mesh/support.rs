//! What the tests share: scenarios, options with a prefix per test, and checks that a run
//! left nothing behind.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use meshtwin_testbed::mesh::{cleanup, MeshOptions, RunningMesh};
use sim::{
    config::{load_str, LoadOptions, Scenario},
    cost_model::Catalog,
    mesh::Architecture,
};

/// One node, two pods: `front` calls `back` once per request.
pub const ONE_NODE_TWO_PODS: &str = r#"
name = "one node, two pods"
seed = 1

[cluster]
nodes = 1

[[service]]
name = "front"
replicas = 1
calls = ["back"]
rps_per_pod = 100

[[service]]
name = "back"
replicas = 1
rps_per_pod = 100
"#;

pub fn scenario(text: &str) -> Scenario {
    let catalog = Catalog::embedded();
    load_str(Path::new("test.toml"), text, &LoadOptions::new(&catalog))
        .unwrap_or_else(|diagnostics| panic!("{diagnostics}"))
        .0
}

/// Options with a prefix of this test's own (tests run in parallel in one process).
pub fn options(architecture: Option<Architecture>, tag: &str) -> MeshOptions {
    let mut options = MeshOptions::new(architecture);
    options.prefix = format!("{tag}{}", std::process::id() % 100_000);
    options
}

/// `(link ids, program ids)` of every agent of a running mesh, from `meshtwin-agent status`.
pub fn bpf_objects(running: &RunningMesh) -> (Vec<u32>, Vec<u32>) {
    bpf_objects_of(running.prefix())
}

/// `(link ids, program ids)` of every agent of the run `prefix`.
pub fn bpf_objects_of(prefix: &str) -> (Vec<u32>, Vec<u32>) {
    let agent = meshtwin_testbed::binaries::AGENT.path().expect("the agent");
    let (mut links, mut programs) = (Vec::new(), Vec::new());
    for dir in cleanup::leftovers(prefix).bpffs_dirs {
        let output = std::process::Command::new(&agent)
            .arg("status")
            .arg("--bpffs-dir")
            .arg(&dir)
            .output()
            .expect("run meshtwin-agent status");
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            for pair in words.windows(2) {
                match pair {
                    ["link", id] => links.extend(id.parse::<u32>().ok()),
                    ["prog", id] => programs.extend(id.parse::<u32>().ok()),
                    _ => {}
                }
            }
        }
    }
    (links, programs)
}

/// Whether a BPF object with this id exists (BPF_PROG_GET_FD_BY_ID = 13,
/// BPF_LINK_GET_FD_BY_ID = 30).
fn bpf_object_exists(command: libc::c_long, id: u32) -> bool {
    let attr = [id as u64, 0, 0, 0];
    // SAFETY: a zero-padded bpf_attr whose first field is the id.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            command,
            attr.as_ptr(),
            std::mem::size_of_val(&attr),
        )
    };
    if fd >= 0 {
        // SAFETY: a descriptor we just got.
        unsafe { libc::close(fd as i32) };
        return true;
    }
    false
}

/// Polls (up to 5 s: the kernel frees objects after an RCU grace period, 0.1-0.2 s here)
/// until nothing of the run is left; returns what still is.
pub fn wait_until_nothing_left(
    prefix: &str,
    pids: &[u32],
    links: &[u32],
    programs: &[u32],
) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let found = cleanup::leftovers(prefix);
        let mut left: Vec<String> = found
            .cgroups
            .iter()
            .chain(&found.bpffs_dirs)
            .chain(&found.namespaces)
            .chain(&found.run_dir)
            .map(|p| p.display().to_string())
            .collect();
        left.extend(
            pids.iter()
                .filter(|pid| Path::new(&format!("/proc/{pid}")).exists())
                .map(|pid| format!("process {pid}")),
        );
        left.extend(
            programs
                .iter()
                .filter(|id| bpf_object_exists(13, **id))
                .map(|id| format!("BPF program {id}")),
        );
        left.extend(
            links
                .iter()
                .filter(|id| bpf_object_exists(30, **id))
                .map(|id| format!("BPF link {id}")),
        );
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
