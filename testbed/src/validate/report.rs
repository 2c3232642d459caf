//! The validation's results: each point predicted | measured | error, the spread between
//! repeats, the saturation rates, and whether the architectures come in the same order.

use serde::{Deserialize, Serialize};

use super::{saturation::Saturation, simulate::Prediction, testbed_run::Repeat};
use crate::calibrate::profile::Machine;

/// The median of the repeats of one measured point, and how far apart they were.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
    pub throughput_rps: f64,
    pub error_fraction: f64,
    pub proxy_cpu_cores: f64,
    pub proxy_memory_bytes: u64,
    pub proxy_memory_bytes_max: u64,
    /// Every process of the mesh (workloads and agents too).
    pub mesh_cpu_cores: f64,
    /// How late the load generator sent its requests (p99 of its send lag): when the machine
    /// does not give it its CPU, this grows and every latency above carries it.
    #[serde(default)]
    pub generator_lag_p99_us: f64,
    /// (max − min) / median over the repeats, in %.
    pub spread_pct: Spread,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub throughput: f64,
    pub proxy_cpu: f64,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn spread(values: &[f64]) -> f64 {
    let m = median(values.to_vec());
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(*v), h.max(*v))
        });
    if m.abs() < 1e-12 || values.len() < 2 {
        0.0
    } else {
        (hi - lo) / m * 100.0
    }
}

impl Measured {
    pub fn of(repeats: &[Repeat]) -> Self {
        let take = |f: &dyn Fn(&Repeat) -> f64| repeats.iter().map(f).collect::<Vec<f64>>();
        let p50 = take(&|r| r.load.latency_us.p50_us);
        let p90 = take(&|r| r.load.latency_us.p90_us);
        let p99 = take(&|r| r.load.latency_us.p99_us);
        let throughput = take(&|r| r.load.throughput_rps);
        let cpu = take(&|r| r.proxy_cpu_cores());
        Self {
            p50_us: median(p50.clone()),
            p90_us: median(p90.clone()),
            p99_us: median(p99.clone()),
            mean_us: median(take(&|r| r.load.latency_us.mean_us)),
            throughput_rps: median(throughput.clone()),
            error_fraction: median(take(&|r| r.error_fraction())),
            proxy_cpu_cores: median(cpu.clone()),
            proxy_memory_bytes: median(take(&|r| r.proxy_memory_bytes().0 as f64)) as u64,
            proxy_memory_bytes_max: median(take(&|r| r.proxy_memory_bytes().1 as f64)) as u64,
            mesh_cpu_cores: median(take(&|r| r.mesh_cpu_cores())),
            generator_lag_p99_us: median(take(&|r| r.load.send_lag_us.p99_us)),
            spread_pct: Spread {
                p50: spread(&p50),
                p90: spread(&p90),
                p99: spread(&p99),
                throughput: spread(&throughput),
                proxy_cpu: spread(&cpu),
            },
        }
    }
}

/// predicted / measured − 1, or none when nothing was measured.
pub fn error(predicted: f64, measured: f64) -> Option<f64> {
    (measured.abs() > 1e-9 && predicted.is_finite()).then(|| predicted / measured - 1.0)
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Errors {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub throughput: Option<f64>,
    pub proxy_cpu: Option<f64>,
    pub proxy_memory: Option<f64>,
}

/// One architecture at one load.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Point {
    pub architecture: String,
    /// "20% of saturation" or "fixed".
    pub level: String,
    pub rate: f64,
    pub measured: Measured,
    pub predicted: Prediction,
    pub error: Errors,
    pub repeats: Vec<Repeat>,
}

impl Point {
    pub fn new(
        architecture: &str,
        level: String,
        rate: f64,
        repeats: Vec<Repeat>,
        predicted: Prediction,
    ) -> Self {
        let measured = Measured::of(&repeats);
        let error = Errors {
            p50: error(predicted.p50_us, measured.p50_us),
            p90: error(predicted.p90_us, measured.p90_us),
            p99: error(predicted.p99_us, measured.p99_us),
            throughput: error(predicted.throughput_rps, measured.throughput_rps),
            proxy_cpu: error(predicted.proxy_cpu_cores, measured.proxy_cpu_cores),
            proxy_memory: error(
                predicted.proxy_memory_bytes as f64,
                measured.proxy_memory_bytes as f64,
            ),
        };
        Self {
            architecture: architecture.to_string(),
            level,
            rate,
            measured,
            predicted,
            error,
            repeats,
        }
    }
}

/// Saturation of one architecture, measured and predicted with the same definition.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SaturationRow {
    pub architecture: String,
    pub measured: Saturation,
    pub predicted: Saturation,
    pub error: Option<f64>,
}

