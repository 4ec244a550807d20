"""C.4's record values of one movement (experiment/multi_ctn.py) from synthetic events, a
synthetic receiver log and a synthetic driver summary (no root)."""
import pytest

from orchestrator.experiment.multi_ctn import (binding_update_values, c4_values,
                                               signalling_values, stream_values,
                                               transient_values)

MS = 1_000_000
PORT = 4000


def pkt(seq, t_ms, host):
    return {"mono_ns": int(t_ms * MS), "seq": seq, "ssrc": 7, "dst": f"{host}:{PORT}"}


def ev(node, event, t_ms, **attrs):
    return {"node": node, "event": event, "mono_ns": int(t_ms * MS), "attrs": attrs}


def scheme3_stream():
    """oCoA 10.2.0.100 until 100 ms, then nCoA A, C and D through their tunnels (each
    packet three times) until the handover at 1000 ms; two packets lost in it; then A only."""
    out = [pkt(s, s * 16, "10.2.0.100") for s in range(7)]
    for s in range(7, 62):
        out += [pkt(s, s * 16 + i, h) for i, h in enumerate(("10.1.0.50", "10.3.0.50", "10.4.0.50"))]
    out += [pkt(s, s * 16 + 20, "10.1.0.50") for s in range(64, 100)]
    return out


def test_stream_values_count_ncoas_loss_duplicates_and_the_media_delay():
    v = stream_values(scheme3_stream(), 1000 * MS, "10.1.0.50")
    assert v["stream_ncoas_before"] == (3, "count")                 # oCoA not counted
    assert v["packets_lost"] == (2, "count")                         # 62 and 63
    assert v["duplicates"] == (2 * 55, "count")
    assert v["media_handover_delay"] == (64 * 16 + 20 - 1000, "ms")
    one = stream_values([pkt(s, s * 16, "10.2.0.100") for s in range(10)], None, None)
    assert one == {"stream_packets": (10, "count"), "packets_lost": (0, "count"),
                   "duplicates": (0, "count")}
    assert stream_values([], 0, "x") == {"stream_packets": (0, "count")}
    wrapped = [pkt(s % 65536, i, "a") for i, s in enumerate(range(65530, 65540)) if s != 65537]
    assert stream_values(wrapped, None, None)["packets_lost"] == (1, "count")
    # with MPA the nCoA got packets through the tunnel during the layer-2 handoff: the
    # delay runs to the first one once the link is up
    v = stream_values(scheme3_stream(), 990 * MS, "10.1.0.50", link_up_ns=1040 * MS)
    assert v["media_handover_delay"] == (64 * 16 + 20 - 990, "ms")
    tunnel = [pkt(s, s * 16, "10.1.0.50") for s in range(70)]
    assert stream_values(tunnel, 500 * MS, "10.1.0.50", 530 * MS)["media_handover_delay"] \
        == (34 * 16 - 500, "ms")
    never = stream_values([pkt(1, 1, "a")], 0, "b")
    assert never["media_handover_delay"] == (None, "ms")


def test_transient_values_from_the_cns_events():
    events = [ev("cn", "transient_streams_start", 100, transient=["10.3.0.50:4000"]),
              ev("cn", "transient_streams_end", 900, packets=50, octets=8600, duration_ms=800.0,
                 streams={"10.3.0.50:4000": [50, 8600]}),
              ev("cn", "transient_streams_start", 950, transient=["10.3.0.50:4000",
                                                                  "10.4.0.50:4000"]),
              ev("cn", "transient_streams_end", 1100, packets=20, octets=3440,
                 duration_ms=150.0, streams={"10.3.0.50:4000": [10, 1720],
                                             "10.4.0.50:4000": [10, 1720]})]
    v = transient_values(events)
    assert v["transient_packets"] == (70, "count") and v["transient_octets"] == (12040, "octets")
    assert v["transient_seconds"] == (0.95, "s") and v["transient_addresses"] == (2, "count")
    assert v["transient_unended"] == (0, "count")
    assert transient_values(events[:3])["transient_unended"] == (1, "count")
    assert transient_values([])["transient_packets"] == (0, "count")


def test_signalling_and_binding_update_values():
    sig = signalling_values({"pana": {"messages": 12, "octets": 3000},
                             "dhcp": {"messages": 4, "octets": 1400}, "esp": {"messages": 9,
                                                                             "octets": 900}})
    assert sig["pana_messages"] == (12, "count") and sig["ikev2_messages"] == (0, "count")
    assert sig["signalling_messages"] == (16, "count")               # ESP is not signalling
    assert sig["signalling_octets"] == (4400, "octets")
    assert signalling_values(None) == {}
    bus = [{"when": "before", "contacts": ["a"], "status": "ok"},
           {"when": "before", "contacts": ["a", "c", "d"], "status": "ok"},
           {"when": "before", "contacts": ["a", "c", "d", "e"], "status": "failed"},
           {"when": "after", "contacts": ["a"], "status": "ok"}]
    assert binding_update_values(bus) == {"binding_updates": (4, "count"),
                                          "binding_updates_before": (2, "count"),
                                          "contacts_max": (3, "count")}
    assert binding_update_values([]) == {}


