#!/usr/bin/env bash
# meshtwin's engine against SimPy on the same M/M/c network, in one run (docs/performance.md).
# Installs SimPy from sim/benches/simpy/requirements.txt into target/simpy-venv on first use.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/simpy-venv
if [ ! -x "$venv/bin/python" ]; then
    echo "engine-vs-simpy: creating $venv with SimPy (sim/benches/simpy/requirements.txt)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet -r sim/benches/simpy/requirements.txt
fi
cargo build --release --quiet -p sim --example mmc_network
ours=$(target/release/examples/mmc_network --requests 2000000 --seed 1)
theirs=$("$venv/bin/python" sim/benches/simpy/mmc_network.py --requests 200000 --seed 1)
echo "$ours"
echo "$theirs"
python3 - "$ours" "$theirs" <<'PY'
import json, sys
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ratio = ours["requests_per_second"] / theirs["requests_per_second"]
print(f"meshtwin simulates {ours['requests_per_second']:,.0f} requests/s, SimPy {theirs['requests_per_second']:,.0f}: "
      f"{ratio:.1f}x (mean time in system {ours['mean_sojourn_us']:.1f} µs vs {theirs['mean_sojourn_us']:.1f} µs)")
PY
