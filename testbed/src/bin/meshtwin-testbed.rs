//! `meshtwin-testbed`: what runs on a whole testbed rather than in one pod: the datapath
//! benchmark (`meshtwin_testbed::bench`) and the mesh testbed's `up` and `down`
//! (`meshtwin_testbed::mesh`, docs/testbed.md); the traffic inside pods is `meshtwin-traffic`.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Result;
use clap::{Parser, Subcommand};
use meshtwin_testbed::{bench, calibrate, load, mesh, validate};

#[derive(Parser)]
#[command(
    name = "meshtwin-testbed",
    version,
    about = "meshtwin's testbed on this machine: a mesh built from a cluster.toml (up, down) and the datapath benchmark"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Builds the mesh of a cluster.toml (root), prints its entries and processes, and keeps
    /// it up until SIGINT or SIGTERM, then removes it.
    Up {
        /// The cluster file (the simulator's format, docs/config.md).
        file: PathBuf,
        /// The data plane: sidecar, per-node, uproxy, ebpf, or baseline (no mesh).
        #[arg(long, default_value = "baseline")]
        architecture: String,
        /// CPUs the mesh's processes are pinned to, comma-separated.
        #[arg(long, default_value = "0", value_delimiter = ',')]
        mesh_cpus: Vec<usize>,
        /// Names everything the run creates (default: mt<pid>).
        #[arg(long)]
        prefix: Option<String>,
    },
    /// Removes what a run left (after a kill): its processes, cgroups, BPF pins, namespaces
    /// and run directory, found by prefix. Without --prefix, every run found.
    Down {
        #[arg(long)]
        prefix: Option<String>,
    },
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
        /// Which parts to run (many: only wrk against nginx, always unpinned).
        #[arg(long, value_enum, default_value = "all")]
        sections: bench::Sections,
        /// Where to write the JSON results.
        #[arg(long, default_value = "target/bench-datapath.json")]
        json: PathBuf,
    },
    /// Open-loop HTTP/1.1 load against one address; prints a summary, and JSON to --json or
    /// standard output. Latency is measured from each request's intended send time.
    Load(LoadArgs),
    /// Build the file's mesh per architecture (root), drive and measure it, run the simulator
    /// on the same file with the calibrated profile, and print predicted | measured | error.
    Validate(ValidateArgs),
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
        /// The higher load CPU per request is also measured at: with --rate, the two points
        /// of the power law the profile's cpu_rate_exponent is. The validation's loads reach
        /// tens of thousands per second, so the points span most of that range.
        #[arg(long, default_value_t = 8000.0)]
        higher_rate: f64,
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
        /// HAProxy's nbthread (the simulator's envoy.worker_threads, which the mesh's HAProxy
        /// takes from the models).
        #[arg(long, default_value_t = 1)]
        haproxy_threads: u32,
        /// Seconds per path of the datapath benchmark (0: skip it).
        #[arg(long, default_value_t = 5.0)]
        bench_secs: f64,
        /// Take the datapath benchmark's figures from this JSON (its --json) instead.
        #[arg(long)]
        bench_json: Option<PathBuf>,
        #[arg(long, default_value = "target/calibration/testbed.toml")]
        profile: PathBuf,
        #[arg(long, default_value = "target/calibration/calibrate.json")]
        json: PathBuf,
    },
}

