"""Events of one handover repetition -> the times RFC 6252 Figure 10 reports (pure).

Definitions (C.5.3), all from CLOCK_MONOTONIC event timestamps:

  Tauth        EAP-TLS: MN eap_start -> eap_done (802.11i, after the move or by
               pre-authentication), or MN preauth_start -> preauth_done (PANA, MPA)
  Tconf        PAA psk_install_start -> tconf_done: PSK_ap generation and installation in
               every AP of the CTN after EAP (MPA only)
  Tassoc       MN l2_handoff_start -> l2_handoff_done: (re)association with the target AP
  T4way        MN fourway_start -> port_open, of the handshake after the move: the 4-way
               handshake until the AP's controlled port is open
  Tassoc+4way  Tassoc + T4way
  Total        Tauth + Tconf + Tassoc+4way (the RFC's sum)
  Time affecting handover
               MN l2_handoff_start -> port_open: measured directly, the time the MN has no
               usable link (includes Tauth for post-authentication)
"""
from __future__ import annotations

PHASES = ("Tauth", "Tconf", "Tassoc", "T4way", "Tassoc+4way", "Total", "Time affecting handover")
# each phase as handover_times computes it (docs/events.md prints this table; a test keeps
# the two the same). "after the move" = at or after the MN's last l2_handoff_start.
DEFINITIONS = {
    "Tauth": "802.11i post-authentication: MN `eap_start` -> `eap_done` with mode `eap`, after "
             "the move; 802.11i pre-authentication: the same with mode `preauth`, before the "
             "move; MPA: MN `preauth_start` -> `preauth_done` (PANA), before the move",
    "Tconf": "MPA only: PAA `psk_install_start` -> `tconf_done` (PSK_ap generation and "
             "installation in every AP of the CTN)",
    "Tassoc": "MN `l2_handoff_start` -> the next `l2_handoff_done`",
    "T4way": "MN's last `fourway_start` before its first `port_open` after the move -> that "
             "`port_open`",
    "Tassoc+4way": "Tassoc + T4way (without what lies between them: with post-authentication "
                   "the EAP exchange, otherwise the AP's start of the handshake)",
    "Total": "Tauth + Tconf + Tassoc+4way (the RFC's sum)",
    "Time affecting handover": "MN `l2_handoff_start` -> its first `port_open` after it, "
                               "measured directly",
}


class PhaseError(ValueError):
    pass


def _one(events, node, name, after=None, before=None, **attrs):
    found = [e for e in events if e["node"] == node and e["event"] == name
             and (after is None or e["mono_ns"] >= after)
             and (before is None or e["mono_ns"] <= before)
             and all(e["attrs"].get(k) == v for k, v in attrs.items())]
    if not found:
        raise PhaseError(f"no '{name}' event from {node}"
                         + (f" with {attrs}" if attrs else ""))
    return found


def handover_times(events: list[dict], scheme: str, mn: str, paa: str | None = None) -> dict:
    """Phase -> milliseconds for one repetition of `scheme` (events of that repetition only):
    `mn` is the experiment's mobile node, `paa` (MPA) the authentication agent on the target
    AP's network, both found by role (model/prerequisites.py), never assumed."""
    ms = lambda a, b: (b["mono_ns"] - a["mono_ns"]) / 1e6  # noqa: E731
    move = _one(events, mn, "l2_handoff_start")[-1]
    assoc_done = _one(events, mn, "l2_handoff_done", after=move["mono_ns"])[0]
    port = _one(events, mn, "port_open", after=move["mono_ns"])[0]
    fw = _one(events, mn, "fourway_start", after=move["mono_ns"], before=port["mono_ns"])[-1]
    out = {"Tassoc": ms(move, assoc_done), "T4way": ms(fw, port)}
    if scheme == "dot11i-post-authentication":
        a = _one(events, mn, "eap_start", after=move["mono_ns"], mode="eap")[0]
        b = _one(events, mn, "eap_done", after=a["mono_ns"], mode="eap")[0]
    elif scheme == "dot11i-pre-authentication":
        a = _one(events, mn, "eap_start", before=move["mono_ns"], mode="preauth")[-1]
        b = _one(events, mn, "eap_done", after=a["mono_ns"], before=move["mono_ns"], mode="preauth")[0]
    elif scheme == "mpa-l2-pre-authentication":
        a = _one(events, mn, "preauth_start", before=move["mono_ns"])[-1]
        b = _one(events, mn, "preauth_done", after=a["mono_ns"], before=move["mono_ns"])[0]
        if paa is None:
            raise PhaseError("MPA needs the PAA's node name for Tconf")
        c = _one(events, paa, "psk_install_start", after=a["mono_ns"])[0]
        d = _one(events, paa, "tconf_done", after=c["mono_ns"])[0]
        out["Tconf"] = ms(c, d)
    else:
        raise PhaseError(f"unknown scheme {scheme!r}")
    out["Tauth"] = ms(a, b)
    out["Tassoc+4way"] = out["Tassoc"] + out["T4way"]
    out["Total"] = out["Tauth"] + out.get("Tconf", 0.0) + out["Tassoc+4way"]
    out["Time affecting handover"] = ms(move, port)
    return out


# -- C.5.1 (Figure 7): the parts of a handover in a SIP call -------------------------------
SIP_PARTS = {
    # before the move (MPA only): none of these affects the handover
    "Tauth": ("preauth_start", "preauth_done", "MN: PANA pre-authentication (EAP-TLS)"),
    "Taddr": ("address_request", "address_acquired", "MN: nCoA by DHCP (MPA: proactive, "
              "through the current network; non-MPA: on the new link)"),
    "Ttunnel": ("pht_setup_start", "pht_established", "MN: proactive handover tunnel"),
    "Tbu": ("binding_update_start", "binding_update_done", "MN: re-INVITE until its 200 OK"),
    # the handover itself
    "Tpresw": ("pre_switching_start", "pre_switching_done",
               "MN: buffering requested, tunnel deleted, nCoA cached (s6.3 step 4)"),
    "Tassoc": ("l2_handoff_start", "l2_handoff_done", "MN: (re)association"),
    "Teap": ("eap_start", "eap_done", "MN: EAP-TLS after the move (non-MPA)"),
    "Tassoc+4way": ("l2_handoff_start", "port_open",
                    "MN: association until the controlled port is open (with EAP if any)"),
    "Tdad": ("dad_start", "dad_done", "MN: its own DAD of the DHCP address (non-MPA)"),
    "Tpostsw": ("post_switching_start", "post_switching_done",
                "MN: address onto the interface, gratuitous ARP, nAR told (s6.3 step 6)"),
}


def sip_handover_parts(events: list[dict], mn: str) -> dict:
    """Part -> ms for one repetition of a SIP flow (the MN's own events; the last of each
    start, closed by the first end after it). Parts whose events are absent are left out
    (Teap, Tdad with MPA; Tauth, Ttunnel, Tpresw without)."""
    out = {}
    for part, (start, end, _) in SIP_PARTS.items():
        starts = [e for e in events if e["node"] == mn and e["event"] == start]
        if part == "Teap":        # the EAP after the move, not PANA's or a pre-authentication
            starts = [e for e in starts if (e.get("attrs") or {}).get("mode") == "eap"]
        if not starts:
            continue
        a = starts[-1]
        ends = [e for e in events if e["node"] == mn and e["event"] == end
                and e["mono_ns"] >= a["mono_ns"]]
        if ends:
            out[part] = (ends[0]["mono_ns"] - a["mono_ns"]) / 1e6
    return out
