#!/usr/bin/env python3
"""Bring-up and teardown time of fig9 beside an equally sized bare Mininet network.

Both are measured in the same run, alternating, so the ratio is meaningful on a shared,
noisy machine. "Equally sized": the same number of hosts, OVS userspace bridges and veth
links, wired the same way, with standalone (learning) switches and no controller, no
addresses beyond Mininet's defaults, no link emulation, no verification.

    sudo .venv/bin/python bench/bringup.py [--reps 3] [--topology topologies/fig9-...yaml]
"""
import argparse
import secrets
import statistics
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.model import load_topology  # noqa: E402
from orchestrator.model.plan import build_plan  # noqa: E402
from orchestrator.network.build import deploy  # noqa: E402
from orchestrator.testbed import destroy  # noqa: E402


def bare_mininet(plan) -> tuple[float, float]:
    from mininet.net import Mininet
    from mininet.node import OVSSwitch
    prefix = "mb" + secrets.token_hex(2)[:3]
    t0 = time.monotonic()
    net = Mininet(build=False, controller=None, autoSetMacs=False,
                  switch=partial(OVSSwitch, datapath="user", failMode="standalone",
                                 protocols="OpenFlow13"))
    hosts = {h: net.addHost(f"h{i}") for i, h in enumerate(plan.hosts)}
    switches = {s: net.addSwitch(f"{prefix}s{i}", dpid=f"{i + 1:016x}")
                for i, s in enumerate(plan.switches)}
    for lp in plan.links:
        a = switches[lp.a.node] if lp.a.is_switch else hosts[lp.a.node]
        b = switches[lp.b.node] if lp.b.is_switch else hosts[lp.b.node]
        net.addLink(a, b)
    net.build()
    net.start()
    up = time.monotonic() - t0
    t1 = time.monotonic()
    net.stop()              # stops only this network's own switches, links and hosts
    return up, time.monotonic() - t1


# the deploy's progress messages of each stage (network/build.py, deploy/lifecycle.py)
STAGES = (("starting os-ken controller", "controller process started"),
          ("creating", "hosts, bridges and links (Mininet objects)"),
          ("configuring addresses", "addresses and routes"),
          ("images: rendered", "images rendered and checked (beside the network stages)"),
          ("starting switches", "switches started, connected to the controller"),
          ("starting NFQUEUE delay element", "delay elements"),
          ("verifying", "RTT verification of delayed links"),
          ("associating", "initial associations (beside the verification)"),
          ("images: started", "daemons started until ready"),
          ("images: all ready", "all ready"))


def stage_of(message: str) -> str:
    for prefix, name in STAGES:
        if message.startswith(prefix):
            return name
    return ""


def mpa(topology: str, results: str, phases: dict | None = None) -> tuple[float, float]:
    marks: dict[str, list[float]] = {}

    def progress(message: str) -> None:
        name = stage_of(message)
        if name:
            marks.setdefault(name, []).append(time.monotonic() - t0)
    t0 = time.monotonic()
    deploy(topology, name="bench-bringup", results=results, progress=progress)
    up = time.monotonic() - t0
    if phases is not None:          # when each stage's first and last message came
        for name, ts in marks.items():
            phases.setdefault(name, []).append((ts[0], ts[-1]))
    t1 = time.monotonic()
    destroy("bench-bringup")
    return up, time.monotonic() - t1


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--topology", default="topologies/fig9-l2-preauth-roaming.yaml")
    ap.add_argument("--results", default="results/bench")
    args = ap.parse_args()
    plan = build_plan(load_topology(args.topology))
    rows = {"mpa-testbed": [], "bare Mininet": []}
    phases: dict[str, list[float]] = {}
    for _ in range(args.reps):
        rows["mpa-testbed"].append(mpa(args.topology, args.results, phases))
        rows["bare Mininet"].append(bare_mininet(plan))
    print(f"{args.topology}: {len(plan.hosts)} hosts, {len(plan.switches)} switches, "
          f"{len(plan.links)} links; {args.reps} repetitions (median)")
    print(f"{'':<14} {'bring-up s':>11} {'teardown s':>11}")
    med = {}
    for name, vals in rows.items():
        up = statistics.median(v[0] for v in vals)
        down = statistics.median(v[1] for v in vals)
        med[name] = (up, down)
        print(f"{name:<14} {up:>11.2f} {down:>11.2f}")
    print(f"ratio mpa-testbed / bare Mininet: bring-up {med['mpa-testbed'][0] / med['bare Mininet'][0]:.2f}x, "
          f"teardown {med['mpa-testbed'][1] / med['bare Mininet'][1]:.2f}x")
    print("(mpa-testbed also starts the os-ken controller, waits for switches to connect, starts "
          "delay elements, verifies the delayed links' RTT and associates the MN)")
    print("\nwhere mpa-testbed's bring-up goes: s after the start of each stage's first and "
          "last progress message (medians; stages overlap where marked)")
    for name, vals in phases.items():
        first, last = (statistics.median(v[k] for v in vals) for k in (0, 1))
        print(f"  {name:<58} {first:>6.2f} {last:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
