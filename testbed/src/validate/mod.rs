//! `meshtwin-testbed validate FILE` (`just validate`): the simulator's predictions against a
//! real mesh on this machine, built from the same cluster file (issue 13).
//!
//! ```text
//! FILE ──▶ Simulator::new (sim + calibrated profile) ──▶ scenario ──▶ mesh::up per architecture
//!                                                                         │
//!   1. saturation: the same search (saturation.rs) on the mesh ◀──────────┤ load (CPU 1)
//!   2. levels: fractions of the lowest measured saturation, each repeated ┘ measure (/proc)
//!   3. the simulator at every rate, with the testbed's window and cores (overlay.rs)
//!   4. predicted | measured | error, spread, saturation, order (report.rs); JSON; SVG (plot.rs)
//! ```
//!
//! Every architecture is measured at the same absolute rates (fractions of the *lowest*
//! saturation among those compared), so that their order can be compared at each load.

pub mod overlay;
pub mod plot;
pub mod report;
pub mod saturation;
pub mod simulate;
pub mod testbed_run;

use std::{path::PathBuf, time::Duration};

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use sim::mesh::Architecture;

use report::{Point, Report, SaturationRow};
use saturation::Saturation;
use simulate::Simulator;
use testbed_run::Drive;

/// An architecture of the testbed: `None` is the baseline (no mesh).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arch(pub Option<Architecture>);

impl Arch {
    pub fn name(self) -> &'static str {
        self.0.map_or("baseline", Architecture::name)
    }

    pub fn parse(name: &str) -> Result<Self> {
        if name == "baseline" {
            return Ok(Arch(None));
        }
        Architecture::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .map(|a| Arch(Some(a)))
            .ok_or_else(|| {
                let names: Vec<&str> = Architecture::ALL.iter().map(|a| a.name()).collect();
                anyhow::anyhow!(
                    "unknown architecture {name:?}: use baseline or one of {}",
                    names.join(", ")
                )
            })
    }
}

/// The load levels.
#[derive(Clone, Debug)]
pub enum Levels {
    /// Fractions of the lowest measured saturation (needs the saturation search).
    OfSaturation(Vec<f64>),
    /// Total requests per second.
    Rates(Vec<f64>),
    /// The file's own rate only (seed 003's fixed benchmark).
    File,
}

/// What `validate` does.
#[derive(Clone, Debug)]
pub struct Options {
    pub file: PathBuf,
    pub architectures: Vec<Arch>,
    pub levels: Levels,
    /// Search the saturation throughput (on the mesh and in the simulator).
    pub saturation: bool,
    /// Where the saturation search starts, and its cap (total rps).
    pub saturation_start: f64,
    pub saturation_cap: f64,
    /// Measured seconds of each saturation probe (after a second of warm-up).
    pub probe_duration: Duration,
    pub repeats: usize,
    pub drive: Drive,
    pub profile: Option<PathBuf>,
    pub p99_bound_ms: f64,
    pub json: PathBuf,
    pub svg: PathBuf,
    /// Take the measurements from this earlier report (its JSON) instead of measuring: only
    /// the simulator runs, with today's models and `profile`. What a model change is judged
    /// by without a quiet machine at hand.
    pub measured: Option<Report>,
}