#[derive(clap::Args)]
struct ValidateArgs {
    /// The cluster file (sim/scenarios/validation-*.toml).
    file: PathBuf,
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "baseline,sidecar,per-node,uproxy,ebpf"
    )]
    architectures: Vec<String>,
    /// Load levels as fractions of the lowest measured saturation.
    #[arg(long, value_delimiter = ',', default_value = "0.1,0.4,0.8", conflicts_with_all = ["rates", "file_rate"])]
    levels: Vec<f64>,
    /// Load levels as total requests per second instead (no saturation search unless asked).
    #[arg(long, value_delimiter = ',')]
    rates: Option<Vec<f64>>,
    /// One level: the file's own rate (seed 003's fixed benchmark).
    #[arg(long)]
    file_rate: bool,
    /// Search the saturation even with --rates or --file-rate.
    #[arg(long)]
    saturation: bool,
    #[arg(long, default_value_t = 250.0)]
    saturation_start: f64,
    #[arg(long, default_value_t = 32000.0)]
    saturation_cap: f64,
    /// Measured seconds of each saturation probe.
    #[arg(long, default_value_t = 3.0)]
    probe_secs: f64,
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    #[arg(long, default_value_t = 1.0)]
    warmup_secs: f64,
    #[arg(long, default_value_t = 5.0)]
    duration_secs: f64,
    /// The calibrated profile (`meshtwin-testbed calibrate`); by default
    /// target/calibration/testbed.toml when it exists, else the models as shipped.
    #[arg(long)]
    profile: Option<PathBuf>,
    #[arg(long, value_delimiter = ',', default_value = "0")]
    mesh_cpus: Vec<usize>,
    #[arg(long, default_value_t = 1)]
    load_cpu: usize,
    /// Keep-alive connections per entry service.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// A sustained run's p99 stays under this (the saturation's definition).
    #[arg(long, default_value_t = 100.0)]
    p99_bound_ms: f64,
    #[arg(long)]
    json: Option<PathBuf>,
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Measure nothing: take the measurements of this earlier report (its JSON) and run only
    /// the simulator, with today's models and --profile (no root needed).
    #[arg(long)]
    measured: Option<PathBuf>,
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
        Command::Up {
            file,
            architecture,
            mesh_cpus,
            prefix,
        } => up(&file, &architecture, mesh_cpus, prefix),
        Command::Down { prefix } => down(prefix),
        Command::Bench {
            duration_secs,
            size,
            runs,
            cpu,
            unpinned,
            json,
            sections,
        } => bench::run(&bench::Options {
            duration: Duration::from_secs_f64(duration_secs),
            size,
            runs: runs.max(1),
            cpu: (!unpinned).then_some(cpu),
            json,
            sections,
        }),
        Command::Load(args) => run_load(args),
        Command::Validate(args) => run_validate(args),
        Command::Calibrate {
            payloads,
            profile_payload,
            rate,
            higher_rate,
            warmup_secs,
            duration_secs,
            repeats,
            mesh_cpu,
            load_cpu,
            haproxy_threads,
            bench_secs,
            bench_json,
            profile,
            json,
        } => {
            let calibration = calibrate::run(&calibrate::Options {
                payloads,
                profile_payload,
                rate,
                higher_rate,
                warmup: Duration::from_secs_f64(warmup_secs),
                duration: Duration::from_secs_f64(duration_secs),
                repeats,
                mesh_cpu,
                load_cpu,
                haproxy_threads,
                bench_duration: (bench_secs > 0.0).then(|| Duration::from_secs_f64(bench_secs)),
                bench_json,
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

fn run_validate(args: ValidateArgs) -> Result<()> {
    let architectures = args
        .architectures
        .iter()
        .map(|name| validate::Arch::parse(name))
        .collect::<Result<Vec<_>>>()?;
    let levels = if args.file_rate {
        validate::Levels::File
    } else if let Some(rates) = args.rates {
        validate::Levels::Rates(rates)
    } else {
        validate::Levels::OfSaturation(args.levels)
    };
    let saturation = args.saturation || matches!(levels, validate::Levels::OfSaturation(_));
    let stem = args
        .file
        .file_stem()
        .map_or("validation".into(), |s| s.to_string_lossy().into_owned());
    let default_profile = PathBuf::from("target/calibration/testbed.toml");
    let profile = args
        .profile
        .or_else(|| default_profile.exists().then_some(default_profile));
    if profile.is_none() {
        eprintln!("no calibrated profile (run `meshtwin-testbed calibrate`): the simulator runs with the models as shipped");
    }
    let json = args
        .json
        .unwrap_or_else(|| PathBuf::from(format!("target/validation/{stem}.json")));
    let svg = args
        .svg
        .unwrap_or_else(|| PathBuf::from(format!("target/validation/{stem}.svg")));
    let measured = match &args.measured {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            Some(
                serde_json::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
            )
        }
        None => None,
    };
    let report = validate::run(&validate::Options {
        measured,
        file: args.file,
        architectures,
        levels,
        saturation,
        saturation_start: args.saturation_start,
        saturation_cap: args.saturation_cap,
        probe_duration: Duration::from_secs_f64(args.probe_secs),
        repeats: args.repeats,
        drive: validate::testbed_run::Drive {
            mesh_cpus: args.mesh_cpus,
            load_cpu: args.load_cpu,
            connections: args.connections,
            warmup: Duration::from_secs_f64(args.warmup_secs),
            duration: Duration::from_secs_f64(args.duration_secs),
        },
        profile,
        p99_bound_ms: args.p99_bound_ms,
        json: json.clone(),
        svg: svg.clone(),
    })?;
    print!("{}", validate::report::render(&report));
    println!("JSON: {}\nSVG: {}", json.display(), svg.display());
    if !report.failed.is_empty() {
        anyhow::bail!("{} architecture(s) did not run", report.failed.len());
    }
    Ok(())
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
fn architecture(name: &str) -> Result<Option<sim::mesh::Architecture>> {
    if name == "baseline" {
        return Ok(None);
    }
    sim::mesh::Architecture::ALL
        .into_iter()
        .find(|a| a.name() == name)
        .map(Some)
        .ok_or_else(|| {
            let names: Vec<&str> = sim::mesh::Architecture::ALL
                .iter()
                .map(|a| a.name())
                .collect();
            anyhow::anyhow!(
                "unknown architecture {name:?}: use baseline or one of {}",
                names.join(", ")
            )
        })
}

fn up(
    file: &std::path::Path,
    architecture_name: &str,
    mesh_cpus: Vec<usize>,
    prefix: Option<String>,
) -> Result<()> {
    let catalog = sim::cost_model::Catalog::embedded();
    let (scenario, _) = sim::config::load(
        file,
        // The mesh is built from the file; the simulation's budget does not apply.
        &sim::config::LoadOptions {
            simulate: false,
            ..sim::config::LoadOptions::new(&catalog)
        },
    )
    .map_err(|diagnostics| anyhow::anyhow!("{diagnostics}"))?;
    let mut options = mesh::MeshOptions::new(architecture(architecture_name)?);
    options.mesh_cpus = mesh_cpus;
    if let Some(prefix) = prefix {
        options.prefix = prefix;
    }
    let running = mesh::up(&scenario, &options)?;
    println!(
        "mesh {} is up: {} ({} nodes, {} pods), run directory {}",
        running.prefix(),
        architecture_name,
        running.plan().nodes.len(),
        running.plan().pods.len(),
        running.run_dir().display()
    );
    println!(
        "entries (from {}):",
        running
            .entries()
            .first()
            .map_or("-".into(), |e| e.netns.display().to_string())
    );
    for entry in running.entries() {
        println!(
            "  {:<20} {:<21} {:>8.1} rps ({:.0}%)  {}",
            entry.service,
            entry.address.to_string(),
            entry.rps,
            entry.rate_share * 100.0,
            entry.path
        );
    }
    println!("processes (pinned to CPUs {:?}):", options.mesh_cpus);
    for process in running.processes() {
        println!(
            "  {:>7}  {:<10} {:<16} node {:<3} {}",
            process.pid,
            process.kind.name(),
            process.name,
            process.node.map_or("-".into(), |n| n.to_string()),
            process.cgroup.display()
        );
    }
    println!("Ctrl-C (SIGINT) or SIGTERM removes it.");
    use std::io::Write as _;
    std::io::stdout().flush()?;
    // The signal handler removes the mesh and exits; until then, keep it up.
    loop {
        std::thread::park();
    }
}

fn down(prefix: Option<String>) -> Result<()> {
    let prefixes = match prefix {
        Some(prefix) => vec![prefix],
        None => runs_found(),
    };
    if prefixes.is_empty() {
        println!("no mesh testbed found");
    }
    for prefix in prefixes {
        let removed = mesh::cleanup::down(&prefix)?;
        if removed.is_empty() {
            println!("{prefix}: nothing to remove");
            continue;
        }
        println!(
            "{prefix}: removed {} cgroup tree(s), {} BPF pin directory(ies), {} namespace(s){}",
            removed.cgroups.len(),
            removed.bpffs_dirs.len(),
            removed.namespaces.len(),
            removed
                .run_dir
                .map_or(String::new(), |d| format!(", {}", d.display()))
        );
    }
    Ok(())
}

/// Prefixes of runs that left a run directory (`/tmp/meshtwin-<prefix>` with its marker) or a router
/// namespace (`/run/netns/<prefix>-router`).
fn runs_found() -> Vec<String> {
    let mut found = Vec::new();
    let scan = |dir: &std::path::Path,
                parse: &dyn Fn(&str) -> Option<String>,
                found: &mut Vec<String>| {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.filter_map(Result::ok) {
                if let Some(prefix) = parse(&entry.file_name().to_string_lossy()) {
                    if mesh::options::check_prefix(&prefix).is_ok() && !found.contains(&prefix) {
                        found.push(prefix);
                    }
                }
            }
        }
    };
    scan(
        &std::env::temp_dir(),
        &|name| {
            name.strip_prefix("meshtwin-")
                .filter(|prefix| {
                    mesh::cleanup::run_dir(prefix)
                        .join(mesh::cleanup::RUN_MARKER)
                        .exists()
                })
                .map(str::to_owned)
        },
        &mut found,
    );
    scan(
        std::path::Path::new(meshtwin_testbed::netns::NAMED_NETNS_DIR),
        &|name| name.strip_suffix("-router").map(str::to_owned),
        &mut found,
    );
    found.sort();
    found
}
