//! Types and helpers shared by meshtwin's kernel programs (`datapath/ebpf`) and its node agent
//! (`datapath/agent`).
//!
//! Everything here is `no_std` and allocation-free so that the very same code runs inside the
//! kernel and in user-space tests. Map keys and values are `#[repr(C)]` with explicit padding
//! fields: the kernel hashes keys byte by byte, so an uninitialised padding byte would make two
//! equal keys different.
#![no_std]
// The BPF target's atomics lack fetch_add: `counting` uses the intrinsic behind it there.
#![cfg_attr(
    target_arch = "bpf",
    feature(core_intrinsics),
    allow(internal_features)
)]

#[cfg(test)]
extern crate std;

pub mod counting;
pub mod flow_hash;
pub mod http;
pub mod http_stats;
pub mod identity;
pub mod maps;
pub mod packet;
pub mod policy;
pub mod redirect;
pub mod service;
pub mod sockets;

#[cfg(test)]
mod tests_layout;

/// aya's `Pod`: the agent reads and writes these types in maps. Sound because every type is
/// `#[repr(C)]`, `Copy`, and has no implicit padding (see `tests_layout`).
#[cfg(feature = "user")]
mod pod {
    use crate::{http_stats::*, policy::*, redirect::*, service::*, sockets::*};
    unsafe impl aya::Pod for PolicyKey {}
    unsafe impl aya::Pod for IdentityPair {}
    unsafe impl aya::Pod for PolicyCounters {}
    unsafe impl aya::Pod for FlowKey {}
    unsafe impl aya::Pod for ServiceKey {}
    unsafe impl aya::Pod for ServiceInfo {}
    unsafe impl aya::Pod for BackendKey {}
    unsafe impl aya::Pod for Backend {}
    unsafe impl aya::Pod for Flow4 {}
    unsafe impl aya::Pod for LbConnection {}
    unsafe impl aya::Pod for LbReverse {}
    unsafe impl aya::Pod for ServiceCounters {}
    unsafe impl aya::Pod for SockKey {}
    unsafe impl aya::Pod for LocalEndpoint {}
    unsafe impl aya::Pod for Endpoint {}
    unsafe impl aya::Pod for SockMode {}
    unsafe impl aya::Pod for SockmapCounters {}
    unsafe impl aya::Pod for NodeProxy {}
    unsafe impl aya::Pod for OriginalDst {}
    unsafe impl aya::Pod for RedirectCounters {}
    unsafe impl aya::Pod for HttpFlowKey {}
    unsafe impl aya::Pod for HttpConnection {}
    unsafe impl aya::Pod for HttpStatsKey {}
    unsafe impl aya::Pod for HttpStats {}
    unsafe impl aya::Pod for UnparsedKey {}
}
