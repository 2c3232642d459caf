//! Service load balancing (IPv4): the map types of the TC program.
//!
//! Ports are in host order in every key and value; the program converts when it rewrites headers.

/// Key of the service map: a virtual IP, port and protocol.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceKey {
    pub vip: [u8; 4],
    pub port: u16,
    pub protocol: u8,
    /// Always 0.
    pub pad: u8,
}

impl ServiceKey {
    #[inline(always)]
    pub const fn new(vip: [u8; 4], port: u16, protocol: u8) -> Self {
        Self {
            vip,
            port,
            protocol,
            pad: 0,
        }
    }
}

/// Value of the service map.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceInfo {
    /// Index into the per-service counters; stable while the service exists.
    pub id: u32,
    /// Backends live in slots `0..backend_count` of the backend map. 0 drops new flows.
    pub backend_count: u32,
}

/// Key of the backend map.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BackendKey {
    pub service_id: u32,
    pub slot: u32,
}

/// A backend address.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Backend {
    pub addr: [u8; 4],
    pub port: u16,
    /// Always 0.
    pub pad: u16,
}

/// An IPv4 flow: key of the conntrack and reverse-NAT maps.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Flow4 {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub src_port: u16,
    pub dst_port: u16,
    pub protocol: u8,
    /// Always 0.
    pub pad: [u8; 3],
}

impl Flow4 {
    #[inline(always)]
    pub const fn new(
        src: [u8; 4],
        dst: [u8; 4],
        src_port: u16,
        dst_port: u16,
        protocol: u8,
    ) -> Self {
        Self {
            src,
            dst,
            src_port,
            dst_port,
            protocol,
            pad: [0; 3],
        }
    }
}

/// Conntrack value: where the client -> VIP flow goes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LbConnection {
    pub backend: Backend,
    pub service_id: u32,
}

/// Reverse-NAT value: the VIP to put back as source of backend -> client replies.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LbReverse {
    pub vip: [u8; 4],
    pub port: u16,
    /// Always 0.
    pub pad: u16,
    pub service_id: u32,
}

/// Per-CPU counters of one service, both directions.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceCounters {
    pub packets: u64,
    pub bytes: u64,
    /// New flows that found no backend (service with zero backends).
    pub no_backend_drops: u64,
}
