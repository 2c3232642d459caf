//! The project's agent (`meshtwin-agent run`) in a node's namespace or the router's: its
//! node config written from the plan, its pins under `/sys/fs/bpf/<prefix>-<name>`.

use std::{
    fmt::Write as _,
    net::{Ipv4Addr, SocketAddrV4},
    path::PathBuf,
};

use crate::{binaries, netns::Netns};

use super::super::{
    cleanup::BPFFS_ROOT,
    processes::{Launch, ProcessKind, Ready},
    MeshError,
};
use super::Build;

/// Where every agent serves its metrics, on its own namespace's loopback.
pub const METRICS_PORT: u16 = 9464;

/// A node config being written, section by section.
#[derive(Default)]
pub struct NodeConfig {
    text: String,
}

/// A name the agent accepts for a service or identity: the scenario's own when it is plain,
/// else `s<index>`.
pub fn agent_name(name: &str, index: usize) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if plain {
        name.to_owned()
    } else {
        format!("s{index}")
    }
}

impl NodeConfig {
    pub fn new(bpffs_dir: &std::path::Path) -> Self {
        let mut config = Self::default();
        let _ = writeln!(
            config.text,
            "[agent]\nbpffs-dir = \"{}\"\n",
            bpffs_dir.display()
        );
        config
    }

    pub fn service(&mut self, name: &str, vip: SocketAddrV4, backends: &[SocketAddrV4]) {
        self.service_with_proxy_port(name, vip, backends, None);
    }

    /// A service that connect4 sends to `proxy_port` of the node proxy's address.
    pub fn service_with_proxy_port(
        &mut self,
        name: &str,
        vip: SocketAddrV4,
        backends: &[SocketAddrV4],
        proxy_port: Option<u16>,
    ) {
        let backends: Vec<String> = backends.iter().map(|b| format!("\"{b}\"")).collect();
        let _ = writeln!(
            self.text,
            "[[service]]\nname = \"{name}\"\nvip = \"{}\"\nport = {}\nprotocol = \"tcp\"\nbackends = [{}]",
            vip.ip(),
            vip.port(),
            backends.join(", ")
        );
        if let Some(port) = proxy_port {
            let _ = writeln!(self.text, "proxy-port = {port}");
        }
        self.text.push('\n');
    }

    pub fn attach(&mut self, interface: &str, netns: Option<&std::path::Path>, program: &str) {
        let _ = writeln!(self.text, "[[attach]]\ninterface = \"{interface}\"");
        if let Some(netns) = netns {
            let _ = writeln!(self.text, "netns = \"{}\"", netns.display());
        }
        let _ = writeln!(self.text, "program = \"{program}\"\n");
    }

    pub fn identity(&mut self, name: &str, id: u32, addresses: &[Ipv4Addr]) {
        let addresses: Vec<String> = addresses.iter().map(|a| format!("\"{a}/32\"")).collect();
        let _ = writeln!(
            self.text,
            "[[identity]]\nname = \"{name}\"\nid = {id}\naddresses = [{}]\n",
            addresses.join(", ")
        );
    }

    pub fn policy(&mut self, from: &str, to: &str, port: u16) {
        let _ = writeln!(
            self.text,
            "[[policy]]\nfrom = \"{from}\"\nto = \"{to}\"\nprotocol = \"tcp\"\nports = [{port}]\n"
        );
    }

    pub fn node_proxy(&mut self, address: SocketAddrV4) {
        let _ = writeln!(
            self.text,
            "[node-proxy]\naddress = \"{}\"\nport = {}\n",
            address.ip(),
            address.port()
        );
    }

    pub fn workload(
        &mut self,
        name: &str,
        cgroup: &std::path::Path,
        address: Ipv4Addr,
        sockmap: bool,
        redirect: bool,
        http: &[String],
    ) {
        let http: Vec<String> = http.iter().map(|h| format!("\"{h}\"")).collect();
        let _ = writeln!(
            self.text,
            "[[workload]]\nname = \"{name}\"\ncgroup = \"{}\"\naddresses = [\"{address}\"]\nsockmap = {sockmap}\nredirect = {redirect}\nhttp = [{}]\n",
            cgroup.display(),
            http.join(", ")
        );
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// The pin directory of agent `name` (`n<i>` or `router`) of run `prefix`.
pub fn bpffs_dir(prefix: &str, name: &str) -> PathBuf {
    PathBuf::from(BPFFS_ROOT).join(format!("{prefix}-{name}"))
}

/// Writes `config` and starts `meshtwin-agent run` with it in `netns`; ready once it serves
/// its metrics (after its `up`: everything is attached).
pub fn start(
    build: &mut Build,
    name: &str,
    node: Option<usize>,
    netns: &Netns,
    config: &NodeConfig,
) -> Result<(), MeshError> {
    let path = build.run_dir.join(format!("{name}-agent.toml"));
    std::fs::write(&path, config.text())
        .map_err(MeshError::io(format!("write {}", path.display())))?;
    let agent = binaries::AGENT.path()?;
    build.processes.start(Launch {
        kind: ProcessKind::Agent,
        name: format!("{name}-agent"),
        node,
        pod: None,
        service: None,
        program: agent,
        args: vec![
            "run".into(),
            "--config".into(),
            path.into(),
            "--metrics-address".into(),
            format!("127.0.0.1:{METRICS_PORT}").into(),
        ],
        netns,
        ready: Ready::Listening(vec![METRICS_PORT]),
    })?;
    Ok(())
}