pub fn run(options: &Options) -> Result<Report> {
    // SAFETY: geteuid only returns a number.
    if options.measured.is_none() && unsafe { libc::geteuid() } != 0 {
        bail!("validate must run as root: it builds a mesh of network namespaces, cgroups, iptables rules and eBPF programs");
    }
    if options.architectures.is_empty() || options.repeats == 0 {
        bail!("validate needs at least one architecture and one repeat");
    }
    if matches!(options.levels, Levels::OfSaturation(_)) && !options.saturation {
        bail!("load levels given as fractions of saturation need the saturation search");
    }
    let start_state = report::MachineState::now();
    let drive = &options.drive;
    let mut simulator = Simulator::new(
        &options.file,
        options.profile.as_deref(),
        drive.warmup.as_secs_f64(),
        drive.duration.as_secs_f64(),
        drive.mesh_cpus.len(),
    )?;
    let scenario = simulator.scenario()?;
    let arrivals = testbed_run::arrivals(&scenario)?;
    let bound_us = options.p99_bound_ms * 1000.0;
    let probe_window = (Duration::from_secs(1), options.probe_duration);
    let mut failed: Vec<(String, String)> = Vec::new();

    // 1. The measured saturation of each architecture.
    let mut measured_saturation: Vec<(Arch, Saturation)> = Vec::new();
    if let Some(earlier) = &options.measured {
        return repredict(earlier, options, simulator, start_state);
    }
    if options.saturation {
        for &arch in &options.architectures {
            let result = testbed_run::up(&scenario, arch, drive).and_then(|mesh| {
                let mut seed = 1000;
                saturation::search(options.saturation_start, options.saturation_cap, |rate| {
                    seed += 1;
                    let repeat = testbed_run::drive(&mesh, rate, arrivals, drive, probe_window, seed)?;
                    let probe = repeat.probe(rate, bound_us);
                    eprintln!(
                        "{} saturation probe {rate:.0} rps: delivered {:.0}, p99 {:.0} µs, errors {:.2}% → {}",
                        arch.name(),
                        probe.throughput_rps,
                        probe.p99_us,
                        probe.error_fraction * 100.0,
                        if probe.sustained { "sustained" } else { "not sustained" }
                    );
                    anyhow::Ok(probe)
                })
            });
            match result {
                Ok(s) => measured_saturation.push((arch, s)),
                Err(error) => failed.push((arch.name().to_string(), format!("{error:#}"))),
            }
        }
    }

    // 2. The levels.
    let rates: Vec<(String, f64)> = match &options.levels {
        Levels::Rates(rates) => rates.iter().map(|r| (format!("{r:.0} rps"), *r)).collect(),
        Levels::File => vec![("the file's rate".to_string(), simulator.base_rate())],
        Levels::OfSaturation(fractions) => {
            let lowest = measured_saturation
                .iter()
                .filter_map(|(_, s)| s.rate)
                .fold(f64::INFINITY, f64::min);
            if !lowest.is_finite() {
                bail!("no architecture had a measured saturation to take the levels from");
            }
            fractions
                .iter()
                .map(|f| (format!("{:.0}% of {lowest:.0}", f * 100.0), f * lowest))
                .collect()
        }
    };
    let mut measured: Vec<(Arch, usize, Vec<testbed_run::Repeat>)> = Vec::new();
    for &arch in &options.architectures {
        if failed.iter().any(|(name, _)| name == arch.name()) {
            continue;
        }
        let result = testbed_run::up(&scenario, arch, drive).and_then(|mesh| {
            let mut points = Vec::new();
            for (level, (label, rate)) in rates.iter().enumerate() {
                let mut repeats = Vec::new();
                for repeat in 0..options.repeats {
                    let r = testbed_run::drive(
                        &mesh,
                        *rate,
                        arrivals,
                        drive,
                        (drive.warmup, drive.duration),
                        1 + repeat as u64,
                    )?;
                    eprintln!(
                        "{} {label} ({rate:.0} rps) run {}: p50 {:.0} µs, p99 {:.0} µs, delivered {:.0} rps, errors {}, proxy CPU {:.2} cores",
                        arch.name(),
                        repeat + 1,
                        r.load.latency_us.p50_us,
                        r.load.latency_us.p99_us,
                        r.load.throughput_rps,
                        r.load.errors.total(),
                        r.proxy_cpu_cores()
                    );
                    repeats.push(r);
                }
                points.push((arch, level, repeats));
            }
            anyhow::Ok(points)
        });
        match result {
            Ok(points) => measured.extend(points),
            Err(error) => failed.push((arch.name().to_string(), format!("{error:#}"))),
        }
    }

    // 3. The simulator, after the measurements (it would compete with them for the CPUs).
    let ran: Vec<Arch> = options
        .architectures
        .iter()
        .copied()
        .filter(|a| !failed.iter().any(|(name, _)| name == a.name()))
        .collect();
    let mut points = Vec::new();
    for (level, (label, rate)) in rates.iter().enumerate() {
        if ran.is_empty() {
            break;
        }
        let predictions = simulator.predict(*rate, &ran)?;
        for (arch, prediction) in ran.iter().zip(predictions) {
            let Some(i) = measured
                .iter()
                .position(|(a, l, _)| a == arch && *l == level)
            else {
                continue;
            };
            let repeats = std::mem::take(&mut measured[i].2);
            points.push(Point::new(
                arch.name(),
                label.clone(),
                *rate,
                repeats,
                prediction,
            ));
        }
    }
    let mut saturation_rows = Vec::new();
    for (arch, measured) in measured_saturation {
        simulator.set_window(probe_window.0.as_secs_f64(), probe_window.1.as_secs_f64());
        let predicted =
            saturation::search(options.saturation_start, options.saturation_cap, |rate| {
                simulator.probe(arch, rate, bound_us)
            })?;
        let error = measured
            .rate
            .zip(predicted.rate)
            .and_then(|(m, p)| report::error(p, m));
        saturation_rows.push(SaturationRow {
            architecture: arch.name().to_string(),
            measured,
            predicted,
            error,
        });
    }
    let report = Report {
        file: options.file.display().to_string(),
        date: crate::calibrate::profile::today(),
        machine_at_start: start_state,
        machine_at_end: report::MachineState::now(),
        mesh_cpus: drive.mesh_cpus.clone(),
        load_cpu: drive.load_cpu,
        repeats: options.repeats,
        warmup_s: drive.warmup.as_secs_f64(),
        duration_s: drive.duration.as_secs_f64(),
        connections_per_entry: drive.connections,
        p99_bound_ms: options.p99_bound_ms,
        profile: options.profile.as_ref().map(|p| p.display().to_string()),
        simulator_ignored: simulator.ignored.clone(),
        order: report::order_checks(&points),
        points,
        saturation: saturation_rows,
        failed,
    };
    write(&report, options)?;
    Ok(report)
}

