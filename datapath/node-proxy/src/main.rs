//! `meshtwin-node-proxy`: the node proxy that connect4 redirects workloads' service connections
//! to (docs/datapath.md, "The node proxy"). It is the "micro proxy" the simulator models: one
//! L4 hop, no buffering beyond the copy loops. It enforces the identity policy for the client
//! it forwards for, and tells the XDP policy whose connection its own is.
//!
//! It reads everything from the agent's pins: where to listen from `NODE_PROXY`, the map
//! connect4 reads (so it listens exactly where connect4 sends, and the node config is read by
//! the agent alone), each connection's original destination from `ORIG_DST_FLOW`, and the
//! services' backends from `SERVICES` and `BACKENDS`.
//!
//! - `route`: where an accepted connection goes;
//! - `authorize`: whether the client may reach that backend (the XDP program's decision, over
//!   the same maps);
//! - `upstream`: the connection to the backend, announced to the XDP policy as the client's;
//! - `forward`: accepting, checking, connecting to the backend, copying both ways;
//! - `counters`: the proxy's counters and their metrics.

mod authorize;
mod counters;
mod forward;
mod route;
mod upstream;

use std::{
    net::{Ipv4Addr, SocketAddr, SocketAddrV4},
    path::PathBuf,
    process::ExitCode,
    sync::{Arc, Mutex},
};

use anyhow::{bail, Context as _, Result};
use clap::Parser;
use meshtwin_datapath_pins::{PinDir, PinnedMaps, DEFAULT_BPFFS_DIR};

use crate::counters::{ProxyCollector, ProxyCounters};

#[derive(Parser)]
#[command(
    name = "meshtwin-node-proxy",
    version,
    about = "Forwards connections that connect4 redirected to it to the original service's backend"
)]
struct Cli {
    /// bpffs directory of the agent's pins (the agent's `bpffs-dir`).
    #[arg(long, default_value = DEFAULT_BPFFS_DIR)]
    bpffs_dir: PathBuf,
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

/// Where connect4 sends redirected connections: the agent wrote it from its config's
/// `[node-proxy]` table.
fn listen_address(maps: &PinnedMaps, dir: &std::path::Path) -> Result<SocketAddr> {
    let proxy = maps
        .node_proxy
        .get(&0, 0)
        .with_context(|| format!("cannot read NODE_PROXY in {}", dir.display()))?;
    if proxy.enabled == 0 {
        bail!(
            "the agent's config for {} has no [node-proxy] table to say where to listen",
            dir.display()
        );
    }
    Ok(SocketAddrV4::new(Ipv4Addr::from(proxy.addr), proxy.port).into())
}

fn run(cli: Cli) -> Result<()> {
    if !cli.metrics_address.ip().is_loopback() {
        bail!(
            "--metrics-address {} is not a loopback address",
            cli.metrics_address
        );
    }
    let dir = cli.bpffs_dir;
    let maps = PinnedMaps::open(&PinDir::new(&dir))
        .with_context(|| format!("the datapath is not up in {}", dir.display()))?;
    let listen = listen_address(&maps, &dir)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let metrics_listener = meshtwin_metrics_endpoint::bind(cli.metrics_address)
            .await
            .with_context(|| format!("cannot listen for metrics on {}", cli.metrics_address))?;
        let counters = Arc::new(ProxyCounters::default());
        println!("listening {}", listener.local_addr()?);
        println!(
            "metrics on http://{}/metrics",
            metrics_listener.local_addr()?
        );
        use std::io::Write as _;
        std::io::stdout().flush()?;
        tokio::spawn(meshtwin_metrics_endpoint::serve(
            metrics_listener,
            ProxyCollector(counters.clone()),
        ));
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            served = forward::serve(listener, Arc::new(Mutex::new(maps)), counters) => {
                served.context("accepting connections failed")
            }
            _ = terminate.recv() => Ok(()),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}
