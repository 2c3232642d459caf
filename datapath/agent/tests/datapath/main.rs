//! Datapath integration tests: the real programs in the running kernel, real TCP/UDP traffic
//! between network namespaces made by the tests. Run as root; each test skips with a printed
//! reason when the kernel is older than kernels.toml says its features need, or without root.
//! `just vmtest` runs this binary under other kernels (see docs/datapath.md for the contract).

mod connect_redirect;
mod http_counts_nginx;
mod http_visibility;
mod lifecycle;
mod lifecycle_honesty;
mod mtls_tunnel;
mod netkit_pods;
mod policy_revocation;
mod probes;
mod proxy_policy;
mod sockmap_bypass;
mod support;
mod tc_service_lb;
mod xdp_policy;
