//! Progress bars for long simulations: one per run with the time left, on standard error, only
//! when it is a terminal and `--quiet` was not given, so that piped output stays clean (a long
//! run announces its estimate first either way: `commands::announce`).

use crate::latency::{Job, Progress};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

pub struct Bars {
    bars: Vec<ProgressBar>,
    _multi: MultiProgress,
}

impl Bars {
    pub fn new(jobs: &[Job], quiet: bool) -> Bars {
        let target = if quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let multi = MultiProgress::with_draw_target(target);
        let style = ProgressStyle::with_template(
            "{prefix:>28} [{bar:30}] {percent:>3}% {elapsed} elapsed, about {eta} left",
        )
        .expect("valid template")
        .progress_chars("=> ");
        let bars = jobs
            .iter()
            .map(|job| {
                let bar = multi.add(ProgressBar::new(1000));
                bar.set_style(style.clone());
                bar.set_prefix(job.label());
                bar
            })
            .collect();
        Bars {
            bars,
            _multi: multi,
        }
    }

    pub fn finish(&self) {
        for bar in &self.bars {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Bars {
    fn update(&self, job: usize, fraction: f64) {
        if let Some(bar) = self.bars.get(job) {
            bar.set_position((fraction * 1000.0) as u64);
        }
    }
}
