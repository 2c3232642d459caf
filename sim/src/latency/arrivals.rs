//! Where requests from outside the mesh come from: one source per pod of every service nobody
//! in the mesh calls, at that pod's rate, Poisson, constant-rate or bursty on/off.

use crate::engine::{SimRng, SimTime};
use crate::traffic::ArrivalKind;
use rand::Rng;

/// On windows a bursty gap is walked through one by one before the rest are skipped at once:
/// enough that a source at a sensible rate never gets there.
const WINDOWS_WALKED: u32 = 16;
/// Later than any run (146 years): a bursty source whose next request would come after it
/// sends nothing more.
const NEVER_NS: u64 = 1 << 62;

#[derive(Debug, Clone)]
pub struct ArrivalSource {
    pub pod: u32,
    kind: ArrivalKind,
    /// Mean gap between requests, in ns.
    gap_ns: f64,
    /// Bursty: on and off windows (ns) and this source's phase within the cycle.
    on_ns: f64,
    off_ns: f64,
    phase_ns: f64,
}

impl ArrivalSource {
    pub fn new(
        pod: u32,
        kind: ArrivalKind,
        rps: f64,
        on_ms: f64,
        off_ms: f64,
        rng: &mut SimRng,
    ) -> Self {
        let cycle = (on_ms + off_ms) * 1e6;
        ArrivalSource {
            pod,
            kind,
            gap_ns: 1e9 / rps,
            on_ns: on_ms * 1e6,
            off_ns: off_ms * 1e6,
            phase_ns: rng.gen::<f64>() * cycle,
        }
    }

    /// The first request: a random offset so that sources do not start in lockstep.
    pub fn first(&self, rng: &mut SimRng) -> SimTime {
        match self.kind {
            ArrivalKind::Constant => SimTime(0).after(rng.gen::<f64>() * self.gap_ns),
            _ => self.next(SimTime(0), rng),
        }
    }

    pub fn next(&self, now: SimTime, rng: &mut SimRng) -> SimTime {
        let exponential = |rng: &mut SimRng, mean: f64| -mean * (1.0 - rng.gen::<f64>()).ln();
        match self.kind {
            ArrivalKind::Poisson => now.after(exponential(rng, self.gap_ns)),
            ArrivalKind::Constant => now.after(self.gap_ns),
            ArrivalKind::Bursty => {
                // Poisson over "on" time at the rate that keeps the mean.
                let cycle = self.on_ns + self.off_ns;
                let gap = exponential(rng, self.gap_ns * self.on_ns / cycle);
                self.after_on_time(now, gap)
            }
        }
    }

    /// The instant `gap` ns of on time after `now`: the gap is walked through the on windows,
    /// skipping the off ones. Past a few windows (a rate far below one request per window) the
    /// whole windows it still spans are skipped at once, so the time taken does not grow with
    /// the gap. In whole nanoseconds: in floating point a time of 10^17 ns absorbs the small
    /// step to the next window, and the walk never advanced (a file at 10^-8 requests per
    /// second hung).
    fn after_on_time(&self, now: SimTime, mut gap: f64) -> SimTime {
        let on = (self.on_ns.round() as u64).max(1);
        let cycle = ((self.on_ns + self.off_ns).round() as u64).max(on);
        let phase = self.phase_ns as u64 % cycle;
        let mut t = now.0;
        let mut windows = 0;
        loop {
            if t >= NEVER_NS {
                return SimTime(NEVER_NS);
            }
            let position = (t % cycle + phase) % cycle;
            if position >= on {
                // To the start of the next on window.
                t = t.saturating_add(cycle - position);
                if windows >= WINDOWS_WALKED && gap > on as f64 {
                    let whole = (gap / on as f64).ceil() - 1.0;
                    // A float to integer cast saturates: a gap of centuries lands at NEVER_NS.
                    t = t.saturating_add((whole * cycle as f64) as u64);
                    gap -= whole * on as f64;
                }
                continue;
            }
            let left = (on - position) as f64;
            if gap <= left {
                return SimTime(t).after(gap);
            }
            gap -= left;
            t = t.saturating_add(on - position);
            windows += 1;
        }
    }
}

/// All sources of a run. Poisson sources are superposed into one Poisson process at the sum
/// of their rates, each arrival going to a source with probability proportional to its rate:
/// the same process, with one pending event instead of one per source.
pub struct Arrivals {
    pooled_pods: Vec<u32>,
    /// Cumulative rates of the pooled sources; empty when they all have the same rate.
    pooled_cumulative: Vec<f64>,
    pooled_gap_ns: f64,
    others: Vec<ArrivalSource>,
}

/// The event id of the pooled Poisson process.
pub const POOLED: u32 = u32::MAX;

impl Arrivals {
    /// `sources`: (pod, kind, requests per second).
    pub fn new(
        sources: &[(u32, ArrivalKind, f64)],
        on_ms: f64,
        off_ms: f64,
        rng: &mut SimRng,
    ) -> Self {
        let mut pooled_pods = Vec::new();
        let mut rates = Vec::new();
        let mut others = Vec::new();
        for &(pod, kind, rps) in sources {
            if kind == ArrivalKind::Poisson {
                pooled_pods.push(pod);
                rates.push(rps);
            } else {
                others.push(ArrivalSource::new(pod, kind, rps, on_ms, off_ms, rng));
            }
        }
        let total: f64 = rates.iter().sum();
        let uniform = rates.windows(2).all(|w| w[0] == w[1]);
        let pooled_cumulative = if uniform {
            Vec::new()
        } else {
            rates
                .iter()
                .scan(0.0, |sum, r| {
                    *sum += r;
                    Some(*sum / total)
                })
                .collect()
        };
        Arrivals {
            pooled_pods,
            pooled_cumulative,
            pooled_gap_ns: if total > 0.0 {
                1e9 / total
            } else {
                f64::INFINITY
            },
            others,
        }
    }

