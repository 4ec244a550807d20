"""Experiment files: every shipped one loads and resolves; mistakes are reported at the
experiment file's line and YAML path (orchestrator/model/experiment.py)."""
from pathlib import Path

import pytest

from orchestrator.model.experiment import ExperimentError, load_experiment

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "experiments").glob("*.yaml"))

FIG7 = """name: t7
configurations:
  c: {topology: %s}
scenarios:
  - {name: a, flow: sip-mpa, from: ap-b, to: ap-a, buffering: 200ms}
""" % (REPO / "topologies" / "c51-sip-intra-domain.yaml")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_experiments_load(path):
    exp, confs = load_experiment(path)
    assert confs and all(c.topology.nodes for c in confs)
    for s in exp.scenarios:                      # scenario APs exist in every topology
        for c in confs:
            assert s.from_ap in c.topology.nodes
            assert s.to_ap in c.topology.nodes or (s.flow == "movement" and s.to_ap is None)


def test_figure7_experiment_keeps_the_rfc_stream_and_buffers_in_one_scenario():
    exp, [conf] = load_experiment(REPO / "experiments" / "fig7.yaml")
    assert conf.topology.nodes["cn"].rtp_interval == pytest.approx(0.016)
    assert [s.flow for s in exp.scenarios] == ["sip-mpa", "sip-mpa", "sip-non-mpa"]
    assert [s.buffering is not None for s in exp.scenarios] == [False, True, False]


def _problems(tmp_path, text):
    f = tmp_path / "e.yaml"
    f.write_text(text)
    with pytest.raises(ExperimentError) as err:
        load_experiment(f)
    return str(err.value)


def test_a_sip_scenario_loads(tmp_path):
    f = tmp_path / "e.yaml"
    f.write_text(FIG7)
    exp, _ = load_experiment(f)
    assert exp.scenarios[0].buffering == pytest.approx(0.2)


def test_unknown_flow_is_named_with_a_suggestion(tmp_path):
    msg = _problems(tmp_path, FIG7.replace("flow: sip-mpa", "flow: sip-mpq"))
    assert "e.yaml:5:" in msg and "scenarios[0].flow" in msg and "sip-mpa" in msg


def test_buffering_without_a_unit_is_an_error(tmp_path):
    msg = _problems(tmp_path, FIG7.replace("buffering: 200ms", "buffering: 200"))
    assert "e.yaml:5:" in msg and "scenarios[0].buffering" in msg and "unit" in msg


def test_buffering_belongs_to_the_mpa_flow_only(tmp_path):
    msg = _problems(tmp_path, FIG7.replace("flow: sip-mpa", "flow: sip-non-mpa"))
    assert "e.yaml:5:" in msg and "buffering applies to the flows sip-mpa, mipv6-mpa only" in msg


def test_route_optimization_belongs_to_the_mipv6_flows_only(tmp_path):
    msg = _problems(tmp_path, FIG7.replace("buffering: 200ms", "route_optimization: true"))
    assert "e.yaml:5:" in msg and "route_optimization applies to the flows mipv6-mpa, " \
        "mipv6-non-mpa only (not sip-mpa)" in msg


def test_unknown_scenario_key_is_suggested(tmp_path):
    msg = _problems(tmp_path, FIG7.replace("buffering: 200ms", "bufering: 200ms"))
    assert "unknown key 'bufering'" in msg and "buffering" in msg


def test_unknown_configuration_key_is_suggested(tmp_path):
    msg = _problems(tmp_path, FIG7.replace("c: {topology:", "c: {topolgy:"))
    assert "configurations.c.topolgy" in msg and "did you mean 'topology'" in msg


def test_sweep_points_get_distinct_testbed_names_within_the_limit():
    from orchestrator.experiment.runner import _slug, testbed_name
    _, confs = load_experiment(REPO / "experiments" / "fig7-cn-distance.yaml")
    names = [testbed_name("fig7-cn-distance", _slug(c.name)) for c in confs]
    assert len(set(names)) == len(confs) == 3
    assert all(len(n) <= 40 for n in names)
    assert testbed_name("fig10", "roaming") == "fig10-roaming"      # short names unchanged


