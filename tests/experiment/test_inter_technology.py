"""C.5.2's metrics (experiment/inter_technology.py) from hand-made receiver logs and events,
and the C.5.2 reference table checked against the RFC text."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator.analysis.reference import columns, load
from orchestrator.experiment import inter_technology as it
from orchestrator.experiment.media import MediaError

RFC = Path(__file__).resolve().parents[2] / "docs" / "rfc" / "rfc6252.md"
MS = 1_000_000
WLAN, CELL = "10.1.0.100", "10.20.0.2"


def pkt(seq: int, t_ms: float, address: str) -> dict:
    return {"mono_ns": round(t_ms * MS), "seq": seq % 65536, "rtp_ts": 128 * seq,
            "ssrc": 7, "dst": f"{address}:4000"}


def ev(name: str, t_ms: float, node: str = "mn", **attrs) -> dict:
    return {"node": node, "event": name, "phase": "switching", "mono_ns": round(t_ms * MS),
            "attrs": attrs}


def _mpa_events(powered_on: float = 100.0) -> list[dict]:
    """Power-up at 100 ms, session done at 4110, switch at 4200, re-INVITE 4201-4323, the
    WLAN left at 4330 (controller), end at 5000."""
    return [dict(ev("interface_powered_on", powered_on, iface="cdma0"),
                 phase="pre-configuration"),                    # prepared before the handover
            ev("radio_attached", powered_on + 4000, activation_ms=3000.0, attach_ms=1000.0),
            ev("cellular_session_start", powered_on + 4001),
            ev("cellular_session_done", powered_on + 4010, address=CELL, total_ms=9.0),
            ev("active_interface_changed", 4200, iface="cdma0", elapsed_ms=0.3),
            ev("binding_update_start", 4201),
            ev("binding_update_done", 4323),
            ev("disassociated", 4330, node="controller", sta="mn", reason="station_request"),
            ev("interface_released", 4331, iface="wlan0")]


def test_make_before_break_metrics():
    # WLAN packets every 16 ms until 4256; the first on the cellular address at 4332
    pkts = [pkt(k, 16 * k, WLAN) for k in range(267)] + \
        [pkt(k, 16 * k + 60, CELL) for k in range(267, 300)]
    got = it.handover_metrics(pkts, _mpa_events(), "mn", 0, 5000 * MS)
    assert got["handoff_delay"] == (pytest.approx(76.0), "ms")
    assert got["packet_loss"] == (0, "packets") and got["duplicates"] == (0, "packets")
    assert got["on_old_address"][0] == 267 and got["on_new_address"][0] == 33
    assert got["handover_total"][0] == pytest.approx(4332 - 4200)      # from the switch
    assert got["at_handover"] == got["handover_total"]                # both up: the same
    battery = [dict(e, phase="switching") if e["event"] == "interface_powered_on" else e
               for e in _mpa_events()]
    got = it.handover_metrics(pkts, battery, "mn", 0, 5000 * MS)
    assert got["at_handover"][0] == pytest.approx(4332 - 100)         # from the power-on
    assert got["handover_total"][0] == pytest.approx(4332 - 4200)
    assert got["preparation"][0] == pytest.approx(4010)               # power-on -> session
    assert got["both_interfaces_up"][0] == pytest.approx(4330 - 100)  # until the WLAN left
    assert got["binding_update"][0] == pytest.approx(122)
    assert got["link_down_detection"][0] is None                       # no link lost
    assert (got["activation"][0], got["attach"][0], got["cellular_session"][0]) == (3000, 1000, 9)
    assert "copy_forward_copies" not in got


def test_pre_authentication_key_installation_and_aaa_in_the_session_set_up():
    """MPA (s7.6.2): PANA through the WLAN and the gateway's key before the session, whose
    CHAP needs no Access-Request; the reactive session's one is counted."""
    pkts = [pkt(k, 16 * k, WLAN) for k in range(267)] + \
        [pkt(k, 16 * k + 60, CELL) for k in range(267, 300)]
    pre = [ev("preauth_start", 20, source=WLAN), ev("preauth_done", 50, elapsed_ms=30.0),
           ev("psk_installed", 52, node="pdsn", sta="02:00:00:00:00:01",
              kind="packet-data-gateway", elapsed_ms=1.5),
           ev("aaa_request", 30, node="pdsn", mn="mn@x"),         # PANA's, before the session
           ev("cellular_address_preconfigured", 55, address=CELL, elapsed_ms=2.5)]
    got = it.handover_metrics(pkts, pre + _mpa_events(), "mn", 0, 5000 * MS)
    assert got["pre_authentication"] == (30.0, "ms")
    assert got["address_preconfiguration"] == (2.5, "ms")
    assert got["key_installation"] == (1.5, "ms")
    assert got["aaa_in_session_setup"] == (0, "requests")
    chap = ev("aaa_request", 4105, node="pdsn", mn="mn@x", method="chap")
    got = it.handover_metrics(pkts, _mpa_events() + [chap], "mn", 0, 5000 * MS)
    assert got["aaa_in_session_setup"] == (1, "requests")
    assert "pre_authentication" not in got and "key_installation" not in got
    assert "address_preconfiguration" not in got


