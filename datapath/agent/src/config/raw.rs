//! The node config as written: every key with its span, unknown keys rejected (by serde,
//! located). Meaning is given in `resolve`.

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawConfig {
    /// Agent settings.
    #[serde(default)]
    pub(super) agent: RawAgent,
    /// Workload identities.
    #[serde(default)]
    pub(super) identity: Vec<RawIdentity>,
    /// Allow rules; any identity named in `to` becomes default-deny.
    #[serde(default)]
    pub(super) policy: Vec<RawPolicy>,
    /// Load-balanced services.
    #[serde(default)]
    pub(super) service: Vec<RawService>,
    /// Where to attach which program.
    #[serde(default)]
    pub(super) attach: Vec<RawAttach>,
    /// The node proxy that connect4 redirects to.
    pub(super) node_proxy: Option<RawNodeProxy>,
    /// Workloads (cgroups) with socket-level programs.
    #[serde(default)]
    pub(super) workload: Vec<RawWorkload>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawNodeProxy {
    /// IPv4 address the proxy listens on.
    pub(super) address: Spanned<String>,
    /// Port the proxy listens on.
    pub(super) port: Spanned<i64>,
    /// The proxy's cgroup v2 directory (needed for `sockmap`).
    pub(super) cgroup: Option<Spanned<String>>,
    /// Take part in the sockmap bypass (sock_ops on the proxy's cgroup).
    #[serde(default)]
    pub(super) sockmap: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawWorkload {
    /// Unique name, used in pins and logs.
    pub(super) name: Spanned<String>,
    /// cgroup v2 directory whose processes are the workload.
    pub(super) cgroup: Spanned<String>,
    /// The workload's IPv4 addresses on this node.
    #[serde(default)]
    pub(super) addresses: Vec<Spanned<String>>,
    /// sockmap bypass to other local workloads that have it too.
    #[serde(default)]
    pub(super) sockmap: bool,
    /// Connections to service VIPs go to the node proxy.
    #[serde(default)]
    pub(super) redirect: Option<Spanned<bool>>,
    /// Services whose HTTP/1.1 on this workload's endpoints is counted.
    #[serde(default)]
    pub(super) http: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawAgent {
    /// Directory on a bpffs for the agent's pins.
    pub(super) bpffs_dir: Option<Spanned<String>>,
    /// Loopback address:port for the Prometheus endpoint.
    pub(super) metrics_address: Option<Spanned<String>>,
    /// "skb" (generic, every driver) or "native" (driver mode).
    pub(super) xdp_mode: Option<Spanned<String>>,
    /// "auto", "tcx" or "netlink".
    pub(super) tc_attach: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawIdentity {
    /// Unique name, used by policies and metrics.
    pub(super) name: Spanned<String>,
    /// Unique number 1..=2^32-1, stable across reloads (counters are keyed by it).
    pub(super) id: Spanned<i64>,
    /// CIDRs or single addresses, IPv4 or IPv6.
    #[serde(default)]
    pub(super) addresses: Vec<Spanned<String>>,
    /// Deny all ingress not allowed by a policy even if no policy names this identity.
    #[serde(default)]
    pub(super) default_deny: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawPolicy {
    pub(super) from: Spanned<String>,
    pub(super) to: Spanned<String>,
    pub(super) protocol: Spanned<String>,
    #[serde(default)]
    pub(super) ports: Vec<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawService {
    pub(super) name: Spanned<String>,
    pub(super) vip: Spanned<String>,
    pub(super) port: Spanned<i64>,
    pub(super) protocol: Spanned<String>,
    #[serde(default)]
    pub(super) backends: Vec<Spanned<String>>,
    /// The node proxy's port for this service: connect4 sends it there instead of
    /// `[node-proxy] port` (for a proxy with a listener per service).
    pub(super) proxy_port: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawAttach {
    pub(super) interface: Spanned<String>,
    pub(super) netns: Option<Spanned<String>>,
    pub(super) program: Spanned<String>,
}
