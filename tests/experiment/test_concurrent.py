"""Concurrent handovers (issue 17): arrivals, one MN's view of a crowded repetition, per-MN
times, and the experiment file's `concurrent:` block (orchestrator/experiment/concurrent.py,
model/experiment.py). The deployed version is tests/integration/test_concurrent.py."""
import math
import statistics
from pathlib import Path

import pytest

from orchestrator.experiment.concurrent import (ARRIVAL_PHASE, arrival_offsets, events_of,
                                                measure)
from orchestrator.model.experiment import ExperimentError, load_experiment
from orchestrator.model.units import parse_rate

REPO = Path(__file__).resolve().parents[2]
FIG9 = REPO / "topologies" / "fig9-l2-preauth-roaming.yaml"


def test_simultaneous_arrivals_are_all_at_zero():
    assert arrival_offsets(4, "simultaneous", None, 1, "s", 1) == [0.0] * 4


def test_poisson_arrivals_are_seeded_increasing_and_exponential():
    a = arrival_offsets(2000, "poisson", 20.0, 17, "crowd", 1)
    assert a == arrival_offsets(2000, "poisson", 20.0, 17, "crowd", 1)       # reproducible
    assert a != arrival_offsets(2000, "poisson", 20.0, 17, "crowd", 2)       # per repetition
    assert a != arrival_offsets(2000, "poisson", 20.0, 18, "crowd", 1)       # per seed
    gaps = [b - a_ for a_, b in zip([0.0] + a, a)]
    assert all(g > 0 for g in gaps)
    assert statistics.mean(gaps) == pytest.approx(1 / 20, rel=0.1)
    # exponential of rate 20/s: P(gap > x) = exp(-20 x) at a few x
    for x in (0.01, 0.05, 0.1):
        assert sum(g > x for g in gaps) / len(gaps) == pytest.approx(math.exp(-20 * x), abs=0.03)


def test_poisson_without_a_rate_is_refused():
    with pytest.raises(ValueError):
        arrival_offsets(3, "poisson", None, 1, "s", 1)


@pytest.mark.parametrize("text,per_s", [("20/s", 20.0), ("90/min", 1.5), ("3600/h", 1.0),
                                        ("0.5 / s", 0.5)])
def test_rates(text, per_s):
    assert parse_rate(text) == pytest.approx(per_s)


@pytest.mark.parametrize("bad", [20, "20", "20/ms", "0/s", "-1/s", True, "x/s"])
def test_bad_rates(bad):
    with pytest.raises(ValueError):
        parse_rate(bad)


def ev(node, event, ns, **attrs):
    return {"node": node, "event": event, "mono_ns": ns, "attrs": attrs}


def crowd_events():
    """Two MNs pre-authenticating with one PAA at once: the PAA's key installations for
    mn2's station start first."""
    out = []
    for mn, sta, t in (("mn1", "02:00:00:00:00:01", 1000), ("mn2", "02:00:00:00:00:02", 1001)):
        ms = lambda x: (t + x) * 1_000_000  # noqa: E731
        out += [ev(mn, "preauth_start", ms(0)), ev(mn, "preauth_done", ms(300)),
                ev("nar", "psk_install_start", ms(305 - 3 * (mn == "mn2")), sta=sta),
                ev("nar", "tconf_done", ms(310 + 5 * (mn == "mn1")), sta=sta),
                ev(mn, "l2_handoff_start", ms(400)), ev(mn, "l2_handoff_done", ms(405)),
                ev(mn, "fourway_start", ms(406)), ev(mn, "port_open", ms(410))]
    return sorted(out, key=lambda e: e["mono_ns"])


STATIONS = {"mn1": "02:00:00:00:00:01", "mn2": "02:00:00:00:00:02"}


def test_one_mn_sees_its_own_events_and_the_paa_s_about_its_station():
    mine = events_of(crowd_events(), "mn1", STATIONS["mn1"], "nar")
    assert {e["node"] for e in mine} == {"mn1", "nar"}
    assert all(e["attrs"]["sta"] == STATIONS["mn1"] for e in mine if e["node"] == "nar")


def test_each_mn_gets_its_own_tconf_and_arrival_time():
    class S:
        flow = "mpa-l2-pre-authentication"
    results = {"mn1": (999_000_000, {}, ""), "mn2": (1000_000_000, {}, "")}
    out = measure(crowd_events(), S, ["mn1", "mn2", "mn3"], STATIONS, "nar",
                  {**results, "mn3": (None, None, "AgentError: no answer")})
    (t1, e1), (t2, e2), (t3, e3) = out["mn1"], out["mn2"], out["mn3"]
    assert not e1 and not e2 and t3 == {} and "no answer" in e3
    assert t1["Tconf"] == pytest.approx(10.0) and t2["Tconf"] == pytest.approx(8.0)
    assert t1["Tauth"] == pytest.approx(300.0) and t2["Time affecting handover"] == pytest.approx(10.0)
    assert t1[ARRIVAL_PHASE] == pytest.approx(1410 - 999) and t2[ARRIVAL_PHASE] == pytest.approx(1411 - 1000)


