//! `meshtwin-testbed`: what runs on a whole testbed rather than in one pod. Today the datapath
//! benchmark (`meshtwin_testbed::bench`); the traffic inside pods is `meshtwin-traffic`.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Result;
use clap::{Parser, Subcommand};
use meshtwin_testbed::bench;

#[derive(Parser)]
#[command(
    name = "meshtwin-testbed",
    version,
    about = "A meshtwin node with pods on this machine (network namespaces and cgroups), and the datapath benchmark"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The datapath benchmark (root): same-node request/response through five paths.
    Bench {
        /// Seconds measured per path (after a second of warm-up).
        #[arg(long, default_value_t = 10.0)]
        duration_secs: f64,
        /// Request and response size in bytes.
        #[arg(long, default_value_t = 1024)]
        size: usize,
        /// Runs per path; the median run (by p50) is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// The CPU every benchmark process runs on. One CPU measures the datapath's own work:
        /// across CPUs a round trip also pays two cross-CPU wake-ups, which in a VM cost far
        /// more than the paths compared (docs/performance.md, "Datapath").
        #[arg(long, default_value_t = 0, conflicts_with = "unpinned")]
        cpu: usize,
        /// Let the scheduler place the processes on any CPU instead.
        #[arg(long)]
        unpinned: bool,
        /// Which parts to run.
        #[arg(long, value_enum, default_value = "all")]
        sections: bench::Sections,
        /// Where to write the JSON results.
        #[arg(long, default_value = "target/bench-datapath.json")]
        json: PathBuf,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("meshtwin-testbed: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Bench {
            duration_secs,
            size,
            runs,
            cpu,
            unpinned,
            json,
            sections,
        } => bench::run(&bench::Options {
            duration: Duration::from_secs_f64(duration_secs),
            size,
            runs: runs.max(1),
            cpu: (!unpinned).then_some(cpu),
            json,
            sections,
        }),
    }
}
