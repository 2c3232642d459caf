//! The harness's own guest suite (`vmtests --suite self`): a few kernel features checked with
//! the gate the datapath tests use (skip below the minimum with a printed reason, fail at or
//! above it when the feature is missing, one JSON record per test in $MESHTWIN_RESULTS), and then
//! asked of the kernel the way the datapath uses them. On the host it is an ordinary, quick test.

use meshtwin_kernel_features::{gate, BTF, LPM_TRIE, LRU_HASH, RINGBUF};

/// BPF_MAP_CREATE with the first five fields of `union bpf_attr` set, as the datapath's maps
/// are made (not through the probe, which the gate already ran).
fn create_map(
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    flags: u32,
) -> std::io::Result<()> {
    let mut attr = [0u32; 16];
    attr[..5].copy_from_slice(&[map_type, key_size, value_size, max_entries, flags]);
    // SAFETY: a zeroed bpf_attr with the map_create fields set; the size passed matches.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            0,
            attr.as_ptr(),
            std::mem::size_of_val(&attr),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a descriptor bpf(2) just returned, closed once.
    unsafe { libc::close(fd as i32) };
    Ok(())
}

#[test]
fn kernel_btf_is_in_sysfs() {
    let Some(gate) = gate::require_unprivileged("kernel_btf_is_in_sysfs", &[BTF]) else {
        return;
    };
    let btf = std::fs::read("/sys/kernel/btf/vmlinux").expect("/sys/kernel/btf/vmlinux exists");
    assert_eq!(btf.get(..2), Some(&[0x9f, 0xeb][..]), "BTF magic");
    gate.pass();
}

#[test]
fn lru_hash_map_can_be_created() {
    let Some(gate) = gate::require("lru_hash_map_can_be_created", &[LRU_HASH]) else {
        return;
    };
    create_map(9, 4, 8, 16, 0).expect("BPF_MAP_TYPE_LRU_HASH");
    gate.pass();
}

#[test]
fn lpm_trie_map_can_be_created() {
    let Some(gate) = gate::require("lpm_trie_map_can_be_created", &[LPM_TRIE]) else {
        return;
    };
    // Key: 4-byte prefix length + IPv4 address; LPM tries require BPF_F_NO_PREALLOC (1).
    create_map(11, 8, 4, 16, 1).expect("BPF_MAP_TYPE_LPM_TRIE");
    gate.pass();
}

#[test]
fn ringbuf_map_can_be_created() {
    let Some(gate) = gate::require("ringbuf_map_can_be_created", &[RINGBUF]) else {
        return;
    };
    create_map(27, 0, 0, 4096, 0).expect("BPF_MAP_TYPE_RINGBUF");
    gate.pass();
}
