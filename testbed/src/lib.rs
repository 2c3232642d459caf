//! meshtwin's testbed: a node with pods on one machine, built from network namespaces, veth
//! pairs and cgroups, the traffic that runs in the pods, and the datapath benchmark. The
//! agent's kernel tests (`datapath/agent/tests/datapath`) and `meshtwin-testbed bench` use it;
//! everything it makes is removed when dropped, also when a test fails. Needs root; the few
//! tools it runs are called by full path.
//!
//! ```text
//! topology   node namespace routing to pod namespaces      netns, netlink, cgroup
//! workloads  processes in a pod's namespace and cgroup     traffic, http_server, nginx
//!            (the `meshtwin-traffic` binary)
//! programs   the agent, traffic tool and node proxy        binaries
//! bench      same-node request/response through five paths (`meshtwin-testbed bench`)
//! mesh       a whole mesh from a cluster.toml: nodes, pods,   mesh (`meshtwin-testbed up`)
//!            workloads, one of five data planes
//! ```
//!
//! - [`netns`]: network namespaces held by a file descriptor, with links, addresses and routes;
//! - [`netlink`]: the route-netlink requests behind them;
//! - [`topology`]: a routed "node" namespace with "pod" namespaces on veth pairs;
//! - [`cgroup`]: cgroup v2 directories to start workloads in;
//! - [`capture`]: the bytes that cross an interface (raw packet socket);
//! - [`traffic`]: echo, request/response, name and raw HTTP clients and servers;
//! - [`http_server`]: the HTTP/1.1 workload server (hyper);
//! - [`nginx`]: Debian's nginx as a pod's server, with its access log as the reference;
//! - [`sched`]: the scheduling policy of started processes;
//! - [`binaries`]: where the workspace's programs are;
//! - [`bench`]: the datapath benchmark;
//! - [`load`]: the open-loop HTTP load generator;
//! - [`measure`]: CPU time and peak memory of processes over a window;
//! - [`affinity`]: pinning threads and processes to CPUs;
//! - [`calibrate`]: each component measured alone, written as a models profile;
//! - [`validate`]: the simulator's predictions against the real mesh (`meshtwin-testbed validate`);
//! - [`mesh`]: a real small mesh built from a cluster.toml (issue 13's testbed; docs/testbed.md).

pub mod affinity;
pub mod bench;
pub mod binaries;
pub mod calibrate;
pub mod capture;
pub mod cgroup;
pub mod http_server;
pub mod load;
pub mod measure;
pub mod mesh;
pub mod netlink;
pub mod netns;
pub mod nginx;
pub mod sched;
pub mod topology;
pub mod traffic;
pub mod validate;
