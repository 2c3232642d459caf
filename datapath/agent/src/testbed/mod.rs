//! Network namespaces, a routed "node" with "pod" namespaces, and cgroups, all made by the
//! caller and removed when dropped (also when a test fails). Used by the kernel tests
//! (`tests/datapath`) and by the datapath benchmark (`meshtwin-traffic bench`), which need the
//! same topology. Needs root; tools are called by full path.

pub mod cgroup;
pub mod netlink;
pub mod netns;
pub mod topology;
