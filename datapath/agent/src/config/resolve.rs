//! From the file as written to a [`NodeConfig`]: every value checked, every problem of the file
//! collected in one pass and located at the value at fault. A value that fails its check is left
//! out, and what refers to it is not reported again (a policy naming an identity whose address
//! was wrong is not "unknown").

use std::{
    collections::{BTreeMap, BTreeSet},
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4},
    ops::Range,
    path::{Path, PathBuf},
    sync::Arc,
};

use meshtwin_datapath_common::{
    maps::{
        MAX_BACKENDS, MAX_IDENTITIES, MAX_IDENTITY_PREFIXES, MAX_LOCAL_ENDPOINTS, MAX_POLICY_RULES,
        MAX_SERVICES, PROGRAM_CONNECT4_PROXY, PROGRAM_GETPEERNAME4, PROGRAM_SOCKOPS_MESH,
    },
    packet::{IPPROTO_TCP, IPPROTO_UDP},
    policy::PolicyKey,
    service::{Backend, ServiceKey},
};
use meshtwin_diagnostics::{Diagnostic, Diagnostics, SourceFile};
use toml::Spanned;

use super::raw::{
    RawAttach, RawConfig, RawIdentity, RawNodeProxy, RawPolicy, RawService, RawWorkload,
};
use super::{
    Attachment, Identity, NodeConfig, NodeProxy, ProgramKind, Service, TcAttachSetting, Workload,
    XdpModeSetting, DEFAULT_BPFFS_DIR, DEFAULT_METRICS_ADDRESS,
};

/// The longest file name Linux takes (NAME_MAX), pins on bpffs included.
const NAME_MAX: usize = 255;
/// The longest path Linux takes (PATH_MAX, 4096 with its terminating NUL).
const PATH_MAX: usize = 4095;
/// Digits of the largest inode number (u64), as pin names write it.
const U64_DIGITS: usize = 20;
/// The programs attached to a workload's cgroup, each pinned as `<program>@<inode>@<workload>`.
const CGROUP_PROGRAMS: [&str; 3] = [
    PROGRAM_SOCKOPS_MESH,
    PROGRAM_CONNECT4_PROXY,
    PROGRAM_GETPEERNAME4,
];
/// The longest subdirectory of the bpffs directory (`netlink`, `cgroups`, `sockmap`).
const LONGEST_PIN_SUBDIRECTORY: usize = "netlink".len();

/// An interface name: IFNAMSIZ (16) less its terminating NUL.
pub const MAX_INTERFACE_NAME_BYTES: usize = 15;
/// A workload's name ends its cgroup pins (`<program>@<cgroup inode>@<workload>`), which must
/// fit NAME_MAX with the longest program name and inode number.
pub const MAX_WORKLOAD_NAME_BYTES: usize =
    NAME_MAX - longest(&CGROUP_PROGRAMS) - 2 * "@".len() - U64_DIGITS;
/// Pins are `<bpffs-dir>/<subdirectory>/<pin>`: the directory gets what PATH_MAX leaves.
pub const MAX_BPFFS_DIR_BYTES: usize =
    PATH_MAX - 2 * "/".len() - LONGEST_PIN_SUBDIRECTORY - NAME_MAX;

const fn longest(names: &[&str]) -> usize {
    let mut i = 0;
    let mut max = 0;
    while i < names.len() {
        if names[i].len() > max {
            max = names[i].len();
        }
        i += 1;
    }
    max
}

/// Checks a whole file: its config, or every problem found.
pub(super) fn resolve(source: Arc<SourceFile>) -> Result<NodeConfig, Diagnostics> {
    let raw: RawConfig = toml::from_str(source.text())
        .map_err(|error| Diagnostics::from(Diagnostic::from_toml(&source, &error)))?;
    let mut resolver = Resolver {
        source,
        problems: Diagnostics::new(),
    };
    let config = resolver.config(&raw);
    resolver.problems.into_result(config)
}

struct Resolver {
    source: Arc<SourceFile>,
    problems: Diagnostics,
}

