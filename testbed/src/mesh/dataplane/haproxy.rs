//! HAProxy (Debian's 2.6, HTTP mode), the L7 proxy of `sidecar`, `per-node` and the `uproxy`
//! waypoints: its configuration written from the plan and the process started in its
//! namespace. It starts as root to bind, then runs as the proxy user (`user`/`group`), whose
//! uid the sidecar's iptables rules exclude from interception. `nbthread` is the model's
//! `envoy.worker_threads`, so the real proxy has the workers the simulator gives it.

use std::{fmt::Write as _, net::SocketAddrV4};

use crate::netns::Netns;

use super::super::{
    processes::{Launch, ProcessKind, Ready},
    MeshError,
};
use super::Build;

/// A frontend: where it listens and, per backend, when it is used.
pub struct Frontend {
    pub name: String,
    pub bind: String,
    pub port: u16,
    /// (backend name, HAProxy condition or `None` for the default).
    pub routes: Vec<(String, Option<String>)>,
}

pub struct Backend {
    pub name: String,
    pub servers: Vec<SocketAddrV4>,
}

/// One HAProxy's configuration.
pub struct Config {
    pub threads: u32,
    pub user: String,
    pub frontends: Vec<Frontend>,
    pub backends: Vec<Backend>,
}

impl Config {
    pub fn render(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "# written by meshtwin-testbed\nglobal\n    nbthread {}\n    user {}\n    group {}\n    maxconn 4000\n    # Warnings and errors only (a server down, a proxy error): per-request logs would cost\n    # the CPU the testbed measures.\n    log stderr format raw local0 warning\n\ndefaults\n    mode http\n    log global\n    option dontlognull\n    option http-keep-alive\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\n    timeout http-keep-alive 60s\n",
            self.threads, self.user, self.user
        );
        for frontend in &self.frontends {
            let _ = writeln!(
                text,
                "frontend {}\n    bind {}:{}",
                frontend.name, frontend.bind, frontend.port
            );
            for (backend, condition) in &frontend.routes {
                match condition {
                    Some(condition) => {
                        let _ = writeln!(text, "    use_backend {backend} if {condition}");
                    }
                    None => {
                        let _ = writeln!(text, "    default_backend {backend}");
                    }
                }
            }
            text.push('\n');
        }
        for backend in &self.backends {
            let _ = writeln!(text, "backend {}\n    balance roundrobin", backend.name);
            for (i, server) in backend.servers.iter().enumerate() {
                let _ = writeln!(text, "    server s{i} {server}");
            }
            text.push('\n');
        }
        text
    }

    /// Every port it listens on.
    pub fn ports(&self) -> Vec<u16> {
        self.frontends.iter().map(|f| f.port).collect()
    }
}

/// What the HAProxy is, for [`start`].
pub struct Role {
    pub kind: ProcessKind,
    pub name: String,
    pub node: usize,
    pub pod: Option<usize>,
    pub service: Option<String>,
}

/// Writes the configuration and starts HAProxy in the foreground (`-db`) in `netns`.
pub fn start(
    build: &mut Build,
    role: Role,
    netns: &Netns,
    config: &Config,
) -> Result<(), MeshError> {
    let path = build.run_dir.join(format!("{}.cfg", role.name));
    std::fs::write(&path, config.render())
        .map_err(MeshError::io(format!("write {}", path.display())))?;
    build.processes.start(Launch {
        kind: role.kind,
        name: role.name,
        node: Some(role.node),
        pod: role.pod,
        service: role.service,
        program: build.options.haproxy.clone(),
        args: vec!["-db".into(), "-f".into(), path.into()],
        netns,
        ready: Ready::Listening(config.ports()),
    })?;
    Ok(())
}

/// The model's worker threads, as a thread count.
pub fn threads(build: &Build) -> u32 {
    (build.scenario.models.envoy.worker_threads.round() as u32).max(1)
}