# --- any topology, any names: roles, prerequisites, the reference mapping -------------------

TRI = REPO / "tests" / "integration" / "topologies" / "tri-domain.yaml"
OWN = """name: own
configurations:
  tri: {topology: %s}
scenarios:
  - {name: post, flow: dot11i-post-authentication, from: x-ap, to: y-ap1}
  - {name: mpa, flow: mpa-l2-pre-authentication, from: x-ap, to: y-ap1}
""" % TRI


def _load(tmp_path, text, name="e.yaml"):
    f = tmp_path / name
    f.write_text(text)
    return load_experiment(f)


def test_the_shipped_test_experiment_on_a_topology_of_its_own():
    exp, [conf] = load_experiment(REPO / "tests" / "integration" / "experiments" / "tri-domain.yaml")
    assert conf.mobile_node == "phone" and exp.reference.columns == {"roaming": "tri"}
    values = {v.path: (v.value, v.source) for v in conf.emulated}
    assert values["nodes.y-ap1.association_latency"] == (10.0, "topology kinds.access_point")
    assert values["links.x-gw--y-gw.delay"] == (5.0, "topology links[11]")
    assert values["links.y-gw--far-gw.jitter"] == (2.0, "topology links[13]")
    assert values["links.x-gw--far-gw.delay"] == (30.0, "topology links[12]")
    assert not any(p.startswith("links.x-ap") for p in values)     # nothing emulated there


def test_the_mobile_node_defaults_to_the_only_one(tmp_path):
    _, [conf] = _load(tmp_path, OWN)
    assert conf.mobile_node == "phone"


def test_an_unknown_mobile_node_is_named_with_the_topologys(tmp_path):
    msg = _problems(tmp_path, "mobile_node: phon\n" + OWN)
    assert "e.yaml:1:" in msg and "mobile_node" in msg
    assert "'phon' is not mobile node of this topology (did you mean 'phone'?)" in msg


def test_several_mobile_nodes_need_one_named(tmp_path):
    topo = tmp_path / "two.yaml"
    topo.write_text(TRI.read_text().replace(
        "  x-ap:", "  tablet:     {kind: mobile_node, home_domain: far, associate: y-ap2, "
                   "address: 10.20.0.100/24}\n  x-ap:"))
    msg = _problems(tmp_path, OWN.replace(str(TRI), str(topo)))
    assert "has 2 mobile nodes (phone, tablet): say which with 'mobile_node: <name>'" in msg
    msg = _problems(tmp_path, OWN.replace(str(TRI), str(topo)).replace(
        "  tri: {topology:", "  tri: {mobile_node: tablet, topology:"))
    assert "mobile node 'tablet' needs its address (nodes.tablet.address) on network 'x-acc'" in msg
    _, [conf] = _load(tmp_path, OWN.replace(str(TRI), str(topo)).replace(
        "  tri: {topology:", "  tri: {mobile_node: tablet, topology:").replace(
        "from: x-ap, to: y-ap1}\n", "from: y-ap2, to: y-ap1}\n"), "ok.yaml")
    assert conf.mobile_node == "tablet"


def test_mpa_needs_a_paa_on_the_target_network(tmp_path):
    msg = _problems(tmp_path, OWN.replace("flow: mpa-l2-pre-authentication, from: x-ap, to: y-ap1",
                                          "flow: mpa-l2-pre-authentication, from: y-ap1, to: x-ap"))
    assert "e.yaml:6:" in msg and "scenarios[1]" in msg
    assert "no authentication_agent (PAA) on network 'x-acc' of 'x-ap' in domain 'ex'" in msg
    assert "needs its address (nodes.phone.address) on network 'y-acc'" in msg


