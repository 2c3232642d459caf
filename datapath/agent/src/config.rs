//! The node configuration: TOML read into raw options (every field documented, unknown fields
//! rejected), then resolved into a validated [`NodeConfig`]. Every error names the file, line and
//! column of the offending value.
//!
//! ```toml
//! [agent]
//! bpffs-dir = "/sys/fs/bpf/meshtwin"   # pins live here (default shown)
//! metrics-address = "127.0.0.1:9464"   # loopback only
//! xdp-mode = "skb"                     # or "native"
//! tc-attach = "auto"                   # "tcx" (>= 6.6), "netlink", or "auto"
//!
//! [[identity]]
//! name = "frontend"
//! id = 100
//! addresses = ["10.77.0.2/32"]
//!
//! [[policy]]                           # makes "backend" default-deny for ingress
//! from = "frontend"
//! to = "backend"
//! protocol = "tcp"
//! ports = [8080]                       # omitted: every port
//!
//! [[service]]
//! name = "web"
//! vip = "10.96.0.10"
//! port = 80
//! protocol = "tcp"
//! backends = ["10.77.0.3:8080", "10.77.0.4:8080"]
//! proxy-port = 15080                   # optional: connect4 sends it to this port of the node
//!                                      # proxy, not [node-proxy] port (a listener per service)
//!
//! [[attach]]
//! interface = "eth0"
//! netns = "/run/netns/backend"         # optional: the agent's own namespace by default
//! program = "xdp-policy"               # or "tc-service-lb"
//!
//! # Socket level (docs/datapath.md): every [[workload]] gets the sock_ops program on its
//! # cgroup (cgroup v2), which is what lets the options below act on its sockets.
//! [node-proxy]                         # where redirected connections go
//! address = "10.77.0.1"
//! port = 15001
//! cgroup = "/sys/fs/cgroup/mesh/node-proxy"  # optional; never redirected; needed for sockmap
//! sockmap = true                       # optional: bypass between workloads and the proxy
//!
//! [[workload]]
//! name = "frontend"
//! cgroup = "/sys/fs/cgroup/mesh/frontend"    # cgroup v2 directory of the workload's processes
//! addresses = ["10.77.0.2"]            # the workload's IPv4 addresses on this node
//! sockmap = true                       # sockmap bypass to local workloads that have it too
//! redirect = true                      # connect() to a [[service]] VIP goes to the node proxy
//! http = ["web"]                       # count HTTP/1.1 of these services on its endpoints
//! ```

use std::{
    collections::{BTreeMap, BTreeSet},
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4},
    ops::Range,
    path::{Path, PathBuf},
};

use meshtwin_datapath_common::{
    maps::{
        MAX_BACKENDS, MAX_IDENTITIES, MAX_IDENTITY_PREFIXES, MAX_LOCAL_ENDPOINTS, MAX_POLICY_RULES,
        MAX_SERVICES,
    },
    packet::{IPPROTO_TCP, IPPROTO_UDP},
    policy::PolicyKey,
    service::{Backend, ServiceKey},
};
use serde::Deserialize;
use toml::Spanned;

pub use meshtwin_datapath_pins::DEFAULT_BPFFS_DIR;
/// Where metrics are served when neither the config nor the command line says.
pub const DEFAULT_METRICS_ADDRESS: &str = "127.0.0.1:9464";

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a value is wrong; `line` and `column` start at 1.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

