//! meshtwin's kernel programs. One file per program; the maps they share are in `maps.rs`.
//!
//! Built for `bpfel-unknown-none` by the agent's build.rs (aya-build). On the host the crate
//! compiles to an inert binary, so that `cargo test --workspace` and clippy can build it.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]
// Every unsafe block says why it is sound; the map accesses share one argument (maps.rs).
#![deny(clippy::undocumented_unsafe_blocks)]

mod connect4_proxy;
mod context_bytes;
mod http_observe;
mod maps;
mod policy_maps;
mod sk_msg_mesh;
mod sockops_mesh;
mod tc_service_lb;
mod xdp_policy;

#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any program that could reach a panic, so this is never executed.
    loop {}
}

/// The kernel reads the license from this section; no GPL-only helper is used.
// SAFETY (both attributes): no other symbol of the object is called LICENSE, and the `license`
// section holds nothing else; the loader reads it as the NUL-terminated string it is.
#[cfg(target_arch = "bpf")]
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 11] = *b"Apache-2.0\0";

#[cfg(not(target_arch = "bpf"))]
fn main() {
    eprintln!("meshtwin-ebpf holds kernel programs: it is built for bpfel-unknown-none by meshtwin-agent's build script");
}