/// Whether the architectures come in the same order by one figure at one load.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OrderCheck {
    pub level: String,
    pub figure: String,
    pub measured: Vec<String>,
    pub predicted: Vec<String>,
    /// No pair the measurement clearly orders one way is clearly ordered the other way by
    /// the prediction ("clearly": more than 10% and more than the figure's noise floor apart).
    pub same: bool,
}

/// Pairwise concordance with ties: see [`OrderCheck::same`].
pub fn same_order(measured: &[(String, f64)], predicted: &[(String, f64)], floor: f64) -> bool {
    let clearly_less = |a: f64, b: f64| b - a > floor.max(0.1 * a.abs().max(b.abs()));
    for (i, (name_i, mi)) in measured.iter().enumerate() {
        for (name_j, mj) in measured.iter().skip(i + 1) {
            let p = |n: &str| predicted.iter().find(|(x, _)| x == n).map(|(_, v)| *v);
            let (Some(pi), Some(pj)) = (p(name_i), p(name_j)) else {
                continue;
            };
            if (clearly_less(*mi, *mj) && clearly_less(pj, pi))
                || (clearly_less(*mj, *mi) && clearly_less(pi, pj))
            {
                return false;
            }
        }
    }
    true
}

fn ordered(values: &[(String, f64)]) -> Vec<String> {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.1.total_cmp(&b.1));
    v.into_iter()
        .map(|(n, x)| format!("{n} ({x:.3})"))
        .collect()
}

pub fn order_checks(points: &[Point]) -> Vec<OrderCheck> {
    let mut levels: Vec<String> = points.iter().map(|p| p.level.clone()).collect();
    levels.dedup();
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for level in levels {
        if seen.contains(&level) {
            continue;
        }
        seen.push(level.clone());
        let at: Vec<&Point> = points.iter().filter(|p| p.level == level).collect();
        if at.len() < 2 {
            continue;
        }
        type Pick = fn(&Point) -> (f64, f64);
        let figures: [(&str, Pick, f64); 2] = [
            ("p99 µs", |p| (p.measured.p99_us, p.predicted.p99_us), 10.0),
            (
                "proxy CPU cores",
                |p| (p.measured.proxy_cpu_cores, p.predicted.proxy_cpu_cores),
                0.01,
            ),
        ];
        for (figure, pick, floor) in figures {
            let measured: Vec<(String, f64)> = at
                .iter()
                .map(|p| (p.architecture.clone(), pick(p).0))
                .collect();
            let predicted: Vec<(String, f64)> = at
                .iter()
                .map(|p| (p.architecture.clone(), pick(p).1))
                .collect();
            out.push(OrderCheck {
                level: level.clone(),
                figure: figure.to_string(),
                same: same_order(&measured, &predicted, floor),
                measured: ordered(&measured),
                predicted: ordered(&predicted),
            });
        }
    }
    out
}

/// The whole validation of one file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub file: String,
    pub date: String,
    pub machine_at_start: MachineState,
    pub machine_at_end: MachineState,
    pub mesh_cpus: Vec<usize>,
    pub load_cpu: usize,
    pub repeats: usize,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub connections_per_entry: usize,
    pub p99_bound_ms: f64,
    pub profile: Option<String>,
    /// Profile values the simulator has no parameter for yet.
    pub simulator_ignored: Vec<String>,
    pub points: Vec<Point>,
    pub saturation: Vec<SaturationRow>,
    pub order: Vec<OrderCheck>,
    /// Architectures that did not run, and why.
    pub failed: Vec<(String, String)>,
}

/// What else the machine was doing: a noisy neighbour shows here.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MachineState {
    pub machine: Machine,
    /// /proc/pressure/cpu's "some avg10": % of the last 10 s some task waited for a CPU.
    pub cpu_pressure_avg10: Option<f64>,
}

impl MachineState {
    pub fn now() -> Self {
        let pressure = std::fs::read_to_string("/proc/pressure/cpu")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("some"))
                    .and_then(|l| l.split_whitespace().find_map(|f| f.strip_prefix("avg10=")))
                    .and_then(|v| v.parse().ok())
            });
        Self {
            machine: Machine::here(),
            cpu_pressure_avg10: pressure,
        }
    }
}

fn pct(e: Option<f64>) -> String {
    e.map_or("—".into(), |e| format!("{:+.0}%", e * 100.0))
}

