//! `meshtwin-agent`: the node agent's command line. See docs/datapath.md.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    sync::{Arc, Mutex},
};

use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};
use meshtwin_agent::{
    config::{self, NodeConfig},
    lifecycle::{self, ReloadReport, UpReport},
    map_sync::SyncSummary,
    metrics::{DatapathCollector, Labels, MetricsSource},
    EBPF_OBJECT,
};
use meshtwin_datapath_pins::{PinDir, PinnedMaps};
use meshtwin_diagnostics::Diagnostics;

#[derive(Parser)]
#[command(
    name = "meshtwin-agent",
    version,
    about = "Loads meshtwin's eBPF datapath and keeps it in sync with a node config"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a config and print what it defines; touches nothing.
    Check(ConfigArgs),
    /// Load, attach and pin the datapath (or adopt a pinned one), write the maps, and exit.
    Up(ConfigArgs),
    /// `up`, then serve metrics; SIGHUP re-reads the config and updates the maps in place;
    /// SIGTERM/SIGINT exit and leave the datapath enforcing.
    Run {
        #[command(flatten)]
        config: ConfigArgs,
        /// Loopback address:port for metrics (overrides the config).
        #[arg(long)]
        metrics_address: Option<String>,
    },
    /// Apply a changed config to the running datapath's maps, in place.
    Reload(ConfigArgs),
    /// Detach everything of meshtwin's and remove its pins.
    Down(DirArgs),
    /// Print attached programs and map sizes.
    Status(DirArgs),
}

#[derive(Args)]
struct ConfigArgs {
    /// Node config (TOML).
    #[arg(long, short)]
    config: PathBuf,
    /// bpffs directory for pins (overrides the config).
    #[arg(long)]
    bpffs_dir: Option<PathBuf>,
}

#[derive(Args)]
struct DirArgs {
    /// Node config; its bpffs-dir is used, and its netns paths help find netlink filters.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// bpffs directory for pins (default: the config's, else /sys/fs/bpf/meshtwin).
    #[arg(long)]
    bpffs_dir: Option<PathBuf>,
}

fn load_config(args: &ConfigArgs) -> Result<NodeConfig> {
    let mut config = config::load(&args.config)?;
    if let Some(dir) = &args.bpffs_dir {
        config.bpffs_dir = dir.clone();
    }
    Ok(config)
}

fn dir_and_config(args: &DirArgs) -> Result<(PathBuf, Option<NodeConfig>)> {
    let config = args.config.as_deref().map(config::load).transpose()?;
    let dir = args
        .bpffs_dir
        .clone()
        .or_else(|| config.as_ref().map(|c| c.bpffs_dir.clone()))
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_BPFFS_DIR));
    Ok((dir, config))
}

fn maps_summary(sync: &SyncSummary) -> String {
    format!(
        "{} prefixes, {} policy rules, {} services with {} backends ({} stale entries removed; policy epoch {})",
        sync.prefixes, sync.rules, sync.services, sync.backends, sync.removed, sync.policy_epoch
    )
}

fn print_up(report: &UpReport, dir: &Path) {
    println!("maps: {}", maps_summary(&report.sync));
    print_attachments(report);
    println!(
        "datapath up; pins in {} (tc attach: {})",
        dir.display(),
        if report.tcx {
            "tcx link"
        } else {
            "netlink filter"
        }
    );
}

/// What `reload` did, line by line: what was not done is never reported as done.
fn print_reload(report: &ReloadReport, prefix: &str) {
    println!("{prefix}: maps: {}", maps_summary(&report.sync));
    match &report.up {
        None => println!("{prefix}: attachments and workloads unchanged"),
        Some(up) => {
            print_attachments(up);
            println!(
                "{prefix}: attachments and workloads applied (tc attach: {})",
                if up.tcx { "tcx link" } else { "netlink filter" }
            );
        }
    }
}

