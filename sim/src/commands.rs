//! The `sim` command line: `run`, `sweep`, `check`, `import`, `models`.
//!
//! Exit codes: 0 success, 2 bad input (a located message on stderr), 1 anything else.

use crate::capacity;
use crate::config::{self, LoadOptions, Scenario};
use crate::cost_model::{Catalog, ParamValues};
use crate::estimate;
use crate::latency;
use crate::progress::Bars;
use crate::report::{self, LatencyRuns, Report};
use crate::sweep::{self, SweepReport};
use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use meshtwin_diagnostics::{Diagnostic, Diagnostics};
use std::io::IsTerminal;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "sim",
    version,
    about = "meshtwin: model service-mesh data planes for capacity planning"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Model a cluster under every architecture and print the figures side by side.
    Run {
        /// The cluster file; without one, the embedded 500 nodes × 30 pods reference cluster.
        file: Option<PathBuf>,
        #[command(flatten)]
        report: ReportArgs,
        #[command(flatten)]
        simulation: SimulationArgs,
        #[command(flatten)]
        models: ModelsDir,
    },
    /// Run a scenario across the values of one parameter and find where p99 passes an SLO.
    Sweep {
        file: PathBuf,
        /// KEY=START..END:STEP or KEY=A,B,C, e.g. traffic.rps_per_pod=100..2000:100.
        #[arg(long, value_name = "KEY=RANGE")]
        param: String,
        /// The SLO: end-to-end p99 in milliseconds.
        #[arg(long, value_name = "MS")]
        slo_p99: Option<f64>,
        #[command(flatten)]
        report: ReportArgs,
        #[command(flatten)]
        simulation: SimulationArgs,
        #[command(flatten)]
        models: ModelsDir,
    },
    /// Check a cluster file and report every problem, without modelling.
    Check {
        file: PathBuf,
        #[command(flatten)]
        models: ModelsDir,
    },
    /// Write a cluster file from a real cluster: Kubernetes objects, and traffic observed by
    /// Prometheus (Istio's metrics) or Hubble (docs/import.md).
    Import {
        /// Kubernetes objects: a `kubectl get … -o json` file, a YAML manifest, or a folder of
        /// them (repeatable).
        #[arg(long, value_name = "PATH")]
        kubernetes: Vec<PathBuf>,
        /// A Prometheus server's URL (http://host:port) to query for istio_requests_total.
        #[arg(long, value_name = "URL")]
        prometheus: Option<String>,
        /// A saved /api/v1/query response (repeatable).
        #[arg(long, value_name = "FILE")]
        prometheus_json: Vec<PathBuf>,
        /// A Hubble flow export, `hubble observe -o json` (repeatable).
        #[arg(long, value_name = "FILE")]
        hubble: Vec<PathBuf>,
        /// The rate window: Prometheus' range (default 5m); for Hubble, the time its flows
        /// cover (default: from the first flow to the last).
        #[arg(long, value_name = "DURATION")]
        window: Option<String>,
        /// The scenario's name.
        #[arg(long, default_value = "imported")]
        name: String,
        /// Write the cluster file here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// List every model parameter with its value, unit and source.
    Models {
        /// Show the values a cluster file runs with (after its profile and overrides).
        file: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = ModelsFormat::Table)]
        format: ModelsFormat,
        #[command(flatten)]
        models: ModelsDir,
    },
}

/// What to print, where, and with which seed (`run` and `sweep`).
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Seed for every random choice; overrides the file's `seed`.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write the report to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Also draw an SVG: latency CDFs and memory / CPU bars (run), p99 against the parameter (sweep).
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct SimulationArgs {
    /// Capacity model only: skip the simulation of requests.
    #[arg(long)]
    pub no_latency: bool,
    /// Simulated seconds to measure, overriding `latency.duration_s`.
    #[arg(long, value_name = "SECONDS", value_parser = positive_seconds)]
    pub duration: Option<f64>,
    /// Simulations to run at once (default: the machine's cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bars.
    #[arg(short, long)]
    pub quiet: bool,
}

impl SimulationArgs {
    /// Simulations at once: `--threads`, or one per core.
    pub fn threads(&self) -> usize {
        self.threads
            .unwrap_or_else(config::resolve::default_threads)
    }

    /// How a scenario is loaded for these arguments.
    pub fn load_options<'a>(&self, seed: Option<u64>, catalog: &'a Catalog) -> LoadOptions<'a> {
        LoadOptions {
            seed,
            catalog,
            duration_s: self.duration,
            simulate: !self.no_latency,
            threads: self.threads(),
        }
    }
}

