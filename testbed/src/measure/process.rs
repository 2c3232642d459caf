//! What one process used, read from /proc: its CPU time (every thread's run time from
//! /proc/PID/task/*/schedstat, in ns; utime + stime of /proc/PID/stat, in clock ticks of 10 ms,
//! only when schedstat is missing) and its peak resident memory (VmHWM of /proc/PID/status).

use std::{io, path::Path};

/// CPU time of every live thread of `pid`, in ns.
pub fn cpu_ns(pid: u32) -> io::Result<u64> {
    let tasks = Path::new("/proc").join(pid.to_string()).join("task");
    let mut total = 0u64;
    let mut read_any = false;
    for entry in std::fs::read_dir(&tasks)? {
        let Ok(entry) = entry else { continue };
        // A thread may end between the listing and the read.
        let Ok(text) = std::fs::read_to_string(entry.path().join("schedstat")) else {
            continue;
        };
        if let Some(ns) = text
            .split_whitespace()
            .next()
            .and_then(|f| f.parse::<u64>().ok())
        {
            total += ns;
            read_any = true;
        }
    }
    if read_any {
        return Ok(total);
    }
    stat_cpu_ns(pid)
}

/// utime + stime from /proc/PID/stat, in ns (10 ms resolution).
pub fn stat_cpu_ns(pid: u32) -> io::Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
    let rest = text
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| io::Error::other(format!("/proc/{pid}/stat: no command name")))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime field 14, stime field 15 (proc(5)).
    let field = |n: usize| -> io::Result<u64> {
        fields
            .get(n - 3)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other(format!("/proc/{pid}/stat: no field {n}")))
    };
    // SAFETY: sysconf only returns a number.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok((field(14)? + field(15)?) * 1_000_000_000 / ticks)
}

/// Peak and current resident memory of `pid`, in bytes (VmHWM, VmRSS).
pub fn memory_bytes(pid: u32) -> io::Result<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = |key: &str| -> Option<u64> {
        text.lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    match (kib("VmHWM:"), kib("VmRSS:")) {
        (Some(peak), Some(now)) => Ok((peak * 1024, now * 1024)),
        // Kernel threads and zombies have no memory lines.
        _ => Err(io::Error::other(format!("/proc/{pid}/status has no VmHWM"))),
    }
}

/// CPU time of everything in a cgroup v2 directory (`usage_usec` of cpu.stat, which cgroup v2
/// keeps even without the cpu controller), in ns.
pub fn cgroup_cpu_ns(cgroup: &Path) -> io::Result<u64> {
    let text = std::fs::read_to_string(cgroup.join("cpu.stat"))?;
    text.lines()
        .find_map(|line| line.strip_prefix("usage_usec "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|us| us * 1000)
        .ok_or_else(|| io::Error::other(format!("{}/cpu.stat has no usage_usec", cgroup.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread_cpu_ns() -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes the timespec it is given.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    /// A second thread burns 200 ms of its own CPU time (however long that takes on a shared
    /// machine) and stays alive while the process's CPU time is read: schedstat must count
    /// every thread, not only the first.
    #[test]
    fn cpu_time_counts_every_thread() {
        let pid = std::process::id();
        let before = cpu_ns(pid).unwrap();
        let (done, burnt) = std::sync::mpsc::channel();
        let (measured, release) = std::sync::mpsc::channel::<()>();
        let burner = std::thread::spawn(move || {
            let start = thread_cpu_ns();
            let mut x = 0u64;
            while thread_cpu_ns() - start < 200_000_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            std::hint::black_box(x);
            done.send(()).unwrap();
            // Alive until measured: a finished thread's time leaves /proc/PID/task.
            let _ = release.recv();
        });
        burnt.recv().unwrap();
        let grown = cpu_ns(pid).unwrap() - before;
        measured.send(()).unwrap();
        burner.join().unwrap();
        assert!((200_000_000..2_000_000_000).contains(&grown), "{grown} ns");
        assert!(stat_cpu_ns(pid).unwrap() > 0);
    }

    #[test]
    fn peak_memory_is_at_least_what_was_touched() {
        let pid = std::process::id();
        let block = vec![1u8; 64 << 20];
        std::hint::black_box(&block);
        let (peak, now) = memory_bytes(pid).unwrap();
        assert!(peak >= 64 << 20, "peak {peak}");
        assert!(peak >= now);
        drop(block);
        assert!(memory_bytes(u32::MAX).is_err());
    }
}
