//! `meshtwin-testbed calibrate`: each component of the mesh measured alone on this machine,
//! written as a models profile whose every value's `source` is the command that measured it.
//!
//! ```text
//! client pod ──load (CPU 1)──▶ server pod: HAProxy :15006 ──▶ workload server :8080   (CPU 0)
//!                         └──────────────────────────────────▶ workload server :8080  (direct)
//! ```
//!
//! - **L7 proxy** (HAProxy in HTTP mode, the testbed's sidecar and per-node proxy, standing in
//!   for Envoy): at a light load, by payload size, the latency added against the direct path,
//!   and its CPU time per request. The part on the request's critical path (the simulator's
//!   `l7_service_time_mean_us`) is the added mean less the extra loopback leg each way
//!   (2 × `kernel.stack_us`); its shape σ comes from the added p50 and p99.
//! - **L4 node proxy** (the project's, the testbed's `uproxy`) and the **kernel hops**: the
//!   datapath benchmark (`meshtwin-testbed bench`), whose paths give `stack_us`,
//!   `veth_crossing_us`, `sockmap_us`, the redirects, the node proxy's added round trip and
//!   CPU per round trip.
//! - **The workload server**: its CPU time per request on the direct path.

mod haproxy;
pub mod profile;
pub mod shape;

pub use haproxy::require as require_haproxy;

use std::{
    net::{Ipv4Addr, SocketAddr, SocketAddrV4},
    path::PathBuf,
    time::Duration,
};

use anyhow::{bail, Context as _, Result};
use serde::Serialize;

use crate::{
    bench,
    load::{self, LoadReport, LoadSpec, Target},
    measure::process::{cpu_ns, memory_bytes},
    topology::Node,
};
use profile::{CalibratedValue, Machine};

/// What `meshtwin-testbed calibrate` measures and where it writes.
pub struct Options {
    /// Request payloads (0: GET; more: POST of that many bytes, echoed back).
    pub payloads: Vec<usize>,
    /// The payload whose figures become the profile's values.
    pub profile_payload: usize,
    /// The light load the proxies are measured at, requests per second.
    pub rate: f64,
    /// The higher load CPU per request is measured at too (the rate exponent's second point).
    pub higher_rate: f64,
    pub warmup: Duration,
    pub duration: Duration,
    pub repeats: usize,
    /// The CPU the mesh's processes (proxy, server) run on.
    pub mesh_cpu: usize,
    /// The CPU the load generator runs on.
    pub load_cpu: usize,
    pub haproxy_threads: u32,
    /// Seconds per path of the datapath benchmark; none: skip it (the profile then keeps the
    /// kernel's and the node proxy's defaults).
    pub bench_duration: Option<Duration>,
    /// Read the datapath benchmark's results from this JSON (`meshtwin-testbed bench --json`)
    /// instead of running it.
    pub bench_json: Option<PathBuf>,
    pub profile: PathBuf,
    pub json: PathBuf,
}

/// The L7 proxy at one payload size: the median runs (by mean latency) direct and through it.
#[derive(Debug, Serialize)]
pub struct ProxyRow {
    pub payload_bytes: usize,
    pub direct: LoadReport,
    pub proxied: LoadReport,
    /// What the proxy adds (through it minus direct), medians over the pairs of runs.
    pub added_mean_us: f64,
    pub added_p50_us: f64,
    pub added_p75_us: f64,
    pub added_p90_us: f64,
    pub added_p99_us: f64,
    /// The proxy's critical path: a log-normal whose median is the added p50 less the extra
    /// loopback leg each way (the loopback round trip's p50, from the datapath benchmark) and
    /// whose shape comes from the added p75 likewise (none when implausibly wide); its mean.
    pub service_time_mean_us: f64,
    pub service_time_sigma: Option<f64>,
    pub proxy_cpu_us_per_request: f64,
    /// The same at `higher_load_rps` (one run): how CPU per request changes with load.
    pub proxy_cpu_us_per_request_at_higher_load: f64,
    pub higher_load_rps: f64,
    pub server_cpu_us_per_request: f64,
    /// The server's at `higher_load_rps` (one run on the direct path).
    pub server_cpu_us_per_request_at_higher_load: f64,
    /// The same four figures with the load generator on the mesh's CPU (one run each).
    pub same_cpu: SameCpu,
}

