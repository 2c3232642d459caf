//! `meshtwin-workload --spec FILE`: the workload server of one mesh-testbed pod
//! (`meshtwin_testbed::mesh::workload`). The testbed starts it inside the pod's namespace,
//! cgroup and CPU set; it prints `listening <address>` once it serves.

use std::{path::PathBuf, process::ExitCode};

use clap::Parser;
use meshtwin_testbed::mesh::workload::{server, WorkloadSpec};

#[derive(Parser)]
#[command(
    name = "meshtwin-workload",
    version,
    about = "The HTTP workload server of one mesh-testbed pod"
)]
struct Cli {
    /// The pod's workload spec (JSON), as the testbed writes it.
    #[arg(long)]
    spec: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let spec: WorkloadSpec = match std::fs::read_to_string(&cli.spec)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
    {
        Ok(spec) => spec,
        Err(error) => {
            eprintln!("meshtwin-workload: error: {}: {error}", cli.spec.display());
            return ExitCode::FAILURE;
        }
    };
    match server::serve(spec) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("meshtwin-workload: error: {error}");
            ExitCode::FAILURE
        }
    }
}
