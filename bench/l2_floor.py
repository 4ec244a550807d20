#!/usr/bin/env python3
"""The emulated layer 2's own cost: MPA's time affecting handover with association latency L.

    .venv/bin/python bench/l2_floor.py [--n 50] [--latencies 0,1,4,12] [--topology ...]
        [--sync purge,settle:5] [--port-control ap,controller]

For each configured association latency L (ms) the topology is deployed with every access
point's `association_latency` set to L; the mobile node authenticates once at two APs (full
EAP-TLS, so both hold its PMKSA, as after MPA's PSK_ap installation), then hands over between
them N times: reassociation + the real 4-way handshake + the controlled port opening, exactly
the part of an MPA handover that remains after pre-authentication (RFC 6252 C.5.3, Figure 10's
"time affecting handover"). Printed per L: medians (p5-p95) of Tassoc (MN l2_handoff_start ->
l2_handoff_done), T4way (MN fourway_start -> port_open), their sum, Tassoc - L (the emulation's
excess), and the controller's own constants from its `emulation_constants` event. Several L
values are measured in one run (one deploy each, sequentially) so that their ratios compare.
`--port-control ap,controller` compares who opens the 802.1X port (the AP on its own switch,
agents/port_driver.py, or the controller when the AP asks it): the modes take turns every
BLOCK handoffs within one deploy (the APs' `port_control` command), so that they share
whatever else loads the machine.
"""
import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.events import read_events  # noqa: E402
from orchestrator.experiment.scenarios import Bed  # noqa: E402
from orchestrator.network.build import deploy  # noqa: E402
from orchestrator.testbed import destroy  # noqa: E402


def _topology_with_latency(src: str, latency_ms: float, out_dir: str) -> str:
    data = yaml.safe_load(Path(src).read_text())
    kinds = data.setdefault("kinds", {})
    kinds.setdefault("access_point", {})["association_latency"] = f"{latency_ms:g}ms"
    for node in data["nodes"].values():
        node.pop("association_latency", None)
    path = Path(out_dir, f"l2floor-{latency_ms:g}.yaml")
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def _q(xs):
    xs = sorted(xs)
    if len(xs) < 2:
        return (xs[0], xs[0], xs[0]) if xs else (float("nan"),) * 3
    q = statistics.quantiles(xs, n=20)
    return statistics.median(xs), q[0], q[-1]


def _fmt(xs):
    m, lo, hi = _q(xs)
    return f"{m:6.2f} ({lo:5.2f}-{hi:6.2f})"


BLOCK = 5          # handoffs in a row with one port-control mode, modes taking turns


