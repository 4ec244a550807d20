#!/usr/bin/env python3
"""RFC 6252 C.5.2's MPA handover with both interfaces up, repeated on the deployed C.5.2
topology (issue 15): loss, duplicates and handoff delay (last packet on the WLAN address ->
first on the cellular address), and the cellular data session's set-up.

    sudo .venv/bin/python bench/c52_handover.py [--n 10] [--stream 0.5]

Deploys topologies/c52-wlan-cellular.yaml as `bench-c52` (destroyed afterwards), connects
the MN at AP-W (802.1X), then N times: experiment/scenarios.py inter_technology_both_up
(call, cellular data session, cdma0 active, re-INVITE from its address), back to wlan0, the
session closed. Prints every constant that shapes the numbers beside them. The RFC: "0
packet loss and a 50-ms handoff delay ... about 10 duplicate packets because of the
copy-and-forward mechanism" (this bench runs without it: 0 duplicates expected here; the
runner's flows with `copy_forward:` have it, experiments/c52.yaml, `make c52`).
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orchestrator.experiment.media import address_switch, read_receiver_log  # noqa: E402
from orchestrator.experiment.scenarios import Bed, inter_technology_both_up  # noqa: E402
from orchestrator.model import load_topology  # noqa: E402
from orchestrator.network.build import deploy  # noqa: E402
from orchestrator.testbed import destroy  # noqa: E402

TOPOLOGY = REPO / "topologies" / "c52-wlan-cellular.yaml"


def _summary(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return f"median {statistics.median(values):.1f} [{min(values):.1f}-{max(values):.1f}]"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--stream", type=float, default=0.5, help="seconds before and after")
    args = ap.parse_args()
    topo = load_topology(TOPOLOGY)
    bs = topo.nodes["bs"]
    j = deploy(str(TOPOLOGY), name="bench-c52", results=str(REPO / "results"))
    rows = []
    try:
        bed = Bed(j)
        bed.call("mn", "connect", ap="ap-w")
        for _ in range(args.n):
            got = inter_technology_both_up(bed, "mn", "cn", stream=args.stream)
            bed.call("mn", "use_interface", iface="wlan0")
            bed.call("mn", "cellular_down", iface="cdma0")
            cell = got["cellular_session"]["address"]
            m = address_switch([p for p in read_receiver_log(got["call"]["rtp_log"])
                        if p["mono_ns"] >= got["start_ns"]], "10.1.0.100", cell)
            rows.append({**m, "setup_ms": got["cellular_session"]["total_ms"],
                         "bu_ms": got["binding_update"]["elapsed_ms"]})
        mechanism = j.emulation["mechanism"]
    finally:
        destroy("bench-c52")
    print(f"C.5.2 MPA handover, both interfaces up: {len(rows)} repetitions")
    print(f"  packets lost        {[r['packets_lost'] for r in rows]}")
    print(f"  duplicates          {[r['duplicates'] for r in rows]}")
    print(f"  handoff delay (ms)  {_summary([r['handoff_delay_ms'] for r in rows])}")
    print(f"  binding update (ms) {_summary([r['bu_ms'] for r in rows])}")
    print(f"  session set-up (ms) {_summary([r['setup_ms'] for r in rows])}")
    print("constants:")
    print(f"  base station link_rtt {bs.link_rtt * 1e3:g} ms (half each way), link_bandwidth "
          f"{bs.link_bandwidth} Mbit/s, attach_latency {bs.attach_latency * 1e3:g} ms, "
          f"activation_latency {bs.activation_latency * 1e3:g} ms")
    print(f"  CN RTP interval {topo.nodes['cn'].rtp_interval * 1e3:g} ms, stream "
          f"{args.stream:g} s before and after, link emulation {mechanism}"
          + (" (PPPoE set-up frames: network/framedelay.py)" if mechanism == "nfqueue" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
