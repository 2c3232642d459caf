//! What the sk_msg program costs per message, from the kernel's own statistics: with
//! `BPF_ENABLE_STATS` held, every run of a program adds its time to the program's `run_time_ns`
//! and one to `run_cnt`. The benchmark reads both before and after a row, so the mean covers
//! that row's messages only.

use std::{os::fd::OwnedFd, path::Path};

use anyhow::{Context as _, Result};
use aya::{programs::ProgramInfo, sys::Stats};
use meshtwin_datapath_pins::PinDir;
use serde::Serialize;

/// The kernel counts programs' run time while this is held.
pub(super) struct RunTimeStats(#[allow(dead_code)] OwnedFd);

impl RunTimeStats {
    pub(super) fn enable() -> Result<Self> {
        aya::sys::enable_stats(Stats::RunTime)
            .map(Self)
            .context("BPF_ENABLE_STATS refused")
    }
}

/// A program's run count and total run time at one moment.
#[derive(Clone, Copy, Debug)]
pub(super) struct Sample {
    runs: u64,
    ns: u64,
}

/// Mean run time of a program over a row.
#[derive(Clone, Debug, Serialize)]
pub(super) struct ProgramCost {
    pub(super) program: &'static str,
    pub(super) runs: u64,
    pub(super) mean_ns: f64,
}

/// The sk_msg program the agent pinned under `bpffs_dir`, now.
pub(super) fn sk_msg_sample(bpffs_dir: &Path) -> Option<Sample> {
    let record = PinDir::new(bpffs_dir).sockmap().join("sk_msg_mesh");
    let info = ProgramInfo::from_pin(record).ok()?;
    Some(Sample {
        runs: info.run_count(),
        ns: info.run_time().as_nanos() as u64,
    })
}

/// The mean between two samples of one program.
pub(super) fn between(program: &'static str, before: Sample, after: Sample) -> ProgramCost {
    let runs = after.runs.saturating_sub(before.runs);
    ProgramCost {
        program,
        runs,
        mean_ns: after.ns.saturating_sub(before.ns) as f64 / runs.max(1) as f64,
    }
}

/// Run counts and times summed over several intervals.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct CostSum {
    runs: u64,
    ns: u64,
}

impl CostSum {
    pub(super) fn add(&mut self, before: Sample, after: Sample) {
        self.runs += after.runs.saturating_sub(before.runs);
        self.ns += after.ns.saturating_sub(before.ns);
    }

    pub(super) fn cost(&self, program: &'static str) -> Option<ProgramCost> {
        (self.runs > 0).then(|| ProgramCost {
            program,
            runs: self.runs,
            mean_ns: self.ns as f64 / self.runs as f64,
        })
    }
}
