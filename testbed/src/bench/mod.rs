//! The datapath benchmark (`meshtwin-testbed bench`, `just bench-datapath`; docs/performance.md,
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
//!
//! Then many connections with real programs, unpinned whatever `--cpu` says (how workloads
//! run): wrk (2 threads, 16 keep-alive connections) against nginx (a worker per CPU), in the
//! same two pods:
//!
//! ```text
//! (f) wrk → nginx, veth      the plain kernel path
//! (g) wrk → nginx, sockmap   the sockmap bypass
//! (h) (f), and (i) (g), with nginx and wrk under SCHED_BATCH (no wake-up preemption)
//! ```
//!
//! Each run also counts how often wrk and nginx's workers were preempted (involuntary context
//! switches): the bypass's tail is wake-up preemption of these event loops
//! (docs/performance.md, "Datapath").
//!
//! Prints both tables, the one-way costs the simulator's kernel model takes, and writes JSON.

mod mtls;
mod netkit;
pub(crate) mod processes;
mod program_cost;
mod report;
pub mod wrk;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{bail, Result};
use meshtwin_datapath_pins::mounts::is_on_bpffs;

use self::{
    processes::{pin_to, start, unpin, AgentRun, Redirect},
    program_cost::{between, sk_msg_sample, CostSum, ProgramCost, RunTimeStats},
    report::{per_leg, print_report, ConnectCost, LoadResult, PathResult, Report},
    wrk::{WrkLoad, WrkRun, WRK},
};
use crate::{
    binaries,
    cgroup::CgroupTree,
    measure::process::cpu_ns,
    netns::Netns,
    nginx::{Nginx, NginxOptions, INDEX},
    topology::Node,
    traffic::RoundTrips,
};

/// What `meshtwin-testbed bench` measures.
pub struct Options {
    pub duration: Duration,
    pub size: usize,
    pub runs: usize,
    /// The CPU all benchmark processes are pinned to, or none.
    pub cpu: Option<usize>,
    pub json: PathBuf,
    /// Which parts to run.
    pub sections: Sections,
}

/// The benchmark's parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Sections {
    /// Everything.
    All,
    /// The same-node paths (0) to (e), one connection at a time, pinned.
    Node,
    /// Many connections, unpinned: wrk against nginx over veth and the bypass, (f) to (i).
    Many,
    /// The mTLS tunnel between two nodes against a plain proxy hop.
    Mtls,
    /// Pods on veth and on netkit pairs, without and with the service load balancer.
    Netkit,
}

const CLIENT: &str = "10.77.0.2";
const SERVER: &str = "10.77.0.3:7000";
const VIP: &str = "10.96.0.10:7";
const PROXY: &str = "10.77.0.1:15001";

/// The median run by p99 (the tail is what these rows are for), and every run.
fn load_result(key: &'static str, path: &'static str, result: Result<Vec<WrkRun>>) -> LoadResult {
    let (runs, skipped) = match result {
        Ok(runs) => (runs, None),
        Err(error) => (Vec::new(), Some(format!("{error:#}"))),
    };
    let mut sorted: Vec<&WrkRun> = runs.iter().collect();
    sorted.sort_by(|a, b| a.p99_us.total_cmp(&b.p99_us));
    let median = sorted.get(sorted.len() / 2).map(|r| (*r).clone());
    eprintln!(
        "{key} {path}: {}",
        median.as_ref().map_or_else(
            || skipped.clone().unwrap_or_default(),
            |m| format!(
                "{:.0} requests/s, p50 {:.0} µs, p99 {:.0} µs",
                m.requests_per_second, m.p50_us, m.p99_us
            )
        )
    );
    LoadResult {
        key,
        path,
        median,
        runs,
        skipped,
    }
}

