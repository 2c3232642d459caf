//! `meshtwin-testbed`: what runs on a whole testbed rather than in one pod. Today the datapath
//! benchmark (`meshtwin_testbed::bench`); the traffic inside pods is `meshtwin-traffic`.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Result;
use clap::{Parser, Subcommand};
use meshtwin_testbed::{bench, calibrate, load};

#[derive(Parser)]
#[command(
    name = "meshtwin-testbed",
    version,
    about = "A meshtwin node with pods on this machine (network namespaces and cgroups), and the datapath benchmark"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The datapath benchmark (root): same-node request/response through five paths.
    Bench {
        /// Seconds measured per path (after a second of warm-up).
        #[arg(long, default_value_t = 10.0)]
        duration_secs: f64,
        /// Request and response size in bytes.
        #[arg(long, default_value_t = 1024)]
        size: usize,
        /// Runs per path; the median run (by p50) is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// The CPU every benchmark process runs on. One CPU measures the datapath's own work:
        /// across CPUs a round trip also pays two cross-CPU wake-ups, which in a VM cost far
        /// more than the paths compared (docs/performance.md, "Datapath").
        #[arg(long, default_value_t = 0, conflicts_with = "unpinned")]
        cpu: usize,
        /// Let the scheduler place the processes on any CPU instead.
        #[arg(long)]
        unpinned: bool,
        /// Where to write the JSON results.
        #[arg(long, default_value = "target/bench-datapath.json")]
        json: PathBuf,
    },
    /// Open-loop HTTP/1.1 load against one address; prints a summary, and JSON to --json or
    /// standard output. Latency is measured from each request's intended send time.
    Load(LoadArgs),
    /// Measure each component of the testbed's mesh alone (root): HAProxy by payload size, the
    /// node proxy and the kernel hops (the datapath benchmark), the workload server; write a
    /// models profile whose every value names the measurement it came from.
    Calibrate {
        /// Request payloads in bytes (0: GET).
        #[arg(long, value_delimiter = ',', default_value = "0,1024,16384")]
        payloads: Vec<usize>,
        /// The payload whose figures the profile takes.
        #[arg(long, default_value_t = 1024)]
        profile_payload: usize,
        /// The light load, requests per second.
        #[arg(long, default_value_t = 500.0)]
        rate: f64,
        #[arg(long, default_value_t = 1.0)]
        warmup_secs: f64,
        #[arg(long, default_value_t = 5.0)]
        duration_secs: f64,
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        #[arg(long, default_value_t = 0)]
        mesh_cpu: usize,
        #[arg(long, default_value_t = 1)]
        load_cpu: usize,
        #[arg(long, default_value_t = 1)]
        haproxy_threads: usize,
        /// Seconds per path of the datapath benchmark (0: skip it).
        #[arg(long, default_value_t = 5.0)]
        bench_secs: f64,
        #[arg(long, default_value = "target/calibration/testbed.toml")]
        profile: PathBuf,
        #[arg(long, default_value = "target/calibration/calibrate.json")]
        json: PathBuf,
    },
}

#[derive(clap::Args)]
struct LoadArgs {
    /// The address to send requests to.
    #[arg(long)]
    connect: std::net::SocketAddr,
    /// Run inside this network namespace (/run/netns/NAME, /proc/PID/ns/net, ...).
    #[arg(long)]
    netns: Option<PathBuf>,
    /// Requests per second.
    #[arg(long)]
    rate: f64,
    #[arg(long, value_enum, default_value_t = load::Arrivals::Poisson)]
    arrivals: load::Arrivals,
    /// Keep-alive connections.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// A new connection per request instead of keep-alive connections.
    #[arg(long)]
    new_connection: bool,
    #[arg(long, default_value = "/")]
    path: String,
    /// POST this many bytes per request (0: GET).
    #[arg(long, default_value_t = 0)]
    body_bytes: usize,
    #[arg(long, default_value_t = 1.0)]
    warmup_secs: f64,
    #[arg(long, default_value_t = 5.0)]
    duration_secs: f64,
    /// How long to wait for answers after the last request.
    #[arg(long, default_value_t = 2.0)]
    drain_secs: f64,
    /// The CPU the generator runs on (the mesh's processes are on CPU 0 by default).
    #[arg(long, default_value_t = 1, conflicts_with = "unpinned")]
    cpu: usize,
    #[arg(long)]
    unpinned: bool,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Poll instead of sleeping when the next request is due within this many µs.
    #[arg(long, default_value_t = 0)]
    spin_us: u64,
    /// Write the JSON report here instead of standard output.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("meshtwin-testbed: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Bench {
            duration_secs,
            size,
            runs,
            cpu,
            unpinned,
            json,
        } => bench::run(&bench::Options {
            duration: Duration::from_secs_f64(duration_secs),
            size,
            runs: runs.max(1),
            cpu: (!unpinned).then_some(cpu),
            json,
        }),
        Command::Load(args) => run_load(args),
        Command::Calibrate {
            payloads,
            profile_payload,
            rate,
            warmup_secs,
            duration_secs,
            repeats,
            mesh_cpu,
            load_cpu,
            haproxy_threads,
            bench_secs,
            profile,
            json,
        } => {
            let calibration = calibrate::run(&calibrate::Options {
                payloads,
                profile_payload,
                rate,
                warmup: Duration::from_secs_f64(warmup_secs),
                duration: Duration::from_secs_f64(duration_secs),
                repeats,
                mesh_cpu,
                load_cpu,
                haproxy_threads,
                bench_duration: (bench_secs > 0.0).then(|| Duration::from_secs_f64(bench_secs)),
                profile: profile.clone(),
                json: json.clone(),
            })?;
            for v in &calibration.values {
                println!("{}.{} = {}", v.component, v.name, v.value);
            }
            println!("profile: {}\nJSON: {}", profile.display(), json.display());
            Ok(())
        }
    }
}

fn run_load(args: LoadArgs) -> Result<()> {
    let spec = load::LoadSpec {
        targets: vec![load::Target {
            address: args.connect,
            netns: args.netns,
            share: 1.0,
            host: None,
        }],
        arrivals: args.arrivals,
        connections: args.connections,
        new_connection_per_request: args.new_connection,
        path: args.path,
        body_bytes: args.body_bytes,
        warmup: Duration::from_secs_f64(args.warmup_secs),
        duration: Duration::from_secs_f64(args.duration_secs),
        drain: Duration::from_secs_f64(args.drain_secs),
        cpu: (!args.unpinned).then_some(args.cpu),
        seed: args.seed,
        spin: Duration::from_micros(args.spin_us),
        ..load::LoadSpec::new(args.connect, args.rate)
    };
    let report = load::run(&spec)?;
    let l = &report.latency_us;
    eprintln!(
        "{:.0} rps offered, {:.0} delivered, {} errors of {}; latency µs p50 {:.1} p90 {:.1} p99 {:.1} p99.9 {:.1} mean {:.1}; send lag p99 {:.1} µs; generator {:.2} µs CPU per request",
        report.offered_rps,
        report.throughput_rps,
        report.errors.total(),
        report.scheduled,
        l.p50_us,
        l.p90_us,
        l.p99_us,
        l.p999_us,
        l.mean_us,
        report.send_lag_us.p99_us,
        report.generator_cpu_us_per_request
    );
    let text = serde_json::to_string_pretty(&report)?;
    match args.json {
        Some(path) => std::fs::write(&path, text + "\n")?,
        None => println!("{text}"),
    }
    Ok(())
}
