//! Latency histograms with the same bounds (one per service, one per proxy kind; a set of one
//! for end to end and for hops), recorded the way the event loop needs: fast, and predictable
//! enough to prefetch.
//!
//! Counters are 16 bits, all members in one flat array, so a record is an index computation, an
//! increment and a count towards the next fold: no per-member header to load, and narrower
//! counters halve what the members span (hundreds of them do not fit in the cache together).
//! Before a member's counters could overflow (65,535 records) they are folded into its 64-bit
//! histogram and cleared. Because the index of a value is computed here, the loop can also
//! prefetch a counter when it learns the value, events before it records it.
//!
//! The buckets are HdrHistogram's: bucket `b` of a histogram with `2^(h+1)` sub-buckets and unit
//! `2^u` holds the values with the same top `h + 1` bits above bit `b + u`. Folding records each
//! bucket's lowest value, which lands in the same bucket of the 64-bit histogram, so bucket for
//! bucket the result is what recording into it directly would give (a test checks this).

use super::histogram::{Bounds, LatencyHistogram};
use super::prefetch::prefetch;

#[derive(Debug, Clone)]
pub struct HistogramSet {
    layout: Layout,
    /// `members × layout.len` counters, member by member.
    recent: Vec<u16>,
    /// Records into `recent` since the member's last fold.
    since_fold: Vec<u16>,
    /// Made at a member's first fold: most members of a run never fill their 16-bit counters,
    /// and hundreds of empty 64-bit histograms would be tens of megabytes to allocate.
    folded: Vec<Option<LatencyHistogram>>,
    bounds: Bounds,
}

/// HdrHistogram's bucket layout for one set of bounds.
#[derive(Debug, Clone, Copy)]
struct Layout {
    /// Values below `2^unit_magnitude` share the first sub-bucket.
    unit_magnitude: u32,
    /// Each bucket past the first has `2^half_magnitude` sub-buckets.
    half_magnitude: u32,
    /// Makes every value at least as long as the first bucket's top, so that small values get
    /// bucket 0 from the same leading-zeros formula.
    first_bucket_mask: u64,
    leading_zeros_base: u32,
    /// Counters per member.
    len: usize,
    /// Where values past the last counter go: the highest trackable value's.
    clamp_index: usize,
}

impl Layout {
    fn new(bounds: Bounds, len: usize) -> Self {
        let unit_magnitude = bounds.low.ilog2();
        // The sub-bucket count is the power of two that resolves `digits` decimal digits.
        let sub_buckets = (2 * 10u64.pow(u32::from(bounds.digits))).next_power_of_two();
        let half_magnitude = sub_buckets.ilog2() - 1;
        let mut layout = Layout {
            unit_magnitude,
            half_magnitude,
            first_bucket_mask: (sub_buckets - 1) << unit_magnitude,
            leading_zeros_base: 64 - unit_magnitude - (half_magnitude + 1),
            len,
            clamp_index: 0,
        };
        layout.clamp_index = layout.raw_index(bounds.high);
        layout
    }

    #[inline(always)]
    fn raw_index(&self, value: u64) -> usize {
        let bucket = self.leading_zeros_base - (value | self.first_bucket_mask).leading_zeros();
        let sub_bucket = (value >> (bucket + self.unit_magnitude)) as usize;
        // Past bucket 0 only the upper half of the sub-buckets is used.
        ((bucket as usize) << self.half_magnitude) + sub_bucket
    }

    #[inline(always)]
    fn index(&self, value: u64) -> usize {
        let i = self.raw_index(value.max(1));
        if i < self.len {
            i
        } else {
            self.clamp_index
        }
    }

    /// The lowest value of the bucket at `index`.
    fn value(&self, index: usize) -> u64 {
        let half = 1usize << self.half_magnitude;
        let bucket = (index >> self.half_magnitude).saturating_sub(1);
        let sub_bucket = index - (bucket << self.half_magnitude);
        debug_assert!(bucket == 0 || sub_bucket >= half);
        (sub_bucket as u64) << (bucket as u32 + self.unit_magnitude)
    }
}

impl HistogramSet {
    pub fn new(members: usize, bounds: Bounds) -> Self {
        let empty = LatencyHistogram::with_bounds(bounds);
        let layout = Layout::new(bounds, empty.inner().distinct_values());
        HistogramSet {
            layout,
            recent: vec![0; members * layout.len],
            since_fold: vec![0; members],
            folded: vec![None; members],
            bounds,
        }
    }

