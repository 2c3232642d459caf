//! A hint to the CPU to start loading a value's cache line now. The event loop knows which
//! station a call will visit when it schedules the visit, several events before it happens;
//! loading the station then, instead of at the visit, hides a miss to the last-level cache.
//! A hint only: it never changes what a run computes.

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
