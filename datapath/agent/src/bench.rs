//! The datapath benchmark (`meshtwin-traffic bench`, `just bench-datapath`; docs/performance.md,
//! "Datapath"). Same-node pod-to-pod TCP request/response through:
//!
//! ```text
//! (0) loopback       client and echo server in one namespace, 127.0.0.1 (reference)
//! (a) veth           client pod -> node -> server pod, plain kernel path
//! (b) sockmap        (a) with the sockmap bypass between the two pods
//! (c) iptables       client pod -> iptables REDIRECT (node namespace) -> node proxy -> server
//! (d) connect4       client pod -> connect4 redirect -> node proxy -> server
//! (e) connect4+sockmap  (d) with the bypass on both legs (workload-proxy, proxy-server)
//! ```
//!
//! Each path: one connection, `size`-byte requests answered by the echo server, a second of
//! warm-up, then `duration` measured, `runs` times (the median run is reported). Also the time
//! of `connect()` to the node proxy directly and through connect4, for the per-connection cost.
//! Prints a table, the one-way costs the simulator's kernel model takes, and writes JSON.

use std::{
    io::{BufRead as _, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{bail, Context as _, Result};
use serde::Serialize;

use crate::{
    kernel,
    testbed::{cgroup::CgroupTree, netns::Netns, topology::Node},
    traffic::RoundTrips,
};

/// What `meshtwin-traffic bench` measures.
pub struct Options {
    pub duration: Duration,
    pub size: usize,
    pub runs: usize,
    /// The CPU all benchmark processes are pinned to, or none.
    pub cpu: Option<usize>,
    pub json: PathBuf,
}

/// One path's result: the median run by p50, and every run.
#[derive(Debug, Serialize)]
struct PathResult {
    key: &'static str,
    path: &'static str,
    median: Option<RoundTrips>,
    runs: Vec<RoundTrips>,
    skipped: Option<String>,
}

#[derive(Debug, Serialize)]
struct ConnectCost {
    direct_us: f64,
    connect4_us: f64,
    samples: usize,
}

#[derive(Debug, Serialize)]
struct Report {
    size_bytes: usize,
    duration_secs: f64,
    runs: usize,
    /// The CPU every process ran on (null: unpinned).
    pinned_cpu: Option<usize>,
    kernel: String,
    load_average: String,
    cpus: usize,
    paths: Vec<PathResult>,
    connect: Option<ConnectCost>,
    /// One-way costs for models/kernel.toml, from the medians.
    per_leg_us: serde_json::Value,
}

const CLIENT: &str = "10.77.0.2";
const SERVER: &str = "10.77.0.3:7000";
const VIP: &str = "10.96.0.10:7";
const PROXY: &str = "10.77.0.1:15001";

/// The binaries next to this one.
fn sibling(name: &str) -> Result<PathBuf> {
    let me = std::env::current_exe().context("cannot find the running binary")?;
    let path = me.with_file_name(name);
    if !path.exists() {
        bail!(
            "{} is not built next to {}: cargo build --release -p meshtwin-agent --bins",
            path.display(),
            me.display()
        );
    }
    Ok(path)
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `command` and waits for a stdout line starting with `prefix`.
fn start(mut command: Command, prefix: &str) -> Result<Running> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start a benchmark process")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let running = Running(child);
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            bail!("a benchmark process ended before printing {prefix:?}");
        }
        if line.starts_with(prefix) {
            break;
        }
    }
    // Keep draining its output so that it never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines() {});
    Ok(running)
}

/// The agent's pins and config, taken down when dropped.
struct AgentRun {
    agent: PathBuf,
    config: PathBuf,
    bpffs_dir: PathBuf,
}

