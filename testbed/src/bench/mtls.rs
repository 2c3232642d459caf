//! The mTLS part of the datapath benchmark: two nodes joined by a veth underlay, each with its
//! agent and node proxy, and what the tunnel between the proxies costs next to a plain proxy
//! hop on one node:
//!
//! ```text
//! (f) plain proxy   client pod (A) -> connect4 -> proxy A -> echo pod on A
//! (g) mTLS tunnel   client pod (A) -> connect4 -> proxy A ==TLS 1.3== proxy B -> echo pod on B
//! ```
//!
//! For each: request/response round trips (as the other paths), the proxies' CPU per new
//! connection (`connect-client`: connect and reset, each through a full handshake), per byte
//! (one connection echoing 64 KiB messages), and the proxies' memory per open connection
//! (resident set growth with many idle connections). CPU is the proxies' own time on CPU
//! (`/proc/<pid>/task/*/schedstat`), memory their `VmRSS`. The tunnel's costs minus the plain
//! hop's (one hop on each node for the tunnel) are the TLS share per connection; per byte,
//! TLS is lost in the copying and the kernel's work, so its own cost is measured in memory
//! too (`meshtwin-node-proxy measure-tls`).

use std::{
    io::{BufRead as _, BufReader, Read as _, Write as _},
    net::TcpStream,
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{bail, Context as _, Result};
use serde::Serialize;

use super::processes::{start, AgentRun, Running};
use crate::{
    cgroup::CgroupTree,
    netns::Netns,
    topology::{link_nodes, Node},
    traffic::RoundTrips,
};

const PLAIN_VIP: &str = "10.96.0.11:7";
const TUNNEL_VIP: &str = "10.96.0.10:7";
const METRICS: &str = "127.0.0.1:9465";
/// New connections per CPU measurement.
const CONNECTIONS: usize = 1000;
/// Open connections for the memory measurement.
const OPEN_CONNECTIONS: usize = 200;
/// 64 KiB messages echoed for the per-byte measurement.
const BULK_MESSAGES: usize = 400;
const BULK_MESSAGE_BYTES: usize = 65_536;

/// What one path costs the proxies on it.
#[derive(Debug, Default, Serialize)]
pub(super) struct ProxyCosts {
    pub(super) round_trips: Option<RoundTrips>,
    /// Proxy CPU per new connection (all proxies on the path), µs.
    pub(super) cpu_per_connection_us: f64,
    pub(super) connections_counted: u64,
    /// Proxy CPU per byte carried (each byte counted once per direction), ns.
    pub(super) cpu_per_byte_ns: f64,
    pub(super) bytes: u64,
    /// Resident memory of the proxies per open connection, bytes.
    pub(super) rss_per_connection_bytes: f64,
}

#[derive(Debug, Serialize)]
pub(super) struct MtlsReport {
    pub(super) plain: ProxyCosts,
    pub(super) tunnel: ProxyCosts,
    /// The TLS share, per end of a tunnel (the two proxies' costs minus two plain hops, halved).
    pub(super) handshake_cpu_us_per_end: f64,
    pub(super) record_cpu_ns_per_byte_per_end: f64,
    pub(super) memory_bytes_per_connection_per_end: f64,
    /// TLS alone, in memory (`meshtwin-node-proxy measure-tls`).
    pub(super) tls_in_memory: serde_json::Value,
}

/// CPU time of every thread of `pid`, in ns.
fn cpu_ns(pid: u32) -> Result<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let text = std::fs::read_to_string(task?.path().join("schedstat"))?;
        total += text
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .context("unreadable schedstat")?;
    }
    Ok(total)
}

fn rss_bytes(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")?;
    Ok(kib * 1024)
}

