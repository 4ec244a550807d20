"""The movement flow (RFC 6252 s6.3, Appendix C.1, C.6): the MN moves along its path at real
speed; at each sample the runner computes every AP's signal at the MN's position (the
topology's propagation model, `mobility/propagation.py`) and reports to the MN's agent what
its radio hears (`radio`: the APs at or above the sensitivity). The MN's own policy
(`agents/movement.py`) decides when to discover, pre-authenticate, pre-configure and hand
over, on the real emulated network. Nothing here tells the MN to move to an AP.

Who does what:
- `plan` (pure): path, APs, propagation model, policy parameters, the sample times and
  every AP's RSSI at each sample (fixed by the radio's seed: the same run replays the same
  signals);
- `movement` (the registered flow): replays the plan against the MN's agent at real speed;
  with `call:` the MN calls the CN first and the stream it received is kept; with
  `count_signalling:` the MN's signalling is captured and counted (experiment/signalling.py);
- `movement_values` (pure): one repetition's events and the agent's summary -> record
  values (C.6: did MPA finish before the handover, the handover delay, the measured Tauth,
  Tpsk and Tconf, the distance D the MN travelled while MPA ran);
- `write_repetition` / `timeline_of`: each repetition's samples, actions and phase ends as
  JSON (`movement/<configuration>/<scenario>/rep<N>.json`), and back as a Timeline for the
  map (`mobility/plot.py`).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..mobility.policy import HANDOVER, SAME_NETWORK
from ..model.movement import Radio, access_points
from ..model.prerequisites import paas_of
from .multi_ctn import c4_values
from .scenarios import Bed, flow

LEAD = 0.2              # s between the start command and t = 0 (the agent starts its workers)


@dataclass
class Plan:
    """One movement, computed before it runs (pure)."""
    path: object                     # mobility.geometry.Path
    aps: list                        # mobility.propagation.AccessPoint
    model: object                    # mobility.propagation.LogDistance
    params: object                   # mobility.policy.PolicyParams
    times: list[float]
    positions: list[tuple[float, float]]
    rssi: dict[str, list[float]]     # AP -> dBm at each sample
    networks: dict[str, str]         # AP -> network
    paas: dict[str, str]             # network -> its PAA

    def scan(self, i: int) -> dict[str, float]:
        """What the MN's radio hears at sample i: the APs at or above its sensitivity."""
        return {ap: round(v[i], 2) for ap, v in self.rssi.items()
                if v[i] >= self.params.sensitivity}


def plan(topology, movement) -> Plan:
    """The plan of a `movement:` scenario (model/movement.py MovementSpec) on `topology`."""
    from ..mobility.propagation import rssi_table
    aps = access_points(topology)
    path = movement.path.to_path({ap.name: ap.position for ap in aps})
    model = (topology.radio or Radio()).to_model()
    times = path.times(movement.sample_interval)
    positions = [path.position(t) for t in times]
    table = rssi_table(model, aps, positions)
    networks = {ap.name: ap.network for ap in aps}
    paas = {}
    for ap in aps:
        found = paas_of(topology, ap.name)
        if found:
            paas.setdefault(ap.network, found[0])
    return Plan(path, aps, model, movement.policy.to_policy(), times, positions,
                {ap: [float(x) for x in v] for ap, v in table.items()}, networks, paas)


def correspondent(topology, spec) -> str:
    """The call's correspondent node: the one named, else the topology's only one."""
    cns = topology.nodes_of("correspondent_node")
    if spec.correspondent is not None:
        if spec.correspondent not in cns:
            raise LookupError(f"'{spec.correspondent}' is not a correspondent node of this "
                              f"topology; its correspondent nodes: {', '.join(cns) or 'none'}")
        return spec.correspondent
    if len(cns) != 1:
        raise LookupError(f"the call needs call.correspondent: this topology has "
                          f"{len(cns)} correspondent nodes ({', '.join(cns) or 'none'})")
    return cns[0]