impl Resolver {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.problems
            .push(Diagnostic::at(&self.source, span, message));
    }

    fn at<T>(&mut self, value: &Spanned<T>, message: impl Into<String>) {
        self.error(value.span(), message);
    }

    /// `Some(value)` when `check` passes, else the problem is recorded at `raw`.
    fn check<T, U>(
        &mut self,
        raw: &Spanned<T>,
        check: impl FnOnce(&T) -> Result<U, String>,
    ) -> Option<U> {
        match check(raw.get_ref()) {
            Ok(value) => Some(value),
            Err(message) => {
                self.at(raw, message);
                None
            }
        }
    }

    fn config(&mut self, raw: &RawConfig) -> NodeConfig {
        let agent = &raw.agent;
        let bpffs_dir = match &agent.bpffs_dir {
            Some(dir) => self
                .check(dir, |d| parse_bpffs_dir(d))
                .unwrap_or_else(|| PathBuf::from(DEFAULT_BPFFS_DIR)),
            None => PathBuf::from(DEFAULT_BPFFS_DIR),
        };
        let default_metrics: SocketAddr = DEFAULT_METRICS_ADDRESS.parse().expect("constant");
        let metrics_address = match &agent.metrics_address {
            Some(address) => self
                .check(address, |a| parse_metrics_address(a))
                .unwrap_or(default_metrics),
            None => default_metrics,
        };
        let xdp_mode = match &agent.xdp_mode {
            None => XdpModeSetting::Skb,
            Some(mode) => self
                .check(mode, |m| match m.as_str() {
                    "skb" => Ok(XdpModeSetting::Skb),
                    "native" => Ok(XdpModeSetting::Native),
                    other => Err(format!(
                        "unknown xdp-mode {other:?}: expected \"skb\" or \"native\""
                    )),
                })
                .unwrap_or(XdpModeSetting::Skb),
        };
        let tc_attach = match &agent.tc_attach {
            None => TcAttachSetting::Auto,
            Some(mode) => self
                .check(mode, |m| match m.as_str() {
                    "auto" => Ok(TcAttachSetting::Auto),
                    "tcx" => Ok(TcAttachSetting::Tcx),
                    "netlink" => Ok(TcAttachSetting::Netlink),
                    other => Err(format!(
                        "unknown tc-attach {other:?}: expected \"auto\", \"tcx\" or \"netlink\""
                    )),
                })
                .unwrap_or(TcAttachSetting::Auto),
        };
        let identities = self.identities(&raw.identity);
        let (policed, rules) = self.policies(raw, &identities);
        let services = self.services(&raw.service);
        let attachments = self.attachments(&raw.attach);
        let node_proxy = raw.node_proxy.as_ref().and_then(|p| self.node_proxy(p));
        let workloads = self.workloads(raw, node_proxy.as_ref(), &services);
        NodeConfig {
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
        }
    }

    fn identities(&mut self, raw: &[RawIdentity]) -> Vec<Identity> {
        let mut names = BTreeSet::new();
        let mut ids = BTreeSet::new();
        let mut prefixes: BTreeMap<(IpAddr, u8), String> = BTreeMap::new();
        let mut identities = Vec::new();
        if let Some(first_over) = raw.get(MAX_IDENTITIES as usize) {
            self.at(
                &first_over.name,
                format!(
                    "{} identities: the identity map holds at most {MAX_IDENTITIES}",
                    raw.len()
                ),
            );
        }
        for identity in raw {
            let name = identity.name.get_ref();
            let mut ok = true;
            if name.is_empty() {
                self.at(&identity.name, "identity name is empty");
                ok = false;
            } else if !names.insert(name.clone()) {
                self.at(
                    &identity.name,
                    format!("identity {name:?} is defined twice"),
                );
                ok = false;
            }
            let id = *identity.id.get_ref();
            let id = if id == 0 {
                self.at(
                    &identity.id,
                    "identity id 0 is reserved for addresses no identity covers; use 1 or more",
                );
                None
            } else if let Ok(id) = u32::try_from(id) {
                if ids.insert(id) {
                    Some(id)
                } else {
                    self.at(&identity.id, format!("identity id {id} is used twice"));
                    None
                }
            } else {
                self.at(
                    &identity.id,
                    format!("identity id {id} is out of range 1..=4294967295"),
                );
                None
            };
            let mut v4 = Vec::new();
            let mut v6 = Vec::new();
            for address in &identity.addresses {
                let Some((ip, len)) = self.check(address, |a| parse_cidr(a)) else {
                    ok = false;
                    continue;
                };
                if let Some(other) = prefixes.get(&(ip, len)) {
                    let message = format!("{ip}/{len} already belongs to identity {other:?}");
                    self.at(address, message);
                    ok = false;
                    continue;
                }
                prefixes.insert((ip, len), name.clone());
                if prefixes.len() == MAX_IDENTITY_PREFIXES as usize + 1 {
                    self.at(
                        address,
                        format!(
                            "one prefix more than the identity maps hold ({MAX_IDENTITY_PREFIXES})"
                        ),
                    );
                }
                match ip {
                    IpAddr::V4(ip) => v4.push((ip, len)),
                    IpAddr::V6(ip) => v6.push((ip, len)),
                }
            }
            if let (Some(id), true) = (id, ok) {
                identities.push(Identity {
                    name: name.clone(),
                    id,
                    v4,
                    v6,
                });
            }
        }
        identities
    }

    /// Default-deny identities and the allow rules. A policy naming an identity that is
    /// defined but was refused adds nothing and is not reported again.
    fn policies(
        &mut self,
        raw: &RawConfig,
        identities: &[Identity],
    ) -> (BTreeSet<u32>, Vec<PolicyKey>) {
        let by_name: BTreeMap<&str, u32> =
            identities.iter().map(|i| (i.name.as_str(), i.id)).collect();
        let defined: BTreeSet<&str> = raw
            .identity
            .iter()
            .map(|i| i.name.get_ref().as_str())
            .collect();
        let mut policed: BTreeSet<u32> = raw
            .identity
            .iter()
            .filter(|i| i.default_deny)
            .filter_map(|i| by_name.get(i.name.get_ref().as_str()).copied())
            .collect();
        let mut rules = Vec::new();
        let mut unique = BTreeSet::new();
        let mut over = false;
        for policy in &raw.policy {
            let lookup = |resolver: &mut Self, name: &Spanned<String>| {
                let found = by_name.get(name.get_ref().as_str()).copied();
                if found.is_none() && !defined.contains(name.get_ref().as_str()) {
                    resolver.at(
                        name,
                        format!(
                            "unknown identity {:?}: define it in an [[identity]] table",
                            name.get_ref()
                        ),
                    );
                }
                found
            };
            let from = lookup(self, &policy.from);
            let to = lookup(self, &policy.to);
            let protocol = self.check(&policy.protocol, |p| parse_protocol(p));
            let ports: Vec<u16> = policy
                .ports
                .iter()
                .filter_map(|port| self.check(port, |p| parse_port(*p)))
                .collect();
            let (Some(from), Some(to), Some(protocol)) = (from, to, protocol) else {
                continue;
            };
            policed.insert(to);
            let keys = if policy.ports.is_empty() {
                vec![PolicyKey::new(from, to, protocol, PolicyKey::ANY_PORT)]
            } else {
                ports
                    .iter()
                    .map(|&port| PolicyKey::new(from, to, protocol, port))
                    .collect()
            };
            for key in keys {
                if unique.insert((key.src_identity, key.dst_identity, key.protocol, key.port)) {
                    rules.push(key);
                }
            }
            if rules.len() > MAX_POLICY_RULES as usize && !over {
                over = true;
                self.policy_over_limit(policy);
            }
        }
        rules.sort_by_key(|k| (k.src_identity, k.dst_identity, k.protocol, k.port));
        (policed, rules)
    }

    fn policy_over_limit(&mut self, policy: &RawPolicy) {
        self.at(
            &policy.from,
            format!(
                "with this policy the rules pass what the policy map holds ({MAX_POLICY_RULES}, one per identity pair, protocol and port)"
            ),
        );
    }

    fn services(&mut self, raw: &[RawService]) -> Vec<Service> {
        let mut names = BTreeSet::new();
        let mut keys = BTreeSet::new();
        let mut services = Vec::new();
        let mut backend_total = 0usize;
        if let Some(first_over) = raw.get(MAX_SERVICES as usize) {
            self.at(
                &first_over.name,
                format!(
                    "{} services: the service map holds at most {MAX_SERVICES}",
                    raw.len()
                ),
            );
        }
        for service in raw {
            let name = service.name.get_ref();
            let mut ok = true;
            if name.is_empty() {
                self.at(&service.name, "service name is empty");
                ok = false;
            } else if !names.insert(name.clone()) {
                self.at(&service.name, format!("service {name:?} is defined twice"));
                ok = false;
            }
            let vip = self.check(&service.vip, |vip| match vip.parse::<IpAddr>() {
                Ok(IpAddr::V4(vip)) => Ok(vip),
                Ok(IpAddr::V6(_)) => {
                    Err("IPv6 service VIPs are not supported yet; use an IPv4 address".to_string())
                }
                Err(_) => Err(format!("{vip:?} is not an IPv4 address")),
            });
            let port = self.check(&service.port, |p| parse_port(*p));
            let protocol = self.check(&service.protocol, |p| parse_protocol(p));
            let proxy_port = match &service.proxy_port {
                Some(p) => match self.check(p, |p| parse_port(*p)) {
                    Some(port) => Some(port),
                    None => {
                        ok = false;
                        None
                    }
                },
                None => None,
            };
            let mut backends = Vec::new();
            for backend in &service.backends {
                let Some(address) = self.check(backend, |b| parse_backend(b)) else {
                    ok = false;
                    continue;
                };
                let value = Backend {
                    addr: address.ip().octets(),
                    port: address.port(),
                    pad: 0,
                };
                if backends.contains(&value) {
                    self.at(backend, format!("backend {address} is listed twice"));
                    ok = false;
                    continue;
                }
                backends.push(value);
                backend_total += 1;
                if backend_total == MAX_BACKENDS as usize + 1 {
                    self.at(
                        backend,
                        format!("one backend more than the backend map holds ({MAX_BACKENDS})"),
                    );
                }
            }
            let (Some(vip), Some(port), Some(protocol), true) = (vip, port, protocol, ok) else {
                continue;
            };
            let key = ServiceKey::new(vip.octets(), port, protocol);
            if !keys.insert(key) {
                self.at(
                    &service.vip,
                    format!(
                        "another service already uses {vip}:{port}/{}",
                        service.protocol.get_ref()
                    ),
                );
                continue;
            }
            services.push(Service {
                name: name.clone(),
                key,
                backends,
                proxy_port,
            });
        }
        services
    }

    fn attachments(&mut self, raw: &[RawAttach]) -> Vec<Attachment> {
        let mut seen = BTreeSet::new();
        let mut attachments = Vec::new();
        for attach in raw {
            let interface = self.check(&attach.interface, |i| parse_interface(i));
            let program = self.check(&attach.program, |p| match p.as_str() {
                "xdp-policy" => Ok(ProgramKind::XdpPolicy),
                "tc-service-lb" => Ok(ProgramKind::TcServiceLb),
                other => Err(format!(
                    "unknown program {other:?}: expected \"xdp-policy\" or \"tc-service-lb\""
                )),
            });
            // None: refused; Some(None): the agent's own namespace.
            let netns = match &attach.netns {
                Some(path) => self
                    .check(path, |p| {
                        absolute_path(p, "netns", "a network namespace file")
                    })
                    .map(Some),
                None => Some(None),
            };
            let (Some(interface), Some(program), Some(netns)) = (interface, program, netns) else {
                continue;
            };
            let attachment = Attachment {
                interface,
                netns,
                program,
            };
            if !seen.insert(attachment.clone()) {
                self.at(
                    &attach.interface,
                    format!(
                        "{} is attached to {} twice",
                        attach.program.get_ref(),
                        attachment.interface
                    ),
                );
                continue;
            }
            attachments.push(attachment);
        }
        attachments
    }

    fn node_proxy(&mut self, raw: &RawNodeProxy) -> Option<NodeProxy> {
        let address = self.check(&raw.address, |a| {
            a.parse::<Ipv4Addr>()
                .map_err(|_| format!("{a:?} is not an IPv4 address"))
        });
        let port = self.check(&raw.port, |p| parse_port(*p));
        let cgroup = match &raw.cgroup {
            Some(cgroup) => Some(self.check(cgroup, |c| parse_cgroup(c))?),
            None => None,
        };
        let sockmap = raw.sockmap.as_ref().is_some_and(|s| *s.get_ref());
        if let (Some(flag), None) = (&raw.sockmap, &raw.cgroup) {
            if *flag.get_ref() {
                self.at(
                    flag,
                    "sockmap on the node proxy needs its cgroup: add cgroup = \"/sys/fs/cgroup/...\"",
                );
                return None;
            }
        }
        Some(NodeProxy {
            address: address?,
            port: port?,
            cgroup,
            sockmap,
        })
    }

    fn workloads(
        &mut self,
        raw: &RawConfig,
        proxy: Option<&NodeProxy>,
        services: &[Service],
    ) -> Vec<Workload> {
        let mut names = BTreeSet::new();
        let mut cgroups: BTreeMap<PathBuf, String> = BTreeMap::new();
        let mut addresses: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
        if let Some(proxy) = proxy {
            addresses.insert(proxy.address, "the node proxy".to_string());
        }
        let defined_services: BTreeSet<&str> = raw
            .service
            .iter()
            .map(|s| s.name.get_ref().as_str())
            .collect();
        let mut workloads = Vec::new();
        for workload in &raw.workload {
            let name = workload.name.get_ref();
            let mut ok = true;
            if let Err(message) = check_workload_name(name) {
                self.at(&workload.name, message);
                ok = false;
            } else if !names.insert(name.clone()) {
                self.at(
                    &workload.name,
                    format!("workload {name:?} is defined twice"),
                );
                ok = false;
            }
            let cgroup = self.check(&workload.cgroup, |c| parse_cgroup(c));
            if let Some(cgroup) = &cgroup {
                if let Some(other) = cgroups.get(cgroup) {
                    let message = format!(
                        "cgroup {} is already workload {other:?}'s",
                        cgroup.display()
                    );
                    self.at(&workload.cgroup, message);
                    ok = false;
                } else {
                    cgroups.insert(cgroup.clone(), name.clone());
                }
            }
            let mut own = Vec::new();
            for address in &workload.addresses {
                let Some(ip) = self.check(address, |a| {
                    a.parse::<Ipv4Addr>().map_err(|_| {
                        format!("{a:?} is not an IPv4 address (one address, no prefix)")
                    })
                }) else {
                    ok = false;
                    continue;
                };
                if let Some(other) = addresses.get(&ip) {
                    let message = format!("{ip} already belongs to {other}");
                    self.at(address, message);
                    ok = false;
                    continue;
                }
                addresses.insert(ip, format!("workload {name:?}"));
                if addresses.len() == MAX_LOCAL_ENDPOINTS as usize + 1 {
                    self.at(
                        address,
                        format!(
                            "one address more than the local endpoint map holds ({MAX_LOCAL_ENDPOINTS}, the node proxy's included)"
                        ),
                    );
                }
                own.push(ip);
            }
            let redirect = workload.redirect.as_ref().is_some_and(|r| *r.get_ref());
            if let (Some(flag), None) = (&workload.redirect, &raw.node_proxy) {
                if *flag.get_ref() {
                    self.at(
                        flag,
                        "redirect needs a node proxy: add a [node-proxy] table with its address and port",
                    );
                    ok = false;
                }
            }
            let http = self.http_endpoints(workload, &own, services, &defined_services);
            let (Some(cgroup), Some(http), true) = (cgroup, http, ok) else {
                continue;
            };
            workloads.push(Workload {
                name: name.clone(),
                cgroup,
                addresses: own,
                sockmap: workload.sockmap,
                redirect,
                http,
            });
        }
        self.proxy_cgroup_apart(raw, proxy, &workloads, &cgroups);
        workloads
    }

    /// The endpoints of `workload` whose HTTP is counted: its addresses among the backends of
    /// each service it names.
    fn http_endpoints(
        &mut self,
        workload: &RawWorkload,
        own: &[Ipv4Addr],
        services: &[Service],
        defined: &BTreeSet<&str>,
    ) -> Option<Vec<(String, SocketAddrV4)>> {
        let mut http = Vec::new();
        let mut ok = true;
        for service_name in &workload.http {
            let Some(service) = services.iter().find(|s| &s.name == service_name.get_ref()) else {
                if !defined.contains(service_name.get_ref().as_str()) {
                    self.at(
                        service_name,
                        format!(
                            "unknown service {:?}: define it in a [[service]] table",
                            service_name.get_ref()
                        ),
                    );
                }
                ok = false;
                continue;
            };
            if service.key.protocol != IPPROTO_TCP {
                self.at(
                    service_name,
                    format!("service {:?} is not TCP: HTTP needs TCP", service.name),
                );
                ok = false;
                continue;
            }
            let endpoints: Vec<SocketAddrV4> = service
                .backends
                .iter()
                .map(|b| SocketAddrV4::new(Ipv4Addr::from(b.addr), b.port))
                .filter(|b| own.contains(b.ip()))
                .collect();
            if endpoints.is_empty() {
                self.at(
                    service_name,
                    format!(
                        "service {:?} has no backend at an address of workload {:?}; list one of its addresses among the service's backends",
                        service.name,
                        workload.name.get_ref()
                    ),
                );
                ok = false;
            }
            http.extend(endpoints.into_iter().map(|e| (service.name.clone(), e)));
        }
        ok.then_some(http)
    }

    /// The proxy's own connections must never be redirected back to it, and its cgroup is
    /// its own.
    fn proxy_cgroup_apart(
        &mut self,
        raw: &RawConfig,
        proxy: Option<&NodeProxy>,
        workloads: &[Workload],
        cgroups: &BTreeMap<PathBuf, String>,
    ) {
        let (Some(proxy), Some(raw_proxy)) = (proxy, &raw.node_proxy) else {
            return;
        };
        let (Some(proxy_cgroup), Some(span)) = (&proxy.cgroup, &raw_proxy.cgroup) else {
            return;
        };
        if let Some(other) = cgroups.get(proxy_cgroup) {
            let message = format!(
                "cgroup {} is already workload {other:?}'s",
                proxy_cgroup.display()
            );
            self.at(span, message);
            return;
        }
        if let Some(workload) = workloads
            .iter()
            .find(|w| w.redirect && proxy_cgroup.starts_with(&w.cgroup))
        {
            let message = format!(
                "the node proxy's cgroup is inside workload {:?}'s, whose connections are redirected: the proxy would connect to itself; give it a cgroup of its own",
                workload.name
            );
            self.at(span, message);
        }
    }
}

