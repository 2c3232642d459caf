//! Every process of a mesh testbed: started inside its namespace, in a cgroup of its own under
//! `<cgroup2>/<prefix>/` (so its CPU can be read from `cpu.stat` and `down` finds it), pinned
//! to the mesh's CPUs, its output in `<run dir>/logs/<name>.log`; ready once it listens on
//! its ports (read from `/proc/<pid>/net/tcp`, which shows the process's own namespace, so
//! readiness costs no connection the proxies would count).

use std::{
    ffi::OsString,
    fs::File,
    path::{Path, PathBuf},
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use crate::{cgroup::CgroupTree, netns::Netns};

use super::MeshError;

/// What a process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProcessKind {
    /// The workload server of a pod (`meshtwin-workload`).
    Workload,
    /// A pod's HAProxy (`sidecar`).
    Sidecar,
    /// A node's proxy: HAProxy (`per-node`) or meshtwin-node-proxy (`uproxy`).
    NodeProxy,
    /// An HAProxy waypoint (`uproxy`, services under L7 policy).
    Waypoint,
    /// A node's meshtwin-agent (or the router's, for the outside entries).
    Agent,
}

impl ProcessKind {
    pub fn name(self) -> &'static str {
        match self {
            ProcessKind::Workload => "workload",
            ProcessKind::Sidecar => "sidecar",
            ProcessKind::NodeProxy => "node-proxy",
            ProcessKind::Waypoint => "waypoint",
            ProcessKind::Agent => "agent",
        }
    }

    /// Whether the process is part of the data plane (everything but the workloads).
    pub fn is_mesh(self) -> bool {
        self != ProcessKind::Workload
    }
}

/// A running process of the testbed.
#[derive(Debug, Clone)]
pub struct MeshProcess {
    pub pid: u32,
    pub kind: ProcessKind,
    /// Unique in the run: `p3-workload`, `n0-agent`, `router-agent`, ...
    pub name: String,
    /// Its node; `None` for the router's agent.
    pub node: Option<usize>,
    /// Its pod (a simulator pod index) for workloads and sidecars.
    pub pod: Option<usize>,
    /// The service it serves (workloads, sidecars, waypoints).
    pub service: Option<String>,
    /// Its cgroup v2 directory (`cpu.stat`, `memory.*` where the controller is enabled).
    pub cgroup: PathBuf,
    /// The CPUs it is pinned to.
    pub cpus: Vec<usize>,
    /// Its stdout and stderr.
    pub log: PathBuf,
}

/// When a started process counts as ready.
pub enum Ready {
    /// Once it listens on every one of these TCP ports (any address).
    Listening(Vec<u16>),
}

/// A process to start.
pub struct Launch<'a> {
    pub kind: ProcessKind,
    pub name: String,
    pub node: Option<usize>,
    pub pod: Option<usize>,
    pub service: Option<String>,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub netns: &'a Netns,
    pub ready: Ready,
}

/// The processes of a run and their cgroup tree.
pub struct Processes {
    tree: Option<CgroupTree>,
    children: Vec<Child>,
    list: Vec<MeshProcess>,
    cpus: Vec<usize>,
    log_dir: PathBuf,
}

/// How long a process may take to listen.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

impl Processes {
    /// Creates `<cgroup2>/<prefix>`; the caller checked that it did not exist.
    pub fn new(prefix: &str, cpus: &[usize], log_dir: &Path) -> Result<Self, MeshError> {
        let tree =
            CgroupTree::new(prefix).map_err(MeshError::io(format!("create cgroup {prefix}")))?;
        std::fs::create_dir_all(log_dir)
            .map_err(MeshError::io(format!("create {}", log_dir.display())))?;
        Ok(Self {
            tree: Some(tree),
            children: Vec::new(),
            list: Vec::new(),
            cpus: cpus.to_vec(),
            log_dir: log_dir.to_owned(),
        })
    }

    pub fn list(&self) -> &[MeshProcess] {
        &self.list
    }

    /// Starts `launch` and waits until it is ready; if it exits or times out first, the error
    /// carries the end of its output.
    pub fn start(&mut self, launch: Launch) -> Result<&MeshProcess, MeshError> {
        let tree = self.tree.as_mut().expect("processes are running");
        let cgroup = tree
            .add(&launch.name)
            .map_err(MeshError::io(format!("create cgroup {}", launch.name)))?;
        let log = self.log_dir.join(format!("{}.log", launch.name));
        let out = File::create(&log).map_err(MeshError::io(format!("create {}", log.display())))?;
        let err = out
            .try_clone()
            .map_err(MeshError::io("duplicate a log file"))?;
        let mut command = tree.command(&launch.name, &launch.program, Some(launch.netns));
        command
            .args(&launch.args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        pin(&mut command, &self.cpus);
        let failed = |reason: String, log: &Path| MeshError::ProcessFailed {
            what: launch.kind.name().to_owned(),
            name: launch.name.clone(),
            reason,
            log: log_tail(log),
        };
        let mut child = command
            .spawn()
            .map_err(|error| failed(format!("{}: {error}", launch.program.display()), &log))?;
        let pid = child.id();
        let Ready::Listening(ports) = &launch.ready;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(failed(format!("it exited ({status})"), &log));
            }
            if ports.iter().all(|&port| listens(pid, port)) {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failed(
                    format!("it did not listen on ports {ports:?} within {READY_TIMEOUT:?}"),
                    &log,
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.children.push(child);
        self.list.push(MeshProcess {
            pid,
            kind: launch.kind,
            name: launch.name,
            node: launch.node,
            pod: launch.pod,
            service: launch.service,
            cgroup,
            cpus: self.cpus.clone(),
            log,
        });
        Ok(self.list.last().expect("just pushed"))
    }

    /// Kills every process (the cgroup tree's drop does) and reaps them.
    pub fn stop(&mut self) {
        self.tree.take();
        for mut child in self.children.drain(..) {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.list.clear();
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Pins the child to `cpus` before it runs (threads it starts inherit the set).
fn pin(command: &mut std::process::Command, cpus: &[usize]) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET writes inside it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        // SAFETY: `cpu` was checked against the online CPUs, far below CPU_SETSIZE.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: sched_setaffinity is a plain system call, safe between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Whether process `pid` has a TCP socket listening on `port` (IPv4 or IPv6, any address).
pub fn listens(pid: u32, port: u16) -> bool {
    ["tcp", "tcp6"].iter().any(|table| {
        std::fs::read_to_string(format!("/proc/{pid}/net/{table}"))
            .map(|text| {
                text.lines().skip(1).any(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    // local_address is ADDR:PORT in hex; state 0A is LISTEN.
                    fields.len() > 3
                        && fields[3] == "0A"
                        && fields[1]
                            .rsplit_once(':')
                            .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                            == Some(port)
                })
            })
            .unwrap_or(false)
    })
}

/// The last lines of a log file.
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(20);
    lines[start..].join("\n")
}
