//! A queueing station: `workers` servers in front of a queue. Jobs are plain indices; the
//! caller draws service times and schedules completions, the station only decides who is
//! served next: first-in first-out, or per-tenant fair queueing (round robin over tenants
//! with waiting jobs, FIFO within a tenant), the two disciplines a shared proxy may use.

use std::collections::VecDeque;

#[derive(
    Debug,
    Default,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Scheduling {
    #[default]
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

/// Kept small (32 bytes, two to a cache line): a call's visit touches its station at random
/// among thousands (one per sidecar), and the fewer cache lines they span the fewer of those
/// visits miss. A visit that neither waits nor is dropped touches only these fields; the rest
/// (discipline, queues, drop and queue-length counts) lives apart in [`Backlog`].
#[derive(Debug, Clone)]
pub struct Station {
    workers: u32,
    busy: u32,
    max_queue: u32,
    queued: u32,
    /// Total service time started here, for utilisation.
    pub busy_ns: u64,
    backlog: Box<Backlog>,
}

/// What a station needs only when all its workers are busy.
#[derive(Debug, Clone)]
struct Backlog {
    scheduling: Scheduling,
    max_queued: u32,
    dropped: u64,
    fifo: VecDeque<u32>,
    /// Fair queueing: one FIFO per tenant, in order of first appearance.
    tenants: Vec<(u32, VecDeque<u32>)>,
    next_tenant: usize,
}

impl Backlog {
    fn push(&mut self, job: u32, tenant: u32) {
        match self.scheduling {
            Scheduling::Fifo => self.fifo.push_back(job),
            Scheduling::Fair => match self.tenants.iter_mut().find(|(t, _)| *t == tenant) {
                Some((_, q)) => q.push_back(job),
                None => self.tenants.push((tenant, VecDeque::from([job]))),
            },
        }
    }

    fn pop(&mut self) -> Option<u32> {
        match self.scheduling {
            Scheduling::Fifo => self.fifo.pop_front(),
            Scheduling::Fair => {
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
        }
    }
}

impl Station {
    pub fn new(workers: u32, scheduling: Scheduling, max_queue: u32) -> Self {
        Station {
            workers: workers.max(1),
            busy: 0,
            max_queue,
            queued: 0,
            busy_ns: 0,
            backlog: Box::new(Backlog {
                scheduling,
                max_queued: 0,
                dropped: 0,
                fifo: VecDeque::new(),
                tenants: Vec::new(),
                next_tenant: 0,
            }),
        }
    }

    /// What one idle station takes in memory (its waiting requests come on top).
    pub const BYTES: usize = std::mem::size_of::<Station>() + std::mem::size_of::<Backlog>();

    pub fn workers(&self) -> u32 {
        self.workers
    }

    /// Jobs turned away because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.backlog.dropped
    }

    /// The longest the queue has been.
    /// Jobs waiting now (not those in service).
    pub fn queued(&self) -> u32 {
        self.queued
    }

    pub fn max_queued(&self) -> u32 {
        self.backlog.max_queued
    }

    pub fn arrive(&mut self, job: u32, tenant: u32) -> Admission {
        if self.busy < self.workers {
            self.busy += 1;
            return Admission::Start;
        }
        if self.queued >= self.max_queue {
            self.backlog.dropped += 1;
            return Admission::Dropped;
        }
        self.queued += 1;
        self.backlog.max_queued = self.backlog.max_queued.max(self.queued);
        self.backlog.push(job, tenant);
        Admission::Queued
    }

    /// A worker finished; returns the job it starts next, if any waits.
    pub fn finish(&mut self) -> Option<u32> {
        if self.queued == 0 {
            self.busy -= 1;
            return None;
        }
        let next = self.backlog.pop();
        debug_assert!(next.is_some(), "{} queued but none waiting", self.queued);
        self.queued -= 1;
        next
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
    fn two_stations_fit_in_a_cache_line() {
        assert!(std::mem::size_of::<Station>() <= 32);
    }

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
