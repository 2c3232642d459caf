//! Building the cluster a scenario asks for: node capacities, the services (generated from the
//! short form, or as listed) numbered pod by pod, their service accounts, the call graph, and
//! where each pod runs. The input is already checked (`config::resolve` reports what the user
//! got wrong, located in the file), so nothing here fails.
//!
//! One generator, seeded with the scenario's seed, draws first the short form's services (when
//! there is one), then random placement: the same seed gives the same cluster.

use super::cores::Cores;
use super::edge_rates;
use super::generate::{self, ShortForm};
use super::placement::{self, PlacementStrategy};
use super::protocol::Protocol;
use super::requests::RequestTypes;
use super::{CallGraph, Cluster, NodeGroup, Service, ServiceAccount};
use crate::traffic::{ArrivalKind, CallMode, Origin, Traffic};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// What a scenario asks of its cluster, checked value by value.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub node_groups: Vec<NodeGroup>,
    pub services: ServiceSpecs,
    pub placement: PlacementStrategy,
    /// Where the nodes' cores are, if CPU is simulated.
    pub cores: CoreSpec,
    /// Request types over the listed services (numbered as they are).
    pub requests: Option<RequestTypes>,
}

/// How the file describes the nodes' CPU (`cluster::cores`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreSpec {
    /// Not simulated.
    Unlimited,
    /// `cores_per_node`: every node a host of its own.
    PerNode(u32),
    /// `[cluster.hosts]`: the nodes share a few hosts.
    Shared { hosts: u32, cores: u32 },
}

impl CoreSpec {
    fn build(self, nodes: usize) -> Option<Cores> {
        match self {
            CoreSpec::Unlimited => None,
            CoreSpec::PerNode(cores) => Some(Cores::per_node(nodes, cores)),
            CoreSpec::Shared { hosts, cores } => Some(Cores::shared(nodes, hosts, cores)),
        }
    }
}

/// The services of a cluster, before they are numbered and placed.
#[derive(Debug, Clone)]
pub enum ServiceSpecs {
    /// The short form: services generated from the seed, each at `[traffic]`'s settings.
    Generated(ShortForm),
    /// `[[service]]` entries in file order, with their calls (caller, callee) by index.
    Listed {
        namespaces: Vec<String>,
        services: Vec<ServiceSpec>,
        calls: Vec<(u32, u32)>,
        /// Calls per request beside `calls` when the file gives them per edge: then the
        /// called services' rates follow from them (`super::edge_rates`).
        per_request: Option<Vec<f64>>,
    },
}

/// One `[[service]]` entry, checked: a [`Service`] before its service account is numbered
/// and its pods are.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    pub name: String,
    pub namespace: u32,
    /// The account's name, unique within the namespace (services may share one).
    pub service_account: String,
    pub replicas: u32,
    pub http_ports: Vec<u16>,
    pub tcp_ports: Vec<u16>,
    pub protocol: Protocol,
    pub l7_policy: bool,
    pub rps_per_pod: f64,
    pub call_mode: CallMode,
    pub arrivals: ArrivalKind,
    pub app_time_us: f64,
    pub origin: Origin,
}

impl ServiceSpecs {
    /// Pods the services ask for.
    pub fn pods(&self) -> u64 {
        match self {
            ServiceSpecs::Generated(form) => form.pods,
            ServiceSpecs::Listed { services, .. } => {
                services.iter().map(|s| s.replicas as u64).sum()
            }
        }
    }
}

/// Pods the node groups can hold.
pub fn capacity(node_groups: &[NodeGroup]) -> u64 {
    node_groups
        .iter()
        .map(|g| g.count as u64 * g.max_pods as u64)
        .sum()
}

