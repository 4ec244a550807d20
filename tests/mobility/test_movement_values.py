"""experiment/movement.py without a network: the plan of a movement (signals fixed by the
topology's radio), and one repetition's events + the MN's summary -> record values (C.6)."""
import pytest

from orchestrator.experiment.movement import movement_values, plan
from orchestrator.model.load import load_topology_text
from orchestrator.model.movement import MovementSpec
from tests.mobility.test_movement_yaml import TOPOLOGY

MS = 1_000_000


def spec(**policy):
    return MovementSpec.model_validate({
        "path": {"line": {"from": ["5m", "0m"], "to": ["55m", "0m"]}, "speed": "10m/s"},
        "policy": {"pre_configure_below": "none", **policy}, "sample_interval": "100ms"})


def test_the_plan_hears_what_the_radio_says():
    topo = load_topology_text(TOPOLOGY)
    p = plan(topo, spec())
    assert len(p.times) == 51 and p.times[-1] == pytest.approx(5.0)
    assert p.networks == {"west": "hall", "east": "yard"}
    assert p.paas == {"yard": "r-yard"}             # found by role on the AP's network
    # the same seed gives the same signals; the scan keeps only what is heard
    again = plan(topo, spec())
    assert p.rssi == again.rssi
    quiet = plan(topo, spec(sensitivity="-60dBm"))
    for i in range(len(p.times)):
        assert set(quiet.scan(i)) == {ap for ap, v in p.rssi.items() if v[i] >= -60}
    assert p.rssi["west"][0] > p.rssi["west"][-1] and p.rssi["east"][0] < p.rssi["east"][-1]


def ev(node, event, ms, **attrs):
    return {"node": node, "event": event, "mono_ns": ms * MS, "attrs": attrs}


def detail(handovers, actions, params=None):
    return {"movement": {"handovers": handovers, "actions": actions, "ping_pongs": 0,
                         "completions": []},
            "late_ms": {"max": 1.5, "mean": 0.2},
            "plan": {"params": params or {"pre_configure_below": None},
                     "paas": {"yard": "r-yard"}, "mean_speed": 10.0,
                     "distance_at": [[0.0, 0.0], [1.0, 10.0], [2.0, 20.0]]}}


def handover(t, start_ms, pmksa, how="l2", prepared="pre-authenticated", status="ok"):
    return {"t": t, "ap": "east", "source": "west", "network": "yard", "prepared": prepared,
            "reason": "better-candidate", "ping_pong": False, "how": how, "pmksa": pmksa,
            "status": status, "error": "", "delay_ms": 12.5, "start_ns": start_ms * MS}


EVENTS = [ev("walker", "discovery_start", 100), ev("walker", "discovery_done", 104),
          ev("walker", "preauth_start", 110), ev("walker", "preauth_done", 410),
          ev("r-yard", "psk_install_start", 412), ev("r-yard", "tconf_done", 420),
          ev("walker", "l2_handoff_start", 1500), ev("walker", "l2_handoff_done", 1503),
          ev("walker", "port_open", 1511)]


def test_a_prepared_handover():
    d = detail([handover(1.51, 1499, "mpa")],
               [{"t": 0.1, "kind": "discover"},
                {"t": 1.5, "kind": "handover", "ap": "east", "prepared": "pre-authenticated"},
                {"t": 1.5, "kind": "discover"}])      # in the new network: not this one's D
    v = movement_values(EVENTS, d, "walker")
    assert v["mpa_completed"] == (1.0, "bool")
    assert v["Tdisc"] == (4.0, "ms") and v["Tauth"] == (300.0, "ms") and v["Tpsk"] == (8.0, "ms")
    assert v["Time affecting handover"] == (11.0, "ms")
    assert v["handover_delay"] == (12.5, "ms")
    assert v["D"][0] == pytest.approx(14.0) and v["window"][0] == pytest.approx(1400.0)
    assert "Tconf" not in v and v["speed"] == (10.0, "m/s")
    assert v["eap_handovers"] == (0, "count")


def test_a_handover_that_needed_eap_is_not_a_success():
    d = detail([handover(0.2, 1499, "eap", prepared="pre-authenticating")],
               [{"t": 0.1, "kind": "discover"}])
    v = movement_values(EVENTS + [ev("walker", "eap_start", 1504, mode="eap")], d, "walker")
    assert v["mpa_completed"] == (0.0, "bool") and v["eap_handovers"] == (1, "count")


def test_with_pre_configuration_success_is_mpas_own_handover():
    params = {"pre_configure_below": -75.0}
    events = EVENTS + [ev("walker", "address_request", 430), ev("walker", "pht_established", 520, ctn="yard")]
    l2 = detail([handover(1.5, 1499, "mpa", how="l2")], [], params)
    mpa = detail([handover(1.5, 1499, "mpa", how="mpa", prepared="pre-configured")], [], params)
    assert movement_values(events, l2, "walker")["mpa_completed"] == (0.0, "bool")
    v = movement_values(events, mpa, "walker")
    assert v["mpa_completed"] == (1.0, "bool") and v["Tconf"] == (90.0, "ms")
    # C.4's costs: one PANA session, one tunnel held from 520 ms to the handover (1499 ms),
    # where it becomes the MN's address
    assert v["preauthentications"] == (1, "count") and v["preconfigurations"] == (1, "count")
    assert v["tunnel_seconds"][0] == pytest.approx(0.979)


def test_same_network_handovers_do_not_count_and_none_is_no_verdict():
    same = dict(handover(1.0, 900, "mpa"), prepared="same-network")
    v = movement_values(EVENTS, detail([same], []), "walker")
    assert v["mpa_completed"] == (None, "bool") and v["handovers"] == (1, "count")