pub fn run(options: &Options) -> Result<()> {
    // SAFETY: geteuid only returns a number.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the benchmark must run as root (it makes namespaces and cgroups and runs the agent); run it with sudo or as root");
    }
    // Counted before pinning, which narrows what available_parallelism sees to one CPU.
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    if let Some(cpu) = options.cpu {
        pin_to(cpu)?;
    }
    let traffic = binaries::TRAFFIC.path()?;
    let agent_binary = binaries::AGENT.path()?;
    let proxy_binary = binaries::NODE_PROXY.path()?;
    let bpffs = Path::new("/sys/fs/bpf");
    if !is_on_bpffs(bpffs) {
        bail!("/sys/fs/bpf is not a bpffs: mount -t bpf bpf /sys/fs/bpf");
    }

    // Held for the whole run: the kernel then times every program run (two clock reads per run,
    // tens of ns against round trips of µs), which gives sk_msg's cost per message.
    let _stats = RunTimeStats::enable()
        .inspect_err(|error| eprintln!("sk_msg cost not measured: {error:#}"))
        .ok();
    let mut sk_msg_costs: Vec<(&'static str, ProgramCost)> = Vec::new();
    let mut sk_msg_cost = |key: &'static str, before: Option<_>, dir: &Path| {
        if let (Some(before), Some(after)) = (before, sk_msg_sample(dir)) {
            sk_msg_costs.push((key, between("sk_msg_mesh", before, after)));
        }
    };

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

    let measure = |connect: &str| round_trips(options, &cgroups, &traffic, client_ns, connect);
    let mut paths = Vec::new();
    let mut record = |key, path, result: Result<Vec<RoundTrips>>| {
        paths.push(record_run(key, path, result));
    };

    let mut connect = None;
    let mut proxy_cpu = Vec::new();
    if matches!(options.sections, Sections::All | Sections::Node) {
        record("0", "loopback (reference)", measure("127.0.0.1:7000"));
        record("a", "veth, plain kernel path", measure(SERVER));

        agent.up(&node.ns, &workloads(&cgroups, true, false, false))?;
        let before = sk_msg_sample(&agent.bpffs_dir);
        record("b", "sockmap bypass", measure(SERVER));
        sk_msg_cost("b", before, &agent.bpffs_dir);

        // The proxy for (c), (d), (e): in the node namespace and its own cgroup.
        agent.up(&node.ns, &workloads(&cgroups, false, false, false))?;
        let mut proxy = cgroups.command("proxy", &proxy_binary, Some(&node.ns));
        proxy.arg("--bpffs-dir").arg(&agent.bpffs_dir);
        proxy.args(["--metrics-address", "127.0.0.1:0"]);
        let proxy = start(proxy, "metrics on")?;
        // The node proxy's CPU per round trip on each path through it: its CPU time over the
        // runs (warm-up included) over the round trips they made (warm-up counted at the
        // measured rate).
        let mut through_proxy = |key: &'static str, connect: &str| -> Result<Vec<RoundTrips>> {
            let before = cpu_ns(proxy.pid())?;
            let runs = measure(connect)?;
            let used_us = (cpu_ns(proxy.pid())? - before) as f64 / 1000.0;
            let round_trips: f64 = runs
                .iter()
                .map(|r| r.per_second * (1.0 + options.duration.as_secs_f64()))
                .sum();
            proxy_cpu.push((key, used_us / round_trips));
            Ok(runs)
        };
        record("c", "iptables REDIRECT to the node proxy", {
            match Redirect::add(&node.ns) {
                Ok(_rule) => through_proxy("c", VIP),
                Err(error) => Err(error),
            }
        });

        agent.up(&node.ns, &workloads(&cgroups, false, true, false))?;
        record(
            "d",
            "connect4 redirect to the node proxy",
            through_proxy("d", VIP),
        );
        connect = connect_cost(&cgroups, &traffic, client_ns)
            .inspect_err(|error| eprintln!("connect() cost not measured: {error:#}"))
            .ok();

        agent.up(&node.ns, &workloads(&cgroups, true, true, true))?;
        let before = sk_msg_sample(&agent.bpffs_dir);
        record(
            "e",
            "connect4 + sockmap to the node proxy",
            through_proxy("e", VIP),
        );
        sk_msg_cost("e", before, &agent.bpffs_dir);
        drop(proxy);
    }
    for path in &mut paths {
        path.proxy_cpu_us_per_round_trip = proxy_cpu
            .iter()
            .find(|(key, _)| *key == path.key)
            .map(|(_, us)| *us);
    }

    if matches!(options.sections, Sections::All | Sections::Netkit) {
        netkit::run(options, &traffic, &agent.agent, &mut paths)?;
    }
    let mtls = if matches!(options.sections, Sections::All | Sections::Mtls) {
        let measure = |cgroups: &CgroupTree, traffic: &Path, ns: &Netns, connect: &str| {
            round_trips(options, cgroups, traffic, ns, connect)
        };
        Some(mtls::run(&traffic, &agent.agent, &proxy_binary, measure)?)
    } else {
        None
    };

    let load = WrkLoad {
        threads: 2,
        connections: 16,
        duration_secs: options.duration.as_secs_f64(),
    };
    let mut many = Vec::new();
    if matches!(options.sections, Sections::All | Sections::Many) {
        // nginx and wrk go where the scheduler puts them, as workloads do.
        unpin(cpus)?;
        let nginx = |port, batch| {
            Nginx::start(
                &cgroups,
                "server",
                server_ns,
                &NginxOptions {
                    port,
                    workers: cpus.max(1),
                    batch,
                },
            )
        };
        match nginx(8080, false).and_then(|plain| Ok((plain, nginx(8081, true)?))) {
            Ok((plain, batch)) => {
                // (key, path, bypass, nginx and wrk with SCHED_BATCH)
                let rows = [
                    ("f", "wrk → nginx, veth", false, false),
                    ("g", "wrk → nginx, sockmap bypass", true, false),
                    ("h", "(f) with SCHED_BATCH", false, true),
                    ("i", "(g) with SCHED_BATCH", true, true),
                ];
                let mut results: Vec<Result<Vec<WrkRun>>> =
                    rows.iter().map(|_| Ok(Vec::new())).collect();
                let mut bypass_costs = [CostSum::default(); 4];
                // Interleaved, row after row within each run: the machine's load drifts (other
                // work shares these CPUs), and every row should see the same drift.
                for _ in 0..options.runs {
                    for (i, (_, _, bypass, sched_batch)) in rows.iter().enumerate() {
                        let Ok(runs) = &mut results[i] else {
                            continue;
                        };
                        let server = if *sched_batch { &batch } else { &plain };
                        let url = format!(
                            "http://10.77.0.3:{}{INDEX}",
                            if *sched_batch { 8081 } else { 8080 }
                        );
                        let outcome = agent
                            .up(&node.ns, &workloads(&cgroups, *bypass, false, false))
                            .and_then(|()| {
                                let before = sk_msg_sample(&agent.bpffs_dir);
                                let switches = server.worker_context_switches();
                                let mut command = cgroups.command("client", WRK, Some(client_ns));
                                if *sched_batch {
                                    crate::sched::batch(&mut command);
                                }
                                let mut run = wrk::run(command, load, &url)?;
                                let after = server.worker_context_switches();
                                run.nginx_voluntary_switches = after.0 - switches.0;
                                run.nginx_involuntary_switches = after.1 - switches.1;
                                Ok((run, before))
                            });
                        match outcome {
                            Ok((run, before)) => {
                                runs.push(run);
                                if let (true, Some(before), Some(after)) =
                                    (*bypass, before, sk_msg_sample(&agent.bpffs_dir))
                                {
                                    bypass_costs[i].add(before, after);
                                }
                            }
                            Err(error) => results[i] = Err(error),
                        }
                    }
                }
                for (i, ((key, path, _, _), result)) in rows.into_iter().zip(results).enumerate() {
                    many.push(load_result(key, path, result));
                    if let Some(cost) = bypass_costs[i].cost("sk_msg_mesh") {
                        sk_msg_costs.push((key, cost));
                    }
                }
            }
            Err(error) => many.push(load_result(
                "f",
                "wrk → nginx",
                Err(anyhow::Error::from(error).context("nginx did not start")),
            )),
        }
    }

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
        load,
        many,
        sk_msg_costs: sk_msg_costs
            .into_iter()
            .map(|(row, cost)| report::RowCost { row, cost })
            .collect(),
        mtls,
    };
    print_report(&report);
    if let Some(parent) = options.json.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&options.json, serde_json::to_string_pretty(&report)?)?;
    println!("JSON: {}", options.json.display());
    Ok(())
}

/// One path's runs, reduced to the median run by p50 (or why it was skipped), printed as it
/// comes.
fn record_run(
    key: &'static str,
    path: &'static str,
    result: Result<Vec<RoundTrips>>,
) -> PathResult {
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
    PathResult {
        key,
        path,
        median,
        runs,
        skipped,
        proxy_cpu_us_per_round_trip: None,
    }
}

/// `runs` request/response runs of the traffic tool from the client cgroup in `ns`.
fn round_trips(
    options: &Options,
    cgroups: &CgroupTree,
    traffic: &Path,
    ns: &Netns,
    connect: &str,
) -> Result<Vec<RoundTrips>> {
    let mut runs = Vec::new();
    for _ in 0..options.runs {
        let output = cgroups
            .command("client", traffic, Some(ns))
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
