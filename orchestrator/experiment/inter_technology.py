"""RFC 6252 C.5.2's metrics of one inter-technology handover (WLAN to cellular), from the
MN's RTP receiver log and the events of the repetition (pure).

C.5.2: "As compared to non-optimized handover that may result in a delay of up to 18 sec and
loss of 1000 or more packets ... we observed 0 packet loss and a 50-ms handoff delay between
the last pre-handoff packet and the first in-handoff packet ... about 10 duplicate packets
because of the copy-and-forward mechanism at the access routers."

Every metric, in one line (`METRICS`; the runner writes one record row each):

  handoff_delay        last pre-handoff packet -> first in-handoff packet (ms): the RFC's
                       "handoff delay between the last pre-handoff packet and the first
                       in-handoff packet". In-handoff: received on the cellular interface
                       (the receiver log's `iface`); pre-handoff: received on any other (the
                       WLAN, or the tunnel's device over it). A log without interfaces (runs
                       before the tunnel) is read by address: old (WLAN) -> new (cellular).
  address_switch_delay last packet on the WLAN address -> first on the cellular address (ms):
                       the binding update's move of the stream. The same as handoff_delay
                       when the re-INVITE leaves after the switch; through the tunnel
                       (binding_update: tunnel) it happens over the WLAN, before the switch.
  on_tunnel            packets received through the proactive handover tunnel (on the MN's
                       tunnel device).
  tunnel_setup         the MN's proactive handover tunnel into the cellular network
                       (`pht_setup_start` -> `pht_established` of the MN, IKEv2 and the probe
                       through it; absent without the tunnel).
  bound_before_switch  1 when the binding update (re-INVITE) was answered before the switch
                       of the active interface, 0 when after.
  packet_loss          sequence numbers between the first and the last received that never
                       arrived (packets).
  duplicates           packets received more than once (arrivals - distinct sequence numbers).
  on_old_address, on_new_address   packets received on each address.
  link_down_detection  the radio loses the MN's WLAN link (the controller's `disassociated`,
                       reason link_lost) -> the MN's `link_down_detected` (reactive only).
  activation, attach   the cellular interface's emulated power-up and traffic-channel
                       latencies (`radio_attached`; 0 when the interface was already up).
  cellular_session     the data session's set-up: PPPoE discovery, LCP, CHAP (with the
                       AAA exchange), IPCP, the address configured (`cellular_session_done`
                       total_ms, measured from its frames).
  switch               the default route moved to the cellular interface
                       (`active_interface_changed` elapsed_ms).
  binding_update       re-INVITE from the cellular address until its 200 OK (Tbu).
  handover_total       the handover's trigger -> first in-handoff packet (on the cellular
                       interface; by address in logs without interfaces): the link
                       loss (reactive: detection, activation, attach, data session, switch
                       and binding update all follow it), or the switch of the active
                       interface (MPA: the preparation went before, while the stream still
                       flowed over the WLAN) (ms).
  pre_authentication   MPA (RFC 6252 s7.6.2): PANA with the cellular domain's PAA through the
                       WLAN, the MN's `preauth_start` -> `preauth_done` (ms; absent when the
                       flow does not pre-authenticate: reactive).
  key_installation     the PAA's installation of the CHAP secret in the packet data gateway
                       (`psk_installed` of kind packet-data-gateway, elapsed_ms): the rest of
                       Tconf, after the PANA session; absent without pre-authentication.
  address_preconfiguration  MPA (s7.3, s7.6.2): the cellular address reserved at the
                       gateway through the WLAN (`cellular_address_preconfigured` elapsed_ms).
  ipcp                 the data session's IPCP (the MN's `cellular_session_done` ipcp_ms):
                       one radio round trip when it confirms a pre-configured address, more
                       when the gateway Naks 0.0.0.0 (and Rejects the DNS request) first.
  aaa_in_session_setup Access-Requests the gateway sent (`aaa_request`) during the MN's last
                       data session set-up (`cellular_session_start` -> `_done`): 1 when CHAP
                       goes to the AAA server (reactive), 0 when the gateway checks it with
                       the pre-authorized secret (MPA).
  at_handover          what remains at the handover: its start -> first in-handoff packet
                       (ms). The start is the link loss (reactive), the cellular
                       interface's power-on when it belongs to the handover (the battery
                       flavour powers up only then: `interface_powered_on` in phase
                       switching), else the switch of the active interface (both up).
  preparation          the cellular interface's power-on (else its data session's start) ->
                       its data session done: what MPA does ahead of the switch (ms).
  both_interfaces_up   how long both radios were up at once (C.5.2's battery argument): the
                       overlap of the WLAN's association (the repetition's start -> the
                       controller's `disassociated` of the MN: link lost or released) and the
                       cellular interface's power (`interface_powered_on` ->
                       `interface_powered_off`, or the end of the repetition) (ms).
  copy_forward_copies  packets the old access router copied to the new address
                       (`copy_forward_done` copies; absent when copy-and-forward is off).
  copy_forward_period  how long it copied (`copy_forward_start` duration_ms: the scenario's
                       copy_forward), reported beside the duplicates it explains.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..events import subject
from .media import MediaError, address_switch


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    description: str


METRICS = (
    Metric("handoff_delay", "ms", "last pre-handoff packet (WLAN / tunnel) -> first "
                                  "in-handoff packet (cellular interface)"),
    Metric("address_switch_delay", "ms", "last packet on the WLAN address -> first on the "
                                         "cellular address"),
    Metric("on_tunnel", "packets", "packets received through the proactive handover tunnel"),
    Metric("tunnel_setup", "ms", "the MN's proactive handover tunnel into the cellular "
                                 "network"),
    Metric("bound_before_switch", "", "1: re-INVITE answered before the switch"),
    Metric("packet_loss", "packets", "sequence numbers never received"),
    Metric("duplicates", "packets", "packets received more than once"),
    Metric("on_old_address", "packets", "packets received on the WLAN address"),
    Metric("on_new_address", "packets", "packets received on the cellular address"),
    Metric("link_down_detection", "ms", "WLAN link lost -> the MN notices (reactive)"),
    Metric("activation", "ms", "cellular power-up (emulated)"),
    Metric("attach", "ms", "cellular traffic channel (emulated)"),
    Metric("cellular_session", "ms", "PPPoE discovery, LCP, CHAP, IPCP (measured)"),
    Metric("switch", "ms", "default route moved to the cellular interface"),
    Metric("binding_update", "ms", "re-INVITE from the cellular address until 200 OK"),
    Metric("handover_total", "ms", "trigger (link lost / switch) -> first in-handoff "
                                   "packet"),
    Metric("pre_authentication", "ms", "PANA with the cellular PAA through the WLAN"),
    Metric("key_installation", "ms", "PAA -> packet data gateway: the CHAP secret installed"),
    Metric("address_preconfiguration", "ms", "the cellular address reserved through the "
                                             "WLAN"),
    Metric("ipcp", "ms", "IPCP of the data session (radio round trips)"),
    Metric("aaa_in_session_setup", "requests", "Access-Requests during the data session "
                                               "set-up (0: CHAP checked by the gateway)"),
    Metric("at_handover", "ms", "what remains at the handover: link lost / power-on at the "
                                "handover / switch -> first in-handoff packet"),
    Metric("preparation", "ms", "cellular power-on -> data session done"),
    Metric("both_interfaces_up", "ms", "time both radios were up at once"),
    Metric("copy_forward_copies", "packets", "packets the old AR copied to the new address"),
    Metric("copy_forward_period", "ms", "how long the old AR copied (the scenario's "
                                        "copy_forward)"),
)


def _of(events: list[dict], name: str, mn: str, node_is_mn: bool = True) -> list[dict]:
    """Events `name` about `mn`, by time (the MN's own, or others' naming it)."""
    return [e for e in events if e["event"] == name
            and (e["node"] == mn if node_is_mn else subject(e) == mn)]


def _attr(e: dict | None, key: str):
    return None if e is None else (e.get("attrs") or {}).get(key)


def handover_metrics(packets: list[dict], events: Iterable[dict], mn: str, t0: int,
                     t1: int) -> dict[str, tuple[float | None, str]]:
    """The metrics above for one repetition: `packets` the receiver log's records of its
    call, `events` those between `t0` and `t1` (ns). Raises MediaError when the stream or
    the cellular session is missing."""
    events = sorted(events, key=lambda e: e["mono_ns"])
    done = _of(events, "cellular_session_done", mn)
    if not done:
        raise MediaError(f"no cellular_session_done event of {mn}: the cellular interface "
                         "never got its data session")
    new = _attr(done[-1], "address")
    pkts = sorted(packets, key=lambda p: p["mono_ns"])
    if len(pkts) < 2:
        raise MediaError(f"{len(pkts)} RTP packets in the repetition; need two")
    old = pkts[0]["dst"].rsplit(":", 1)[0]
    by_address = address_switch(pkts, old, new)
    cell_iface = next((_attr(e, "iface") for e in reversed(_of(events, "radio_attached", mn))),
                      None)
    if cell_iface and all("iface" in p for p in pkts):
        switch = address_switch([{**p, "dst": "in" if p["iface"] == cell_iface else "pre"}
                                 for p in pkts], "pre", "in")
    else:
        switch = by_address
    tunnels = [e for e in _of(events, "pht_established", mn) if _attr(e, "inner") == new]
    tunnel_start = [e for e in _of(events, "pht_setup_start", mn) if _attr(e, "inner") == new]
    tun_dev = {_attr(e, "tun") for e in tunnels} - {None}
    lost = next((e for e in _of(events, "disassociated", mn, node_is_mn=False)
                 if _attr(e, "reason") == "link_lost"), None)
    detected = next((e for e in _of(events, "link_down_detected", mn)
                     if lost is None or e["mono_ns"] >= lost["mono_ns"]), None)
    attached = _of(events, "radio_attached", mn)
    changed = _of(events, "active_interface_changed", mn)
    bu = next((e for e in _of(events, "binding_update_done", mn)), None)
    bu_start = next((e for e in _of(events, "binding_update_start", mn)), None)
    powered = _of(events, "interface_powered_on", mn)
    started = _of(events, "cellular_session_start", mn)
    trigger = lost or (changed[-1] if changed else None)
    powered_at_handover = [e for e in powered if e.get("phase") == "switching"]
    start = lost or (powered_at_handover[-1] if powered_at_handover else None) or trigger
    prepared_from = (powered[-1] if powered else None) or (started[-1] if started else None)
    first_new = next((p["mono_ns"] for p in pkts if _in_handoff(p, new, cell_iface, pkts)),
                     None)
    copies = [e for e in events if e["event"] == "copy_forward_done" and subject(e) == mn]
    preauth = _of(events, "preauth_done", mn)
    # the PAA names the MN by MAC: the flows run one MN, so any gateway key of the window
    installed = [e for e in events if e["event"] == "psk_installed"
                 and _attr(e, "kind") == "packet-data-gateway"]
    aaa = None
    if started:
        aaa = sum(1 for e in events if e["event"] == "aaa_request"
                  and started[-1]["mono_ns"] <= e["mono_ns"] <= done[-1]["mono_ns"])
    ms = lambda a, b: None if a is None or b is None else (b - a) / 1e6   # noqa: E731
    values = {
        "handoff_delay": (switch["handoff_delay_ms"], "ms"),
        "address_switch_delay": (by_address["handoff_delay_ms"], "ms"),
        "packet_loss": (switch["packets_lost"], "packets"),
        "duplicates": (switch["duplicates"], "packets"),
        "on_old_address": (by_address["on_old_address"], "packets"),
        "on_new_address": (by_address["on_new_address"], "packets"),
        "link_down_detection": (ms(lost and lost["mono_ns"], detected and detected["mono_ns"]),
                                "ms"),
        "activation": (_attr(attached[-1], "activation_ms") if attached else None, "ms"),
        "attach": (_attr(attached[-1], "attach_ms") if attached else None, "ms"),
        "cellular_session": (_attr(done[-1], "total_ms"), "ms"),
        "switch": (_attr(changed[-1], "elapsed_ms") if changed else None, "ms"),
        "binding_update": (ms(bu_start and bu_start["mono_ns"], bu and bu["mono_ns"]), "ms"),
        "handover_total": (ms(trigger and trigger["mono_ns"], first_new), "ms"),
        "at_handover": (ms(start and start["mono_ns"], first_new), "ms"),
        "preparation": (ms(prepared_from and prepared_from["mono_ns"], done[-1]["mono_ns"]),
                        "ms"),
        "aaa_in_session_setup": (aaa, "requests"),
        "ipcp": (_attr(done[-1], "ipcp_ms"), "ms"),
        "both_interfaces_up": (both_up_ms(events, mn, t0, t1), "ms"),
    }
    if preauth:
        values["pre_authentication"] = (_attr(preauth[-1], "elapsed_ms"), "ms")
    if tunnels and tunnel_start:
        values["tunnel_setup"] = (ms(tunnel_start[-1]["mono_ns"], tunnels[-1]["mono_ns"]), "ms")
        values["on_tunnel"] = (sum(1 for p in pkts if p.get("iface") in tun_dev), "packets")
    if bu and changed:
        values["bound_before_switch"] = (int(bu["mono_ns"] < changed[-1]["mono_ns"]), "")
    reserved = _of(events, "cellular_address_preconfigured", mn)
    if reserved:
        values["address_preconfiguration"] = (_attr(reserved[-1], "elapsed_ms"), "ms")
    if installed:
        values["key_installation"] = (_attr(installed[-1], "elapsed_ms"), "ms")
    if copies:
        values["copy_forward_copies"] = (sum(int(_attr(e, "copies") or 0) for e in copies),
                                         "packets")
        values["copy_forward_period"] = (_attr(copies[-1], "duration_ms"), "ms")
    return values


def _in_handoff(p: dict, new: str, cell_iface: str | None, pkts: list[dict]) -> bool:
    """`p` is an in-handoff packet: received on the cellular interface (when the log names
    interfaces), else on the new address."""
    if cell_iface and "iface" in p:
        return p["iface"] == cell_iface
    return p["dst"].rsplit(":", 1)[0] == new


def window_start(events: Iterable[dict], mn: str, t0: int, stream_s: float) -> int:
    """Where a repetition's stream is read from: `stream_s` before the handover's trigger
    (the WLAN link lost, else the switch of the active interface), not before `t0`. Not from
    the call's start: packets an earlier reactive handover left in the WLAN router's
    neighbour queue (sent to the WLAN address while it was unreachable) reach the MN when it
    is back on the WLAN, at the next call's start, with that call's SSRC and older sequence
    numbers."""
    events = sorted(events, key=lambda e: e["mono_ns"])
    lost = next((e for e in _of(events, "disassociated", mn, node_is_mn=False)
                 if _attr(e, "reason") == "link_lost" and e["mono_ns"] >= t0), None)
    changed = [e for e in _of(events, "active_interface_changed", mn) if e["mono_ns"] >= t0]
    trigger = lost or (changed[-1] if changed else None)
    bound = [e for e in _of(events, "binding_update_start", mn) if e["mono_ns"] >= t0]
    if bound and (trigger is None or bound[0]["mono_ns"] < trigger["mono_ns"]):
        trigger = bound[0]       # through the tunnel, before the switch: the stream moves then
    if trigger is None:
        return t0
    return max(t0, trigger["mono_ns"] - int(stream_s * 1e9))


def both_up_ms(events: list[dict], mn: str, t0: int, t1: int) -> float:
    """The overlap of the WLAN's association and the cellular interface's power within
    [t0, t1] (see the module docstring), in ms."""
    wlan_end = next((e["mono_ns"] for e in _of(events, "disassociated", mn, node_is_mn=False)
                     if t0 <= e["mono_ns"] <= t1), t1)
    on = [e["mono_ns"] for e in _of(events, "interface_powered_on", mn) if t0 <= e["mono_ns"] <= t1]
    if not on:
        return 0.0
    off = next((e["mono_ns"] for e in _of(events, "interface_powered_off", mn)
                if on[-1] <= e["mono_ns"] <= t1), t1)
    return max(0.0, (min(wlan_end, off) - max(t0, on[-1])) / 1e6)


def spans(events: list[dict], mn: str, t0: int, t1: int) -> dict:
    """Times (ns) of the repetition's landmarks for the figures: link lost, cellular powered
    on, data session done, active interface changed, WLAN left."""
    def first(name: str, node_is_mn: bool = True):
        found = [e["mono_ns"] for e in _of(events, name, mn, node_is_mn) if t0 <= e["mono_ns"] <= t1]
        return found[-1] if found else None
    return {"wlan_left_ns": first("disassociated", node_is_mn=False),
            "powered_on_ns": first("interface_powered_on"),
            "session_done_ns": first("cellular_session_done"),
            "switched_ns": first("active_interface_changed")}
