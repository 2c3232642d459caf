//! The processes and kernel state a benchmark run sets up, each undone when dropped: benchmark
//! processes, the agent's pins and config, an iptables REDIRECT, and the CPU everything runs on.

use std::{
    io::{BufRead as _, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
};

use anyhow::{bail, Context as _, Result};

use crate::netns::Netns;

/// A child process killed when dropped.
pub(crate) struct Running(Child);

impl Running {
    pub(crate) fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Running {
    pub(super) fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    /// Starts `command` with its output discarded; the caller checks when it is ready.
    pub(crate) fn spawn(mut command: Command) -> Result<Self> {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {:?}", command.get_program()))?;
        Ok(Self(child))
    }

    /// Whether it has ended, with what it said on stderr if so.
    pub(crate) fn ended(&mut self) -> Option<String> {
        match self.0.try_wait() {
            Ok(Some(status)) => {
                let mut stderr = String::new();
                if let Some(mut pipe) = self.0.stderr.take() {
                    use std::io::Read as _;
                    let _ = pipe.read_to_string(&mut stderr);
                }
                Some(format!("{status}: {}", stderr.trim()))
            }
            _ => None,
        }
    }
}

/// Starts `command` and waits for a stdout line starting with `prefix`.
pub(crate) fn start(mut command: Command, prefix: &str) -> Result<Running> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start a benchmark process")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let running = Running(child);
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            bail!("a benchmark process ended before printing {prefix:?}");
        }
        if line.starts_with(prefix) {
            break;
        }
    }
    // Keep draining its output so that it never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines() {});
    Ok(running)
}

/// The agent's pins and config, taken down when dropped.
pub(super) struct AgentRun {
    pub(super) agent: PathBuf,
    pub(super) config: PathBuf,
    pub(super) bpffs_dir: PathBuf,
}

impl AgentRun {
    pub(super) fn up(&self, ns: &Netns, body: &str) -> Result<()> {
        let text = format!(
            "[agent]\nbpffs-dir = \"{}\"\n\n{body}",
            self.bpffs_dir.display()
        );
        std::fs::write(&self.config, text)?;
        let output = ns
            .command(self.agent.to_str().context("utf-8 path")?)
            .args(["up", "--config"])
            .arg(&self.config)
            .output()?;
        if !output.status.success() {
            bail!(
                "meshtwin-agent up failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    fn down(&self) {
        if self.bpffs_dir.exists() {
            let _ = Command::new(&self.agent)
                .args(["down", "--bpffs-dir"])
                .arg(&self.bpffs_dir)
                .output();
        }
    }
}

impl Drop for AgentRun {
    fn drop(&mut self) {
        self.down();
        let _ = std::fs::remove_file(&self.config);
    }
}

/// netfilter NAT rules in the node namespace, removed when dropped.
pub(super) struct Redirect<'a> {
    ns: &'a Netns,
    rule: Vec<String>,
}

const IPTABLES: &str = "/usr/sbin/iptables";

impl<'a> Redirect<'a> {
    pub(super) fn add(ns: &'a Netns) -> Result<Self> {
        let rule: Vec<String> = [
            "PREROUTING",
            "-i",
            "h-client",
            "-p",
            "tcp",
            "-d",
            "10.96.0.10",
            "--dport",
            "7",
            "-j",
            "REDIRECT",
            "--to-ports",
            "15001",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let output = ns
            .command(IPTABLES)
            .args(["-t", "nat", "-A"])
            .args(&rule)
            .output()
            .with_context(|| format!("cannot run {IPTABLES}"))?;
        if !output.status.success() {
            bail!(
                "iptables REDIRECT is not available here: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(Self { ns, rule })
    }
}

impl Drop for Redirect<'_> {
    fn drop(&mut self) {
        let _ = self
            .ns
            .command(IPTABLES)
            .args(["-t", "nat", "-D"])
            .args(&self.rule)
            .output();
    }
}

/// Lets this process, and what it starts from now on, run on any of the first `cpus` CPUs.
pub(super) fn unpin(cpus: usize) -> Result<()> {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET and sched_setaffinity only read and
    // write that value.
    let ret = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for cpu in 0..cpus.max(1) {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if ret != 0 {
        bail!(
            "cannot let the benchmark run on {cpus} CPUs: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// Pins this process to `cpu`; the processes it starts inherit the mask.
pub(super) fn pin_to(cpu: usize) -> Result<()> {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET and sched_setaffinity only read and
    // write that value.
    let ret = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if ret != 0 {
        bail!(
            "cannot pin the benchmark to CPU {cpu}: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}
