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

# Time the capacity model alone on 10,000 nodes × 100 pods (docs/performance.md): without
# --no-latency, `sim run` would also simulate every request of the million pods, for minutes.
bench-capacity:
    cargo build --release -p sim
    for i in 1 2 3; do /usr/bin/time -f "%e s wall, %M KB peak RSS" target/release/sim run sim/benches/capacity-10000x100.toml --no-latency --format csv > /dev/null; done

# Fuzz the cluster-file path: CASES hostile files generated from the shipped scenarios and
# sim/tests/fuzz/corpus/, each through sim check, the capacity model and a short run; prints how
# each command ended, writes any file that broke the invariant to target/fuzz-findings/.
# `just fuzz 2000 7` runs 2,000 cases from seed 7.
fuzz CASES="1000" SEED="1":
    MESHTWIN_FUZZ_CASES={{CASES}} MESHTWIN_FUZZ_SEED={{SEED}} cargo test -p sim --test fuzz -- --nocapture

# Boot every kernel of kernels.toml under qemu and run the datapath tests in each; prints the
# kernel x test matrix (docs/kernels.md). `just vmtest 6.1` runs one kernel; flags go through
# (`just vmtest --list`, `just vmtest 6.1 -- xdp` to filter tests).
vmtest *ARGS:
    cargo run --release -p vmtests -- {{ARGS}}

# Time the latency simulation: the reference cluster, 60 simulated seconds, five architectures
# (docs/performance.md). Prints wall time and peak memory, then events per second per run.
bench-latency:
    cargo build --profile dist -p sim
    /usr/bin/time -f "%e s wall, %M KB peak RSS" target/dist/sim run sim/benches/latency-reference-60s.toml --format json -q -o target/bench-latency.json
    perf stat -e task-clock target/dist/sim run sim/benches/latency-reference-60s.toml --threads 1 --format csv -q > /dev/null
    python3 -c "import json; d=json.load(open('target/bench-latency.json')); runs=[d['baseline']]+d['architectures']; [print(r.get('name','baseline'), r['events'], 'events', round(r['events']/r['wall_seconds']/1e6,1), 'M events/s') for r in runs]"

# The engine against SimPy on the same M/M/c network (installs SimPy in target/simpy-venv).
bench-engine:
    sim/benches/engine_vs_simpy.sh

# The datapath benchmark (root): same-node 1 KiB request/response through loopback, veth, the
# sockmap bypass, iptables REDIRECT and connect4 to the node proxy, and connect4 + sockmap
# (docs/performance.md, "Datapath"), then wrk against nginx over veth and the bypass, unpinned,
# the mTLS tunnel between two nodes and netkit pods. `just bench-datapath --unpinned` lets every
# process spread; `--sections node|many|mtls|netkit` runs one part (netkit needs a kernel with it).
bench-datapath *ARGS:
    cargo build --release -p meshtwin-agent -p meshtwin-node-proxy -p meshtwin-testbed
    target/release/meshtwin-testbed bench --duration-secs 5 --runs 3 {{ARGS}}

# Issue 13's validation (root; docs/validation.md): calibrate the components on this machine
# (once: delete target/calibration/testbed.toml to measure again), then build each validation
# topology's mesh for every architecture, drive and measure it, and print the simulator's
# predictions beside the measurements. Tables on stdout, JSON and SVG in target/validation/.
validate *ARGS:
    cargo build --release -p meshtwin-agent -p meshtwin-node-proxy -p meshtwin-testbed
    test -f target/calibration/testbed.toml || target/release/meshtwin-testbed calibrate
    for f in chain fanout-sequential fanout-parallel; do target/release/meshtwin-testbed validate sim/scenarios/validation-$f.toml {{ARGS}}; done
    target/release/meshtwin-testbed validate sim/scenarios/validation-seed003.toml --file-rate --architectures baseline,ebpf,sidecar {{ARGS}}

# The mesh testbed (root, docs/testbed.md): `just mesh-up FILE sidecar` builds the mesh of a
# cluster.toml with that data plane (baseline, sidecar, per-node, uproxy, ebpf) and keeps it up
# until Ctrl-C; `just mesh-down` removes what a killed run left.
mesh-up FILE ARCHITECTURE="baseline" *ARGS:
    cargo build --release -p meshtwin-testbed -p meshtwin-agent -p meshtwin-node-proxy
    target/release/meshtwin-testbed up {{FILE}} --architecture {{ARCHITECTURE}} {{ARGS}}

mesh-down *ARGS:
    cargo build --release -p meshtwin-testbed -p meshtwin-agent
    target/release/meshtwin-testbed down {{ARGS}}
