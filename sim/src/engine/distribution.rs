//! Distributions of service times, network times and payload sizes. All means are in the
//! unit the caller uses (nanoseconds for times, bytes for sizes).

use super::SimRng;
use rand::Rng;
use rand_distr::Distribution as _;

#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    /// Always the same value.
    Deterministic(f64),
    /// Exponential with this mean (memoryless: M/M/c service).
    Exponential { mean: f64 },
    /// Log-normal with this mean and shape σ (the standard deviation of the log).
    Lognormal { mean: f64, sigma: f64 },
    /// An empirical histogram: `(value, cumulative probability)` pairs, increasing; a draw
    /// picks a bucket by its probability and interpolates linearly inside it.
    Empirical { points: Vec<(f64, f64)> },
}

impl Distribution {
    /// One draw. Drawing many from the same distribution is cheaper through [`Self::sampler`].
    pub fn sample(&self, rng: &mut SimRng) -> f64 {
        match self {
            // Not through a sampler, which would copy the points.
            Distribution::Empirical { points } => sample_empirical(points, rng),
            _ => self.sampler().sample(rng),
        }
    }

    pub fn mean(&self) -> f64 {
        match self {
            Distribution::Deterministic(v) => *v,
            Distribution::Exponential { mean } | Distribution::Lognormal { mean, .. } => *mean,
            Distribution::Empirical { points } => {
                points
                    .windows(2)
                    .map(|w| (w[0].0 + w[1].0) / 2.0 * (w[1].1 - w[0].1))
                    .sum::<f64>()
                    + points.first().map_or(0.0, |p| p.0 * p.1)
            }
        }
    }

    /// The same shape scaled by `factor` (used to apply a measured histogram's shape to a
    /// different mean, or to convert units).
    pub fn scaled(&self, factor: f64) -> Distribution {
        match self {
            Distribution::Deterministic(v) => Distribution::Deterministic(v * factor),
            Distribution::Exponential { mean } => Distribution::Exponential {
                mean: mean * factor,
            },
            Distribution::Lognormal { mean, sigma } => Distribution::Lognormal {
                mean: mean * factor,
                sigma: *sigma,
            },
            Distribution::Empirical { points } => Distribution::Empirical {
                points: points.iter().map(|&(v, p)| (v * factor, p)).collect(),
            },
        }
    }
}

/// A distribution prepared for drawing many times: the log-normal's location is computed
/// once instead of on every draw (a `ln` per draw on the simulation's hot path).
#[derive(Debug, Clone)]
pub enum Sampler {
    Deterministic(f64),
    Exponential { mean: f64 },
    Lognormal { mu: f64, sigma: f64 },
    Empirical(Vec<(f64, f64)>),
}

impl Distribution {
    pub fn sampler(&self) -> Sampler {
        match self {
            Distribution::Deterministic(v) => Sampler::Deterministic(*v),
            Distribution::Exponential { mean } => Sampler::Exponential { mean: *mean },
            // A shape that is no number (the config refuses one) always gives the mean.
            Distribution::Lognormal { mean, sigma } if !sigma.is_finite() => {
                Sampler::Deterministic(*mean)
            }
            Distribution::Lognormal { mean, sigma } => Sampler::Lognormal {
                mu: mean.ln() - sigma * sigma / 2.0,
                sigma: *sigma,
            },
            Distribution::Empirical { points } => Sampler::Empirical(points.clone()),
        }
    }
}

impl Sampler {
    pub fn sample(&self, rng: &mut SimRng) -> f64 {
        match self {
            Sampler::Deterministic(v) => *v,
            // Inverse transform: -mean × ln(U), U in (0, 1].
            Sampler::Exponential { mean } => -mean * (1.0 - rng.gen::<f64>()).ln(),
            // exp(N(mu, sigma)), as rand_distr's LogNormal draws it.
            Sampler::Lognormal { mu, sigma } => {
                let z: f64 = rand_distr::StandardNormal.sample(rng);
                (mu + sigma * z).exp()
            }
            Sampler::Empirical(points) => sample_empirical(points, rng),
        }
    }
}

/// Picks a bucket of `(value, cumulative probability)` points by its probability and
/// interpolates linearly inside it.
fn sample_empirical(points: &[(f64, f64)], rng: &mut SimRng) -> f64 {
    let u: f64 = rng.gen();
    let i = points.partition_point(|&(_, p)| p < u);
    if i == 0 {
        return points[0].0;
    }
    let Some(&(v1, p1)) = points.get(i) else {
        return points[points.len() - 1].0;
    };
    let (v0, p0) = points[i - 1];
    v0 + (v1 - v0) * ((u - p0) / (p1 - p0).max(f64::MIN_POSITIVE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn mean_of(d: &Distribution) -> f64 {
        let mut rng = SimRng::seed_from_u64(9);
        let n = 200_000;
        (0..n).map(|_| d.sample(&mut rng)).sum::<f64>() / n as f64
    }

    #[test]
    fn sample_means_match_the_stated_means() {
        for d in [
            Distribution::Deterministic(5.0),
            Distribution::Exponential { mean: 100.0 },
            Distribution::Lognormal {
                mean: 100.0,
                sigma: 0.5,
            },
            Distribution::Empirical {
                points: vec![(10.0, 0.0), (20.0, 0.5), (40.0, 1.0)],
            },
        ] {
            let m = mean_of(&d);
            assert!((m - d.mean()).abs() / d.mean() < 0.01, "{d:?}: {m}");
        }
    }

    #[test]
    fn prepared_samplers_keep_the_means() {
        for d in [
            Distribution::Exponential { mean: 100.0 },
            Distribution::Lognormal {
                mean: 100.0,
                sigma: 0.6,
            },
        ] {
            let s = d.sampler();
            let mut rng = SimRng::seed_from_u64(2);
            let m = (0..200_000).map(|_| s.sample(&mut rng)).sum::<f64>() / 200_000.0;
            assert!((m - 100.0).abs() < 1.0, "{d:?}: {m}");
        }
    }

    #[test]
    fn empirical_draws_stay_inside_the_histogram() {
        let d = Distribution::Empirical {
            points: vec![(10.0, 0.1), (20.0, 0.9), (40.0, 1.0)],
        };
        let mut rng = SimRng::seed_from_u64(1);
        for _ in 0..10_000 {
            let v = d.sample(&mut rng);
            assert!((10.0..=40.0).contains(&v), "{v}");
        }
    }
}