    /// What each member of a set with these bounds takes in memory while recording.
    pub fn bytes_per_member(bounds: Bounds) -> usize {
        let counters = LatencyHistogram::with_bounds(bounds)
            .inner()
            .distinct_values();
        counters * std::mem::size_of::<u16>()
            + std::mem::size_of::<u16>()
            + std::mem::size_of::<Option<LatencyHistogram>>()
    }

    #[inline(always)]
    fn slot(&self, member: usize, ns: u64) -> usize {
        member * self.layout.len + self.layout.index(ns)
    }

    #[inline]
    pub fn record_ns(&mut self, member: usize, ns: u64) {
        let slot = self.slot(member, ns);
        // Fewer than 65,535 records since the member's last fold: no counter can saturate.
        self.recent[slot] += 1;
        self.since_fold[member] += 1;
        if self.since_fold[member] == u16::MAX {
            self.fold(member);
        }
    }

    /// Starts loading the counter `record_ns(member, ns)` will increment.
    #[inline]
    pub fn prefetch(&self, member: usize, ns: u64) {
        prefetch(&self.recent[self.slot(member, ns)]);
    }

    #[cold]
    fn fold(&mut self, member: usize) {
        let counters = &mut self.recent[member * self.layout.len..][..self.layout.len];
        let bounds = self.bounds;
        let folded =
            self.folded[member].get_or_insert_with(|| LatencyHistogram::with_bounds(bounds));
        add_counters(folded, &self.layout, counters);
        counters.fill(0);
        self.since_fold[member] = 0;
    }

    /// Everything member `member` recorded.
    pub fn histogram(&self, member: usize) -> LatencyHistogram {
        let mut all = self.folded[member]
            .clone()
            .unwrap_or_else(|| LatencyHistogram::with_bounds(self.bounds));
        let counters = &self.recent[member * self.layout.len..][..self.layout.len];
        add_counters(&mut all, &self.layout, counters);
        all
    }
}

fn add_counters(into: &mut LatencyHistogram, layout: &Layout, counters: &[u16]) {
    for (index, &count) in counters.iter().enumerate() {
        if count > 0 {
            into.record_ns_n(layout.value(index), u64::from(count));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Recording through the set gives, bucket for bucket, the histogram that recording
    /// directly would: over the whole range, at bucket edges, below the floor and past the top.
    #[test]
    fn buckets_match_hdrhistogram() {
        for bounds in [Bounds::PRECISE, Bounds::COMPACT] {
            let mut rng = crate::engine::SimRng::seed_from_u64(3);
            let mut set = HistogramSet::new(2, bounds);
            let mut direct = LatencyHistogram::with_bounds(bounds);
            let mut values: Vec<u64> = (0..200_000)
                .map(|_| {
                    let magnitude = rng.gen_range(0..40);
                    rng.gen_range(0..=1u64 << magnitude)
                })
                .collect();
            for shift in 0..64 {
                let edge = 1u64 << shift;
                values.extend([edge - 1, edge, edge + 1]);
            }
            values.extend([0, 99, 100, bounds.high, bounds.high + 1, u64::MAX]);
            for &v in &values {
                set.record_ns(1, v);
                direct.record_ns(v);
            }
            let from_set = set.histogram(1);
            assert_eq!(from_set.count(), values.len() as u64);
            assert_eq!(set.histogram(0).count(), 0);
            let buckets = |h: &LatencyHistogram| -> Vec<(u64, u64)> {
                h.inner()
                    .iter_recorded()
                    .map(|b| (b.value_iterated_to(), b.count_at_value()))
                    .collect()
            };
            assert_eq!(buckets(&from_set), buckets(&direct), "{bounds:?}");
        }
    }

    #[test]
    fn folding_the_16_bit_counters_loses_nothing() {
        // Three folds and a remainder, with most values in a few buckets (16-bit counters
        // would saturate without the folds).
        let mut set = HistogramSet::new(3, Bounds::COMPACT);
        let mut direct = LatencyHistogram::compact();
        for i in 0..200_000u64 {
            let ns = if i % 10 == 0 { 1_000 + i * 37 } else { 250_000 };
            set.record_ns(2, ns);
            direct.record_ns(ns);
        }
        let h = set.histogram(2);
        assert_eq!(h.count(), 200_000);
        assert_eq!(h.percentiles(), direct.percentiles());
        assert_eq!(h.inner().mean(), direct.inner().mean());
    }
}