/// A workload's name: in its pins, so it meets a file name's rules and length.
fn check_workload_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.contains(['/', '@', '\0']) {
        return Err(format!(
            "workload name {name:?} must be non-empty, without '/', '@' or NUL (it names the workload's pins)"
        ));
    }
    if name.len() > MAX_WORKLOAD_NAME_BYTES {
        return Err(format!(
            "workload name is {} bytes; at most {MAX_WORKLOAD_NAME_BYTES} fit in its pin names (`<program>@<cgroup inode>@<name>`, {NAME_MAX} bytes at most)",
            name.len()
        ));
    }
    Ok(())
}

/// An interface name as the kernel takes it.
fn parse_interface(name: &str) -> Result<String, String> {
    if name.is_empty()
        || name.len() > MAX_INTERFACE_NAME_BYTES
        || name.contains(['/', ':', '\0'])
        || name.contains(char::is_whitespace)
    {
        return Err(format!(
            "{name:?} is not a Linux interface name (1-{MAX_INTERFACE_NAME_BYTES} bytes, no '/', ':', spaces or NUL)"
        ));
    }
    Ok(name.to_string())
}

/// An absolute path without NUL (`what` names the key, `kind` what it points to).
fn absolute_path(text: &str, what: &str, kind: &str) -> Result<PathBuf, String> {
    if text.contains('\0') {
        return Err(format!("{what} contains a NUL byte, which no path can"));
    }
    if !Path::new(text).is_absolute() {
        return Err(format!("{what} must be an absolute path to {kind}"));
    }
    Ok(PathBuf::from(text))
}