def test_an_mn_without_its_events_is_an_error_not_another_s_numbers():
    class S:
        flow = "mpa-l2-pre-authentication"
    events = [e for e in crowd_events() if not (e["node"] == "nar" and e["attrs"]["sta"].endswith("2"))]
    out = measure(events, S, ["mn1", "mn2"], STATIONS, "nar",
                  {"mn1": (0, {}, ""), "mn2": (0, {}, "")})
    assert out["mn1"][0] and not out["mn2"][0] and "psk_install_start" in out["mn2"][1]


EXP = """name: crowd
seed: 4
repetitions: 1
parameters:
  nodes.mn.count: 6
  nodes.mn.identity: 'mn{i}@home.example'
  nodes.mn.address: '10.2.0.{9+i}/24'
configurations:
  roaming: {topology: %s}
scenarios:
  - {name: c, flow: mpa-l2-pre-authentication, from: ap0, to: ap1,
     concurrent: %s}
""" % (FIG9, "%s")


def _load(tmp_path, concurrent, exp=EXP):
    f = tmp_path / "e.yaml"
    f.write_text(exp % concurrent)
    return load_experiment(f)


def _problem(tmp_path, concurrent, exp=EXP):
    with pytest.raises(ExperimentError) as err:
        _load(tmp_path, concurrent, exp)
    return str(err.value)


def test_a_concurrent_scenario_needs_no_single_mobile_node(tmp_path):
    exp, [conf] = _load(tmp_path, "{mobile_nodes: 4, arrivals: poisson, rate: 20/s}")
    c = exp.scenarios[0].concurrent
    assert (c.mobile_nodes, c.arrivals, c.rate) == (4, "poisson", 20.0)
    assert conf.mobile_node == "mn1"          # the one captured for the ladder


@pytest.mark.parametrize("concurrent,where,words", [
    ("{arrivals: poisson}", "scenarios[0].concurrent", "need a rate"),
    ("{rate: 5/s}", "scenarios[0].concurrent", "poisson arrivals only"),
    ("{arrivals: poisson, rate: 20}", "scenarios[0].concurrent.rate", "unit"),
    ("{arrivals: poisson, rate: 5000/s}", "scenarios[0].concurrent.rate", "at most 1000/s"),
    ("{arrivals: poisson, rate: 0/s}", "scenarios[0].concurrent.rate", "more than 0"),
    ("{arrivals: burst}", "scenarios[0].concurrent.arrivals", "simultaneous"),
    ("{mobile_nodes: 7}", "scenarios[0].concurrent.mobile_nodes", "has 6 mobile node"),
    ("{mobile_nodes: 0}", "scenarios[0].concurrent.mobile_nodes", "1"),
    ("{mobile_nodes: many}", "scenarios[0].concurrent.mobile_nodes", "all"),
    ("{mobile_node: 3}", "scenarios[0].concurrent.mobile_node", "unknown key 'mobile_node'"),
])
def test_concurrent_mistakes_are_reported_at_their_line(tmp_path, concurrent, where, words):
    msg = _problem(tmp_path, concurrent)
    assert "e.yaml:1" in msg and where in msg and words in msg, msg


def test_every_mn_of_a_crowd_needs_an_address_on_the_start_network(tmp_path):
    exp = EXP.replace("from: ap0", "from: ap2")        # the MNs' addresses are network B's
    msg = _problem(tmp_path, "{}", exp)
    assert "mobile node 'mn1' needs its address" in msg and "and 5 other MN(s)" in msg, msg


def test_concurrent_sip_flows_are_refused(tmp_path):
    exp = EXP.replace("mpa-l2-pre-authentication", "sip-mpa")
    assert "layer-2 flows" in _problem(tmp_path, "{}", exp)


def test_the_shipped_crowd_experiment_plans_a_hundred_mns():
    exp, [conf] = load_experiment(REPO / "experiments" / "crowd.yaml")
    assert len(conf.topology.nodes_of("mobile_node")) == 100
    assert [s.concurrent.arrivals for s in exp.scenarios] == ["poisson", "simultaneous", "poisson"]
    assert [s.concurrent.mobile_nodes for s in exp.scenarios] == [10, "all", "all"]
    assert not math.isnan(exp.scenarios[2].concurrent.rate)