/// CPU per request of HAProxy and the server, µs, when the request comes from their own CPU.
#[derive(Debug, Serialize)]
pub struct SameCpu {
    pub proxy_cpu_us_per_request: f64,
    pub proxy_cpu_us_per_request_at_higher_load: f64,
    pub server_cpu_us_per_request: f64,
    pub server_cpu_us_per_request_at_higher_load: f64,
}

/// Everything `calibrate` measured.
#[derive(Debug, Serialize)]
pub struct Calibration {
    pub machine: Machine,
    pub haproxy_version: String,
    pub haproxy_threads: u32,
    pub rate: f64,
    pub repeats: usize,
    pub mesh_cpu: usize,
    pub load_cpu: usize,
    pub rows: Vec<ProxyRow>,
    pub haproxy_peak_rss_bytes: u64,
    pub server_peak_rss_bytes: u64,
    /// The datapath benchmark's JSON, as it wrote it.
    pub bench: Option<serde_json::Value>,
    pub values: Vec<CalibratedValue>,
}

const CLIENT_HOST: u8 = 2;
const SERVER_HOST: u8 = 3;
const SERVER_PORT: u16 = 8080;
const PROXY_PORT: u16 = 15006;

pub fn run(options: &Options) -> Result<Calibration> {
    // SAFETY: geteuid only returns a number.
    if unsafe { libc::geteuid() } != 0 {
        bail!("calibrate must run as root (it makes network namespaces and runs the datapath benchmark)");
    }
    haproxy::require()?;
    if options.rate <= 0.0 || options.repeats == 0 || options.payloads.is_empty() {
        bail!("calibrate needs a positive rate, at least one repeat and one payload");
    }
    if options.higher_rate.partial_cmp(&options.rate) != Some(std::cmp::Ordering::Greater) {
        bail!(
            "--higher-rate ({}) must be above --rate ({}): CPU per request is measured at both",
            options.higher_rate,
            options.rate
        );
    }
    if !options.payloads.contains(&options.profile_payload) {
        bail!(
            "the profile's payload ({} B) is not among the measured payloads {:?}",
            options.profile_payload,
            options.payloads
        );
    }
    let machine = Machine::here();

    // The kernel hops and the node proxy first: the benchmark builds and removes its own node.
    let bench = match (&options.bench_json, options.bench_duration) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Some(serde_json::from_str::<serde_json::Value>(&text)?)
        }
        (None, Some(duration)) => {
            let json = options.json.with_file_name("calibrate-bench.json");
            let bench_options = bench::Options {
                duration,
                size: options.profile_payload.max(1),
                runs: options.repeats,
                cpu: Some(options.mesh_cpu),
                json: json.clone(),
                sections: bench::Sections::Node,
            };
            // On a thread of its own: the benchmark pins the thread it runs on.
            std::thread::scope(|s| s.spawn(|| bench::run(&bench_options)).join())
                .map_err(|_| anyhow::anyhow!("the datapath benchmark panicked"))??;
            let text = std::fs::read_to_string(&json)
                .with_context(|| format!("cannot read {}", json.display()))?;
            Some(serde_json::from_str::<serde_json::Value>(&text)?)
        }
        (None, None) => None,
    };

    let mut node = Node::new();
    node.add_pod("client", CLIENT_HOST);
    node.add_pod("server", SERVER_HOST);
    let server_ip = Ipv4Addr::new(10, 77, 0, SERVER_HOST);
    let server_ns = &node.pod("server").ns;
    let mesh_cpus = [options.mesh_cpu];
    let haproxy = haproxy::haproxy(
        server_ns,
        PROXY_PORT,
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, SERVER_PORT),
        options.haproxy_threads,
        &mesh_cpus,
    )?;
    let mut server_peak_rss_bytes = 0;

    // One more loopback leg each way, at its median: the loopback round trip's p50.
    let extra_legs_us = bench.as_ref().and_then(|b| bench_path(b, "0", "p50_us"));
    let client_ns = node.pod("client").ns.path();
    let mut rows = Vec::new();
    for &payload in &options.payloads {
        // The workload server answers with the payload's size, so one per payload.
        let server = haproxy::workload(server_ns, SERVER_PORT, payload as u64, &mesh_cpus)?;
        let spec = |port: u16, seed: u64| LoadSpec {
            targets: vec![Target {
                address: SocketAddr::from((server_ip, port)),
                netns: Some(client_ns.clone()),
                share: 1.0,
                host: None,
            }],
            path: "/".to_string(),
            body_bytes: payload,
            connections: 4,
            warmup: options.warmup,
            duration: options.duration,
            cpu: Some(options.load_cpu),
            seed,
            ..LoadSpec::new(SocketAddr::from((server_ip, port)), options.rate)
        };
        let (mut direct, mut proxied) = (Vec::new(), Vec::new());
        let (mut server_ns_used, mut server_answers) = (0u64, 0u64);
        let (mut proxy_ns_used, mut proxy_answers) = (0u64, 0u64);
        // Interleaved, so that a change of the machine's speed touches both alike.
        for repeat in 0..options.repeats {
            let seed = 1 + repeat as u64;
            let before = cpu_ns(server.pid())?;
            let report = load::run(&spec(SERVER_PORT, seed))?;
            server_ns_used += cpu_ns(server.pid())? - before;
            server_answers += report.answered;
            direct.push(report);
            let before = cpu_ns(haproxy.pid())?;
            let report = load::run(&spec(PROXY_PORT, seed))?;
            proxy_ns_used += cpu_ns(haproxy.pid())? - before;
            proxy_answers += report.answered;
            proxied.push(report);
        }
        for report in direct.iter().chain(&proxied) {
            // A few timeouts are a shared machine's stalls; more is a broken set-up.
            if report.errors.total() as f64 > 0.01 * report.scheduled as f64
                || report.completed == 0
            {
                bail!(
                    "calibration at {payload} B had errors or no answers: {:?}",
                    report.errors
                );
            }
        }
        // The proxy's CPU per request at a higher load too: batching makes it fall with load.
        let busier = options.higher_rate;
        // One run at `rate` to `port` with the load generator on `load_cpu`: `pid`'s CPU per
        // answered request, µs.
        let cpu_per_request = |pid: u32, port: u16, rate: f64, load_cpu: usize| -> Result<f64> {
            let before = cpu_ns(pid)?;
            let report = load::run(&LoadSpec {
                rate,
                cpu: Some(load_cpu),
                ..spec(port, 99)
            })?;
            Ok((cpu_ns(pid)? - before) as f64 / 1000.0 / report.answered.max(1) as f64)
        };
        let cpu_at_higher_load =
            cpu_per_request(haproxy.pid(), PROXY_PORT, busier, options.load_cpu)?;
        // The server's too, on the direct path as at the rate: through the proxy it is woken
        // by HAProxy on its own CPU instead of the load generator on the other, which alone
        // costs it far less per request (9 against 48 µs here; docs/validation.md).
        let server_cpu_at_higher_load =
            cpu_per_request(server.pid(), SERVER_PORT, busier, options.load_cpu)?;
        // Both again with the load generator on the mesh's own CPU: a request sent from the
        // receiver's CPU costs it only its own work, as between the mesh's processes; the
        // difference is the wake-up from another CPU (`[kernel] outside_wakeup_us`).
        let same = options.mesh_cpu;
        let same_cpu = SameCpu {
            proxy_cpu_us_per_request: cpu_per_request(
                haproxy.pid(),
                PROXY_PORT,
                options.rate,
                same,
            )?,
            proxy_cpu_us_per_request_at_higher_load: cpu_per_request(
                haproxy.pid(),
                PROXY_PORT,
                busier,
                same,
            )?,
            server_cpu_us_per_request: cpu_per_request(
                server.pid(),
                SERVER_PORT,
                options.rate,
                same,
            )?,
            server_cpu_us_per_request_at_higher_load: cpu_per_request(
                server.pid(),
                SERVER_PORT,
                busier,
                same,
            )?,
        };
        // What the proxy adds, per pair of runs, at p50 and p75: medians and the body of the
        // distribution are robust to the stalls of a shared machine, which the mean, the p90
        // and the p99 are not (docs/validation.md, "Calibration").
        let added = |f: fn(&LoadReport) -> f64| {
            median(
                direct
                    .iter()
                    .zip(&proxied)
                    .map(|(d, p)| f(p) - f(d))
                    .collect(),
            )
        };
        let added_mean_us = added(|r| r.latency_us.mean_us);
        let added_p50_us = added(|r| r.latency_us.p50_us);
        let added_p75_us = added(|r| r.latency_us.p75_us);
        let added_p90_us = added(|r| r.latency_us.p90_us);
        let added_p99_us = added(|r| r.latency_us.p99_us);
        let legs = extra_legs_us.unwrap_or(0.0);
        let sigma = shape::sigma_from_p75(added_p50_us - legs, added_p75_us - legs)
            .filter(|s| *s <= shape::MAX_PLAUSIBLE_SIGMA);
        let service_median = (added_p50_us - legs).max(1.0);
        let direct = median_by_mean(direct);
        let proxied = median_by_mean(proxied);
        let row = ProxyRow {
            payload_bytes: payload,
            added_mean_us,
            added_p50_us,
            added_p75_us,
            added_p90_us,
            added_p99_us,
            // Without a plausible shape, the mean is the median's (the model's shape stays).
            service_time_mean_us: service_median * (sigma.unwrap_or(0.0).powi(2) / 2.0).exp(),
            service_time_sigma: sigma,
            proxy_cpu_us_per_request: proxy_ns_used as f64 / 1000.0 / proxy_answers.max(1) as f64,
            proxy_cpu_us_per_request_at_higher_load: cpu_at_higher_load,
            higher_load_rps: busier,
            server_cpu_us_per_request: server_ns_used as f64
                / 1000.0
                / server_answers.max(1) as f64,
            server_cpu_us_per_request_at_higher_load: server_cpu_at_higher_load,
            same_cpu,
            direct,
            proxied,
        };
        let s = &row.same_cpu;
        eprintln!(
            "L7 proxy, {payload} B: added p50 {:.1} µs, p90 {:.1}, p99 {:.1}, mean {:.1}; CPU per request from the other CPU: HAProxy {:.1} µs ({:.1} at {busier} rps), server {:.1} µs ({:.1} at {busier} rps); from the same CPU: HAProxy {:.1} ({:.1}), server {:.1} ({:.1})",
            row.added_p50_us,
            row.added_p90_us,
            row.added_p99_us,
            row.added_mean_us,
            row.proxy_cpu_us_per_request,
            row.proxy_cpu_us_per_request_at_higher_load,
            row.server_cpu_us_per_request,
            row.server_cpu_us_per_request_at_higher_load,
            s.proxy_cpu_us_per_request,
            s.proxy_cpu_us_per_request_at_higher_load,
            s.server_cpu_us_per_request,
            s.server_cpu_us_per_request_at_higher_load,
        );
        rows.push(row);
        server_peak_rss_bytes = server_peak_rss_bytes.max(memory_bytes(server.pid())?.0);
    }
    let haproxy_peak_rss_bytes = memory_bytes(haproxy.pid())?.0;
    let haproxy_version = std::process::Command::new(crate::mesh::options::DEFAULT_HAPROXY)
        .arg("-v")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|text| text.lines().next().map(str::to_string))
        .unwrap_or_default();
    let mut calibration = Calibration {
        machine,
        haproxy_version,
        haproxy_threads: options.haproxy_threads,
        rate: options.rate,
        repeats: options.repeats,
        mesh_cpu: options.mesh_cpu,
        load_cpu: options.load_cpu,
        rows,
        haproxy_peak_rss_bytes,
        server_peak_rss_bytes,
        bench,
        values: Vec::new(),
    };
    calibration.values = profile::values(&calibration, options);
    drop(haproxy);
    for path in [&options.profile, &options.json] {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
    }
    std::fs::write(&options.profile, profile::render(&calibration))
        .with_context(|| format!("cannot write {}", options.profile.display()))?;
    std::fs::write(
        &options.json,
        serde_json::to_string_pretty(&calibration)? + "\n",
    )?;
    Ok(calibration)
}

/// A figure of the datapath benchmark's median run of one path.
pub fn bench_path(bench: &serde_json::Value, key: &str, field: &str) -> Option<f64> {
    bench["paths"]
        .as_array()?
        .iter()
        .find(|p| p["key"] == key)?["median"][field]
        .as_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn median_by_mean(mut runs: Vec<LoadReport>) -> LoadReport {
    runs.sort_by(|a, b| a.latency_us.mean_us.total_cmp(&b.latency_us.mean_us));
    runs.swap_remove(runs.len() / 2)
}
