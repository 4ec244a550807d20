"""Switch-back at a border (RFC 6252 C.1 ping-pong, C.2 the MPA-SA), driven through the
agents' control channel on a deployed testbed.

The MN starts at `start_ap`, prepares the network of `target_ap` (discovery, PANA
pre-authentication, PSK_ap in its APs, nCoA by DHCP and the proactive handover tunnel),
hands over into it by MPA and attaches its PANA session (RFC 5873: authenticated PNR [P]).
Then it goes back and forth `switches` times:

- with the MPA-SA kept (`keep_context=True`, C.2): leaving, the PAA moves the session to
  unauthorized when the AP the MN left tells it (the radio's departure notice,
  agents/departure.py; the flow waits for it and, should none come within
  DEPARTURE_WAIT, says so and falls back to the PAA's `mpa_sa_detach` command, the
  ladder showing which) and the MN keeps its MPA-SA; the AP keeps PSK_ap,
  the DHCP server the nCoA's lease; coming back, the MN re-associates with the PMKSA it
  holds, puts the kept nCoA back and proves possession of the MPA-SA (PNR [P] with AUTH):
  the PAA authorizes it again, no EAP;
- without (`keep_context=False`): every network forgets the MN when it leaves (the APs'
  PMKSAs, the PAA's sessions, the MN's MPA-SAs and pre-configuration): each switch is the
  non-MPA handover (association, full EAP-TLS, DHCP on the new link).

Per switch: direction, delay (MN `l2_handoff_start` -> `post_switching_done`, plus the PANA
attach that authorizes it with the MPA-SA), whether EAP ran, and the PAA's session state.
With a correspondent node (`cn`) the MN is in a call during all of it: the CN's RTP stream
follows each switch by a binding update (re-INVITE from the address now in use, s7.5), and
each switch's packets lost and handoff delay (last packet on the old address -> first on
the new, `media.address_switch`) come from the MN's receiver log, `stream` seconds of
steady stream kept after each switch. With `bicasting` the CN keeps sending a copy to the
address the MN left for that long after each move (C.1): a switch back within it finds the
stream already there.
"""
from __future__ import annotations

import time

from pathlib import Path

from ..events import read_events
from ..model.prerequisites import only_node
from .media import address_switch, read_receiver_log
from .scenarios import Bed, _identity, clean_state, flow, pre_authenticate

DEFAULT_SWITCHES, DEFAULT_LIFETIME = 4, 60.0
# How long the flow waits for the PAA to hear of a departure from the AP before it tells
# it by command (a notice normally takes a few ms: one datagram and its ack)
DEPARTURE_WAIT = 5.0

PAA_LADDER = ("pana_session_established", "pana_session_activated", "departure_notice",
              "mpa_sa_unauthorized", "mpa_sa_authorized", "pana_session_terminated",
              "pana_dropped")


def _between(bed: Bed, t0: int, t1: int) -> list[dict]:
    return [e for e in read_events(bed.journal.run_dir) if t0 <= e["mono_ns"] <= t1]


def _switch_delay(events: list[dict], mn: str) -> float | None:
    start = [e for e in events if e["node"] == mn and e["event"] == "l2_handoff_start"]
    done = [e for e in events if e["node"] == mn and e["event"] == "post_switching_done"]
    if not start or not done:
        return None
    return (done[-1]["mono_ns"] - start[0]["mono_ns"]) / 1e6


def _paa_state(bed: Bed, paa: str, identity: str) -> str:
    sessions = bed.call(paa, "mpa_sa_status").get(identity, [])
    return ",".join(s["state"] for s in sessions) or "none"


