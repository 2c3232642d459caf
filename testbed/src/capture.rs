//! What crosses an interface, read with a raw packet socket (`AF_PACKET`) in the interface's
//! namespace: every frame both ways, from when the capture starts until it is stopped. Enough
//! to check whether some bytes crossed in clear, without tshark.

use std::{
    io,
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread::JoinHandle,
    time::Duration,
};

use crate::netns::Netns;

/// ETH_P_ALL in network byte order: every protocol.
const ETH_P_ALL: u16 = 0x0003;

pub struct Capture {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<Vec<u8>>>>,
}

impl Capture {
    /// Starts capturing on `interface` of `ns`.
    pub fn start(ns: &Netns, interface: &str) -> io::Result<Self> {
        let name = std::ffi::CString::new(interface).map_err(io::Error::other)?;
        let socket = ns.run(|| -> io::Result<OwnedFd> {
            // SAFETY: plain socket(2); the descriptor is owned at once.
            let fd = unsafe {
                libc::socket(
                    libc::AF_PACKET,
                    libc::SOCK_RAW,
                    i32::from(ETH_P_ALL.to_be()),
                )
            };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: a descriptor just returned by socket(2), owned by nothing else.
            let socket = unsafe { OwnedFd::from_raw_fd(fd) };
            // SAFETY: a NUL-terminated name.
            let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
            if index == 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: a zeroed sockaddr_ll is valid; the fields set are its family, protocol
            // and interface.
            let mut address: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            address.sll_family = libc::AF_PACKET as u16;
            address.sll_protocol = ETH_P_ALL.to_be();
            address.sll_ifindex = index as i32;
            // SAFETY: bind with the address and its size.
            let bound = unsafe {
                libc::bind(
                    socket.as_raw_fd(),
                    (&address as *const libc::sockaddr_ll).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as u32,
                )
            };
            if bound != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(socket)
        })?;
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: 50_000,
        };
        // SAFETY: SO_RCVTIMEO with a timeval, so the reader notices `stop`.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&timeout as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        let stop = Arc::new(AtomicBool::new(false));
        let stop_reader = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut captured = Vec::new();
            let mut frame = vec![0u8; 65_536];
            // Bounded: a forgotten capture ends by itself after a minute.
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while !stop_reader.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
                // SAFETY: recv into a buffer of its length.
                let n = unsafe {
                    libc::recv(
                        socket.as_raw_fd(),
                        frame.as_mut_ptr().cast(),
                        frame.len(),
                        0,
                    )
                };
                if n > 0 {
                    captured.extend_from_slice(&frame[..n as usize]);
                }
            }
            Ok(captured)
        });
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops and returns every captured frame, concatenated.
    pub fn stop(mut self) -> io::Result<Vec<u8>> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .take()
            .expect("a capture is stopped once")
            .join()
            .map_err(|_| io::Error::other("the capture thread panicked"))?
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
