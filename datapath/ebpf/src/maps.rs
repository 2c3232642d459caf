//! The maps of every program. Each is pinned by name under the agent's bpffs directory, so that
//! a restarted agent, or a newer program, finds the same policy and counters.
//! Names and sizes come from `meshtwin_datapath_common::maps`.
//!
//! # Map memory
//!
//! Looking a value up (`get`, `get_ptr`, `get_ptr_mut`) is `unsafe` in aya-ebpf because the
//! result points into memory that other CPUs, and user space, may write at the same time. The
//! programs' `SAFETY:` comments rest on these facts:
//!
//! - The memory stays valid for the whole run of the program that looked it up: it belongs to
//!   the map, and the kernel frees a deleted element only after an RCU grace period, which no
//!   running program spans.
//! - Every value is plain integers (`#[repr(C)]`, explicit padding), so every bit pattern is a
//!   valid value: a read that races with an update can see a mix of old and new fields, never
//!   an invalid value. Shared values are copied at once and used as that snapshot.
//! - Per-CPU values are written in place through the pointer: programs run with migration
//!   disabled, so only programs on this CPU touch this CPU's copy (user space writes it only to
//!   reset a removed service's counters). XDP and TC run in softirq context, which nothing on
//!   the CPU preempts; sk_msg and connect4 run in the task that sends or connects, which a
//!   preemptible kernel may preempt between two instructions, letting another program on the
//!   same CPU run: their counters are added to atomically (`counting::add`), and nothing they
//!   keep between instructions is per CPU (the HTTP parser's scratch is per socket).
//! - The shared values written in place (`SOCK_MODES`, `HTTP_CONNS`, `PARSER_SCRATCH`) are
//!   written by the messages of one socket per field, which that socket's lock serialises.

use aya_ebpf::{
    macros::map,
    maps::{
        lpm_trie::LpmTrie, Array, HashMap, LruHashMap, PerCpuArray, PerCpuHashMap, ProgramArray,
        SockHash,
    },
};
use meshtwin_datapath_common::{
    http_stats::{HttpConnection, HttpFlowKey, HttpStats, HttpStatsKey, Observation, UnparsedKey},
    maps::*,
    policy::{FlowKey, IdentityPair, PolicyCounters, PolicyKey},
    redirect::{NodeProxy, OriginalDst, RedirectCounters},
    service::{
        Backend, BackendKey, Flow4, LbConnection, LbReverse, ServiceCounters, ServiceInfo,
        ServiceKey,
    },
    sockets::{Endpoint, LocalEndpoint, SockKey, SockMode, SockmapCounters},
};

/// Per-CPU hashes whose entries appear one identity pair or one HTTP series at a time are not
/// preallocated: preallocating (keys x CPUs values) took most of the time of every `up`, and
/// under the VM tests' emulation, seconds.
const BPF_F_NO_PREALLOC: u32 = 1;

#[map]
pub static IDENTITY_V4: LpmTrie<[u8; 4], u32> = LpmTrie::pinned(MAX_IDENTITY_PREFIXES, 0);
#[map]
pub static IDENTITY_V6: LpmTrie<[u8; 16], u32> = LpmTrie::pinned(MAX_IDENTITY_PREFIXES, 0);
#[map]
pub static POLICED: HashMap<u32, u32> = HashMap::pinned(MAX_IDENTITIES, 0);
#[map]
pub static POLICY: HashMap<PolicyKey, u32> = HashMap::pinned(MAX_POLICY_RULES, 0);
#[map]
pub static POLICY_FLOWS: LruHashMap<FlowKey, u32> = LruHashMap::pinned(MAX_POLICY_FLOWS, 0);
#[map]
pub static FORWARDED_FLOWS: LruHashMap<FlowKey, u32> = LruHashMap::pinned(MAX_FORWARDED_FLOWS, 0);
#[map]
pub static POLICY_COUNTS: PerCpuHashMap<IdentityPair, PolicyCounters> =
    PerCpuHashMap::pinned(MAX_IDENTITY_PAIRS, BPF_F_NO_PREALLOC);

#[map]
pub static SERVICES: HashMap<ServiceKey, ServiceInfo> = HashMap::pinned(MAX_SERVICES, 0);
#[map]
pub static BACKENDS: HashMap<BackendKey, Backend> = HashMap::pinned(MAX_BACKENDS, 0);
#[map]
pub static LB_CONNTRACK: LruHashMap<Flow4, LbConnection> = LruHashMap::pinned(MAX_LB_FLOWS, 0);
#[map]
pub static LB_REVNAT: LruHashMap<Flow4, LbReverse> = LruHashMap::pinned(MAX_LB_FLOWS, 0);
#[map]
pub static SERVICE_COUNTS: PerCpuArray<ServiceCounters> = PerCpuArray::pinned(MAX_SERVICES, 0);

