//! Fixtures of the datapath tests: the agent binary, real
//! TCP/UDP traffic, and workloads in cgroups; the network namespaces and the routed node with
//! pods come from the testbed crate (`meshtwin_testbed`).
#![allow(dead_code)] // each test uses a different part of the fixtures

pub mod agent;
pub mod traffic;
pub mod workloads;
pub use meshtwin_kernel_features::gate;
pub use meshtwin_testbed::{netns, topology};
