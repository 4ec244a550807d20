#!/usr/bin/env python3
"""Layer-2 handoff time measured by the MN against the configured association latency.

    sudo .venv/bin/python bench/handoff.py [--n 40] [--topology ...]

Prints the distribution of the MN's measured (re)association time, the controller's measured
packet-in delay (station -> controller, same clock) and the error against the YAML value.
"""
import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.events import read_events  # noqa: E402
from orchestrator.network.build import deploy, station_request  # noqa: E402
from orchestrator.testbed import destroy  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--topology", default="topologies/fig9-l2-preauth-roaming.yaml")
    args = ap.parse_args()
    j = deploy(args.topology, name="bench-handoff", results="results/bench", images=False)
    try:
        import json
        conf = json.loads(Path(j.controller["config"]).read_text())
        aps = {a["name"]: a for a in conf["aps"]}
        names = sorted(aps)
        times = []
        for k in range(args.n):
            r = station_request(j, "mn", "associate", aps[names[k % len(names)]]["bssid"])
            times.append(r["l2_handoff_ms"])
        events = [e for e in read_events(j.run_dir) if e["event"] == "associated"][-args.n:]
        pin = [e["attrs"]["packet_in_delay_ms"] for e in events]
    finally:
        destroy("bench-handoff")
    lat = {a["association_latency"] * 1e3 for a in aps.values()}
    q = statistics.quantiles(times, n=20)
    print(f"configured association_latency: {sorted(lat)} ms; {args.n} handoffs")
    print(f"measured by the MN: median {statistics.median(times):.2f} ms, p5 {q[0]:.2f}, "
          f"p95 {q[-1]:.2f}, min {min(times):.2f}, max {max(times):.2f}")
    print(f"station -> controller (packet-in) delay: median {statistics.median(pin):.2f} ms, "
          f"max {max(pin):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
