//! The range of every model parameter, from what its name says it is (`*_bytes`, `*_us`,
//! `*_sigma`, `*_ns_per_byte`, `*_ratio`, `*_exponent`, `*_vcpu`, ...): the same rule for the models' own files, their profiles and a cluster
//! file's `[models.*]` overrides. A parameter whose name fits no rule has no range, and the
//! catalog refuses it (a test checks every shipped one has a range).

use crate::value_range::ValueRange;

/// Bytes of one thing (a proxy's base, a cluster, a connection): up to a terabyte, so that
/// totals over millions of them stay within a 64-bit count (the capacity model checks them).
pub const BYTES: ValueRange = ValueRange::numbers(0.0, 1e12);
/// A time in µs: up to 100 s, the latency histograms' ceiling.
pub const MICROSECONDS: ValueRange = ValueRange::numbers(0.0, 1e8);
/// The shape of a log-normal: past 3 the mean rests on draws millions of times it.
pub const SIGMA: ValueRange = ValueRange::numbers(0.0, 3.0);
/// Worker threads of a proxy: whole threads, at least one.
pub const THREADS: ValueRange = ValueRange::integers(1, 1024);
/// vCPU per 1000 requests per second.
pub const CPU_PER_KRPS: ValueRange = ValueRange::numbers(0.0, 1000.0);
/// A link's speed: from a megabit to a petabit per second (a slower wire would hold one
/// request's payload for hours).
pub const GBPS: ValueRange = ValueRange::numbers(0.001, 1e6);
/// CPU per byte, in ns: up to a µs per byte (1 MB/s, far slower than any cipher or copy).
pub const NS_PER_BYTE: ValueRange = ValueRange::numbers(0.0, 1000.0);
/// One path's time over another's: from a hundredth to a hundred times.
pub const RATIO: ValueRange = ValueRange::numbers(0.01, 100.0);

/// How steeply CPU per request falls with the rate (`RateDependence`): 0 (not at all) to 1
/// (CPU per second no longer growing with the rate).
pub const EXPONENT: ValueRange = ValueRange::numbers(0.0, 1.0);

/// CPU cores requested or allowed (a Kubernetes request or limit).
pub const VCPU: ValueRange = ValueRange::numbers(0.0, 10_000.0);

/// A rate: above zero, up to a billion per second.
pub const PER_SECOND: ValueRange = ValueRange::above(0.0, 1e9);

/// The range of parameter `name`, by what its name says it is.
pub fn of(name: &str) -> Option<ValueRange> {
    if name.ends_with("_bytes") {
        Some(BYTES)
    } else if name.ends_with("_us") {
        Some(MICROSECONDS)
    } else if name.ends_with("_sigma") {
        Some(SIGMA)
    } else if name == "worker_threads" {
        Some(THREADS)
    } else if name.ends_with("vcpu_per_krps") {
        Some(CPU_PER_KRPS)
    } else if name.ends_with("_gbps") {
        Some(GBPS)
    } else if name.ends_with("_ns_per_byte") {
        Some(NS_PER_BYTE)
    } else if name.ends_with("_ratio") {
        Some(RATIO)
    } else if name.ends_with("_exponent") {
        Some(EXPONENT)
    } else if name.ends_with("_vcpu") {
        Some(VCPU)
    } else if name.ends_with("_per_second") {
        Some(PER_SECOND)
    } else {
        None
    }
}
