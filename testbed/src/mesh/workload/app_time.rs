//! The application's own time per request, burnt on the CPU.
//!
//! A spin rather than a sleep: tokio's timer has a 1 ms granularity, so a 50 µs sleep would
//! last a millisecond; and a real handler's time is CPU, which competes with the proxies for
//! the node's cores, as the simulator's node-core model must account for.

use std::time::{Duration, Instant};

/// Spins on the monotonic clock for `duration`.
pub fn burn(duration: Duration) {
    if duration.is_zero() {
        return;
    }
    let end = Instant::now() + duration;
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burns_at_least_the_time_asked() {
        let start = Instant::now();
        burn(Duration::from_micros(300));
        assert!(start.elapsed() >= Duration::from_micros(300));
    }
}
