//! Host programs the matrix needs, found up front so a missing one is one clear message with
//! the command that installs it, not a failure deep inside a boot.

use std::path::{Path, PathBuf};

/// A program that is not installed.
#[derive(Debug, thiserror::Error)]
#[error("{program} not found ({why}); install it with: {install}")]
pub struct MissingTool {
    pub program: &'static str,
    pub why: &'static str,
    pub install: &'static str,
}

/// Directories searched besides $PATH: the guest agent lives in sbin, which a user's PATH may lack.
const EXTRA_DIRS: &[&str] = &["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// Finds `program` in $PATH or the sbin/bin directories.
pub fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// qemu-system-x86_64, which boots the guests; $MESHTWIN_QEMU names another one.
pub fn qemu() -> Result<PathBuf, MissingTool> {
    let chosen = match std::env::var_os("MESHTWIN_QEMU").filter(|v| !v.is_empty()) {
        Some(path) => Some(PathBuf::from(path)).filter(|p| is_executable(p)),
        None => find("qemu-system-x86_64"),
    };
    chosen.ok_or(MissingTool {
        program: "qemu-system-x86_64",
        why: "it boots the test kernels",
        install: "apt-get install -y qemu-system-x86",
    })
}

/// qemu-ga: vmtest runs the tests through it, and the guest runs the host's copy.
pub fn guest_agent() -> Result<PathBuf, MissingTool> {
    find("qemu-ga").ok_or(MissingTool {
        program: "qemu-ga",
        why: "the guests run the host's qemu-guest-agent to take commands",
        install: "apt-get install -y qemu-guest-agent",
    })
}

/// Makes sure the guest finds sbin programs (qemu-ga, mount, ip): vmtest's guest init uses this
/// process's $PATH.
pub fn path_with_sbin() -> std::ffi::OsString {
    let current = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&current).collect();
    for extra in EXTRA_DIRS {
        if !dirs.iter().any(|d| d == Path::new(extra)) {
            dirs.push(PathBuf::from(extra));
        }
    }
    std::env::join_paths(dirs).unwrap_or(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tools_say_how_to_install() {
        let e = MissingTool {
            program: "qemu-system-x86_64",
            why: "it boots the test kernels",
            install: "apt-get install -y qemu-system-x86",
        };
        assert_eq!(
            e.to_string(),
            "qemu-system-x86_64 not found (it boots the test kernels); install it with: apt-get install -y qemu-system-x86"
        );
    }

    #[test]
    fn finds_a_standard_program() {
        assert!(find("sh").is_some());
        assert!(find("no-such-program-meshtwin").is_none());
    }
}
