//! The configuration a proxy holds: the services it can send to (its tenants' visible
//! services, by scoping) and the services it receives for (its tenants).
//!
//! clusters  = Σ ports of visible services + Σ ports of tenant services (inbound)
//! endpoints = Σ ports × replicas of visible services + Σ ports of tenant services
//! listeners = one per TCP port of a visible service, one per distinct HTTP port number,
//!             plus one virtual inbound listener (Istio's model)

use crate::cluster::Cluster;
use crate::mesh::Scoping;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProxyConfig {
    pub clusters: u64,
    pub endpoints: u64,
    pub tcp_listeners: u64,
    pub http_listeners: u64,
}

#[derive(Debug, Clone, Default)]
struct Totals {
    clusters: u64,
    endpoints: u64,
    tcp_listeners: u64,
    http_ports: Vec<u16>,
}

impl Totals {
    fn add_service(&mut self, s: &crate::cluster::Service) {
        self.clusters += s.ports() as u64;
        self.endpoints += s.ports() as u64 * s.replicas as u64;
        self.tcp_listeners += s.tcp_ports.len() as u64;
        for &p in &s.http_ports {
            if let Err(i) = self.http_ports.binary_search(&p) {
                self.http_ports.insert(i, p);
            }
        }
    }
}

/// Computes visible configuration for sets of tenant services, reusing scratch space.
pub struct Visibility<'a> {
    cluster: &'a Cluster,
    scoping: Scoping,
    mesh: Totals,
    by_namespace: Vec<Totals>,
    /// Generation marks: `mark[s] == generation` means service `s` is already counted.
    mark: Vec<u32>,
    namespace_mark: Vec<u32>,
    generation: u32,
}

impl<'a> Visibility<'a> {
    pub fn new(cluster: &'a Cluster, scoping: Scoping) -> Self {
        let mut mesh = Totals::default();
        let mut by_namespace = vec![Totals::default(); cluster.namespaces.len()];
        for s in &cluster.services {
            mesh.add_service(s);
            by_namespace[s.namespace as usize].add_service(s);
        }
        Visibility {
            cluster,
            scoping,
            mesh,
            by_namespace,
            mark: vec![0; cluster.services.len()],
            namespace_mark: vec![0; cluster.namespaces.len()],
            generation: 0,
        }
    }

    /// Configuration of a proxy whose tenants run the given services (duplicates allowed).
    pub fn config(&mut self, tenants: &[u32]) -> ProxyConfig {
        self.generation += 1;
        let generation = self.generation;
        let services = &self.cluster.services;
        let graph = &self.cluster.call_graph;
        let mut visible = Totals::default();
        match self.scoping {
            Scoping::Mesh => visible = self.mesh.clone(),
            Scoping::Namespace => {
                for &t in tenants {
                    let ns = services[t as usize].namespace as usize;
                    if self.namespace_mark[ns] != generation {
                        self.namespace_mark[ns] = generation;
                        let n = &self.by_namespace[ns];
                        visible.clusters += n.clusters;
                        visible.endpoints += n.endpoints;
                        visible.tcp_listeners += n.tcp_listeners;
                        for &p in &n.http_ports {
                            if let Err(i) = visible.http_ports.binary_search(&p) {
                                visible.http_ports.insert(i, p);
                            }
                        }
                    }
                }
                for &t in tenants {
                    for &c in graph.callees(t) {
                        let ns = services[c as usize].namespace as usize;
                        if self.namespace_mark[ns] != generation
                            && self.mark[c as usize] != generation
                        {
                            self.mark[c as usize] = generation;
                            visible.add_service(&services[c as usize]);
                        }
                    }
                }
            }
            Scoping::CallGraph => {
                for &t in tenants {
                    for &c in graph.callees(t) {
                        if self.mark[c as usize] != generation {
                            self.mark[c as usize] = generation;
                            visible.add_service(&services[c as usize]);
                        }
                    }
                }
            }
        }
        // Inbound: each distinct tenant service once, with one local endpoint per port.
        self.generation += 1;
        let inbound_generation = self.generation;
        let mut inbound_ports = 0u64;
        for &t in tenants {
            if self.mark[t as usize] != inbound_generation {
                self.mark[t as usize] = inbound_generation;
                inbound_ports += services[t as usize].ports() as u64;
            }
        }
        ProxyConfig {
            clusters: visible.clusters + inbound_ports,
            endpoints: visible.endpoints + inbound_ports,
            tcp_listeners: visible.tcp_listeners,
            http_listeners: visible.http_ports.len() as u64 + u64::from(!tenants.is_empty()),
        }
    }
}
