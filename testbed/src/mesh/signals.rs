//! SIGINT and SIGTERM remove the running meshes before the process exits: the handler only
//! writes the signal number to a pipe (all a handler may do), and a thread reading it runs
//! `cleanup::down` for every prefix still registered, then exits with 128 + the signal.

use std::{
    io::Read as _,
    os::fd::FromRawFd as _,
    sync::{
        atomic::{AtomicI32, Ordering},
        Mutex, Once,
    },
};

static PREFIXES: Mutex<Vec<String>> = Mutex::new(Vec::new());
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);
static INSTALL: Once = Once::new();

extern "C" fn on_signal(signal: libc::c_int) {
    let byte = signal as u8;
    let fd = WRITE_FD.load(Ordering::Relaxed);
    // SAFETY: write(2) is async-signal-safe; the byte lives on this stack frame.
    unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
}

/// Registers `prefix` for removal on SIGINT/SIGTERM (installing the handler once).
pub fn register(prefix: &str) {
    INSTALL.call_once(install);
    PREFIXES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(prefix.to_owned());
}

/// Forgets `prefix` (its mesh is down).
pub fn unregister(prefix: &str) {
    PREFIXES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|p| p != prefix);
}

fn install() {
    let mut fds = [0; 2];
    // SAFETY: a two-element array for pipe2.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        eprintln!(
            "meshtwin-testbed: no signal pipe: {}",
            std::io::Error::last_os_error()
        );
        return;
    }
    WRITE_FD.store(fds[1], Ordering::Relaxed);
    // SAFETY: the read end is ours alone from here on.
    let mut reader = unsafe { std::fs::File::from_raw_fd(fds[0]) };
    std::thread::spawn(move || {
        let mut byte = [0u8; 1];
        if reader.read_exact(&mut byte).is_ok() {
            let prefixes = PREFIXES.lock().unwrap_or_else(|p| p.into_inner()).clone();
            for prefix in prefixes {
                eprintln!(
                    "meshtwin-testbed: signal {}: removing mesh {prefix}",
                    byte[0]
                );
                let _ = super::cleanup::down(&prefix);
            }
            std::process::exit(128 + i32::from(byte[0]));
        }
    });
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a handler that only calls write(2).
        unsafe {
            libc::signal(
                signal,
                on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
            )
        };
    }
}
