//! CPU pinning: the mesh runs on some CPUs and the load generator on another, because on this
//! machine a wake-up across CPUs costs ~50 µs (docs/performance.md, "Datapath"): where each
//! process runs is part of what a measurement measured.

use std::{io, os::unix::process::CommandExt as _, process::Command};

/// Pins the calling thread to `cpu`; threads and processes it starts later inherit the mask.
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    pin(0, &[cpu])
}

/// Pins process or thread `pid` (0: the caller) to `cpus`.
pub fn pin(pid: libc::pid_t, cpus: &[usize]) -> io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET and sched_setaffinity only read and
    // write that value.
    let ret = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for cpu in cpus {
            libc::CPU_SET(*cpu, &mut set);
        }
        libc::sched_setaffinity(pid, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if ret != 0 {
        let error = io::Error::last_os_error();
        return Err(io::Error::new(
            error.kind(),
            format!("cannot pin {pid} to CPUs {cpus:?}: {error}"),
        ));
    }
    Ok(())
}

/// The CPUs this machine has online (not only those the caller may use).
pub fn online_cpus() -> usize {
    // SAFETY: sysconf only returns a number.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    n.max(1) as usize
}

/// Makes `command`'s process start on `cpus` (before exec, so every thread it starts inherits
/// the mask; pinning a running process by pid would move only its first thread).
pub fn pin_command(command: &mut Command, cpus: &[usize]) {
    // SAFETY: a zeroed cpu_set_t is the empty set; it is filled here, before the fork.
    let set = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for cpu in cpus {
            libc::CPU_SET(*cpu, &mut set);
        }
        set
    };
    // SAFETY: sched_setaffinity is async-signal-safe; it runs in the child between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
