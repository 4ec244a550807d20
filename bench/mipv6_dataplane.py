#!/usr/bin/env python3
"""What the user-space Mobile IPv6 data plane (orchestrator/agents/mipv6_dataplane.py)
costs per packet, against plain IPv6 forwarding in the same run.

Four plain namespaces (tests/support/netns6.py: mn -- ar -- ha, ar -- cn), the three data
plane processes running. Three paths between the MN and the CN, measured one after the
other with the same tools:

  plain      MN's care-of address <-> CN: routed by the kernels only (no rule matches)
  tunnel     MN's home address <-> CN after the home registration: MN and HA rewrite
             every packet (ip6ip6 both ways, RFC 6275 s10.4.1, s11.3.1)
  ro         MN's home address <-> CN after return routability: MN and CN rewrite every
             packet (Home Address option up, type 2 routing header down, s9.3, s11.3)

For each: UDP round-trip time (ROUNDS echo round trips, one every 5 ms, median and p90;
the added per-packet latency of one direction is half the difference to plain), and
packets/s one way MN -> CN (BLAST datagrams of 64 octets sent back to back; delivered
rate at the CN and loss). Each agent's own processing time per queued packet (verdict
included) is printed too: that is the cost at the MN, the HA and the CN.

    sudo .venv/bin/python bench/mipv6_dataplane.py [--rounds 300] [--blast 20000]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.netns6 import (ADDR, HOME_PREFIX, Netns6, PlaneProcess,  # noqa: E402
                                  mipv6_topology)

PORT_ECHO, PORT_SINK = 7777, 7778


def udp(net: Netns6, ns: str, *args: str, popen: bool = False):
    argv = [sys.executable, "-m", "tests.support.udp6", *args]
    if popen:
        proc = net.popen(ns, argv, cwd=REPO, stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        return proc
    out = net.run(ns, *argv, cwd=REPO, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def rtt(net: Netns6, source: str, rounds: int) -> list[int]:
    echo = udp(net, "cn", "echo", "--bind", ADDR["cn"], "--port", str(PORT_ECHO), "--count",
               str(rounds), "--timeout", "10", popen=True)
    result = udp(net, "mn", "send", "--bind", source, "--to", ADDR["cn"], "--port",
                 str(PORT_ECHO), "--count", str(rounds), "--interval", "0.005")
    echo.communicate(timeout=30)
    return result["rtt_us"]


def blast(net: Netns6, source: str, count: int) -> dict:
    sink = udp(net, "cn", "sink", "--bind", ADDR["cn"], "--port", str(PORT_SINK),
               "--timeout", "10", popen=True)
    sent = udp(net, "mn", "blast", "--bind", source, "--to", ADDR["cn"], "--port",
               str(PORT_SINK), "--count", str(count))
    got = json.loads(sink.communicate(timeout=60)[0].strip().splitlines()[-1])
    span = (got["last_ns"] - got["first_ns"]) / 1e9 or float("nan")
    return {"sent": count, "received": got["received"], "pps": got["received"] / span,
            "offered_pps": count / (sent["elapsed_ns"] / 1e9), "sources": got["sources"]}


def pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--blast", type=int, default=20000)
    a = ap.parse_args()
    net = Netns6()
    planes: dict[str, PlaneProcess] = {}
    results, costs = {}, {}
    try:
        ifs = mipv6_topology(net)
        tmp = Path(tempfile.mkdtemp(prefix="mipv6-bench-"))
        planes["ha"] = PlaneProcess(net, "ha", {"role": "ha", "address": ADDR["ha"],
                                                "queue": 71, "home_prefixes": [HOME_PREFIX],
                                                "home_link": ifs["ha"]}, tmp)
        planes["cn"] = PlaneProcess(net, "cn", {"role": "cn", "address": ADDR["cn"],
                                                "queue": 72,
                                                "mobile_prefixes": [HOME_PREFIX]}, tmp)
        planes["mn"] = PlaneProcess(net, "mn", {"role": "mn", "queue": 73,
                                                "home_address": ADDR["home_address"],
                                                "home_agent": ADDR["ha"]}, tmp)

        def measure(name: str, source: str) -> None:
            before = {k: p.stats() for k, p in planes.items()}
            results[name] = {"rtt": rtt(net, source, a.rounds),
                             "blast": blast(net, source, a.blast)}
            after = {k: p.stats() for k, p in planes.items()}
            costs[name] = {k: ((after[k]["busy_ns"] - before[k]["busy_ns"])
                               / max(1, after[k]["queued"] - before[k]["queued"]) / 1000,
                               after[k]["queued"] - before[k]["queued"]) for k in planes}

        rtt(net, ADDR["coa"], 5)                               # neighbour caches warm
        measure("plain", ADDR["coa"])
        mn = planes["mn"]
        mn.command(op="home_registration", care_of_address=ADDR["coa"])
        reg = mn.wait_for("home_registered")
        sent = mn.wait_for("bu_sent")
        bu_ba_ms = (reg["t_ns"] - sent["t_ns"]) / 1e6
        measure("tunnel", ADDR["home_address"])
        start = len(mn.events)
        mn.command(op="route_optimization", correspondent=ADDR["cn"])
        ro = mn.wait_for("ro_registered", start=start)
        rr_ms = (ro["t_ns"] - mn.wait_for("rr_started", start=start)["t_ns"]) / 1e6
        measure("ro", ADDR["home_address"])
    finally:
        for p in planes.values():
            if p.proc.poll() is None:
                p.stop()
        net.cleanup()

    base = statistics.median(results["plain"]["rtt"])
    print(f"user-space MIPv6 data plane vs plain IPv6 forwarding, same run "
          f"({a.rounds} UDP round trips every 5 ms; {a.blast} x 64-octet datagrams "
          f"MN -> CN back to back)")
    print(f"{'path':8} {'RTT med us':>10} {'p90':>6} {'added/dir us':>12} "
          f"{'delivered pps':>13} {'loss %':>7} {'offered pps':>11}  agent us/pkt "
          f"(MN, HA, CN)")
    for name in ("plain", "tunnel", "ro"):
        r, b = results[name]["rtt"], results[name]["blast"]
        med = statistics.median(r)
        loss = 100 * (1 - b["received"] / b["sent"])
        cost = ", ".join(f"{k} {c[0]:.1f} ({c[1]} pkts)" for k, c in costs[name].items()
                         if c[1])
        print(f"{name:8} {med:10.0f} {pct(r, 0.9):6.0f} {(med - base) / 2:12.0f} "
              f"{b['pps']:13.0f} {loss:7.1f} {b['offered_pps']:11.0f}  {cost or '-'}")
    print(f"home registration BU -> BA at the MN: {bu_ba_ms:.2f} ms; return routability "
          f"(HoTI/CoTI -> BA from the CN): {rr_ms:.2f} ms")
    print("constants: binding lifetimes 420 s (MN request, MAX_RR_BINDING_LIFETIME); "
          "NFQUEUE copy range 65535, queue length 4096, no fail-open; raw table hooks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
