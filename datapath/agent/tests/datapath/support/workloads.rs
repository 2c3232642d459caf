//! Workloads for the socket-level tests: pods on a routed node, each with a cgroup of its own,
//! and processes (`meshtwin-traffic`, the node proxy, curl) started inside a pod's namespace
//! and cgroup. Dropping the world kills the processes, runs `down`, removes the cgroups and the
//! namespaces, in that order, also when the test failed.

use std::{
    io::{BufRead as _, BufReader, Write as _},
    path::PathBuf,
    process::{Child, ChildStdin, Command, Stdio},
    sync::mpsc::{self, Receiver},
    time::{Duration, Instant},
};

use meshtwin_datapath_common::sockets::SockKey;
use meshtwin_datapath_pins::{PinDir, PinnedMaps};
use meshtwin_testbed::{binaries, cgroup::CgroupTree};

use super::{agent::Agent, netns::Netns, topology::Node};

/// `meshtwin-traffic` (`meshtwin_testbed::binaries` says where it is found, and when built).
pub fn traffic_binary() -> PathBuf {
    binaries::TRAFFIC
        .path()
        .unwrap_or_else(|error| panic!("{error}"))
}

/// `meshtwin-node-proxy`, found as `traffic_binary` is.
pub fn proxy_binary() -> PathBuf {
    binaries::NODE_PROXY
        .path()
        .unwrap_or_else(|error| panic!("{error}"))
}

/// A process whose stdout lines arrive on a channel, and whose stdin takes lines.
pub struct Process {
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Process {
    pub fn spawn(name: &str, mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("start {name}: {error}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line starting with `prefix` and returns it.
    pub fn expect(&mut self, prefix: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(line) => self.seen.push(line),
                Err(_) => {
                    let status = self.child.try_wait().ok().flatten();
                    panic!(
                        "{}: no line starting with {prefix:?} within {limit:?} (exit status {status:?}); output so far: {:?}",
                        self.name, self.seen
                    );
                }
            }
        }
    }

    /// Waits for `metrics on http://ADDRESS/metrics` and returns ADDRESS.
    pub fn metrics_address(&mut self, limit: Duration) -> String {
        self.expect("metrics on http://", limit)
            .trim_start_matches("metrics on http://")
            .trim_end_matches("/metrics")
            .to_string()
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill on our own child's pid.
        let ret = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(ret, 0, "kill: {}", std::io::Error::last_os_error());
    }

    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("write to the process");
        stdin.flush().expect("flush");
    }

    /// Waits for the process to exit and asserts it succeeded; returns its remaining output.
    pub fn success(self, limit: Duration) -> Vec<String> {
        let name = self.name.clone();
        let (status, lines) = self.finish(limit);
        assert!(status.success(), "{name} failed ({status}): {lines:?}");
        lines
    }

    /// Waits for the process to exit; returns its exit status and remaining output.
    pub fn finish(mut self, limit: Duration) -> (std::process::ExitStatus, Vec<String>) {
        drop(self.stdin.take());
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                let mut lines = std::mem::take(&mut self.seen);
                // The reader thread may not have read the last lines yet: take them until it
                // meets the end of the pipe (the sender is dropped), not just what is queued.
                let drain_until = Instant::now() + Duration::from_secs(5);
                loop {
                    let left = drain_until.saturating_duration_since(Instant::now());
                    match self.lines.recv_timeout(left) {
                        Ok(line) => lines.push(line),
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                        Err(mpsc::RecvTimeoutError::Timeout) => {
                            panic!("{}: its output did not end after it exited", self.name)
                        }
                    }
                }
                return (status, lines);
            }
            assert!(
                Instant::now() < deadline,
                "{} did not finish within {limit:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pods with cgroups, and the agent. Fields drop in order: processes, agent (`down`), cgroups,
/// namespaces.
pub struct MeshWorld {
    pub processes: Vec<Process>,
    pub agent: Agent,
    pub cgroups: CgroupTree,
    pub node: Node,
}

impl MeshWorld {
    /// A node with `pods` (name, host number of 10.77.0.x), each with a cgroup of its name.
    pub fn new(test: &str, pods: &[(&str, u8)]) -> Self {
        Self::on_node(test, Node::new(), pods)
    }

    /// The same on `node` (a node of another pod subnet, for a cluster of two).
    pub fn on_node(test: &str, mut node: Node, pods: &[(&str, u8)]) -> Self {
        let mut cgroups = CgroupTree::new(&format!("meshtwin-test-{}-{test}", std::process::id()))
            .expect("create the test's cgroup under the cgroup2 mount");
        for (name, host) in pods {
            node.add_pod(name, *host);
            cgroups.add(name).expect("create a pod's cgroup");
        }
        Self {
            processes: Vec::new(),
            agent: Agent::new(test),
            cgroups,
            node,
        }
    }

    /// The cgroup directory of pod (or other group) `name`.
    pub fn cgroup(&self, name: &str) -> PathBuf {
        self.cgroups.root().join(name)
    }

    /// A command inside the namespace of pod `pod` (or the node's, for "node") and the cgroup
    /// `cgroup`.
    pub fn command(
        &self,
        pod: &str,
        cgroup: &str,
        program: impl AsRef<std::ffi::OsStr>,
    ) -> Command {
        let ns: &Netns = if pod == "node" {
            &self.node.ns
        } else {
            &self.node.pod(pod).ns
        };
        self.cgroups.command(cgroup, program, Some(ns))
    }

    /// Starts `meshtwin-traffic <args>` in pod `pod` and its cgroup.
    pub fn traffic(&self, pod: &str, args: &[&str]) -> Process {
        let mut command = self.command(pod, pod, traffic_binary());
        command.args(args);
        Process::spawn(&format!("meshtwin-traffic {} in {pod}", args[0]), command)
    }

    /// Starts an echo server in `pod` on `port` and waits until it listens.
    pub fn echo_server(&mut self, pod: &str, port: u16, extra: &[&str]) {
        let listen = format!("0.0.0.0:{port}");
        let mut args = vec!["echo-server", "--listen", &listen];
        args.extend_from_slice(extra);
        let mut server = self.traffic(pod, &args);
        server.expect("listening", Duration::from_secs(20));
        self.processes.push(server);
    }

    pub fn maps(&self) -> PinnedMaps {
        PinnedMaps::open(&PinDir::new(&self.agent.bpffs_dir)).expect("open the pinned maps")
    }
}

/// The sockets in the socket hash.
pub fn mesh_sockets(maps: &PinnedMaps) -> Vec<SockKey> {
    maps.mesh_socks.keys().filter_map(Result::ok).collect()
}

/// Sums of the sk_msg counters over CPUs: (redirected messages, redirected bytes, passed
/// messages (peer absent or kept)).
pub fn sockmap_counters(maps: &PinnedMaps) -> (u64, u64, u64) {
    let Ok(per_cpu) = maps.sockmap_counts.get(&0, 0) else {
        return (0, 0, 0);
    };
    per_cpu.iter().fold((0, 0, 0), |(m, b, p), c| {
        (
            m + c.redirected_messages,
            b + c.redirected_bytes,
            p + c.peer_absent_messages + c.kept_messages,
        )
    })
}
