//! The harness's own guest suite (`vmtests --suite self`): a few kernel features checked
//! against kernels.toml's table with the same protocol the datapath tests follow (skip below the
//! minimum with a printed reason, fail at or above it when the feature is missing, one JSON
//! record per test in $MESHTWIN_RESULTS). On the host it is an ordinary, quick test.

use std::io::Write as _;
use std::path::PathBuf;

use vmtests::catalog::Catalog;
use vmtests::version::KernelVersion;

fn kernels_toml() -> PathBuf {
    std::env::var_os("MESHTWIN_KERNELS_TOML")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../kernels.toml")))
}

fn running_kernel() -> KernelVersion {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    KernelVersion::from_release(release.trim()).expect("a kernel version")
}

fn record(test: &str, feature: &str, status: &str, reason: &str) {
    let Some(path) = std::env::var_os("MESHTWIN_RESULTS") else {
        return;
    };
    let line =
        serde_json::json!({"test": test, "feature": feature, "status": status, "reason": reason});
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("MESHTWIN_RESULTS is writable");
    file.write_all(format!("{line}\n").as_bytes())
        .expect("MESHTWIN_RESULTS is writable");
}

/// Runs `check` when the kernel is new enough for `feature`; records the outcome.
fn gated(test: &str, feature: &str, needs_root: bool, check: impl FnOnce()) {
    let catalog = Catalog::load(&kernels_toml()).expect("kernels.toml is valid");
    let minimum = catalog.features[feature];
    let kernel = running_kernel();
    let skip = if kernel < minimum {
        Some(format!("{feature} needs {minimum}, kernel is {kernel}"))
    } else if needs_root && unsafe { libc::geteuid() } != 0 {
        Some("needs root to call bpf(2)".to_owned())
    } else {
        None
    };
    if let Some(reason) = skip {
        println!("skipping {test}: {reason}");
        record(test, feature, "skip", &reason);
        return;
    }
    check();
    record(test, feature, "pass", "");
}

/// BPF_MAP_CREATE with the first four fields of `union bpf_attr`.
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
    // SAFETY: a descriptor bpf(2) just returned.
    unsafe { libc::close(fd as i32) };
    Ok(())
}

#[test]
fn kernel_btf_is_in_sysfs() {
    gated("kernel_btf_is_in_sysfs", "btf", false, || {
        let btf = std::fs::read("/sys/kernel/btf/vmlinux").expect("/sys/kernel/btf/vmlinux exists");
        assert_eq!(btf.get(..2), Some(&[0x9f, 0xeb][..]), "BTF magic");
    });
}

#[test]
fn lru_hash_map_can_be_created() {
    gated("lru_hash_map_can_be_created", "lru_hash", true, || {
        create_map(9, 4, 8, 16, 0).expect("BPF_MAP_TYPE_LRU_HASH");
    });
}

#[test]
fn lpm_trie_map_can_be_created() {
    gated("lpm_trie_map_can_be_created", "lpm_trie", true, || {
        // Key: 4-byte prefix length + IPv4 address; LPM tries require BPF_F_NO_PREALLOC (1).
        create_map(11, 8, 4, 16, 1).expect("BPF_MAP_TYPE_LPM_TRIE");
    });
}

#[test]
fn ringbuf_map_can_be_created() {
    gated("ringbuf_map_can_be_created", "ringbuf", true, || {
        create_map(27, 0, 0, 4096, 0).expect("BPF_MAP_TYPE_RINGBUF");
    });
}
