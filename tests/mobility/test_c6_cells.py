"""C.6's cell-size sweep (experiments/c6.yaml, c6-long.yaml): each configuration scales the
corridor by k (AP-A at 40k m, transmit power 20 + 30 log10(k) dBm with path-loss exponent 3),
and one `across` path follows the APs, so that the distance D the MN has for MPA scales by k
while the thresholds, speeds and everything else stay. Checked without a network, by the
pure policy over the propagation model (mobility/simulate.py), and the `across` path's YAML."""
from pathlib import Path

import pytest

from orchestrator.experiment.movement import plan
from orchestrator.mobility.simulate import preparations, simulate
from orchestrator.model.experiment import load_experiment
from tests.mobility.test_movement_yaml import EXPERIMENT, experiment, experiment_error

REPO = Path(__file__).resolve().parents[2]
LINE = "{line: {from: [5m, 0m], to: [55m, 0m]}, speed: 18km/h}"


def d_of(rc, scenario, interval=0.005):
    """D of one configuration: from the start of MPA to the handover, by the MN's policy."""
    p = plan(rc.topology, scenario.movement)
    timeline = simulate(p.path, p.aps, p.model, p.params, start_ap=scenario.from_ap,
                        interval=interval)
    [prep] = [x for x in preparations(timeline, p.path) if x.distance is not None]
    return p, prep.distance


@pytest.mark.parametrize("name,cells", [("c6", (20, 40, 80)), ("c6-long", (20, 30, 40, 80, 120))])
def test_the_sweep_expands_into_cells_whose_d_scales_with_the_spacing(name, cells):
    exp, confs = load_experiment(REPO / "experiments" / f"{name}.yaml")
    assert [c.name for c in confs] == [f"cell-{s}m" for s in cells]
    slow = next(s for s in exp.scenarios if s.name.startswith("auth-"))
    d = {}
    for rc in confs:
        spacing = float(rc.name[5:-1])
        k = spacing / 40
        p, d[k] = d_of(rc, slow)
        ap_a = next(ap for ap in p.aps if ap.name == "ap-a")
        assert ap_a.position == (spacing, 0.0)
        assert p.model.tx_power == pytest.approx(20 + 30 * __import__("math").log10(k), abs=0.01)
        # the path follows the APs: 0.3 to 0.6 of the way, whatever the spacing
        assert p.path.waypoints == [pytest.approx((0.3 * spacing, 0.0)),
                                    pytest.approx((0.6 * spacing, 0.0))]
    # D ~ 6.9 m at k = 1 (14.7 m -> 21.6 m) and proportional to k
    assert d[1.0] == pytest.approx(6.9, abs=0.1)
    for k, dk in d.items():
        assert dk / k == pytest.approx(d[1.0], rel=0.02), (k, dk)


def test_every_scenario_is_swept_over_every_cell_at_both_depths():
    exp, confs = load_experiment(REPO / "experiments" / "c6.yaml")
    cols = exp.reference.columns
    assert set(cols) == {"pre-authentication", "pre-configuration"}
    speeds = [s.movement.path.speed for s in exp.scenarios if s.name in cols["pre-authentication"]]
    assert speeds == [3, 6, 12, 25, 50, 100]
    conf = [s for s in exp.scenarios if s.name in cols["pre-configuration"]]
    assert all(s.movement.policy.pre_configure_below == -55.0 for s in conf)
    assert len(confs) * len(exp.scenarios) * exp.repetitions == 36    # make reproduce's cost


def test_an_across_path_follows_the_aps(tmp_path):
    exp, confs = experiment(tmp_path, EXPERIMENT.replace(
        LINE, "{across: {aps: [west, east], part: [0.25, 0.75]}, speed: 5m/s}"))
    p = plan(confs[0].topology, exp.scenarios[0].movement)
    east = (60.96, 10.0)                                        # 200 ft, 10 m
    assert p.path.waypoints == [pytest.approx((0.25 * east[0], 2.5)),
                                pytest.approx((0.75 * east[0], 7.5))]
    with pytest.raises(ValueError, match="follows the topology's APs"):
        exp.scenarios[0].movement.path.to_path()


@pytest.mark.parametrize("path,message", [
    ("{across: {aps: [west, nowhere], part: [0.2, 0.8]}, speed: 5m/s}",
     "across: nowhere is not an access point with a position (placed: east, west)"),
    ("{across: {aps: [west, west], part: [0.2, 0.8]}, speed: 5m/s}",
     "across needs two different APs"),
    ("{across: {aps: [west, east], part: [0.2, 1.5]}, speed: 5m/s}",
     "scenarios[0].movement.path.across.part[1]: "),
    ("{across: {aps: [west, east], part: [0.2, 0.8]}, speed: 0.001m/s}",
     "movement on corridor.yaml (only): the path takes 37065 s; a movement runs at real speed and may take at most 3600 s"),
])
def test_across_refusals(tmp_path, path, message):
    problems = experiment_error(tmp_path, EXPERIMENT.replace(LINE, path))
    assert any(message in p for p in problems), problems
