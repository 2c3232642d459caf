//! Socket-level mesh: the map types of the sock_ops and sk_msg programs, and the decision which
//! sockets go into the socket hash, written once for the kernel and the tests.
//!
//! A socket goes into `MESH_SOCKS` (keyed by its 4-tuple) only when both of its ends are
//! endpoints of this node (configured workloads or the node proxy) and the sk_msg program has
//! work to do on it: redirecting to the peer (both ends have the sockmap bypass on), or watching
//! HTTP (one end is a monitored service endpoint). Every other socket, among them every
//! connection with a remote peer, stays out and on the plain TCP path.

use crate::packet::{IpHeaders, IPPROTO_TCP, TCP_FLAG_ACK};

/// A TCP connection as one of its sockets sees it: IPv4 addresses in wire order, ports in host
/// order. The peer socket's key is [`SockKey::reversed`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SockKey {
    pub local_addr: [u8; 4],
    pub remote_addr: [u8; 4],
    pub local_port: u16,
    pub remote_port: u16,
}

impl SockKey {
    #[inline(always)]
    pub const fn reversed(&self) -> Self {
        Self {
            local_addr: self.remote_addr,
            remote_addr: self.local_addr,
            local_port: self.remote_port,
            remote_port: self.local_port,
        }
    }
}

/// `LOCAL_ENDPOINTS` flag: this workload takes part in the sockmap bypass.
pub const ENDPOINT_SOCKMAP: u32 = 1;

/// Value of `LOCAL_ENDPOINTS`, keyed by a workload's IPv4 address: what the agent configured for
/// the workload (or the node proxy) at that address.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LocalEndpoint {
    pub flags: u32,
}

/// Key of `HTTP_ENDPOINTS`: a monitored service endpoint (a backend address and port).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub addr: [u8; 4],
    pub port: u16,
    /// Always 0.
    pub pad: u16,
}

impl Endpoint {
    #[inline(always)]
    pub const fn new(addr: [u8; 4], port: u16) -> Self {
        Self { addr, port, pad: 0 }
    }
}

/// `SockMode` flag: redirect this socket's messages to its peer when the peer is in the hash.
pub const MODE_BYPASS: u32 = 1;
/// `SockMode` flag: this socket is the client of a monitored endpoint (it sends requests).
pub const MODE_HTTP_CLIENT: u32 = 2;
/// `SockMode` flag: this socket is a monitored endpoint (it sends responses).
pub const MODE_HTTP_SERVER: u32 = 4;

/// `SockMode` flag, set by sk_msg: a message of this bypass socket went through TCP (its peer
/// was not in the hash), so all later ones do too (see `sk_msg_mesh.rs`).
pub const MODE_KEPT: u32 = 8;

/// Value of `SOCK_MODES`, keyed by the socket's own 4-tuple: what the sk_msg program does with
/// the socket's messages, decided by the sock_ops program when the connection is established.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockMode {
    pub flags: u32,
    /// Service id of the monitored endpoint, when an HTTP flag is set.
    pub service_id: u32,
    /// The `POLICY_EPOCH` at which the policy last allowed `flow`; 0 when it was never asked
    /// (a new socket is asked before its first redirected message).
    pub policy_epoch: u32,
    /// Always 0.
    pub pad: u32,
    /// The connection as the peer socket sees it reversed: the socket is in `MESH_SOCKS` under
    /// this key and redirects to `flow.reversed()`.
    pub flow: SockKey,
}

/// The packet a message of `flow` would be if it went through TCP (a segment from the flow's
/// local end to its remote end, not a SYN): what the XDP policy on the receiver's interface
/// would judge. sk_msg asks the same decision (`policy::decide`) before it redirects, so that
/// the bypass never carries what the policed path would drop.
#[inline(always)]
pub fn segment_headers(flow: &SockKey) -> IpHeaders {
    let mut headers = IpHeaders::empty(4, 0, 0);
    let mut i = 0;
    while i < 4 {
        headers.src[i] = flow.local_addr[i];
        headers.dst[i] = flow.remote_addr[i];
        i += 1;
    }
    headers.src_port = flow.local_port;
    headers.dst_port = flow.remote_port;
    headers.protocol = IPPROTO_TCP;
    headers.tcp_flags = TCP_FLAG_ACK;
    headers
}

/// The HTTP side of a socket: it serves a monitored endpoint (its own address and port are
/// one), or calls one (its peer's are). The caller looks the peer up only when the socket does
/// not serve: each lookup is then tested alone, which keeps the verifier happy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpRole {
    Serves(u32),
    Calls(u32),
}

/// The mode of an established socket, from what the maps say about its two ends: `local` and
/// `remote` from `LOCAL_ENDPOINTS`, `http` from `HTTP_ENDPOINTS`. `None`: leave the socket
/// alone.
#[inline(always)]
pub fn sock_mode(
    local: Option<LocalEndpoint>,
    remote: Option<LocalEndpoint>,
    http: Option<HttpRole>,
) -> Option<SockMode> {
    let (Some(local), Some(remote)) = (local, remote) else {
        return None;
    };
    let mut mode = SockMode::default();
    if local.flags & remote.flags & ENDPOINT_SOCKMAP != 0 {
        mode.flags |= MODE_BYPASS;
    }
    match http {
        Some(HttpRole::Serves(service)) => {
            mode.flags |= MODE_HTTP_SERVER;
            mode.service_id = service;
        }
        Some(HttpRole::Calls(service)) => {
            mode.flags |= MODE_HTTP_CLIENT;
            mode.service_id = service;
        }
        None => {}
    }
    (mode.flags != 0).then_some(mode)
}

