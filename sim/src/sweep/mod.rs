//! `sim sweep FILE --param KEY=RANGE`: the scenario run at every value of one parameter, the
//! p99 of each architecture at each, and the tipping point where it passes an SLO.
//!
//! A range is `START..END:STEP` (both ends included) or a list `A,B,C`. The key is a dotted
//! path into the cluster file (`traffic.scale`, `cluster.nodes`, `models.envoy.worker_threads`,
//! `service.frontend.rps_per_pod`, `request.checkout.rate`; see `key_path`).
//!
//! Values whose resolved scenarios are identical are simulated once (`fingerprint`); a sweep
//! in which every value gives the same scenario is an error naming what overrides the key
//! (`unchanged`). The tipping point is looked for in the direction the parameter helps
//! (`Direction`).

pub mod fingerprint;
pub mod key_path;
pub mod unchanged;

pub use key_path::apply;
use serde::Serialize;
use std::path::Path;

/// At most this many points in one sweep.
const MAX_POINTS: usize = 1000;

#[derive(Debug, Clone, PartialEq)]
pub struct ParamSweep {
    pub key: Vec<String>,
    pub values: Vec<toml::Value>,
}

impl ParamSweep {
    pub fn key_name(&self) -> String {
        self.key.join(".")
    }
}

/// Parses `KEY=START..END:STEP` or `KEY=A,B,C`. Integers stay integers (so integer keys
/// accept them); any decimal point makes the values floats.
pub fn parse(spec: &str) -> Result<ParamSweep, String> {
    let (key, range) = spec
        .split_once('=')
        .ok_or_else(|| format!("--param `{spec}`: expected KEY=START..END:STEP or KEY=A,B,C"))?;
    let key: Vec<String> = key.trim().split('.').map(str::to_string).collect();
    if key.iter().any(|k| k.is_empty()) {
        return Err(format!(
            "--param `{spec}`: the key needs dotted names like traffic.rps_per_pod"
        ));
    }
    let number = |s: &str| -> Result<f64, String> {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("--param `{spec}`: `{}` is not a number", s.trim()))
    };
    let integers =
        !range.contains('.') || range.contains("..") && !range.replace("..", "").contains('.');
    let mut values: Vec<f64> = Vec::new();
    if let Some((start, rest)) = range.split_once("..") {
        let (end, step) = rest.split_once(':').ok_or_else(|| {
            format!("--param `{spec}`: a range needs a step, as in 100..2000:100")
        })?;
        let (start, end, step) = (number(start)?, number(end)?, number(step)?);
        if step <= 0.0 || end < start {
            return Err(format!(
                "--param `{spec}`: the range must go up with a positive step"
            ));
        }
        let n = ((end - start) / step + 1e-9).floor() as usize + 1;
        if n > MAX_POINTS {
            return Err(format!(
                "--param `{spec}`: {n} points; at most {MAX_POINTS}"
            ));
        }
        values.extend((0..n).map(|i| start + step * i as f64));
    } else {
        for part in range.split(',') {
            values.push(number(part)?);
        }
    }
    let values = values
        .into_iter()
        .map(|v| {
            if integers && v.fract() == 0.0 {
                toml::Value::Integer(v as i64)
            } else {
                toml::Value::Float(v)
            }
        })
        .collect();
    Ok(ParamSweep { key, values })
}

pub fn value_f64(v: &toml::Value) -> f64 {
    match v {
        toml::Value::Integer(i) => *i as f64,
        toml::Value::Float(f) => *f,
        _ => f64::NAN,
    }
}

/// One value's run of one series. A latency past the histograms' range is `None` (`null`),
/// as are all three when no request was measured (`measured` false).
#[derive(Debug, Clone, Serialize)]
pub struct SweepPoint {
    pub value: f64,
    #[serde(skip)]
    pub measured: bool,
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub added_p99_us: Option<f64>,
    pub saturated: bool,
    pub dropped: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SweepSeries {
    pub name: String,
    /// The scopings this series stands for, joined by `+`: the latency simulation does not
    /// depend on scoping (it changes what a proxy is configured with, not a request's path),
    /// so one simulation serves them all.
    pub scoping: String,
    pub scheduling: String,
    pub points: Vec<SweepPoint>,
    /// In the parameter's `direction`: the first value where p99 passes the SLO or the mesh
    /// saturates (more is worse), or the first that meets the SLO unsaturated (more is
    /// better); none within the range.
    pub tipping_point: Option<f64>,
}

/// Which way a parameter moves latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Load and costs (rates, payloads, per-request CPU): the tipping point is the first value
    /// over the SLO.
    MoreIsWorse,
    /// Capacity (waypoint replicas, cores, worker threads): the tipping point is the first
    /// value that meets the SLO.
    MoreIsBetter,
}

