//! The datapath benchmark; see docs/performance.md ("Datapath").
use std::{path::PathBuf, time::Duration};

/// What `meshtwin-traffic bench` measures.
pub struct Options {
    pub duration: Duration,
    pub size: usize,
    pub json: PathBuf,
}

pub fn run(_options: &Options) -> anyhow::Result<()> {
    anyhow::bail!("not written yet")
}
