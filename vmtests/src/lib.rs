//! meshtwin's kernel test matrix: boots every kernel pinned in `kernels.toml` under qemu (with
//! the vmtest crate) and runs the datapath's integration tests inside each.
//!
//! ```text
//! kernels.toml ─catalog─▶ KernelSpec ─apt_root, kernel_cache, vmlinux─▶ CachedKernel
//!                                                       │
//!                                   kmod + cpio ─shim─▶ initramfs
//!                                                       │
//!  suite (cargo test --no-run) ─guest_script─▶ command  │
//!                                                       ▼
//!          accel (KVM probe), qemu_wrapper ─vm_run (vmtest)─▶ guest lines
//!                                                       │
//!                                guest_output ─matrix─▶ table + JSON
//! ```

pub mod accel;
pub mod apt_root;
pub mod catalog;
pub mod cpio;
pub mod file_lock;
pub mod guest_output;
pub mod guest_script;
pub mod host_mirror;
pub mod host_tools;
pub mod kernel_cache;
pub mod kmod;
pub mod matrix;
pub mod qemu_wrapper;
pub mod shim;
pub mod suite;
pub mod vm_run;
pub mod vmlinux;