def test_reactive_metrics_run_from_the_link_loss():
    events = [ev("disassociated", 500, node="controller", sta="mn", reason="link_lost"),
              ev("link_down_detected", 800, iface="wlan0"),
              ev("interface_powered_on", 801, iface="cdma0"),
              ev("radio_attached", 4801, activation_ms=3000.0, attach_ms=1000.0),
              ev("cellular_session_done", 4810, address=CELL, total_ms=9.0),
              ev("active_interface_changed", 4811, iface="cdma0", elapsed_ms=0.2),
              ev("binding_update_start", 4812), ev("binding_update_done", 4934)]
    pkts = [pkt(k, 16 * k, WLAN) for k in range(32)] + \
        [pkt(k, 16 * k + 60, CELL) for k in range(310, 330)]
    got = it.handover_metrics(pkts, events, "mn", 0, 6000 * MS)
    assert got["link_down_detection"][0] == pytest.approx(300)
    assert got["packet_loss"][0] == 310 - 32
    assert got["handover_total"][0] == pytest.approx(16 * 310 + 60 - 500)
    assert got["handoff_delay"][0] == pytest.approx(16 * 310 + 60 - 16 * 31)
    assert got["both_interfaces_up"][0] == 0.0         # the cellular came up after the loss


def test_duplicates_and_copy_forward_counted():
    pkts = [pkt(k, 16 * k, WLAN) for k in range(20)] + \
        [pkt(k, 16 * k + 61, CELL) for k in range(15, 30)]     # 15..19 twice
    events = _mpa_events(-5000) + [ev("copy_forward_done", 400, node="ar-w", mn="mn", copies=5,
                                                      duration_ms=200.0),
                                   ev("copy_forward_done", 900, node="ar-w", mn="other", copies=9)]
    got = it.handover_metrics(pkts, events, "mn", -6000 * MS, 5000 * MS)
    assert got["duplicates"] == (5, "packets") and got["packet_loss"] == (0, "packets")
    assert got["copy_forward_copies"] == (5, "packets")
    assert got["copy_forward_period"] == (200.0, "ms")


def test_both_up_counts_only_the_overlap_inside_the_repetition():
    events = [ev("interface_powered_on", 100), ev("interface_powered_off", 900),
              ev("disassociated", 1200, node="controller", sta="mn", reason="station_request")]
    assert it.both_up_ms(events, "mn", 0, 2000 * MS) == pytest.approx(800)
    assert it.both_up_ms(events, "mn", 0, 500 * MS) == pytest.approx(400)     # cut at t1
    assert it.both_up_ms(events[2:], "mn", 0, 2000 * MS) == 0.0               # never powered
    other = [dict(e, attrs={**e["attrs"], "sta": "mn2"}) if e["node"] == "controller" else e
             for e in events[:1]]
    assert it.both_up_ms(other, "mn", 0, 2000 * MS) == pytest.approx(1900)  # WLAN to the end


def test_missing_session_or_stream_is_an_error():
    with pytest.raises(MediaError, match="cellular_session_done"):
        it.handover_metrics([pkt(0, 0, WLAN), pkt(1, 16, WLAN)], [], "mn", 0, MS)
    with pytest.raises(MediaError, match="RTP packets"):
        it.handover_metrics([pkt(0, 0, WLAN)], _mpa_events(), "mn", 0, 5000 * MS)


def test_c52_reference_values_match_the_rfc_text():
    text = " ".join(RFC.read_text().split())
    rows = load("rfc6252_c52")
    names = {m.name for m in it.METRICS}
    axis, cases = columns("rfc6252_c52")
    assert axis == "scenarios" and cases == ["reactive", "mpa-both-up", "mpa-at-handover"]
    for r in rows:
        assert r["quote"] in text, r["quote"]
        assert r["metric"] in names and r["case"] in cases
        value = float(r["value"]) / (1000 if r["unit"] == "ms" and "sec" in r["quote"] else 1)
        assert re.search(rf"(?<![\d.]){value:g}(?![\d.])", r["quote"]), r
    by = {(r["case"], r["metric"]): (float(r["value"]), r["bound"]) for r in rows}
    assert by[("reactive", "handover_total")] == (18000.0, "at most")
    assert by[("mpa-at-handover", "handoff_delay")] == (50.0, "about")


def test_the_stream_is_read_from_stream_before_the_trigger():
    mpa = _mpa_events()
    assert it.window_start(mpa, "mn", 0, 0.5) == (4200 - 500) * MS          # the switch
    lost = [ev("disassociated", 800, node="controller", sta="mn", reason="link_lost")]
    assert it.window_start(lost, "mn", 0, 0.5) == 300 * MS                  # the link loss
    assert it.window_start(lost, "mn", 0, 2.0) == 0                         # not before t0
    assert it.window_start([], "mn", 7, 0.5) == 7


