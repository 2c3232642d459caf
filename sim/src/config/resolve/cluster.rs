//! `[cluster]`, `[[service]]` and `[placement]`: nodes, the short form or listed services,
//! their namespaces, ports and calls, checked and located; then `cluster::build` makes the
//! cluster from what passed.

use super::Resolver;
use crate::cluster::build::{self, ClusterSpec, ServiceSpec, ServiceSpecs};
use crate::cluster::generate::ShortForm;
use crate::cluster::protocol::Protocol;
use crate::cluster::{CallGraph, Cluster, NodeGroup, Service, MAX_CALLS, MAX_NODES, MAX_PODS};
use crate::config::ranges;
use crate::config::raw::{self, RawScenario, RawService};
use crate::traffic::{Origin, Traffic};
use std::collections::HashMap;
use std::ops::Range;
use toml::Spanned;

impl Resolver {
    /// The cluster's nodes and services checked, then built.
    pub(super) fn cluster(
        &mut self,
        raw: &RawScenario,
        seed: u64,
        traffic: Option<&Traffic>,
    ) -> Option<Cluster> {
        let c = raw.cluster.get_ref();
        let cluster_span = raw.cluster.span();
        let default_max = match &c.max_pods_per_node {
            Some(v) => self.integer32(v, &ranges::MAX_PODS_PER_NODE_KEY)?,
            None => NodeGroup::DEFAULT_MAX_PODS,
        };
        let node_groups = self.node_groups(c, cluster_span.clone(), default_max)?;
        let capacity = build::capacity(&node_groups);
        let traffic = traffic?;
        let short_form = c.pods_per_node.is_some() || c.services.is_some();
        let (services, calls) = if short_form {
            self.requests_need_listed_services(raw);
            let form = self.short_form(raw, &node_groups)?;
            (ServiceSpecs::Generated(form), Vec::new())
        } else {
            self.listed_services(raw, traffic)?
        };

        let pods = services.pods();
        if pods > MAX_PODS {
            self.error(cluster_span, too_many_pods(pods));
            return None;
        }
        if pods > capacity {
            let groups: Vec<String> = node_groups
                .iter()
                .map(|g| format!("{} × {} pods", g.count, g.max_pods))
                .collect();
            self.error(
                cluster_span,
                format!(
                    "impossible cluster: the services have {pods} pods but the nodes hold at most {capacity} ({}); add nodes or raise max_pods_per_node",
                    groups.join(" + ")
                ),
            );
            return None;
        }
        // The short form's generator calls only later services: its graph has no cycle.
        // Request types' trees may visit services in a cycle; each tree is finite.
        let mut requests = None;
        if let ServiceSpecs::Listed { services, .. } = &services {
            if raw.requests.is_empty() {
                self.acyclic(services, &calls, cluster_span)?;
                self.in_pod_origins_are_uncalled(services, &calls)?;
            } else {
                requests = Some(self.request_types(raw, services, traffic)?);
            }
        }
        let cores = self.cores(c)?;
        let spec = ClusterSpec {
            node_groups,
            services,
            placement: raw.placement.strategy,
            cores,
            requests,
        };
        let cluster = build::build(spec, traffic, seed);
        self.derived_rates_in_range(raw, &cluster)?;
        Some(cluster)
    }

    /// A cycle in the listed calls is an error at the call that closes it.
    fn acyclic(
        &mut self,
        services: &[ServiceSpec],
        calls: &[Call],
        cluster_span: Range<usize>,
    ) -> Option<()> {
        let pairs: Vec<(u32, u32)> = calls.iter().map(|c| (c.0, c.1)).collect();
        let Some(cycle) = CallGraph::new(services.len(), &pairs).find_cycle() else {
            return Some(());
        };
        let names: Vec<&str> = cycle
            .iter()
            .map(|&s| services[s as usize].name.as_str())
            .collect();
        // Point at the call that closes the cycle.
        let (from, to) = (cycle[cycle.len() - 2], cycle[cycle.len() - 1]);
        let span = calls
            .iter()
            .find(|c| c.0 == from && c.1 == to)
            .map_or(cluster_span, |c| c.2.clone());
        self.error(
            span,
            format!(
                "the call graph has a cycle: {} (a request would never finish; remove one of these calls)",
                names.join(" → ")
            ),
        );
        None
    }

