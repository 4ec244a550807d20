#!/usr/bin/env python3
"""How long the MN's post-switching address change takes (RFC 6252 s6.3 step 6: the address
on the interface, the default route, three neighbour mappings): in-process rtnetlink
(orchestrator/agents/rtnl.py, what agents/handover.py uses) against forking `ip -batch`.
In a scratch namespace (bpost-<pid>) with a veth pair, deleted at the end.

    sudo .venv/bin/python bench/post_switching.py [--rounds 40]
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

TIMING = """
import json, statistics, subprocess, sys, time
from orchestrator.agents.rtnl import Rtnl
NETS = [("10.1.0.5/24", "10.1.0.1", "10.1.0."), ("10.2.0.7/24", "10.2.0.1", "10.2.0.")]
ROUNDS = int(sys.argv[1])

def with_rtnl(r, address, gateway, base):
    r.addr_flush("v0")
    r.addr_add("v0", address)
    r.route_replace("default", gateway, "v0")
    for i in (1, 2, 3):
        r.neigh_replace("v0", f"{base}{i}", f"02:00:00:00:00:0{i}", "stale")

def ip_batch(lines):
    subprocess.run(["ip", "-force", "-batch", "-"], input="\\n".join(lines) + "\\n",
                   capture_output=True, text=True, check=True)

def with_ip_batch(address, gateway, base):
    ip_batch(["addr flush dev v0 scope global", f"addr add {address} dev v0",
              f"route replace default via {gateway} dev v0"]
             + [f"neigh replace {base}{i} lladdr 02:00:00:00:00:0{i} dev v0 nud stale"
                for i in (1, 2, 3)])

def ms(samples):
    samples = sorted(samples)
    return {"median": round(statistics.median(samples) * 1e3, 3),
            "p90": round(samples[int(0.9 * (len(samples) - 1))] * 1e3, 3),
            "min": round(samples[0] * 1e3, 3)}

times = {"rtnl": [], "rtnl_new_socket": [], "ip_batch": []}
with Rtnl() as r:
    for n in range(ROUNDS):
        net = NETS[n % 2]
        t = time.perf_counter(); with_rtnl(r, *net); times["rtnl"].append(time.perf_counter() - t)
for n in range(ROUNDS):
    net = NETS[n % 2]
    t = time.perf_counter()
    with Rtnl() as r:
        with_rtnl(r, *net)
    times["rtnl_new_socket"].append(time.perf_counter() - t)
for n in range(ROUNDS):
    net = NETS[n % 2]
    t = time.perf_counter(); with_ip_batch(*net); times["ip_batch"].append(time.perf_counter() - t)
print(json.dumps({k: ms(v) for k, v in times.items()}))
"""


def sh(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=40)
    args = ap.parse_args()
    ns = f"bpost-{os.getpid()}"
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "-n", ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
        for dev in ("v0", "v1"):
            sh("ip", "-n", ns, "link", "set", dev, "up")
        out = json.loads(sh("ip", "netns", "exec", ns, sys.executable, "-c", TIMING,
                            str(args.rounds)))
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    print(f"post-switching changes (addr flush+add, default route, 3 neighbours), "
          f"{args.rounds} rounds, ms:")
    for how, t in out.items():
        print(f"  {how:16} median {t['median']:7.3f}  p90 {t['p90']:7.3f}  min {t['min']:7.3f}")
    return 0


if __name__ == "__main__":
    os.chdir(REPO)
    sys.exit(main())
