"""The event log: JSON lines with CLOCK_MONOTONIC nanosecond timestamps, and its vocabulary.

Every emitter (controller, agents) appends to its own file `<run>/events/<node>.jsonl`;
the runner merges them. `time.perf_counter_ns()` is CLOCK_MONOTONIC on Linux, the same
clock in every network namespace, so timestamps of different nodes are comparable (on one
machine; see docs/real-hardware.md for separate machines).

A record: {"node", "role", "event", "phase", "mono_ns", "wall", "attrs"}.

`VOCABULARY` names the events of each MPA phase (RFC 6252 s6.3 steps 1-6, s7.1 discovery);
`INTERVALS` says which start/end events bound each measured time (Tdisc, Tauth, Tconf, Tl2,
...); `phase_durations` pairs them. Figure 10's times are experiment/phases.py's. docs/events.md
is the prose version of both.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

# "setup" is not an MPA phase: testbed and agent lifecycle, control commands.
PHASES = ("discovery", "pre-authentication", "pre-configuration", "binding-update",
          "pre-switching", "switching", "post-switching", "setup")

# EAP and AAA run during pre-authentication (PANA, 802.11i pre-authentication) and, without
# pre-authentication, after the move (switching): those events belong to both phases.
_EAP = ("eap_start", "eap_done", "eap_failed", "eap_malformed", "eapol_malformed",
        "aaa_request", "aaa_answer", "aaa_retransmitted")

# phase -> the events that belong to it (RFC 6252 s6.3; docs/events.md explains each one).
VOCABULARY: dict[str, tuple[str, ...]] = {
    # s7.1: the MN learns the CTNs' PAA, CA, AR and APs, e.g. from an information server
    "discovery": ("discovery_start", "discovery_done", "discovery_failed",
                  "discovery_answered"),
    # s6.3 step 1: MN <-> authentication agent (PAA), EAP over PANA, AAA behind it
    "pre-authentication": ("preauth_start", "preauth_done", "preauth_failed", *_EAP,
                           "mpa_sa_established", "pana_session_established", "pana_auth_failed",
                           "pana_dropped", "pana_retransmitted", "pana_timeout",
                           "pana_reauthenticated", "pana_session_activated",
                           "pana_session_terminated"),
    # s6.3 step 2 and C.5.3 Tconf: keys pushed to the target APs, nCoA, proactive handover tunnel
    "pre-configuration": ("psk_install_start", "psk_installed", "psk_install_failed",
                          "tconf_done", "psk_received", "pmk_installed", "keyinstall_rejected",
                          "address_request", "address_acquired", "address_failed",
                          "pht_setup_start", "pht_established", "pht_failed",
                          "mn_ar_key_loaded", "mn_ar_key_withdrawn", "dad_start", "dad_done",
                          "dad_conflict", "pht_released", "address_released"),
    # s6.3 step 3 (secure proactive handover main phase), s7.5
    "binding-update": ("binding_update_start", "binding_update_done", "binding_update_failed",
                       "binding_update_received", "transient_streams_start",
                       "transient_streams_end"),
    # s6.3 step 4
    "pre-switching": ("pre_switching_start", "pre_switching_done", "pht_deleted",
                      "pht_disabled", "ncoa_cached", "buffering_start", "buffering_rejected"),
    # s6.3 step 5: the link-layer handover; C.5.3 Tassoc+4way; post-authentication (no MPA)
    "switching": ("l2_handoff_start", "l2_handoff_done", "l2_handoff_failed",
                  "assoc_request", "associated", "disassociated", "link_down_notified",
                  "fourway_start", "fourway_done", "fourway_failed", "fourway_failure",
                  "fourway_rejected", "post_auth_start", "post_auth_done", "post_auth_failed",
                  *_EAP, "port_authorized", "port_unauthorized",
                  "authorize_done", "authorize_failed", "deauthorize_done", "deauthorize_failed",
                  "port_open", "port_opened", "port_closed", "port_driver_failed",
                  "fourway_retransmitted", "pmksa_dropped"),
    # s6.3 step 6
    "post-switching": ("post_switching_start", "post_switching_done", "ncoa_assigned",
                       "buffering_flushed", "neighbours_installed", "gratuitous_arp",
                       "pht_released", "pht_failed",
                       # the non-MPA baseline: DHCP on the new link, the MN's own DAD
                       "address_request", "address_acquired", "address_failed",
                       "address_released", "dad_start", "dad_done", "dad_conflict"),
    "setup": ("agent_started", "agent_stopped", "command_start", "command_done",
              "command_failed", "switch_connected", "mgmt_rejected", "port_request_rejected",
              "malformed", "loop_died",
              "emulation_constants",
              "call_setup_start", "call_established", "call_failed", "call_answered",
              "call_ended"),
}
# --- inter-technology handover (issue 15, RFC 6252 C.5.2): the cellular data session ------
# The mobile's PPP over the cellular link (PPPoE discovery, LCP, CHAP, IPCP; agents/cellular.py)
# runs before the move when both interfaces are up (pre-configuration) or at the move
# (switching); its emitter says which. The gateway, a RADIUS NAS, also emits aaa_request /
# aaa_answer for the CHAP check.
CELLULAR_SESSION: tuple[str, ...] = (
    "cellular_session_start", "pppoe_discovery_done", "lcp_opened", "chap_success",
    "chap_failure", "ipcp_opened", "cellular_session_done", "cellular_session_failed",
    "cellular_session_terminated", "cellular_frame_dropped", "aaa_request", "aaa_answer",
    # MPA pre-authentication of the cellular domain through the WLAN (RFC 6252 s7.6.2): the
    # gateway holds a CHAP secret a PAA installed, and checks a response against it itself
    "chap_preauthorized", "chap_verified",
    # ... and the address reserved through the WLAN (protocols/cellular_address.py)
    "cellular_address_reserved", "cellular_address_preconfigured",
    # agents/multi_interface.py: the emulated attach, the active interface (C.5.2)
    "radio_attached", "active_interface_changed", "active_interface_failed",
    # the handovers of C.5.2 (experiment/inter_technology.py): which radios are powered and
    # attached (the battery figure), the reactive MN's link-down detection, the release of
    # the old interface after a make-before-break switch, copy-and-forward at the old AR
    "interface_powered_on", "interface_powered_off", "link_down_detected",
    "interface_released", "copy_forward_start", "copy_forward_done", "copy_forward_failed")
for _phase in ("pre-configuration", "switching"):
    VOCABULARY[_phase] += tuple(e for e in CELLULAR_SESSION if e not in VOCABULARY[_phase])

# --- Mobile IPv6 (issue 14, RFC 6275; agents/mipv6_agent.py) ---------------------------------
# The MN's, HA's and CN's user-space data plane (agents/mipv6_dataplane.py) logs its events
# prefixed mipv6_: home registration (BU/BA), return routability (HoTI/CoTI/HoT/CoT), the
# correspondent registration, binding caches, proxy ND, packets dropped for a reason.
MIPV6: tuple[str, ...] = tuple("mipv6_" + e for e in (
    "bu_sent", "bu_retransmitted", "ba_received", "home_registered", "ro_registered",
    "rr_started", "hot_sent", "cot_sent", "hot_received", "cot_received", "brr_received",
    "mh_received", "mh_ignored", "bu_processed", "be_sent", "binding_expired",
    "proxy_nd_add", "proxy_nd_del", "proxy_nd_failed", "dad_started", "dad_succeeded",
    "dad_failed", "send_failed", "malformed", "dropped_no_binding", "tunnel_dropped",
    "reverse_tunnel_dropped", "rh2_dropped", "test_dropped", "test_init_dropped",
    "pht_dropped"))
VOCABULARY["binding-update"] += MIPV6
# Router Advertisements (RFC 4861 s6.2) of a gateway's agent
VOCABULARY["setup"] += ("router_advertisement_sent", "router_solicitation_received")

# --- movement, the MPA-SA and the radio's departure notice (issue 16, RFC 6252 C.1, C.2, C.6) --
# The MN's own policy driving a movement (agents/movement.py) logs under "setup"; the PAA's
# MPA-SA after the MN leaves (protocols/pana_fsm.py) and the AP's departure notice to it
# (agents/departure.py, protocols/departure.py)
VOCABULARY["setup"] += ("radio_sample", "policy_action", "policy_completed",
                        "policy_release_failed", "movement_binding_update",
                        "movement_handover_start", "movement_handover_done",
                        "mpa_sa_unauthorized", "pana_detached")
VOCABULARY["post-switching"] += ("mpa_sa_authorized",)
VOCABULARY["switching"] += ("sta_departed", "departure_notice", "departure_notice_sent",
                            "departure_notice_failed", "departure_rejected",
                            # C.5.2: the MN's end of the tunnel into the cellular network goes
                            # at the switch (agents/preconfig.py tunnel_down)
                            "pht_released", "pht_failed")
# a PAA's on_success callback (Tconf, key installation) that raised: logged, the PAA goes on
VOCABULARY["pre-configuration"] += ("paa_on_success_failed",)

# event -> the phases it may be emitted in (the first is the default)
EVENT_PHASES: dict[str, tuple[str, ...]] = {}
for _phase, _events in VOCABULARY.items():
    for _e in _events:
        EVENT_PHASES[_e] = EVENT_PHASES.get(_e, ()) + (_phase,)


@dataclass(frozen=True)
class Interval:
    """A measured time: from `start` to the first of `end` (or `failed`) that follows it,
    for the same mobile node, among records of `phase`. Events may come from different
    nodes (one clock)."""
    name: str
    phase: str
    start: str
    end: tuple[str, ...]
    failed: tuple[str, ...] = ()
    description: str = ""


INTERVALS: tuple[Interval, ...] = (
    Interval("Tdisc", "discovery", "discovery_start", ("discovery_done",), ("discovery_failed",),
             "MN: query to the information server until the CTN list is known (s7.1)"),
    Interval("Tauth", "pre-authentication", "preauth_start", ("preauth_done",), ("preauth_failed",),
             "MN: EAP-TLS pre-authentication with the PAA of a CTN (C.5.3 Tauth)"),
    Interval("Tconf", "pre-configuration", "psk_install_start", ("tconf_done",), (),
             "PAA: PSK generation and installation in all target APs after EAP (C.5.3 Tconf)"),
    Interval("Taddr", "pre-configuration", "address_request", ("address_acquired",),
             ("address_failed",), "MN: proactive nCoA acquisition (s7.3)"),
    Interval("Ttunnel", "pre-configuration", "pht_setup_start", ("pht_established",),
             ("pht_failed",), "MN: proactive handover tunnel set-up (s7.4)"),
    Interval("Tbu", "binding-update", "binding_update_start", ("binding_update_done",),
             ("binding_update_failed",), "MN: binding update over the tunnel (s7.5)"),
    Interval("Tpresw", "pre-switching", "pre_switching_start", ("pre_switching_done",), (),
             "MN: tunnel deleted or disabled, nCoA cached (s6.3 step 4)"),
    Interval("Tassoc", "switching", "l2_handoff_start", ("l2_handoff_done",),
             ("l2_handoff_failed",), "MN: (re)association request until the response"),
    Interval("Tl2", "switching", "l2_handoff_start", ("port_opened", "port_authorized"),
             ("l2_handoff_failed", "fourway_failed", "fourway_failure"),
             "MN handoff start until the target AP's controlled port is open (the AP's own "
             "`port_opened`, or the controller's `port_authorized` where the AP asks it) "
             "(Figure 10's Tassoc+4way is experiment/phases.py's, not this)"),
    Interval("Tpostauth", "switching", "post_auth_start", ("post_auth_done",),
             ("post_auth_failed",), "EAP after the move when nothing was pre-authenticated"),
    Interval("Tpostsw", "post-switching", "post_switching_start", ("post_switching_done",), (),
             "MN: nCoA assigned to the new interface (s6.3 step 6)"),
)


def _check_vocabulary() -> None:
    for iv in INTERVALS:
        for event in (iv.start, *iv.end, *iv.failed):
            if iv.phase not in EVENT_PHASES.get(event, ()):
                raise AssertionError(f"interval {iv.name}: {event} is not a {iv.phase} event")


_check_vocabulary()


class EventLog:
    def __init__(self, path: str | Path, node: str, role: str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.node, self.role = node, role
        # O_APPEND: one write() per record, so concurrent writers never interleave lines
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def emit(self, event: str, phase: str | None = None, mono_ns: int | None = None,
             **attrs) -> dict:
        """Append one record. `phase` defaults to the event's (first) phase in VOCABULARY,
        else "setup". Events outside the vocabulary are recorded as they are (see
        `vocabulary_problems` to list them)."""
        phase = phase or EVENT_PHASES.get(event, ("setup",))[0]
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; expected one of {PHASES}")
        record = {"node": self.node, "role": self.role, "event": event, "phase": phase,
                  "mono_ns": time.perf_counter_ns() if mono_ns is None else mono_ns,
                  "wall": time.time(), "attrs": attrs}
        os.write(self._fd, (json.dumps(record, separators=(",", ":"), default=str)
                            + "\n").encode())
        return record

    def close(self) -> None:
        os.close(self._fd)


def read_events(run_dir: str | Path) -> list[dict]:
    """All records of a run, ordered by monotonic time."""
    records: list[dict] = []
    for path in sorted(Path(run_dir, "events").glob("*.jsonl")):
        records.extend(_read(path))
    return sorted(records, key=lambda r: r["mono_ns"])


def _read(path: Path) -> Iterator[dict]:
    with path.open() as fh:
        for line in fh:
            line = line.strip()
            if line:
                yield json.loads(line)


def vocabulary_problems(records: Iterable[dict]) -> list[str]:
    """Records whose event is not in VOCABULARY, or not under that phase (one line each,
    deduplicated): what docs/events.md and VOCABULARY should be taught, or a wrong phase."""
    out: dict[str, None] = {}
    for r in records:
        phases = EVENT_PHASES.get(r["event"])
        if phases is None:
            out[f"{r['node']}: event '{r['event']}' is not in the vocabulary"] = None
        elif r["phase"] not in phases:
            out[f"{r['node']}: event '{r['event']}' under phase '{r['phase']}', expected "
                f"{' or '.join(phases)}"] = None
    return list(out)


def subject(record: dict) -> str:
    """The mobile node a record is about: attrs.mn, else attrs.sta (the controller names
    stations by node), else the emitting node."""
    attrs = record.get("attrs") or {}
    return str(attrs.get("mn") or attrs.get("sta") or record["node"])


def phase_durations(records: Iterable[dict],
                    intervals: Iterable[Interval] = INTERVALS) -> list[dict]:
    """Pair start/end events into measured times, per mobile node and interval.

    Pure: records in (any order), rows out, ordered by start time. Each start is closed by
    the first end or failure event for the same mobile node that follows it; a start that
    is followed by another start, or by nothing, is reported with status "unfinished".
    Only records of the interval's phase count (EAP after the move is not pre-authentication).
    Row: {mn, interval, phase, status (ok|failed|unfinished), start_event, end_event,
    start_node, end_node, start_ns, end_ns, duration_ms, start_attrs, end_attrs}.
    """
    ordered = sorted(records, key=lambda r: r["mono_ns"])
    rows: list[dict] = []
    for iv in intervals:
        open_: dict[str, dict] = {}
        for rec in ordered:
            event = rec["event"]
            if rec.get("phase") != iv.phase or (
                    event != iv.start and event not in iv.end and event not in iv.failed):
                continue
            who = subject(rec)
            if event == iv.start:
                if who in open_:
                    rows.append(_row(iv, who, open_.pop(who), None, "unfinished"))
                open_[who] = rec
            elif who in open_:
                status = "ok" if event in iv.end else "failed"
                rows.append(_row(iv, who, open_.pop(who), rec, status))
        rows += [_row(iv, who, start, None, "unfinished") for who, start in open_.items()]
    return sorted(rows, key=lambda r: (r["start_ns"], r["interval"]))


def _row(iv: Interval, who: str, start: dict, end: dict | None, status: str) -> dict:
    return {"mn": who, "interval": iv.name, "phase": iv.phase, "status": status,
            "start_event": start["event"], "end_event": end["event"] if end else None,
            "start_node": start["node"], "end_node": end["node"] if end else None,
            "start_ns": start["mono_ns"], "end_ns": end["mono_ns"] if end else None,
            "duration_ms": (end["mono_ns"] - start["mono_ns"]) / 1e6 if end else None,
            "start_attrs": start.get("attrs") or {},
            "end_attrs": (end.get("attrs") or {}) if end else {}}
