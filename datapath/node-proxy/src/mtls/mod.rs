//! Mutual TLS between node proxies, ztunnel-like: pod-to-pod connections between nodes travel
//! in a TLS 1.3 tunnel whose two ends present the certificates of the two workloads' identities
//! (SPIFFE IDs), and the receiving proxy authorizes by the verified identity of the client's
//! certificate against its own policy map, not by any address.
//!
//! ```text
//! node A                                                      node B
//! client pod --connect4--> proxy A ==TLS 1.3, client cert: source identity==> proxy B --> backend pod
//!                          (SNI identity-<dst>.<td>)   server cert: destination identity
//!                          CONNECT 10.78.0.11:8080 HTTP/1.1  ->  200 | 403 | 421 | 503
//! ```
//!
//! One tunnel per proxied connection (not one per peer node): the client certificate is the
//! source workload's, so a shared tunnel could carry only one identity's connections, and
//! ztunnel's pools are per identity pair for the same reason; per connection, the verified
//! identity and the connection are one, a tunnel closes with its connection (half-close
//! included, as TLS 1.3 close_notify), and no connection waits behind another's window. The
//! cost is a full handshake per connection, which the benchmark measures.
//!
//! - `spiffe`: trust domains, SPIFFE IDs and the server names that select certificates;
//! - `ca`: the CA (`meshtwin-node-proxy ca init|issue`) and its files;
//! - `store`: a node's certificates as rustls configurations, reloaded when they change;
//! - `connect_head`: the CONNECT request and its answer;
//! - `tunnel`: the outbound and inbound ends;
//! - `record_cost`: TLS's own CPU cost, in memory (`meshtwin-node-proxy measure-tls`).

pub mod ca;
pub mod connect_head;
pub mod record_cost;
pub mod spiffe;
pub mod store;
pub mod tunnel;
