"""The MN's RTP receiver log + the handover's events -> Figure 7's metrics (RFC 6252 C.5.1; pure).

Input: the receiver log of agents/sip_ua.py (one record per packet: `mono_ns` arrival on
CLOCK_MONOTONIC, `seq`, `rtp_ts`, `ssrc`, `dst` = receiving "ip:port") and a `Handover`
(the MN's `l2_handoff_start`/`l2_handoff_done` times, the nCoA, the configured buffering
period, the count of a buffer flush event), built from the event log by
`handover_from_events`. Every metric, in one line:

  L2 handoff time    MN `l2_handoff_start` -> `port_open` (association and 4-way handshake,
                     plus EAP without pre-authentication: the link carries data), or ->
                     `l2_handoff_done` where no 802.1X port follows (ms).
  L3 handoff time    end of the L2 handoff -> the first packet received on the new address
                     (nCoA) (ms). (With MPA the stream reaches the nCoA through the tunnel
                     before the move: only packets after the L2 handoff count.)
  handover delay     `l2_handoff_start` -> that first packet (ms; non-MPA: C.5.1's "4 seconds").
  packets lost       sequence numbers between the first and last received that never arrived.
  duplicates         packets received more than once (arrivals minus distinct sequence numbers).
  inter-packet interval  mean gap between consecutive arrivals outside the handover (ms).
  during handover    mean of the arrival gaps spanning the handover: those ending after
                     `l2_handoff_start`, up to the first packet on the new address (with
                     buffering: up to the last buffered packet) (ms).
  handover gap       the largest of those gaps: last packet before, first packet after (C.5.2).
  jitter             RFC 3550 s6.4.1 interarrival jitter J += (|D(i-1,i)| - J)/16 over arrivals,
                     in ms at the 8000 Hz RTP clock, as it stands right after the handover.
  jitter (max)       the largest value that estimator reaches over the log (ms).
  arrival excess     during handover minus inter-packet interval (ms): the RFC's "jitter" (below).
  buffering period   the configured cap on how long the nAR holds packets for the nCoA (ms;
                     None: no buffering).
  buffer held        how long the nAR actually held them: its first held packet -> the flush
                     (`buffering_flushed` held_ms; the flush follows the MN's ATTACHED).
  buffered packets   packets flushed by the nAR: the `buffering_flushed` event's `packets` (or
                     `count`) attr; without one, the packets from the first on the new address
                     on that arrived later than their RTP timestamps say (by more than half the
                     interval, relative to the last packet before the handover).

Note on Figures 6 and 7: the RFC's "Avg. packet jitter" equals its "Avg. inter-packet arrival
time during handover" minus the 16 ms interval in every column (29.00 - 16 = 13.00, 45.33 - 16
= 29.33, 66.60 - 16 = 50.60), so it is not RFC 3550's estimator; `arrival_excess_ms` is that
difference, reported beside `jitter_ms`.
"""
from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

from ..events import subject
from ..protocols.rtp import seq_distance, ts_distance


@dataclass(frozen=True)
class Metric:
    name: str              # the `metric` column of analysis/reference/rfc6252_fig{6,7}.csv
    field: str             # the MediaMetrics attribute
    unit: str
    rfc_label: str | None  # the row of Figures 6/7, None if the RFC does not report it


METRICS = (
    Metric("l2_handoff", "l2_handoff_ms", "ms", "L2 handoff (ms)"),
    Metric("l3_handoff", "l3_handoff_ms", "ms", "L3 handoff (ms)"),
    Metric("packet_loss", "packets_lost", "packets", "Avg. packet loss"),
    Metric("inter_packet_interval", "inter_packet_interval_ms", "ms",
           "Avg. inter-packet arrival interval (ms)"),
    Metric("inter_packet_during_handover", "inter_packet_during_handover_ms", "ms",
           "Avg. inter-packet arrival time during handover (ms)"),
    Metric("jitter", "jitter_ms", "ms", "Avg. packet jitter (ms)"),
    Metric("buffering_period", "buffering_period_ms", "ms", "Buffering Period (ms)"),
    Metric("buffered_packets", "buffered_packets", "packets", "Buffered Packets"),
    Metric("handover_delay", "handover_delay_ms", "ms", None),
    Metric("duplicates", "duplicates", "packets", None),
    Metric("handover_gap", "handover_gap_ms", "ms", None),
    Metric("jitter_max", "jitter_max_ms", "ms", None),
    Metric("arrival_excess", "arrival_excess_ms", "ms", None),
    Metric("buffer_held", "buffer_held_ms", "ms", None),
)