    /// A service whose requests start in its own pods is called by nobody in the mesh: a call
    /// to it is an error at the call.
    fn in_pod_origins_are_uncalled(
        &mut self,
        services: &[ServiceSpec],
        calls: &[Call],
    ) -> Option<()> {
        let mut ok = true;
        for Call(from, to, span) in calls {
            let callee = &services[*to as usize];
            if callee.origin == Origin::InPod {
                ok = false;
                self.error(
                    span.clone(),
                    format!(
                        "{} calls {}, whose requests start in its own pods (origin = \"in-pod\"): only a service nobody calls can originate its requests; remove the call or the origin",
                        services[*from as usize].name, callee.name
                    ),
                );
            }
        }
        ok.then_some(())
    }

    fn node_groups(
        &mut self,
        c: &raw::RawCluster,
        cluster_span: Range<usize>,
        default_max: u32,
    ) -> Option<Vec<NodeGroup>> {
        match (&c.nodes, c.node_group.is_empty()) {
            (Some(nodes), true) => {
                let count = self.integer32(nodes, &ranges::NODES)?;
                Some(vec![NodeGroup {
                    name: "nodes".into(),
                    count,
                    max_pods: default_max,
                }])
            }
            (None, false) => {
                let mut groups = Vec::new();
                let mut first_seen: HashMap<&str, usize> = HashMap::new();
                for g in &c.node_group {
                    let g_ref = g.get_ref();
                    let name = g_ref.name.get_ref().as_str();
                    if let Some(line) = first_seen.get(name) {
                        let msg =
                            format!("node group `{name}` is defined twice (first on line {line})");
                        self.error(g_ref.name.span(), msg);
                        continue;
                    }
                    first_seen.insert(name, self.source.location(g_ref.name.span().start).line);
                    let count = self.integer32(&g_ref.count, &ranges::NODE_GROUP_COUNT);
                    let max_pods = self.integer32_or(
                        &g_ref.max_pods,
                        &ranges::NODE_GROUP_MAX_PODS,
                        default_max,
                    );
                    if let (Some(count), Some(max_pods)) = (count, max_pods) {
                        groups.push(NodeGroup {
                            name: name.to_string(),
                            count,
                            max_pods,
                        });
                    }
                }
                let total: u64 = groups.iter().map(|g| g.count as u64).sum();
                if total > MAX_NODES {
                    self.error(
                        cluster_span,
                        format!(
                            "the node groups have {} nodes; the model holds every node one by one, and a million ({}) is the largest cluster it supports",
                            ranges::with_separators(total as f64),
                            ranges::with_separators(MAX_NODES as f64)
                        ),
                    );
                    return None;
                }
                Some(groups)
            }
            (Some(nodes), false) => {
                self.error(
                    nodes.span(),
                    "give either cluster.nodes or [[cluster.node_group]] entries, not both",
                );
                None
            }
            (None, true) => {
                self.error(
                    cluster_span,
                    "[cluster] needs `nodes = N` or [[cluster.node_group]] entries",
                );
                None
            }
        }
    }

    /// The short form's numbers, checked against each other and the nodes.
    fn short_form(&mut self, raw: &RawScenario, groups: &[NodeGroup]) -> Option<ShortForm> {
        let c = raw.cluster.get_ref();
        if let Some(first) = raw.services.first() {
            self.error(first.name.span(), "give either the short form (cluster.services, cluster.pods_per_node) or [[service]] entries, not both");
            return None;
        }
        let (Some(ppn), Some(svc)) = (&c.pods_per_node, &c.services) else {
            let missing = if c.pods_per_node.is_none() {
                "pods_per_node"
            } else {
                "services"
            };
            self.error(raw.cluster.span(), format!("the short form needs both cluster.pods_per_node and cluster.services; cluster.{missing} is missing"));
            return None;
        };
        let pods_per_node = self.integer32(ppn, &ranges::PODS_PER_NODE)?;
        if let Some(small) = groups.iter().find(|g| g.max_pods < pods_per_node) {
            self.error(
                ppn.span(),
                format!(
                    "{pods_per_node} pods per node, but nodes of group `{}` hold at most {} pods (max_pods_per_node)",
                    small.name, small.max_pods
                ),
            );
            return None;
        }
        let node_count: u64 = groups.iter().map(|g| g.count as u64).sum();
        let pods = node_count * pods_per_node as u64;
        let services = self.integer32(svc, &ranges::SERVICES)?;
        if services as u64 > pods {
            self.error(svc.span(), format!("{services} services need at least one pod each, but the cluster has {pods} pods"));
            return None;
        }
        let namespaces = match &c.namespaces {
            Some(v) => {
                let n = self.integer32(v, &ranges::NAMESPACES)?;
                if n > services {
                    self.error(
                        v.span(),
                        format!(
                            "{n} namespaces for {services} services would leave namespaces empty"
                        ),
                    );
                    return None;
                }
                n
            }
            None => services.div_ceil(ShortForm::SERVICES_PER_NAMESPACE),
        };
        let calls_per_service = match &c.calls_per_service {
            Some(v) => self.integer32(v, &ranges::CALLS_PER_SERVICE)?,
            None => ShortForm::DEFAULT_CALLS_PER_SERVICE,
        };
        let l7_policy_fraction = match &c.l7_policy_fraction {
            Some(v) => self.number(v, &ranges::L7_POLICY_FRACTION)?,
            None => ShortForm::DEFAULT_L7_POLICY_FRACTION,
        };
        if pods > MAX_PODS {
            self.error(ppn.span(), too_many_pods(pods));
            return None;
        }
        let calls = ShortForm::calls(services, calls_per_service);
        if calls > MAX_CALLS {
            let span = c
                .calls_per_service
                .as_ref()
                .map_or(svc.span(), |v| v.span());
            self.error(
                span,
                format!(
                    "{} services each calling up to {} of the later ones make {} calls; the model holds every call, at most {}",
                    ranges::with_separators(services as f64),
                    ranges::with_separators(calls_per_service as f64),
                    ranges::with_separators(calls as f64),
                    ranges::with_separators(MAX_CALLS as f64)
                ),
            );
            return None;
        }
        Some(ShortForm {
            pods,
            services,
            namespaces,
            calls_per_service,
            l7_policy_fraction,
        })
    }

