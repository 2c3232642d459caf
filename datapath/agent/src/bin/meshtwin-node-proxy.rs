//! `meshtwin-node-proxy`: the node proxy that connect4 redirects workloads to. See
//! `meshtwin_agent::node_proxy` and docs/datapath.md.

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::ExitCode,
    sync::{Arc, Mutex},
};

use anyhow::{Context as _, Result};
use clap::Parser;
use meshtwin_agent::{config, map_sync::PinnedMaps, metrics, node_proxy, pins::PinDir};

#[derive(Parser)]
#[command(
    name = "meshtwin-node-proxy",
    version,
    about = "Forwards connections that connect4 redirected to it to the original service's backend"
)]
struct Cli {
    /// Node config: its [node-proxy] address and port, and its bpffs-dir.
    #[arg(long, short)]
    config: PathBuf,
    /// bpffs directory of the agent's pins (overrides the config).
    #[arg(long)]
    bpffs_dir: Option<PathBuf>,
    /// Loopback address:port for the proxy's metrics.
    #[arg(long, default_value = "127.0.0.1:9465")]
    metrics_address: SocketAddr,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("meshtwin-node-proxy: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let config = config::load(&cli.config)?;
    let proxy = config.node_proxy.as_ref().with_context(|| {
        format!(
            "{} has no [node-proxy] table to say where to listen",
            cli.config.display()
        )
    })?;
    if !cli.metrics_address.ip().is_loopback() {
        anyhow::bail!(
            "--metrics-address {} is not a loopback address",
            cli.metrics_address
        );
    }
    let dir = cli.bpffs_dir.unwrap_or(config.bpffs_dir.clone());
    let maps = PinnedMaps::open(&PinDir::new(&dir))
        .with_context(|| format!("the datapath is not up in {}", dir.display()))?;
    let listen = node_proxy::listen_address(proxy.address, proxy.port);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let metrics_listener = metrics::bind(cli.metrics_address)
            .await
            .with_context(|| format!("cannot listen for metrics on {}", cli.metrics_address))?;
        let counters = Arc::new(node_proxy::ProxyCounters::default());
        println!("listening {}", listener.local_addr()?);
        println!(
            "metrics on http://{}/metrics",
            metrics_listener.local_addr()?
        );
        use std::io::Write as _;
        std::io::stdout().flush()?;
        tokio::spawn(metrics::serve(
            metrics_listener,
            node_proxy::ProxyCollector(counters.clone()),
        ));
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            served = node_proxy::serve(listener, Arc::new(Mutex::new(maps)), counters) => {
                served.context("accepting connections failed")
            }
            _ = terminate.recv() => Ok(()),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}
