#!/usr/bin/env python3
"""Wall time of a reproduction target (`make fig10`, `make fig7`) with its default repetitions
(or --repetitions N), and where it goes: testbed bring-up and tear-down against the handovers.

    sudo .venv/bin/python bench/walltime.py fig7 [--repetitions 10]
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = {"fig10": "experiments/fig10.yaml", "fig7": "experiments/fig7.yaml"}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("target", choices=sorted(EXPERIMENTS))
    ap.add_argument("--repetitions", type=int)
    args = ap.parse_args()
    name = yaml.safe_load((REPO / EXPERIMENTS[args.target]).read_text())["name"]
    before = set((REPO / "results" / name).glob("*"))
    cmd = ["make", "-s", args.target] + (
        [f"REPETITIONS={args.repetitions}"] if args.repetitions else [])
    t0 = time.monotonic()
    r = subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    if r.returncode != 0:
        print(r.stderr[-2000:], file=sys.stderr)
        return r.returncode
    reps = args.repetitions or f"default ({EXPERIMENTS[args.target]})"
    print(f"make {args.target}, repetitions {reps}: {wall:.1f} s wall time")
    new = sorted(set((REPO / "results" / name).glob("*")) - before)
    if new:
        run = new[-1]
        progress = [json.loads(x) for x in (run / "progress.jsonl").read_text().splitlines()]
        events = [json.loads(x) for x in (run / "events.jsonl").read_text().splitlines()]
        span = (max(e["mono_ns"] for e in events) - min(e["mono_ns"] for e in events)) / 1e9
        ok = sum(p["status"] == "ok" for p in progress)
        print(f"  {len(progress)} handovers ({ok} ok) in {span:.1f} s of testbed time: "
              f"{span / max(len(progress), 1):.2f} s per repetition including its clean state")
        print(f"  the rest ({wall - span:.1f} s): bring-up, tear-down, captures, report "
              f"({run.relative_to(REPO)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