/// Keys that add capacity, by their last name (`mesh.uproxy.waypoint_replicas`,
/// `models.envoy.worker_threads`) or whole path.
const MORE_IS_BETTER: [&str; 5] = [
    "waypoint_replicas",
    "worker_threads",
    "cores_per_node",
    "cluster.hosts.cores",
    "cluster.hosts.count",
];

impl Direction {
    /// A known capacity key is more-is-better; any other key is more-is-better when the runs
    /// say so: some series starts over the SLO (or saturated) and ends within it, and none
    /// goes the other way.
    pub fn of(key: &[String], series: &[SweepSeries], slo_us: Option<f64>) -> Direction {
        let whole = key.join(".");
        let last = key.last().map(String::as_str).unwrap_or_default();
        if MORE_IS_BETTER.contains(&last) || MORE_IS_BETTER.contains(&whole.as_str()) {
            return Direction::MoreIsBetter;
        }
        let ends = |s: &SweepSeries| {
            Some((
                s.points.first()?.over(slo_us),
                s.points.last()?.over(slo_us),
            ))
        };
        let falls = series
            .iter()
            .filter(|s| ends(s) == Some((true, false)))
            .count();
        let rises = series
            .iter()
            .filter(|s| ends(s) == Some((false, true)))
            .count();
        if falls > 0 && rises == 0 {
            Direction::MoreIsBetter
        } else {
            Direction::MoreIsWorse
        }
    }
}

impl SweepPoint {
    /// Saturated, or a measured p99 past the SLO (a p99 past the histograms' range is past
    /// any SLO).
    pub fn over(&self, slo_us: Option<f64>) -> bool {
        let past = |slo: f64| self.measured && self.p99_us.is_none_or(|p99| p99 > slo);
        self.saturated || slo_us.is_some_and(past)
    }
}

/// A value whose scenario is the same as an earlier value's: its results are that value's.
#[derive(Debug, Clone, Serialize)]
pub struct Reused {
    pub value: f64,
    pub same_as: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    pub scenario: String,
    pub file: String,
    pub seed: u64,
    pub parameter: String,
    pub slo_p99_ms: Option<f64>,
    pub direction: Direction,
    pub series: Vec<SweepSeries>,
    /// Values simulated once for several (their scenarios are identical).
    pub reused: Vec<Reused>,
}

/// What a sweep keeps of one run: each entry of its report with latency, as (architecture,
/// scheduling, scoping, point without its value).
pub struct RunPoints(Vec<(String, String, String, SweepPoint)>);

impl RunPoints {
    pub fn of(report: &crate::report::Report) -> RunPoints {
        RunPoints(
            report
                .architectures
                .iter()
                .filter_map(|item| {
                    let l = item.latency.as_ref()?;
                    let point = SweepPoint {
                        value: f64::NAN,
                        measured: l.latency_us.is_some(),
                        p50_us: l.latency_us.and_then(|p| p.p50),
                        p99_us: l.latency_us.and_then(|p| p.p99),
                        added_p99_us: l.added_latency_us.and_then(|p| p.p99),
                        saturated: l.saturated,
                        dropped: l.dropped,
                    };
                    Some((
                        item.capacity.name.to_string(),
                        item.scheduling.map(|s| s.to_string()).unwrap_or_default(),
                        item.capacity.scoping.to_string(),
                        point,
                    ))
                })
                .collect(),
        )
    }
}

