//! Request types (`[[request]]`): each enters the mesh at a service at its own rate and makes
//! a tree of calls. A service may appear in a tree many times (user → social-graph → user is
//! two calls to `user`, not a loop), so the services' call graph may have cycles while every
//! request ends: its tree is finite, and [`MAX_CALL_DEPTH`] deep at most.
//!
//! The trees are kept flat: the children of a node are `nodes[children_start..children_end]`,
//! so the simulation walks them as it walks the services' graph. What the capacity model needs
//! per service follows from them ([`RequestTypes::apply`]): a service's load is, over every
//! node of every tree, the type's rate × the node's mean calls per request (the product of
//! `per_request` from the entry down); an edge's rate is the same sum over the tree's edges.

use super::{CallGraph, Service};
use crate::traffic::{ArrivalKind, CallMode};
use std::collections::HashMap;

/// The deepest a request's call tree may be, in calls below its entry. Real applications
/// stay within a handful (the online shop's checkout goes three deep, the social network's
/// compose-post four); a tree past this is a mistake in the file (a recursion written out
/// without an end), and the bound keeps the simulation's and the checks' work per request
/// bounded with it.
pub const MAX_CALL_DEPTH: u32 = 32;

#[derive(Debug, Clone, PartialEq)]
pub struct RequestTypes {
    pub types: Vec<RequestType>,
    /// Every tree's nodes; each type's root first among its own.
    pub nodes: Vec<CallNode>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RequestType {
    pub name: String,
    /// Its entry: a node whose service is the entry service, once per request.
    pub root: u32,
    /// Requests per second entering the mesh, over all the entry's pods.
    pub rate: f64,
    pub arrivals: ArrivalKind,
}

/// A call in a request's tree (or the request itself, at the root).
#[derive(Debug, Clone, PartialEq)]
pub struct CallNode {
    pub service: u32,
    /// Mean calls per call of its parent (1 at the root).
    pub per_request: f64,
    /// How this call's service issues the calls below it.
    pub call_mode: CallMode,
    /// What this call carries each way.
    pub payload_bytes: u64,
    pub children_start: u32,
    pub children_end: u32,
}

impl CallNode {
    pub fn children(&self) -> std::ops::Range<usize> {
        self.children_start as usize..self.children_end as usize
    }
}

impl RequestTypes {
    /// Calls of each node per request of its type, on average: the product of the counts from
    /// the root down. Parents come before their children in `nodes`.
    pub fn mean_calls(&self) -> Vec<f64> {
        let mut mean = vec![0.0; self.nodes.len()];
        for t in &self.types {
            mean[t.root as usize] = 1.0;
        }
        for (n, node) in self.nodes.iter().enumerate() {
            for c in node.children() {
                mean[c] = mean[n] * self.nodes[c].per_request;
            }
        }
        mean
    }

    /// The type of each node's tree.
    pub fn node_types(&self) -> Vec<u32> {
        let mut of = vec![0u32; self.nodes.len()];
        for (t, ty) in self.types.iter().enumerate() {
            of[ty.root as usize] = t as u32;
        }
        for (n, node) in self.nodes.iter().enumerate() {
            let t = of[n];
            for c in node.children() {
                of[c] = t;
            }
        }
        of
    }

    /// Requests per second entering the mesh at each service.
    pub fn entry_rates(&self, services: usize) -> Vec<f64> {
        let mut rate = vec![0.0; services];
        for t in &self.types {
            rate[self.nodes[t.root as usize].service as usize] += t.rate;
        }
        rate
    }

    /// The services' call graph and rates the trees add up to: each service's `rps_per_pod`
    /// is its load over its pods, and each call between services (the distinct edges of the
    /// trees, in the order first met) carries its rate over the caller's as calls per request.
    pub fn apply(&self, services: &mut [Service]) -> CallGraph {
        let mean = self.mean_calls();
        let of_type = self.node_types();
        let rate_of = |n: usize| self.types[of_type[n] as usize].rate * mean[n];
        let mut load = vec![0.0; services.len()];
        let mut edges: Vec<(u32, u32)> = Vec::new();
        let mut edge_rate: Vec<f64> = Vec::new();
        let mut edge_index: HashMap<(u32, u32), usize> = HashMap::new();
        for (n, node) in self.nodes.iter().enumerate() {
            load[node.service as usize] += rate_of(n);
            for c in node.children() {
                let edge = (node.service, self.nodes[c].service);
                let i = *edge_index.entry(edge).or_insert_with(|| {
                    edges.push(edge);
                    edge_rate.push(0.0);
                    edges.len() - 1
                });
                edge_rate[i] += rate_of(c);
            }
        }
        let mut graph = CallGraph::new(services.len(), &edges);
        let mut by_caller = vec![Vec::new(); services.len()];
        for (&(from, _), &rate) in edges.iter().zip(&edge_rate) {
            let caller_load = load[from as usize];
            by_caller[from as usize].push(if caller_load > 0.0 {
                rate / caller_load
            } else {
                0.0
            });
        }
        for (s, k) in by_caller.into_iter().enumerate() {
            graph.set_per_request(s as u32, k);
        }
        for (s, svc) in services.iter_mut().enumerate() {
            svc.rps_per_pod = load[s] / svc.replicas as f64;
        }
        graph
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::Origin;

    fn service(name: &str, replicas: u32) -> Service {
        Service {
            name: name.into(),
            namespace: 0,
            service_account: 0,
            replicas,
            http_ports: vec![8080],
            tcp_ports: vec![],
            protocol: crate::cluster::protocol::Protocol::Http1,
            l7_policy: false,
            rps_per_pod: 0.0,
            call_mode: CallMode::Sequential,
            arrivals: ArrivalKind::Poisson,
            app_time_us: 0.0,
            origin: Origin::Outside,
            first_pod: 0,
        }
    }

    fn node(service: u32, per_request: f64, children: std::ops::Range<u32>) -> CallNode {
        CallNode {
            service,
            per_request,
            call_mode: CallMode::Sequential,
            payload_bytes: 1024,
            children_start: children.start,
            children_end: children.end,
        }
    }

    /// The social network's read: frontend → user → social-graph → user (twice per request).
    /// A service-level cycle, yet a finite tree; the loads count both visits to `user`.
    #[test]
    fn a_service_level_cycle_in_a_tree_is_finite_and_counts_every_visit() {
        let mut services = vec![
            service("frontend", 2),
            service("user", 4),
            service("graph", 1),
        ];
        let requests = RequestTypes {
            types: vec![RequestType {
                name: "read".into(),
                root: 0,
                rate: 100.0,
                arrivals: ArrivalKind::Poisson,
            }],
            nodes: vec![
                node(0, 1.0, 1..2),
                node(1, 1.0, 2..3),
                node(2, 1.0, 3..4),
                node(1, 2.0, 4..4),
            ],
        };
        let graph = requests.apply(&mut services);
        assert_eq!(services[0].rps_per_pod * 2.0, 100.0);
        // user: once as frontend's callee, twice under social-graph: 300 rps.
        assert_eq!(services[1].rps_per_pod * 4.0, 300.0);
        assert_eq!(services[2].rps_per_pod, 100.0);
        assert!(graph.find_cycle().is_some(), "user ↔ graph");
        // user calls graph 100 times a second out of its 300 requests.
        assert_eq!(graph.callees(1), &[2]);
        assert!((graph.per_request(1)[0] - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(graph.per_request(2), &[2.0]);
    }
}
