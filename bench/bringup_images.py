#!/usr/bin/env python3
"""Bring-up of fig9 with node images (FreeRADIUS, dnsmasq, strongSwan, ...) and without,
in the same run, alternating; and each image's ready time (daemon start -> ready check).

"Bring-up" is `deploy()` until it returns; "with images" adds the PKI, rendering, the
daemons' own config checks, starting them and waiting until each is ready.

    sudo .venv/bin/python bench/bringup_images.py [--reps 3] [--topology topologies/fig9-...yaml]
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.network.build import deploy  # noqa: E402
from orchestrator.testbed import destroy  # noqa: E402

NAME = "bench-images"


def once(topology: str, results: str, images: bool) -> tuple[float, dict[str, float]]:
    t0 = time.monotonic()
    journal = deploy(topology, name=NAME, results=results, images=images)
    up = time.monotonic() - t0
    ready = {f"{node}/{img}": rec["ready_s"] for node, info in journal.nodes.items()
             for img, rec in info.get("images", {}).items()}
    destroy(NAME)
    return up, ready


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--topology", default="topologies/fig9-l2-preauth-roaming.yaml")
    ap.add_argument("--results", default="results/bench")
    args = ap.parse_args()
    up = {True: [], False: []}
    ready: dict[str, list[float]] = {}
    for _ in range(args.reps):
        for images in (False, True):
            seconds, r = once(args.topology, args.results, images)
            up[images].append(seconds)
            for k, v in r.items():
                ready.setdefault(k, []).append(v)
    print(f"{args.topology}: {args.reps} repetitions, alternating (median, min-max)")
    for images, label in ((False, "without images"), (True, "with images")):
        v = up[images]
        print(f"  bring-up {label:<15} {statistics.median(v):6.2f} s  ({min(v):.2f}-{max(v):.2f})")
    print(f"  images add {statistics.median(up[True]) - statistics.median(up[False]):+.2f} s")
    print("  ready time per image (daemon started -> ready check passed):")
    for k in sorted(ready):
        v = [x * 1000 for x in ready[k]]
        print(f"    {k:<28} {statistics.median(v):6.0f} ms  ({min(v):.0f}-{max(v):.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