/// The table `validate` prints.
pub fn render(report: &Report) -> String {
    let mut out = format!(
        "validation of {} ({}; mesh on CPUs {:?}, load generator on CPU {}; {} repeats of {} s after {} s warm-up; load average {} → {}, CPU pressure {:?}% → {:?}%)\n",
        report.file,
        report.date,
        report.mesh_cpus,
        report.load_cpu,
        report.repeats,
        report.duration_s,
        report.warmup_s,
        report.machine_at_start.machine.load_average,
        report.machine_at_end.machine.load_average,
        report.machine_at_start.cpu_pressure_avg10,
        report.machine_at_end.cpu_pressure_avg10,
    );
    if !report.simulator_ignored.is_empty() {
        out.push_str(&format!(
            "the simulator does not know yet: {} (predictions made without them)\n",
            report.simulator_ignored.join(", ")
        ));
    }
    out.push_str(&format!(
        "{:<10} {:<16} {:>8} │ {:>21} │ {:>21} │ {:>21} │ {:>19} │ {:>17} │ {:>17}\n",
        "arch",
        "level",
        "rps",
        "p50 µs pred|meas|err",
        "p90 µs pred|meas|err",
        "p99 µs pred|meas|err",
        "rps pred|meas|err",
        "CPU pred|meas|err",
        "MB pred|meas|err"
    ));
    for p in &report.points {
        let (m, d, e) = (&p.measured, &p.predicted, &p.error);
        out.push_str(&format!(
            "{:<10} {:<16} {:>8.0} │ {:>6.0} {:>7.0} {:>6} │ {:>6.0} {:>7.0} {:>6} │ {:>6.0} {:>7.0} {:>6} │ {:>6.0} {:>6.0} {:>5} │ {:>5.2} {:>5.2} {:>5} │ {:>5.0} {:>5.0} {:>5}\n",
            p.architecture,
            p.level,
            p.rate,
            d.p50_us, m.p50_us, pct(e.p50),
            d.p90_us, m.p90_us, pct(e.p90),
            d.p99_us, m.p99_us, pct(e.p99),
            d.throughput_rps, m.throughput_rps, pct(e.throughput),
            d.proxy_cpu_cores, m.proxy_cpu_cores, pct(e.proxy_cpu),
            d.proxy_memory_bytes as f64 / 1e6, m.proxy_memory_bytes as f64 / 1e6, pct(e.proxy_memory),
        ));
        out.push_str(&format!(
            "{:<10} {:<16} {:>8} │ spread between repeats: p50 {:.0}%, p90 {:.0}%, p99 {:.0}%, throughput {:.0}%, proxy CPU {:.0}%; errors {:.2}%; mesh CPU {:.2} cores; load generator late by {:.0} µs at p99\n",
            "", "", "", m.spread_pct.p50, m.spread_pct.p90, m.spread_pct.p99, m.spread_pct.throughput, m.spread_pct.proxy_cpu, m.error_fraction * 100.0, m.mesh_cpu_cores, m.generator_lag_p99_us
        ));
    }
    for s in &report.saturation {
        let rate = |x: &super::saturation::Saturation| {
            x.rate.map_or("none".to_string(), |r| {
                format!("{r:.0}{}", if x.above_cap { "+ (cap)" } else { "" })
            })
        };
        out.push_str(&format!(
            "saturation {:<10} predicted {:>8} rps, measured {:>8} rps, error {}\n",
            s.architecture,
            rate(&s.predicted),
            rate(&s.measured),
            pct(s.error)
        ));
    }
    for o in &report.order {
        out.push_str(&format!(
            "order by {} at {}: {} — measured {} | predicted {}\n",
            o.figure,
            o.level,
            if o.same { "same" } else { "DIFFERENT" },
            o.measured.join(" < "),
            o.predicted.join(" < ")
        ));
    }
    for (arch, why) in &report.failed {
        out.push_str(&format!("{arch}: did not run: {why}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(values: &[(&str, f64)]) -> Vec<(String, f64)> {
        values.iter().map(|(n, v)| (n.to_string(), *v)).collect()
    }

    #[test]
    fn orders_agree_up_to_ties_and_disagree_on_a_clear_swap() {
        let measured = named(&[("baseline", 100.0), ("ebpf", 104.0), ("sidecar", 400.0)]);
        let tie_swapped = named(&[("baseline", 101.0), ("ebpf", 100.0), ("sidecar", 300.0)]);
        assert!(same_order(&measured, &tie_swapped, 10.0));
        let swapped = named(&[("baseline", 100.0), ("ebpf", 500.0), ("sidecar", 300.0)]);
        assert!(!same_order(&measured, &swapped, 10.0));
    }

    #[test]
    fn errors_and_spreads() {
        assert_eq!(error(115.0, 100.0).map(|e| (e * 100.0).round()), Some(15.0));
        assert_eq!(error(1.0, 0.0), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert!((spread(&[90.0, 100.0, 110.0]) - 20.0).abs() < 1e-9);
    }
}
