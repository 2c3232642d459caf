//! Identity policy: the map types of the XDP policy program and its decision, written once for
//! the kernel and for user-space tests.

use crate::{identity::UNKNOWN_IDENTITY, packet::IpHeaders};

/// Key of the policy map: traffic from `src_identity` to `dst_identity` over `protocol` to
/// `port` (host order; [`PolicyKey::ANY_PORT`] matches every port) is allowed when present.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PolicyKey {
    pub src_identity: u32,
    pub dst_identity: u32,
    pub port: u16,
    pub protocol: u8,
    /// Always 0: the kernel compares keys byte by byte.
    pub pad: u8,
}

impl PolicyKey {
    /// Port value of a rule that allows every port of its protocol.
    pub const ANY_PORT: u16 = 0;

    #[inline(always)]
    pub const fn new(src_identity: u32, dst_identity: u32, protocol: u8, port: u16) -> Self {
        Self {
            src_identity,
            dst_identity,
            port,
            protocol,
            pad: 0,
        }
    }
}

/// Key of the per-pair counters.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdentityPair {
    pub src_identity: u32,
    pub dst_identity: u32,
}

/// Per-CPU packet and byte counters of one identity pair.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PolicyCounters {
    pub passed_packets: u64,
    pub passed_bytes: u64,
    pub dropped_packets: u64,
    pub dropped_bytes: u64,
}

/// A flow as seen on the wire, family-independent: IPv4 addresses fill the first 4 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub src_port: u16,
    pub dst_port: u16,
    pub protocol: u8,
    /// 4 or 6.
    pub family: u8,
    /// Always 0.
    pub pad: [u8; 2],
}

impl FlowKey {
    #[inline(always)]
    pub fn from_headers(headers: &IpHeaders) -> Self {
        Self {
            src: headers.src,
            dst: headers.dst,
            src_port: headers.src_port,
            dst_port: headers.dst_port,
            protocol: headers.protocol,
            family: headers.family,
            pad: [0; 2],
        }
    }

    /// The same flow in the other direction.
    #[inline(always)]
    pub fn reversed(&self) -> Self {
        Self {
            src: self.dst,
            dst: self.src,
            src_port: self.dst_port,
            dst_port: self.src_port,
            ..*self
        }
    }
}

/// Why a packet passed or was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The destination is not under policy.
    PassNotPoliced,
    /// IPv6 neighbour discovery (the IPv6 equivalent of ARP).
    PassNeighborDiscovery,
    /// The reply direction of a flow that policy allowed.
    PassReply,
    /// A rule allows it.
    PassAllowed,
    /// The source address belongs to no identity.
    DropUnknownSource,
    /// No rule allows it (default deny).
    DropDenied,
}

impl Verdict {
    #[inline(always)]
    pub fn passes(self) -> bool {
        matches!(
            self,
            Verdict::PassNotPoliced
                | Verdict::PassNeighborDiscovery
                | Verdict::PassReply
                | Verdict::PassAllowed
        )
    }
}

/// The map lookups the decision needs; the kernel implements it with its maps, tests with tables.
pub trait PolicyLookups {
    /// Identity of the longest prefix covering an IPv4 address, or [`UNKNOWN_IDENTITY`].
    fn identity_v4(&self, addr: [u8; 4]) -> u32;
    /// Identity of the longest prefix covering an IPv6 address, or [`UNKNOWN_IDENTITY`].
    fn identity_v6(&self, addr: [u8; 16]) -> u32;
    /// Whether ingress to `identity` is default-deny.
    fn is_policed(&self, identity: u32) -> bool;
    /// Whether a rule with exactly this key exists.
    fn has_rule(&self, key: &PolicyKey) -> bool;
    /// Whether `flow` is the reply direction of a flow that was allowed.
    fn is_reply(&self, flow: &FlowKey) -> bool;
    /// The identity the node proxy opened `flow` for (`FORWARDED_FLOWS`): the proxy's own
    /// connection to a backend is judged as the client's, whose identity the proxy checked.
    fn forwarded_identity(&self, flow: &FlowKey) -> Option<u32>;
}

/// Outcome for one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub pair: IdentityPair,
    pub verdict: Verdict,
}

/// Decides one packet. The caller records `FlowKey::from_headers(h).reversed()` as a reply flow
/// when the verdict is [`Verdict::PassAllowed`].
///
/// A flow the node proxy opened on behalf of a client (`forwarded_identity`) carries that
/// client's identity instead of the proxy address's, so a backend's policy sees who is really
/// connecting, and the proxy's address needs (and should have) no rule of its own.
#[inline(always)]
pub fn decide<L: PolicyLookups>(headers: &IpHeaders, maps: &L) -> Decision {
    let flow = FlowKey::from_headers(headers);
    let (src_identity, dst_identity) = if headers.family == 4 {
        let src = match maps.forwarded_identity(&flow) {
            Some(identity) => identity,
            None => maps.identity_v4(headers.src_v4()),
        };
        (src, maps.identity_v4(headers.dst_v4()))
    } else {
        (maps.identity_v6(headers.src), maps.identity_v6(headers.dst))
    };
    let pair = IdentityPair {
        src_identity,
        dst_identity,
    };
    let verdict = if dst_identity == UNKNOWN_IDENTITY || !maps.is_policed(dst_identity) {
        Verdict::PassNotPoliced
    } else if headers.is_neighbor_discovery() {
        Verdict::PassNeighborDiscovery
    } else if maps.is_reply(&flow) {
        Verdict::PassReply
    } else {
        // A packet whose ports we cannot see (a later fragment, another protocol) only matches
        // rules that allow every port.
        let port = if headers.has_ports() {
            headers.dst_port
        } else {
            PolicyKey::ANY_PORT
        };
        rule_verdict(src_identity, dst_identity, headers.protocol, port, maps)
    };
    Decision { pair, verdict }
}

/// Whether `src_identity` may open a connection to `dst_identity` over `protocol` to `port`:
/// the decision of [`decide`] for a flow's first packet, for callers that know identities
/// rather than packets (the node proxy, before it forwards a connection it accepted or a
/// tunnel whose peer certificate it verified).
#[inline(always)]
pub fn authorize<L: PolicyLookups>(
    src_identity: u32,
    dst_identity: u32,
    protocol: u8,
    port: u16,
    maps: &L,
) -> Verdict {
    if dst_identity == UNKNOWN_IDENTITY || !maps.is_policed(dst_identity) {
        return Verdict::PassNotPoliced;
    }
    rule_verdict(src_identity, dst_identity, protocol, port, maps)
}

/// The rules' verdict for a destination under policy.
#[inline(always)]
fn rule_verdict<L: PolicyLookups>(
    src_identity: u32,
    dst_identity: u32,
    protocol: u8,
    port: u16,
    maps: &L,
) -> Verdict {
    if src_identity == UNKNOWN_IDENTITY {
        return Verdict::DropUnknownSource;
    }
    let exact = PolicyKey::new(src_identity, dst_identity, protocol, port);
    let any = PolicyKey::new(src_identity, dst_identity, protocol, PolicyKey::ANY_PORT);
    if maps.has_rule(&exact) || maps.has_rule(&any) {
        Verdict::PassAllowed
    } else {
        Verdict::DropDenied
    }
}
