//! A hint to the CPU to start loading a value's cache line now. The event loop often knows
//! what an event will touch when it schedules the event, several events before it happens:
//! the station a call will visit, the histogram counter its latency will go to. Loading it
//! then, instead of at the event, hides a cache miss. A hint only: it never changes what a run
//! computes.

#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, whatever the address; this one is a valid reference.
    #[allow(unused_unsafe)]
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(value as *const T as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
