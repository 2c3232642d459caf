//! Exclusive advisory locks (flock) that keep two runs from sharing a cache or work directory:
//! the second waits, after saying so.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

/// A held lock; released when dropped (the file is closed).
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

/// Takes the lock on `path` (created if missing). If another process holds it, calls `on_wait`
/// once and blocks until it is free.
pub fn lock_exclusive(path: &Path, on_wait: impl FnOnce()) -> std::io::Result<FileLock> {
    let file = File::create(path)?;
    let fd = file.as_raw_fd();
    // SAFETY: flock(2) on a descriptor we own; the lock goes with the descriptor.
    if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(error);
        }
        on_wait();
        // SAFETY: as above, now blocking.
        if unsafe { libc::flock(fd, libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(FileLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let first = lock_exclusive(&path, || panic!("nobody holds it yet")).unwrap();
        let waited = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            let second = scope.spawn(|| {
                lock_exclusive(&path, || {
                    waited.store(true, std::sync::atomic::Ordering::SeqCst)
                })
                .unwrap()
            });
            std::thread::sleep(std::time::Duration::from_millis(100));
            drop(first);
            second.join().unwrap();
        });
        assert!(waited.load(std::sync::atomic::Ordering::SeqCst));
    }
}
