//! What the event loop reads about pods and services, packed for the cache. The loop touches a
//! random callee pod and its service on every call; read from `Cluster`, that is a 120-byte
//! `Service` (name, ports, ...) and four separate per-pod vectors, each a cache miss of its
//! own. Here a pod is 12 bytes (node, service, proxy) and a service 32 bytes, with its callees
//! in one flat vector.

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
    /// This service's callees: `callees[callees_start..callees_end]`.
    pub callees_start: u32,
    pub callees_end: u32,
    /// The first of its waypoint group's replicas, or [`NONE`].
    pub waypoint_first: u32,
    pub call_mode: CallMode,
    pub l7_policy: bool,
    /// Its requests start in its own pods (`origin = "in-pod"`).
    pub in_pod: bool,
}

/// A service called `whole + 1` times per request with probability `fraction`, else `whole`.
#[derive(Debug, Clone, Copy)]
pub struct Callee {
    pub service: u32,
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
    pub callees: Vec<Callee>,
}

impl Lookup {
    /// Pods and services without proxies; the world fills those in as it builds stations.
    pub fn new(cluster: &Cluster) -> Self {
        let mut callees = Vec::new();
        let services = cluster
            .services
            .iter()
            .enumerate()
            .map(|(s, caller)| {
                let callees_start = callees.len() as u32;
                let graph = &cluster.call_graph;
                for (&c, &k) in graph
                    .callees(s as u32)
                    .iter()
                    .zip(graph.per_request(s as u32))
                {
                    // `as` truncates: the floor of a non-negative number.
                    let whole = k as u32;
                    callees.push(Callee {
                        service: c,
                        whole,
                        fraction: k - whole as f64,
                    });
                }
                ServiceEntry {
                    first_pod: caller.first_pod,
                    replicas: caller.replicas,
                    app_time_ns: (caller.app_time_us * 1000.0 + 0.5) as u64,
                    callees_start,
                    callees_end: callees.len() as u32,
                    waypoint_first: NONE,
                    call_mode: caller.call_mode,
                    l7_policy: caller.l7_policy,
                    in_pod: caller.origin == Origin::InPod,
                }
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
        assert_eq!(std::mem::size_of::<Callee>(), 16);
    }
}
