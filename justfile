# meshtwin tasks. `just --list` shows them. CI does not need `just`: .ci/run calls the same
# commands directly.

# Install what the build and the tests need (idempotent), then run every test.
test:
    .ci/setup && cargo test --workspace

# Install what the build and the tests need (idempotent).
setup:
    .ci/setup

# Run the simulator: `just sim` for the embedded reference cluster, `just sim FILE [ARGS]`.
sim *ARGS:
    cargo run --release -p sim -- run {{ARGS}}

# Time the capacity model on 10,000 nodes × 100 pods (docs/performance.md).
bench-capacity:
    cargo build --release -p sim
    for i in 1 2 3; do /usr/bin/time -f "%e s wall, %M KB peak RSS" target/release/sim run sim/benches/capacity-10000x100.toml --format csv > /dev/null; done
