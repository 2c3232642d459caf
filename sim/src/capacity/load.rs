//! Per-service facts every architecture needs: who calls whom how often, and how many
//! connections the applications keep.
//!
//! Load: every pod of service `c` serves `rps_per_pod(c)` requests per second, so the service
//! serves `R_c = rps_per_pod(c) × replicas(c)`. That load comes from its callers, each pod of a
//! caller `s` sending `rps_per_pod(s) × k(s→c)` (its calls per request to `c`, which
//! `cluster::edge_rates` keeps consistent with the rates), or, for a service nobody in the mesh
//! calls, from clients outside the mesh (or, with `origin = "in-pod"`, from a load generator
//! inside its own pods, which no proxy sees on the way in).
//!
//! Connections (with reuse): an application keeps `k = connections_per_upstream` connections
//! to each service it calls (it dials the service's name), one to a service that speaks
//! HTTP/2 or gRPC, whose requests are streams on one connection (`k_of`,
//! `cluster::protocol`); so does each pool of a proxy. An L7 proxy balances each request
//! over every replica, so it keeps `k` connections to each replica of each callee. An L4
//! balancer (ztunnel, the kernel) pins each application connection to one replica; the
//! connections to a service are dealt out evenly over its replicas.

use crate::cluster::Cluster;
use crate::traffic::Origin;

pub struct ServiceLoad {
    /// Pods of the services that call this one.
    pub caller_pods: Vec<u64>,
    /// Requests per second one pod of the service sends into the mesh.
    pub out_rps_per_pod: Vec<f64>,
    /// Requests per second one pod receives from outside the mesh.
    pub external_rps_per_pod: Vec<f64>,
    /// Connections one pod's application keeps: `k` per callee service.
    pub app_connections_per_pod: Vec<u64>,
    /// Connections an L7 proxy keeps for one pod's outbound traffic: `k` per callee replica.
    pub replica_connections_per_pod: Vec<u64>,
    /// Connections one pool keeps to one upstream of each service: `connections_per_upstream`,
    /// or one where calls to the service are multiplexed.
    pub k_of: Vec<u64>,
}

impl ServiceLoad {
    pub fn new(cluster: &Cluster, k: u32) -> Self {
        let g = &cluster.call_graph;
        let services = &cluster.services;
        let k_of: Vec<u64> = services
            .iter()
            .map(|s| s.protocol.connections_per_pool(k as u64))
            .collect();
        let caller_pods: Vec<u64> = (0..services.len() as u32)
            .map(|c| {
                g.callers(c)
                    .iter()
                    .map(|&s| services[s as usize].replicas as u64)
                    .sum()
            })
            .collect();
        let out_rps_per_pod = (0..services.len() as u32)
            .map(|s| {
                let rps = services[s as usize].rps_per_pod;
                g.per_request(s).iter().map(|&k| rps * k).sum()
            })
            .collect();
        let external_rps_per_pod = match &cluster.requests {
            // Request types enter at their entries, called by others in the mesh or not.
            Some(requests) => requests
                .entry_rates(services.len())
                .iter()
                .zip(services)
                .map(|(&rate, s)| match s.origin {
                    Origin::Outside => rate / s.replicas as f64,
                    Origin::InPod => 0.0,
                })
                .collect(),
            None => services
                .iter()
                .zip(&caller_pods)
                .map(|(s, &callers)| {
                    if callers == 0 && s.origin == Origin::Outside {
                        s.rps_per_pod
                    } else {
                        0.0
                    }
                })
                .collect(),
        };
        let app_connections_per_pod = (0..services.len() as u32)
            .map(|s| g.callees(s).iter().map(|&c| k_of[c as usize]).sum())
            .collect();
        let replica_connections_per_pod = (0..services.len() as u32)
            .map(|s| {
                g.callees(s)
                    .iter()
                    .map(|&c| services[c as usize].replicas as u64 * k_of[c as usize])
                    .sum()
            })
            .collect();
        ServiceLoad {
            caller_pods,
            out_rps_per_pod,
            external_rps_per_pod,
            app_connections_per_pod,
            replica_connections_per_pod,
            k_of,
        }
    }

    /// Application connections that an L4 balancer pins to this pod.
    pub fn landing_connections(&self, cluster: &Cluster, pod: u32) -> u64 {
        let s = cluster.pod_service[pod as usize];
        let service = &cluster.services[s as usize];
        let total = self.caller_pods[s as usize] * self.k_of[s as usize];
        let replicas = service.replicas as u64;
        let replica = (pod - service.first_pod) as u64;
        total / replicas + u64::from(replica < total % replicas)
    }

    /// Σ over services of replicas × `per_pod(service)`: a per-pod figure summed over all pods,
    /// in 128 bits (50 million pods × a per-pod count in the billions passes 64).
    pub fn sum_over_pods(cluster: &Cluster, per_pod: impl Fn(usize) -> u64) -> u128 {
        cluster
            .services
            .iter()
            .enumerate()
            .map(|(s, svc)| svc.replicas as u128 * u128::from(per_pod(s)))
            .sum()
    }

    /// Requests per second one pod of the service receives, from the mesh or outside (none
    /// when its requests start in the pod itself).
    pub fn in_rps_per_pod(&self, cluster: &Cluster, service: u32) -> f64 {
        let s = &cluster.services[service as usize];
        match s.origin {
            Origin::Outside => s.rps_per_pod,
            // Nobody calls it (request types may only enter at it): all it serves starts in
            // its pods.
            Origin::InPod => 0.0,
        }
    }
}
