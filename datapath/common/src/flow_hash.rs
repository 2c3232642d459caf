//! The hash that picks a service backend for a new flow.
//!
//! It lives here so that tests can predict, from a connection's 5-tuple, which backend the kernel
//! will choose, and check that the kernel really chose it.

/// FNV-1a over the IPv4 5-tuple (addresses in wire order, ports in host order, big-endian bytes).
/// Not cryptographic: a client that picks its source port can pick its backend, as with any
/// tuple-hash load balancer.
#[inline(always)]
pub fn flow_hash_v4(src: [u8; 4], dst: [u8; 4], src_port: u16, dst_port: u16, protocol: u8) -> u32 {
    const OFFSET_BASIS: u32 = 0x811c_9dc5;
    const PRIME: u32 = 0x0100_0193;
    let sp = src_port.to_be_bytes();
    let dp = dst_port.to_be_bytes();
    let bytes = [
        src[0], src[1], src[2], src[3], dst[0], dst[1], dst[2], dst[3], sp[0], sp[1], dp[0], dp[1],
        protocol,
    ];
    let mut hash = OFFSET_BASIS;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u32;
        hash = hash.wrapping_mul(PRIME);
        i += 1;
    }
    hash
}

/// Slot of the backend a flow with `hash` goes to, among `backend_count` backends.
#[inline(always)]
pub fn backend_slot(hash: u32, backend_count: u32) -> Option<u32> {
    if backend_count == 0 {
        None
    } else {
        Some(hash % backend_count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_reference_vector() {
        // FNV-1a of the 13 bytes below, computed independently byte by byte.
        let mut reference: u32 = 0x811c_9dc5;
        for b in [10u8, 0, 0, 1, 10, 96, 0, 10, 0x9c, 0x40, 0, 80, 6] {
            reference ^= b as u32;
            reference = reference.wrapping_mul(0x0100_0193);
        }
        assert_eq!(
            flow_hash_v4([10, 0, 0, 1], [10, 96, 0, 10], 40000, 80, 6),
            reference
        );
        // The empty-input FNV-1a basis is a published constant; one byte "a" hashes to 0xe40c292c.
        let mut a = 0x811c_9dc5u32;
        a ^= b'a' as u32;
        a = a.wrapping_mul(0x0100_0193);
        assert_eq!(a, 0xe40c_292c);
    }

    #[test]
    fn source_port_changes_the_hash() {
        let a = flow_hash_v4([10, 0, 0, 1], [10, 96, 0, 10], 40000, 80, 6);
        let b = flow_hash_v4([10, 0, 0, 1], [10, 96, 0, 10], 40001, 80, 6);
        assert_ne!(a, b);
    }

    #[test]
    fn slots_cover_every_backend_and_never_exceed_count() {
        let mut seen = [false; 3];
        for port in 30000..30100u16 {
            let slot = backend_slot(flow_hash_v4([10, 0, 0, 2], [10, 96, 0, 1], port, 80, 6), 3)
                .expect("three backends");
            seen[slot as usize] = true;
        }
        assert_eq!(seen, [true; 3]);
        assert_eq!(backend_slot(12345, 0), None);
    }
}
