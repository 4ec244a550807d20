"""The foundation check behind `make reproduce` until experiments exist: bring a topology
up, check reachability through the MN's AP and an MN-requested handoff, tear it down.

Prints and writes (results/smoke/<topology>.md) what it measured, beside the emulated
parameters that shaped it.
"""
from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from .network.build import deploy, station_request
from .network.nsexec import ping_rtts, run_in
from .testbed import controller_status, destroy


def smoke(topology_file: str, results: str = "results", handoffs: int = 6, progress=print) -> dict:
    t0 = time.monotonic()
    j = deploy(topology_file, name="smoke", results=results, progress=progress)
    up_s = time.monotonic() - t0
    try:
        conf = json.loads(Path(j.controller["config"]).read_text())
        aps = {a["name"]: a for a in conf["aps"]}
        out = {"topology": topology_file, "bring_up_s": round(up_s, 2),
               "link_emulation": j.emulation, "stations": {}}
        for sta in conf["stations"]:
            name = sta["name"]
            ns = j.nodes[name]["netns"]
            start_ap = controller_status(j)["associations"].get(name)
            if start_ap is None:
                continue
            before = ping_rtts(ns, _cn_address(j), count=2, interval=0.2, timeout=1)
            port = station_request(j, start_ap, "authorize", sta["mac"])
            # the failed pings left the gateway's ARP entry FAILED; a supplicant's link-up
            # would start afresh, so do we
            run_in(ns, ["ip", "neigh", "flush", "dev", "wlan0"])
            after = ping_rtts(ns, _cn_address(j), count=5, interval=0.2)
            others = [a for a in aps if a != start_ap]
            times, targets = [], []
            for k in range(handoffs):
                target = others[k % len(others)] if k % 2 == 0 else start_ap
                r = station_request(j, name, "associate", aps[target]["bssid"])
                if r.get("status") != "ok":
                    raise RuntimeError(f"handoff {name} -> {target} failed: {r}")
                times.append(r["l2_handoff_ms"])
                targets.append((target, aps[target]["association_latency"] * 1e3))
            out["stations"][name] = {
                "start_ap": start_ap,
                "ping_before_authorization": {"sent": 2, "received": len(before)},
                "authorization": port,
                "ping_after_authorization_ms": after,
                "handoffs": [{"to": t, "association_latency_ms": lat, "l2_handoff_ms": round(x, 3)}
                             for (t, lat), x in zip(targets, times)],
                "l2_handoff_median_ms": round(statistics.median(times), 3),
            }
        out["run_dir"] = j.run_dir
    finally:
        t1 = time.monotonic()
        destroy("smoke")
        out["teardown_s"] = round(time.monotonic() - t1, 2)
    _write(out, Path(results, "smoke", Path(topology_file).stem + ".md"))
    return out


def _cn_address(j) -> str:
    for info in j.nodes.values():
        if info["kind"] == "correspondent_node":
            return info["interfaces"][0]["address"].split("/")[0]
    raise RuntimeError("the topology has no correspondent_node to ping")


def _write(out: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# Foundation check: {out['topology']}", "",
             f"bring-up {out['bring_up_s']} s, teardown {out['teardown_s']} s; "
             f"link emulation: {out['link_emulation'].get('mechanism')}", ""]
    for v in out["link_emulation"].get("verification", []):
        lines.append(f"- {'ok' if v['ok'] else 'BAD'}: {v['message']}")
    for name, s in out["stations"].items():
        lines += ["", f"## {name} (starts at {s['start_ap']})", "",
                  f"- before 802.1X authorization: {s['ping_before_authorization']['received']}/"
                  f"{s['ping_before_authorization']['sent']} pings to the CN answered",
                  f"- after authorization: {len(s['ping_after_authorization_ms'])}/5 answered, RTT "
                  + ", ".join(f"{x:.2f}" for x in s["ping_after_authorization_ms"]) + " ms", "",
                  "| handoff to | association_latency (YAML) | measured L2 handoff |",
                  "|---|---|---|"]
        for h in s["handoffs"]:
            lines.append(f"| {h['to']} | {h['association_latency_ms']:g} ms | {h['l2_handoff_ms']:.2f} ms |")
        lines.append(f"\nmedian measured L2 handoff: {s['l2_handoff_median_ms']:.2f} ms")
    path.write_text("\n".join(lines) + "\n")
