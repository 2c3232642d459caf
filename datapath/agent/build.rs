//! Builds the kernel programs (datapath/ebpf) for bpfel-unknown-none with aya-build, so that a
//! plain `cargo build` of the agent also builds what it loads. The object lands in OUT_DIR and is
//! embedded with `include_bytes_aligned!`.
use anyhow::{anyhow, Context as _};
use aya_build::Toolchain;

const EBPF_PACKAGE: &str = "meshtwin-ebpf";

fn main() -> anyhow::Result<()> {
    let metadata = cargo_metadata::MetadataCommand::new()
        .no_deps()
        .exec()
        .context("cargo metadata failed")?;
    let ebpf = metadata
        .packages
        .into_iter()
        .find(|package| package.name.as_str() == EBPF_PACKAGE)
        .ok_or_else(|| anyhow!("package {EBPF_PACKAGE} is not in the workspace"))?;
    let root_dir = ebpf
        .manifest_path
        .parent()
        .ok_or_else(|| anyhow!("{} has no parent directory", ebpf.manifest_path))?;
    // The toolchain must emit LLVM 22 bitcode for bpf-linker 0.13 (see .ci/setup).
    println!("cargo:rerun-if-env-changed=MESHTWIN_EBPF_TOOLCHAIN");
    let toolchain = std::env::var("MESHTWIN_EBPF_TOOLCHAIN").ok();
    let toolchain = match toolchain.as_deref() {
        Some(name) if !name.is_empty() => Toolchain::Custom(name),
        _ => Toolchain::Nightly,
    };
    aya_build::build_ebpf(
        [aya_build::Package {
            name: EBPF_PACKAGE,
            root_dir: root_dir.as_str(),
            ..Default::default()
        }],
        toolchain,
    )
    .context("building the eBPF programs failed: is .ci/setup done (nightly + rust-src, bpf-linker 0.13 built against LLVM 22)?")
}
