//! The kernel hashes map keys byte by byte and the agent writes them with `aya::Pod`, so every
//! shared type must have the same bytes on both sides: no implicit padding, a fixed size, and a
//! known encoding.

use core::mem::size_of;

use crate::{http_stats::*, policy::*, redirect::*, service::*, sockets::*};

fn bytes_of<T: Copy>(value: &T) -> &[u8] {
    // SAFETY: T is one of the #[repr(C)] types below, checked to have no padding bytes.
    unsafe { core::slice::from_raw_parts((value as *const T).cast::<u8>(), size_of::<T>()) }
}

#[test]
fn shared_types_have_no_implicit_padding() {
    assert_eq!(size_of::<PolicyKey>(), 4 + 4 + 2 + 1 + 1);
    assert_eq!(size_of::<IdentityPair>(), 8);
    assert_eq!(size_of::<PolicyCounters>(), 32);
    assert_eq!(size_of::<FlowKey>(), 16 + 16 + 2 + 2 + 1 + 1 + 2);
    assert_eq!(size_of::<ServiceKey>(), 4 + 2 + 1 + 1);
    assert_eq!(size_of::<ServiceInfo>(), 8);
    assert_eq!(size_of::<BackendKey>(), 8);
    assert_eq!(size_of::<Backend>(), 8);
    assert_eq!(size_of::<Flow4>(), 4 + 4 + 2 + 2 + 1 + 3);
    assert_eq!(size_of::<LbConnection>(), 12);
    assert_eq!(size_of::<LbReverse>(), 12);
    assert_eq!(size_of::<ServiceCounters>(), 24);
    assert_eq!(size_of::<SockKey>(), 4 + 4 + 2 + 2);
    assert_eq!(size_of::<LocalEndpoint>(), 4);
    assert_eq!(size_of::<Endpoint>(), 4 + 2 + 2);
    assert_eq!(size_of::<SockMode>(), 4 + 4 + 4 + 4 + 12);
    assert_eq!(size_of::<SockmapCounters>(), 64);
    assert_eq!(size_of::<NodeProxy>(), 8);
    assert_eq!(size_of::<OriginalDst>(), 12);
    assert_eq!(size_of::<RedirectCounters>(), 8);
    assert_eq!(size_of::<HttpFlowKey>(), 12);
    assert_eq!(size_of::<PendingRequest>(), 16);
    assert_eq!(size_of::<crate::http::StreamState>(), 16);
    assert_eq!(
        size_of::<HttpConnection>(),
        16 + 16 + 16 + 16 * MAX_PENDING as usize
    );
    assert_eq!(size_of::<HttpStatsKey>(), 8);
    assert_eq!(size_of::<HttpStats>(), 16 + 8 * LATENCY_BUCKETS);
    assert_eq!(size_of::<UnparsedKey>(), 8);
    assert_eq!(size_of::<crate::http::MessageReport>(), 8);
    assert_eq!(size_of::<crate::http::HeadEvent>(), 16);
    // Copied on the kernel stack: must have no byte a path could leave unwritten.
    assert_eq!(
        size_of::<crate::packet::IpHeaders>(),
        16 + 16 + 8 + 8 + 2 + 2 + 5 + 7
    );
}

#[test]
fn policy_key_encoding_is_native_order_ids_and_host_order_port() {
    let key = PolicyKey::new(0x0102_0304, 7, 6, 8080);
    let mut expected = [0u8; 12];
    expected[0..4].copy_from_slice(&0x0102_0304u32.to_ne_bytes());
    expected[4..8].copy_from_slice(&7u32.to_ne_bytes());
    expected[8..10].copy_from_slice(&8080u16.to_ne_bytes());
    expected[10] = 6;
    assert_eq!(bytes_of(&key), &expected);
}

#[test]
fn service_key_keeps_vip_in_wire_order() {
    let key = ServiceKey::new([10, 96, 0, 10], 80, 17);
    let bytes = bytes_of(&key);
    assert_eq!(&bytes[0..4], &[10, 96, 0, 10]);
    assert_eq!(&bytes[4..6], &80u16.to_ne_bytes());
    assert_eq!(bytes[6], 17);
    assert_eq!(bytes[7], 0);
}

#[test]
fn flow_key_reverses_addresses_and_ports_only() {
    let flow = FlowKey {
        src: [1; 16],
        dst: [2; 16],
        src_port: 1000,
        dst_port: 80,
        protocol: 6,
        family: 6,
        pad: [0; 2],
    };
    let back = flow.reversed();
    assert_eq!((back.src, back.dst), ([2; 16], [1; 16]));
    assert_eq!((back.src_port, back.dst_port), (80, 1000));
    assert_eq!((back.protocol, back.family), (6, 6));
    assert_eq!(back.reversed(), flow);
}

#[test]
fn sock_key_encoding_is_wire_addresses_and_host_ports() {
    let key = SockKey {
        local_addr: [10, 77, 0, 2],
        remote_addr: [10, 77, 0, 3],
        local_port: 40000,
        remote_port: 8080,
    };
    let bytes = bytes_of(&key);
    assert_eq!(&bytes[0..8], &[10, 77, 0, 2, 10, 77, 0, 3]);
    assert_eq!(&bytes[8..10], &40000u16.to_ne_bytes());
    assert_eq!(&bytes[10..12], &8080u16.to_ne_bytes());
}
