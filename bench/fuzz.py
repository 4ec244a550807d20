#!/usr/bin/env python3
"""Long fuzz campaigns (issue 13): every wire parser of tests/support/fuzzing.py gets
`--inputs` seeded mutants (default 1,000,000 each); prints inputs/s, accepted/rejected, the
slowest input and every exception other than ProtocolError by type (the contract: none).

    nice -n 10 .venv/bin/python bench/fuzz.py [--inputs 1000000] [--jobs 2] [TARGET ...]

Each target runs in chunks of 100,000 with seeds 0, 1, ... so a failure reproduces with
`campaign(TARGETS[name], 100000, seed=k)`. Exit status 1 if any other exception occurred.
"""
import argparse
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.fuzzing import TARGETS, campaign  # noqa: E402

CHUNK = 100_000


def _chunk(args):
    name, n, seed = args
    r = campaign(TARGETS[name], n, seed)
    return name, r.inputs, r.accepted, r.rejected, r.seconds, r.slowest_ms, dict(r.others), \
        {k: (d[:200], tb) for k, (d, tb) in r.examples.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("targets", nargs="*", help=f"default: all ({', '.join(TARGETS)})")
    ap.add_argument("--inputs", type=int, default=1_000_000, help="per target")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    names = a.targets or list(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        ap.error(f"unknown target(s) {unknown}; known: {', '.join(TARGETS)}")
    work = [(n, min(CHUNK, a.inputs - k * CHUNK), k) for n in names
            for k in range((a.inputs + CHUNK - 1) // CHUNK)]
    totals = {n: {"inputs": 0, "accepted": 0, "rejected": 0, "cpu_s": 0.0, "slowest_ms": 0.0,
                  "others": Counter(), "examples": {}} for n in names}
    t0 = time.monotonic()
    with ProcessPoolExecutor(a.jobs) as pool:
        for name, n, acc, rej, secs, slow, others, examples in pool.map(_chunk, work):
            t = totals[name]
            t["inputs"] += n
            t["accepted"] += acc
            t["rejected"] += rej
            t["cpu_s"] += secs
            t["slowest_ms"] = max(t["slowest_ms"], slow)
            t["others"].update(others)
            for k, v in examples.items():
                t["examples"].setdefault(k, v)
    wall = time.monotonic() - t0
    print(f"{'parser':<12} {'inputs':>10} {'inputs/s':>9} {'accepted':>9} {'ProtocolError':>13} "
          f"{'slowest':>9}  other exceptions")
    bad = 0
    for name, t in totals.items():
        rate = t["inputs"] / t["cpu_s"] if t["cpu_s"] else 0
        others = ", ".join(f"{k}: {v}" for k, v in t["others"].most_common()) or "0"
        bad += sum(t["others"].values())
        print(f"{name:<12} {t['inputs']:>10,} {rate:>9,.0f} {t['accepted']:>9,} "
              f"{t['rejected']:>13,} {t['slowest_ms']:>7.1f}ms  {others}")
    total = sum(t["inputs"] for t in totals.values())
    print(f"total {total:,} inputs in {wall:.0f} s wall ({a.jobs} processes); "
          f"exceptions other than ProtocolError: {bad}")
    for name, t in totals.items():
        for kind, (data, tb) in t["examples"].items():
            print(f"\n{name}: {kind}, first input {data!r}\n{tb}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