/// The policy epoch the agent writes first, and after which it wraps: never 0, which marks a
/// socket whose flow the policy was not asked about yet.
pub const FIRST_POLICY_EPOCH: u32 = 1;

/// The epoch after `epoch` (`POLICY_EPOCH`, written by the agent after every change of the maps).
pub const fn next_policy_epoch(epoch: u32) -> u32 {
    if epoch == u32::MAX {
        FIRST_POLICY_EPOCH
    } else {
        epoch + 1
    }
}

/// Per-CPU counters of the sk_msg program (`SOCKMAP_COUNTS`, one entry).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockmapCounters {
    /// Messages handed to the peer socket directly.
    pub redirected_messages: u64,
    pub redirected_bytes: u64,
    /// Messages of bypass sockets that went through TCP because the peer was not in the hash.
    pub peer_absent_messages: u64,
    pub peer_absent_bytes: u64,
    /// Messages kept on TCP because earlier ones of the same socket went that way (redirecting
    /// now could overtake bytes still queued in the peer's receive queue).
    pub kept_messages: u64,
    pub kept_bytes: u64,
    /// Messages sent through TCP because the policy, changed since the socket's flow was last
    /// allowed, no longer allows it: the XDP policy judges them there (and every later message
    /// of the socket, counted as kept).
    pub revoked_messages: u64,
    pub revoked_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ON: Option<LocalEndpoint> = Some(LocalEndpoint {
        flags: ENDPOINT_SOCKMAP,
    });
    const OFF: Option<LocalEndpoint> = Some(LocalEndpoint { flags: 0 });

    #[test]
    fn bypass_needs_both_ends_local_with_sockmap() {
        assert_eq!(sock_mode(ON, ON, None).unwrap().flags, MODE_BYPASS);
        assert_eq!(sock_mode(ON, OFF, None), None);
        assert_eq!(sock_mode(ON, None, None), None, "remote peer: untouched");
        assert_eq!(sock_mode(None, ON, None), None);
    }

    #[test]
    fn monitored_endpoints_are_watched_without_bypass() {
        let server = sock_mode(OFF, ON, Some(HttpRole::Serves(7))).unwrap();
        assert_eq!((server.flags, server.service_id), (MODE_HTTP_SERVER, 7));
        let client = sock_mode(ON, ON, Some(HttpRole::Calls(7))).unwrap();
        assert_eq!(client.flags, MODE_BYPASS | MODE_HTTP_CLIENT);
        assert_eq!(
            sock_mode(OFF, None, Some(HttpRole::Serves(7))),
            None,
            "a remote client is not watched: its requests would not be seen"
        );
    }

    #[test]
    fn a_socket_flow_is_judged_as_the_segment_xdp_would_see() {
        use crate::policy::{decide, FlowKey, PolicyKey, PolicyLookups, Verdict};

        struct Tables;
        impl PolicyLookups for Tables {
            fn identity_v4(&self, addr: [u8; 4]) -> u32 {
                match addr {
                    [10, 0, 0, 2] => 1,
                    [10, 0, 0, 3] => 2,
                    _ => 0,
                }
            }
            fn identity_v6(&self, _: [u8; 16]) -> u32 {
                0
            }
            fn is_policed(&self, identity: u32) -> bool {
                identity == 2
            }
            fn has_rule(&self, key: &PolicyKey) -> bool {
                *key == PolicyKey::new(1, 2, IPPROTO_TCP, 8080)
            }
            fn is_reply(&self, flow: &FlowKey) -> bool {
                flow.src_port == 8080
            }
            fn forwarded_identity(&self, _: &FlowKey) -> Option<u32> {
                None
            }
        }
        let client = SockKey {
            local_addr: [10, 0, 0, 2],
            remote_addr: [10, 0, 0, 3],
            local_port: 40000,
            remote_port: 8080,
        };
        let headers = segment_headers(&client);
        assert_eq!((headers.src_v4(), headers.dst_port), ([10, 0, 0, 2], 8080));
        assert!(headers.has_ports() && headers.tcp_flags & crate::packet::TCP_FLAG_SYN == 0);
        assert_eq!(decide(&headers, &Tables).verdict, Verdict::PassAllowed);
        let other_port = SockKey {
            remote_port: 8081,
            ..client
        };
        assert_eq!(
            decide(&segment_headers(&other_port), &Tables).verdict,
            Verdict::DropDenied
        );
        // The server's side: the reply direction of an allowed flow.
        assert_eq!(
            decide(&segment_headers(&client.reversed()), &Tables).verdict,
            Verdict::PassNotPoliced
        );
    }

    #[test]
    fn policy_epochs_skip_zero() {
        assert_eq!(next_policy_epoch(0), 1);
        assert_eq!(next_policy_epoch(7), 8);
        assert_eq!(next_policy_epoch(u32::MAX), FIRST_POLICY_EPOCH);
    }

    #[test]
    fn keys_reverse_to_the_peer() {
        let key = SockKey {
            local_addr: [10, 0, 0, 2],
            remote_addr: [10, 0, 0, 3],
            local_port: 40000,
            remote_port: 8080,
        };
        assert_eq!(key.reversed().local_port, 8080);
        assert_eq!(key.reversed().reversed(), key);
    }
}