class MediaError(ValueError):
    pass


@dataclass(frozen=True)
class Handover:
    l2_start_ns: int
    l2_done_ns: int
    new_address: str | None = None         # the nCoA (IP); None: any address after the move
    buffering_period_ms: float | None = None
    buffered_packets: int | None = None    # from the buffer flush event, if there was one
    buffer_held_ms: float | None = None    # that event's held_ms: first packet held -> flush


@dataclass(frozen=True)
class MediaMetrics:
    l2_handoff_ms: float
    l3_handoff_ms: float | None
    handover_delay_ms: float | None
    packets_received: int
    packets_expected: int
    packets_lost: int
    duplicates: int
    inter_packet_interval_ms: float | None
    inter_packet_during_handover_ms: float | None
    handover_gaps: int
    handover_gap_ms: float | None
    jitter_ms: float | None
    jitter_max_ms: float | None
    arrival_excess_ms: float | None
    buffering_period_ms: float | None
    buffered_packets: int | None
    buffered_packets_source: str | None    # "event", "late" or None (no buffering)
    buffer_held_ms: float | None = None
    lost_sequences: tuple[int, ...] = ()

    def as_row(self) -> dict:
        row = asdict(self)
        row["lost_sequences"] = " ".join(str(s) for s in self.lost_sequences)
        return row


def read_receiver_log(path: str | Path) -> list[dict]:
    """The RTP records of a receiver log (lines with an "error" are malformed packets)."""
    out = []
    for line in Path(path).read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            if "error" not in rec:
                out.append(rec)
    return out


def _events_of(events: Iterable[dict], mn: str, names: tuple[str, ...]) -> list[dict]:
    return [e for e in events if e["event"] in names and subject(e) == mn]


def handover_from_events(events: Iterable[dict], mn: str,
                         buffering_period_ms: float | None = None) -> Handover:
    """The last layer-2 handoff of `mn` and what surrounds it: the nCoA (the binding update's
    `ncoa`, else `ncoa_assigned`'s), the flush count (`buffering_flushed` attrs `packets`, or a
    `buffer_flushed` event's `count`), the buffering period (given, else `buffering_start`'s
    `period_ms`)."""
    events = sorted(events, key=lambda e: e["mono_ns"])
    starts = _events_of(events, mn, ("l2_handoff_start",))
    if not starts:
        raise MediaError(f"no l2_handoff_start event for {mn}")
    start = starts[-1]
    done = next((e for e in _events_of(events, mn, ("l2_handoff_done",))
                 if e["mono_ns"] >= start["mono_ns"]), None)
    if done is None:
        raise MediaError(f"no l2_handoff_done event for {mn} after its l2_handoff_start")
    # with IEEE 802.1X the link carries data once the controlled port is open: the 4-way
    # handshake (and, without pre-authentication, EAP) belongs to the layer-2 handoff
    done = next((e for e in _events_of(events, mn, ("port_open",))
                 if e["mono_ns"] >= done["mono_ns"]), done)
    address = None
    for name in ("binding_update_start", "ncoa_assigned"):
        found = [e for e in _events_of(events, mn, (name,)) if (e.get("attrs") or {}).get("ncoa")]
        if found:
            address = found[-1]["attrs"]["ncoa"]
            break
    flushed = held = None
    for e in _events_of(events, mn, ("buffering_flushed", "buffer_flushed")):
        attrs = e.get("attrs") or {}
        if e["mono_ns"] >= start["mono_ns"] and ("packets" in attrs or "count" in attrs):
            flushed = int(attrs.get("packets", attrs.get("count")))
            held = attrs.get("held_ms")
    if buffering_period_ms is None:
        for e in _events_of(events, mn, ("buffering_start",)):
            if "period_ms" in (e.get("attrs") or {}):
                buffering_period_ms = float(e["attrs"]["period_ms"])
    return Handover(start["mono_ns"], done["mono_ns"], address, buffering_period_ms, flushed,
                    None if held is None else float(held))


