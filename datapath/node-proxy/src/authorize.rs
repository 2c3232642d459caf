//! The policy check the proxy makes before it forwards, and again while a connection lasts:
//! the XDP program's decision (`meshtwin_datapath_common::policy::authorize`) over the same
//! pinned maps, for the client the proxy really serves. Without it the backend would see only
//! the proxy's address, and the proxy would launder every client into its own identity.

use std::{
    net::{Ipv4Addr, SocketAddrV4},
    sync::Mutex,
};

use meshtwin_datapath_common::{
    packet::IPPROTO_TCP,
    policy::{authorize, PolicyLookups as _, Verdict},
};
use meshtwin_datapath_pins::PinnedMaps;

/// Who the proxy forwards for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    /// A workload on this node, known by the address of the connection the proxy accepted
    /// (its identity is looked up in `IDENTITY_V4` at every check, as XDP does per packet).
    Address(Ipv4Addr),
    /// A workload on another node, known by the identity of the certificate it presented in
    /// the mTLS handshake, which the proxy verified.
    Verified(u32),
}

/// One check's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Authorization {
    pub src_identity: u32,
    pub dst_identity: u32,
    pub verdict: Verdict,
}

impl Authorization {
    pub fn allowed(&self) -> bool {
        self.verdict.passes()
    }
}

/// Whether `client` may open a TCP connection to `backend`, by the pinned policy now.
pub fn check(maps: &Mutex<PinnedMaps>, client: Client, backend: SocketAddrV4) -> Authorization {
    let Ok(maps) = maps.lock() else {
        // A poisoned lock: some task panicked while holding the maps. Refuse rather than guess.
        return Authorization {
            src_identity: 0,
            dst_identity: 0,
            verdict: Verdict::DropDenied,
        };
    };
    let src_identity = match client {
        Client::Address(address) => maps.identity_v4(address.octets()),
        Client::Verified(identity) => identity,
    };
    let dst_identity = maps.identity_v4(backend.ip().octets());
    let verdict = authorize(
        src_identity,
        dst_identity,
        IPPROTO_TCP,
        backend.port(),
        &*maps,
    );
    Authorization {
        src_identity,
        dst_identity,
        verdict,
    }
}