fn print_attachments(report: &UpReport) {
    for pin in &report.created {
        println!(
            "attached {} to {} (ifindex {})",
            pin.program, pin.interface, pin.if_index
        );
    }
    for pin in &report.replaced {
        println!(
            "replaced {} on {} in place (ifindex {})",
            pin.program, pin.interface, pin.if_index
        );
    }
    for pin in &report.removed {
        println!(
            "detached {} from {} (no longer configured)",
            pin.program, pin.interface
        );
    }
    let socket = &report.socket;
    for pin in &socket.created {
        println!(
            "attached {} to the cgroup of {} (cgroup id {})",
            pin.program, pin.owner, pin.cgroup_inode
        );
    }
    for pin in &socket.replaced {
        println!(
            "replaced {} on the cgroup of {} in place",
            pin.program, pin.owner
        );
    }
    for pin in &socket.removed {
        println!(
            "detached {} from the cgroup of {} (no longer configured)",
            pin.program, pin.owner
        );
    }
    if socket.sk_msg {
        println!(
            "sk_msg_mesh attached to the socket hash ({} workloads)",
            report.sync.workloads
        );
    }
}

fn bring_up(args: &ConfigArgs, config: &NodeConfig) -> Result<()> {
    let report = lifecycle::up(config, EBPF_OBJECT).with_context(|| {
        format!(
            "failed to bring the datapath up from {}",
            args.config.display()
        )
    })?;
    print_up(&report, &config.bpffs_dir);
    Ok(())
}

/// The kernel features `config` needs on this kernel, each with how it was established (a
/// probe, which needs root, or the kernel's version). Informational: `check` fails only on the
/// config itself.
fn print_kernel_features(config: &NodeConfig) {
    let kernel = match meshtwin_agent::kernel::running_kernel() {
        Ok(kernel) => kernel,
        Err(error) => {
            println!("kernel features: {error}");
            return;
        }
    };
    meshtwin_agent::kernel::raise_memlock_if_charged(kernel);
    println!("kernel {kernel}, features this config needs:");
    for feature in lifecycle::needed_features(config) {
        let finding = meshtwin_kernel_features::probe::examine(feature, kernel);
        println!("  {finding}");
    }
}

