//! Network namespaces made by the caller, held by a file descriptor (no /run/netns entry, so a
//! read-only /run does not matter). Closing the descriptor, when the value drops, frees the
//! namespace and every interface in it, even when a test failed.

use std::{
    fs::File,
    io,
    os::{fd::AsRawFd as _, unix::process::CommandExt as _},
    path::PathBuf,
    process::{Command, Output},
};

pub struct Netns {
    file: File,
}

fn setns(fd: i32) -> io::Result<()> {
    // SAFETY: a namespace descriptor and its type.
    if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Default for Netns {
    fn default() -> Self {
        Self::new()
    }
}

impl Netns {
    /// A fresh, empty namespace (only a down `lo`).
    pub fn new() -> Self {
        let file = std::thread::spawn(|| {
            // SAFETY: unshare moves only this short-lived thread.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                panic!(
                    "unshare(CLONE_NEWNET) failed: {}",
                    io::Error::last_os_error()
                );
            }
            File::open("/proc/thread-self/ns/net").expect("open the new namespace")
        })
        .join()
        .expect("namespace thread");
        let ns = Self { file };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// The descriptor that holds the namespace (for setns in a child process).
    pub fn raw_fd(&self) -> i32 {
        self.file.as_raw_fd()
    }

    /// A path other processes (the agent) can open to reach this namespace.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!(
            "/proc/{}/fd/{}",
            std::process::id(),
            self.file.as_raw_fd()
        ))
    }

    /// Runs `f` on a thread inside the namespace; sockets made there belong to it.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let fd = self.file.as_raw_fd();
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    setns(fd).expect("setns into the test namespace");
                    f()
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// A command that will run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let fd = self.file.as_raw_fd();
        let mut command = Command::new(program);
        // SAFETY: setns is async-signal-safe; it runs in the child between fork and exec.
        unsafe {
            command.pre_exec(move || setns(fd));
        }
        command
    }

    /// Runs /usr/sbin/ip inside the namespace and panics with its stderr when it fails.
    pub fn ip(&self, args: &[&str]) -> Output {
        let output = self
            .command("/usr/sbin/ip")
            .args(args)
            .output()
            .expect("run /usr/sbin/ip");
        assert!(
            output.status.success(),
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Creates a veth pair: `name` here, `peer_name` in `peer`.
    pub fn add_veth(&self, name: &str, peer: &Netns, peer_name: &str) {
        let peer_path = peer.path();
        let peer_path = peer_path.to_str().expect("utf-8 path");
        self.ip(&[
            "link", "add", name, "type", "veth", "peer", "name", peer_name, "netns", peer_path,
        ]);
    }

    /// Waits (up to 10 s) until `device` is operationally up: until then a new veth drops what
    /// is sent through it, which would make a "cannot connect" check pass for the wrong reason.
    pub fn wait_link_up(&self, device: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let output = self.ip(&["-o", "link", "show", "dev", device]);
            if String::from_utf8_lossy(&output.stdout).contains(" state UP ") {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{device} did not come up"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Writes a sysctl of this namespace (net.* sysctls are per namespace).
    pub fn sysctl(&self, path: &str, value: &str) {
        self.run(|| std::fs::write(format!("/proc/sys/{path}"), value))
            .unwrap_or_else(|error| panic!("sysctl {path}={value}: {error}"));
    }
}
