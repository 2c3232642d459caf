//! What every architecture's count needs: the scenario, per-service load, pods by node.

use super::load::ServiceLoad;
use crate::cluster::Cluster;
use crate::config::Scenario;
use crate::cost_model::ModelSet;
use std::rc::Rc;

pub struct Context<'a> {
    pub scenario: &'a Scenario,
    /// The parameters counted with: the scenario's, or the low or high end of their ranges.
    pub models: &'a ModelSet,
    pub cluster: &'a Cluster,
    /// Shared by the contexts of one scenario's bounds (`with_models`): they depend on the
    /// cluster and traffic only.
    pub load: Rc<ServiceLoad>,
    pub pods_by_node: Rc<Vec<Vec<u32>>>,
}

impl<'a> Context<'a> {
    pub fn new(scenario: &'a Scenario, models: &'a ModelSet) -> Self {
        let cluster = &scenario.cluster;
        Context {
            scenario,
            models,
            cluster,
            load: Rc::new(ServiceLoad::new(
                cluster,
                scenario.traffic.connections_per_upstream,
            )),
            pods_by_node: Rc::new(cluster.pods_by_node()),
        }
    }

    /// The same scenario counted with other parameters (the ends of their ranges).
    pub fn with_models(&self, models: &'a ModelSet) -> Self {
        Context {
            scenario: self.scenario,
            models,
            cluster: self.cluster,
            load: Rc::clone(&self.load),
            pods_by_node: Rc::clone(&self.pods_by_node),
        }
    }

    /// Open connections: `pooled` when connections are reused; otherwise each request at
    /// `rate` per second holds one for its lifetime (Little's law).
    pub fn open(&self, pooled: f64, rate: f64) -> f64 {
        let t = &self.scenario.traffic;
        if t.connection_reuse {
            pooled
        } else {
            rate * t.connection_lifetime_ms / 1000.0
        }
    }

    /// mTLS handshakes per second a proxy makes for `rate` requests per second between
    /// proxies: one each (as client or server) when every request opens its connections, none
    /// with pooled connections.
    pub fn handshakes(&self, rate: f64) -> f64 {
        if self.scenario.traffic.connection_reuse {
            0.0
        } else {
            rate
        }
    }

    /// Requests per second one pod of `service` exchanges with other proxies (its callees',
    /// its callers'): all of its traffic but what arrives from outside the mesh.
    pub fn proxied_rps(&self, service: u32) -> f64 {
        self.out_rps(service) + self.in_rps(service)
            - self.load.external_rps_per_pod[service as usize]
    }

    pub fn service_of(&self, pod: u32) -> u32 {
        self.cluster.pod_service[pod as usize]
    }

    pub fn in_rps(&self, service: u32) -> f64 {
        self.load.in_rps_per_pod(self.cluster, service)
    }

    pub fn out_rps(&self, service: u32) -> f64 {
        self.load.out_rps_per_pod[service as usize]
    }

    /// Distinct service accounts and namespaces among some pods.
    pub fn identities_and_tenants(&self, pods: &[u32]) -> (u64, u64) {
        let mut accounts: Vec<u32> = Vec::with_capacity(pods.len());
        let mut namespaces: Vec<u32> = Vec::with_capacity(pods.len());
        for &p in pods {
            let s = &self.cluster.services[self.service_of(p) as usize];
            accounts.push(s.service_account);
            namespaces.push(s.namespace);
        }
        accounts.sort_unstable();
        accounts.dedup();
        namespaces.sort_unstable();
        namespaces.dedup();
        (accounts.len() as u64, namespaces.len() as u64)
    }
}
