//! `cores_per_node` and `[cluster.hosts]`: where the nodes' CPU is (`cluster::cores`).

use super::Resolver;
use crate::cluster::build::CoreSpec;
use crate::config::ranges;
use crate::config::raw::RawCluster;

impl Resolver {
    /// Cores per node, or hosts the nodes share; one of the two, or neither (not simulated).
    pub(super) fn cores(&mut self, c: &RawCluster) -> Option<CoreSpec> {
        match (&c.cores_per_node, &c.hosts) {
            (None, None) => Some(CoreSpec::Unlimited),
            (Some(cores), None) => Some(CoreSpec::PerNode(
                self.integer32(cores, &ranges::CORES_PER_NODE)?,
            )),
            (None, Some(hosts)) => {
                let h = hosts.get_ref();
                let count = self.integer32(&h.count, &ranges::HOSTS_COUNT);
                let cores = self.integer32(&h.cores, &ranges::HOSTS_CORES);
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
