//! `traffic.scale`: every rate of the scenario multiplied by one number, so that a sweep (or a
//! user) can turn the whole load up or down without touching each service's own rate. Applied
//! once the cluster is built, to each service's resolved rate (the short form's and the listed
//! services' alike); a scaled rate must still be in `rps_per_pod`'s range.
//!
//! Request types (`[[request]]`) have their `rate` multiplied too; the services' rates they
//! gave at build are among the services' rates multiplied here.

use super::Resolver;
use crate::cluster::Cluster;
use crate::config::ranges;
use crate::config::raw::RawScenario;

impl Resolver {
    pub(super) fn scale_rates(&mut self, raw: &RawScenario, cluster: &mut Cluster, scale: f64) {
        if scale == 1.0 {
            return;
        }
        let Some(at) = raw.traffic.scale.as_ref().map(|s| s.span()) else {
            return;
        };
        if let Some(requests) = &mut cluster.requests {
            for t in &mut requests.types {
                t.rate *= scale;
            }
        }
        let mut too_fast = Vec::new();
        for service in &mut cluster.services {
            service.rps_per_pod *= scale;
            if !ranges::SERVICE_RPS_PER_POD
                .range
                .contains(service.rps_per_pod)
            {
                too_fast.push(format!(
                    "`{}` at {}",
                    service.name,
                    ranges::shown(service.rps_per_pod)
                ));
            }
        }
        if !too_fast.is_empty() {
            let shown: Vec<&str> = too_fast.iter().take(5).map(String::as_str).collect();
            self.error(
                at,
                format!(
                    "traffic.scale = {} takes {} service(s) past rps_per_pod's range ({}): {}{}",
                    ranges::shown(scale),
                    too_fast.len(),
                    ranges::SERVICE_RPS_PER_POD.range,
                    shown.join(", "),
                    if too_fast.len() > shown.len() {
                        ", …"
                    } else {
                        ""
                    }
                ),
            );
        }
    }
}
