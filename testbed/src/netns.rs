//! Network namespaces made by the caller, held by a file descriptor (no /run/netns entry, so a
//! read-only /run does not matter). Closing the descriptor, when the value drops, frees the
//! namespace and every interface in it, even when a test failed. Links, addresses and routes
//! are set up over a netlink socket opened in the namespace ([`RouteNetlink`]).
//!
//! [`Netns::named`] also bind-mounts the namespace at `/run/netns/NAME`, as `ip netns add`
//! does, so that other programs (`ip netns exec`, `nsenter --net=`) and a later
//! `meshtwin-testbed down` find it by name; the mount is removed when the value drops.

use std::{
    fs::File,
    io,
    net::{IpAddr, Ipv4Addr},
    os::{fd::AsRawFd as _, unix::process::CommandExt as _},
    path::PathBuf,
    process::{Command, Output},
    sync::{Mutex, MutexGuard},
};

use crate::netlink::RouteNetlink;

pub struct Netns {
    file: File,
    netlink: Mutex<RouteNetlink>,
    /// `/run/netns/NAME` when the namespace is mounted there.
    mount: Option<PathBuf>,
}

/// Where named namespaces are mounted (the directory `ip netns` uses).
pub const NAMED_NETNS_DIR: &str = "/run/netns";

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
        let (file, netlink) = std::thread::spawn(|| {
            // SAFETY: unshare moves only this short-lived thread.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                panic!(
                    "unshare(CLONE_NEWNET) failed: {}",
                    io::Error::last_os_error()
                );
            }
            let file = File::open("/proc/thread-self/ns/net").expect("open the new namespace");
            let netlink = RouteNetlink::open().expect("open a netlink socket in the namespace");
            (file, netlink)
        })
        .join()
        .expect("namespace thread");
        let ns = Self {
            file,
            netlink: Mutex::new(netlink),
            mount: None,
        };
        ns.set_up("lo");
        ns
    }

    /// A fresh namespace, also mounted at `/run/netns/<name>`. Fails if that name exists.
    pub fn named(name: &str) -> io::Result<Self> {
        let mut ns = Self::new();
        let dir = std::path::Path::new(NAMED_NETNS_DIR);
        std::fs::create_dir_all(dir)?;
        let target = dir.join(name);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)?;
        let source = std::ffi::CString::new(format!("/proc/self/fd/{}", ns.raw_fd()))
            .expect("no NUL in a path");
        let target_c = std::ffi::CString::new(target.as_os_str().as_encoded_bytes())
            .map_err(|_| io::Error::other("NUL in a namespace name"))?;
        // SAFETY: two valid C strings; a bind mount takes no file system type or data.
        let mounted = unsafe {
            libc::mount(
                source.as_ptr(),
                target_c.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            )
        };
        if mounted != 0 {
            let error = io::Error::last_os_error();
            let _ = std::fs::remove_file(&target);
            return Err(error);
        }
        ns.mount = Some(target);
        Ok(ns)
    }

    /// `/run/netns/NAME` if the namespace was made with [`Netns::named`].
    pub fn mount_path(&self) -> Option<&std::path::Path> {
        self.mount.as_deref()
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

    fn netlink(&self) -> MutexGuard<'_, RouteNetlink> {
        self.netlink
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs /usr/sbin/ip inside the namespace and panics with its stderr when it fails. For what
    /// the methods below do not cover: each call is a process, which is slow under emulation.
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
        self.netlink()
            .add_veth(name, peer_name, peer.raw_fd())
            .unwrap_or_else(|error| panic!("add veth {name} (peer {peer_name}): {error}"));
    }

    /// Creates a netkit pair (L2 mode): primary `name` here, peer `peer_name` in `peer`.
    pub fn add_netkit(&self, name: &str, peer: &Netns, peer_name: &str) -> std::io::Result<()> {
        self.netlink().add_netkit(name, peer_name, peer.raw_fd())
    }

    /// `ip link set NAME up`.
    pub fn set_up(&self, name: &str) {
        self.netlink()
            .set_up(name)
            .unwrap_or_else(|error| panic!("set {name} up: {error}"));
    }

    /// `ip addr add ADDRESS/PREFIX_LEN dev NAME` (IPv6: `nodad`).
    pub fn add_address(&self, name: &str, address: IpAddr, prefix_len: u8) {
        self.netlink()
            .add_address(name, address, prefix_len)
            .unwrap_or_else(|error| panic!("add {address}/{prefix_len} to {name}: {error}"));
    }

    /// `ip route add DESTINATION/PREFIX_LEN [via GATEWAY] dev NAME`.
    pub fn add_route(
        &self,
        destination: Ipv4Addr,
        prefix_len: u8,
        gateway: Option<Ipv4Addr>,
        name: &str,
    ) {
        self.netlink()
            .add_route(destination, prefix_len, gateway, name)
            .unwrap_or_else(|error| {
                panic!("add route {destination}/{prefix_len} via {gateway:?} dev {name}: {error}")
            });
    }

    /// Whether an XDP program is attached to `name`.
    pub fn has_xdp(&self, name: &str) -> bool {
        self.netlink()
            .has_xdp(name)
            .unwrap_or_else(|error| panic!("read link {name}: {error}"))
    }

    /// Waits (up to 10 s) until `device` is operationally up: until then a new veth drops what
    /// is sent through it, which would make a "cannot connect" check pass for the wrong reason.
    pub fn wait_link_up(&self, device: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let up = self
                .netlink()
                .is_up(device)
                .unwrap_or_else(|error| panic!("read link {device}: {error}"));
            if up {
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

impl Drop for Netns {
    fn drop(&mut self) {
        if let Some(mount) = self.mount.take() {
            unmount_named(&mount);
        }
    }
}

/// Unmounts and removes a namespace mounted at `path` (`ip netns del`); the namespace itself
/// goes when nothing else holds it.
pub fn unmount_named(path: &std::path::Path) {
    if let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) {
        // SAFETY: a valid C string; MNT_DETACH never blocks.
        unsafe { libc::umount2(c_path.as_ptr(), libc::MNT_DETACH) };
    }
    let _ = std::fs::remove_file(path);
}