@flow("movement")
def movement(bed: Bed, mn: str, scenario) -> dict:
    """Replay the plan at real speed against the MN's agent; its policy acts on its own."""
    spec = scenario.movement
    p = plan(bed.topology, spec)
    capture = None
    if spec.count_signalling:
        from .runner import Captures
        from .signalling import FILTER
        capture_dir = Path(bed.journal.run_dir) / "signalling" / f"{mn}-{time.time_ns()}"
        capture = Captures(bed.journal, [mn], capture_dir, FILTER, iface="any")
    call_start = time.perf_counter_ns()
    if spec.call is not None:
        bed.call(mn, "call", cn=correspondent(bed.topology, spec.call))
    t0_ns = time.perf_counter_ns() + int(LEAD * 1e9)
    wall0 = time.time() + (t0_ns - time.perf_counter_ns()) / 1e9
    bed.call(mn, "movement_start", params=asdict(p.params), networks=p.networks,
             paas=p.paas, serving=scenario.from_ap, t0_ns=t0_ns,
             method="dhcp", binding_update=spec.call.binding_update if spec.call else None,
             buffering_ms=spec.call.buffering * 1e3 if spec.call and spec.call.buffering else None)
    client = bed.agent(mn)
    samples, late = [], []
    signalling, stream = None, None
    try:
        for i, t in enumerate(p.times):
            target = t0_ns + t * 1e9
            wait = target - time.perf_counter_ns()
            if wait > 0:
                time.sleep(wait / 1e9)
            late.append(max(0.0, (time.perf_counter_ns() - target) / 1e6))
            x, y = p.positions[i]
            reply = client.call("radio", timeout=bed.timeout, t=t, scan=p.scan(i),
                                position=[round(x, 3), round(y, 3)])
            samples.append({"t": t, "x": x, "y": y, "serving": reply["serving"],
                            "rssi": {ap: v[i] for ap, v in p.rssi.items()},
                            "actions": reply["actions"]})
        time.sleep(scenario.movement.settle)
    finally:
        summary = bed.call(mn, "movement_stop", wait=bed.timeout)
        if spec.call is not None:
            bed.call(mn, "hangup")
        if capture is not None:
            capture.stop()
            from .multi_ctn import signalling_window
            from .signalling import count
            signalling = count((capture_dir / f"{mn}.pcap").read_bytes(),
                               signalling_window(summary, wall0))
    if spec.call is not None:
        from .media import read_receiver_log
        log = Path(bed.journal.run_dir) / "media" / f"{mn}.rtp.jsonl"
        end = time.perf_counter_ns()
        stream = [q for q in read_receiver_log(log) if call_start <= q["mono_ns"] <= end] \
            if log.exists() else []
    return {"movement": summary, "samples": samples, "t0_ns": t0_ns,
            "signalling": signalling, "stream": stream,
            "late_ms": {"max": max(late, default=0.0), "mean": sum(late) / max(len(late), 1)},
            "constants": {"lead_s": LEAD, "sample_interval_s": scenario.movement.sample_interval,
                          "settle_s": scenario.movement.settle,
                          "binding_update": spec.call.binding_update if spec.call else None,
                          **summary.get("constants", {})},
            "plan": {"aps": [asdict(ap) for ap in p.aps], "networks": p.networks,
                     "paas": p.paas, "params": asdict(p.params),
                     "model": asdict(p.model), "length_m": p.path.length,
                     "duration_s": p.path.duration,
                     "mean_speed": p.path.length / max(sum(l.travel_time for l in p.path.legs), 1e-9),
                     "distance_at": [[t, p.path.distance_travelled(t)] for t in p.times]}}


def _first(events, node, name, after=None, before=None):
    for e in events:
        if (e["node"] == node and e["event"] == name and (after is None or e["mono_ns"] >= after)
                and (before is None or e["mono_ns"] <= before)):
            return e
    return None


def _distance(distance_at: list, t: float) -> float:
    """Metres travelled at movement time t, interpolated between the plan's samples."""
    prev = distance_at[0]
    for ts, d in distance_at:
        if ts >= t:
            if ts == prev[0]:
                return d
            return prev[1] + (d - prev[1]) * (t - prev[0]) / (ts - prev[0])
        prev = (ts, d)
    return distance_at[-1][1]


