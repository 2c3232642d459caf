//! Names and sizes of the kernel maps, as both sides must spell them.
//!
//! The kernel side declares `static NAME: Map` with these identifiers (aya names a map after its
//! static); the agent looks maps up by these strings and pins them under the same names. Names are
//! at most 15 bytes, the kernel's limit for object names.

/// LPM trie: IPv4 prefix -> identity.
pub const IDENTITY_V4: &str = "IDENTITY_V4";
/// LPM trie: IPv6 prefix -> identity.
pub const IDENTITY_V6: &str = "IDENTITY_V6";
/// Hash: identity -> 1 for identities whose ingress is default-deny.
pub const POLICED: &str = "POLICED";
/// Hash: [`crate::policy::PolicyKey`] -> 1 for allowed (source, destination, protocol, port).
pub const POLICY: &str = "POLICY";
/// LRU hash: reply direction of allowed flows, so that replies pass.
pub const POLICY_FLOWS: &str = "POLICY_FLOWS";
/// Per-CPU hash: identity pair -> passed/dropped counters.
pub const POLICY_COUNTS: &str = "POLICY_COUNTS";
/// Hash: service VIP:port/protocol -> service id and backend count.
pub const SERVICES: &str = "SERVICES";
/// Hash: (service id, slot) -> backend address.
pub const BACKENDS: &str = "BACKENDS";
/// LRU hash: client -> VIP flow -> chosen backend.
pub const LB_CONNTRACK: &str = "LB_CONNTRACK";
/// LRU hash: backend -> client flow -> VIP to restore on replies.
pub const LB_REVNAT: &str = "LB_REVNAT";
/// Per-CPU array indexed by service id: packets and bytes.
pub const SERVICE_COUNTS: &str = "SERVICE_COUNTS";

/// Every map the programs use, in the order `status` prints them.
pub const ALL: [&str; 11] = [
    IDENTITY_V4,
    IDENTITY_V6,
    POLICED,
    POLICY,
    POLICY_FLOWS,
    POLICY_COUNTS,
    SERVICES,
    BACKENDS,
    LB_CONNTRACK,
    LB_REVNAT,
    SERVICE_COUNTS,
];

pub const MAX_IDENTITY_PREFIXES: u32 = 16_384;
pub const MAX_IDENTITIES: u32 = 4_096;
pub const MAX_POLICY_RULES: u32 = 16_384;
pub const MAX_POLICY_FLOWS: u32 = 65_536;
pub const MAX_IDENTITY_PAIRS: u32 = 16_384;
/// Service ids run from 0 to `MAX_SERVICES - 1` (they index [`SERVICE_COUNTS`]).
pub const MAX_SERVICES: u32 = 1_024;
pub const MAX_BACKENDS: u32 = 65_536;
pub const MAX_LB_FLOWS: u32 = 65_536;

/// Names of the kernel programs (the functions' names in `datapath/ebpf`).
pub const PROGRAM_XDP_POLICY: &str = "xdp_policy";
pub const PROGRAM_TC_SERVICE_LB: &str = "tc_service_lb";
