//! Log-normal shapes from measured quantiles, so the simulator's distributions come from what
//! was measured rather than from fitting the validation's targets.
//!
//! - One log-normal stage: p99/p50 = exp(z99 · σ), so σ = ln(p99/p50) / z99.
//! - A round trip of two i.i.d. log-normal legs (the simulator draws each leg apart): no closed
//!   form; σ is found by bisection on a fixed-seed Monte Carlo of the sum's p99/p50.

use crate::load::SplitMix64;

/// The standard normal's 99th and 90th percentiles.
const Z99: f64 = 2.326_347_874;
const Z90: f64 = 1.281_551_566;
const Z75: f64 = 0.674_489_750;

/// Above this a fitted shape is not taken: a log-normal that wide says the fit saw the
/// machine's stalls, not the component (the models' shapes are 0.5–0.6).
pub const MAX_PLAUSIBLE_SIGMA: f64 = 1.2;

/// σ of one log-normal stage with these quantiles; `None` when they do not make one.
pub fn sigma_one(p50: f64, p99: f64) -> Option<f64> {
    (p50 > 0.0 && p99 > p50).then(|| (p99 / p50).ln() / Z99)
}

/// σ of one log-normal stage from its p50 and p90: less sensitive to a noisy machine's rare
/// stalls than the p99.
pub fn sigma_from_p90(p50: f64, p90: f64) -> Option<f64> {
    (p50 > 0.0 && p90 > p50).then(|| (p90 / p50).ln() / Z90)
}

/// σ of one log-normal stage from its p50 and p75: the body of the distribution, which the
/// stalls of a machine under 98% CPU pressure (which reach even the p90) leave alone.
pub fn sigma_from_p75(p50: f64, p75: f64) -> Option<f64> {
    (p50 > 0.0 && p75 > p50).then(|| (p75 / p50).ln() / Z75)
}

/// p99/p50 of the sum of two i.i.d. log-normals of shape `sigma` (Monte Carlo, fixed seed).
fn two_leg_ratio(sigma: f64) -> f64 {
    let mut rng = SplitMix64::new(0x5eed);
    let mut normal = || {
        // Box–Muller.
        let (u, v) = (rng.unit(), rng.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    let mut sums: Vec<f64> = (0..100_000)
        .map(|_| (sigma * normal()).exp() + (sigma * normal()).exp())
        .collect();
    sums.sort_by(f64::total_cmp);
    sums[99_000] / sums[50_000]
}

/// σ of each of two i.i.d. log-normal legs whose sum has this p99/p50.
pub fn sigma_two_legs(p50: f64, p99: f64) -> Option<f64> {
    let target = p99 / p50;
    if !(p50 > 0.0 && target > 1.0 && target < two_leg_ratio(3.0)) {
        return None;
    }
    let (mut low, mut high) = (0.0, 3.0);
    for _ in 0..30 {
        let mid = (low + high) / 2.0;
        if two_leg_ratio(mid) < target {
            low = mid;
        } else {
            high = mid;
        }
    }
    Some((low + high) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_stage_inverts_the_quantile_ratio() {
        let sigma = 0.5;
        let ratio = (Z99 * sigma).exp();
        assert!((sigma_one(10.0, 10.0 * ratio).unwrap() - sigma).abs() < 1e-9);
        assert_eq!(sigma_one(10.0, 5.0), None);
        let p90 = 10.0 * (Z90 * sigma).exp();
        assert!((sigma_from_p90(10.0, p90).unwrap() - sigma).abs() < 1e-9);
        let p75 = 10.0 * (Z75 * sigma).exp();
        assert!((sigma_from_p75(10.0, p75).unwrap() - sigma).abs() < 1e-9);
    }

    /// models/kernel.toml: two legs of shape 0.5 give p99/p50 = 2.36 (measured 2.34).
    #[test]
    fn two_legs_match_the_kernel_models_figure() {
        let ratio = two_leg_ratio(0.5);
        assert!((ratio - 2.36).abs() < 0.05, "{ratio}");
        let sigma = sigma_two_legs(26.5, 61.9).unwrap();
        assert!((sigma - 0.5).abs() < 0.02, "{sigma}");
        assert_eq!(sigma_two_legs(10.0, 9.0), None);
    }
}
