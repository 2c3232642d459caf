//! Log-normal jitter by table: 4096 quantiles of a mean-one log-normal, drawn by a random
//! index. It replaces an `exp` per draw on the simulation's hottest path (every kernel leg);
//! the price is a tail cut at the 0.99988 quantile of the per-leg jitter, far beyond what a
//! sum of legs and queues reports.

use super::SimRng;
use rand::RngCore;

const SIZE: usize = 4096;

#[derive(Debug, Clone)]
pub struct JitterTable {
    /// f32: the table is 16 KiB and stays in the first-level cache.
    factors: Box<[f32; SIZE]>,
}

impl JitterTable {
    /// Quantiles of exp(σZ − σ²/2), renormalised so that their mean is exactly 1.
    pub fn lognormal(sigma: f64) -> Self {
        let mut exact = [1.0f64; SIZE];
        if sigma > 0.0 {
            for (i, f) in exact.iter_mut().enumerate() {
                let p = (i as f64 + 0.5) / SIZE as f64;
                *f = (sigma * inverse_normal_cdf(p) - sigma * sigma / 2.0).exp();
            }
            let mean = exact.iter().sum::<f64>() / SIZE as f64;
            for f in exact.iter_mut() {
                *f /= mean;
            }
        }
        JitterTable {
            factors: Box::new(exact.map(|f| f as f32)),
        }
    }

    pub fn draw(&self, rng: &mut SimRng) -> f64 {
        f64::from(self.factors[(rng.next_u32() >> 20) as usize])
    }
}

/// The standard normal quantile function (Acklam's rational approximation, relative error
/// below 1.2e-9).
pub fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn normal_quantiles_are_right() {
        assert!(inverse_normal_cdf(0.5).abs() < 1e-9);
        assert!((inverse_normal_cdf(0.975) - 1.959964).abs() < 1e-5);
        assert!((inverse_normal_cdf(0.01) + 2.326348).abs() < 1e-5);
    }

    #[test]
    fn draws_have_mean_one_and_the_lognormal_median() {
        let table = JitterTable::lognormal(0.89);
        let mut rng = SimRng::seed_from_u64(5);
        let mut draws: Vec<f64> = (0..200_000).map(|_| table.draw(&mut rng)).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 1.0).abs() < 0.01, "{mean}");
        draws.sort_by(f64::total_cmp);
        // median of exp(σZ − σ²/2) is exp(−σ²/2)
        let median = draws[draws.len() / 2];
        assert!(
            (median - (-0.89f64 * 0.89 / 2.0).exp()).abs() < 0.01,
            "{median}"
        );
    }
}
