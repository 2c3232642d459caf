//! What the event loop reads about pods and services, packed for the cache. The loop touches a
//! random callee pod and its service on every call; read from `Cluster`, that is a 120-byte
//! `Service` (name, ports, ...) and four separate per-pod vectors, each a cache miss of its
//! own. Here a pod is 12 bytes (node, service, proxy) and a service 32 bytes; the calls a call
//! makes are a node's callees in one flat vector. Without request types a node is a service
//! (node `s` is service `s`, its callees the call graph's); with them, a node is a call in a
//! request type's tree (`cluster::requests`), so one service has a node per place it appears.

use crate::cluster::Cluster;
use crate::traffic::{CallMode, Origin};

/// No index: no proxy, no waypoint, no parent call, no source pod.
pub const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
pub struct PodEntry {
    pub node: u32,
    pub service: u32,
    /// The station that handles this pod's calls, outgoing and incoming (its sidecar, its
    /// node's or its service account's proxy, its micro proxy).
    pub proxy: u32,
}

#[derive(Debug, Clone, Copy)]
pub struct ServiceEntry {
    pub first_pod: u32,
    pub replicas: u32,
    /// The application's own time per request, rounded to ns.
    pub app_time_ns: u64,
    /// The first of its waypoint group's replicas, or [`NONE`].
    pub waypoint_first: u32,
    pub l7_policy: bool,
    /// Its requests start in its own pods (`origin = "in-pod"`).
    pub in_pod: bool,
}

/// A call's place in the call structure: its service, the calls it makes, how.
#[derive(Debug, Clone, Copy)]
pub struct NodeEntry {
    pub service: u32,
    /// Its callees: `callees[callees_start..callees_end]`.
    pub callees_start: u32,
    pub callees_end: u32,
    /// The request type whose tree it is in, or [`NONE`].
    pub request_type: u32,
    /// What the call carries each way.
    pub payload_bytes: u32,
    pub call_mode: CallMode,
}

/// A node called `whole + 1` times per call of its caller with probability `fraction`, else
/// `whole`.
#[derive(Debug, Clone, Copy)]
pub struct Callee {
    pub node: u32,
    pub whole: u32,
    pub fraction: f64,
}

impl Callee {
    /// Calls to make this time, given a uniform draw in [0, 1): `whole`, plus one with
    /// probability `fraction`. The testbed's workload server calls the same function.
    pub fn count(&self, uniform: f64) -> u32 {
        self.whole + u32::from(uniform < self.fraction)
    }
}

#[derive(Debug, Clone)]
pub struct Lookup {
    pub pods: Vec<PodEntry>,
    pub services: Vec<ServiceEntry>,
    pub nodes: Vec<NodeEntry>,
    pub callees: Vec<Callee>,
}

impl Lookup {
    /// Pods and services without proxies; the world fills those in as it builds stations.
    /// `payload_bytes` is `[traffic]`'s, the payload of every call outside request types.
    pub fn new(cluster: &Cluster, payload_bytes: u64) -> Self {
        let mut callees = Vec::new();
        let callee = |node: u32, k: f64| {
            // `as` truncates: the floor of a non-negative number.
            let whole = k as u32;
            Callee {
                node,
                whole,
                fraction: k - whole as f64,
            }
        };
        let nodes = match &cluster.requests {
            None => (0..cluster.services.len() as u32)
                .map(|s| {
                    let graph = &cluster.call_graph;
                    let callees_start = callees.len() as u32;
                    for (&c, &k) in graph.callees(s).iter().zip(graph.per_request(s)) {
                        callees.push(callee(c, k));
                    }
                    NodeEntry {
                        service: s,
                        callees_start,
                        callees_end: callees.len() as u32,
                        request_type: NONE,
                        payload_bytes: payload_bytes as u32,
                        call_mode: cluster.services[s as usize].call_mode,
                    }
                })
                .collect(),
            Some(requests) => {
                let types = requests.node_types();
                requests
                    .nodes
                    .iter()
                    .zip(types)
                    .map(|(node, request_type)| {
                        let callees_start = callees.len() as u32;
                        for c in node.children() {
                            callees.push(callee(c as u32, requests.nodes[c].per_request));
                        }
                        NodeEntry {
                            service: node.service,
                            callees_start,
                            callees_end: callees.len() as u32,
                            request_type,
                            payload_bytes: node.payload_bytes as u32,
                            call_mode: node.call_mode,
                        }
                    })
                    .collect()
            }
        };
        let services = cluster
            .services
            .iter()
            .map(|service| ServiceEntry {
                first_pod: service.first_pod,
                replicas: service.replicas,
                app_time_ns: (service.app_time_us * 1000.0 + 0.5) as u64,
                waypoint_first: NONE,
                l7_policy: service.l7_policy,
                in_pod: service.origin == Origin::InPod,
            })
            .collect();
        let pods = cluster
            .pod_node
            .iter()
            .zip(&cluster.pod_service)
            .map(|(&node, &service)| PodEntry {
                node,
                service,
                proxy: NONE,
            })
            .collect();
        Lookup {
            pods,
            services,
            nodes,
            callees,
        }
    }

    /// Pod `p`'s proxy is `station[p]`.
    pub fn set_proxies(&mut self, station: &[u32]) {
        for (pod, &s) in self.pods.iter_mut().zip(station) {
            pod.proxy = s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_stay_small() {
        assert_eq!(std::mem::size_of::<PodEntry>(), 12);
        assert!(std::mem::size_of::<ServiceEntry>() <= 32);
        assert!(std::mem::size_of::<NodeEntry>() <= 24);
        assert_eq!(std::mem::size_of::<Callee>(), 16);
    }
}
