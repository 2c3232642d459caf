//! The processes a calibration measures, started alone in a pod's namespace and pinned: HAProxy
//! with the mesh's own configuration (`mesh::dataplane::haproxy::Config`, so what is measured
//! is what the sidecars run) and the mesh's workload server (`meshtwin-workload`).

use std::{
    net::{SocketAddr, SocketAddrV4},
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};

use crate::{
    affinity,
    bench::processes::Running,
    binaries,
    mesh::{
        dataplane::haproxy::{Backend, Config, Frontend},
        options::{DEFAULT_HAPROXY, DEFAULT_PROXY_USER},
        WorkloadSpec,
    },
    netns::Netns,
};

/// Fails with what to do when HAProxy is not installed.
pub fn require() -> Result<()> {
    if !Path::new(DEFAULT_HAPROXY).exists() {
        bail!("{DEFAULT_HAPROXY} not found: the testbed's L7 proxy is Debian's haproxy (apt-get install haproxy, or .ci/setup)");
    }
    Ok(())
}

/// A process with a file it was started with, both gone when dropped.
pub struct Started {
    process: Running,
    file: PathBuf,
}

impl Started {
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// Starts `command` (its `file` removed afterwards) and waits until `listen` accepts
/// connections in `ns`.
fn start(
    ns: &Netns,
    mut command: Command,
    file: PathBuf,
    listen: SocketAddr,
    cpus: &[usize],
) -> Result<Started> {
    affinity::pin_command(&mut command, cpus);
    let what = format!("{:?}", command.get_program());
    let mut started = Started {
        process: Running::spawn(command)?,
        file,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(ended) = started.process.ended() {
            bail!("{what} ended at start ({ended})");
        }
        let up = ns.run(|| {
            std::net::TcpStream::connect_timeout(&listen, Duration::from_millis(200)).is_ok()
        });
        if up {
            return Ok(started);
        }
        if Instant::now() > deadline {
            bail!("{what} does not accept connections on {listen} after 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// HAProxy in `ns`: HTTP on `port`, forwarding to `server`, with `threads` threads.
pub fn haproxy(
    ns: &Netns,
    port: u16,
    server: SocketAddrV4,
    threads: u32,
    cpus: &[usize],
) -> Result<Started> {
    require()?;
    let config = Config {
        threads,
        user: DEFAULT_PROXY_USER.to_string(),
        frontends: vec![Frontend {
            name: "inbound".into(),
            bind: "0.0.0.0".into(),
            port,
            routes: vec![("app".into(), None)],
        }],
        backends: vec![Backend {
            name: "app".into(),
            servers: vec![server],
        }],
    };
    let path = std::env::temp_dir().join(format!("meshtwin-calibrate-{}.cfg", std::process::id()));
    std::fs::write(&path, config.render())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let mut command = ns.command(DEFAULT_HAPROXY);
    command.arg("-db").arg("-f").arg(&path);
    start(
        ns,
        command,
        path,
        SocketAddr::from((*server.ip(), port)),
        cpus,
    )
}

/// The mesh's workload server in `ns`: no calls, no app time, answering `payload_bytes`.
pub fn workload(ns: &Netns, port: u16, payload_bytes: u64, cpus: &[usize]) -> Result<Started> {
    let spec = WorkloadSpec {
        service: "calibrate".into(),
        port,
        app_time_us: 0.0,
        call_mode: sim::traffic::CallMode::Sequential,
        calls: Vec::new(),
        payload_bytes,
        payload: sim::traffic::PayloadKind::Fixed,
        connection_reuse: true,
        connections_per_upstream: 1,
        seed: 1,
    };
    let path = std::env::temp_dir().join(format!("meshtwin-calibrate-{}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_string(&spec)?)?;
    let mut command = ns.command(binaries::WORKLOAD.path()?.to_str().context("utf-8 path")?);
    command.arg("--spec").arg(&path);
    start(
        ns,
        command,
        path,
        SocketAddr::from(([127, 0, 0, 1], port)),
        cpus,
    )
}
