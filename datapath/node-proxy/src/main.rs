//! `meshtwin-node-proxy`: the node proxy that connect4 redirects workloads' service connections
//! to (docs/datapath.md, "The node proxy"). It is the "micro proxy" the simulator models: one
//! L4 hop, no buffering beyond the copy loops. It enforces the identity policy for the client
//! it forwards for, and tells the XDP policy whose connection its own is. Between nodes it
//! carries connections in mutual TLS by workload identity (`mtls`), and its `ca` command is the
//! mesh's certificate authority.
//!
//! It reads everything from the agent's pins: where to listen from `NODE_PROXY`, the map
//! connect4 reads (so it listens exactly where connect4 sends, and the node config is read by
//! the agent alone), each connection's original destination from `ORIG_DST_FLOW`, the
//! services' backends from `SERVICES` and `BACKENDS`, identities and policy from
//! `IDENTITY_V4`, `POLICED` and `POLICY`.
//!
//! - `route`: where an accepted connection goes;
//! - `authorize`: whether the client may reach that backend (the XDP program's decision, over
//!   the same maps);
//! - `upstream`: the connection to the backend, announced to the XDP policy as the client's;
//! - `forward`: accepting, checking, connecting to the backend, copying both ways;
//! - `mtls`: tunnels between node proxies, certificates, the CA;
//! - `ca_command`: `meshtwin-node-proxy ca init|issue`;
//! - `counters`: the proxy's counters and their metrics.

mod authorize;
mod ca_command;
mod counters;
mod forward;
mod mtls;
mod route;
mod upstream;

use std::{
    net::{Ipv4Addr, SocketAddr, SocketAddrV4},
    path::PathBuf,
    process::ExitCode,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::{bail, Context as _, Result};
use clap::{Args, Parser, Subcommand};
use meshtwin_datapath_pins::{PinDir, PinnedMaps, DEFAULT_BPFFS_DIR};

use crate::{
    counters::{ProxyCollector, ProxyCounters},
    mtls::{
        store::CertificateStore,
        tunnel::{Peer, Tunnels},
    },
};

/// How often the certificate directory is checked for rotated certificates.
const CERTIFICATES_CHECKED_EVERY: Duration = Duration::from_secs(1);

#[derive(Parser)]
#[command(
    name = "meshtwin-node-proxy",
    version,
    about = "Forwards connections that connect4 redirected to it to the original service's backend, \
             enforcing identity policy; carries them between nodes in mutual TLS",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// The mesh's certificate authority: `ca init`, `ca issue`.
    #[command(subcommand)]
    Ca(ca_command::CaCommand),
    /// Measure TLS's own CPU cost in memory (handshakes, records); prints JSON.
    MeasureTls {
        /// Full handshakes (both ends) to time.
        #[arg(long, default_value_t = 500)]
        handshakes: usize,
        /// MiB to seal and open in 16 KiB records.
        #[arg(long, default_value_t = 256)]
        megabytes: usize,
    },
}

#[derive(Args)]
struct RunArgs {
    /// bpffs directory of the agent's pins (the agent's `bpffs-dir`).
    #[arg(long, default_value = DEFAULT_BPFFS_DIR)]
    bpffs_dir: PathBuf,
    /// Loopback address:port for the proxy's metrics.
    #[arg(long, default_value = "127.0.0.1:9465")]
    metrics_address: SocketAddr,
    /// This node's identity certificates (`meshtwin-node-proxy ca issue --out DIR`); needed
    /// for tunnels. Reloaded when its files change.
    #[arg(long, value_name = "DIR")]
    certs: Option<PathBuf>,
    /// Accept mTLS tunnels from other nodes' proxies on this address:port.
    #[arg(long, value_name = "ADDRESS:PORT", requires = "certs")]
    tunnel_listen: Option<SocketAddr>,
    /// Backends in POD-CIDR are on the node whose proxy accepts tunnels at ADDRESS:PORT
    /// (repeatable), e.g. 10.78.0.0/24=10.100.0.2:15008.
    #[arg(
        long = "peer",
        value_name = "POD-CIDR=ADDRESS:PORT",
        requires = "certs"
    )]
    peers: Vec<Peer>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Ca(command)) => ca_command::run(command),
        Some(Command::MeasureTls {
            handshakes,
            megabytes,
        }) => mtls::record_cost::run(handshakes.max(1), megabytes.max(1)),
        None => run(cli.run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("meshtwin-node-proxy: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Where connect4 sends redirected connections: the agent wrote it from its config's
/// `[node-proxy]` table.
fn listen_address(maps: &PinnedMaps, dir: &std::path::Path) -> Result<SocketAddrV4> {
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
    Ok(SocketAddrV4::new(Ipv4Addr::from(proxy.addr), proxy.port))
}

fn run(cli: RunArgs) -> Result<()> {
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
    let store = match &cli.certs {
        Some(certs) => Some(Arc::new(CertificateStore::open(certs).with_context(
            || format!("cannot load the certificates in {}", certs.display()),
        )?)),
        None => None,
    };
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
        let maps = Arc::new(Mutex::new(maps));
        let tunnels = store.map(|store| {
            Arc::new(Tunnels {
                store,
                peers: cli.peers.clone(),
                maps: maps.clone(),
                counters: counters.clone(),
                source: *listen.ip(),
            })
        });
        let tunnel_listener = match cli.tunnel_listen {
            Some(address) => Some(
                tokio::net::TcpListener::bind(address)
                    .await
                    .with_context(|| format!("cannot listen for tunnels on {address}"))?,
            ),
            None => None,
        };
        println!("listening {}", listener.local_addr()?);
        if let Some(tunnel_listener) = &tunnel_listener {
            println!("tunnels on {}", tunnel_listener.local_addr()?);
        }
        if let Some(tunnels) = &tunnels {
            let identities: Vec<u32> = tunnels.store.current().identities().collect();
            println!("certificates for identities {identities:?}");
        }
        // Handlers before "metrics on", which tells a supervisor the proxy is up: a signal sent
        // on reading it must find them in place.
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut interrupt =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
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
        if let Some(tunnels) = &tunnels {
            tokio::spawn(reload_certificates(tunnels.store.clone()));
            if let Some(tunnel_listener) = tunnel_listener {
                tokio::spawn(tunnels.clone().serve_inbound(tunnel_listener));
            }
        }
        tokio::select! {
            served = forward::serve(listener, maps, counters, tunnels) => {
                served.context("accepting connections failed")
            }
            _ = terminate.recv() => Ok(()),
            _ = interrupt.recv() => Ok(()),
        }
    })
}

/// Picks up rotated certificates; a directory caught mid-change keeps the previous ones.
async fn reload_certificates(store: Arc<CertificateStore>) {
    loop {
        tokio::time::sleep(CERTIFICATES_CHECKED_EVERY).await;
        match store.reload_if_changed() {
            Ok(Some(identities)) => println!("certificates reloaded for identities {identities:?}"),
            Ok(None) => {}
            Err(error) => {
                eprintln!("meshtwin-node-proxy: keeping the previous certificates: {error:#}")
            }
        }
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
    }
}
