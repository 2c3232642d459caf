//! `cores_per_node` and `[cluster.hosts]`: where the nodes' CPU is (`cluster::cores`).

use super::Resolver;
use crate::cluster::build::CoreSpec;
use crate::config::raw::RawCluster;

impl Resolver {
    /// Cores per node, or hosts the nodes share; one of the two, or neither (not simulated).
    pub(super) fn cores(&mut self, c: &RawCluster) -> Option<CoreSpec> {
        match (&c.cores_per_node, &c.hosts) {
            (None, None) => Some(CoreSpec::Unlimited),
            (Some(cores), None) => Some(CoreSpec::PerNode(self.count(
                cores,
                "cluster.cores_per_node",
                1,
            )?)),
            (None, Some(hosts)) => {
                let h = hosts.get_ref();
                let count = self.count(&h.count, "cluster.hosts.count", 1);
                let cores = self.count(&h.cores, "cluster.hosts.cores", 1);
                Some(CoreSpec::Shared {
                    hosts: count?,
                    cores: cores?,
                })
            }
            (Some(cores), Some(_)) => {
                self.error(
                    cores.span(),
                    "cores_per_node and [cluster.hosts] both say where the nodes' cores are: keep one (cores_per_node gives every node a host of its own; [cluster.hosts] lets nodes share hosts)",
                );
                None
            }
        }
    }
}
