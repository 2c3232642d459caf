"""The M/M/c network of meshtwin's engine benchmark, in SimPy: Poisson arrivals through two
2-worker stations with exponential service (a request path through two sidecars) separated by
an exponential network delay. Prints one JSON line: requests simulated, SimPy events processed,
wall seconds, and the mean time in system (to check both models agree).

    python3 mmc_network.py --requests 200000 --seed 1
"""

import argparse
import json
import random
import time

import simpy

ARRIVAL_RATE = 8000.0      # requests per second
SERVICE_MEAN = 100e-6      # seconds, per station (2 workers each: utilisation 0.4)
WIRE_MEAN = 20e-6          # seconds between the stations


def request(env, a, b, rng, sojourns):
    start = env.now
    with a.request() as slot:
        yield slot
        yield env.timeout(rng.expovariate(1.0 / SERVICE_MEAN))
    yield env.timeout(rng.expovariate(1.0 / WIRE_MEAN))
    with b.request() as slot:
        yield slot
        yield env.timeout(rng.expovariate(1.0 / SERVICE_MEAN))
    sojourns.append(env.now - start)


def source(env, n, a, b, rng, sojourns):
    for _ in range(n):
        yield env.timeout(rng.expovariate(ARRIVAL_RATE))
        env.process(request(env, a, b, rng, sojourns))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    env = simpy.Environment()
    a = simpy.Resource(env, capacity=2)
    b = simpy.Resource(env, capacity=2)
    sojourns = []
    env.process(source(env, args.requests, a, b, rng, sojourns))
    started = time.perf_counter()
    events = 0
    while True:
        try:
            env.step()
        except simpy.core.EmptySchedule:
            break
        events += 1
    wall = time.perf_counter() - started
    print(json.dumps({
        "model": "simpy",
        "requests": len(sojourns),
        "simpy_events": events,
        "wall_seconds": wall,
        "requests_per_second": len(sojourns) / wall,
        "mean_sojourn_us": sum(sojourns) / len(sojourns) * 1e6,
    }))


if __name__ == "__main__":
    main()
