#!/usr/bin/env python3
"""RFC 6252 C.5.2's MPA handovers, repeated on the deployed C.5.2 topology (issue 15) with the
runner's own flows: loss, duplicates, the handoff delay (last pre-handoff packet -> first
in-handoff packet, on the cellular interface), the address switch, what remains at the
handover and the binding update, per scheme.

    sudo .venv/bin/python bench/c52_handover.py [--n 5] [--stream 0.5]
        [--schemes both-up,both-up-after-switch,at-handover] [--copy-forward 0.2]

Deploys topologies/c52-wlan-cellular.yaml as `bench-c52` (destroyed afterwards), then N
times, the schemes interleaved, each from the runner's clean state (experiment/scenarios.py
`clean_state`: the MN back at AP-W, sessions flushed): the flows `c52-mpa-both-up` and
`c52-mpa-activate-at-handover` -- pre-authentication of the cellular domain and the address
reserved through the WLAN, the proactive handover tunnel into the cellular network and the
re-INVITE through it (binding_update: tunnel), or the re-INVITE after the switch
(`*-after-switch`), then the switch. Metrics by experiment/inter_technology.py, as the
runner computes them. The emulated radio latencies are the topology's (activation and attach
0 ms: the bench measures the handover, `make c52` the RFC's scenario). Prints every constant
that shapes the numbers beside them.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orchestrator.events import read_events  # noqa: E402
from orchestrator.experiment import inter_technology  # noqa: E402
from orchestrator.experiment.media import read_receiver_log  # noqa: E402
from orchestrator.experiment.scenarios import FLOWS, Bed, clean_state  # noqa: E402
from orchestrator.model import load_topology  # noqa: E402
from orchestrator.model.experiment import Scenario  # noqa: E402
from orchestrator.network.build import deploy  # noqa: E402
from orchestrator.testbed import destroy  # noqa: E402

TOPOLOGY = REPO / "topologies" / "c52-wlan-cellular.yaml"
SCHEMES = {           # name -> (flow, binding_update)
    "both-up": ("c52-mpa-both-up", "tunnel"),
    "both-up-after-switch": ("c52-mpa-both-up", "after-switch"),
    "at-handover": ("c52-mpa-activate-at-handover", "tunnel"),
    "at-handover-after-switch": ("c52-mpa-activate-at-handover", "after-switch"),
}
SHOWN = ("packet_loss", "duplicates", "handoff_delay", "address_switch_delay", "at_handover",
         "binding_update", "bound_before_switch", "tunnel_setup", "on_tunnel",
         "cellular_session", "copy_forward_copies")


def _summary(values: list) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return (f"median {statistics.median(values):.1f} [{min(values):.1f}-{max(values):.1f}] "
            f"(n={len(values)})")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5)
    ap.add_argument("--stream", type=float, default=0.5, help="seconds before and after")
    ap.add_argument("--schemes", default="both-up,both-up-after-switch,at-handover")
    ap.add_argument("--copy-forward", type=float, default=None,
                    help="copy-and-forward period (s); default off")
    args = ap.parse_args()
    schemes = args.schemes.split(",")
    unknown = [s for s in schemes if s not in SCHEMES]
    if unknown:
        ap.error(f"unknown scheme(s) {unknown}; known: {', '.join(SCHEMES)}")
    topo = load_topology(TOPOLOGY)
    bs, cn = topo.nodes["bs"], topo.nodes_of("correspondent_node")[0]
    mn = topo.nodes_of("mobile_node")[0]
    j = deploy(str(TOPOLOGY), name="bench-c52", results=str(REPO / "results"))
    rows: dict[str, list[dict]] = {s: [] for s in schemes}
    try:
        bed = Bed(j)
        for _ in range(args.n):
            for name in schemes:
                flow, bu = SCHEMES[name]
                scenario = Scenario.model_validate({
                    "name": "bench", "flow": flow, "from": "ap-w", "to": "bs",
                    "correspondent": cn, "stream": f"{args.stream}s", "binding_update": bu,
                    "copy_forward": (None if args.copy_forward is None
                                     else f"{args.copy_forward}s")})
                clean_state(bed, mn, scenario.from_ap, scenario)
                t0 = time.perf_counter_ns()
                result = FLOWS[flow](bed, mn, scenario)
                t1 = time.perf_counter_ns()
                events = [e for e in read_events(j.run_dir) if t0 <= e["mono_ns"] <= t1]
                lo = inter_technology.window_start(events, mn, t0, args.stream)
                packets = [p for p in read_receiver_log(result["call"]["rtp_log"])
                           if lo <= p["mono_ns"] <= t1]
                values = inter_technology.handover_metrics(packets, events, mn, t0, t1)
                rows[name].append({k: v for k, (v, _) in values.items()})
        mechanism = j.emulation["mechanism"]
    finally:
        destroy("bench-c52")
    for name in schemes:
        flow, bu = SCHEMES[name]
        print(f"C.5.2 {name} ({flow}, binding update {bu}): {len(rows[name])} repetitions")
        for metric in SHOWN:
            print(f"  {metric:22s} {_summary([r.get(metric) for r in rows[name]])}")
    print("constants:")
    print(f"  base station link_rtt {bs.link_rtt * 1e3:g} ms (half each way), link_bandwidth "
          f"{bs.link_bandwidth} Mbit/s, attach_latency {bs.attach_latency * 1e3:g} ms, "
          f"activation_latency {bs.activation_latency * 1e3:g} ms")
    print(f"  CN RTP interval {topo.nodes[cn].rtp_interval * 1e3:g} ms, stream "
          f"{args.stream:g} s before and after, copy-and-forward "
          f"{'off' if args.copy_forward is None else f'{args.copy_forward * 1e3:g} ms'}, "
          f"link emulation {mechanism}"
          + (" (PPPoE set-up frames: network/framedelay.py)" if mechanism == "nfqueue" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