    /// `[[service]]` entries checked one by one, with their calls (and where each is written).
    fn listed_services(
        &mut self,
        raw: &RawScenario,
        traffic: &Traffic,
    ) -> Option<(ServiceSpecs, Vec<Call>)> {
        let c = raw.cluster.get_ref();
        for (key, present) in [
            ("namespaces", c.namespaces.is_some()),
            ("calls_per_service", c.calls_per_service.is_some()),
            ("l7_policy_fraction", c.l7_policy_fraction.is_some()),
        ] {
            if present {
                self.error(raw.cluster.span(), format!("cluster.{key} belongs to the short form (cluster.services = N); with [[service]] entries, describe each service"));
            }
        }
        if raw.services.is_empty() {
            self.error(raw.cluster.span(), "no services: add [[service]] entries, or use the short form (cluster.pods_per_node and cluster.services)");
            return None;
        }
        let declared: Option<Vec<&str>> = raw
            .namespaces
            .as_ref()
            .map(|list| list.iter().map(|n| n.get_ref().as_str()).collect());
        let mut namespaces: Vec<String> = declared
            .as_ref()
            .map(|d| d.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default();
        let mut index: HashMap<&str, (u32, usize)> = HashMap::new();
        let mut services = Vec::with_capacity(raw.services.len());
        let mut pods = 0u64;
        for (i, s) in raw.services.iter().enumerate() {
            let name = s.name.get_ref().as_str();
            if name.is_empty() {
                self.error(s.name.span(), "a service needs a non-empty name");
            }
            if let Some((_, line)) = index.get(name) {
                let msg = format!("service `{name}` is defined twice (first on line {line})");
                self.error(s.name.span(), msg);
                continue;
            }
            index.insert(
                name,
                (i as u32, self.source.location(s.name.span().start).line),
            );
            let namespace = self.namespace_of(s, declared.as_deref(), &mut namespaces);
            let service_account = s
                .service_account
                .as_ref()
                .map_or(name, |sa| sa.get_ref().as_str());
            let replicas = self.integer32(&s.replicas, &ranges::REPLICAS);
            let (http_ports, tcp_ports, protocol) = self.ports(s);
            let rps = self.number_or(
                &s.rps_per_pod,
                &ranges::SERVICE_RPS_PER_POD,
                traffic.rps_per_pod,
            );
            let app_time_us = self.number_or(
                &s.app_time_us,
                &ranges::SERVICE_APP_TIME_US,
                traffic.app_time_us,
            );
            if let (Some(namespace), Some(replicas), Some(rps_per_pod), Some(app_time_us)) =
                (namespace, replicas, rps, app_time_us)
            {
                services.push(ServiceSpec {
                    name: name.to_string(),
                    namespace,
                    service_account: service_account.to_string(),
                    replicas,
                    http_ports,
                    tcp_ports,
                    protocol,
                    l7_policy: s.l7_policy,
                    rps_per_pod,
                    call_mode: s.call_mode.unwrap_or(traffic.call_mode),
                    arrivals: s.arrivals.unwrap_or(traffic.arrivals),
                    app_time_us,
                    origin: s
                        .origin
                        .as_ref()
                        .map_or_else(Origin::default, |o| *o.get_ref()),
                });
                pods += replicas as u64;
            }
        }
        if pods > MAX_PODS {
            self.error(raw.cluster.span(), too_many_pods(pods));
            return None;
        }
        let listed_calls: usize = raw.services.iter().map(|s| s.calls.len()).sum();
        if listed_calls as u64 > MAX_CALLS {
            self.error(
                raw.cluster.span(),
                format!(
                    "the services list {} calls; the model holds every call, at most {}",
                    ranges::with_separators(listed_calls as f64),
                    ranges::with_separators(MAX_CALLS as f64)
                ),
            );
            return None;
        }
        let (calls, per_request) = self.listed_calls(raw, &index)?;
        let listed = ServiceSpecs::Listed {
            namespaces,
            services,
            calls: calls.iter().map(|c| (c.0, c.1)).collect(),
            per_request,
        };
        Some((listed, calls))
    }

    fn namespace_of(
        &mut self,
        s: &RawService,
        declared: Option<&[&str]>,
        namespaces: &mut Vec<String>,
    ) -> Option<u32> {
        let name = s
            .namespace
            .as_ref()
            .map_or(Service::DEFAULT_NAMESPACE, |n| n.get_ref().as_str());
        if let Some(i) = namespaces.iter().position(|n| n == name) {
            return Some(i as u32);
        }
        if let Some(declared) = declared {
            let span = s.namespace.as_ref().map_or(s.name.span(), |n| n.span());
            let msg = format!(
                "namespace `{name}` is not among the declared namespaces ({})",
                declared.join(", ")
            );
            self.error(span, msg);
            return None;
        }
        namespaces.push(name.to_string());
        Some(namespaces.len() as u32 - 1)
    }

    /// The service's HTTP ports (HTTP/1.1, HTTP/2 and gRPC), its TCP ports, and what calls to
    /// it speak (`cluster::protocol`).
    fn ports(&mut self, s: &RawService) -> (Vec<u16>, Vec<u16>, Protocol) {
        let mut all: Vec<u16> = Vec::new();
        let mut check = |resolver: &mut Self,
                         list: &Option<Vec<Spanned<i64>>>,
                         key: &ranges::Key|
         -> Vec<u16> {
            let mut out = Vec::new();
            for p in list.iter().flatten() {
                let v = *p.get_ref();
                if let Some(message) = key.problem(v as f64) {
                    resolver.error(p.span(), message);
                } else if all.contains(&(v as u16)) {
                    resolver.error(p.span(), format!("port {v} is listed twice"));
                } else {
                    all.push(v as u16);
                    out.push(v as u16);
                }
            }
            out
        };
        let mut http = check(self, &s.http_ports, &ranges::HTTP_PORTS);
        let http2 = check(self, &s.http2_ports, &ranges::HTTP2_PORTS);
        let grpc = check(self, &s.grpc_ports, &ranges::GRPC_PORTS);
        let tcp = check(self, &s.tcp_ports, &ranges::TCP_PORTS);
        let listed = [&s.http_ports, &s.http2_ports, &s.grpc_ports, &s.tcp_ports];
        if listed.iter().all(|l| l.is_none()) {
            return (vec![Service::DEFAULT_HTTP_PORT], vec![], Protocol::Http1);
        }
        let protocol = if !grpc.is_empty() {
            Protocol::Grpc
        } else if !http2.is_empty() {
            Protocol::Http2
        } else if !http.is_empty() {
            Protocol::Http1
        } else {
            Protocol::Tcp
        };
        // Every HTTP port is an HTTP listener to an Envoy, whichever version it speaks.
        http.extend(http2);
        http.extend(grpc);
        if http.is_empty() && tcp.is_empty() && self.problems.is_empty() {
            self.error(
                s.name.span(),
                format!("service `{}` has no ports", s.name.get_ref()),
            );
        } else if http.is_empty() && s.l7_policy {
            self.error(
                s.name.span(),
                format!(
                    "service `{}` is under L7 policy but has only tcp_ports: plain TCP is L4 only (proxies pass it on without parsing it, waypoints do not see it); give it http_ports, http2_ports or grpc_ports, or remove l7_policy",
                    s.name.get_ref()
                ),
            );
        }
        (http, tcp, protocol)
    }
}

fn too_many_pods(pods: u64) -> String {
    format!(
        "the cluster has {} pods; the model holds every pod one by one, and {} is the most it supports",
        ranges::with_separators(pods as f64),
        ranges::with_separators(MAX_PODS as f64)
    )
}

/// A call from one service to another, with the span of the callee's name.
pub(super) struct Call(pub u32, pub u32, pub Range<usize>);