fn parse_bpffs_dir(text: &str) -> Result<PathBuf, String> {
    let dir = absolute_path(text, "bpffs-dir", "a directory on a bpf filesystem")?;
    if text.len() > MAX_BPFFS_DIR_BYTES {
        return Err(format!(
            "bpffs-dir is {} bytes; pins under it must fit the kernel's {PATH_MAX}-byte paths, so at most {MAX_BPFFS_DIR_BYTES}",
            text.len()
        ));
    }
    Ok(dir)
}

/// A cgroup v2 directory: absolute, and normalised so that prefixes compare.
fn parse_cgroup(cgroup: &str) -> Result<PathBuf, String> {
    if cgroup.contains('\0') {
        return Err("cgroup contains a NUL byte, which no path can".to_string());
    }
    let path = Path::new(cgroup);
    if !path.is_absolute() {
        return Err(format!(
            "cgroup {cgroup:?} must be an absolute path to a cgroup v2 directory"
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

fn parse_protocol(protocol: &str) -> Result<u8, String> {
    match protocol {
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

fn parse_backend(text: &str) -> Result<SocketAddrV4, String> {
    let address: SocketAddrV4 = text
        .parse()
        .map_err(|_| format!("{text:?} is not an IPv4 address:port"))?;
    if address.port() == 0 {
        return Err("backend port 0 is not a port".to_string());
    }
    Ok(address)
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