def measure(topology: str, latency_ms: float, n: int, tmp: str, sync: str,
            modes: list[str]) -> list[dict]:
    """One deploy per (sync, L); the port-control modes take turns in blocks of BLOCK
    handoffs within it, so that they share the machine's load (it is shared and noisy)."""
    topo = _topology_with_latency(topology, latency_ms, tmp)
    name = f"l2floor-{int(latency_ms * 10)}"
    os.environ["MPA_DATAPATH_SYNC"] = sync        # the controller reads it at start
    schedule = [modes[(k // BLOCK) % len(modes)] for k in range(n * len(modes))]
    j = deploy(topo, name=name, results=tmp)
    try:
        bed = Bed(j)
        mn = bed.nodes_with("mobile_node")[0]
        aps = sorted(bed.nodes_with("access_point"))[:2]
        bed.call(mn, "reset", ap=aps[1])              # full EAP-TLS at the second AP
        bed.call(mn, "handoff", ap=aps[0])            # ... and at the first: both hold PMKSAs
        current = None
        for k, mode in enumerate(schedule):
            if mode != current:                       # between handoffs, outside any timing
                for ap in aps:
                    bed.call(ap, "port_control", mode=mode)
                current = mode
            bed.call(mn, "handoff", ap=aps[(k + 1) % 2])
        events = read_events(j.run_dir)
    finally:
        destroy(name)
    mine = [e for e in events if e["node"] == mn]
    total_n = len(schedule)
    starts = [e for e in mine if e["event"] == "l2_handoff_start"][-total_n:]
    t_begin = starts[0]["mono_ns"]

    def after(event, node_events=mine):
        return [e for e in node_events if e["event"] == event and e["mono_ns"] >= t_begin]
    done, fw, port = after("l2_handoff_done"), after("fourway_start"), after("port_open")
    fw_done = after("fourway_done")
    if not (len(starts) == len(done) == len(fw) == len(port) == len(fw_done) == total_n):
        raise RuntimeError(f"events: {len(starts)} starts, {len(done)} associations, "
                           f"{len(fw)} 4-way starts, {len(port)} port openings for {total_n} handoffs")
    if any(e["event"] == "eap_start" for e in mine if e["mono_ns"] >= t_begin):
        raise RuntimeError("a handoff ran EAP: the PMKSA was not cached")
    ends = [s["mono_ns"] for s in starts[1:]] + [float("inf")]
    consts = {}
    for e in events:
        if e["event"] == "emulation_constants":
            consts.update({f"{e['node']}.{k}": v for k, v in e["attrs"].items()})
    rows = []
    for mode in modes:
        idx = [k for k, m in enumerate(schedule) if m == mode]

        def within(event, node=None, key=None):
            """Per handoff of this mode: the attribute `key` of `event` inside it."""
            out = []
            for k in idx:
                hit = next((e for e in events if e["event"] == event
                            and (node is None or e["node"] == node)
                            and starts[k]["mono_ns"] <= e["mono_ns"] < ends[k]), None)
                if hit is not None and hit["attrs"].get(key) is not None:
                    out.append(hit["attrs"][key])
            return out
        tassoc = [(done[k]["mono_ns"] - starts[k]["mono_ns"]) / 1e6 for k in idx]
        t4way = [(port[k]["mono_ns"] - fw[k]["mono_ns"]) / 1e6 for k in idx]
        total = [(port[k]["mono_ns"] - starts[k]["mono_ns"]) / 1e6 for k in idx]
        retx = sum(1 for k in idx for e in events if e["event"].endswith("_retransmitted")
                   and starts[k]["mono_ns"] <= e["mono_ns"] < ends[k])
        breakdown = {}
        opened = within("port_opened", key="elapsed_ms")
        if opened:
            breakdown["ap port_opened.elapsed"] = statistics.median(opened)
        # how much earlier than on hardware the DS may reach the station: from the AP's port
        # opening (before message 3) to its receipt of message 4
        # (message 4 may reach the AP after the MN has begun its next handoff)
        early = []
        for k in idx:
            o = next((e for e in events if e["event"] == "port_opened" and e["node"] in aps
                      and starts[k]["mono_ns"] <= e["mono_ns"] < ends[k]), None)
            d = o and next((e for e in events if e["event"] == "fourway_done"
                            and e["node"] == o["node"] and e["mono_ns"] >= o["mono_ns"]), None)
            if d is not None:
                early.append((d["mono_ns"] - o["mono_ns"]) / 1e6)
        if early:
            breakdown["ap port_opened->message 4 (downlink early by)"] = statistics.median(early)
        for ev in ("associated", "port_authorized"):
            for key in ("packet_in_delay_ms", "flows_ms", "barrier_ms", "sync_ms"):
                vals = within(ev, "controller", key)
                if vals:
                    breakdown[f"{ev}.{key[:-3]}"] = statistics.median(vals)
        breakdown["mn fourway_start->fourway_done"] = statistics.median(
            (fw_done[k]["mono_ns"] - fw[k]["mono_ns"]) / 1e6 for k in idx)
        breakdown["mn l2_handoff_done->fourway_start"] = statistics.median(
            (fw[k]["mono_ns"] - done[k]["mono_ns"]) / 1e6 for k in idx)
        rows.append({"L": latency_ms, "sync": sync, "port_control": mode, "breakdown": breakdown,
                     "tassoc": tassoc, "t4way": t4way, "total": total,
                     "excess": [t - latency_ms for t in tassoc], "retransmissions": retx,
                     "constants": consts})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--latencies", default="0,1,4,12", help="association latencies, ms")
    ap.add_argument("--topology", default="topologies/fig8-l2-preauth-nonroaming.yaml")
    ap.add_argument("--sync", default="purge",
                    help="datapath sync methods to compare (controller/datapath.py), e.g. "
                         "purge,dpctl,settle:5")
    ap.add_argument("--port-control", default="ap",
                    help="who opens the 802.1X port, compared in one run: ap (its own switch, "
                         "agents/port_driver.py), controller (the AP asks it), e.g. ap,controller")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="l2floor-") as tmp:
        for sync in args.sync.split(","):
            for lat in [float(x) for x in args.latencies.split(",")]:
                rows += measure(args.topology, lat, args.n, tmp, sync,
                                args.port_control.split(","))
    print(f"{args.n} handoffs per row between two APs holding the MN's PMKSA "
          f"({args.topology}); port-control modes take turns every {BLOCK} handoffs within "
          "one deploy; ms, median (p5-p95)")
    print(f"{'sync':>9} | {'port':>10} | {'L':>5} | {'Tassoc':>20} | {'Tassoc - L':>20} | {'T4way (to port open)':>20} | "
          f"{'time affecting handover':>23} | retx")
    for r in rows:
        print(f"{r['sync']:>9} | {r['port_control']:>10} | {r['L']:5g} | {_fmt(r['tassoc']):>20} | {_fmt(r['excess']):>20} | "
              f"{_fmt(r['t4way']):>20} | {_fmt(r['total']):>23} | {r['retransmissions']}")
    for r in rows:
        print(f"{r['sync']} {r['port_control']} L={r['L']:g} medians: " + ", ".join(f"{k} {v:.2f}" for k, v in r["breakdown"].items()))
    consts = rows[-1]["constants"] if rows else {}
    print("emulation constants: " + (", ".join(f"{k}={v}" for k, v in sorted(consts.items()))
                                      or "(none reported)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