def test_80211i_pre_authentication_needs_one_distribution_system(tmp_path):
    msg = _problems(tmp_path, OWN.replace("flow: dot11i-post-authentication",
                                          "flow: dot11i-pre-authentication"))
    assert "e.yaml:5:" in msg and ("needs both APs in one distribution system: 'x-ap' is on "
                                   "network 'x-acc', 'y-ap1' on 'y-acc'") in msg


def test_sip_flows_need_dhcp_an_information_server_and_a_correspondent(tmp_path):
    msg = _problems(tmp_path, OWN.replace("flow: mpa-l2-pre-authentication", "flow: sip-mpa"))
    assert "the topology has no correspondent node (correspondent_node)" in msg
    _, [c51] = load_experiment(REPO / "experiments" / "fig7.yaml")
    topo = tmp_path / "no-is.yaml"
    text = c51.topology_text
    import yaml as _yaml
    data = _yaml.safe_load(text)
    data["nodes"].pop("is")
    data["links"] = [l for l in data["links"] if "is" not in [e.split(":")[0] for e in l["endpoints"]]]
    data["domains"]["home"]["mobility_protocol"] = "none"
    topo.write_text(_yaml.safe_dump(data))
    msg = _problems(tmp_path, FIG7.replace(str(REPO / "topologies" / "c51-sip-intra-domain.yaml"),
                                           str(topo)))
    assert "no information_server: the MN discovers" in msg
    assert "has mobility_protocol 'none'; the SIP flows need 'sip'" in msg


def test_the_reference_mapping_is_checked_against_the_table_and_the_experiment(tmp_path):
    ok, _ = _load(tmp_path, OWN + "reference: {table: rfc6252_fig10, columns: {roaming: tri}}\n")
    assert ok.reference.table == "rfc6252_fig10"
    msg = _problems(tmp_path, OWN + "reference: {table: rfc6252_fig11, columns: {roaming: tri}}\n")
    assert "unknown reference table 'rfc6252_fig11' (did you mean" in msg
    msg = _problems(tmp_path, OWN + "reference: {table: rfc6252_fig10, columns: {roamin: tri}}\n")
    assert "reference.columns.roamin: 'roamin' is not a column of rfc6252_fig10 (did you mean " \
           "'roaming'?)" in msg
    msg = _problems(tmp_path, OWN + "reference: {table: rfc6252_fig10, columns: {roaming: [tri, tr]}}\n")
    assert "reference.columns.roaming[1]: 'tr' is not one of this experiment's configurations" in msg
    msg = _problems(tmp_path, OWN + "reference: {table: rfc6252_fig7, columns: {non-mpa: tri}}\n")
    assert "'tri' is not one of this experiment's scenarios" in msg
    msg = _problems(tmp_path, OWN + "reference: {tabel: rfc6252_fig10}\n")
    assert "unknown key 'tabel'" in msg and "did you mean 'table'" in msg


def test_a_link_is_addressed_by_its_endpoints_and_reported_with_the_override(tmp_path):
    text = OWN + "parameters: {links.far-gw--x-gw.delay: 50ms}\nsweep: {links.y-gw--far-gw.jitter: [0ms, 4ms]}\n"
    _, confs = _load(tmp_path, text)
    assert [c.name for c in confs] == ["tri/y-gw--far-gw.jitter=0ms", "tri/y-gw--far-gw.jitter=4ms"]
    values = {v.path: (v.value, v.source) for v in confs[1].emulated}
    assert values["links.x-gw--far-gw.delay"] == (50.0, "experiment parameters: links.far-gw--x-gw.delay")
    assert values["links.y-gw--far-gw.jitter"] == (4.0, "experiment sweep: links.y-gw--far-gw.jitter")
    assert confs[1].topology.links[12].delay == pytest.approx(0.05)
    msg = _problems(tmp_path, OWN + "parameters: {links.x-gw--nowhere.delay: 5ms}\n")
    assert "no link named 'x-gw--nowhere'" in msg and "by its endpoints: 'a--b'" in msg