/// The cluster, with every pod placed. The caller has checked that the pods fit on the nodes
/// and that listed calls form no cycle.
pub fn build(spec: ClusterSpec, traffic: &Traffic, seed: u64) -> Cluster {
    let node_max_pods: Vec<u32> = spec
        .node_groups
        .iter()
        .flat_map(|g| std::iter::repeat_n(g.max_pods, g.count as usize))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (numbered, per_request) = match spec.services {
        ServiceSpecs::Generated(form) => (generated(form, traffic, &mut rng), None),
        ServiceSpecs::Listed {
            namespaces,
            services,
            calls,
            per_request,
        } => (listed(namespaces, services, calls), per_request),
    };
    let Numbered {
        namespaces,
        service_accounts,
        mut services,
        calls,
    } = numbered;
    let pods: u64 = services.iter().map(|s| s.replicas as u64).sum();
    let mut call_graph = CallGraph::new(services.len(), &calls);
    match (&spec.requests, per_request) {
        (Some(requests), _) => call_graph = requests.apply(&mut services),
        (None, Some(per_request)) => {
            // The graph lists each caller's callees in the order of `calls`.
            let mut by_caller = vec![Vec::new(); services.len()];
            for (&(from, _), &k) in calls.iter().zip(&per_request) {
                by_caller[from as usize].push(k);
            }
            for (s, k) in by_caller.into_iter().enumerate() {
                call_graph.set_per_request(s as u32, k);
            }
            edge_rates::loads_from_per_request(&mut services, &call_graph);
        }
        (None, None) => edge_rates::per_request_from_loads(&services, &mut call_graph),
    }
    let node_max_pods_len = node_max_pods.len();
    let pod_node = placement::place(pods as usize, &node_max_pods, spec.placement, &mut rng);
    let pod_service = services
        .iter()
        .enumerate()
        .flat_map(|(i, s)| std::iter::repeat_n(i as u32, s.replicas as usize))
        .collect();
    Cluster {
        node_groups: spec.node_groups,
        node_max_pods,
        namespaces,
        service_accounts,
        services,
        call_graph,
        requests: spec.requests,
        cores: spec.cores.build(node_max_pods_len),
        pod_node,
        pod_service,
    }
}

/// Services with their accounts and pods numbered, and their calls.
struct Numbered {
    namespaces: Vec<String>,
    service_accounts: Vec<ServiceAccount>,
    services: Vec<Service>,
    calls: Vec<(u32, u32)>,
}

/// The short form's services: each its own service account, every one at `[traffic]`'s rate,
/// call mode, arrivals and application time, listening on the default HTTP port.
fn generated(form: ShortForm, traffic: &Traffic, rng: &mut ChaCha8Rng) -> Numbered {
    let namespaces = (0..form.namespaces)
        .map(|i| generate::namespace_name(i, form.namespaces))
        .collect();
    let generated = generate::generate(form, rng);
    let mut service_accounts = Vec::with_capacity(generated.len());
    let mut services = Vec::with_capacity(generated.len());
    let mut calls = Vec::new();
    let mut first_pod = 0u32;
    for (i, g) in generated.into_iter().enumerate() {
        service_accounts.push(ServiceAccount {
            namespace: g.namespace,
            name: g.name.clone(),
        });
        calls.extend(g.calls.iter().map(|&to| (i as u32, to)));
        services.push(Service {
            name: g.name,
            namespace: g.namespace,
            service_account: i as u32,
            replicas: g.replicas,
            http_ports: vec![Service::DEFAULT_HTTP_PORT],
            tcp_ports: vec![],
            protocol: Protocol::Http1,
            l7_policy: g.l7_policy,
            rps_per_pod: traffic.rps_per_pod,
            call_mode: traffic.call_mode,
            arrivals: traffic.arrivals,
            app_time_us: traffic.app_time_us,
            origin: Origin::Outside,
            first_pod,
        });
        first_pod += g.replicas;
    }
    Numbered {
        namespaces,
        service_accounts,
        services,
        calls,
    }
}

