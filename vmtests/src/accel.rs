//! KVM or TCG. /dev/kvm existing is not enough: on some hosts (nested, paravirtual KVM) it
//! exists but every Debian guest dies with an emulation failure. So KVM is used only when a
//! probe boot of a real kernel under it reaches the shim's userspace.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The accelerator qemu runs guests with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "kvm" => Some(Accel::Kvm),
            "tcg" => Some(Accel::Tcg),
            _ => None,
        }
    }
}

/// The accelerator picked and why.
#[derive(Debug, Clone)]
pub struct AccelChoice {
    pub accel: Accel,
    pub reason: String,
}

/// The line the shim prints in probe mode (see shim_init.sh).
const PROBE_OK: &str = "meshtwin-shim: probe ok";
/// A KVM boot reaches the shim in 1-3 s; an emulation failure leaves qemu paused, not exited.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// Decides between KVM and TCG: TCG without /dev/kvm, else KVM only if `vmlinuz` with `shim`
/// boots to the shim under it.
pub fn choose(qemu: &Path, vmlinuz: &Path, shim: &Path) -> AccelChoice {
    if !Path::new("/dev/kvm").exists() {
        return AccelChoice {
            accel: Accel::Tcg,
            reason: "no /dev/kvm".to_owned(),
        };
    }
    match probe_kvm(qemu, vmlinuz, shim) {
        Ok(elapsed) => AccelChoice {
            accel: Accel::Kvm,
            reason: format!(
                "a probe boot under KVM succeeded in {:.1} s",
                elapsed.as_secs_f64()
            ),
        },
        Err(why) => AccelChoice {
            accel: Accel::Tcg,
            reason: format!("/dev/kvm exists but a probe boot under KVM failed: {why}"),
        },
    }
}

fn probe_kvm(qemu: &Path, vmlinuz: &Path, shim: &Path) -> Result<Duration, String> {
    let start = Instant::now();
    let mut child = Command::new(qemu)
        .args([
            "-nodefaults",
            "-display",
            "none",
            "-no-reboot",
            "-serial",
            "stdio",
        ])
        .args(["-enable-kvm", "-cpu", "host", "-m", "256M", "-smp", "1"])
        .arg("-kernel")
        .arg(vmlinuz)
        .arg("-initrd")
        .arg(shim)
        .args(["-append", "console=ttyS0 panic=-1 quiet meshtwin.probe=1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", qemu.display()))?;

    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let exited = loop {
        match child.try_wait() {
            Ok(Some(_)) => break true,
            Ok(None) if start.elapsed() < PROBE_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(100))
            }
            _ => break false,
        }
    };
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
    }
    let console = out_reader.join().unwrap_or_default();
    let errors = err_reader.join().unwrap_or_default();
    if console.contains(PROBE_OK) {
        return Ok(start.elapsed());
    }
    let first_error = errors
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(if exited {
            "the guest stopped before its userspace"
        } else {
            "no sign of the guest's userspace"
        });
    Err(if exited {
        first_error.to_owned()
    } else {
        format!(
            "{first_error} (gave up after {} s)",
            PROBE_TIMEOUT.as_secs()
        )
    })
}
