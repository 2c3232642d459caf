//! Progress on stderr: one live line per kernel (indicatif) on a terminal; plain lines, one per
//! step, when stderr is a log (CI), so the log still shows where a run was.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// All live lines.
pub struct Progress {
    multi: Option<MultiProgress>,
}

/// One line: a kernel, or a step such as building the tests.
pub struct Task {
    bar: Option<ProgressBar>,
    prefix: String,
    start: Instant,
}

impl Progress {
    pub fn new() -> Self {
        let multi = std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self { multi }
    }

    /// A new line labelled `prefix`.
    pub fn task(&self, prefix: &str, message: &str) -> Task {
        let bar = self.multi.as_ref().map(|multi| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{prefix:>8.bold} {spinner} {msg} ({elapsed})")
                    .expect("valid template"),
            );
            bar.set_prefix(prefix.to_owned());
            bar.set_message(message.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        if bar.is_none() {
            eprintln!("{prefix:>8} {message}");
        }
        Task {
            bar,
            prefix: prefix.to_owned(),
            start: Instant::now(),
        }
    }

    /// Prints a line above the live ones.
    pub fn println(&self, line: &str) {
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(line);
            }
            None => eprintln!("{line}"),
        }
    }
}

impl Task {
    /// A step change: shown live, and logged as a line when not on a terminal.
    pub fn step(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(message.to_owned()),
            None => eprintln!(
                "{:>8} {message} ({:.0} s)",
                self.prefix,
                self.start.elapsed().as_secs_f64()
            ),
        }
    }

    /// A detail that is only worth showing live (each finished test).
    pub fn detail(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.to_owned());
        }
    }

    pub fn finish(&self, message: &str) {
        match &self.bar {
            Some(bar) => {
                bar.set_style(
                    ProgressStyle::with_template("{prefix:>8.bold} {msg}").expect("valid template"),
                );
                bar.finish_with_message(message.to_owned());
            }
            None => eprintln!("{:>8} {message}", self.prefix),
        }
    }
}
