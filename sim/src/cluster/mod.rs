//! The cluster a scenario describes, resolved: nodes, namespaces, service accounts, services
//! with their replicas, the call graph, and where every pod runs.
//!
//! Pods are numbered service by service: the pods of service `s` are
//! `services[s].first_pod .. services[s].first_pod + replicas`, so per-pod data is a `Vec`
//! indexed by pod and per-service data a `Vec` indexed by service: stable order, no hashing.

pub mod build;
pub mod call_graph;
pub mod cores;
pub mod edge_rates;
pub mod generate;
pub mod placement;
pub mod protocol;
pub mod requests;

pub use call_graph::CallGraph;

/// The largest cluster the model holds. It keeps every node, pod, service and call one by one
/// (vectors indexed by them), so these bound its memory and time: 50 million pods, the most,
/// take about 0.7 GB and 12 s for the capacity model (`sim run --no-latency` on 500,000 nodes ×
/// 100 pods); a million services with ten calls each, 0.8 GB and 8 s. (Measured before the
/// parameters' ranges: their ends count the cluster twice more, about 3× the time.) Files past them are
/// refused before anything is allocated (`config::ranges` names these in its messages).
pub const MAX_PODS: u64 = 50_000_000;
pub const MAX_NODES: u64 = 1_000_000;
/// Pods one node can hold: more than any kubelet runs, small enough that per-node counts and
/// their products stay exact.
pub const MAX_PODS_PER_NODE: u64 = 1_000_000;
pub const MAX_SERVICES: u64 = 1_000_000;
/// Calls between services (edges of the call graph, about 40 bytes each in the graph and the
/// models' adjacency lists).
pub const MAX_CALLS: u64 = 10_000_000;

#[derive(Debug, Clone, PartialEq)]
pub struct NodeGroup {
    pub name: String,
    pub count: u32,
    pub max_pods: u32,
}

impl NodeGroup {
    /// Pods a node holds when the file does not say: Kubernetes' default limit.
    pub const DEFAULT_MAX_PODS: u32 = 110;
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceAccount {
    pub namespace: u32,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    pub namespace: u32,
    pub service_account: u32,
    pub replicas: u32,
    /// Its HTTP ports: HTTP/1.1, HTTP/2 and gRPC (each an HTTP listener to an Envoy).
    pub http_ports: Vec<u16>,
    pub tcp_ports: Vec<u16>,
    /// What calls to it speak (from its ports).
    pub protocol: protocol::Protocol,
    /// Traffic to this service needs L7 policy (in `uproxy`, it passes a waypoint).
    pub l7_policy: bool,
    /// Requests per second each pod of this service serves.
    pub rps_per_pod: f64,
    pub call_mode: crate::traffic::CallMode,
    /// How requests from outside the mesh arrive (for services nobody in the mesh calls).
    pub arrivals: crate::traffic::ArrivalKind,
    /// The application's own time per request, before it calls others and answers.
    pub app_time_us: f64,
    /// Where its requests come from when nobody in the mesh calls it.
    pub origin: crate::traffic::Origin,
    pub first_pod: u32,
}

impl Service {
    /// The namespace of a `[[service]]` that names none.
    pub const DEFAULT_NAMESPACE: &str = "default";
    /// The one port of a service that lists none (and of every generated service).
    pub const DEFAULT_HTTP_PORT: u16 = 8080;

    pub fn ports(&self) -> u32 {
        (self.http_ports.len() + self.tcp_ports.len()) as u32
    }

    pub fn pods(&self) -> std::ops::Range<u32> {
        self.first_pod..self.first_pod + self.replicas
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub node_groups: Vec<NodeGroup>,
    /// Pod capacity of each node, indexed by node.
    pub node_max_pods: Vec<u32>,
    pub namespaces: Vec<String>,
    pub service_accounts: Vec<ServiceAccount>,
    pub services: Vec<Service>,
    pub call_graph: CallGraph,
    /// `[[request]]` types, when the file gives them: then the services' rates and the call
    /// graph above follow from their trees.
    pub requests: Option<requests::RequestTypes>,
    /// The node of each pod, indexed by pod.
    pub pod_node: Vec<u32>,
    /// The service of each pod, indexed by pod.
    pub pod_service: Vec<u32>,
    /// The hosts whose cores the nodes share, when CPU contention is simulated.
    pub cores: Option<cores::Cores>,
}

impl Cluster {
    pub fn nodes(&self) -> usize {
        self.node_max_pods.len()
    }

    pub fn pods(&self) -> usize {
        self.pod_node.len()
    }

    /// Pods of every node, each list in pod order.
    pub fn pods_by_node(&self) -> Vec<Vec<u32>> {
        let mut by_node = vec![Vec::new(); self.nodes()];
        for (pod, &node) in self.pod_node.iter().enumerate() {
            by_node[node as usize].push(pod as u32);
        }
        by_node
    }
}
