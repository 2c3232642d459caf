//! The hosts' cores, where the scenario simulates them (`cluster::cores`). Processes on a
//! node share its host's cores:
//!
//! - a proxy's whole work on a request and an application's own work are jobs that queue for
//!   a core (FIFO, never full); a proxy worker waiting for a core stays taken;
//! - the kernel's work on each leg (the leg's time but the wire's latency) runs first, as
//!   softirq and system calls do: it never waits for a core, and it takes its share of the
//!   host's cores from the jobs, whose times stretch by `1 / (1 − kernel share)`, the share
//!   so far in the run. So a host saturates when proxies, applications and kernel together
//!   fill its cores, and kernel work costs latency only through what it takes from the rest.
//!
//! ```text
//! Reach proxy ─▶ worker ─▶ Core ─▶ a core: Served after the critical part, Freed after all
//! reach app   ─▶ Core ─▶ a core ─▶ CoreDone ─▶ its calls
//! leg         ─▶ (kernel time counted on the sender's host, the walk goes on)
//! ```

use crate::cluster::cores::Cores;
use crate::engine::{Scheduling, Station};

/// What a call's CPU job is for, so that the world knows how to go on when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuWork {
    /// The application's own work; then it issues its calls or answers.
    App,
    /// A proxy's work on the call (the call waits for `then_ns` of it, the worker for all).
    Proxy,
}

/// One job: where, how long on a core (before kernel work stretches it), and what follows.
#[derive(Debug, Clone, Copy)]
pub struct CpuJob {
    pub work: CpuWork,
    pub host: u32,
    /// Time on a core.
    pub ns: u64,
    /// The application's waiting time after its CPU; for a proxy, the part of `ns` the call
    /// waits for.
    pub then_ns: u64,
}

impl CpuJob {
    pub const NONE: CpuJob = CpuJob {
        work: CpuWork::App,
        host: 0,
        ns: 0,
        then_ns: 0,
    };
}

/// The kernel's share of a host is capped here, so that a job always ends (a host whose
/// kernel alone fills it shows as saturated anyway).
const MAX_KERNEL_SHARE: f64 = 0.95;

/// The hosts' cores as stations, the kernel's time on each, and which host each node is on.
pub struct HostCpus {
    pub hosts: Vec<Station>,
    kernel_ns: Vec<u64>,
    node_host: Vec<u32>,
}

impl HostCpus {
    pub fn new(cores: &Cores) -> Self {
        HostCpus {
            hosts: cores
                .host_cores
                .iter()
                .map(|&c| Station::new(c, Scheduling::Fifo, u32::MAX))
                .collect(),
            kernel_ns: vec![0; cores.hosts()],
            node_host: cores.node_host.clone(),
        }
    }

    pub fn host_of_node(&self, node: u32) -> u32 {
        self.node_host[node as usize]
    }

    /// The kernel spent `ns` on `host`.
    pub fn kernel(&mut self, host: u32, ns: u64) {
        self.kernel_ns[host as usize] += ns;
    }

    /// How much longer a job takes on `host` at `now` for the kernel's work, which comes
    /// first: `1 / (1 − kernel share so far)`.
    pub fn stretch(&self, host: u32, now: u64) -> f64 {
        let h = host as usize;
        let capacity = self.hosts[h].workers() as f64 * now.max(1) as f64;
        let share = (self.kernel_ns[h] as f64 / capacity).min(MAX_KERNEL_SHARE);
        1.0 / (1.0 - share)
    }

    /// Each host's utilisation over `duration_ns` (jobs and kernel), and cores busy in all.
    pub fn utilisation(&self, duration_ns: u64) -> (Vec<f64>, f64) {
        let busy: Vec<u64> = self
            .hosts
            .iter()
            .zip(&self.kernel_ns)
            .map(|(h, k)| h.busy_ns + k)
            .collect();
        let each = busy
            .iter()
            .zip(&self.hosts)
            .map(|(&b, h)| b as f64 / (h.workers() as f64 * duration_ns.max(1) as f64))
            .collect();
        let cores_busy = busy.iter().sum::<u64>() as f64 / duration_ns.max(1) as f64;
        (each, cores_busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_time_stretches_the_jobs_by_its_share() {
        let mut cpus = HostCpus::new(&Cores::shared(2, 1, 2));
        assert_eq!(cpus.stretch(0, 1_000), 1.0);
        // 500 ns of kernel over 2 cores × 1000 ns: a quarter of the host.
        cpus.kernel(0, 500);
        assert!((cpus.stretch(0, 1_000) - 4.0 / 3.0).abs() < 1e-12);
        cpus.kernel(0, 1_000_000);
        assert!(
            (cpus.stretch(0, 1_000) - 20.0).abs() < 1e-9,
            "capped at 95%"
        );
    }
}
