//! Fixtures of the datapath tests: feature gating from kernels.toml, network namespaces, a
//! bridged node with pods, real TCP/UDP traffic, and the agent binary.
#![allow(dead_code)] // each test uses a different part of the fixtures

pub mod agent;
pub mod gate;
pub mod traffic;
pub mod workloads;
pub use meshtwin_agent::testbed::{netns, topology};
