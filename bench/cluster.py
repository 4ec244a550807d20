#!/usr/bin/env python3
"""A network split across two servers (Mininet's cluster edition, network/cluster.py)
against the same network on one server: bring-up, teardown, RTT and TCP throughput.

The topology is tests/integration/topologies/split.yaml (5 hosts, 4 bridges; the AP's
uplink crosses from server `main` to server `second`, this machine over SSH through the
testbed's own sshd); "single" is the same file without its `placement:`. Both are built in
the same run, alternating, with no node images (the network only) unless --images.

Measured per build: bring-up and teardown (deploy / destroy wall time) and the bring-up's
stages from the deploy's progress messages; ping RTT (user to user, `ping -U`): cn -> aaa
through the core's switch, where the CN's link is an SSH tunnel in the split build and a
veth in the single one; ap1 -> nar (the AP's uplink tunnel in the split); aaa -> nar, veths
in both (on `second` in the split); TCP throughput ap1 -> nar (iperf 2, 3 s).

    sudo .venv/bin/python bench/cluster.py [--reps 3] [--pings 100] [--images]
    sudo .venv/bin/python bench/cluster.py --topology topologies/campus.yaml   # auto placement

With --topology, any topology is split by `placement: {auto: true}` over two servers (this
machine and this machine over SSH; Mininet's SwitchBinPlacer) and only bring-up and teardown
are compared.
"""
import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.network.build import deploy  # noqa: E402
from orchestrator.network.nsexec import ping_rtts  # noqa: E402
from orchestrator.testbed import destroy  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SPLIT = REPO / "tests/integration/topologies/split.yaml"
STAGES = ((r"server '", "private sshd for `second`"),
          (r"creating \d+ hosts", "hosts (remote ones: a shell over ssh each)"),
          (r"creating \d+ Open", "bridges (remote ones: a shell over ssh each)"),
          (r"creating \d+ links", "links (between servers: SSH tunnels)"),
          (r"starting switches", "switches started, addresses, controller"),
          (r"associating", "initial associations and the rest"))


def one(topology: str, name: str, results: str, pings: int, images: bool,
        measure: bool = True) -> dict:
    marks = []
    t0 = time.monotonic()
    j = deploy(topology, name=name, results=results, images=images,
               progress=lambda msg: marks.append((time.monotonic(), msg)))
    up = time.monotonic() - t0
    spans = {}
    for i, (t, msg) in enumerate(marks):
        key = next((label for head, label in STAGES if re.match(head, msg)), None)
        if key and key not in spans:
            end = next((t2 for t2, m2 in marks[i + 1:]
                        if any(re.match(h, m2) for h, _ in STAGES)
                        and not re.match(dict(map(reversed, STAGES))[key], m2)), t0 + up)
            spans[key] = end - t
    ns = {n: v["netns"] for n, v in j.nodes.items()}
    tunnels = sum(p["what"].startswith("ssh tunnel") for p in j.processes)
    if not measure:
        t1 = time.monotonic()
        destroy(name)
        return {"up": up, "down": time.monotonic() - t1, "stages": spans, "tunnels": tunnels}
    out = {"up": up, "stages": spans, "tunnels": tunnels,
           "ap1->nar": ping_rtts(ns["ap1"], "10.9.1.1", count=pings, interval=0.01),
           "aaa->nar": ping_rtts(ns["aaa"], "10.9.0.1", count=pings, interval=0.01),
           "cn->aaa": ping_rtts(ns["cn"], "10.9.0.10", count=pings, interval=0.01),
           "tcp": iperf(ns["nar"], ns["ap1"], "10.9.1.1")}
    t1 = time.monotonic()
    destroy(name)
    out["down"] = time.monotonic() - t1
    return out


