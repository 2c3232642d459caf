//! A queueing station: `workers` servers in front of a queue. Jobs are plain indices; the
//! caller draws service times and schedules completions, the station only decides who is
//! served next: first-in first-out, or per-tenant fair queueing (round robin over tenants
//! with waiting jobs, FIFO within a tenant), the two disciplines a shared proxy may use.

use std::collections::VecDeque;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Scheduling {
    Fifo,
    Fair,
}

impl Scheduling {
    pub fn name(self) -> &'static str {
        match self {
            Scheduling::Fifo => "fifo",
            Scheduling::Fair => "fair",
        }
    }
}

impl std::fmt::Display for Scheduling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What happens to an arriving job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// A worker was free: start serving it now.
    Start,
    /// All workers busy: it waits.
    Queued,
    /// The queue is full: it is turned away.
    Dropped,
}

#[derive(Debug, Clone)]
pub struct Station {
    workers: u32,
    busy: u32,
    scheduling: Scheduling,
    max_queue: u32,
    queued: u32,
    fifo: VecDeque<u32>,
    /// Fair queueing: one FIFO per tenant, in order of first appearance.
    tenants: Vec<(u32, VecDeque<u32>)>,
    next_tenant: usize,
    /// Total service time started here, for utilisation.
    pub busy_ns: u64,
    pub arrivals: u64,
    pub dropped: u64,
    pub max_queued: u32,
}

impl Station {
    pub fn new(workers: u32, scheduling: Scheduling, max_queue: u32) -> Self {
        Station {
            workers: workers.max(1),
            busy: 0,
            scheduling,
            max_queue,
            queued: 0,
            fifo: VecDeque::new(),
            tenants: Vec::new(),
            next_tenant: 0,
            busy_ns: 0,
            arrivals: 0,
            dropped: 0,
            max_queued: 0,
        }
    }

    pub fn workers(&self) -> u32 {
        self.workers
    }

    pub fn arrive(&mut self, job: u32, tenant: u32) -> Admission {
        self.arrivals += 1;
        if self.busy < self.workers {
            self.busy += 1;
            return Admission::Start;
        }
        if self.queued >= self.max_queue {
            self.dropped += 1;
            return Admission::Dropped;
        }
        self.queued += 1;
        self.max_queued = self.max_queued.max(self.queued);
        match self.scheduling {
            Scheduling::Fifo => self.fifo.push_back(job),
            Scheduling::Fair => match self.tenants.iter_mut().find(|(t, _)| *t == tenant) {
                Some((_, q)) => q.push_back(job),
                None => self.tenants.push((tenant, VecDeque::from([job]))),
            },
        }
        Admission::Queued
    }

    /// A worker finished; returns the job it starts next, if any waits.
    pub fn finish(&mut self) -> Option<u32> {
        let next = match self.scheduling {
            Scheduling::Fifo => self.fifo.pop_front(),
            Scheduling::Fair => self.next_fair(),
        };
        match next {
            Some(job) => {
                self.queued -= 1;
                Some(job)
            }
            None => {
                self.busy -= 1;
                None
            }
        }
    }

    fn next_fair(&mut self) -> Option<u32> {
        let n = self.tenants.len();
        for i in 0..n {
            let k = (self.next_tenant + i) % n;
            if let Some(job) = self.tenants[k].1.pop_front() {
                self.next_tenant = (k + 1) % n;
                return Some(job);
            }
        }
        None
    }

    pub fn record_service(&mut self, ns: u64) {
        self.busy_ns += ns;
    }

    /// Busy time over available worker time.
    pub fn utilisation(&self, duration_ns: u64) -> f64 {
        if duration_ns == 0 {
            return 0.0;
        }
        self.busy_ns as f64 / (self.workers as f64 * duration_ns as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_serves_in_arrival_order_and_drops_past_the_limit() {
        let mut s = Station::new(1, Scheduling::Fifo, 2);
        assert_eq!(s.arrive(1, 0), Admission::Start);
        assert_eq!(s.arrive(2, 0), Admission::Queued);
        assert_eq!(s.arrive(3, 0), Admission::Queued);
        assert_eq!(s.arrive(4, 0), Admission::Dropped);
        assert_eq!(s.finish(), Some(2));
        assert_eq!(s.finish(), Some(3));
        assert_eq!(s.finish(), None);
        assert_eq!(s.arrive(5, 0), Admission::Start);
    }

    #[test]
    fn fair_queueing_alternates_between_tenants() {
        let mut s = Station::new(1, Scheduling::Fair, 100);
        assert_eq!(s.arrive(0, 7), Admission::Start);
        // A burst from tenant 1, then one job from tenant 2.
        for job in 1..=4 {
            s.arrive(job, 1);
        }
        s.arrive(10, 2);
        let order: Vec<u32> = std::iter::from_fn(|| s.finish()).collect();
        assert_eq!(order, vec![1, 10, 2, 3, 4]);
    }
}
