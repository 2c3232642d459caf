//! Entering a network namespace for a while. Attaching to an interface, and the netlink calls
//! that go with it, act in the namespace of the calling thread; setns(2) on one thread moves only
//! that thread, so the agent enters a pod's namespace, attaches, and comes back.

use std::{
    fs::File,
    io,
    os::fd::AsRawFd as _,
    path::{Path, PathBuf},
};

/// While alive, the current thread is in another network namespace; dropping it returns.
pub struct NetnsGuard {
    original: File,
}

impl NetnsGuard {
    /// Moves the current thread into the namespace at `path` (`/run/netns/NAME`,
    /// `/proc/PID/ns/net`, ...).
    pub fn enter(path: &Path) -> io::Result<Self> {
        let original = File::open("/proc/thread-self/ns/net")?;
        let target = File::open(path)?;
        setns(&target)?;
        Ok(Self { original })
    }
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        if let Err(error) = setns(&self.original) {
            // The thread would go on in the wrong namespace: nothing sane can follow.
            eprintln!("meshtwin-agent: cannot return to the original network namespace: {error}");
            std::process::abort();
        }
    }
}

fn setns(file: &File) -> io::Result<()> {
    // SAFETY: a valid namespace file descriptor and a namespace type.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Inode number of a network namespace: identifies it in pin names.
pub fn netns_inode(path: Option<&Path>) -> io::Result<u64> {
    use std::os::unix::fs::MetadataExt as _;
    let path: PathBuf =
        path.map_or_else(|| PathBuf::from("/proc/thread-self/ns/net"), Path::to_owned);
    Ok(std::fs::metadata(path)?.ino())
}

/// Index of an interface in the current thread's namespace.
pub fn if_index(name: &str) -> Option<u32> {
    let c_name = std::ffi::CString::new(name).ok()?;
    // SAFETY: a NUL-terminated name.
    let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
    (index != 0).then_some(index)
}

/// The driver of interface `name` in the calling thread's namespace (`ethtool -i`), e.g.
/// "veth" or "netkit"; None when it cannot be asked.
pub fn driver_name(name: &str) -> Option<String> {
    /// struct ethtool_drvinfo: cmd, then driver, version, fw_version, bus_info and
    /// erom_version (32 bytes each), reserved2 (12), five u32 counts.
    #[repr(C)]
    struct DriverInfo {
        cmd: u32,
        driver: [u8; 32],
        rest: [u8; 4 * 32 + 12 + 5 * 4],
    }
    #[repr(C)]
    struct IfReq {
        name: [u8; 16],
        data: *mut DriverInfo,
        pad: [u8; 16],
    }
    const SIOCETHTOOL: libc::c_ulong = 0x8946;
    const ETHTOOL_GDRVINFO: u32 = 0x3;
    if name.len() >= 16 {
        return None;
    }
    let mut info = DriverInfo {
        cmd: ETHTOOL_GDRVINFO,
        driver: [0; 32],
        rest: [0; 4 * 32 + 12 + 5 * 4],
    };
    let mut request = IfReq {
        name: [0; 16],
        data: &mut info,
        pad: [0; 16],
    };
    request.name[..name.len()].copy_from_slice(name.as_bytes());
    // A socket made by this thread belongs to its (possibly entered) namespace.
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").ok()?;
    use std::os::fd::AsRawFd as _;
    // SAFETY: a valid ifreq whose data points at a live ethtool_drvinfo of the kernel's size.
    let ret = unsafe { libc::ioctl(socket.as_raw_fd(), SIOCETHTOOL, &mut request) };
    if ret != 0 {
        return None;
    }
    let end = info.driver.iter().position(|b| *b == 0).unwrap_or(32);
    Some(String::from_utf8_lossy(&info.driver[..end]).into_owned())
}