def _tunnel_case(copies: int = 0) -> tuple[list[dict], list[dict]]:
    """RFC 6252 s7.4/s7.5 in C.5.2: the WLAN address over wlan0 until 1000 ms; the re-INVITE
    through the tunnel at 990-995 (answered before the switch); the cellular address through
    the tunnel (ipsec0) from 1008 (the CN's next packet) until the switch at 4200, then over
    the radio (cdma0, 60 ms one way). With `copies`, the tunnel's end also sends the first
    `copies` packets after the switch through the tunnel (they arrive twice)."""
    def at(seq, t, address, iface):
        return {**pkt(seq, t, address), "iface": iface}
    pkts = [at(k, 16 * k, WLAN, "wlan0") for k in range(63)]                   # .. 992
    pkts += [at(k, 16 * k, CELL, "ipsec0") for k in range(63, 263)]            # 1008 .. 4192
    pkts += [at(k, 16 * k + 60, CELL, "cdma0") for k in range(263, 300)]       # 4268 ..
    pkts += [at(k, 16 * k + 1, CELL, "ipsec0") for k in range(263, 263 + copies)]
    events = [ev("pht_setup_start", 500, inner=CELL),
              ev("pht_established", 520, inner=CELL, tun="ipsec0"),
              ev("binding_update_start", 990), ev("binding_update_done", 995),
              dict(ev("interface_powered_on", 1100, iface="cdma0"), phase="pre-configuration"),
              ev("radio_attached", 1400, iface="cdma0", activation_ms=200.0, attach_ms=100.0),
              ev("cellular_session_start", 1401),
              ev("cellular_session_done", 2000, address=CELL, total_ms=599.0),
              ev("active_interface_changed", 4200, iface="cdma0", elapsed_ms=0.2),
              ev("pht_disabled", 4201, node="pdsn", mn="mn", ncoa=CELL),
              ev("disassociated", 4210, node="controller", sta="mn", reason="station_request")]
    return pkts, events


def test_binding_update_through_the_tunnel_before_the_switch():
    """The stream moves to the cellular address over the WLAN (through the tunnel) when the
    re-INVITE is answered, and to the cellular interface at the switch: the handoff delay
    is read by interface (last on wlan0/ipsec0 -> first on cdma0), the address switch
    separately; the switch -> first in-handoff packet is the radio's one way and up to one
    RTP interval."""
    pkts, events = _tunnel_case()
    got = it.handover_metrics(pkts, events, "mn", 0, 5000 * MS)
    assert got["handoff_delay"][0] == pytest.approx(16 * 263 + 60 - 16 * 262)       # 76
    assert got["address_switch_delay"][0] == pytest.approx(16)                      # 992 -> 1008
    assert got["on_tunnel"] == (200, "packets") and got["tunnel_setup"] == (20.0, "ms")
    assert got["bound_before_switch"] == (1, "")
    assert got["handover_total"][0] == pytest.approx(16 * 263 + 60 - 4200)
    assert got["at_handover"] == got["handover_total"]
    assert got["packet_loss"] == (0, "packets") and got["duplicates"] == (0, "packets")
    assert got["on_old_address"][0] == 63 and got["on_new_address"][0] == 237
    # the stream is read from before the re-INVITE, not from before the switch
    assert it.window_start(events, "mn", 0, 0.5) == (990 - 500) * MS


def test_copies_through_the_tunnel_are_duplicates_not_the_handoff():
    pkts, events = _tunnel_case(copies=4)
    events += [ev("copy_forward_done", 4400, node="pdsn", mn="mn", copies=4, duration_ms=64.0)]
    got = it.handover_metrics(pkts, events, "mn", 0, 5000 * MS)
    assert got["duplicates"] == (4, "packets") and got["copy_forward_copies"] == (4, "packets")
    # the first new sequence number on cdma0 (267) follows the last copy (266) through the tunnel
    assert got["handoff_delay"][0] == pytest.approx(16 * 267 + 60 - (16 * 266 + 1))
    assert got["on_tunnel"][0] == 204


def test_a_binding_update_after_the_switch_is_not_bound_before_it():
    pkts = [pkt(k, 16 * k, WLAN) for k in range(267)] + \
        [pkt(k, 16 * k + 60, CELL) for k in range(267, 300)]
    got = it.handover_metrics(pkts, _mpa_events(), "mn", 0, 5000 * MS)
    assert got["bound_before_switch"] == (0, "")
    assert "tunnel_setup" not in got and "on_tunnel" not in got
    # a log without interfaces is read by address: both delays are the same
    assert got["address_switch_delay"] == got["handoff_delay"]
