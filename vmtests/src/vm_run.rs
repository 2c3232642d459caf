//! Runs one kernel: vmtest boots it (host root over 9p, read-only; the shim as initramfs) and
//! runs the guest command through qemu-guest-agent, while this module watches the clock. vmtest
//! itself waits forever for a hung guest, so past the kernel's timeout its qemu is killed
//! through the wrapper's pid file, and the failure names the kernel and the phase it hung in.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{LineWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use vmtest::output::Output;

use crate::accel::Accel;
use crate::catalog::KernelSpec;
use crate::guest_script::MARKER;
use crate::kernel_cache::CachedKernel;
use crate::qemu_wrapper;

/// Lines of console kept for failure reports.
const CONSOLE_TAIL: usize = 25;
/// How long to wait for vmtest to return after its qemu was killed.
const KILL_GRACE: Duration = Duration::from_secs(10);

/// What to run and where.
pub struct VmPlan<'a> {
    pub spec: &'a KernelSpec,
    pub kernel: &'a CachedKernel,
    pub shim: &'a Path,
    pub accel: Accel,
    /// The real qemu-system-x86_64.
    pub qemu: &'a Path,
    /// This kernel's work directory (wrapper, logs, vmtest's shared dir).
    pub dir: &'a Path,
    /// The bash script vmtest runs in the guest.
    pub command: String,
}

/// Where a run is, for progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Booting,
    SettingUp,
    Running,
}

impl Phase {
    pub fn describe(self) -> &'static str {
        match self {
            Phase::Booting => "booting",
            Phase::SettingUp => "mounting the shared directory",
            Phase::Running => "running tests",
        }
    }
}

/// Why a run did not complete.
#[derive(Debug, Clone)]
pub struct VmFailure {
    /// `timeout`, `panic`, `boot`, `guest`.
    pub kind: &'static str,
    pub message: String,
}

/// What a run produced.
#[derive(Debug)]
pub struct VmRun {
    /// Output of the guest command, line by line.
    pub guest_lines: Vec<String>,
    pub console_tail: Vec<String>,
    pub boot_time: Option<Duration>,
    pub duration: Duration,
    pub failure: Option<VmFailure>,
    pub console_log: PathBuf,
    pub guest_log: PathBuf,
}