/// Exit codes: 0 success, 2 a config with problems (each located on stderr), 1 anything else.
fn main() -> ExitCode {
    match run_cli(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => match error.downcast_ref::<Diagnostics>() {
            Some(problems) => {
                eprintln!("{problems}");
                ExitCode::from(2)
            }
            None => {
                eprintln!("meshtwin-agent: error: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run_cli(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Check(args) => {
            let config = load_config(&args)?;
            println!(
                "{}: {} identities, {} policy rules, {} services, {} attachments, {} workloads{}",
                args.config.display(),
                config.identities.len(),
                config.rules.len(),
                config.services.len(),
                config.attachments.len(),
                config.workloads.len(),
                if config.node_proxy.is_some() {
                    ", a node proxy"
                } else {
                    ""
                }
            );
            print_kernel_features(&config);
            Ok(())
        }
        Command::Up(args) => {
            let config = load_config(&args)?;
            bring_up(&args, &config)?;
            Ok(())
        }
        Command::Run {
            config: args,
            metrics_address,
        } => {
            let mut config = load_config(&args)?;
            // What the file says, to tell a SIGHUP that changes it that it is not applied.
            let configured_metrics = config.metrics_address;
            if let Some(address) = metrics_address {
                config.metrics_address = address
                    .parse()
                    .ok()
                    .filter(|a: &std::net::SocketAddr| a.ip().is_loopback())
                    .with_context(|| {
                        format!("--metrics-address {address:?} is not a loopback address:port")
                    })?;
            }
            bring_up(&args, &config)?;
            serve(args, config, configured_metrics)
        }
        Command::Reload(args) => {
            let config = load_config(&args)?;
            let report = lifecycle::reload(&config, EBPF_OBJECT)
                .with_context(|| format!("failed to apply {}", args.config.display()))?;
            print_reload(&report, "reloaded");
            Ok(())
        }
        Command::Down(args) => {
            let (dir, config) = dir_and_config(&args)?;
            let report = lifecycle::down(&dir, config.as_ref()).with_context(|| {
                format!("failed to take the datapath in {} down", dir.display())
            })?;
            if report.nothing_up {
                println!(
                    "nothing of meshtwin's is pinned in {}: nothing to take down",
                    dir.display()
                );
                return Ok(());
            }
            for pin in &report.attachments {
                println!(
                    "detached {} from {} (ifindex {})",
                    pin.program, pin.interface, pin.if_index
                );
            }
            for pin in &report.cgroups {
                println!("detached {} from the cgroup of {}", pin.program, pin.owner);
            }
            println!(
                "removed {} map pins and {}",
                report.maps.len(),
                dir.display()
            );
            Ok(())
        }
        Command::Status(args) => {
            let (dir, _) = dir_and_config(&args)?;
            let status = lifecycle::status(&dir)
                .with_context(|| format!("failed to read status of {}", dir.display()))?;
            println!("pins: {}", dir.display());
            println!("attached programs:");
            if status.attachments.is_empty() {
                println!("  (none)");
            }
            for a in &status.attachments {
                let id = |v: Option<u32>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
                println!(
                    "  {:<14} {:<16} ifindex {:<4} netns {:<11} {:<15} link {:<5} prog {:<5}{}",
                    a.pin.program,
                    a.pin.interface,
                    a.pin.if_index,
                    a.pin.netns_inode,
                    a.kind,
                    id(a.link_id),
                    id(a.program_id),
                    if a.live {
                        ""
                    } else {
                        " DEFUNCT (interface gone)"
                    }
                );
            }
            println!("cgroup programs:");
            if status.cgroups.is_empty() {
                println!("  (none)");
            }
            for c in &status.cgroups {
                let id = |v: Option<u32>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
                println!(
                    "  {:<15} {:<16} cgroup {:<10} link {:<5} prog {:<5}{}",
                    c.pin.program,
                    c.pin.owner,
                    c.pin.cgroup_inode,
                    id(c.link_id),
                    id(c.program_id),
                    if c.live { "" } else { " DEFUNCT (cgroup gone)" }
                );
            }
            match status.sk_msg_program {
                Some(id) => println!("socket hash: sk_msg_mesh attached, prog {id}"),
                None => println!("socket hash: no program attached"),
            }
            println!("maps:");
            for (map, entries) in &status.maps {
                println!("  {map:<15} {entries} entries");
            }
            Ok(())
        }
    }
}

/// SIGHUP's reload: refused when the new config moves the pins (a running agent keeps its
/// bpffs directory).
fn reload_on_hangup(
    running: &NodeConfig,
    new_config: NodeConfig,
) -> Result<(ReloadReport, NodeConfig)> {
    if new_config.bpffs_dir != running.bpffs_dir {
        anyhow::bail!(
            "bpffs-dir changed from {} to {}: a running agent keeps its pins where they are; stop `run`, `down`, then start it again to move them",
            running.bpffs_dir.display(),
            new_config.bpffs_dir.display()
        );
    }
    let report = lifecycle::reload(&new_config, EBPF_OBJECT)?;
    Ok((report, new_config))
}

fn serve(
    args: ConfigArgs,
    config: NodeConfig,
    configured_metrics: std::net::SocketAddr,
) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        use tokio::signal::unix::{signal, SignalKind};
        // Handlers first: whoever reads "metrics on" below may signal at once, and a SIGHUP that
        // came before its handler would kill the agent (or vanish, where SIGHUP is inherited
        // ignored) instead of reloading.
        let mut hangup = signal(SignalKind::hangup())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let pins = PinDir::new(&config.bpffs_dir);
        let maps = PinnedMaps::open(&pins)?;
        let source = Arc::new(Mutex::new(MetricsSource { maps, labels: Labels::from_config(&config) }));
        let listener = meshtwin_metrics_endpoint::bind(config.metrics_address)
            .await
            .with_context(|| format!("cannot listen for metrics on {}", config.metrics_address))?;
        println!("metrics on http://{}/metrics", listener.local_addr()?);
        let server = tokio::spawn(meshtwin_metrics_endpoint::serve(listener, DatapathCollector(source.clone())));
        loop {
            tokio::select! {
                _ = hangup.recv() => {
                    // A bad config is reported and the running state is kept.
                    match load_config(&args).and_then(|c| reload_on_hangup(&config, c)) {
                        Ok((report, new_config)) => {
                            if let Ok(mut source) = source.lock() {
                                source.labels = Labels::from_config(&new_config);
                            }
                            print_reload(&report, "reloaded on SIGHUP");
                            if new_config.metrics_address != configured_metrics {
                                println!(
                                    "reloaded on SIGHUP: metrics-address {} not applied: metrics stay on {} until `run` restarts",
                                    new_config.metrics_address, config.metrics_address
                                );
                            }
                        }
                        Err(error) => eprintln!("meshtwin-agent: reload failed, keeping the previous config: {error:#}"),
                    }
                }
                _ = terminate.recv() => break,
                _ = interrupt.recv() => break,
            }
        }
        server.abort();
        println!("exiting; the datapath stays attached and pinned in {}", config.bpffs_dir.display());
        Ok(())
    })
}