/// The simulator again on an earlier report's measurements (see [`Options::measured`]).
fn repredict(
    earlier: &Report,
    options: &Options,
    mut simulator: Simulator,
    start_state: report::MachineState,
) -> Result<Report> {
    let bound_us = earlier.p99_bound_ms * 1000.0;
    let mut levels: Vec<(String, f64)> = Vec::new();
    for p in &earlier.points {
        if !levels.iter().any(|(l, _)| *l == p.level) {
            levels.push((p.level.clone(), p.rate));
        }
    }
    let mut points = Vec::new();
    for (label, rate) in &levels {
        let at: Vec<&Point> = earlier
            .points
            .iter()
            .filter(|p| p.level == *label)
            .collect();
        let archs = at
            .iter()
            .map(|p| Arch::parse(&p.architecture))
            .collect::<Result<Vec<_>>>()?;
        let predictions = simulator.predict(*rate, &archs)?;
        for (p, prediction) in at.into_iter().zip(predictions) {
            points.push(Point::new(
                &p.architecture,
                label.clone(),
                *rate,
                p.repeats.clone(),
                prediction,
            ));
        }
    }
    simulator.set_window(1.0, options.probe_duration.as_secs_f64());
    let mut saturation_rows = Vec::new();
    for row in &earlier.saturation {
        let arch = Arch::parse(&row.architecture)?;
        let predicted =
            saturation::search(options.saturation_start, options.saturation_cap, |rate| {
                simulator.probe(arch, rate, bound_us)
            })?;
        let error = row
            .measured
            .rate
            .zip(predicted.rate)
            .and_then(|(m, p)| report::error(p, m));
        saturation_rows.push(SaturationRow {
            architecture: row.architecture.clone(),
            measured: row.measured.clone(),
            predicted,
            error,
        });
    }
    let report = Report {
        profile: options.profile.as_ref().map(|p| p.display().to_string()),
        simulator_ignored: simulator.ignored.clone(),
        order: report::order_checks(&points),
        points,
        saturation: saturation_rows,
        machine_at_end: report::MachineState::now(),
        machine_at_start: start_state,
        ..earlier.clone()
    };
    write(&report, options)?;
    Ok(report)
}

fn write(report: &Report, options: &Options) -> Result<()> {
    for path in [&options.json, &options.svg] {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
    }
    std::fs::write(&options.json, serde_json::to_string_pretty(report)? + "\n")?;
    plot::latency_against_load(report, &options.svg)
}
