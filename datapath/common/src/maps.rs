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
/// LRU hash: [`crate::policy::FlowKey`] of a connection the node proxy opened to a backend ->
/// the identity of the client it forwards for (written by the proxy, read by the XDP policy).
pub const FORWARDED_FLOWS: &str = "FORWARDED_FLOWS";
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

/// Socket hash: [`crate::sockets::SockKey`] -> established TCP socket (sockmap bypass and
/// HTTP visibility; the sk_msg program is attached to it).
pub const MESH_SOCKS: &str = "MESH_SOCKS";
/// LRU hash: [`crate::sockets::SockKey`] -> what sk_msg does with the socket's messages.
pub const SOCK_MODES: &str = "SOCK_MODES";
/// Hash: workload IPv4 address -> [`crate::sockets::LocalEndpoint`] flags.
pub const LOCAL_ENDPOINTS: &str = "LOCAL_ENDPOINTS";
/// Hash: monitored [`crate::sockets::Endpoint`] -> service id.
pub const HTTP_ENDPOINTS: &str = "HTTP_ENDPOINTS";
/// LRU hash: [`crate::http_stats::HttpFlowKey`] -> per-connection HTTP parser state.
pub const HTTP_CONNS: &str = "HTTP_CONNS";
/// Per-CPU hash: (service, method, status class) -> requests and latency histogram.
pub const HTTP_STATS: &str = "HTTP_STATS";
/// Per-CPU hash: (service, reason) -> messages not counted.
pub const HTTP_UNPARSED: &str = "HTTP_UNPARSED";
/// Per-CPU array of one: sk_msg redirect counters.
pub const SOCKMAP_COUNTS: &str = "SOCKMAP_COUNTS";
/// Array of one: the node proxy's address (connect4's redirect target).
pub const NODE_PROXY: &str = "NODE_PROXY";
/// LRU hash: socket cookie -> original destination of a redirected connection.
pub const ORIG_DST_COOKIE: &str = "ORIG_DST_COOKIE";
/// LRU hash: [`crate::sockets::SockKey`] of the workload's socket -> original destination; the
/// node proxy reads (and removes) it when it accepts the connection.
pub const ORIG_DST_FLOW: &str = "ORIG_DST_FLOW";
/// Per-CPU array indexed by service id: connections redirected to the node proxy.
pub const REDIRECT_COUNTS: &str = "REDIRECT_COUNTS";
/// Array indexed by service id: the node proxy's port for that service (host order; 0: the
/// `NODE_PROXY` port), for proxies that tell services apart by the port they were sent to.
pub const PROXY_PORTS: &str = "PROXY_PORTS";
/// Array of one: the policy epoch, which the agent advances after every change of the maps;
/// sk_msg asks the policy again about a bypassed socket whose last answer is older.
pub const POLICY_EPOCH: &str = "POLICY_EPOCH";
/// Program array: the sk_msg program that parses the next chunk of an HTTP message.
pub const HTTP_PARSE: &str = "HTTP_PARSE";

/// Every map the programs use, in the order `status` prints them.
pub const ALL: [&str; 27] = [
    IDENTITY_V4,
    IDENTITY_V6,
    POLICED,
    POLICY,
    POLICY_FLOWS,
    FORWARDED_FLOWS,
    POLICY_COUNTS,
    SERVICES,
    BACKENDS,
    LB_CONNTRACK,
    LB_REVNAT,
    SERVICE_COUNTS,
    MESH_SOCKS,
    SOCK_MODES,
    LOCAL_ENDPOINTS,
    HTTP_ENDPOINTS,
    HTTP_CONNS,
    HTTP_STATS,
    HTTP_UNPARSED,
    SOCKMAP_COUNTS,
    NODE_PROXY,
    ORIG_DST_COOKIE,
    ORIG_DST_FLOW,
    REDIRECT_COUNTS,
    PROXY_PORTS,
    POLICY_EPOCH,
    HTTP_PARSE,
];

pub const MAX_IDENTITY_PREFIXES: u32 = 16_384;
pub const MAX_IDENTITIES: u32 = 4_096;
pub const MAX_POLICY_RULES: u32 = 16_384;
pub const MAX_POLICY_FLOWS: u32 = 65_536;
/// Connections the node proxy forwards at once (LRU: an entry the proxy failed to remove
/// gives way to new ones).
pub const MAX_FORWARDED_FLOWS: u32 = 65_536;
pub const MAX_IDENTITY_PAIRS: u32 = 16_384;
/// Service ids run from 0 to `MAX_SERVICES - 1` (they index [`SERVICE_COUNTS`]).
pub const MAX_SERVICES: u32 = 1_024;
pub const MAX_BACKENDS: u32 = 65_536;
pub const MAX_LB_FLOWS: u32 = 65_536;
/// Sockets in the socket hash (two per node-local connection).
pub const MAX_MESH_SOCKETS: u32 = 65_536;
/// Workload addresses on one node.
pub const MAX_LOCAL_ENDPOINTS: u32 = 4_096;
/// Monitored service endpoints on one node.
pub const MAX_HTTP_ENDPOINTS: u32 = 4_096;
/// HTTP connections tracked at once.
pub const MAX_HTTP_CONNS: u32 = 16_384;
/// (service, method, status class) combinations.
pub const MAX_HTTP_STATS: u32 = 4_096;
/// (service, reason) combinations.
pub const MAX_HTTP_UNPARSED: u32 = 4_096;
/// Messages the HTTP parser can be in the middle of at once (LRU; one per sending socket).
pub const MAX_PARSING: u32 = 4_096;
/// Redirected connections whose original destination is remembered (LRU).
pub const MAX_REDIRECTED: u32 = 16_384;

/// Names of the kernel programs (the functions' names in `datapath/ebpf`).
pub const PROGRAM_XDP_POLICY: &str = "xdp_policy";
pub const PROGRAM_TC_SERVICE_LB: &str = "tc_service_lb";
pub const PROGRAM_SOCKOPS_MESH: &str = "sockops_mesh";
pub const PROGRAM_SK_MSG_MESH: &str = "sk_msg_mesh";
pub const PROGRAM_SK_MSG_HTTP: &str = "sk_msg_http";
pub const PROGRAM_CONNECT4_PROXY: &str = "connect4_proxy";
pub const PROGRAM_GETPEERNAME4: &str = "getpeername4";