/// A counter of a proxy's /metrics, read inside its node's namespace.
fn proxy_counter(ns: &Netns, result: &str) -> Result<u64> {
    let text = ns.run(|| -> std::io::Result<String> {
        let mut stream = TcpStream::connect(METRICS)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
        let mut text = String::new();
        stream.read_to_string(&mut text)?;
        Ok(text)
    })?;
    let series = format!("meshtwin_proxy_connections_total{{result=\"{result}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series)?.trim().parse().ok())
        .with_context(|| format!("no {series} in the proxy's metrics"))
}

struct Cluster {
    a: Node,
    b: Node,
    cgroups: CgroupTree,
}

fn config_a(cgroups: &CgroupTree) -> String {
    format!(
        r#"{IDENTITIES}
[[service]]
name = "tunnel"
vip = "10.96.0.10"
port = 7
protocol = "tcp"
backends = ["10.78.0.3:7000"]

[[service]]
name = "plain"
vip = "10.96.0.11"
port = 7
protocol = "tcp"
backends = ["10.77.0.3:7000"]

[node-proxy]
address = "10.77.0.1"
port = 15001
cgroup = "{proxy}"

[[workload]]
name = "client"
cgroup = "{client}"
addresses = ["10.77.0.2"]
redirect = true

[[workload]]
name = "local"
cgroup = "{local}"
addresses = ["10.77.0.3"]
"#,
        proxy = cgroups.root().join("proxy-a").display(),
        client = cgroups.root().join("client").display(),
        local = cgroups.root().join("local").display(),
    )
}

fn config_b(cgroups: &CgroupTree) -> String {
    format!(
        r#"{IDENTITIES}
[node-proxy]
address = "10.78.0.1"
port = 15001
cgroup = "{proxy}"

[[workload]]
name = "server"
cgroup = "{server}"
addresses = ["10.78.0.3"]
"#,
        proxy = cgroups.root().join("proxy-b").display(),
        server = cgroups.root().join("server").display(),
    )
}

const IDENTITIES: &str = r#"
[[identity]]
name = "client"
id = 10
addresses = ["10.77.0.2/32"]

[[identity]]
name = "server"
id = 20
addresses = ["10.78.0.3/32"]

[[identity]]
name = "local"
id = 30
addresses = ["10.77.0.3/32"]
"#;

fn ca(proxy: &Path, args: &[&str]) -> Result<()> {
    let output = Command::new(proxy).arg("ca").args(args).output()?;
    if !output.status.success() {
        bail!(
            "meshtwin-node-proxy ca {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

pub(super) fn run(
    traffic: &Path,
    agent: &Path,
    proxy: &Path,
    measure: impl Fn(&CgroupTree, &Path, &Netns, &str) -> Result<Vec<RoundTrips>>,
) -> Result<MtlsReport> {
    let pid = std::process::id();
    let mut cluster = Cluster {
        a: Node::with_subnet([10, 77, 0]),
        b: Node::with_subnet([10, 78, 0]),
        cgroups: CgroupTree::new(&format!("meshtwin-bench-mtls-{pid}"))?,
    };
    cluster.a.add_pod("client", 2);
    cluster.a.add_pod("local", 3);
    cluster.b.add_pod("server", 3);
    link_nodes(&cluster.a, &cluster.b, [10, 100, 0]);
    for name in ["client", "local", "server", "proxy-a", "proxy-b"] {
        cluster.cgroups.add(name)?;
    }
    let work = std::env::temp_dir().join(format!("meshtwin-bench-mtls-{pid}"));
    let _ = std::fs::remove_dir_all(&work);
    let agent_run = |node: &str| AgentRun {
        agent: agent.to_owned(),
        config: std::env::temp_dir().join(format!("meshtwin-bench-mtls-{pid}-{node}.toml")),
        bpffs_dir: Path::new("/sys/fs/bpf").join(format!("meshtwin-bench-mtls-{pid}-{node}")),
    };
    let (agent_a, agent_b) = (agent_run("a"), agent_run("b"));
    agent_a.up(&cluster.a.ns, &config_a(&cluster.cgroups))?;
    agent_b.up(&cluster.b.ns, &config_b(&cluster.cgroups))?;

    let (ca_dir, certs_a, certs_b) = (work.join("ca"), work.join("a"), work.join("b"));
    let text = |p: &Path| p.to_str().map(str::to_owned).context("utf-8 path");
    ca(
        proxy,
        &[
            "init",
            "--dir",
            &text(&ca_dir)?,
            "--trust-domain",
            "meshtwin.bench",
        ],
    )?;
    ca(
        proxy,
        &[
            "issue",
            "--ca",
            &text(&ca_dir)?,
            "--out",
            &text(&certs_a)?,
            "--identity",
            "10",
        ],
    )?;
    ca(
        proxy,
        &[
            "issue",
            "--ca",
            &text(&ca_dir)?,
            "--out",
            &text(&certs_b)?,
            "--identity",
            "20",
        ],
    )?;

    let echo = |ns: &Netns, cgroup: &str| -> Result<Running> {
        let mut command = cluster.cgroups.command(cgroup, traffic, Some(ns));
        command.args(["echo-server", "--listen", "0.0.0.0:7000"]);
        start(command, "listening")
    };
    let _local = echo(&cluster.a.pod("local").ns, "local")?;
    let _server = echo(&cluster.b.pod("server").ns, "server")?;
    let proxy_command = |ns: &Netns, cgroup: &str, bpffs: &Path, extra: &[String]| {
        let mut command = cluster.cgroups.command(cgroup, proxy, Some(ns));
        command.arg("--bpffs-dir").arg(bpffs);
        command.args(["--metrics-address", METRICS]);
        command.args(extra);
        command
    };
    let proxy_b = spawn(proxy_command(
        &cluster.b.ns,
        "proxy-b",
        &agent_b.bpffs_dir,
        &[
            "--certs".into(),
            text(&certs_b)?,
            "--tunnel-listen".into(),
            "10.100.0.2:15008".into(),
        ],
    ))?;
    let proxy_a = spawn(proxy_command(
        &cluster.a.ns,
        "proxy-a",
        &agent_a.bpffs_dir,
        &[
            "--certs".into(),
            text(&certs_a)?,
            "--peer".into(),
            "10.78.0.0/24=10.100.0.2:15008".into(),
        ],
    ))?;
    let client_ns = &cluster.a.pod("client").ns;
    let (pid_a, pid_b) = (proxy_a.id(), proxy_b.id());

    let mut report = MtlsReport {
        plain: ProxyCosts::default(),
        tunnel: ProxyCosts::default(),
        handshake_cpu_us_per_end: 0.0,
        record_cpu_ns_per_byte_per_end: 0.0,
        memory_bytes_per_connection_per_end: 0.0,
        tls_in_memory: serde_json::Value::Null,
    };
    for (vip, pids, counter_ns, counter, costs) in [
        (
            PLAIN_VIP,
            vec![pid_a],
            &cluster.a.ns,
            "forwarded",
            &mut report.plain,
        ),
        (
            TUNNEL_VIP,
            vec![pid_a, pid_b],
            &cluster.b.ns,
            "tunnel_accepted",
            &mut report.tunnel,
        ),
    ] {
        let cpu = || -> Result<u64> { pids.iter().map(|p| cpu_ns(*p)).sum() };
        let rss = || -> Result<u64> { pids.iter().map(|p| rss_bytes(*p)).sum() };
        // Round trips.
        let mut runs = measure(&cluster.cgroups, traffic, client_ns, vip)?;
        runs.sort_by(|a, b| a.p50_us.total_cmp(&b.p50_us));
        costs.round_trips = runs.get(runs.len() / 2).cloned();
        eprintln!(
            "mTLS bench {vip}: p50 {:.1} µs",
            costs.round_trips.as_ref().map_or(f64::NAN, |r| r.p50_us)
        );
        // New connections.
        let (cpu_before, count_before) = (cpu()?, proxy_counter(counter_ns, counter)?);
        run_client(
            &cluster.cgroups,
            traffic,
            client_ns,
            &[
                "connect-client",
                "--connect",
                vip,
                "--count",
                &CONNECTIONS.to_string(),
                "--pause-us",
                "1000",
            ],
        )?;
        std::thread::sleep(Duration::from_millis(500));
        let counted = proxy_counter(counter_ns, counter)? - count_before;
        costs.connections_counted = counted;
        costs.cpu_per_connection_us = (cpu()? - cpu_before) as f64 / 1000.0 / counted.max(1) as f64;
        // Bytes.
        let cpu_before = cpu()?;
        let size = BULK_MESSAGE_BYTES.to_string();
        run_client(
            &cluster.cgroups,
            traffic,
            client_ns,
            &[
                "echo-client",
                "--connect",
                vip,
                "--connections",
                "1",
                "--messages",
                &BULK_MESSAGES.to_string(),
                "--min-size",
                &size,
                "--max-size",
                &size,
            ],
        )?;
        costs.bytes = 2 * (BULK_MESSAGES * BULK_MESSAGE_BYTES) as u64;
        costs.cpu_per_byte_ns = (cpu()? - cpu_before) as f64 / costs.bytes as f64;
        // Memory.
        let rss_before = rss()?;
        let mut open = cluster.cgroups.command("client", traffic, Some(client_ns));
        open.args([
            "echo-client",
            "--connect",
            vip,
            "--connections",
            &OPEN_CONNECTIONS.to_string(),
            "--messages",
            "1",
            "--min-size",
            "1024",
            "--max-size",
            "1024",
            "--handshake",
        ]);
        let mut open = Interactive::spawn(open)?;
        open.expect("connected")?;
        open.send()?;
        open.expect("exchanged")?;
        costs.rss_per_connection_bytes =
            (rss()? as f64 - rss_before as f64) / OPEN_CONNECTIONS as f64;
        open.send()?;
        open.wait()?;
        eprintln!("mTLS bench {vip}: {costs:?}");
    }
    let (plain, tunnel) = (&report.plain, &report.tunnel);
    report.handshake_cpu_us_per_end =
        (tunnel.cpu_per_connection_us - 2.0 * plain.cpu_per_connection_us) / 2.0;
    report.record_cpu_ns_per_byte_per_end =
        (tunnel.cpu_per_byte_ns - 2.0 * plain.cpu_per_byte_ns) / 2.0;
    report.memory_bytes_per_connection_per_end =
        (tunnel.rss_per_connection_bytes - 2.0 * plain.rss_per_connection_bytes) / 2.0;
    drop((proxy_a, proxy_b));
    let _ = std::fs::remove_dir_all(&work);
    let output = Command::new(proxy).arg("measure-tls").output()?;
    if !output.status.success() {
        bail!(
            "meshtwin-node-proxy measure-tls: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    report.tls_in_memory = serde_json::from_slice(&output.stdout)?;
    Ok(report)
}

fn spawn(command: Command) -> Result<Running> {
    start(command, "metrics on")
}

fn run_client(cgroups: &CgroupTree, traffic: &Path, ns: &Netns, args: &[&str]) -> Result<()> {
    let output = cgroups
        .command("client", traffic, Some(ns))
        .args(args)
        .output()?;
    if !output.status.success() {
        bail!(
            "meshtwin-traffic {}: {}",
            args[0],
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// A client that waits for a line on stdin between its steps.
struct Interactive {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Interactive {
    fn spawn(mut command: Command) -> Result<Self> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        Ok(Self {
            child,
            lines: BufReader::new(stdout).lines(),
        })
    }

    fn expect(&mut self, prefix: &str) -> Result<()> {
        for line in self.lines.by_ref() {
            if line?.starts_with(prefix) {
                return Ok(());
            }
        }
        bail!("the client ended before printing {prefix:?}")
    }

    fn send(&mut self) -> Result<()> {
        let stdin = self.child.stdin.as_mut().context("no stdin")?;
        stdin.write_all(b"go\n")?;
        Ok(stdin.flush()?)
    }

    fn wait(mut self) -> Result<()> {
        let status = self.child.wait()?;
        if !status.success() {
            bail!("the client failed: {status}");
        }
        Ok(())
    }
}

impl Drop for Interactive {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
