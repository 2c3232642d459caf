//! The agent binary, run as a separate process inside the node namespace, with its pins in a
//! bpffs directory of the test's own and its config in /tmp. Dropping the fixture runs `down`
//! and removes both, even when the test failed.

use std::{
    path::{Path, PathBuf},
    process::{Child, Output, Stdio},
};

use meshtwin_datapath_pins::mounts::is_on_bpffs;

use super::netns::Netns;

/// `MESHTWIN_AGENT_BIN`, else the binary cargo built for these tests.
pub fn binary() -> PathBuf {
    std::env::var_os("MESHTWIN_AGENT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_meshtwin-agent")))
}

/// A bpffs mount: /sys/fs/bpf, mounted there if nothing is (as systemd would).
pub fn bpffs_root() -> PathBuf {
    let root = Path::new("/sys/fs/bpf");
    if is_on_bpffs(root) {
        return root.to_owned();
    }
    let status = std::process::Command::new("/bin/mount")
        .args(["-t", "bpf", "bpf", "/sys/fs/bpf"])
        .status();
    if is_on_bpffs(root) {
        return root.to_owned();
    }
    // A read-only /sys or no mount point: a private bpffs under /tmp.
    let fallback = PathBuf::from("/tmp/meshtwin-bpffs");
    std::fs::create_dir_all(&fallback).expect("create /tmp/meshtwin-bpffs");
    if !is_on_bpffs(&fallback) {
        let mounted = std::process::Command::new("/bin/mount")
            .args(["-t", "bpf", "bpf"])
            .arg(&fallback)
            .status();
        assert!(
            is_on_bpffs(&fallback),
            "no bpffs: mounting /sys/fs/bpf gave {status:?}, {} gave {mounted:?}",
            fallback.display()
        );
    }
    fallback
}

pub struct Agent {
    pub bpffs_dir: PathBuf,
    pub config: PathBuf,
    work: PathBuf,
}

impl Agent {
    pub fn new(test: &str) -> Self {
        let tag = format!("meshtwin-test-{}-{test}", std::process::id());
        let bpffs_dir = bpffs_root().join(&tag);
        let work = std::env::temp_dir().join(&tag);
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).expect("create the test's work directory in /tmp");
        Self {
            bpffs_dir,
            config: work.join("node.toml"),
            work,
        }
    }

    /// Writes the node config, with this test's bpffs directory.
    pub fn write_config(&self, body: &str) {
        let text = format!(
            "[agent]\nbpffs-dir = \"{}\"\n\n{body}",
            self.bpffs_dir.display()
        );
        std::fs::write(&self.config, text).expect("write node.toml");
    }

    /// Runs `meshtwin-agent <args>` inside `ns`.
    pub fn run(&self, ns: &Netns, args: &[&str]) -> Output {
        ns.command(binary().to_str().expect("utf-8 path"))
            .args(args)
            .output()
            .expect("run meshtwin-agent")
    }

    /// Runs a subcommand that takes the config; panics with its stderr if it fails.
    pub fn ok(&self, ns: &Netns, command: &str) -> String {
        let config = self.config.to_str().expect("utf-8 path");
        let output = self.run(ns, &[command, "--config", config]);
        assert!(
            output.status.success(),
            "meshtwin-agent {command} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Starts `meshtwin-agent run` in `ns` with piped stdout.
    pub fn spawn_run(&self, ns: &Netns) -> Child {
        ns.command(binary().to_str().expect("utf-8 path"))
            .args([
                "run",
                "--config",
                self.config.to_str().expect("utf-8 path"),
                "--metrics-address",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn meshtwin-agent run")
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if self.bpffs_dir.exists() {
            let _ = std::process::Command::new(binary())
                .args(["down", "--bpffs-dir"])
                .arg(&self.bpffs_dir)
                .arg("--config")
                .arg(&self.config)
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.work);
    }
}