/// `--duration`: simulated seconds, in `latency.duration_s`'s range.
fn positive_seconds(text: &str) -> Result<f64, String> {
    let range = config::ranges::DURATION_S.range;
    match text.parse::<f64>() {
        Ok(v) if range.contains(v) => Ok(v),
        _ => Err(format!("`{text}` is not a number of seconds in {range}")),
    }
}

#[derive(Debug, clap::Args)]
pub struct ModelsDir {
    /// Read cost models from this directory instead of the copy built into `sim`.
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelsFormat {
    Table,
    Json,
}

/// An error that ends the command: bad input (exit 2) or anything else (exit 1).
#[derive(Debug)]
pub enum Failure {
    Input(Diagnostics),
    Other(anyhow::Error),
}

impl From<Diagnostics> for Failure {
    fn from(d: Diagnostics) -> Self {
        Failure::Input(d)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(d)) => {
            eprintln!("{d}");
            ExitCode::from(2)
        }
        Err(Failure::Other(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

pub fn execute(command: Command) -> Result<(), Failure> {
    match command {
        Command::Run {
            file,
            report: args,
            simulation,
            models,
        } => {
            let catalog = catalog(&models)?;
            let options = simulation.load_options(args.seed, &catalog);
            let (scenario, _, label) = load(file.as_deref(), &options)?;
            let report = model(&scenario, &label, &simulation)?;
            if let Some(path) = &args.plot {
                report::plot::run(&report, path)?;
            }
            let text = match args.format {
                Format::Table => report::table::render(&report),
                Format::Json => report.to_json(),
                Format::Csv => report::csv::render(&report),
            };
            write_output(args.output.as_deref(), &text)?;
            Ok(())
        }
        Command::Sweep {
            file,
            param,
            slo_p99,
            report: args,
            simulation,
            models,
        } => {
            let report = sweep(&file, &param, slo_p99, args.seed, &simulation, &models)?;
            if let Some(path) = &args.plot {
                let series: Vec<(String, Vec<(f64, f64)>)> = report
                    .series
                    .iter()
                    .map(|s| {
                        (
                            s.name.clone(),
                            s.points
                                .iter()
                                .filter_map(|p| Some((p.value, p.p99_us? / 1000.0)))
                                .collect(),
                        )
                    })
                    .collect();
                let title = format!("{}: p99 against {}", report.scenario, report.parameter);
                report::plot::sweep(&title, &report.parameter, &series, slo_p99, path)?;
            }
            let text = match args.format {
                Format::Table => report.table(),
                Format::Json => format!("{}\n", report::json_precision::to_pretty_json(&report)),
                Format::Csv => report.csv(),
            };
            write_output(args.output.as_deref(), &text)?;
            Ok(())
        }
        Command::Import {
            kubernetes,
            prometheus,
            prometheus_json,
            hubble,
            window,
            name,
            output,
        } => {
            let sources = crate::import::Sources {
                kubernetes,
                prometheus,
                prometheus_json,
                hubble,
                window_given: window.is_some(),
                window: window.unwrap_or_else(|| "5m".into()),
                name,
            };
            let (text, notes) = crate::import::import(&sources)?;
            for note in notes {
                eprintln!("sim import: {note}");
            }
            write_output(output.as_deref(), &text)?;
            Ok(())
        }
        Command::Check { file, models } => {
            let catalog = catalog(&models)?;
            let (scenario, _, label) = load(Some(&file), &LoadOptions::new(&catalog))?;
            let c = &scenario.cluster;
            println!(
                "{label}: ok ({} nodes, {} pods, {} services, {} calls, seed {})",
                c.nodes(),
                c.pods(),
                c.services.len(),
                c.call_graph.calls(),
                scenario.seed
            );
            Ok(())
        }
        Command::Models {
            file,
            format,
            models,
        } => {
            let catalog = catalog(&models)?;
            let values = match &file {
                Some(f) => {
                    let options = LoadOptions {
                        simulate: false,
                        ..LoadOptions::new(&catalog)
                    };
                    load(Some(f), &options)?.1
                }
                None => catalog.values(),
            };
            let text = match format {
                ModelsFormat::Table => models_table(&catalog, &values),
                ModelsFormat::Json => {
                    let all: Vec<_> = values.values().flat_map(|c| c.values()).collect();
                    let doc =
                        serde_json::json!({ "parameters": all, "profiles": catalog.profiles });
                    format!(
                        "{}\n",
                        serde_json::to_string_pretty(&doc).expect("serialises")
                    )
                }
            };
            write_output(None, &text)?;
            Ok(())
        }
    }
}

/// The capacity model and, unless turned off, the latency simulation of one scenario. A figure
/// that would overflow, or a run that would exhaust memory, is an input error naming what
/// caused it.
pub fn model(
    scenario: &Scenario,
    label: &str,
    simulation: &SimulationArgs,
) -> Result<Report, Failure> {
    let input = |message: String| Failure::Input(Diagnostic::file(&scenario.file, message).into());
    let simulate = scenario.latency.enabled && !simulation.no_latency;
    if !simulation.quiet {
        announce(scenario, label, simulate, simulation.threads());
    }
    let capacity = capacity::evaluate(scenario).map_err(|e| input(e.to_string()))?;
    let latency = if simulate {
        let jobs = latency::jobs(scenario);
        let threads = simulation.threads();
        let bars = Bars::new(&jobs, simulation.quiet);
        let started = std::time::Instant::now();
        let results = latency::run(scenario, &jobs, threads, &bars);
        bars.finish();
        let results = results.map_err(|e| input(e.to_string()))?;
        let events: u64 = results.iter().map(|r| r.events).sum();
        let wall = started.elapsed().as_secs_f64();
        if !simulation.quiet && std::io::stderr().is_terminal() {
            eprintln!(
                "simulated {} runs: {events} events in {wall:.2} s ({:.1} M events/s on {threads} threads)",
                jobs.len(),
                events as f64 / wall / 1e6
            );
        }
        Some(LatencyRuns {
            jobs,
            results,
            duration_s: scenario.latency.duration_s,
            warmup_s: scenario.latency.warmup_s,
        })
    } else {
        None
    };
    Ok(Report::new(scenario, label, capacity, latency))
}

/// Before a run expected to take more than a few seconds, its estimate on standard error,
/// whether or not it is a terminal (a piped run would otherwise say nothing for minutes).
fn announce(scenario: &Scenario, label: &str, simulate: bool, threads: usize) {
    let capacity = estimate::capacity(scenario);
    let latency = simulate.then(|| estimate::latency(scenario, &latency::jobs(scenario), threads));
    let seconds = capacity.seconds + latency.as_ref().map_or(0.0, |l| l.seconds);
    if seconds <= estimate::ANNOUNCE_AFTER_SECONDS {
        return;
    }
    let memory = capacity.memory_bytes + latency.as_ref().map_or(0.0, |l| l.memory_bytes);
    let work = match &latency {
        Some(l) => format!(
            "{} simulation runs, about {} events, {} on {} threads",
            l.runs,
            estimate::approximately(l.events_total),
            estimate::duration(seconds),
            l.parallel
        ),
        None => format!("the capacity model, about {}", estimate::duration(seconds)),
    };
    eprintln!(
        "sim: {label}: estimated {work}, {} of memory{}",
        estimate::bytes(memory),
        if latency.is_some() {
            " (--duration shortens it, --no-latency skips the simulation)"
        } else {
            ""
        }
    );
}

fn sweep(
    file: &Path,
    param: &str,
    slo_p99: Option<f64>,
    seed: Option<u64>,
    simulation: &SimulationArgs,
    models: &ModelsDir,
) -> Result<SweepReport, Failure> {
    let usage = |message: String| Failure::Input(Diagnostic::file(file, message).into());
    let swept = sweep::parse(param).map_err(usage)?;
    if let Some(slo) = slo_p99 {
        if !(slo.is_finite() && slo > 0.0) {
            return Err(usage(
                "--slo-p99 must be a positive number of milliseconds".into(),
            ));
        }
    }
    let catalog = catalog(models)?;
    // The file itself first, so that its own mistakes are reported where they are.
    let options = simulation.load_options(seed, &catalog);
    let (base, _, _) = load(Some(file), &options)?;
    if !base.latency.enabled || simulation.no_latency {
        return Err(usage(
            "a sweep needs the latency simulation ([latency] enabled = true, no --no-latency)"
                .into(),
        ));
    }
    let text = std::fs::read_to_string(file).map_err(|e| usage(format!("cannot read: {e}")))?;
    let key = swept.key_name();
    // The file with the parameter set to `value`, checked; its problems name the parameter
    // and the value (the text they would point into is the re-serialised file, not the
    // user's). Every value is checked before the first runs.
    let at_value = |value: &toml::Value| -> Result<(Scenario, String), Failure> {
        let label = sweep::label_of(file, &key, value);
        let named =
            |message: &str| Diagnostic::file(file, format!("--param {key}={value}: {message}"));
        let changed =
            sweep::apply(&text, &swept.key, value).map_err(|m| Failure::Input(named(&m).into()))?;
        match config::load_str(Path::new(&label), &changed, &options) {
            Ok((scenario, _)) => Ok((scenario, label)),
            Err(problems) => Err(Failure::Input(
                problems.iter().map(|d| named(d.message())).collect(),
            )),
        }
    };
    // Every value checked before the first run; values whose scenarios are identical share
    // one run. Only fingerprints are kept (a scenario can be large); each distinct one is
    // resolved again to run.
    let mut fingerprints = Vec::with_capacity(swept.values.len());
    let mut distinct: Vec<(u64, f64)> = Vec::new();
    let mut reused = Vec::new();
    for value in &swept.values {
        let fingerprint = sweep::fingerprint::of(&at_value(value)?.0);
        let v = sweep::value_f64(value);
        match distinct.iter().find(|(f, _)| *f == fingerprint) {
            Some(&(_, same_as)) => reused.push(sweep::Reused { value: v, same_as }),
            None => distinct.push((fingerprint, v)),
        }
        fingerprints.push(fingerprint);
    }
    if swept.values.len() > 1 && distinct.len() == 1 {
        return Err(usage(sweep::unchanged::explain(
            &text,
            &swept.key,
            &swept.values,
        )));
    }
    let mut report = SweepReport {
        scenario: base.name.clone(),
        file: file.display().to_string(),
        seed: base.seed,
        parameter: key.clone(),
        slo_p99_ms: slo_p99,
        direction: sweep::Direction::MoreIsWorse,
        series: Vec::new(),
        reused,
    };
    // Each distinct scenario's run, by its fingerprint, reused for the values that share it.
    let mut runs: Vec<(u64, sweep::RunPoints)> = Vec::new();
    for (value, fingerprint) in swept.values.iter().zip(&fingerprints) {
        if !runs.iter().any(|(f, _)| f == fingerprint) {
            let (scenario, label) = at_value(value)?;
            let result = model(&scenario, &label, simulation)?;
            runs.push((*fingerprint, sweep::RunPoints::of(&result)));
        }
        let (_, run) = runs
            .iter()
            .find(|(f, _)| f == fingerprint)
            .expect("run above");
        report.add(sweep::value_f64(value), run);
    }
    // Distinguish series that share a name (several schedulings).
    let names: Vec<String> = report.series.iter().map(|s| s.name.clone()).collect();
    for s in &mut report.series {
        if names.iter().filter(|n| **n == s.name).count() > 1 {
            s.name = format!("{} ({})", s.name, s.scheduling);
        }
    }
    report.tipping_points(&swept.key);
    Ok(report)
}

fn catalog(dir: &ModelsDir) -> Result<Catalog, Failure> {
    match &dir.models {
        Some(d) => Ok(Catalog::from_dir(d)?),
        None => Ok(Catalog::embedded()),
    }
}

/// The scenario, its parameter values and how to name it in reports.
fn load(
    file: Option<&Path>,
    options: &LoadOptions,
) -> Result<(Scenario, ParamValues, String), Failure> {
    match file {
        Some(path) => {
            let (scenario, values) = config::load(path, options)?;
            Ok((scenario, values, path.display().to_string()))
        }
        None => {
            let name = Path::new(config::DEFAULT_SCENARIO_NAME);
            let (scenario, values) = config::load_str(name, config::DEFAULT_SCENARIO, options)?;
            Ok((scenario, values, config::DEFAULT_SCENARIO_NAME.to_string()))
        }
    }
}

fn write_output(path: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match path {
        Some(p) => std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display())),
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                // A closed pipe (`sim run | head`) is the reader's choice, not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other.context("cannot write to standard output"),
            }
        }
    }
}

fn models_table(catalog: &Catalog, values: &ParamValues) -> String {
    let mut out = String::new();
    for component in &catalog.components {
        out.push_str(&format!("{} — {}\n", component.name, component.description));
        if let Some(params) = values.get(&component.name) {
            let width = params.keys().map(|k| k.len()).max().unwrap_or(0);
            for (name, p) in params {
                // The range the sources give, where they disagree.
                let range = match (p.low, p.high) {
                    (Some(low), Some(high)) => format!(" (range {low}–{high})"),
                    _ => String::new(),
                };
                out.push_str(&format!(
                    "  {name:width$}  {:>14} {}{range}\n  {:width$}  source: {}\n",
                    p.value, p.unit, "", p.source
                ));
            }
        }
        out.push('\n');
    }
    out.push_str("profiles (pick one with [models] profile = \"NAME\")\n");
    for p in &catalog.profiles {
        out.push_str(&format!("  {:18} {}\n", p.name, p.description));
    }
    out
}