def movement_values(events: list[dict], detail: dict, mn: str) -> dict[str, tuple]:
    """Record values of one movement (C.6): for the first handover to another network,
    whether MPA had finished when it began (`mpa_completed`: the handover needed no EAP, and
    with pre-configuration it was MPA's handover into the pre-configured nCoA), its delay,
    the phase times measured in this repetition (Tdisc: the information server query;
    Tauth: PANA at the MN; Tpsk: the PAA's
    PSK_ap installation, C.5.3's "Tconf"; Tconf: C.6's layer-3 pre-configuration, the MN's
    nCoA request to its tunnel), and D, the distance travelled from the discovery that began
    MPA to the handover. Of all handovers: how many ran EAP after the move
    (`eap_handovers`; a PMKSA held from an earlier EAP or from MPA needs none)."""
    summary, info = detail["movement"], detail["plan"]
    depth_b = info["params"].get("pre_configure_below") is not None
    out: dict[str, tuple] = {
        "speed": (info["mean_speed"], "m/s"),
        "handovers": (len(summary["handovers"]), "count"),
        "ping_pongs": (summary["ping_pongs"], "count"),
        "late_samples_max": (detail["late_ms"]["max"], "ms"),
    }
    eap = [e["mono_ns"] for e in events if e["node"] == mn and e["event"] == "eap_start"
           and (e.get("attrs") or {}).get("mode") == "eap"]
    out["eap_handovers"] = (sum(any(h["start_ns"] <= t <= h["start_ns"] + h["delay_ms"] * 1e6
                                    for t in eap) for h in summary["handovers"]), "count")
    inter = [h for h in summary["handovers"] if h["prepared"] != SAME_NETWORK
             and h["reason"] != "attach"]
    # C.4: what preparing this handover cost: the PANA sessions and pre-configurations made
    # before it, and how long each of those nCoAs + tunnels was held (to its release; the
    # entered network's to the handover, where it becomes the MN's address; or to the end
    # of the run)
    limit = inter[0]["start_ns"] if inter else None
    mine = [e for e in events if e["node"] == mn]
    before = [e for e in mine if limit is None or e["mono_ns"] <= limit]
    out["preauthentications"] = (sum(e["event"] == "preauth_done" for e in before), "count")
    up = [e for e in before if e["event"] == "pht_established"]
    out["preconfigurations"] = (len(up), "count")
    end = max((e["mono_ns"] for e in events), default=0)
    held = 0.0
    for e in up:
        ctn = (e.get("attrs") or {}).get("ctn")
        rel = next((r for r in mine if r["event"] == "pht_released" and r["mono_ns"] >= e["mono_ns"]
                    and (r.get("attrs") or {}).get("ctn") == ctn), None)
        until = rel["mono_ns"] if rel else end
        if inter and ctn == inter[0]["network"]:
            until = min(until, inter[0]["start_ns"])
        held += (until - e["mono_ns"]) / 1e9
    out["tunnel_seconds"] = (held, "s")
    out.update(c4_values(events, detail, mn, limit))
    if not inter:
        out["mpa_completed"] = (None, "bool")
        return out
    h = inter[0]
    start = h["start_ns"]
    ok = h["status"] == "ok" and h["pmksa"] == "mpa" and (h["how"] == "mpa" or not depth_b)
    out["mpa_completed"] = (1.0 if ok else 0.0, "bool")
    out["handover_delay"] = (h["delay_ms"] if h["status"] == "ok" else None, "ms")
    move = _first(events, mn, "l2_handoff_start", after=start)
    port = move and _first(events, mn, "port_open", after=move["mono_ns"])
    if port:
        out["Time affecting handover"] = ((port["mono_ns"] - move["mono_ns"]) / 1e6, "ms")
    ds = _first(events, mn, "discovery_start", before=start)
    dd = ds and _first(events, mn, "discovery_done", after=ds["mono_ns"])
    if dd:
        out["Tdisc"] = ((dd["mono_ns"] - ds["mono_ns"]) / 1e6, "ms")
    a = _first(events, mn, "preauth_start")
    b = a and _first(events, mn, "preauth_done", after=a["mono_ns"])
    if b:
        out["Tauth"] = ((b["mono_ns"] - a["mono_ns"]) / 1e6, "ms")
        paa = info["paas"].get(h["network"])
        c = paa and _first(events, paa, "psk_install_start", after=a["mono_ns"])
        d = c and _first(events, paa, "tconf_done", after=c["mono_ns"])
        if d:
            out["Tpsk"] = ((d["mono_ns"] - c["mono_ns"]) / 1e6, "ms")
        r = _first(events, mn, "address_request", after=b["mono_ns"], before=start)
        e = r and _first(events, mn, "pht_established", after=r["mono_ns"])
        if e:
            out["Tconf"] = ((e["mono_ns"] - r["mono_ns"]) / 1e6, "ms")
    began = decided = None                      # the policy's times (movement time, s)
    for x in summary["actions"]:                # in the order the policy took them
        if x["kind"] == "discover":
            began = x["t"]
        elif (x["kind"] == HANDOVER and x.get("ap") == h["ap"]
              and x.get("prepared") == h["prepared"]):
            decided = x["t"]
            break
    if began is not None and decided is not None:
        out["window"] = ((decided - began) * 1e3, "ms")
        out["D"] = (_distance(info["distance_at"], decided)
                    - _distance(info["distance_at"], began), "m")
    return out


def write_repetition(out_dir: Path, rep: int, detail: dict, values: dict) -> Path:
    """movement/<conf>/<scenario>/rep<N>.json: the plan, every sample (position, every AP's
    RSSI, serving AP, actions), the agent's summary and the record values."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"rep{rep}.json"
    path.write_text(json.dumps({**detail, "values": {k: v[0] for k, v in values.items()}},
                               default=str))
    return path


def timeline_of(rep: dict):
    """A repetition's JSON -> (mobility Timeline with the real phase ends, LogDistance)."""
    from ..mobility.policy import PolicyParams
    from ..mobility.propagation import AccessPoint, LogDistance
    from ..mobility.simulate import Timeline
    info = rep["plan"]
    aps = [AccessPoint(a["name"], tuple(a["position"]), a["network"], a["tx_power"])
           for a in info["aps"]]
    timeline = Timeline.from_records(rep["samples"], aps, PolicyParams(**info["params"]))
    timeline.completions = [(c["t"], c["kind"], c["network"])
                            for c in rep["movement"]["completions"] if c["ok"]]
    return timeline, LogDistance(**info["model"])


def plot_repetition(rep_json: Path, out: Path) -> list[Path]:
    """The map and signals of one repetition (mobility/plot.py)."""
    from ..mobility.plot import plot_timeline
    timeline, model = timeline_of(json.loads(Path(rep_json).read_text()))
    return plot_timeline(timeline, out, model=model)


__all__ = ["plan", "movement", "movement_values", "write_repetition", "timeline_of",
           "plot_repetition", "HANDOVER"]
