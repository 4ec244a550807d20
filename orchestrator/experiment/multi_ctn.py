"""What several candidate target networks cost and give (RFC 6252 Appendix C.4), as record
values of one movement repetition (pure; experiment/movement.py's `movement_values` adds
them when the repetition has them):

- signalling (C.4 "(1) Additional signaling"): messages and octets per protocol the MN
  exchanged to prepare and make its handover (`signalling_window`), from its capture
  (experiment/signalling.py);
- binding updates: how many re-INVITEs the MN sent and the most contacts one named;
- transient streams (C.4 "(4) ... multiple transient streams flow between the CN and mobile
  node"; "consumption of extra bandwidth for a small period of time"): from the CN's
  `transient_streams_end` events, the packets and octets it sent to contact addresses other
  than the one the stream ended on, how long, to how many addresses; and at the MN, at how
  many addresses the stream arrived before the handover;
- the stream across the handover (with a call): packets lost (sequence numbers never
  received), duplicates, and the media handover delay: the MN's `l2_handoff_start` of the
  handover to the first packet received on the MN's new address once its `l2_handoff_done`;
- buffering at the target access router (C.4's alternative to transient streams: "apply the
  buffering technique at the target access router ... Transient data can be forwarded to
  the mobile node after it has moved"): from the access routers' `buffering_start` and
  `buffering_flushed` events for this MN from the handover on, the packets held and
  re-sent, how long, and whether the MN's ATTACHED ended each hold (not the cap); and the
  re-INVITE the MN sent at the handover (binding update "handover"), its duration.
"""
from __future__ import annotations

from .signalling import PROTOCOLS


def _host(dst: str) -> str:
    return dst.rsplit(":", 1)[0].strip("[]")


def signalling_window(summary: dict, wall0: float) -> dict[str, float] | None:
    """Per protocol, until when (s since the epoch) the MN's signalling counts: what
    prepared and made the first handover to another network. PANA, IKEv2 and DHCP up to the
    handover's end (scheme 1's on-link DHCP is part of it), SIP up to the end of the final
    re-INVITE after it; afterwards the MN prepares its next handover. `wall0`: the epoch
    time of movement time 0. None: no such handover (everything counts)."""
    hos = [h for h in summary.get("handovers", [])
           if h.get("prepared") != "same-network" and h.get("reason") != "attach"]
    if not hos:
        return None
    h = hos[0]
    end = h["t"] + h["delay_ms"] / 1e3
    after = [b for b in summary.get("binding_updates") or []
             if b["when"] == "after" and b["t"] >= h["t"]]
    sip = max(end, after[0].get("done_t", after[0]["t"])) if after else end
    return {"pana": wall0 + end, "ikev2": wall0 + end, "dhcp": wall0 + end, "sip": wall0 + sip}


def signalling_values(counts: dict | None) -> dict[str, tuple]:
    """Per protocol and in all: messages (count) and octets (octets)."""
    if not counts:
        return {}
    out: dict[str, tuple] = {}
    for proto in PROTOCOLS:
        c = counts.get(proto) or {"messages": 0, "octets": 0}
        out[f"{proto}_messages"] = (c["messages"], "count")
        out[f"{proto}_octets"] = (c["octets"], "octets")
    out["signalling_messages"] = (sum(out[f"{p}_messages"][0] for p in PROTOCOLS), "count")
    out["signalling_octets"] = (sum(out[f"{p}_octets"][0] for p in PROTOCOLS), "octets")
    return out


def binding_update_values(updates: list[dict]) -> dict[str, tuple]:
    if not updates:
        return {}
    ok = [u for u in updates if u["status"] == "ok"]
    return {"binding_updates": (len(updates), "count"),
            "binding_updates_before": (sum(u["when"] == "before" for u in ok), "count"),
            "contacts_max": (max(len(u["contacts"]) for u in ok) if ok else 0, "count")}


def transient_values(events: list[dict]) -> dict[str, tuple]:
    """The CN's transient streams that ended in this repetition."""
    ends = [e.get("attrs") or {} for e in events if e["event"] == "transient_streams_end"]
    starts = [e for e in events if e["event"] == "transient_streams_start"]
    if not ends and not starts:
        return {"transient_packets": (0, "count"), "transient_octets": (0, "octets"),
                "transient_seconds": (0.0, "s"), "transient_addresses": (0, "count")}
    addresses = {a for e in ends for a in (e.get("streams") or {})}
    return {"transient_packets": (sum(e.get("packets", 0) for e in ends), "count"),
            "transient_octets": (sum(e.get("octets", 0) for e in ends), "octets"),
            "transient_seconds": (sum(e.get("duration_ms", 0.0) for e in ends) / 1e3, "s"),
            "transient_addresses": (len(addresses), "count"),
            "transient_unended": (len(starts) - len(ends), "count")}