def interarrival_jitter(arrivals: list[tuple[int, int]], clock_rate: int = 8000) -> list[float]:
    """RFC 3550 s6.4.1 and A.8 over (arrival ns, RTP timestamp) pairs in arrival order:
    D(i-1,i) = (R_i - R_{i-1}) - (S_i - S_{i-1}) in timestamp units, J += (|D| - J)/16.
    Returns J after each packet, in ms (0 for the first)."""
    out, j = [], 0.0
    for k, (r, s) in enumerate(arrivals):
        if k:
            r0, s0 = arrivals[k - 1]
            d = (r - r0) * clock_rate / 1e9 - ts_distance(s0, s)
            j += (abs(d) - j) / 16
        out.append(j * 1000 / clock_rate)
    return out


def _extended(seqs: list[int]) -> list[int]:
    """16-bit sequence numbers -> extended ones, unwrapped relative to the highest so far."""
    out, top = [], None
    for s in seqs:
        ext = s if top is None else top + seq_distance(top & 0xFFFF, s)
        out.append(ext)
        top = ext if top is None else max(top, ext)
    return out


def _host(dst: str) -> str:
    return dst.rsplit(":", 1)[0]


def media_metrics(packets: list[dict], handover: Handover, clock_rate: int = 8000,
                  ssrc: int | None = None) -> MediaMetrics:
    """Figure 7's metrics for one handover (see the module docstring for each definition)."""
    if ssrc is None and packets:
        ssrc = packets[0].get("ssrc")
    pkts = sorted((p for p in packets if p.get("ssrc") == ssrc), key=lambda p: p["mono_ns"])
    if len(pkts) < 2:
        raise MediaError(f"{len(pkts)} RTP packets of SSRC {ssrc} in the log; need two")
    t = [p["mono_ns"] for p in pkts]
    ext = _extended([p["seq"] for p in pkts])
    distinct = set(ext)
    expected = max(ext) - min(ext) + 1
    lost = tuple(s & 0xFFFF for s in sorted(set(range(min(ext), max(ext) + 1)) - distinct))

    l2 = (handover.l2_done_ns - handover.l2_start_ns) / 1e6
    first_new = next((i for i, p in enumerate(pkts) if p["mono_ns"] >= handover.l2_done_ns
                      and (handover.new_address is None
                           or _host(p["dst"]) == handover.new_address)), None)
    gaps = [(t[i] - t[i - 1]) / 1e6 for i in range(1, len(t))]    # gaps[i-1] ends at packet i
    jitter = interarrival_jitter([(p["mono_ns"], p["rtp_ts"]) for p in pkts], clock_rate)

    buffered, source = handover.buffered_packets, "event"
    if buffered is None:
        source = None
        before = [i for i in range(len(t)) if t[i] < handover.l2_start_ns]
        if handover.buffering_period_ms is not None and first_new is not None and before:
            buffered = _held(pkts, first_new, before[-1], clock_rate, statistics.median(gaps) / 2)
            source = "late"
    if first_new is None:
        l3 = delay = None
        window = [i for i in range(1, len(t)) if t[i] > handover.l2_start_ns]
    else:
        l3 = (t[first_new] - handover.l2_done_ns) / 1e6
        delay = (t[first_new] - handover.l2_start_ns) / 1e6
        end = min(len(t) - 1, first_new + max(0, (buffered or 0) - 1))
        window = [i for i in range(1, end + 1) if t[i] > handover.l2_start_ns]
    during = [gaps[i - 1] for i in window]
    in_window = set(window)
    outside = [g for i, g in enumerate(gaps, start=1) if i not in in_window]
    interval = statistics.fmean(outside) if outside else None
    during_mean = statistics.fmean(during) if during else None
    return MediaMetrics(
        l2_handoff_ms=l2, l3_handoff_ms=l3, handover_delay_ms=delay,
        packets_received=len(pkts), packets_expected=expected,
        packets_lost=expected - len(distinct), duplicates=len(pkts) - len(distinct),
        inter_packet_interval_ms=interval, inter_packet_during_handover_ms=during_mean,
        handover_gaps=len(during), handover_gap_ms=max(during) if during else None,
        jitter_ms=jitter[window[-1]] if window else None, jitter_max_ms=max(jitter),
        arrival_excess_ms=(during_mean - interval
                           if during_mean is not None and interval is not None else None),
        buffering_period_ms=handover.buffering_period_ms, buffered_packets=buffered,
        buffered_packets_source=source if buffered is not None else None,
        buffer_held_ms=handover.buffer_held_ms,
        lost_sequences=lost)


