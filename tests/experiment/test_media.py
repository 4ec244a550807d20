"""Figure 7's metrics from hand-made receiver logs, and the RFC 6252 C.5.1/C.5.2 reference
values checked against the RFC text."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from orchestrator.analysis.reference import load
from orchestrator.experiment import media
from orchestrator.experiment.media import Handover

RFC = Path(__file__).resolve().parents[2] / "docs" / "rfc" / "rfc6252.md"
MS = 1_000_000
OCOA, NCOA = "10.2.0.100", "10.1.0.100"
TS0 = 1000                                 # RTP timestamp of sequence number 0
SSRC = 0x1234


def pkt(seq: int, t_ms: float, address: str, ssrc: int = SSRC, ts: int | None = None) -> dict:
    """A receiver log record: sequence `seq` sent at 16*seq ms (RTP timestamp 128 per packet),
    arrived at `t_ms` on `address`."""
    return {"mono_ns": round(t_ms * MS), "seq": seq % 65536,
            "rtp_ts": (TS0 + 128 * seq) % (1 << 32) if ts is None else ts, "ssrc": ssrc,
            "src": "10.0.0.20:5004", "dst": f"{address}:4000", "pt": 0, "len": 172}


def test_rfc3550_jitter_estimator_on_a_known_sequence():
    # arrivals 0, 16, 36, 48, 64 ms; timestamps 128 ticks (16 ms) apart.
    # D = 0, 4 ms = 32 ticks, -32 ticks, 0  ->  J = 0, 0, 32/16 = 2, 2 + (32-2)/16 = 3.875,
    # 3.875 - 3.875/16 = 3.6328125 ticks; in ms at 8000 Hz: divide by 8
    arrivals = [(round(t * MS), TS0 + 128 * k) for k, t in enumerate((0, 16, 36, 48, 64))]
    assert media.interarrival_jitter(arrivals) == [0, 0, 0.25, 0.484375, 0.4541015625]


def test_jitter_handles_timestamp_wrap():
    arrivals = [(0, (1 << 32) - 128), (16 * MS, 0), (36 * MS, 128)]
    assert media.interarrival_jitter(arrivals) == [0, 0, 0.25]


def test_handover_without_buffering():
    """The old path until the move, one packet lost during the layer-2 switch, then the nCoA."""
    log = [pkt(k, 16 * k, OCOA) for k in range(10)] + \
          [pkt(k, 16 * k, NCOA) for k in range(11, 20)]
    m = media.media_metrics(log, Handover(150 * MS, 154 * MS, NCOA))
    assert m.l2_handoff_ms == 4.0
    assert m.l3_handoff_ms == 22.0            # 154 -> seq 11 at 176 on the nCoA
    assert m.handover_delay_ms == 26.0
    assert (m.packets_received, m.packets_expected, m.packets_lost, m.duplicates) == (19, 20, 1, 0)
    assert m.lost_sequences == (10,)
    assert m.inter_packet_interval_ms == 16.0
    assert m.inter_packet_during_handover_ms == 32.0 and m.handover_gaps == 1
    assert m.handover_gap_ms == 32.0 and m.arrival_excess_ms == 16.0
    assert m.jitter_ms == 0.0 and m.jitter_max_ms == 0.0      # a loss is no jitter
    assert m.buffering_period_ms is None and m.buffered_packets is None
    assert m.as_row()["lost_sequences"] == "10"


def _buffered_log() -> list[dict]:
    # MPA: the binding update moved the stream to the nCoA (through the tunnel) before the
    # move; seq 9 and 10, sent during the layer-2 switch (130-170 ms), are held by the nAR and
    # flushed at 171 and 171.5 ms; seq 11 onwards arrive on time
    return [pkt(k, 16 * k, NCOA) for k in range(9)] + [pkt(9, 171, NCOA), pkt(10, 171.5, NCOA)] \
        + [pkt(k, 16 * k, NCOA) for k in range(11, 20)]


def test_handover_with_buffering_counted_by_the_flush_event():
    log = _buffered_log()
    m = media.media_metrics(log, Handover(130 * MS, 170 * MS, NCOA, 20.0, 2))
    assert (m.l2_handoff_ms, m.l3_handoff_ms, m.handover_delay_ms) == (40.0, 1.0, 41.0)
    assert (m.packets_lost, m.duplicates) == (0, 0)
    # the gaps spanning the handover: 128 -> 171 and 171 -> 171.5 (the flushed packets)
    assert m.handover_gaps == 2 and m.inter_packet_during_handover_ms == pytest.approx(21.75)
    assert m.handover_gap_ms == pytest.approx(43.0)
    assert m.inter_packet_interval_ms == pytest.approx((16 * 16 + 4.5) / 17)
    assert (m.buffering_period_ms, m.buffered_packets, m.buffered_packets_source) == (20.0, 2, "event")
    expected_j = media.interarrival_jitter([(p["mono_ns"], p["rtp_ts"]) for p in log])
    assert m.jitter_ms == expected_j[10] > 0 and m.jitter_max_ms == max(expected_j)


def test_buffered_packets_without_a_flush_event_are_the_late_ones():
    m = media.media_metrics(_buffered_log(), Handover(130 * MS, 170 * MS, NCOA, 20.0))
    assert (m.buffered_packets, m.buffered_packets_source) == (2, "late")
    assert m.handover_gaps == 2


def test_duplicates_reordering_and_sequence_wrap():
    log = [pkt(65534, 0, OCOA), pkt(65535, 16, OCOA), pkt(65536, 32, OCOA),
           pkt(65536, 33, OCOA), pkt(65538, 48, OCOA), pkt(65537, 49, OCOA),
           pkt(65539, 64, OCOA)]
    m = media.media_metrics(log, Handover(100 * MS, 100 * MS, NCOA))
    assert (m.packets_received, m.packets_expected, m.packets_lost, m.duplicates) == (7, 6, 0, 1)
    assert m.l3_handoff_ms is None and m.handover_delay_ms is None


def test_other_ssrcs_are_ignored_and_too_short_logs_rejected():
    log = [pkt(k, 16 * k, OCOA) for k in range(5)] + [pkt(7, 1, OCOA, ssrc=99)]
    m = media.media_metrics(log, Handover(0, 0, None))
    assert m.packets_received == 5 and m.packets_lost == 0
    with pytest.raises(media.MediaError, match="need two"):
        media.media_metrics(log[:1], Handover(0, 0, None))


def test_non_mpa_l3_runs_until_the_first_packet_on_the_new_address():
    """Without MPA the address (DHCP, DAD) and the binding update come after the move."""
    log = [pkt(k, 16 * k, OCOA) for k in range(10)] + \
          [pkt(k, 16 * k, NCOA) for k in range(260, 270)]
    m = media.media_metrics(log, Handover(150 * MS, 155 * MS, NCOA))
    assert m.l3_handoff_ms == 16 * 260 - 155
    assert m.packets_lost == 250 and m.handover_gap_ms == 16 * 260 - 144


def test_handover_from_events_and_receiver_log(tmp_path):
    def ev(node, event, t_ms, **attrs):
        return {"node": node, "role": node, "event": event, "phase": "x",
                "mono_ns": round(t_ms * MS), "attrs": attrs}
    events = [
        ev("mn", "binding_update_start", 10, ncoa=NCOA, call_id="c"),
        ev("mn2", "l2_handoff_start", 120),
        ev("mn", "l2_handoff_start", 130), ev("mn", "l2_handoff_done", 170),
        ev("nar", "buffering_flushed", 170.5, mn="mn", packets=2),
        ev("mn2", "l2_handoff_done", 200),
    ]
    h = media.handover_from_events(events, "mn", buffering_period_ms=20.0)
    assert h == Handover(130 * MS, 170 * MS, NCOA, 20.0, 2)
    events[-2] = ev("nar", "buffer_flushed", 170.5, mn="mn", count=3)
    assert media.handover_from_events(events, "mn").buffered_packets == 3
    with pytest.raises(media.MediaError, match="no l2_handoff_start"):
        media.handover_from_events(events, "mn3")

    path = tmp_path / "rtp.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in _buffered_log())
                    + json.dumps({"mono_ns": 1, "error": "RTP version 1"}) + "\n")
    packets = media.read_receiver_log(path)
    assert len(packets) == 20
    series = media.arrival_series(packets, h)
    assert series[9] == {"t_ms": 41.0, "seq": 9, "address": NCOA}


def test_handover_of_an_mn_of_any_name_up_to_its_port_and_the_nars_flush_for_it():
    """The MN is 'phone'; the controller and the nAR name it in attrs (sta, mn); with 802.1X
    the link-layer handoff ends when the controlled port opens; another MN's events and a
    flush for another MN do not count."""
    def ev(node, event, t_ms, **attrs):
        return {"node": node, "role": node, "event": event, "phase": "x",
                "mono_ns": round(t_ms * MS), "attrs": attrs}
    events = [
        ev("phone", "ncoa_assigned", 5, ncoa="10.3.0.150"),
        ev("phone", "binding_update_start", 10, ncoa=NCOA),
        ev("phone", "l2_handoff_start", 130), ev("mn", "l2_handoff_start", 131),
        ev("phone", "l2_handoff_done", 140), ev("phone", "port_open", 152.5),
        ev("mn", "port_open", 150.0),
        ev("gate", "buffering_flushed", 153, mn="mn", packets=9, held_ms=1.0),
        ev("gate", "buffering_flushed", 154, mn="phone", packets=3, held_ms=40.2),
        ev("gate", "buffering_start", 100, mn="phone", period_ms=200.0)]
    h = media.handover_from_events(events, "phone")
    assert h == Handover(130 * MS, round(152.5 * MS), NCOA, 200.0, 3, 40.2)
    m = media.media_metrics(_buffered_log(), h)
    assert m.l2_handoff_ms == pytest.approx(22.5) and m.buffered_packets == 3
    assert m.buffering_period_ms == 200.0 and m.buffer_held_ms == 40.2


# ---- reference values (analysis/reference/rfc6252_fig6.csv, _fig7.csv, _nonmpa.csv) ----

def _rfc() -> str:
    return RFC.read_text()        # in the repository: docs/rfc/


@pytest.mark.parametrize("name, cases", [
    ("rfc6252_fig7", ["buffering-disabled", "buffering-enabled"]),
    ("rfc6252_fig6", ["buffering-disabled-ro-disabled", "buffering-enabled-ro-disabled",
                      "buffering-disabled-ro-enabled", "buffering-enabled-ro-enabled"]),
])
def test_figure_values_match_the_rfc_text(name, cases):
    text = _rfc()
    rows = load(name)
    by = {(r["case"], r["metric"]): r for r in rows}
    metrics = {m.name: m for m in media.METRICS}
    labelled = [m for m in media.METRICS if m.rfc_label]
    assert {r["metric"] for r in rows} == {m.name for m in labelled}
    assert len(rows) == len(labelled) * len(cases)
    for m in labelled:
        values = [by[(c, m.name)]["value"] for c in cases]
        line = "\t".join([m.rfc_label] + values)
        assert line in text, line
        assert all(by[(c, m.name)]["unit"] == metrics[m.name].unit for c in cases)
    for r in rows:                               # numbers or n/a, nothing else
        assert r["value"] == "n/a" or float(r["value"]) >= 0


def test_non_mpa_values_match_the_rfc_text():
    text = " ".join(_rfc().split())
    rows = load("rfc6252_nonmpa")
    names = {m.name for m in media.METRICS}
    assert len(rows) == 7
    for r in rows:
        assert r["quote"] in text, r["quote"]
        assert re.search(rf"(?<![\d.]){re.escape(r['value'])}(?![\d.])", r["quote"]), r
        assert r["metric"] in names
    by = {(r["case"], r["metric"]): (float(r["value"]), r["unit"]) for r in rows}
    assert by[("non-mpa", "handover_delay")] == (4.0, "s")
    assert by[("non-mpa", "packet_loss")] == (200.0, "packets")
    assert by[("inter-technology-mpa", "duplicates")] == (10.0, "packets")


def test_the_rfcs_jitter_is_the_arrival_excess():
    """Figures 6 and 7: "Avg. packet jitter" = "Avg. inter-packet arrival time during
    handover" - "Avg. inter-packet arrival interval" in every column (media.py docstring)."""
    for name in ("rfc6252_fig6", "rfc6252_fig7"):
        rows = load(name)
        by = {(r["case"], r["metric"]): r["value"] for r in rows}
        for case in {r["case"] for r in rows}:
            if by[(case, "jitter")] == "n/a":
                continue
            excess = float(by[(case, "inter_packet_during_handover")]) \
                - float(by[(case, "inter_packet_interval")])
            assert excess == pytest.approx(float(by[(case, "jitter")]))


