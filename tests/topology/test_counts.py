"""`count:` makes many mobile nodes from one entry (issue 17, model/counts.py)."""
from pathlib import Path

import pytest

from orchestrator.cli import counted_lines
from orchestrator.model import TopologyError, load_topology_text
from orchestrator.model.counts import _fill
from orchestrator.model.plan import build_plan

BASE = (Path(__file__).parent / "valid" / "minimal.yaml").read_text()
MN = "  mn:  {kind: mobile_node, home_domain: home, associate: ap, address: 10.1.0.100}"


def topo(mn_line: str, extra: str = ""):
    return load_topology_text(BASE.replace(MN, mn_line).replace("name: minimal", "name: minimal" + extra))


def test_count_makes_the_nodes_with_their_numbers_and_inherited_settings():
    t = topo("  mn:  {kind: mobile_node, count: 40, home_domain: home, associate: ap, "
             "identity: 'user{i}@home.example', address: '10.1.0.{100+i}/24'}",
             "\nkinds:\n  mobile_node: {link_down_detection: 3ms}")
    mns = t.nodes_of("mobile_node")
    assert mns == [f"mn{i}" for i in range(1, 41)] and "mn" not in t.nodes
    assert str(t.nodes["mn1"].address) == "10.1.0.101/24" and str(t.nodes["mn40"].address) == "10.1.0.140/24"
    assert t.identity("mn7") == "user7@home.example"
    assert all(t.nodes[m].link_down_detection == 0.003 for m in mns)   # kinds: still inherited
    assert t.counted == {"mn": mns}
    assert counted_lines(t.counted) == ["nodes.mn (count: 40): mn1 ... mn40"]
    plan = build_plan(t)                      # one station and one radio port per MN
    assert len(plan.stations) == 40 and len({s.air_port for s in plan.stations.values()}) == 40


def test_identity_defaults_per_node_and_no_address_is_allowed():
    t = topo("  mn:  {kind: mobile_node, count: 3, home_domain: home, associate: ap}")
    assert [t.identity(m) for m in t.nodes_of("mobile_node")] == [
        "mn1@home.example", "mn2@home.example", "mn3@home.example"]


def test_a_count_of_one_keeps_a_plain_value_and_uncounted_nodes_are_untouched():
    t = topo("  mn:  {kind: mobile_node, count: 1, home_domain: home, associate: ap, address: 10.1.0.100}")
    assert list(t.nodes_of("mobile_node")) == ["mn1"] and "ap" in t.nodes


def test_same_addresses_from_two_entries_are_refused_at_the_entries():
    line = ("  mn:  {kind: mobile_node, count: 3, home_domain: home, associate: ap, "
            "address: '10.1.0.{100+i}'}\n  mx:  {kind: mobile_node, count: 3, home_domain: home, "
            "associate: ap, identity: 'x{i}@home.example', address: '10.1.0.{99+i}'}")
    with pytest.raises(TopologyError) as exc:
        topo(line)
    text = str(exc.value)
    assert "10.1.0.101" in text and ":9:" in text        # placed at mx's entry (line 9)


@pytest.mark.parametrize("pattern, i, out", [
    ("{i}", 7, "7"), ("a{i+3}b", 1, "a4b"), ("{10+i}", 2, "12"), ("{ i - 1 }", 1, "0"),
    ("plain", 5, "plain")])
def test_fill(pattern, i, out):
    assert _fill(pattern, i) == out


@pytest.mark.parametrize("pattern", ["{i*2}", "{j}", "{__import__('os')}", "{i-5}", "{i", "i}", "{{i}}"])
def test_fill_refuses_anything_else(pattern):
    with pytest.raises(ValueError):
        _fill(pattern, 1)


def test_an_experiment_can_sweep_a_count(tmp_path):
    """`nodes.<entry>.count` is a value like any other: swept, each point has its MNs; a bad
    count is placed at the experiment's line that set it."""
    from orchestrator.model.experiment import ExperimentError, load_experiment
    topo = tmp_path / "t.yaml"
    topo.write_text(BASE.replace(MN, "  mn:  {kind: mobile_node, count: 2, home_domain: home, "
                                     "associate: ap, address: '10.1.0.{100+i}'}"))
    exp = tmp_path / "e.yaml"
    body = ("name: e\nrepetitions: 1\nconfigurations:\n  c: {topology: t.yaml}\nmobile_node: mn1\n"
            "sweep:\n  nodes.mn.count: [1, 3]\nscenarios:\n"
            "  - {name: s, flow: dot11i-post-authentication, from: ap, to: ap}\n")
    exp.write_text(body)
    _exp, confs = load_experiment(exp)
    assert [c.topology.nodes_of("mobile_node") for c in confs] == [["mn1"], ["mn1", "mn2", "mn3"]]
    exp.write_text(body.replace("[1, 3]", "[1, 0]"))
    with pytest.raises(ExperimentError) as err:
        load_experiment(exp)
    assert "e.yaml:7:" in str(err.value) and "count must be a whole number" in str(err.value)
