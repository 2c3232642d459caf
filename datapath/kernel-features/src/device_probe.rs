//! Probing for a kind of network device: create a pair in a fresh network namespace over
//! route netlink, as `ip link add type netkit` would, and let the namespace go with the
//! thread that made it (the devices go with it). Raw netlink, so the probe needs nothing but
//! libc: the message is an `ifinfomsg` with the name and the kind.

use std::{
    io,
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
};

use crate::DeviceProbe;

const RTM_NEWLINK: u16 = 16;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLMSG_ERROR: u16 = 0x2;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const NLA_F_NESTED: u16 = 0x8000;

/// Appends one netlink attribute, padded to 4 bytes.
fn attribute(message: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let length = 4 + value.len();
    message.extend_from_slice(&(length as u16).to_ne_bytes());
    message.extend_from_slice(&kind.to_ne_bytes());
    message.extend_from_slice(value);
    message.resize(message.len().next_multiple_of(4), 0);
}

fn nul_terminated(text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    bytes.push(0);
    bytes
}

/// `RTM_NEWLINK` for a device `name` of `kind` (its peer named by the kernel).
fn new_link(name: &str, kind: &str) -> Vec<u8> {
    let mut body = vec![0u8; 16]; // struct ifinfomsg, all zero: any family, no flags
    attribute(&mut body, IFLA_IFNAME, &nul_terminated(name));
    let mut info = Vec::new();
    attribute(&mut info, IFLA_INFO_KIND, &nul_terminated(kind));
    attribute(&mut body, IFLA_LINKINFO | NLA_F_NESTED, &info);
    let mut message = Vec::with_capacity(16 + body.len());
    message.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    message.extend_from_slice(&RTM_NEWLINK.to_ne_bytes());
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    message.extend_from_slice(&flags.to_ne_bytes());
    message.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    message.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
    message.extend_from_slice(&body);
    message
}

/// Sends the request and returns the kernel's answer: 0, or a negative errno.
fn ask(request: &[u8]) -> io::Result<i32> {
    // SAFETY: plain socket(2); the descriptor is owned at once.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor socket(2) just returned, owned by nothing else.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: send(2) from a buffer of its length.
    let sent = unsafe {
        libc::send(
            socket.as_raw_fd(),
            request.as_ptr().cast(),
            request.len(),
            0,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut reply = [0u8; 4096];
    // SAFETY: recv(2) into a buffer of its length.
    let received = unsafe {
        libc::recv(
            socket.as_raw_fd(),
            reply.as_mut_ptr().cast(),
            reply.len(),
            0,
        )
    };
    if received < 20 {
        return Err(io::Error::other("short netlink reply"));
    }
    let kind = u16::from_ne_bytes([reply[4], reply[5]]);
    if kind != NLMSG_ERROR {
        return Err(io::Error::other(format!(
            "netlink reply of type {kind}, not an ack"
        )));
    }
    Ok(i32::from_ne_bytes([
        reply[16], reply[17], reply[18], reply[19],
    ]))
}

/// Whether the running kernel creates a device of `kind`: `Ok(false)` when it does not know
/// the kind (EOPNOTSUPP: not built in, and netkit cannot be a module), `Err` when it could not
/// be asked (not root, no namespaces).
pub fn run(device: DeviceProbe) -> Result<bool, String> {
    let kind = device.kind();
    std::thread::spawn(move || {
        // SAFETY: unshare moves only this thread, which ends with the probe (and takes the
        // namespace and the devices in it along).
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(format!(
                "cannot make a network namespace to probe in: {}",
                io::Error::last_os_error()
            ));
        }
        match ask(&new_link("probe0", kind)) {
            Ok(0) => Ok(true),
            Ok(error) if -error == libc::EOPNOTSUPP => Ok(false),
            Ok(error) => Err(format!(
                "creating a {kind} device: {}",
                io::Error::from_raw_os_error(-error)
            )),
            Err(error) => Err(format!("route netlink: {error}")),
        }
    })
    .join()
    .map_err(|_| "the probe's thread panicked".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_an_rtm_newlink_with_name_and_kind() {
        let message = new_link("probe0", "netkit");
        assert_eq!(message.len() % 4, 0);
        assert_eq!(
            u32::from_ne_bytes(message[..4].try_into().unwrap()) as usize,
            message.len()
        );
        assert_eq!(u16::from_ne_bytes([message[4], message[5]]), RTM_NEWLINK);
        let text = String::from_utf8_lossy(&message);
        assert!(
            text.contains("probe0\0") && text.contains("netkit\0"),
            "{message:?}"
        );
    }
}
