//! HAProxy in HTTP mode, the testbed's L7 proxy (Envoy is not packaged in Debian): a config
//! file and a foreground process, removed and stopped when dropped.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};

use crate::{affinity, bench::processes::Running, netns::Netns};

pub const HAPROXY: &str = "/usr/sbin/haproxy";

/// Fails with what to do when HAProxy is not installed.
pub fn require() -> Result<()> {
    if !Path::new(HAPROXY).exists() {
        bail!("{HAPROXY} not found: the testbed's L7 proxy is Debian's haproxy (apt-get install haproxy, or .ci/setup)");
    }
    Ok(())
}

/// A running HAProxy: one frontend forwarding to one server, HTTP mode, keep-alive on both
/// sides (`http-reuse always`: connections to the server are pooled, as Envoy pools them).
pub struct Haproxy {
    process: Running,
    config: PathBuf,
}

impl Haproxy {
    /// Starts HAProxy in `ns` on `cpus` with `threads` threads, listening on `listen` and
    /// forwarding to `server`; returns once `listen` accepts connections.
    pub fn start(
        ns: &Netns,
        name: &str,
        listen: SocketAddr,
        server: SocketAddr,
        threads: usize,
        cpus: &[usize],
    ) -> Result<Self> {
        require()?;
        let config = std::env::temp_dir().join(format!(
            "meshtwin-haproxy-{}-{name}.cfg",
            std::process::id()
        ));
        std::fs::write(&config, config_text(listen, server, threads))
            .with_context(|| format!("cannot write {}", config.display()))?;
        let mut command = ns.command(HAPROXY);
        command.arg("-f").arg(&config).arg("-db");
        affinity::pin_command(&mut command, cpus);
        let mut haproxy = Self {
            process: Running::spawn(command)?,
            config,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(ended) = haproxy.process.ended() {
                bail!("haproxy ended at start ({ended})");
            }
            if ns.run(|| {
                std::net::TcpStream::connect_timeout(&listen, Duration::from_millis(200)).is_ok()
            }) {
                return Ok(haproxy);
            }
            if Instant::now() > deadline {
                bail!("haproxy does not accept connections on {listen} after 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.config);
    }
}

pub fn config_text(listen: SocketAddr, server: SocketAddr, threads: usize) -> String {
    format!(
        "# written by meshtwin-testbed: one HTTP frontend, one server
global
    nbthread {threads}
    maxconn 20000

defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s

frontend inbound
    bind {listen}
    default_backend app

backend app
    server app {server}
"
    )
}
