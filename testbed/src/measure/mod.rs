//! What the mesh's processes used over a measured window: each process's CPU time (started
//! and stopped around the window) and peak resident memory, then totals per process kind
//! (workload, sidecar, node proxy, waypoint, agent) and per node.
//!
//! CPU comes from /proc (`process.rs`): cgroup v2 here has no memory controller (this
//! machine's hybrid layout mounts it at /sys/fs/cgroup/unified with only `hugetlb`), so peak
//! memory is each process's VmHWM, and CPU is per process rather than per cgroup. The kernel's
//! own work on a packet (softirq, the eBPF programs) is charged to whichever process was on
//! the CPU, so it is not attributed here.

pub mod process;

use std::{collections::BTreeMap, time::Instant};

use serde::{Deserialize, Serialize};

/// A process to measure, with what it is and where it runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watched {
    pub pid: u32,
    /// workload, sidecar, node-proxy, waypoint, agent.
    pub kind: String,
    pub node: String,
    pub pod: Option<String>,
}

/// What one process used over the window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcessUsage {
    #[serde(flatten)]
    pub process: Watched,
    pub cpu_seconds: f64,
    /// CPU seconds per second of the window.
    pub cpu_cores: f64,
    pub peak_rss_bytes: u64,
    pub rss_bytes: u64,
}

/// Totals over the processes of one kind or one node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageTotals {
    pub processes: usize,
    pub cpu_cores: f64,
    pub peak_rss_bytes_total: u64,
    pub peak_rss_bytes_max: u64,
}

/// Everything measured over one window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub window_s: f64,
    pub processes: Vec<ProcessUsage>,
    pub by_kind: BTreeMap<String, UsageTotals>,
    pub by_node: BTreeMap<String, UsageTotals>,
    /// Processes that ended during the window (their figures are missing).
    pub vanished: Vec<u32>,
}

/// CPU counters taken at the start of a window.
pub struct Window {
    started: Instant,
    start: Vec<(Watched, Option<u64>)>,
}

impl Window {
    pub fn start(processes: &[Watched]) -> Self {
        let start = processes
            .iter()
            .map(|p| (p.clone(), process::cpu_ns(p.pid).ok()))
            .collect();
        Self {
            started: Instant::now(),
            start,
        }
    }

    /// Reads the counters again and returns what each process used since `start`.
    pub fn finish(self) -> Usage {
        let window_s = self.started.elapsed().as_secs_f64();
        let mut usage = Usage {
            window_s,
            ..Usage::default()
        };
        for (watched, before) in self.start {
            let after = process::cpu_ns(watched.pid).ok();
            let memory = process::memory_bytes(watched.pid).ok();
            let (Some(before), Some(after), Some((peak, rss))) = (before, after, memory) else {
                usage.vanished.push(watched.pid);
                continue;
            };
            let cpu_seconds = after.saturating_sub(before) as f64 / 1e9;
            usage.processes.push(ProcessUsage {
                process: watched,
                cpu_seconds,
                cpu_cores: cpu_seconds / window_s,
                peak_rss_bytes: peak,
                rss_bytes: rss,
            });
        }
        for p in &usage.processes {
            for (map, key) in [
                (&mut usage.by_kind, &p.process.kind),
                (&mut usage.by_node, &p.process.node),
            ] {
                let totals = map.entry(key.clone()).or_default();
                totals.processes += 1;
                totals.cpu_cores += p.cpu_cores;
                totals.peak_rss_bytes_total += p.peak_rss_bytes;
                totals.peak_rss_bytes_max = totals.peak_rss_bytes_max.max(p.peak_rss_bytes);
            }
        }
        usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two real processes, one busy and one asleep: the busy one shows about a core, the other
    /// about none, and both are grouped by kind and node.
    #[test]
    fn a_busy_and_an_idle_process_are_told_apart() {
        let mut busy = std::process::Command::new("/bin/sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        let mut idle = std::process::Command::new("/bin/sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let watched = [
            Watched {
                pid: busy.id(),
                kind: "sidecar".into(),
                node: "node-0".into(),
                pod: Some("a".into()),
            },
            Watched {
                pid: idle.id(),
                kind: "workload".into(),
                node: "node-0".into(),
                pod: Some("a".into()),
            },
        ];
        let window = Window::start(&watched);
        std::thread::sleep(std::time::Duration::from_millis(500));
        let usage = window.finish();
        let _ = busy.kill();
        let _ = idle.kill();
        let _ = busy.wait();
        let _ = idle.wait();
        assert!(usage.vanished.is_empty());
        // Busy wants a whole core, but a shared machine may give it only a part of one.
        let (busy, idle) = (&usage.by_kind["sidecar"], &usage.by_kind["workload"]);
        assert!(busy.cpu_cores > 0.05, "{usage:?}");
        assert!(idle.cpu_cores < 0.02, "{usage:?}");
        assert_eq!(usage.by_node["node-0"].processes, 2);
        assert!(usage.by_kind["workload"].peak_rss_bytes_max > 0);
    }
}
