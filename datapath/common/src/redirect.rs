//! Connect-time redirect to the node proxy: the map types of the cgroup connect4 and
//! getpeername4 programs, and of the sock_ops program's part in it.
//!
//! connect4 sees a workload's `connect()` to a service VIP:port, rewrites the destination to
//! the node proxy and records the original one under the socket's cookie (`ORIG_DST_COOKIE`:
//! all a connect4 program can name, the source port is not chosen yet). When the kernel has
//! chosen the source port, sock_ops (`BPF_SOCK_OPS_TCP_CONNECT_CB`) copies the record under the
//! connection's 4-tuple (`ORIG_DST_FLOW`), which is what the proxy's accepted socket knows.

/// Value of `NODE_PROXY` (an array of one): where redirected connections go.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeProxy {
    pub addr: [u8; 4],
    /// Host order.
    pub port: u16,
    /// 1 when a node proxy is configured; connect4 redirects nothing otherwise.
    pub enabled: u16,
}

/// Value of `ORIG_DST_COOKIE` and `ORIG_DST_FLOW`: where the workload wanted to go.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OriginalDst {
    pub addr: [u8; 4],
    /// Host order.
    pub port: u16,
    /// Always 0.
    pub pad: u16,
    /// The service's id in `SERVICES`.
    pub service_id: u32,
}

/// Per-CPU counters of one service in `REDIRECT_COUNTS` (indexed by service id).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RedirectCounters {
    /// Connections sent to the node proxy.
    pub connections: u64,
}