def stream_values(packets: list[dict], handover_ns: int | None, new_address: str | None,
                  link_up_ns: int | None = None) -> dict[str, tuple]:
    """The MN's received stream (receiver log records of the call) around the handover that
    began at `handover_ns` (its `l2_handoff_start`), whose layer 2 was done at `link_up_ns`
    (`l2_handoff_done`), and gave the MN `new_address`. The media handover delay counts
    from `handover_ns` to the first packet on the new address once the link is up: with MPA
    the nCoA received through the tunnel before the move, and a packet the tunnel delivered
    during the layer-2 handoff is not the handover's end (as media.py's L3 handoff time)."""
    if not packets:
        return {"stream_packets": (0, "count")}
    ssrc = packets[0].get("ssrc")
    pkts = sorted((p for p in packets if p.get("ssrc") == ssrc and "seq" in p),
                  key=lambda p: p["mono_ns"])
    ext, base, last = [], 0, None
    for p in pkts:                                       # sequence numbers, unwrapped
        s = p["seq"]
        if last is not None and s < last and last - s > 32768:
            base += 65536
        last = s
        ext.append(base + s)
    distinct = set(ext)
    out = {"stream_packets": (len(pkts), "count"),
           "packets_lost": (max(ext) - min(ext) + 1 - len(distinct) if ext else 0, "count"),
           "duplicates": (len(pkts) - len(distinct), "count")}
    if handover_ns is None:
        return out
    before = {_host(p["dst"]) for p in pkts if p["mono_ns"] < handover_ns}
    before.discard(_host(pkts[0]["dst"]))                # the address the call began on
    out["stream_ncoas_before"] = (len(before), "count")
    since = max(handover_ns, link_up_ns or handover_ns)
    first = next((p["mono_ns"] for p in pkts
                  if p["mono_ns"] >= since and _host(p["dst"]) == new_address), None)
    out["media_handover_delay"] = ((first - handover_ns) / 1e6 if first else None, "ms")
    return out


def buffering_values(events: list[dict], mn: str, handover_ns: int | None) -> dict[str, tuple]:
    """What the access routers buffered for `mn` from `handover_ns` on (module docstring):
    buffered_packets (re-sent by the flushes; 0 if none was armed), and when one was armed,
    buffer_held (first packet held -> flush, the longest, ms), buffer_flushed_by_attached
    (1 if every hold ended with the MN's ATTACHED, 0 if one ended by its cap or not at
    all), buffer_dropped (over the module's limit)."""
    if handover_ns is None:
        return {}
    mine = [e for e in events if (e.get("attrs") or {}).get("mn") == mn
            and e["mono_ns"] >= handover_ns]
    armed = [e for e in mine if e["event"] == "buffering_start"]
    flushes = [e["attrs"] for e in mine if e["event"] == "buffering_flushed"]
    out = {"buffered_packets": (sum(f.get("packets", 0) for f in flushes), "count")}
    if not armed:
        return out
    attached = len(flushes) >= len(armed) and all(f.get("reason") == "MN attached"
                                                  for f in flushes)
    out.update({"buffer_held": (max((f.get("held_ms", 0.0) for f in flushes), default=None),
                                "ms"),
                "buffer_flushed_by_attached": (1.0 if attached else 0.0, "bool"),
                "buffer_dropped": (sum(f.get("dropped", 0) for f in flushes), "count")})
    return out


def c4_values(events: list[dict], detail: dict, mn: str, handover_ns: int | None) -> dict:
    """Every C.4 value this repetition has (module docstring). `handover_ns`: when the
    first handover to another network began (its decision, the driver's start)."""
    out = signalling_values(detail.get("signalling"))
    out.update(binding_update_values(detail["movement"].get("binding_updates") or []))
    if detail.get("stream") is None:
        return out
    out.update(transient_values(events))
    out.update(buffering_values(events, mn, handover_ns))
    first = next((h for h in detail["movement"].get("handovers") or []
                  if h.get("start_ns") == handover_ns), None)
    if first is not None and first.get("binding_update_ms") is not None:
        out["handover_binding_update"] = (first["binding_update_ms"], "ms")
    move = next((e for e in events if e["node"] == mn and e["event"] == "l2_handoff_start"
                 and handover_ns is not None and e["mono_ns"] >= handover_ns), None)
    start = move["mono_ns"] if move else None
    done = next((e for e in events if e["node"] == mn and e["event"] == "l2_handoff_done"
                 and start is not None and e["mono_ns"] >= start), None)
    assigned = next((e for e in events if e["node"] == mn and e["event"] == "ncoa_assigned"
                     and start is not None and e["mono_ns"] >= start), None)
    new = (assigned.get("attrs") or {}).get("ncoa") if assigned else None
    out.update(stream_values(detail["stream"], start, new, done["mono_ns"] if done else None))
    return out
