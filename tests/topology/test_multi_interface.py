"""Multi-interface mobile nodes and base stations (RFC 6252 s7, C.5.2; issue 15): the model,
the network plan and the reported emulated values. Error messages: errors/cellular-*,
errors/base-station-*, errors/interfaces-* (test_golden.py)."""
from pathlib import Path

import pytest
import yaml

from orchestrator.model import load_topology
from orchestrator.model.emulated import emulated_values
from orchestrator.model.experiment import load_experiment
from orchestrator.model.plan import build_plan

HERE = Path(__file__).parent
TWO = HERE / "valid" / "two-radios.yaml"


def test_single_radio_form_is_one_wlan_interface():
    t = load_topology(HERE / "valid" / "minimal.yaml")
    (name, radio), = t.nodes["mn"].radios().items()
    assert (name, radio.technology, radio.associate, str(radio.address.ip)) == \
        ("wlan0", "wlan", "ap", "10.1.0.100")
    assert t.nodes["mn"].radio("cellular") is None


def test_two_radios_load_with_effective_link_down_detection():
    t = load_topology(TWO)
    mn = t.nodes["mn"]
    assert mn.radio("wlan")[1].link_down_detection == pytest.approx(0.002)   # the node's
    name, cell = mn.radio("cellular")
    assert (name, cell.attach, cell.start, cell.link_down_detection) == ("cdma0", "bs", "up", 0.05)
    assert t.nodes_of("packet_data_gateway") == ["ar"]


def test_plan_puts_the_cellular_interface_on_the_base_stations_network():
    plan = build_plan(load_topology(TWO))
    assert "bs" not in plan.hosts                     # a base station is neither host nor switch
    assert "bs" not in plan.switches
    mn = plan.hosts["mn"]
    wlan, cdma = mn.interfaces
    assert (wlan.name, wlan.technology, str(wlan.address)) == ("wlan0", "wlan", "10.1.0.100/24")
    assert (cdma.name, cdma.technology, cdma.network, cdma.address) == \
        ("cdma0", "cellular", "cell", None)
    link, = [lp for lp in plan.links if lp.a.node == "mn" and lp.a.intf == "cdma0"]
    assert (link.b.node, link.b.is_switch) == ("cell", True)
    assert link.params.delay == pytest.approx(0.060)          # half the 120 ms link RTT
    assert link.params.bandwidth == pytest.approx(2.4)
    assert [(r.prefix, r.dev) for r in mn.routes] == [("default", "wlan0")]
    assert plan.stations["mn"].link_down_detection == pytest.approx(0.002)
    gw_ports = [lp for lp in plan.links if lp.b.node == "cell" and lp.b.is_switch]
    assert sorted(lp.b.port for lp in gw_ports) == [1, 2]      # the MN's and the gateway's


def test_start_down_reaches_the_plan():
    data = yaml.safe_load(TWO.read_text())
    data["nodes"]["mn"]["interfaces"]["cdma0"]["start"] = "down"
    from orchestrator.model.load import load_topology_text
    plan = build_plan(load_topology_text(yaml.safe_dump(data, sort_keys=False)))
    assert [i.start for i in plan.hosts["mn"].interfaces] == ["up", "down"]


def test_every_cellular_value_is_reported_with_its_source(tmp_path):
    (tmp_path / "t.yaml").write_text(TWO.read_text())
    (tmp_path / "e.yaml").write_text(yaml.safe_dump({
        "name": "cellular-values", "repetitions": 1,
        "configurations": {"c": {"topology": "t.yaml", "parameters": {
            "nodes.mn.interfaces.cdma0.link_down_detection": "80ms",
            "kinds.base_station.activation_latency": "1.5s"}}},
        "scenarios": [{"name": "s", "flow": "dot11i-post-authentication", "from": "ap",
                       "to": "ap"}]}))
    _, (conf,) = load_experiment(tmp_path / "e.yaml")
    got = {v.path: (v.value, v.unit, v.source) for v in conf.emulated}
    assert got["nodes.bs.link_rtt"] == (120.0, "ms", "topology nodes.bs")
    assert got["nodes.bs.link_bandwidth"] == (2.4, "Mbit/s", "topology nodes.bs")
    assert got["nodes.bs.attach_latency"] == (30.0, "ms", "topology nodes.bs")
    assert got["nodes.bs.activation_latency"][:2] == (1500.0, "ms")
    assert got["nodes.bs.activation_latency"][2].startswith("experiment")
    assert got["nodes.mn.interfaces.cdma0.link_down_detection"][:2] == (80.0, "ms")
    assert got["nodes.mn.interfaces.cdma0.link_down_detection"][2].startswith("experiment")
    assert got["nodes.mn.interfaces.wlan0.link_down_detection"] == \
        (2.0, "ms", "topology nodes.mn")


def test_graph_draws_each_radio_and_the_base_stations_link():
    from orchestrator.graph import to_dot
    dot = to_dot(load_topology(TWO))
    assert '"mn" -- "bs" [style=dotted, label="cdma0 (cellular)"]' in dot
    assert '"mn" -- "ap" [style=dotted, label="wlan0 (wlan)"]' in dot
    assert '"bs" -- "cell" [style=dashed, label="radio, RTT 120ms, 2.4 Mbit/s"]' in dot