// ---------------------------------------------------------------------------------------------
// Raw options, as written.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    /// Agent settings.
    #[serde(default)]
    agent: RawAgent,
    /// Workload identities.
    #[serde(default)]
    identity: Vec<RawIdentity>,
    /// Allow rules; any identity named in `to` becomes default-deny.
    #[serde(default)]
    policy: Vec<RawPolicy>,
    /// Load-balanced services.
    #[serde(default)]
    service: Vec<RawService>,
    /// Where to attach which program.
    #[serde(default)]
    attach: Vec<RawAttach>,
    /// The node proxy that connect4 redirects to.
    node_proxy: Option<RawNodeProxy>,
    /// Workloads (cgroups) with socket-level programs.
    #[serde(default)]
    workload: Vec<RawWorkload>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawNodeProxy {
    /// IPv4 address the proxy listens on.
    address: Spanned<String>,
    /// Port the proxy listens on.
    port: Spanned<i64>,
    /// The proxy's cgroup v2 directory (needed for `sockmap`).
    cgroup: Option<Spanned<String>>,
    /// Take part in the sockmap bypass (sock_ops on the proxy's cgroup).
    #[serde(default)]
    sockmap: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawWorkload {
    /// Unique name, used in pins and logs.
    name: Spanned<String>,
    /// cgroup v2 directory whose processes are the workload.
    cgroup: Spanned<String>,
    /// The workload's IPv4 addresses on this node.
    #[serde(default)]
    addresses: Vec<Spanned<String>>,
    /// sockmap bypass to other local workloads that have it too.
    #[serde(default)]
    sockmap: bool,
    /// Connections to service VIPs go to the node proxy.
    #[serde(default)]
    redirect: Option<Spanned<bool>>,
    /// Services whose HTTP/1.1 on this workload's endpoints is counted.
    #[serde(default)]
    http: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawAgent {
    /// Directory on a bpffs for the agent's pins.
    bpffs_dir: Option<Spanned<String>>,
    /// Loopback address:port for the Prometheus endpoint.
    metrics_address: Option<Spanned<String>>,
    /// "skb" (generic, every driver) or "native" (driver mode).
    xdp_mode: Option<Spanned<String>>,
    /// "auto", "tcx" or "netlink".
    tc_attach: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawIdentity {
    /// Unique name, used by policies and metrics.
    name: Spanned<String>,
    /// Unique number 1..=2^32-1, stable across reloads (counters are keyed by it).
    id: Spanned<i64>,
    /// CIDRs or single addresses, IPv4 or IPv6.
    #[serde(default)]
    addresses: Vec<Spanned<String>>,
    /// Deny all ingress not allowed by a policy even if no policy names this identity.
    #[serde(default)]
    default_deny: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPolicy {
    from: Spanned<String>,
    to: Spanned<String>,
    protocol: Spanned<String>,
    #[serde(default)]
    ports: Vec<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawService {
    name: Spanned<String>,
    vip: Spanned<String>,
    port: Spanned<i64>,
    protocol: Spanned<String>,
    #[serde(default)]
    backends: Vec<Spanned<String>>,
    /// The node proxy's port for this service: connect4 sends it there instead of
    /// `[node-proxy] port` (for a proxy with a listener per service).
    proxy_port: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawAttach {
    interface: Spanned<String>,
    netns: Option<Spanned<String>>,
    program: Spanned<String>,
}

// ---------------------------------------------------------------------------------------------
// Validated settings.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XdpModeSetting {
    Skb,
    Native,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcAttachSetting {
    Auto,
    Tcx,
    Netlink,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProgramKind {
    XdpPolicy,
    TcServiceLb,
    SockopsMesh,
    SkMsgMesh,
    SkMsgHttp,
    Connect4Proxy,
    Getpeername4,
}

impl ProgramKind {
    /// The kernel function's name.
    pub fn program_name(self) -> &'static str {
        use meshtwin_datapath_common::maps as names;
        match self {
            ProgramKind::XdpPolicy => names::PROGRAM_XDP_POLICY,
            ProgramKind::TcServiceLb => names::PROGRAM_TC_SERVICE_LB,
            ProgramKind::SockopsMesh => names::PROGRAM_SOCKOPS_MESH,
            ProgramKind::SkMsgMesh => names::PROGRAM_SK_MSG_MESH,
            ProgramKind::SkMsgHttp => names::PROGRAM_SK_MSG_HTTP,
            ProgramKind::Connect4Proxy => names::PROGRAM_CONNECT4_PROXY,
            ProgramKind::Getpeername4 => names::PROGRAM_GETPEERNAME4,
        }
    }
}

/// The node proxy: where connect4 sends redirected connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeProxy {
    pub address: Ipv4Addr,
    pub port: u16,
    /// Its cgroup v2 directory, if given (required for `sockmap`).
    pub cgroup: Option<PathBuf>,
    pub sockmap: bool,
}

/// A workload: a cgroup whose sockets the socket-level programs act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    pub name: String,
    pub cgroup: PathBuf,
    pub addresses: Vec<Ipv4Addr>,
    pub sockmap: bool,
    pub redirect: bool,
    /// Monitored endpoints: (service name, the workload's address and port as a backend of it).
    pub http: Vec<(String, SocketAddrV4)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub id: u32,
    pub v4: Vec<(Ipv4Addr, u8)>,
    pub v6: Vec<(Ipv6Addr, u8)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub key: ServiceKey,
    /// In config order: backend `i` is slot `i`.
    pub backends: Vec<Backend>,
    /// Where connect4 sends it on the node proxy's address, if not `[node-proxy] port`.
    pub proxy_port: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Attachment {
    pub interface: String,
    pub netns: Option<PathBuf>,
    pub program: ProgramKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    pub bpffs_dir: PathBuf,
    pub metrics_address: SocketAddr,
    pub xdp_mode: XdpModeSetting,
    pub tc_attach: TcAttachSetting,
    pub identities: Vec<Identity>,
    /// Identities whose ingress is default-deny.
    pub policed: BTreeSet<u32>,
    pub rules: Vec<PolicyKey>,
    pub services: Vec<Service>,
    pub attachments: Vec<Attachment>,
    pub node_proxy: Option<NodeProxy>,
    pub workloads: Vec<Workload>,
}

impl NodeConfig {
    pub fn identity_names(&self) -> BTreeMap<u32, String> {
        self.identities
            .iter()
            .map(|identity| (identity.id, identity.name.clone()))
            .collect()
    }
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text)
}

/// Validates config text; `path` only names the file in errors.
pub fn parse(path: &Path, text: &str) -> Result<NodeConfig, ConfigError> {
    let locate = Locator { path, text };
    let raw: RawConfig = toml::from_str(text).map_err(|error| {
        let span = error.span().unwrap_or(0..0);
        locate.error(span, error.message().trim_end().to_string())
    })?;
    Resolver { locate: &locate }.resolve(raw)
}

struct Locator<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Locator<'_> {
    fn error(&self, span: Range<usize>, message: String) -> ConfigError {
        let offset = span.start.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ConfigError::Invalid {
            path: self.path.to_owned(),
            line,
            column,
            message,
        }
    }

    fn at<T>(&self, value: &Spanned<T>, message: impl Into<String>) -> ConfigError {
        self.error(value.span(), message.into())
    }
}

struct Resolver<'a> {
    locate: &'a Locator<'a>,
}

impl Resolver<'_> {
    fn resolve(&self, raw: RawConfig) -> Result<NodeConfig, ConfigError> {
        let l = self.locate;
        let agent = &raw.agent;
        let bpffs_dir = match &agent.bpffs_dir {
            Some(dir) if !Path::new(dir.get_ref()).is_absolute() => {
                return Err(l.at(
                    dir,
                    "bpffs-dir must be an absolute path on a bpf filesystem",
                ))
            }
            Some(dir) => PathBuf::from(dir.get_ref()),
            None => PathBuf::from(DEFAULT_BPFFS_DIR),
        };
        let metrics_address = match &agent.metrics_address {
            Some(address) => {
                parse_metrics_address(address.get_ref()).map_err(|m| l.at(address, m))?
            }
            None => DEFAULT_METRICS_ADDRESS.parse().expect("constant address"),
        };
        let xdp_mode = match agent.xdp_mode.as_ref().map(|m| (m, m.get_ref().as_str())) {
            None | Some((_, "skb")) => XdpModeSetting::Skb,
            Some((_, "native")) => XdpModeSetting::Native,
            Some((m, other)) => {
                return Err(l.at(
                    m,
                    format!("unknown xdp-mode {other:?}: expected \"skb\" or \"native\""),
                ))
            }
        };
        let tc_attach = match agent.tc_attach.as_ref().map(|m| (m, m.get_ref().as_str())) {
            None | Some((_, "auto")) => TcAttachSetting::Auto,
            Some((_, "tcx")) => TcAttachSetting::Tcx,
            Some((_, "netlink")) => TcAttachSetting::Netlink,
            Some((m, other)) => {
                return Err(l.at(
                    m,
                    format!(
                        "unknown tc-attach {other:?}: expected \"auto\", \"tcx\" or \"netlink\""
                    ),
                ))
            }
        };

        let identities = self.identities(&raw.identity)?;
        let by_name: BTreeMap<&str, u32> =
            identities.iter().map(|i| (i.name.as_str(), i.id)).collect();
        let mut policed: BTreeSet<u32> = raw
            .identity
            .iter()
            .filter(|i| i.default_deny)
            .map(|i| *i.id.get_ref() as u32)
            .collect();
        let mut rules = Vec::new();
        for policy in &raw.policy {
            let lookup = |name: &Spanned<String>| {
                by_name
                    .get(name.get_ref().as_str())
                    .copied()
                    .ok_or_else(|| {
                        l.at(
                            name,
                            format!(
                                "unknown identity {:?}: define it in an [[identity]] table",
                                name.get_ref()
                            ),
                        )
                    })
            };
            let from = lookup(&policy.from)?;
            let to = lookup(&policy.to)?;
            let protocol =
                parse_protocol(&policy.protocol).map_err(|m| l.at(&policy.protocol, m))?;
            policed.insert(to);
            if policy.ports.is_empty() {
                rules.push(PolicyKey::new(from, to, protocol, PolicyKey::ANY_PORT));
            }
            for port in &policy.ports {
                let port = parse_port(*port.get_ref()).map_err(|m| l.at(port, m))?;
                rules.push(PolicyKey::new(from, to, protocol, port));
            }
        }
        rules.sort_by_key(|k| (k.src_identity, k.dst_identity, k.protocol, k.port));
        rules.dedup();
        if rules.len() > MAX_POLICY_RULES as usize {
            return Err(l.error(
                0..0,
                format!(
                    "{} policy rules exceed the map size {MAX_POLICY_RULES}",
                    rules.len()
                ),
            ));
        }

        let services = self.services(&raw.service)?;
        let attachments = self.attachments(&raw.attach)?;
        let node_proxy = raw
            .node_proxy
            .as_ref()
            .map(|proxy| self.node_proxy(proxy))
            .transpose()?;
        let workloads = self.workloads(&raw, node_proxy.as_ref(), &services)?;
        Ok(NodeConfig {
            bpffs_dir,
            metrics_address,
            xdp_mode,
            tc_attach,
            identities,
            policed,
            rules,
            services,
            attachments,
            node_proxy,
            workloads,
        })
    }

    fn node_proxy(&self, raw: &RawNodeProxy) -> Result<NodeProxy, ConfigError> {
        let l = self.locate;
        let address = raw.address.get_ref().parse::<Ipv4Addr>().map_err(|_| {
            l.at(
                &raw.address,
                format!("{:?} is not an IPv4 address", raw.address.get_ref()),
            )
        })?;
        let port = parse_port(*raw.port.get_ref()).map_err(|m| l.at(&raw.port, m))?;
        let cgroup = raw
            .cgroup
            .as_ref()
            .map(|cgroup| parse_cgroup(cgroup).map_err(|m| l.at(cgroup, m)))
            .transpose()?;
        let sockmap = raw.sockmap.as_ref().is_some_and(|s| *s.get_ref());
        if let (Some(flag), None) = (&raw.sockmap, &cgroup) {
            if *flag.get_ref() {
                return Err(l.at(
                    flag,
                    "sockmap on the node proxy needs its cgroup: add cgroup = \"/sys/fs/cgroup/...\"",
                ));
            }
        }
        Ok(NodeProxy {
            address,
            port,
            cgroup,
            sockmap,
        })
    }

    fn workloads(
        &self,
        raw: &RawConfig,
        proxy: Option<&NodeProxy>,
        services: &[Service],
    ) -> Result<Vec<Workload>, ConfigError> {
        let l = self.locate;
        let mut names = BTreeSet::new();
        let mut cgroups: BTreeMap<PathBuf, String> = BTreeMap::new();
        let mut addresses: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
        if let Some(proxy) = proxy {
            addresses.insert(proxy.address, "the node proxy".to_string());
        }
        let mut workloads = Vec::new();
        for workload in &raw.workload {
            let name = workload.name.get_ref();
            if name.is_empty() || name.contains(['/', '@']) {
                return Err(l.at(
                    &workload.name,
                    format!("workload name {name:?} must be non-empty, without '/' or '@'"),
                ));
            }
            if !names.insert(name.clone()) {
                return Err(l.at(
                    &workload.name,
                    format!("workload {name:?} is defined twice"),
                ));
            }
            let cgroup = parse_cgroup(&workload.cgroup).map_err(|m| l.at(&workload.cgroup, m))?;
            if let Some(other) = cgroups.insert(cgroup.clone(), name.clone()) {
                return Err(l.at(
                    &workload.cgroup,
                    format!(
                        "cgroup {} is already workload {other:?}'s",
                        cgroup.display()
                    ),
                ));
            }
            let mut own = Vec::new();
            for address in &workload.addresses {
                let ip: Ipv4Addr = address.get_ref().parse().map_err(|_| {
                    l.at(
                        address,
                        format!(
                            "{:?} is not an IPv4 address (one address, no prefix)",
                            address.get_ref()
                        ),
                    )
                })?;
                if let Some(other) = addresses.insert(ip, format!("workload {name:?}")) {
                    return Err(l.at(address, format!("{ip} already belongs to {other}")));
                }
                own.push(ip);
            }
            let redirect = workload.redirect.as_ref().is_some_and(|r| *r.get_ref());
            if let (Some(flag), None) = (&workload.redirect, proxy) {
                if *flag.get_ref() {
                    return Err(l.at(
                        flag,
                        "redirect needs a node proxy: add a [node-proxy] table with its address and port",
                    ));
                }
            }
            let mut http = Vec::new();
            for service_name in &workload.http {
                let Some(service) = services.iter().find(|s| &s.name == service_name.get_ref())
                else {
                    return Err(l.at(
                        service_name,
                        format!(
                            "unknown service {:?}: define it in a [[service]] table",
                            service_name.get_ref()
                        ),
                    ));
                };
                if service.key.protocol != IPPROTO_TCP {
                    return Err(l.at(
                        service_name,
                        format!("service {:?} is not TCP: HTTP needs TCP", service.name),
                    ));
                }
                let endpoints: Vec<SocketAddrV4> = service
                    .backends
                    .iter()
                    .map(|b| SocketAddrV4::new(Ipv4Addr::from(b.addr), b.port))
                    .filter(|b| own.contains(b.ip()))
                    .collect();
                if endpoints.is_empty() {
                    return Err(l.at(
                        service_name,
                        format!(
                            "service {:?} has no backend at an address of workload {name:?}; list one of its addresses among the service's backends",
                            service.name
                        ),
                    ));
                }
                for endpoint in endpoints {
                    http.push((service.name.clone(), endpoint));
                }
            }
            workloads.push(Workload {
                name: name.clone(),
                cgroup,
                addresses: own,
                sockmap: workload.sockmap,
                redirect,
                http,
            });
        }
        // The proxy's own connections must never be redirected back to it.
        if let (Some(proxy), Some(raw_proxy)) = (proxy, &raw.node_proxy) {
            if let (Some(proxy_cgroup), Some(span)) = (&proxy.cgroup, &raw_proxy.cgroup) {
                for workload in workloads.iter().filter(|w| w.redirect) {
                    if proxy_cgroup.starts_with(&workload.cgroup) {
                        return Err(l.at(
                            span,
                            format!(
                                "the node proxy's cgroup is inside workload {:?}'s, whose connections are redirected: the proxy would connect to itself; give it a cgroup of its own",
                                workload.name
                            ),
                        ));
                    }
                }
                if let Some(other) = cgroups.get(proxy_cgroup) {
                    return Err(l.at(
                        span,
                        format!(
                            "cgroup {} is already workload {other:?}'s",
                            proxy_cgroup.display()
                        ),
                    ));
                }
            }
        }
        if addresses.len() > MAX_LOCAL_ENDPOINTS as usize {
            return Err(l.error(
                0..0,
                format!("more than {MAX_LOCAL_ENDPOINTS} workload addresses"),
            ));
        }
        Ok(workloads)
    }

    fn identities(&self, raw: &[RawIdentity]) -> Result<Vec<Identity>, ConfigError> {
        let l = self.locate;
        let mut names = BTreeSet::new();
        let mut ids = BTreeSet::new();
        let mut prefixes: BTreeMap<(IpAddr, u8), String> = BTreeMap::new();
        let mut identities = Vec::new();
        if raw.len() > MAX_IDENTITIES as usize {
            return Err(l.at(
                &raw[MAX_IDENTITIES as usize].name,
                format!("more than {MAX_IDENTITIES} identities"),
            ));
        }
        for identity in raw {
            let name = identity.name.get_ref();
            if name.is_empty() {
                return Err(l.at(&identity.name, "identity name is empty"));
            }
            if !names.insert(name.clone()) {
                return Err(l.at(
                    &identity.name,
                    format!("identity {name:?} is defined twice"),
                ));
            }
            let id = *identity.id.get_ref();
            if id == 0 {
                return Err(l.at(
                    &identity.id,
                    "identity id 0 is reserved for addresses no identity covers; use 1 or more",
                ));
            }
            let id = u32::try_from(id).map_err(|_| {
                l.at(
                    &identity.id,
                    format!("identity id {id} is out of range 1..=4294967295"),
                )
            })?;
            if !ids.insert(id) {
                return Err(l.at(&identity.id, format!("identity id {id} is used twice")));
            }
            let mut v4 = Vec::new();
            let mut v6 = Vec::new();
            for address in &identity.addresses {
                let (ip, len) = parse_cidr(address.get_ref()).map_err(|m| l.at(address, m))?;
                if let Some(other) = prefixes.insert((ip, len), name.clone()) {
                    return Err(l.at(
                        address,
                        format!("{}/{len} already belongs to identity {other:?}", ip),
                    ));
                }
                match ip {
                    IpAddr::V4(ip) => v4.push((ip, len)),
                    IpAddr::V6(ip) => v6.push((ip, len)),
                }
            }
            identities.push(Identity {
                name: name.clone(),
                id,
                v4,
                v6,
            });
        }
        if prefixes.len() > MAX_IDENTITY_PREFIXES as usize {
            return Err(l.error(
                0..0,
                format!(
                    "{} identity prefixes exceed the map size {MAX_IDENTITY_PREFIXES}",
                    prefixes.len()
                ),
            ));
        }
        Ok(identities)
    }

    fn services(&self, raw: &[RawService]) -> Result<Vec<Service>, ConfigError> {
        let l = self.locate;
        let mut names = BTreeSet::new();
        let mut keys = BTreeSet::new();
        let mut services = Vec::new();
        let mut backend_total = 0usize;
        for service in raw {
            let name = service.name.get_ref();
            if !names.insert(name.clone()) {
                return Err(l.at(&service.name, format!("service {name:?} is defined twice")));
            }
            let vip: Ipv4Addr = match service.vip.get_ref().parse::<IpAddr>() {
                Ok(IpAddr::V4(vip)) => vip,
                Ok(IpAddr::V6(_)) => {
                    return Err(l.at(
                        &service.vip,
                        "IPv6 service VIPs are not supported yet; use an IPv4 address",
                    ))
                }
                Err(_) => {
                    return Err(l.at(
                        &service.vip,
                        format!("{:?} is not an IPv4 address", service.vip.get_ref()),
                    ))
                }
            };
            let port = parse_port(*service.port.get_ref()).map_err(|m| l.at(&service.port, m))?;
            let protocol =
                parse_protocol(&service.protocol).map_err(|m| l.at(&service.protocol, m))?;
            let key = ServiceKey::new(vip.octets(), port, protocol);
            if !keys.insert(key) {
                return Err(l.at(
                    &service.vip,
                    format!(
                        "another service already uses {vip}:{port}/{}",
                        service.protocol.get_ref()
                    ),
                ));
            }
            let mut backends = Vec::new();
            for backend in &service.backends {
                let address: SocketAddrV4 = backend.get_ref().parse().map_err(|_| {
                    l.at(
                        backend,
                        format!("{:?} is not an IPv4 address:port", backend.get_ref()),
                    )
                })?;
                if address.port() == 0 {
                    return Err(l.at(backend, "backend port 0 is not a port"));
                }
                let backend_value = Backend {
                    addr: address.ip().octets(),
                    port: address.port(),
                    pad: 0,
                };
                if backends.contains(&backend_value) {
                    return Err(l.at(backend, format!("backend {address} is listed twice")));
                }
                backends.push(backend_value);
            }
            backend_total += backends.len();
            let proxy_port = match &service.proxy_port {
                Some(port) => Some(parse_port(*port.get_ref()).map_err(|m| l.at(port, m))?),
                None => None,
            };
            services.push(Service {
                name: name.clone(),
                key,
                backends,
                proxy_port,
            });
        }
        if services.len() > MAX_SERVICES as usize {
            return Err(l.at(
                &raw[MAX_SERVICES as usize].name,
                format!("more than {MAX_SERVICES} services"),
            ));
        }
        if backend_total > MAX_BACKENDS as usize {
            return Err(l.error(
                0..0,
                format!("{backend_total} backends exceed the map size {MAX_BACKENDS}"),
            ));
        }
        Ok(services)
    }

    fn attachments(&self, raw: &[RawAttach]) -> Result<Vec<Attachment>, ConfigError> {
        let l = self.locate;
        let mut seen = BTreeSet::new();
        let mut attachments = Vec::new();
        for attach in raw {
            let interface = attach.interface.get_ref();
            if interface.is_empty() || interface.len() > 15 || interface.contains(['/', ' ', ':']) {
                return Err(l.at(&attach.interface, format!("{interface:?} is not a Linux interface name (1-15 bytes, no '/', ':' or spaces)")));
            }
            let program = match attach.program.get_ref().as_str() {
                "xdp-policy" => ProgramKind::XdpPolicy,
                "tc-service-lb" => ProgramKind::TcServiceLb,
                other => {
                    return Err(l.at(
                        &attach.program,
                        format!(
                        "unknown program {other:?}: expected \"xdp-policy\" or \"tc-service-lb\""
                    ),
                    ))
                }
            };
            let netns = match &attach.netns {
                Some(path) if !Path::new(path.get_ref()).is_absolute() => {
                    return Err(l.at(
                        path,
                        "netns must be an absolute path to a network namespace file",
                    ))
                }
                Some(path) => Some(PathBuf::from(path.get_ref())),
                None => None,
            };
            let attachment = Attachment {
                interface: interface.clone(),
                netns,
                program,
            };
            if !seen.insert(attachment.clone()) {
                return Err(l.at(
                    &attach.interface,
                    format!(
                        "{} is attached to {interface} twice",
                        attach.program.get_ref()
                    ),
                ));
            }
            attachments.push(attachment);
        }
        Ok(attachments)
    }
}

/// A cgroup v2 directory: absolute, and normalised so that prefixes compare.
fn parse_cgroup(cgroup: &Spanned<String>) -> Result<PathBuf, String> {
    let path = Path::new(cgroup.get_ref());
    if !path.is_absolute() {
        return Err(format!(
            "cgroup {:?} must be an absolute path to a cgroup v2 directory",
            cgroup.get_ref()
        ));
    }
    Ok(path.components().collect())
}

fn parse_metrics_address(text: &str) -> Result<SocketAddr, String> {
    let address: SocketAddr = text
        .parse()
        .map_err(|_| format!("{text:?} is not an address:port such as \"127.0.0.1:9464\""))?;
    if !address.ip().is_loopback() {
        return Err(format!(
            "metrics are served on loopback only; {} is not a loopback address",
            address.ip()
        ));
    }
    Ok(address)
}

fn parse_protocol(protocol: &Spanned<String>) -> Result<u8, String> {
    match protocol.get_ref().as_str() {
        "tcp" => Ok(IPPROTO_TCP),
        "udp" => Ok(IPPROTO_UDP),
        other => Err(format!(
            "unknown protocol {other:?}: expected \"tcp\" or \"udp\""
        )),
    }
}

fn parse_port(port: i64) -> Result<u16, String> {
    match u16::try_from(port) {
        Ok(0) | Err(_) => Err(format!("port {port} is out of range 1..=65535")),
        Ok(port) => Ok(port),
    }
}

/// "10.0.0.0/24", "10.0.0.7" (a /32), "fd00::/64", "fd00::1" (a /128).
fn parse_cidr(text: &str) -> Result<(IpAddr, u8), String> {
    let (address, length) = match text.split_once('/') {
        Some((address, length)) => (address, Some(length)),
        None => (text, None),
    };
    let ip: IpAddr = address
        .parse()
        .map_err(|_| format!("{text:?} is not an IP address or CIDR"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let length = match length {
        None => max,
        Some(length) => length
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("prefix length in {text:?} must be 0..={max}"))?,
    };
    let masked = mask(ip, length);
    if masked != ip {
        return Err(format!(
            "{text:?} has host bits set; write {masked}/{length}"
        ));
    }
    Ok((ip, length))
}

fn mask(ip: IpAddr, length: u8) -> IpAddr {
    match ip {
        IpAddr::V4(ip) => {
            let bits = u32::from(ip);
            let mask = if length == 0 {
                0
            } else {
                u32::MAX << (32 - length)
            };
            IpAddr::V4(Ipv4Addr::from(bits & mask))
        }
        IpAddr::V6(ip) => {
            let bits = u128::from(ip);
            let mask = if length == 0 {
                0
            } else {
                u128::MAX << (128 - length)
            };
            IpAddr::V6(Ipv6Addr::from(bits & mask))
        }
    }
}

#[cfg(test)]
mod tests;
