#!/usr/bin/env python3
"""Switch-back at a border with and without the MPA-SA kept (RFC 6252 C.1, C.2; issue 16):
delay per switch, whether EAP ran, the PAA's session state after each switch, and the PAA's
state ladder of the first return.

    sudo .venv/bin/python bench/switch_back.py [--switches 6] [--runs 2] [--keep 60]

Deploys topologies/c6-corridor.yaml as `bench-swb` (destroyed afterwards); roles found by
kind: the MN's start AP (where it is associated), the AP of the network with the PAA as the
target. experiment/switch_back.py runs the switches: "MPA-SA kept" re-associates with the
PMKSA held, puts the kept address back and (returning into the PAA's network) re-authorizes
by PANA proof of possession; "no context kept" is the non-MPA handover every time (full
EAP-TLS through the AP, DHCP on the new link). Delay: MN l2_handoff_start ->
post_switching_done (+ the PANA attach that re-authorizes, when returning with the MPA-SA).
Not measured here: packet loss (no stream runs) and bicasting (not built).
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orchestrator.experiment import switch_back  # noqa: E402
from orchestrator.experiment.scenarios import Bed  # noqa: E402
from orchestrator.model import load_topology  # noqa: E402
from orchestrator.model.prerequisites import paas_of  # noqa: E402
from orchestrator.network.build import deploy  # noqa: E402
from orchestrator.testbed import destroy  # noqa: E402

TOPOLOGY = REPO / "topologies" / "c6-corridor.yaml"


def _summary(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return f"{statistics.median(values):.1f} [{min(values):.1f}-{max(values):.1f}] (n={len(values)})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--switches", type=int, default=6)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--keep", type=float, default=60.0, help="s the PAA keeps an unauthorized MPA-SA")
    args = ap.parse_args()
    topo = load_topology(TOPOLOGY)
    mn = topo.nodes_of("mobile_node")[0]
    start = topo.nodes[mn].associate
    target = next(a for a in topo.nodes_of("access_point") if paas_of(topo, a))
    journal = deploy(str(TOPOLOGY), name="bench-swb", results=str(REPO / "results" / "bench"))
    try:
        bed = Bed(journal, timeout=30.0)
        rows, ladder = {}, None
        for keep_context in (True, False):
            label = "MPA-SA kept" if keep_context else "no context kept"
            for _ in range(args.runs):
                r = switch_back.run(bed, mn, start, target, args.switches, keep_context, args.keep)
                ladder = ladder or (r["ladder"] if keep_context else None)
                for s in r["switches"]:
                    rows.setdefault((label, s["direction"]), []).append(s)
    finally:
        destroy("bench-swb")
    aaa = set(topo.nodes_of("aaa_server"))
    rtt = 2 * max((l.delay for l in topo.links
                   if aaa & {topo.link_endpoint(e)[0] for e in l.endpoints}), default=0.0)
    print(f"switch-back on {TOPOLOGY.name} (delay to the AAA server: RTT {rtt * 1e3:g} ms, "
          f"association latency {topo.nodes[start].association_latency * 1e3:g} ms), "
          f"{args.runs} runs x {args.switches} switches, MPA-SA kept {args.keep:g} s; delays ms: "
          "median [min-max]")
    print("| context | switch | delay | EAP ran | PAA state after |")
    print("|---|---|---|---|---|")
    for (label, direction), ss in rows.items():
        where = f"back into {target}'s network" if direction == "back" else f"away, to {start}"
        states = sorted({s["paa_state"] for s in ss})
        print(f"| {label} | {where} | {_summary([s['delay_ms'] for s in ss])} | "
              f"{sum(s['eap'] for s in ss)}/{len(ss)} | {', '.join(states)} |")
    print("\nPAA state ladder (first run with the MPA-SA kept), ms from the start of MPA:")
    for e in ladder or []:
        print(f"  {e['t_ms']:9.1f}  {e['event']:26s} {e['state'] or ''} {e['reason'] or ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
