#!/usr/bin/env python3
"""Why wrk and nginx left the CPU: reads `perf script -F comm,tid,time,event,trace,ip,sym`
output of `perf record -a -g -e sched:sched_switch` and counts each program's switches by how
it left (slept: prev_state S/D; preempted: R) and by the call site above the scheduler.
docs/performance.md ("Datapath", the bypass's tail) shows how it was used:

    perf record -a -g -e sched:sched_switch -o switches.data -- sleep 8
    perf script -i switches.data -F comm,tid,time,event,trace,ip,sym > switches.txt
    testbed/scripts/switch-reasons.py switches.txt
"""
import collections
import re
import sys

SCHEDULER = ("__schedule", "schedule", "preempt_schedule", "0x")


def blocks(path):
    block = []
    for line in open(path, errors="replace"):
        if line.strip():
            block.append(line.rstrip("\n"))
        elif block:
            yield block
            block = []
    if block:
        yield block


def main(path):
    reasons = collections.Counter()
    for block in blocks(path):
        head = re.search(r"sched_switch:.*prev_comm=(\S+) .*prev_state=(\S+)", block[0])
        if not head:
            continue
        comm, state = head.groups()
        program = next((p for p in ("wrk", "nginx") if comm.startswith(p)), None)
        if program is None:
            continue
        frames = [l.strip().split(None, 1)[1].split("+")[0] for l in block[1:] if len(l.strip().split(None, 1)) == 2]
        site = " < ".join([f for f in frames if not f.startswith(SCHEDULER)][:4])
        how = "slept" if state[0] in "SD" else "preempted"
        reasons[(program, how, site)] += 1
    for (program, how, site), count in reasons.most_common(12):
        print(f"{count:>9}  {program:<6} {how:<10} {site}")


if __name__ == "__main__":
    main(sys.argv[1])