def _wait_unauthorized(bed: Bed, paa: str, identity: str, timeout: float) -> bool:
    """Whether the PAA moved `identity`'s session to unauthorized within `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        if "unauthorized" in _paa_state(bed, paa, identity).split(","):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def run(bed: Bed, mn: str, start_ap: str, target_ap: str, switches: int = DEFAULT_SWITCHES,
        keep_context: bool = True, keep: float | None = DEFAULT_LIFETIME,
        clean: bool = True, cn: str | None = None, stream: float = 0.5,
        bicasting: float | None = None) -> dict:
    """One switch-back run (module docstring); returns {"switches": [...], "ladder": [...]}.
    `clean`: start from the clean state (the runner has done it already)."""
    paa, ctn = bed.paa_for(target_ap), bed.network_of(target_ap)
    identity = _identity(bed, mn)
    if clean:
        clean_state(bed, mn, start_ap)
    t_begin = time.perf_counter_ns()
    bed.call(paa, "mpa_sa_hold", keep=keep)   # what the PAA keeps after a departure notice
    bed.call(mn, "discover")
    pre_authenticate(bed, mn, target_ap)
    conf = bed.call(mn, "preconfigure", ctn=ctn, method="dhcp")
    bed.wait_tunnel(conf["ar"], conf["ncoa"])
    ncoa = conf["ncoa"]
    if cn is not None:                        # the call, moved onto the nCoA before the move
        bed.call(cn, "bicast", period=bicasting or 0.0)
        bed.call(mn, "call", cn=cn)
        bed.call(mn, "binding_update", ctn=ctn)
    bed.call(mn, "mpa_handover", ctn=ctn, ap=target_ap)
    bed.call(mn, "pana_attach", paa=paa, source_address=ncoa)
    if cn is not None:
        time.sleep(stream)
    log = Path(bed.journal.run_dir) / "media" / f"{mn}.rtp.jsonl"
    address = ncoa
    out = []
    here = target_ap
    for i in range(switches):
        to = start_ap if here == target_ap else target_ap
        back = to == target_ap
        t0 = time.perf_counter_ns()
        attach_ms = departure = None
        if keep_context:
            if not back:
                new = bed.call(mn, "switch_back", ap=to, address="home")["address"]
                # C.2: the AP the MN left tells the PAA (the radio's departure notice)
                departure = ("notice" if _wait_unauthorized(bed, paa, identity, DEPARTURE_WAIT)
                             else "command")
                if departure == "command":
                    bed.call(paa, "mpa_sa_detach", identity=identity, keep=keep)
                bed.call(mn, "pana_detach", paa=paa)
            else:
                new = bed.call(mn, "switch_back", ap=to, address="kept")["address"]
                attach_ms = bed.call(mn, "pana_attach", paa=paa, source_address=ncoa)["elapsed_ms"]
        else:
            for node in (*bed.nodes_with("access_point"), *bed.nodes_with("authentication_agent"), mn):
                bed.call(node, "flush")           # nobody keeps anything of the MN
            new = bed.call(mn, "nonmpa_handover", ap=to)["ncoa"]
        t1 = time.perf_counter_ns()
        if cn is not None:                    # the CN's stream follows (s7.5)
            bed.call(mn, "binding_update", address=new)
            time.sleep(stream)
        t2 = time.perf_counter_ns()
        events = _between(bed, t0, t1)
        delay = _switch_delay(events, mn)
        row = {"switch": i + 1, "to": to, "direction": "back" if back else "away",
               "delay_ms": None if delay is None else delay + (attach_ms or 0.0),
               "attach_ms": attach_ms, "departure": departure,
               "eap": any(e["node"] == mn and e["event"] == "eap_start" for e in events),
               "paa_state": _paa_state(bed, paa, identity), "address": new}
        if cn is not None:
            packets = [p for p in read_receiver_log(log) if t0 - int(stream * 1e9) <= p["mono_ns"] <= t2]
            media = address_switch(packets, address, new)
            row.update(lost=media["packets_lost"], handoff_ms=media["handoff_delay_ms"],
                       received=media["packets_received"])
        out.append(row)
        address, here = new, to
    if cn is not None:
        bed.call(mn, "hangup")
        bed.call(cn, "bicast", period=0.0)
    ladder = [{"t_ms": (e["mono_ns"] - t_begin) / 1e6, "node": e["node"], "event": e["event"],
               "state": (e.get("attrs") or {}).get("what")
               or (e.get("attrs") or {}).get("action"),
               "reason": (e.get("attrs") or {}).get("reason"),
               "trigger": (e.get("attrs") or {}).get("trigger")
               or ((e.get("attrs") or {}).get("ap") and f"from {e['attrs']['ap']}")}
              for e in _between(bed, t_begin, time.perf_counter_ns())
              if e["node"] == paa and e["event"] in PAA_LADDER]
    return {"switches": out, "ladder": ladder, "paa": paa, "ncoa": ncoa,
            "keep_context": keep_context}


@flow("switch-back")
def switch_back_flow(bed: Bed, mn: str, scenario) -> dict:
    """The runner's flow: `from` is the start AP, `to` the AP of the network the MN switches
    back and forth with; `context`, `switches`, `mpa_sa_lifetime` from the scenario."""
    cn = None
    if bed.topology is not None and bed.topology.nodes_of("correspondent_node"):
        cn, err = only_node(bed.topology, "correspondent_node", scenario.correspondent,
                            "correspondent node", "correspondent")
        if err:
            raise LookupError(err)
    return run(bed, mn, scenario.from_ap, scenario.to_ap,
               scenario.switches or DEFAULT_SWITCHES, scenario.context != "none",
               scenario.mpa_sa_lifetime or DEFAULT_LIFETIME, clean=False, cn=cn,
               stream=scenario.stream, bicasting=scenario.bicasting)


def switch_back_values(detail: dict) -> dict[str, tuple]:
    """Record values of one switch-back run: each switch's delay (`switch <i> <away|back>`),
    the EAP runs and the PAA's transitions (C.2: unauthorized on leaving, authorized again
    by proof of possession)."""
    out: dict[str, tuple] = {}
    for s in detail["switches"]:
        out[f"switch {s['switch']} {s['direction']}"] = (s["delay_ms"], "ms")
        if "lost" in s:
            out[f"lost {s['switch']} {s['direction']}"] = (s["lost"], "packets")
            out[f"handoff {s['switch']} {s['direction']}"] = (s["handoff_ms"], "ms")
    out["eap_runs"] = (sum(s["eap"] for s in detail["switches"]), "count")
    # C.2: who told the PAA the MN left: the AP's departure notice, or the flow's command
    out["paa_departure_notices"] = (sum(e["event"] == "mpa_sa_unauthorized"
                                        and (e.get("trigger") or "").startswith("departure")
                                        for e in detail["ladder"]), "count")
    out["paa_departure_commands"] = (sum(s.get("departure") == "command"
                                         for s in detail["switches"]), "count")
    for event, name in (("mpa_sa_unauthorized", "paa_unauthorized"),
                        ("mpa_sa_authorized", "paa_authorized"),
                        ("pana_session_established", "paa_eap_sessions")):
        out[name] = (sum(e["event"] == event for e in detail["ladder"]), "count")
    return out