// Socket level: sockmap bypass, HTTP visibility, connect-time redirect.
#[map]
pub static MESH_SOCKS: SockHash<SockKey> = SockHash::pinned(MAX_MESH_SOCKETS, 0);
#[map]
pub static SOCK_MODES: LruHashMap<SockKey, SockMode> = LruHashMap::pinned(MAX_MESH_SOCKETS, 0);
#[map]
pub static LOCAL_ENDPOINTS: HashMap<[u8; 4], LocalEndpoint> =
    HashMap::pinned(MAX_LOCAL_ENDPOINTS, 0);
#[map]
pub static HTTP_ENDPOINTS: HashMap<Endpoint, u32> = HashMap::pinned(MAX_HTTP_ENDPOINTS, 0);
#[map]
pub static HTTP_CONNS: LruHashMap<HttpFlowKey, HttpConnection> =
    LruHashMap::pinned(MAX_HTTP_CONNS, 0);
#[map]
pub static HTTP_STATS: PerCpuHashMap<HttpStatsKey, HttpStats> =
    PerCpuHashMap::pinned(MAX_HTTP_STATS, BPF_F_NO_PREALLOC);
#[map]
pub static HTTP_UNPARSED: PerCpuHashMap<UnparsedKey, u64> =
    PerCpuHashMap::pinned(MAX_HTTP_UNPARSED, BPF_F_NO_PREALLOC);
#[map]
pub static SOCKMAP_COUNTS: PerCpuArray<SockmapCounters> = PerCpuArray::pinned(1, 0);
#[map]
pub static NODE_PROXY: Array<NodeProxy> = Array::pinned(1, 0);
#[map]
pub static ORIG_DST_COOKIE: LruHashMap<u64, OriginalDst> = LruHashMap::pinned(MAX_REDIRECTED, 0);
#[map]
pub static ORIG_DST_FLOW: LruHashMap<SockKey, OriginalDst> = LruHashMap::pinned(MAX_REDIRECTED, 0);
#[map]
pub static REDIRECT_COUNTS: PerCpuArray<RedirectCounters> = PerCpuArray::pinned(MAX_SERVICES, 0);
/// The node proxy's port per service id (0: `NODE_PROXY`'s port).
#[map]
pub static PROXY_PORTS: Array<u32> = Array::pinned(MAX_SERVICES, 0);

/// The policy epoch (`meshtwin_datapath_common::sockets::next_policy_epoch`), advanced by the
/// agent after every change of the maps.
#[map]
pub static POLICY_EPOCH: Array<u32> = Array::pinned(1, 0);

/// The message the HTTP parser is reading, and its loop state (see `LoopState` for why that is
/// in map memory), kept across the tail calls that read it chunk by chunk; keyed by the sending
/// socket's own 4-tuple. Not per CPU: sk_msg runs in the sender's process context, which a
/// preemptible kernel may preempt between two instructions, and the next sender on that CPU
/// would overwrite a per-CPU scratch half-way through another's message. A socket's sends are
/// serialised by its lock, so its entry has one writer at a time.
#[map]
pub static PARSER_SCRATCH: LruHashMap<SockKey, Observation> =
    LruHashMap::with_max_entries(MAX_PARSING, 0);
/// The program that parses the next chunk of a message (`sk_msg_http`); the agent puts it at
/// index 0.
#[map]
pub static HTTP_PARSE: ProgramArray = ProgramArray::pinned(1, 0);

// All-zero values to insert from: the kernel reads a new entry's value from here instead of
// from the program's stack, which is 512 bytes in all (not pinned: nothing ever writes them).
#[map]
pub static ZERO_HTTP_CONN: Array<HttpConnection> = Array::with_max_entries(1, 0);
#[map]
pub static ZERO_HTTP_STATS: Array<HttpStats> = Array::with_max_entries(1, 0);
#[map]
pub static ZERO_OBSERVATION: Array<Observation> = Array::with_max_entries(1, 0);

/// The parser's scratch of the socket `sender` (created when absent; its content does not
/// matter: `begin` initialises what the loop reads).
#[inline(always)]
pub fn parser_scratch(sender: &SockKey) -> Option<*mut Observation> {
    if let Some(obs) = PARSER_SCRATCH.get_ptr_mut(sender) {
        return Some(obs);
    }
    let zero = ZERO_OBSERVATION.get(0)?;
    let _ = PARSER_SCRATCH.insert(sender, zero, 0);
    PARSER_SCRATCH.get_ptr_mut(sender)
}

/// Creates the `HTTP_CONNS` entry of `flow` for `service_id` (replacing any) and returns it.
#[inline(always)]
pub fn fresh_http_connection(
    flow: &HttpFlowKey,
    service_id: u32,
    flags: u64,
) -> Option<*mut HttpConnection> {
    let zero = ZERO_HTTP_CONN.get(0)?;
    // An existing entry stays when `flags` is BPF_NOEXIST: another CPU created it first.
    let _ = HTTP_CONNS.insert(flow, zero, flags);
    let conn = HTTP_CONNS.get_ptr_mut(flow)?;
    // SAFETY: a value this program just looked up ("Map memory" above); the service is the same
    // for any entry of this flow, so a racing writer stores the same number.
    unsafe { (*conn).service_id = service_id };
    Some(conn)
}