impl SweepReport {
    /// A run's points at `value`. Series are by (architecture, scheduling): the simulation does
    /// not depend on scoping, so the report's entries for several scopings carry one run's
    /// result, and are one series standing for them all.
    pub fn add(&mut self, value: f64, run: &RunPoints) {
        let mut this_value: Vec<usize> = Vec::new();
        for (name, scheduling, scoping, point) in &run.0 {
            let at = self
                .series
                .iter()
                .position(|s| s.name == *name && s.scheduling == *scheduling)
                .unwrap_or_else(|| {
                    self.series.push(SweepSeries {
                        name: name.clone(),
                        scoping: scoping.clone(),
                        scheduling: scheduling.clone(),
                        points: Vec::new(),
                        tipping_point: None,
                    });
                    self.series.len() - 1
                });
            let series = &mut self.series[at];
            if this_value.contains(&at) {
                if !series.scoping.split('+').any(|s| s == scoping) {
                    series.scoping = format!("{}+{scoping}", series.scoping);
                }
                continue;
            }
            this_value.push(at);
            series.points.push(SweepPoint {
                value,
                ..point.clone()
            });
        }
    }

    /// Each series' tipping point, in the parameter's direction (`key` is the parameter's path).
    pub fn tipping_points(&mut self, key: &[String]) {
        let slo_us = self.slo_p99_ms.map(|ms| ms * 1000.0);
        self.direction = Direction::of(key, &self.series, slo_us);
        for s in &mut self.series {
            s.tipping_point = match self.direction {
                Direction::MoreIsWorse => s.points.iter().find(|p| p.over(slo_us)),
                Direction::MoreIsBetter => s.points.iter().find(|p| p.measured && !p.over(slo_us)),
            }
            .map(|p| p.value);
        }
    }

    pub fn table(&self) -> String {
        let mut out = format!(
            "meshtwin sweep: {} ({}) · seed {} · {}{}\n\n",
            self.scenario,
            self.file,
            self.seed,
            self.parameter,
            self.slo_p99_ms
                .map(|s| format!(" · SLO: p99 end to end ≤ {s} ms"))
                .unwrap_or_default()
        );
        let headers: Vec<String> = self.series.iter().map(|s| s.name.clone()).collect();
        let width = headers.iter().map(|h| h.len()).max().unwrap_or(8).max(12);
        let first = self.parameter.len().max(10);
        out.push_str(&format!("{:>first$}", self.parameter));
        for h in &headers {
            out.push_str(&format!("  {h:>width$}"));
        }
        out.push_str("   (p99 end to end; * saturated)\n");
        let rows = self.series.first().map_or(0, |s| s.points.len());
        for i in 0..rows {
            out.push_str(&format!(
                "{:>first$}",
                format_value(self.series[0].points[i].value)
            ));
            for s in &self.series {
                let p = &s.points[i];
                let p99 = match (p.measured, p.p99_us) {
                    (false, _) => "no requests".to_string(),
                    (true, Some(us)) => format!("{:.2} ms", us / 1000.0),
                    (true, None) => crate::report::table::us(None),
                };
                let cell = format!("{p99}{}", if p.saturated { "*" } else { "" });
                out.push_str(&format!("  {cell:>width$}"));
            }
            out.push('\n');
        }
        out.push_str(match self.direction {
            Direction::MoreIsWorse => "\ntipping points (first value over the SLO or saturated):\n",
            Direction::MoreIsBetter => {
                "\ntipping points (more is better here: first value that meets the SLO unsaturated):\n"
            }
        });
        for s in &self.series {
            let at = s
                .tipping_point
                .map(format_value)
                .unwrap_or_else(|| "none in this range".into());
            out.push_str(&format!("  {:width$}  {at}\n", s.name));
        }
        let shared: Vec<&SweepSeries> = self
            .series
            .iter()
            .filter(|s| s.scoping.contains('+'))
            .collect();
        if !shared.is_empty() {
            out.push_str("\none simulation per series served several scopings (scoping changes a proxy's configuration and memory, not a request's path):\n");
            for s in shared {
                out.push_str(&format!(
                    "  {:width$}  {}\n",
                    s.name,
                    s.scoping.replace('+', ", ")
                ));
            }
        }
        if !self.reused.is_empty() {
            out.push_str(
                "\nvalues that give the same scenario as an earlier one, simulated once:\n",
            );
            for r in &self.reused {
                out.push_str(&format!(
                    "  {} = {}: as {}\n",
                    self.parameter,
                    format_value(r.value),
                    format_value(r.same_as)
                ));
            }
        }
        out
    }