CELL = "10.20.0.2"


def test_address_switch_with_copies_before_the_switch_of_the_stream():
    """Copy-and-forward: copies of 8..10 reach the new address 61 ms after their originals,
    while the old path still delivers 9..11; the stream moves after 11 (the CN's switch), its
    first packet 12 at 16*12+60. The handoff delay runs from 11 on the old address."""
    log = [pkt(k, 16 * k, OCOA) for k in range(12)] + \
        [pkt(k, 16 * k + 61, CELL) for k in (8, 9, 10)] + \
        [pkt(k, 16 * k + 60, CELL) for k in range(12, 16)]
    got = media.address_switch(log, OCOA, CELL)
    assert (got["duplicates"], got["packets_lost"]) == (3, 0)
    assert got["handoff_delay_ms"] == 16 * 12 + 60 - 16 * 11


def test_address_switch_make_before_break():
    """C.5.2 (b): the last packet on the old address at 160 ms, the first on the new one
    (60 ms radio one way) at 236 ms; nothing lost, none twice."""
    log = [pkt(k, 16 * k, OCOA) for k in range(11)] + \
        [pkt(k, 16 * k + 60, CELL) for k in range(11, 20)]
    got = media.address_switch(log, OCOA, CELL)
    assert got == {"packets_received": 20, "packets_lost": 0, "duplicates": 0,
                   "on_old_address": 11, "on_new_address": 9, "handoff_delay_ms": 76.0}


def test_address_switch_counts_loss_duplicates_and_a_missing_side():
    # 5 reaches the new address as a copy (copy-and-forward) after the old path delivered
    # it: a duplicate; the first in-handoff packet is 6
    log = [pkt(k, 16 * k, OCOA) for k in (0, 1, 2, 5)] + [pkt(5, 81, CELL), pkt(6, 96, CELL)]
    got = media.address_switch(log, OCOA, CELL)
    assert (got["packets_lost"], got["duplicates"], got["handoff_delay_ms"]) == (2, 1, 16.0)
    assert media.address_switch(log[:4], OCOA, CELL)["handoff_delay_ms"] is None
    assert media.address_switch([], OCOA, CELL)["packets_received"] == 0
