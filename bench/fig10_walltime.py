#!/usr/bin/env python3
"""Wall time of `make fig10` with its default repetitions (or --repetitions N).

    sudo .venv/bin/python bench/fig10_walltime.py [--repetitions 10]
"""
import argparse
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repetitions", type=int)
    args = ap.parse_args()
    cmd = ["make", "-s", "fig10"] + ([f"REPETITIONS={args.repetitions}"] if args.repetitions else [])
    t0 = time.monotonic()
    r = subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    if r.returncode != 0:
        print(r.stderr[-2000:], file=sys.stderr)
        return r.returncode
    reps = args.repetitions or "default (experiments/fig10.yaml)"
    print(f"make fig10, repetitions {reps}: {wall:.1f} s wall time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