/// Listed services in file order; a service account is numbered where it first appears.
fn listed(namespaces: Vec<String>, specs: Vec<ServiceSpec>, calls: Vec<(u32, u32)>) -> Numbered {
    let mut service_accounts: Vec<ServiceAccount> = Vec::new();
    let mut account_index: BTreeMap<(u32, String), u32> = BTreeMap::new();
    let mut services = Vec::with_capacity(specs.len());
    let mut first_pod = 0u32;
    for s in specs {
        let next = service_accounts.len() as u32;
        let key = (s.namespace, s.service_account);
        let service_account = *account_index.entry(key).or_insert_with_key(|(_, name)| {
            service_accounts.push(ServiceAccount {
                namespace: s.namespace,
                name: name.clone(),
            });
            next
        });
        services.push(Service {
            name: s.name,
            namespace: s.namespace,
            service_account,
            replicas: s.replicas,
            http_ports: s.http_ports,
            tcp_ports: s.tcp_ports,
            protocol: s.protocol,
            l7_policy: s.l7_policy,
            rps_per_pod: s.rps_per_pod,
            call_mode: s.call_mode,
            arrivals: s.arrivals,
            app_time_us: s.app_time_us,
            origin: s.origin,
            first_pod,
        });
        first_pod += s.replicas;
    }
    Numbered {
        namespaces,
        service_accounts,
        services,
        calls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str, namespace: u32, account: &str, replicas: u32) -> ServiceSpec {
        ServiceSpec {
            name: name.into(),
            namespace,
            service_account: account.into(),
            replicas,
            http_ports: vec![8080],
            tcp_ports: vec![],
            protocol: Protocol::Http1,
            l7_policy: false,
            rps_per_pod: 10.0,
            call_mode: CallMode::Sequential,
            arrivals: ArrivalKind::Poisson,
            app_time_us: 0.0,
            origin: Origin::Outside,
        }
    }

    fn traffic() -> Traffic {
        Traffic {
            rps_per_pod: 10.0,
            scale: 1.0,
            payload_bytes: 1024,
            connection_reuse: true,
            connections_per_upstream: 1,
            connection_lifetime_ms: 5.0,
            arrivals: ArrivalKind::Poisson,
            burst_on_ms: 100.0,
            burst_off_ms: 900.0,
            payload: crate::traffic::PayloadKind::Fixed,
            call_mode: CallMode::Sequential,
            app_time_us: 0.0,
            app_time_on_cpu: false,
        }
    }

    #[test]
    fn listed_services_share_an_account_only_within_a_namespace_and_pods_follow_file_order() {
        let spec = ClusterSpec {
            node_groups: vec![NodeGroup {
                name: "nodes".into(),
                count: 2,
                max_pods: 10,
            }],
            services: ServiceSpecs::Listed {
                namespaces: vec!["a".into(), "b".into()],
                services: vec![
                    service("web", 0, "shared", 2),
                    service("api", 0, "shared", 3),
                    service("db", 1, "shared", 1),
                ],
                calls: vec![(0, 1), (1, 2)],
                per_request: None,
            },
            placement: PlacementStrategy::Pack,
            cores: CoreSpec::Unlimited,
            requests: None,
        };
        let cluster = build(spec, &traffic(), 1);
        let accounts: Vec<u32> = cluster.services.iter().map(|s| s.service_account).collect();
        assert_eq!(accounts, vec![0, 0, 1]);
        assert_eq!(cluster.service_accounts.len(), 2);
        let first: Vec<u32> = cluster.services.iter().map(|s| s.first_pod).collect();
        assert_eq!(first, vec![0, 2, 5]);
        assert_eq!(cluster.pod_service, vec![0, 0, 1, 1, 1, 2]);
        assert_eq!(cluster.pod_node, vec![0; 6]);
        assert_eq!(cluster.node_max_pods, vec![10, 10]);
        assert_eq!(cluster.call_graph.callees(1), &[2]);
    }

    #[test]
    fn the_short_form_gives_every_service_the_traffic_settings_and_its_own_account() {
        let spec = ClusterSpec {
            node_groups: vec![NodeGroup {
                name: "nodes".into(),
                count: 3,
                max_pods: 10,
            }],
            services: ServiceSpecs::Generated(ShortForm {
                pods: 30,
                services: 6,
                namespaces: 2,
                calls_per_service: 2,
                l7_policy_fraction: 0.5,
            }),
            placement: PlacementStrategy::Spread,
            cores: CoreSpec::Unlimited,
            requests: None,
        };
        let a = build(spec.clone(), &traffic(), 7);
        assert_eq!(a.pods(), 30);
        assert_eq!(a.service_accounts.len(), 6);
        assert_eq!(a.namespaces, vec!["ns-0", "ns-1"]);
        assert!(a.services.iter().all(|s| s.rps_per_pod == 10.0));
        assert_eq!(a, build(spec, &traffic(), 7), "same seed, same cluster");
    }
}