def test_c4_values_of_a_repetition_find_the_handover_and_the_new_address():
    events = [ev("mn", "l2_handoff_start", 1000), ev("mn", "l2_handoff_done", 1012),
              ev("mn", "ncoa_assigned", 1010, ncoa="10.1.0.50")]
    detail = {"movement": {"binding_updates": [{"when": "before", "contacts": ["10.1.0.50"],
                                                "status": "ok"}]},
              "signalling": {"sip": {"messages": 6, "octets": 3000}}, "stream": scheme3_stream()}
    v = c4_values(events, detail, "mn", 990 * MS)
    assert v["media_handover_delay"] == (44.0, "ms") and v["sip_messages"] == (6, "count")
    assert v["transient_packets"] == (0, "count") and v["binding_updates"] == (1, "count")
    no_call = c4_values(events, {"movement": {}, "signalling": None, "stream": None}, "mn", 0)
    assert no_call == {}


def test_signalling_window_ends_at_the_handover_and_sip_at_the_final_reinvite():
    from orchestrator.experiment.multi_ctn import signalling_window
    summary = {"handovers": [{"t": 0.0, "delay_ms": 30.0, "prepared": "none", "reason": "attach"},
                             {"t": 11.5, "delay_ms": 50.0, "prepared": "pre-configured",
                              "reason": "better-candidate"},
                             {"t": 30.0, "delay_ms": 40.0, "prepared": "pre-configured",
                              "reason": "better-candidate"}],
               "binding_updates": [{"t": 8.0, "done_t": 8.01, "when": "before"},
                                   {"t": 11.56, "done_t": 11.62, "when": "after"}]}
    w = signalling_window(summary, 1000.0)
    assert w["pana"] == w["ikev2"] == w["dhcp"] == pytest.approx(1011.55)
    assert w["sip"] == pytest.approx(1011.62)
    del summary["binding_updates"][1]
    assert signalling_window(summary, 0.0)["sip"] == pytest.approx(11.55)
    assert signalling_window({"handovers": summary["handovers"][:1]}, 0.0) is None


def test_buffering_values_from_the_access_routers_events():
    """C.4's buffering alternative: what the target access router held for this MN from the
    handover on and whether the MN's ATTACHED ended each hold; another MN's, or one before
    the handover, do not count."""
    from orchestrator.experiment.multi_ctn import buffering_values
    events = [ev("ar-a", "buffering_start", 500, mn="mn", ncoa="10.1.0.50", period_ms=1000),
              ev("ar-a", "buffering_flushed", 520, mn="mn", packets=9, held_ms=15.0,
                 reason="MN attached", dropped=0),                       # before the handover
              ev("ar-c", "buffering_start", 1001, mn="other", ncoa="10.3.0.51"),
              ev("ar-c", "buffering_flushed", 1050, mn="other", packets=5, held_ms=40.0,
                 reason="MN attached", dropped=0),
              ev("ar-a", "buffering_start", 1002, mn="mn", ncoa="10.1.0.50", period_ms=1000),
              ev("ar-a", "buffering_flushed", 1040, mn="mn", packets=3, held_ms=33.5,
                 reason="MN attached", dropped=0)]
    v = buffering_values(events, "mn", 1000 * MS)
    assert v == {"buffered_packets": (3, "count"), "buffer_held": (33.5, "ms"),
                 "buffer_flushed_by_attached": (1.0, "bool"), "buffer_dropped": (0, "count")}
    capped = events[:-1] + [ev("ar-a", "buffering_flushed", 2002, mn="mn", packets=60,
                               held_ms=1000.0, reason="period expired", dropped=0)]
    assert buffering_values(capped, "mn", 1000 * MS)["buffer_flushed_by_attached"] == (0.0, "bool")
    never = buffering_values(events[:-1], "mn", 1000 * MS)           # armed, never flushed
    assert never["buffer_flushed_by_attached"] == (0.0, "bool")
    assert never["buffered_packets"] == (0, "count") and never["buffer_held"] == (None, "ms")
    assert buffering_values(events[:4], "mn", 1000 * MS) == {"buffered_packets": (0, "count")}
    assert buffering_values(events, "mn", None) == {}


def test_c4_values_report_the_binding_update_at_the_handover_and_the_buffer():
    events = [ev("mn", "l2_handoff_start", 1060), ev("mn", "l2_handoff_done", 1090),
              ev("ar-a", "buffering_start", 1055, mn="mn", ncoa="10.1.0.50"),
              ev("mn", "ncoa_assigned", 1092, ncoa="10.1.0.50"),
              ev("ar-a", "buffering_flushed", 1095, mn="mn", packets=2, held_ms=30.0,
                 reason="MN attached", dropped=0)]
    detail = {"movement": {"handovers": [{"start_ns": 1000 * MS, "binding_update_ms": 48.5}],
                           "binding_updates": [{"when": "handover", "contacts": ["10.1.0.50"],
                                                "status": "ok"}]},
              "signalling": None, "stream": [pkt(s, s * 16, "10.1.0.50") for s in range(60, 80)]}
    v = c4_values(events, detail, "mn", 1000 * MS)
    assert v["handover_binding_update"] == (48.5, "ms") and v["buffered_packets"] == (2, "count")
    assert v["transient_packets"] == (0, "count") and v["binding_updates_before"] == (0, "count")
