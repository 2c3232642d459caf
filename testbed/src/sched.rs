//! Scheduling policy for the processes the testbed starts.

use std::process::Command;

/// Starts `command` with the scheduling policy SCHED_BATCH (which its children inherit): a
/// batch task that wakes up never preempts the task running on its CPU; it waits for the
/// scheduler's next decision instead.
pub fn batch(command: &mut Command) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: sched_setscheduler is async-signal-safe; it runs in the child between fork and
    // exec, with a parameter on the child's stack.
    unsafe {
        command.pre_exec(|| {
            let param = libc::sched_param { sched_priority: 0 };
            if libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
