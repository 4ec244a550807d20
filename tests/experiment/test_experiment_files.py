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
            assert s.from_ap in c.topology.nodes and s.to_ap in c.topology.nodes


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
    assert "e.yaml:5:" in msg and "buffering applies to the flow sip-mpa only" in msg


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
