"""phases.handover_times, where Figure 10's numbers come from, on synthetic events (no root):
each scheme's phases from the right events and the right side of the move, whatever the
MN and the PAA are called; events of other nodes and earlier repetitions ignored; a missing
event is a PhaseError naming it."""
import pytest

from orchestrator.experiment.phases import (DEFINITIONS, PHASES, PhaseError, handover_times,
                                            sip_handover_parts)

MN, PAA = "phone", "gate"


def ev(node, event, ms, **attrs):
    return {"node": node, "role": "x", "event": event, "phase": "switching",
            "mono_ns": int(1_000_000_000 + ms * 1e6), "wall": 0.0, "attrs": attrs}


def move(at=1000.0, mn=MN, assoc=12.0, fourway_at=14.0, port=17.5):
    """The move: request at `at`, response `assoc` later, 4-way from `fourway_at`, port open."""
    return [ev(mn, "l2_handoff_start", at, bssid="b1"),
            ev("controller", "associated", at + assoc - 0.5, sta=mn, ap="x"),
            ev(mn, "l2_handoff_done", at + assoc, bssid="b1"),
            ev(mn, "fourway_start", at + fourway_at, bssid="b1"),
            ev("ap-x", "fourway_start", at + fourway_at - 0.3, sta=mn),
            ev(mn, "fourway_done", at + port - 1.0, bssid="b1"),
            ev(mn, "port_open", at + port, bssid="b1")]


def test_post_authentication_eap_after_the_move():
    events = move(port=80.0, fourway_at=75.0) + [
        ev(MN, "eap_start", 1015.0, mode="eap"), ev(MN, "eap_done", 1074.0, mode="eap"),
        ev(MN, "eap_start", 10.0, mode="eap"), ev(MN, "eap_done", 70.0, mode="eap")]  # clean state
    t = handover_times(events, "dot11i-post-authentication", MN)
    assert t["Tauth"] == pytest.approx(59.0)
    assert t["Tassoc"] == pytest.approx(12.0) and t["T4way"] == pytest.approx(5.0)
    assert t["Tassoc+4way"] == pytest.approx(17.0)
    assert t["Total"] == pytest.approx(59.0 + 17.0) and "Tconf" not in t
    assert t["Time affecting handover"] == pytest.approx(80.0)      # EAP inside the handover


def test_80211i_pre_authentication_before_the_move():
    events = [ev(MN, "eap_start", 100.0, mode="preauth"), ev(MN, "eap_done", 199.0, mode="preauth"),
              ev(MN, "eap_start", 1020.0, mode="eap"), ev(MN, "eap_done", 1021.0, mode="eap"),
              *move()]
    t = handover_times(events, "dot11i-pre-authentication", MN)
    assert t["Tauth"] == pytest.approx(99.0)
    assert t["Time affecting handover"] == pytest.approx(17.5)
    assert t["Total"] == pytest.approx(99.0 + 15.5)


def test_mpa_with_tconf_from_the_paa_of_the_target_network():
    events = [ev(MN, "preauth_start", 100.0, paa="10.1.0.1"), ev(MN, "preauth_done", 277.0),
              ev(PAA, "psk_install_start", 278.0, sta=MN),
              ev("other-paa", "psk_install_start", 279.0, sta=MN),
              ev(PAA, "tconf_done", 294.0, sta=MN), *move()]
    t = handover_times(events, "mpa-l2-pre-authentication", MN, PAA)
    assert (t["Tauth"], t["Tconf"]) == (pytest.approx(177.0), pytest.approx(16.0))
    assert t["Total"] == pytest.approx(177.0 + 16.0 + 15.5)
    assert set(t) == set(PHASES)
    with pytest.raises(PhaseError, match="PAA"):
        handover_times(events, "mpa-l2-pre-authentication", MN)


def test_the_last_move_and_the_last_4way_before_the_port_opens():
    """A repetition's events can hold an earlier move (the clean state); a retransmitted
    message 1 restarts the handshake: T4way runs from its last start."""
    earlier = move(at=10.0)
    events = earlier + [ev(MN, "eap_start", 1100.0, mode="preauth"),
                        ev(MN, "eap_done", 1150.0, mode="preauth")] + move(at=2000.0, port=120.0)
    events.insert(-1, ev(MN, "fourway_start", 2115.0, bssid="b1"))     # after msg 1 again
    t = handover_times(events, "dot11i-pre-authentication", MN)
    assert t["Tassoc"] == pytest.approx(12.0)
    assert t["T4way"] == pytest.approx(5.0)
    assert t["Time affecting handover"] == pytest.approx(120.0)


def test_other_mobile_nodes_do_not_count():
    events = move(mn="mn") + move(at=1500.0)
    t = handover_times(events + [ev(MN, "preauth_start", 0.0), ev(MN, "preauth_done", 5.0),
                                 ev(PAA, "psk_install_start", 6.0), ev(PAA, "tconf_done", 9.0)],
                       "mpa-l2-pre-authentication", MN, PAA)
    assert t["Tassoc"] == pytest.approx(12.0) and t["Tauth"] == pytest.approx(5.0)
    with pytest.raises(PhaseError, match="no 'l2_handoff_start' event from nobody"):
        handover_times(events, "dot11i-post-authentication", "nobody")


@pytest.mark.parametrize("missing", ["l2_handoff_done", "port_open", "fourway_start"])
def test_a_missing_event_is_named(missing):
    events = [e for e in move() if not (e["node"] == MN and e["event"] == missing)]
    events += [ev(MN, "eap_start", 1015.0, mode="eap"), ev(MN, "eap_done", 1016.0, mode="eap")]
    with pytest.raises(PhaseError, match=f"no '{missing}' event from {MN}"):
        handover_times(events, "dot11i-post-authentication", MN)


def test_pre_authentication_after_the_move_is_not_pre_authentication():
    events = move() + [ev(MN, "eap_start", 1030.0, mode="preauth"),
                       ev(MN, "eap_done", 1031.0, mode="preauth")]
    with pytest.raises(PhaseError, match="eap_start"):
        handover_times(events, "dot11i-pre-authentication", MN)
    with pytest.raises(PhaseError, match="unknown scheme"):
        handover_times(move(), "sip-mpa", MN)


def test_every_phase_has_a_definition():
    assert set(DEFINITIONS) == set(PHASES)


def test_sip_handover_parts_of_a_named_mn():
    events = [ev(MN, "pre_switching_start", 0.0), ev(MN, "pre_switching_done", 2.0),
              *move(at=10.0), ev(MN, "eap_start", 11.0, mode="preauth"),
              ev(MN, "post_switching_start", 30.0), ev(MN, "post_switching_done", 31.5),
              ev("mn", "post_switching_start", 30.0), ev("mn", "post_switching_done", 90.0)]
    parts = sip_handover_parts(events, MN)
    assert parts == {"Tpresw": pytest.approx(2.0), "Tassoc": pytest.approx(12.0),
                     "Tassoc+4way": pytest.approx(17.5), "Tpostsw": pytest.approx(1.5)}
