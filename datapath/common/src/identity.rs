//! Workload identities: numbers the agent gives to sets of addresses (an LPM trie maps an address
//! to the identity of its longest matching prefix).

/// Identity of an address that no configured prefix covers. Never assigned to a workload, and
/// no policy may name it: traffic from an unknown address to a workload under policy is dropped.
pub const UNKNOWN_IDENTITY: u32 = 0;

/// Address bits in an IPv4 LPM trie key.
pub const IPV4_PREFIX_BITS: u32 = 32;
/// Address bits in an IPv6 LPM trie key.
pub const IPV6_PREFIX_BITS: u32 = 128;