    /// The first arrival of every process: (time, event id).
    pub fn first(&self, rng: &mut SimRng) -> Vec<(SimTime, u32)> {
        let mut first = Vec::new();
        if !self.pooled_pods.is_empty() {
            first.push((self.next_pooled(SimTime(0), rng), POOLED));
        }
        for (i, s) in self.others.iter().enumerate() {
            first.push((s.first(rng), i as u32));
        }
        first
    }

    fn next_pooled(&self, now: SimTime, rng: &mut SimRng) -> SimTime {
        now.after(-self.pooled_gap_ns * (1.0 - rng.gen::<f64>()).ln())
    }

    /// An arrival of process `id` at `now`: the pod it goes to and the process's next arrival.
    pub fn arrive(&self, id: u32, now: SimTime, rng: &mut SimRng) -> (u32, SimTime) {
        if id == POOLED {
            let i = if self.pooled_cumulative.is_empty() {
                rng.gen_range(0..self.pooled_pods.len())
            } else {
                let u: f64 = rng.gen();
                self.pooled_cumulative
                    .partition_point(|&c| c < u)
                    .min(self.pooled_pods.len() - 1)
            };
            (self.pooled_pods[i], self.next_pooled(now, rng))
        } else {
            let s = &self.others[id as usize];
            (s.pod, s.next(now, rng))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rate(kind: ArrivalKind) -> f64 {
        let mut rng = SimRng::seed_from_u64(3);
        let s = ArrivalSource::new(0, kind, 1000.0, 100.0, 900.0, &mut rng);
        let mut t = s.first(&mut rng);
        let mut n = 0;
        while t.0 < 100_000_000_000 {
            t = s.next(t, &mut rng);
            n += 1;
        }
        n as f64 / 100.0
    }

    #[test]
    fn every_kind_keeps_the_mean_rate() {
        for kind in [
            ArrivalKind::Poisson,
            ArrivalKind::Constant,
            ArrivalKind::Bursty,
        ] {
            let r = rate(kind);
            assert!((r - 1000.0).abs() < 15.0, "{kind:?}: {r}");
        }
    }

    /// At one request per thousand cycles a gap spans about 1,000 on windows: skipped at
    /// once, it still lands inside an on window, and the mean rate holds.
    #[test]
    fn a_bursty_source_far_below_one_request_per_window_keeps_its_rate_in_constant_time() {
        let mut rng = SimRng::seed_from_u64(5);
        let rate = 0.001; // per second, with a 1 s cycle
        let s = ArrivalSource::new(0, ArrivalKind::Bursty, rate, 100.0, 900.0, &mut rng);
        let mut t = s.first(&mut rng);
        let n = 20_000;
        for _ in 0..n {
            let position = (t.0 as f64 + s.phase_ns).rem_euclid(1e9);
            assert!(position <= 100e6 + 1.0, "{position}");
            t = s.next(t, &mut rng);
        }
        let measured = n as f64 / t.as_secs_f64();
        assert!(
            (measured / rate - 1.0).abs() < 0.05,
            "{measured} per second"
        );
        // 1e-8 per second: gaps of ~10^17 ns, found at once.
        let s = ArrivalSource::new(0, ArrivalKind::Bursty, 1e-8, 100.0, 900.0, &mut rng);
        let started = std::time::Instant::now();
        let t = s.next(SimTime(0), &mut rng);
        assert!(t.0 > 1_000_000_000_000_000, "{t:?}");
        assert!(started.elapsed().as_millis() < 100);
    }

    /// A one-millisecond window an hour apart at 10^-8 requests per second: the gap is
    /// ~10^17 ns, where a floating-point time could not step to the next window, and every
    /// source of a 5,000-node file hung in its first arrival.
    #[test]
    fn a_bursty_gap_of_years_with_short_windows_is_found_at_once() {
        let mut rng = SimRng::seed_from_u64(7);
        let started = std::time::Instant::now();
        for pod in 0..1000 {
            let s = ArrivalSource::new(pod, ArrivalKind::Bursty, 1e-8, 1.0, 3_600_000.0, &mut rng);
            let t = s.first(&mut rng);
            let position = (t.0 + s.phase_ns as u64) % 3_600_001_000_000;
            assert!(
                t.0 >= NEVER_NS || position <= 1_000_000,
                "{t:?} at {position}"
            );
        }
        assert!(started.elapsed().as_millis() < 500);
    }

    #[test]
    fn bursty_sends_only_during_on_windows() {
        let mut rng = SimRng::seed_from_u64(4);
        let s = ArrivalSource::new(0, ArrivalKind::Bursty, 1000.0, 100.0, 900.0, &mut rng);
        let mut t = s.first(&mut rng);
        for _ in 0..10_000 {
            let position = (t.0 as f64 + s.phase_ns).rem_euclid(1e9);
            assert!(position <= 100e6 + 1.0, "{position}");
            t = s.next(t, &mut rng);
        }
    }
}