/// Boots `plan.kernel` and runs `plan.command` in it. `progress` hears about phase changes and
/// every line the guest command prints.
pub fn run(plan: &VmPlan, progress: &(dyn Fn(Phase, Option<&str>) + Sync)) -> VmRun {
    let start = Instant::now();
    let console_log = plan.dir.join("console.log");
    let guest_log = plan.dir.join("guest.log");
    let mut run = VmRun {
        guest_lines: Vec::new(),
        console_tail: Vec::new(),
        boot_time: None,
        duration: Duration::ZERO,
        failure: None,
        console_log: console_log.clone(),
        guest_log: guest_log.clone(),
    };
    let fail = |run: &mut VmRun, kind, message: String| {
        if run.failure.is_none() {
            run.failure = Some(VmFailure { kind, message });
        }
    };

    let shared = plan.dir.join("shared");
    let prepared = std::fs::create_dir_all(&shared)
        .and_then(|()| qemu_wrapper::install(plan.dir, plan.accel, plan.qemu))
        .and_then(|wrapper| {
            Ok((
                wrapper,
                File::create(&console_log)?,
                File::create(&guest_log)?,
            ))
        });
    let (wrapper, console_file, guest_file) = match prepared {
        Ok(p) => p,
        Err(e) => {
            fail(
                &mut run,
                "guest",
                format!("cannot prepare {}: {e}", plan.dir.display()),
            );
            return run;
        }
    };
    // Line-buffered so `tail -f` follows a run as it goes.
    let mut console_out = LineWriter::new(console_file);
    let mut guest_out = LineWriter::new(guest_file);

    let target = vmtest::Target {
        name: plan.spec.name.clone(),
        kernel: Some(plan.kernel.boot_image.clone()),
        // vmtest shares the host root read-write unless told `ro`; the shim mounts it
        // read-only anyway, and this keeps the kernel's own view consistent with that.
        kernel_args: Some("ro".to_owned()),
        qemu_command: Some(wrapper.to_string_lossy().into_owned()),
        command: plan.command.clone(),
        vm: vmtest::VMConfig {
            num_cpus: plan.spec.cpus,
            memory: plan.spec.memory.clone(),
            extra_args: vec![
                "-initrd".to_owned(),
                plan.shim.to_string_lossy().into_owned(),
            ],
            ..Default::default()
        },
        ..Default::default()
    };
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        match vmtest::Vmtest::new(
            &shared,
            vmtest::Config {
                target: vec![target],
            },
        ) {
            Ok(vmtest) => vmtest.run_one(0, tx),
            Err(e) => {
                let _ = tx.send(Output::BootEnd(Err(e)));
            }
        }
    });

    let deadline = start + plan.spec.timeout;
    let mut phase = Phase::Booting;
    let mut tail: VecDeque<String> = VecDeque::with_capacity(CONSOLE_TAIL);
    let mut killed_at: Option<Instant> = None;
    // Set when the guest printed its last line: vmtest would still poll the guest agent (with
    // a back-off of up to 5 s), sync and quit; killing qemu at once saves that, and any error
    // vmtest then reports is an artefact of the kill.
    let mut guest_done = false;
    let last_line = format!("{MARKER} results-end");
    progress(phase, None);
    loop {
        let now = Instant::now();
        if killed_at.is_none() && now >= deadline {
            qemu_wrapper::kill(plan.dir);
            killed_at = Some(now);
            fail(
                &mut run,
                "timeout",
                format!(
                    "kernel {} did not finish within {} s (it was {}); \
                     raise timeout_secs in {} if it is just slow",
                    plan.spec.name,
                    plan.spec.timeout.as_secs(),
                    phase.describe(),
                    plan.spec.location
                ),
            );
        }
        if killed_at.is_some_and(|t| t.elapsed() > KILL_GRACE) {
            break;
        }
        let wait = deadline
            .saturating_duration_since(now)
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        let output = match rx.recv_timeout(wait) {
            Ok(output) => output,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        match output {
            Output::BootStart => {}
            Output::Boot(line) => {
                let line = line.trim_end_matches('\r').to_owned();
                let _ = writeln!(console_out, "{line}");
                if line.contains("Kernel panic") {
                    fail(
                        &mut run,
                        "panic",
                        format!("kernel {} panicked: {line}", plan.spec.name),
                    );
                }
                if tail.len() == CONSOLE_TAIL {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
            Output::BootEnd(Ok(())) => {
                run.boot_time = Some(start.elapsed());
                phase = Phase::SettingUp;
                progress(phase, None);
            }
            Output::BootEnd(Err(e)) => fail(
                &mut run,
                "boot",
                format!("kernel {} did not come up: {e:#}", plan.spec.name),
            ),
            Output::SetupStart => {
                let _ = writeln!(
                    guest_out,
                    "[{:6.1}s] (setup)",
                    start.elapsed().as_secs_f64()
                );
            }
            Output::Setup(line) => {
                let _ = writeln!(guest_out, "[{:6.1}s] {line}", start.elapsed().as_secs_f64());
            }
            Output::SetupEnd(Ok(())) => {}
            Output::SetupEnd(Err(e)) => {
                fail(&mut run, "guest", format!("guest set-up failed: {e:#}"))
            }
            Output::CommandStart => {
                let _ = writeln!(
                    guest_out,
                    "[{:6.1}s] (command)",
                    start.elapsed().as_secs_f64()
                );
                phase = Phase::Running;
                progress(phase, None);
            }
            Output::Command(line) => {
                // Seconds since qemu started, to see where a slow run spends its time.
                let _ = writeln!(guest_out, "[{:6.1}s] {line}", start.elapsed().as_secs_f64());
                progress(phase, Some(&line));
                if line.trim_end() == last_line && killed_at.is_none() {
                    guest_done = true;
                    qemu_wrapper::kill(plan.dir);
                    killed_at = Some(Instant::now());
                }
                run.guest_lines.push(line);
            }
            _ if guest_done => {}
            Output::CommandEnd(Ok(0)) => {
                let _ = writeln!(
                    guest_out,
                    "[{:6.1}s] (command done)",
                    start.elapsed().as_secs_f64()
                );
            }
            Output::CommandEnd(Ok(code)) => {
                fail(&mut run, "guest", format!("the guest script exited {code}"))
            }
            Output::CommandEnd(Err(e)) => fail(
                &mut run,
                "guest",
                format!("running the tests in the guest failed: {e:#}"),
            ),
        }
    }
    if killed_at.is_none() {
        let _ = worker.join();
    }
    let _ = console_out.flush();
    let _ = guest_out.flush();
    run.console_tail = tail.into_iter().collect();
    run.duration = start.elapsed();
    run
}