impl AgentRun {
    fn up(&self, ns: &Netns, body: &str) -> Result<()> {
        let text = format!(
            "[agent]\nbpffs-dir = \"{}\"\n\n{body}",
            self.bpffs_dir.display()
        );
        std::fs::write(&self.config, text)?;
        let output = ns
            .command(self.agent.to_str().context("utf-8 path")?)
            .args(["up", "--config"])
            .arg(&self.config)
            .output()?;
        if !output.status.success() {
            bail!(
                "meshtwin-agent up failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    fn down(&self) {
        if self.bpffs_dir.exists() {
            let _ = Command::new(&self.agent)
                .args(["down", "--bpffs-dir"])
                .arg(&self.bpffs_dir)
                .output();
        }
    }
}

impl Drop for AgentRun {
    fn drop(&mut self) {
        self.down();
        let _ = std::fs::remove_file(&self.config);
    }
}

/// netfilter NAT rules in the node namespace, removed when dropped.
struct Redirect<'a> {
    ns: &'a Netns,
    rule: Vec<String>,
}

const IPTABLES: &str = "/usr/sbin/iptables";

impl<'a> Redirect<'a> {
    fn add(ns: &'a Netns) -> Result<Self> {
        let rule: Vec<String> = [
            "PREROUTING",
            "-i",
            "h-client",
            "-p",
            "tcp",
            "-d",
            "10.96.0.10",
            "--dport",
            "7",
            "-j",
            "REDIRECT",
            "--to-ports",
            "15001",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let output = ns
            .command(IPTABLES)
            .args(["-t", "nat", "-A"])
            .args(&rule)
            .output()
            .with_context(|| format!("cannot run {IPTABLES}"))?;
        if !output.status.success() {
            bail!(
                "iptables REDIRECT is not available here: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(Self { ns, rule })
    }
}

impl Drop for Redirect<'_> {
    fn drop(&mut self) {
        let _ = self
            .ns
            .command(IPTABLES)
            .args(["-t", "nat", "-D"])
            .args(&self.rule)
            .output();
    }
}

fn workloads(cgroups: &CgroupTree, sockmap: bool, redirect: bool, proxy_sockmap: bool) -> String {
    format!(
        r#"
[[service]]
name = "echo"
vip = "10.96.0.10"
port = 7
protocol = "tcp"
backends = ["{SERVER}"]

[node-proxy]
address = "10.77.0.1"
port = 15001
cgroup = "{proxy}"
sockmap = {proxy_sockmap}

[[workload]]
name = "client"
cgroup = "{client}"
addresses = ["{CLIENT}"]
sockmap = {sockmap}
redirect = {redirect}

[[workload]]
name = "server"
cgroup = "{server}"
addresses = ["10.77.0.3"]
sockmap = {sockmap}
"#,
        proxy = cgroups.root().join("proxy").display(),
        client = cgroups.root().join("client").display(),
        server = cgroups.root().join("server").display(),
    )
}

/// Pins this process to `cpu`; the processes it starts inherit the mask.
fn pin_to(cpu: usize) -> Result<()> {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET and sched_setaffinity only read and
    // write that value.
    let ret = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if ret != 0 {
        bail!(
            "cannot pin the benchmark to CPU {cpu}: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

pub fn run(options: &Options) -> Result<()> {
    kernel::check_root()?;
    // Counted before pinning, which narrows what available_parallelism sees to one CPU.
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    if let Some(cpu) = options.cpu {
        pin_to(cpu)?;
    }
    let traffic = std::env::current_exe()?;
    let agent_binary = sibling("meshtwin-agent")?;
    let proxy_binary = sibling("meshtwin-node-proxy")?;
    let bpffs = Path::new("/sys/fs/bpf");
    if !kernel::is_on_bpffs(bpffs) {
        bail!("/sys/fs/bpf is not a bpffs: mount -t bpf bpf /sys/fs/bpf");
    }

    let mut node = Node::new();
    node.add_pod("client", 2);
    node.add_pod("server", 3);
    let mut cgroups = CgroupTree::new(&format!("meshtwin-bench-{}", std::process::id()))?;
    for name in ["client", "server", "proxy"] {
        cgroups.add(name)?;
    }
    let agent = AgentRun {
        agent: agent_binary,
        config: std::env::temp_dir().join(format!("meshtwin-bench-{}.toml", std::process::id())),
        bpffs_dir: bpffs.join(format!("meshtwin-bench-{}", std::process::id())),
    };
    let server_ns = &node.pod("server").ns;
    let client_ns = &node.pod("client").ns;
    let mut echo = cgroups.command("server", &traffic, Some(server_ns));
    echo.args(["echo-server", "--listen", "0.0.0.0:7000"]);
    let _server = start(echo, "listening")?;
    let mut loopback_echo = cgroups.command("client", &traffic, Some(client_ns));
    loopback_echo.args(["echo-server", "--listen", "127.0.0.1:7000"]);
    let _loopback_server = start(loopback_echo, "listening")?;

    let measure = |connect: &str| -> Result<Vec<RoundTrips>> {
        let mut runs = Vec::new();
        for _ in 0..options.runs {
            let output = cgroups
                .command("client", &traffic, Some(client_ns))
                .args(["rr-client", "--connect", connect])
                .args(["--size", &options.size.to_string()])
                .args(["--warmup-secs", "1"])
                .args([
                    "--duration-secs",
                    &options.duration.as_secs_f64().to_string(),
                ])
                .output()?;
            if !output.status.success() {
                bail!(
                    "rr-client to {connect} failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            runs.push(serde_json::from_slice(&output.stdout)?);
        }
        Ok(runs)
    };
    let mut paths = Vec::new();
    let mut record = |key, path, result: Result<Vec<RoundTrips>>| {
        let (runs, skipped) = match result {
            Ok(runs) => (runs, None),
            Err(error) => (Vec::new(), Some(format!("{error:#}"))),
        };
        let mut sorted: Vec<&RoundTrips> = runs.iter().collect();
        sorted.sort_by(|a, b| a.p50_us.total_cmp(&b.p50_us));
        let median = sorted.get(sorted.len() / 2).map(|r| (*r).clone());
        eprintln!(
            "{key} {path}: {}",
            median.as_ref().map_or_else(
                || skipped.clone().unwrap_or_default(),
                |m| format!("p50 {:.1} µs, p99 {:.1} µs", m.p50_us, m.p99_us)
            )
        );
        paths.push(PathResult {
            key,
            path,
            median,
            runs,
            skipped,
        });
    };

    record("0", "loopback (reference)", measure("127.0.0.1:7000"));
    record("a", "veth, plain kernel path", measure(SERVER));

    agent.up(&node.ns, &workloads(&cgroups, true, false, false))?;
    record("b", "sockmap bypass", measure(SERVER));

    // The proxy for (c), (d), (e): in the node namespace and its own cgroup.
    agent.up(&node.ns, &workloads(&cgroups, false, false, false))?;
    let mut proxy = cgroups.command("proxy", &proxy_binary, Some(&node.ns));
    proxy.arg("--config").arg(&agent.config);
    proxy.args(["--metrics-address", "127.0.0.1:0"]);
    let _proxy = start(proxy, "metrics on")?;
    record("c", "iptables REDIRECT to the node proxy", {
        match Redirect::add(&node.ns) {
            Ok(_rule) => measure(VIP),
            Err(error) => Err(error),
        }
    });

    agent.up(&node.ns, &workloads(&cgroups, false, true, false))?;
    record("d", "connect4 redirect to the node proxy", measure(VIP));
    let connect = connect_cost(&cgroups, &traffic, client_ns)
        .inspect_err(|error| eprintln!("connect() cost not measured: {error:#}"))
        .ok();

    agent.up(&node.ns, &workloads(&cgroups, true, true, true))?;
    record("e", "connect4 + sockmap to the node proxy", measure(VIP));

    let report = Report {
        size_bytes: options.size,
        duration_secs: options.duration.as_secs_f64(),
        runs: options.runs,
        pinned_cpu: options.cpu,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string(),
        load_average: std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
            .to_string(),
        cpus,
        per_leg_us: per_leg(&paths, connect.as_ref()),
        paths,
        connect,
    };
    print_report(&report);
    if let Some(parent) = options.json.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&options.json, serde_json::to_string_pretty(&report)?)?;
    println!("JSON: {}", options.json.display());
    Ok(())
}

/// Mean `connect()` time to the node proxy: directly, and to the VIP through connect4.
fn connect_cost(cgroups: &CgroupTree, traffic: &Path, ns: &Netns) -> Result<ConnectCost> {
    let mean = |connect: &str| -> Result<(f64, usize)> {
        let output = cgroups
            .command("client", traffic, Some(ns))
            .args(["connect-client", "--connect", connect, "--count", "2000"])
            .args(["--pause-us", "300"])
            .output()?;
        if !output.status.success() {
            bail!(
                "connect-client failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let value: serde_json::Value = serde_json::from_slice(&output.stdout)?;
        Ok((
            value["mean_us"].as_f64().unwrap_or(f64::NAN),
            value["count"].as_u64().unwrap_or(0) as usize,
        ))
    };
    let (direct_us, samples) = mean(PROXY)?;
    let (connect4_us, _) = mean(VIP)?;
    Ok(ConnectCost {
        direct_us,
        connect4_us,
        samples,
    })
}

/// One-way costs from the medians' means: the simulator's model adds legs' means.
fn per_leg(paths: &[PathResult], connect: Option<&ConnectCost>) -> serde_json::Value {
    let mean = |key: &str| {
        paths
            .iter()
            .find(|p| p.key == key)
            .and_then(|p| p.median.as_ref())
            .map(|m| m.mean_us)
    };
    let half = |v: Option<f64>| v.map(|v| v / 2.0);
    let difference = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a - b);
    serde_json::json!({
        // One direction of a loopback round trip: the stack, send and receive.
        "loopback_one_way_us": half(mean("0")),
        // One direction between pods: the stack plus two veth crossings.
        "veth_pod_to_pod_one_way_us": half(mean("a")),
        // What one veth crossing adds, one way.
        "veth_crossing_us": difference(mean("a"), mean("0")).map(|d| d / 4.0),
        // One direction socket to socket.
        "sockmap_one_way_us": half(mean("b")),
        // Extra per traversal of a leg that iptables intercepts (DNAT and reverse NAT).
        "iptables_redirect_extra_us": half(difference(mean("c"), mean("d"))),
        // The node proxy's hop (a second leg, and the proxy's copy), one way.
        "proxy_hop_one_way_us": half(difference(mean("d"), mean("a"))),
        // connect4 and its bookkeeping, once per connection.
        "connect4_per_connection_us": connect.map(|c| c.connect4_us - c.direct_us),
    })
}

fn print_report(report: &Report) {
    println!(
        "Datapath round trips, {} B request and response, one connection, median of {} runs of {} s",
        report.size_bytes, report.runs, report.duration_secs
    );
    println!(
        "kernel {}, {} CPUs, {}, load average at the end: {}",
        report.kernel,
        report.cpus,
        report
            .pinned_cpu
            .map_or("unpinned".to_string(), |cpu| format!(
                "all processes on CPU {cpu}"
            )),
        report.load_average
    );
    println!(
        "{:<4} {:<40} {:>9} {:>9} {:>9} {:>14}",
        "", "path", "p50 µs", "p99 µs", "mean µs", "round trips/s"
    );
    for path in &report.paths {
        match &path.median {
            Some(m) => println!(
                "({}) {:<40} {:>9.1} {:>9.1} {:>9.1} {:>14.0}",
                path.key, path.path, m.p50_us, m.p99_us, m.mean_us, m.per_second
            ),
            None => println!(
                "({}) {:<40} skipped: {}",
                path.key,
                path.path,
                path.skipped.as_deref().unwrap_or("")
            ),
        }
    }
    if let Some(c) = &report.connect {
        println!(
            "connect() to the node proxy: {:.1} µs directly, {:.1} µs to the VIP through connect4 (mean of {})",
            c.direct_us, c.connect4_us, c.samples
        );
    }
    println!(
        "one-way costs for models/kernel.toml (µs): {}",
        report.per_leg_us
    );
}