def _held(pkts: list[dict], first: int, ref: int, clock_rate: int, threshold_ms: float) -> int:
    """Packets from `first` on that arrived late by more than `threshold_ms` relative to the
    last packet before the handover (`ref`), given their RTP timestamps: held in a buffer."""
    def lateness(i: int) -> float:
        sent = ts_distance(pkts[ref]["rtp_ts"], pkts[i]["rtp_ts"]) * 1000 / clock_rate
        return (pkts[i]["mono_ns"] - pkts[ref]["mono_ns"]) / 1e6 - sent
    n = 0
    while first + n < len(pkts) and lateness(first + n) > threshold_ms:
        n += 1
    return n


def arrival_series(packets: list[dict], handover: Handover, ssrc: int | None = None) -> list[dict]:
    """Per packet: arrival time relative to `l2_handoff_start` (ms), extended sequence number
    and receiving address -- the data of the arrival-time/sequence-number figure."""
    if ssrc is None and packets:
        ssrc = packets[0].get("ssrc")
    pkts = sorted((p for p in packets if p.get("ssrc") == ssrc), key=lambda p: p["mono_ns"])
    ext = _extended([p["seq"] for p in pkts])
    return [{"t_ms": (p["mono_ns"] - handover.l2_start_ns) / 1e6, "seq": s,
             "address": _host(p["dst"])} for p, s in zip(pkts, ext)]


def address_switch(packets: list[dict], old_address: str, new_address: str,
                   ssrc: int | None = None) -> dict:
    """The stream across a make-before-break switch of the receiving address (RFC 6252 C.5.2:
    "0 packet loss and a 50-ms handoff delay between the last pre-handoff packet and the
    first in-handoff packet", with duplicates from copy-and-forward): packets received,
    lost (sequence numbers never received between the first and the last), duplicates,
    packets on each address, and the handoff delay: the first in-handoff packet (the first
    arrival on `new_address` of a sequence number not received before: a copy of a packet
    the old path delivered is a duplicate, not the handoff) minus the last arrival on
    `old_address` before it (ms; None where either has none). Pure."""
    if ssrc is None and packets:
        ssrc = packets[0].get("ssrc")
    pkts = sorted((p for p in packets if p.get("ssrc") == ssrc), key=lambda p: p["mono_ns"])
    ext = _extended([p["seq"] for p in pkts])
    distinct = set(ext)
    old = [p["mono_ns"] for p in pkts if _host(p["dst"]) == old_address]
    new = [p["mono_ns"] for p in pkts if _host(p["dst"]) == new_address]
    seen: set[int] = set()
    first_new = None
    for p, s in zip(pkts, ext):
        if _host(p["dst"]) == new_address and s not in seen:
            first_new = p["mono_ns"]
            break
        seen.add(s)
    before = [t for t in old if first_new is not None and t <= first_new]
    delay = (first_new - before[-1]) / 1e6 if before else None
    return {"packets_received": len(pkts),
            "packets_lost": (max(ext) - min(ext) + 1 - len(distinct)) if ext else 0,
            "duplicates": len(pkts) - len(distinct), "on_old_address": len(old),
            "on_new_address": len(new), "handoff_delay_ms": delay}
