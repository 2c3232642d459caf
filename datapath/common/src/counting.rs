//! Counters in map memory that programs running in process context add to. sk_msg and connect4
//! run in the sending or connecting task, which a preemptible kernel may preempt between a load
//! and its store; another program on the same CPU then adds to the same per-CPU value, and a
//! plain `+=` loses its addition. One atomic add (BPF_XADD, which every kernel has) loses
//! nothing; its result is never used, which is the form the oldest kernels accept.

/// Adds `value` to `counter` atomically.
#[inline(always)]
pub fn add(counter: &mut u64, value: u64) {
    #[cfg(target_arch = "bpf")]
    // SAFETY: `counter` is a valid, aligned, live u64 for the duration of the call, and every
    // writer that can race with this one writes it atomically too. The BPF target's `AtomicU64`
    // has no `fetch_add`; the intrinsic is what it would call, and LLVM makes it BPF_XADD.
    unsafe {
        core::intrinsics::atomic_xadd::<u64, u64, { core::intrinsics::AtomicOrdering::Relaxed }>(
            counter, value,
        );
    }
    #[cfg(not(target_arch = "bpf"))]
    // SAFETY: as above.
    unsafe { core::sync::atomic::AtomicU64::from_ptr(counter) }
        .fetch_add(value, core::sync::atomic::Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    #[test]
    fn adds() {
        let mut counter = 40;
        super::add(&mut counter, 2);
        assert_eq!(counter, 42);
    }
}