def iperf(server_ns: str, client_ns: str, address: str) -> float:
    """Mbit/s of one 3 s TCP stream (iperf 2), client -> server."""
    srv = subprocess.Popen(["ip", "netns", "exec", server_ns, "iperf", "-s", "-p", "5201"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        r = subprocess.run(["ip", "netns", "exec", client_ns, "iperf", "-c", address, "-p",
                            "5201", "-t", "3", "-y", "C"], capture_output=True, text=True,
                           timeout=30)
        lines = [ln for ln in r.stdout.splitlines() if ln.count(",") >= 8]
        return int(lines[-1].split(",")[8]) / 1e6 if lines else float("nan")
    finally:
        srv.terminate()
        srv.wait(5)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def pct(xs, q):
    return statistics.quantiles(xs, n=100)[q - 1] if len(xs) > 1 else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--pings", type=int, default=100)
    ap.add_argument("--images", action="store_true", help="start the node images too")
    ap.add_argument("--topology", help="split this topology automatically; bring-up only")
    args = ap.parse_args()
    runs = {"split": [], "single": []}
    with tempfile.TemporaryDirectory() as tmp:
        split, single = Path(tmp, "split.yaml"), Path(tmp, "single.yaml")
        data = yaml.safe_load(Path(args.topology or SPLIT).read_text())
        if args.topology:
            data["placement"] = {"servers": {"main": {}, "second": {"address": "loopback"}},
                                 "auto": True}
        split.write_text(yaml.safe_dump(data, sort_keys=False))
        data.pop("placement")
        single.write_text(yaml.safe_dump(data, sort_keys=False))
        for rep in range(args.reps):
            for kind, topo in (("split", split), ("single", single)):
                runs[kind].append(one(str(topo), f"bench-{kind}", tmp, args.pings, args.images,
                                      measure=not args.topology))
                print(f"rep {rep + 1} {kind}: up {runs[kind][-1]['up']:.2f} s, "
                      f"{runs[kind][-1]['tunnels']} tunnels", flush=True)
    if args.topology:
        for key, label in (("up", "bring-up"), ("down", "teardown")):
            s, o = med([r[key] for r in runs["split"]]), med([r[key] for r in runs["single"]])
            print(f"{label} s, median: split {s:.2f}, single {o:.2f}, {s / o:.2f}x")
        stages(runs)
        return
    print(f"\n{args.reps} repetitions each, alternating; images {'on' if args.images else 'off'}; "
          f"{args.pings} pings per pair per build at 10 ms intervals\n")
    print("| | split (2 servers) | single server | split / single |\n|---|---:|---:|---:|")
    for key, label in (("up", "bring-up s (median)"), ("down", "teardown s (median)")):
        s, o = med([r[key] for r in runs["split"]]), med([r[key] for r in runs["single"]])
        print(f"| {label} | {s:.2f} | {o:.2f} | {s / o:.2f}x |")
    for pair, what in (("cn->aaa", "cn -> aaa RTT ms (one switch; split: the CN's tunnel)"),
                       ("ap1->nar", "ap1 -> nar RTT ms (split: the AP's uplink tunnel)"),
                       ("aaa->nar", "aaa -> nar RTT ms (one switch, veths in both)")):
        s = [x for r in runs["split"] for x in r[pair]]
        o = [x for r in runs["single"] for x in r[pair]]
        print(f"| {what}, median [p90] | {med(s):.3f} [{pct(s, 90):.3f}] | "
              f"{med(o):.3f} [{pct(o, 90):.3f}] | {med(s) / med(o):.2f}x |")
    s, o = med([r["tcp"] for r in runs["split"]]), med([r["tcp"] for r in runs["single"]])
    print(f"| TCP ap1 -> nar Mbit/s (iperf 2, 3 s, median) | {s:.0f} | {o:.0f} | {s / o:.2f}x |")
    stages(runs)
    lost = {k: sum(args.pings * 3 - len(r["ap1->nar"]) - len(r["aaa->nar"]) - len(r["cn->aaa"])
                   for r in v) for k, v in runs.items()}
    print(f"\npings lost: {lost}")


def stages(runs: dict) -> None:
    print("\nbring-up stages, median s (split | single):")
    for _, label in STAGES:
        s = [r["stages"].get(label) for r in runs["split"] if label in r["stages"]]
        o = [r["stages"].get(label) for r in runs["single"] if label in r["stages"]]
        print(f"  {label:<48} {med(s) if s else float('nan'):6.2f} | "
              f"{med(o) if o else float('nan'):6.2f}")


if __name__ == "__main__":
    main()
