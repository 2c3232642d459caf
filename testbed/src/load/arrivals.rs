//! When each request is meant to be sent: an open-loop schedule that does not wait for
//! responses. Poisson (exponential gaps) or constant rate, from a seeded generator so a run can
//! be repeated; several targets share one superposed process, each arrival going to a target
//! in proportion to its share (as the simulator deals its arrivals).

use serde::{Deserialize, Serialize};

/// The arrival process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Arrivals {
    /// Exponential gaps around the rate: independent users.
    Poisson,
    /// One request every 1/rate seconds.
    Constant,
}

/// SplitMix64: small, fast, and the same sequence everywhere.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1]: never 0, so its logarithm is finite.
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
}

/// The intended send times, in ns after the start, and the target of each.
pub(crate) struct Schedule {
    arrivals: Arrivals,
    gap_ns: f64,
    /// Cumulative shares of the targets, ending at 1.
    cumulative: Vec<f64>,
    rng: SplitMix64,
    next_ns: f64,
    end_ns: u64,
}

impl Schedule {
    /// `rate` requests per second in total until `end_ns`, dealt to targets by `shares`.
    pub(crate) fn new(
        arrivals: Arrivals,
        rate: f64,
        shares: &[f64],
        end_ns: u64,
        seed: u64,
    ) -> Self {
        let total: f64 = shares.iter().sum();
        let mut sum = 0.0;
        let cumulative = shares
            .iter()
            .map(|s| {
                sum += s / total;
                sum
            })
            .collect();
        let mut schedule = Self {
            arrivals,
            gap_ns: 1e9 / rate,
            cumulative,
            rng: SplitMix64::new(seed),
            next_ns: 0.0,
            end_ns,
        };
        // The first arrival comes after one gap, like every other.
        schedule.next_ns = schedule.gap();
        schedule
    }

    fn gap(&mut self) -> f64 {
        match self.arrivals {
            Arrivals::Poisson => -self.rng.unit().ln() * self.gap_ns,
            Arrivals::Constant => self.gap_ns,
        }
    }

    /// The next arrival's time, without taking it; `None` once the schedule has ended.
    pub(crate) fn peek(&self) -> Option<u64> {
        let at = self.next_ns as u64;
        (at < self.end_ns).then_some(at)
    }

    /// Takes the next arrival: its time and its target.
    pub(crate) fn take(&mut self) -> Option<(u64, usize)> {
        let at = self.peek()?;
        let target = if self.cumulative.len() == 1 {
            0
        } else {
            let u = self.rng.unit();
            self.cumulative
                .iter()
                .position(|c| u <= *c)
                .unwrap_or(self.cumulative.len() - 1)
        };
        self.next_ns += self.gap();
        Some((at, target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(mut s: Schedule) -> Vec<(u64, usize)> {
        std::iter::from_fn(|| s.take()).collect()
    }

    #[test]
    fn constant_arrivals_are_evenly_spaced() {
        let times = drain(Schedule::new(
            Arrivals::Constant,
            1000.0,
            &[1.0],
            1_000_000_000,
            1,
        ));
        assert_eq!(
            times.len(),
            999,
            "1 ms apart, the first after 1 ms, before 1 s"
        );
        assert_eq!(times[0].0, 1_000_000);
        assert_eq!(times[1].0 - times[0].0, 1_000_000);
    }

    #[test]
    fn poisson_arrivals_have_the_rate_and_exponential_gaps() {
        let times = drain(Schedule::new(
            Arrivals::Poisson,
            10_000.0,
            &[1.0],
            10_000_000_000,
            7,
        ));
        let n = times.len() as f64;
        assert!(
            (n - 100_000.0).abs() < 1_500.0,
            "{n} arrivals in 10 s at 10k/s"
        );
        // An exponential's coefficient of variation is 1.
        let gaps: Vec<f64> = times.windows(2).map(|w| (w[1].0 - w[0].0) as f64).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        let cv = var.sqrt() / mean;
        assert!((cv - 1.0).abs() < 0.03, "coefficient of variation {cv}");
    }

    #[test]
    fn targets_get_their_shares() {
        let times = drain(Schedule::new(
            Arrivals::Poisson,
            10_000.0,
            &[1.0, 3.0],
            10_000_000_000,
            3,
        ));
        let second = times.iter().filter(|(_, t)| *t == 1).count() as f64 / times.len() as f64;
        assert!((second - 0.75).abs() < 0.01, "share {second}");
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let a = drain(Schedule::new(
            Arrivals::Poisson,
            5000.0,
            &[1.0, 1.0],
            100_000_000,
            9,
        ));
        let b = drain(Schedule::new(
            Arrivals::Poisson,
            5000.0,
            &[1.0, 1.0],
            100_000_000,
            9,
        ));
        assert_eq!(a, b);
    }
}
