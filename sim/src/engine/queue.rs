//! The event queue: a binary heap keyed on (time, sequence number). The sequence number makes
//! events scheduled for the same time pop in the order they were scheduled, so a run never
//! depends on the heap's internal order.

use super::SimTime;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

struct Entry<E> {
    time: u64,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Entry<E> {
    /// Time and sequence as one number, compared in one go rather than field by field.
    #[inline(always)]
    fn key(&self) -> u128 {
        (u128::from(self.time) << 64) | u128::from(self.seq)
    }
}

impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<Entry<E>>>,
    next_seq: u64,
    now: SimTime,
    popped: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
            now: SimTime(0),
            popped: 0,
        }
    }

    /// Schedules `event` at `time`. A time in the past is a bug of the caller (as in nexosim,
    /// where it is an error): debug builds, the tests among them, stop on it; release builds
    /// run the event now, as events never run backwards.
    pub fn schedule(&mut self, time: SimTime, event: E) {
        debug_assert!(
            time >= self.now,
            "event scheduled at {} ns, before now ({} ns)",
            time.0,
            self.now.0
        );
        let time = time.max(self.now).0;
        self.heap.push(Reverse(Entry {
            time,
            seq: self.next_seq,
            event,
        }));
        self.next_seq += 1;
    }

    /// The next event, advancing the clock to its time.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let Reverse(entry) = self.heap.pop()?;
        self.now = SimTime(entry.time);
        self.popped += 1;
        Some((self.now, entry.event))
    }

    pub fn now(&self) -> SimTime {
        self.now
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Events processed so far.
    pub fn popped(&self) -> u64 {
        self.popped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_order_and_fifo_among_equal_times() {
        let mut q = EventQueue::new();
        for (t, e) in [(5, 'a'), (1, 'b'), (5, 'c'), (3, 'd'), (5, 'e'), (1, 'f')] {
            q.schedule(SimTime(t), e);
        }
        let order: String = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, "bfdace");
        assert_eq!(q.popped(), 6);
        assert_eq!(q.now(), SimTime(5));
    }

    #[test]
    fn pops_what_a_sort_by_time_then_sequence_gives() {
        use rand::{Rng, SeedableRng};
        let mut rng = crate::engine::SimRng::seed_from_u64(7);
        let mut q = EventQueue::new();
        let mut expected = Vec::new();
        let mut seq = 0u32;
        // Interleaved pushes and pops, with many equal times, against a sorted reference.
        for round in 0..2000 {
            for _ in 0..rng.gen_range(0..4) {
                let t = q.now().0 + rng.gen_range(0..20);
                q.schedule(SimTime(t), seq);
                expected.push((t, seq));
                seq += 1;
            }
            if round % 3 != 0 {
                expected.sort();
                if let Some(popped) = q.pop() {
                    assert_eq!((popped.0 .0, popped.1), expected.remove(0));
                }
            }
        }
        expected.sort();
        let rest: Vec<(u64, u32)> = std::iter::from_fn(|| q.pop().map(|(t, e)| (t.0, e))).collect();
        assert_eq!(rest, expected);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "before now")]
    fn the_past_stops_a_debug_build() {
        let mut q = EventQueue::new();
        q.schedule(SimTime(10), 1);
        q.pop();
        q.schedule(SimTime(3), 2);
    }

    #[test]
    #[cfg(not(debug_assertions))]
    fn the_past_runs_now_in_a_release_build() {
        let mut q = EventQueue::new();
        q.schedule(SimTime(10), 1);
        q.pop();
        q.schedule(SimTime(3), 2);
        assert_eq!(q.pop(), Some((SimTime(10), 2)));
    }
}