    pub fn csv(&self) -> String {
        let mut out = String::from(
            "value,name,scoping,scheduling,p50_us,p99_us,added_p99_us,saturated,dropped\n",
        );
        for s in &self.series {
            for p in &s.points {
                let ceiling = format!(">{}", crate::engine::Bounds::PRECISE.high / 1000);
                let cell = |v: Option<f64>, beyond: &str| match (p.measured, v) {
                    (false, _) => String::new(),
                    (true, Some(v)) => format!("{v:.3}"),
                    (true, None) => beyond.to_string(),
                };
                let us = |v: Option<f64>| cell(v, &ceiling);
                let added = |v: Option<f64>| cell(v, crate::report::table::UNKNOWN_DIFFERENCE);
                out.push_str(&format!(
                    "{},{},{},{},{},{},{},{},{}\n",
                    format_value(p.value),
                    s.name,
                    s.scoping,
                    s.scheduling,
                    us(p.p50_us),
                    us(p.p99_us),
                    added(p.added_p99_us),
                    p.saturated,
                    p.dropped
                ));
            }
        }
        out
    }
}

fn format_value(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

pub fn label_of(file: &Path, key: &str, value: &toml::Value) -> String {
    format!("{} (with {key} = {value})", file.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges_and_lists() {
        let s = parse("traffic.rps_per_pod=100..500:200").unwrap();
        assert_eq!(s.key, vec!["traffic", "rps_per_pod"]);
        assert_eq!(
            s.values,
            vec![
                toml::Value::Integer(100),
                toml::Value::Integer(300),
                toml::Value::Integer(500)
            ]
        );
        let s = parse("traffic.rps_per_pod=0.5,1.5").unwrap();
        assert_eq!(
            s.values,
            vec![toml::Value::Float(0.5), toml::Value::Float(1.5)]
        );
        assert!(parse("traffic.rps_per_pod").is_err());
        assert!(parse("x=5..1:1").is_err());
        assert!(parse("x=1..5").is_err());
        assert!(parse("x=1..1000000:1").is_err());
    }

    fn series(first: (f64, bool), last: (f64, bool)) -> SweepSeries {
        let point = |(value, saturated): (f64, bool)| SweepPoint {
            value,
            measured: true,
            p50_us: Some(100.0),
            p99_us: Some(if saturated { 9e5 } else { 500.0 }),
            added_p99_us: None,
            saturated,
            dropped: 0,
        };
        SweepSeries {
            name: "x".into(),
            scoping: "mesh".into(),
            scheduling: "fifo".into(),
            points: vec![point(first), point(last)],
            tipping_point: None,
        }
    }

    #[test]
    fn direction_comes_from_the_key_or_from_the_runs() {
        let key = |k: &str| k.split('.').map(str::to_string).collect::<Vec<_>>();
        let falling = [series((1.0, true), (2.0, false))];
        let rising = [series((1.0, false), (2.0, true))];
        let slo = Some(1000.0);
        assert_eq!(
            Direction::of(&key("mesh.uproxy.waypoint_replicas"), &rising, slo),
            Direction::MoreIsBetter
        );
        assert_eq!(
            Direction::of(&key("traffic.scale"), &rising, slo),
            Direction::MoreIsWorse
        );
        assert_eq!(
            Direction::of(&key("service.db.replicas"), &falling, slo),
            Direction::MoreIsBetter
        );
        let both = [falling[0].clone(), rising[0].clone()];
        assert_eq!(
            Direction::of(&key("x.y"), &both, slo),
            Direction::MoreIsWorse
        );
    }

    #[test]
    fn applies_a_value_at_a_dotted_key() {
        let text = apply(
            "[cluster]\nnodes = 3\n",
            &["traffic".into(), "rps_per_pod".into()],
            &toml::Value::Integer(7),
        )
        .unwrap();
        assert!(text.contains("rps_per_pod = 7"), "{text}");
        assert!(text.contains("nodes = 3"), "{text}");
    }
}
