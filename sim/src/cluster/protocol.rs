//! What calls to a service speak, from its ports: it decides how many connections a pool keeps
//! to it and whether an L7 proxy can apply policy to it.

/// The protocol of the calls to a service: gRPC if it has `grpc_ports`, else HTTP/2 if it has
/// `http2_ports`, else HTTP/1.1 if it has `http_ports` (or lists no ports), else plain TCP.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    #[default]
    Http1,
    Http2,
    Grpc,
    /// Bytes the proxies pass on without parsing: no L7 policy, no waypoint.
    Tcp,
}

impl Protocol {
    /// Requests multiplexed as streams on one connection. Source: Envoy's connection pooling
    /// (envoyproxy.io docs, intro/arch_overview/upstream/connection_pooling): "The HTTP/2
    /// connection pool multiplexes multiple requests over a single connection ... With no
    /// limits, this will be only a single connection" (max concurrent streams defaults to
    /// 2^31 − 1); gRPC runs on HTTP/2.
    pub fn multiplexed(self) -> bool {
        matches!(self, Protocol::Http2 | Protocol::Grpc)
    }

    /// Connections one pool keeps to one upstream (a service, or a replica) given
    /// `connections_per_upstream`: one for a multiplexed protocol, that many otherwise (an
    /// HTTP/1.1 connection carries one request at a time).
    pub fn connections_per_pool(self, connections_per_upstream: u64) -> u64 {
        if self.multiplexed() {
            1
        } else {
            connections_per_upstream
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http1 => "HTTP/1.1",
            Protocol::Http2 => "HTTP/2",
            Protocol::Grpc => "gRPC",
            Protocol::Tcp => "TCP",
        }
    }
}
