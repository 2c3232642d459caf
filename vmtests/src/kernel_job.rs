//! One kernel's turn: boot it, run the suite, and turn what came back into its column of the
//! matrix, with progress on its own line.

use std::path::Path;

use vmtests::accel::Accel;
use vmtests::guest_output;
use vmtests::matrix::{secs, tests_from_report, KernelFailure, KernelOutcome, TestStatus};
use vmtests::vm_run::{self, Phase, VmPlan};

use crate::progress::Progress;
use crate::Prepared;

pub struct KernelJob<'a> {
    pub prepared: &'a Prepared,
    pub accel: Accel,
    pub qemu: &'a Path,
    pub command: &'a str,
    pub verbose: bool,
}

impl KernelJob<'_> {
    pub fn run(&self, progress: &Progress) -> KernelOutcome {
        let Prepared {
            spec,
            kernel,
            shim,
            dir,
        } = self.prepared;
        let task = progress.task(&spec.name, "starting qemu");
        let finished = std::sync::atomic::AtomicUsize::new(0);
        let on_event = |phase: Phase, line: Option<&str>| match line {
            None => task.step(&format!("{} ({})", phase.describe(), self.accel.name())),
            Some(line) => {
                if self.verbose {
                    progress.println(&format!("{:>8} | {line}", spec.name));
                }
                if line.starts_with("test ") && line.contains(" ... ") {
                    let n = finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    task.detail(&format!("running tests: {n} done, last: {line}"));
                }
            }
        };
        let plan = VmPlan {
            spec,
            kernel,
            shim,
            accel: self.accel,
            qemu: self.qemu,
            dir,
            command: self.command.to_owned(),
        };
        let run = vm_run::run(&plan, &on_event);

        let report = guest_output::parse(&run.guest_lines);
        let (tests, mut failures) = if run.guest_lines.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            tests_from_report(&report, &kernel.release)
        };
        if let Some(failure) = &run.failure {
            let mut message = failure.message.clone();
            if failure.kind == "timeout" {
                // Which test it hung in: the one after the last that finished.
                let finished = report.libtest.len();
                match report.libtest.last() {
                    Some((last, _)) => message
                        .push_str(&format!("; {finished} tests had finished, the last {last}")),
                    None if report.binaries.is_empty() => {}
                    None => message.push_str("; no test had finished"),
                }
            }
            failures.insert(
                0,
                KernelFailure {
                    kind: failure.kind.to_owned(),
                    message,
                    console_tail: run.console_tail.clone(),
                },
            );
        } else if run.guest_lines.is_empty() {
            failures.push(KernelFailure {
                kind: "missing-results".to_owned(),
                message: "the guest printed nothing".to_owned(),
                console_tail: run.console_tail.clone(),
            });
        }
        // A guest that died mid-run (no timeout or panic seen) shows why on its console.
        if run.failure.is_none() {
            if let Some(failure) = failures.iter_mut().find(|f| f.kind == "missing-results") {
                failure.console_tail = run.console_tail.clone();
            }
        }
        let count = |f: fn(&TestStatus) -> bool| tests.iter().filter(|t| f(&t.status)).count();
        let (pass, skip, fail) = (
            count(|s| matches!(s, TestStatus::Pass)),
            count(|s| matches!(s, TestStatus::Skip(_))),
            count(|s| matches!(s, TestStatus::Fail(_))),
        );
        let boot = run
            .boot_time
            .map(|b| format!(", up in {:.0} s", b.as_secs_f64()))
            .unwrap_or_default();
        let verdict = if failures.is_empty() && fail == 0 {
            "ok"
        } else {
            "FAILED"
        };
        task.finish(&format!(
            "{verdict}: {pass} passed, {fail} failed, {skip} skipped on {} ({}, {:.0} s{boot})",
            kernel.release,
            self.accel.name(),
            run.duration.as_secs_f64()
        ));
        KernelOutcome {
            name: spec.name.clone(),
            release: kernel.release.clone(),
            accel: self.accel.name().to_owned(),
            duration_secs: secs(run.duration),
            boot_secs: run.boot_time.map(secs),
            tests,
            failures,
            console_log: run.console_log.display().to_string(),
            guest_log: run.guest_log.display().to_string(),
        }
    }
}
