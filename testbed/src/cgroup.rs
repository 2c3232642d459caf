//! cgroup v2 directories made by the caller, for workloads: processes are started inside one
//! (and inside a network namespace) so that the socket-level programs attached to it see their
//! sockets. Dropping the tree kills whatever still runs in it and removes the directories, also
//! when a test failed.

use std::{
    ffi::{CString, OsStr},
    io,
    os::unix::{ffi::OsStrExt as _, process::CommandExt as _},
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use meshtwin_datapath_pins::mounts::cgroup2_mount;

use crate::netns::Netns;

/// A cgroup directory `<cgroup2 mount>/<name>` with one child directory per workload.
pub struct CgroupTree {
    root: PathBuf,
    children: Vec<PathBuf>,
}

impl CgroupTree {
    /// Creates `<cgroup2 mount>/<name>`; the mount is found in /proc/mounts.
    pub fn new(name: &str) -> io::Result<Self> {
        let mount = cgroup2_mount()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no cgroup2 in /proc/mounts"))?;
        let root = mount.join(name);
        // A leftover of a crashed run with the same name.
        if root.exists() {
            remove_tree(&root);
        }
        std::fs::create_dir(&root)?;
        Ok(Self {
            root,
            children: Vec::new(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates the child cgroup `name` and returns its path.
    pub fn add(&mut self, name: &str) -> io::Result<PathBuf> {
        let path = self.root.join(name);
        std::fs::create_dir(&path)?;
        self.children.push(path.clone());
        Ok(path)
    }

    /// A command that starts inside the child cgroup `name`, and inside `netns` if given.
    pub fn command(
        &self,
        name: &str,
        program: impl AsRef<OsStr>,
        netns: Option<&Netns>,
    ) -> Command {
        let procs = CString::new(
            self.root
                .join(name)
                .join("cgroup.procs")
                .as_os_str()
                .as_bytes(),
        )
        .expect("no NUL in a cgroup path");
        let netns_fd = netns.map(Netns::raw_fd);
        let mut command = Command::new(program);
        // SAFETY: only async-signal-safe calls (setns, open, write, close) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if let Some(fd) = netns_fd {
                    if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                // "0" moves the writing process itself.
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                let written = libc::write(fd, b"0".as_ptr().cast(), 1);
                libc::close(fd);
                if written != 1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        command
    }
}

impl Drop for CgroupTree {
    fn drop(&mut self) {
        for child in self.children.iter().rev() {
            remove_tree(child);
        }
        remove_tree(&self.root);
    }
}

/// Kills every process in `cgroup` (which has no child cgroups) and removes it, waiting up to
/// five seconds for the processes to go.
pub fn remove_tree(cgroup: &Path) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(procs) = std::fs::read_to_string(cgroup.join("cgroup.procs")) {
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                // SAFETY: signalling a process by id.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        match std::fs::remove_dir(cgroup) {
            Ok(()) => return,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(error) => {
                eprintln!("cannot remove cgroup {}: {error}", cgroup.display());
                return;
            }
        }
    }
}
