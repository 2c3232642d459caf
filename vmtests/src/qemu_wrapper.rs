//! The program vmtest starts as "qemu". vmtest always adds `-enable-kvm -cpu host` when
//! /dev/kvm exists, and on hosts whose KVM crashes guests that must become TCG; it also gives no
//! handle on the qemu process, which the per-kernel timeout needs to kill.
//!
//! So vmtest's `qemu_command` points at a symlink named `meshtwin-qemu` to this very binary,
//! in a per-kernel directory that also holds the accelerator to use and the real qemu's path.
//! Started under that name, `main` calls [`run_as_wrapper`], which records its pid, rewrites
//! the accelerator arguments and execs qemu (keeping the pid).

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use crate::accel::Accel;

/// The file name the wrapper symlink has; `main` recognises it in argv[0].
pub const WRAPPER_NAME: &str = "meshtwin-qemu";
const ACCEL_FILE: &str = "accel";
const QEMU_FILE: &str = "qemu-program";
const PID_FILE: &str = "qemu.pid";

/// Sets up the wrapper in `dir` and returns the path to give vmtest as `qemu_command`.
pub fn install(dir: &Path, accel: Accel, qemu: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let link = dir.join(WRAPPER_NAME);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(std::env::current_exe()?, &link)?;
    std::fs::write(dir.join(ACCEL_FILE), accel.name())?;
    std::fs::write(dir.join(QEMU_FILE), qemu.as_os_str().as_encoded_bytes())?;
    let _ = std::fs::remove_file(dir.join(PID_FILE));
    Ok(link)
}

/// True when this process was started through the wrapper symlink.
pub fn invoked_as_wrapper() -> bool {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .is_some_and(|argv0| argv0.file_name().is_some_and(|n| n == WRAPPER_NAME))
}

/// Acts as qemu: never returns on success (exec); returns the error otherwise.
pub fn run_as_wrapper() -> std::io::Error {
    let mut args = std::env::args_os();
    let argv0 = PathBuf::from(args.next().unwrap_or_default());
    let dir = argv0.parent().unwrap_or(Path::new(".")).to_owned();
    let read = |name: &str| std::fs::read_to_string(dir.join(name));
    let accel = match read(ACCEL_FILE).map(|s| Accel::from_name(s.trim())) {
        Ok(Some(accel)) => accel,
        Ok(None) => return std::io::Error::other("unknown accelerator in wrapper directory"),
        Err(e) => return e,
    };
    let qemu = match read(QEMU_FILE) {
        Ok(path) => PathBuf::from(path),
        Err(e) => return e,
    };
    if let Err(e) = std::fs::write(dir.join(PID_FILE), std::process::id().to_string()) {
        return e;
    }
    std::process::Command::new(qemu)
        .args(rewrite_args(accel, args.collect()))
        .exec()
}

/// vmtest's qemu arguments adjusted for `accel`.
pub fn rewrite_args(accel: Accel, args: Vec<OsString>) -> Vec<OsString> {
    match accel {
        // vmtest's own choice (-enable-kvm -cpu host) is right when KVM works.
        Accel::Kvm => args,
        Accel::Tcg => {
            let mut out: Vec<OsString> = vec!["-accel".into(), "tcg".into()];
            let mut args = args.into_iter();
            while let Some(arg) = args.next() {
                if arg == "-enable-kvm" {
                    continue;
                }
                if arg == "-cpu" {
                    // `max`: every feature TCG emulates (vmtest would pick qemu64 without /dev/kvm).
                    args.next();
                    out.extend(["-cpu".into(), "max".into()]);
                    continue;
                }
                out.push(arg);
            }
            out
        }
    }
}

/// Kills the qemu started through the wrapper in `dir`, if it is running.
pub fn kill(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join(PID_FILE)) else {
        return false;
    };
    let Ok(pid) = text.trim().parse::<libc::pid_t>() else {
        return false;
    };
    // SAFETY: kill(2) with a pid we recorded; the worst case is ESRCH when it already exited.
    unsafe { libc::kill(pid, libc::SIGKILL) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn tcg_replaces_kvm_and_cpu() {
        let out = rewrite_args(
            Accel::Tcg,
            strings(&["-nodefaults", "-enable-kvm", "-cpu", "host", "-m", "1G"]),
        );
        assert_eq!(
            out,
            strings(&["-accel", "tcg", "-nodefaults", "-cpu", "max", "-m", "1G"])
        );
    }

    #[test]
    fn kvm_keeps_vmtest_arguments() {
        let args = strings(&["-enable-kvm", "-cpu", "host"]);
        assert_eq!(rewrite_args(Accel::Kvm, args.clone()), args);
    }
}
