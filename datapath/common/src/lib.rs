//! Types and helpers shared by meshtwin's kernel programs (`datapath/ebpf`) and its node agent
//! (`datapath/agent`).
//!
//! Everything here is `no_std` and allocation-free so that the very same code runs inside the
//! kernel and in user-space tests. Map keys and values are `#[repr(C)]` with explicit padding
//! fields: the kernel hashes keys byte by byte, so an uninitialised padding byte would make two
//! equal keys different.
#![no_std]

#[cfg(test)]
extern crate std;

pub mod flow_hash;
pub mod identity;
pub mod maps;
pub mod packet;
pub mod policy;
pub mod service;

#[cfg(test)]
mod tests_layout;

/// aya's `Pod`: the agent reads and writes these types in maps. Sound because every type is
/// `#[repr(C)]`, `Copy`, and has no implicit padding (see `tests_layout`).
#[cfg(feature = "user")]
mod pod {
    use crate::{policy::*, service::*};
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
}
