//! The eBPF binary depends on the `bpf-linker` executable, which cargo cannot see: rebuild when
//! it changes, so that a linker rebuilt against another LLVM is picked up.
fn main() {
    if let Ok(bpf_linker) = which::which("bpf-linker") {
        println!("cargo:rerun-if-changed={}", bpf_linker.display());
    }
}
