"""The YAML of movement (model/movement.py): AP positions and coverage, the radio section,
a movement scenario's path and policy; every refusal names file:line:col and the YAML path.
The topology is written for these tests: no node is called mn or ap0."""
import math

import pytest

from orchestrator.mobility.geometry import Path as MPath
from orchestrator.model.errors import TopologyError
from orchestrator.model.experiment import ExperimentError, load_experiment
from orchestrator.model.load import load_topology_text
from orchestrator.model.movement import access_points

TOPOLOGY = """\
name: corridor
domains:
  d: {realm: d.example, aaa_server: auth}
networks:
  hall: {domain: d, subnet: 10.1.0.0/24, gateway: r-hall}
  yard: {domain: d, subnet: 10.2.0.0/24, gateway: r-yard}
radio:
  exponent: 2.5
  shadowing: {sigma: 4dB, decorrelation: 10m}
  sensitivity: -85dBm
  seed: 3
nodes:
  walker: {kind: mobile_node, home_domain: d, associate: west, address: 10.1.0.100/24}
  west: {kind: access_point, domain: d, position: [0m, 0m], tx_power: 17dBm}
  east: {kind: access_point, domain: d, position: [200ft, 10m], coverage: 40m}
  r-hall: {kind: access_router, domain: d}
  r-yard: {kind: access_router, domain: d, colocated: [authentication_agent]}
  auth: {kind: aaa_server, domain: d}
links:
  - {endpoints: [west, hall], addresses: {west: 10.1.0.2}}
  - {endpoints: [east, yard], addresses: {east: 10.2.0.2}}
  - {endpoints: [r-hall, hall], addresses: {r-hall: 10.1.0.1}}
  - {endpoints: [r-yard, yard], addresses: {r-yard: 10.2.0.1}}
  - {endpoints: [r-hall, r-yard], addresses: {r-hall: 10.9.0.1/30, r-yard: 10.9.0.2/30}}
  - {endpoints: [auth, hall], addresses: {auth: 10.1.0.10}}
"""

EXPERIMENT = """\
name: walk
repetitions: 1
configurations:
  only: {topology: corridor.yaml}
scenarios:
  - name: stroll
    flow: movement
    from: west
    movement:
      path: {line: {from: [5m, 0m], to: [55m, 0m]}, speed: 18km/h}
      policy: {pre_configure_below: none, hysteresis: 2dB, dwell: 200ms, ctn_selection: {above: -80dBm}}
      sample_interval: 50ms
"""


def topology_error(text: str) -> list[str]:
    with pytest.raises(TopologyError) as exc:
        load_topology_text(text, "corridor.yaml")
    return str(exc.value).splitlines()


def experiment(tmp_path, text: str, topology: str = TOPOLOGY):
    (tmp_path / "corridor.yaml").write_text(topology)
    (tmp_path / "walk.yaml").write_text(text)
    return load_experiment(tmp_path / "walk.yaml")


def experiment_error(tmp_path, text: str, topology: str = TOPOLOGY) -> list[str]:
    with pytest.raises(ExperimentError) as exc:
        experiment(tmp_path, text, topology)
    return [line.split("walk.yaml:", 1)[-1] for line in str(exc.value).splitlines()]


# -- topology -----------------------------------------------------------------------------

def test_positions_networks_and_powers_of_the_access_points():
    topo = load_topology_text(TOPOLOGY)
    aps = {ap.name: ap for ap in access_points(topo)}
    assert aps["west"].position == (0.0, 0.0) and aps["west"].network == "hall"
    assert aps["west"].tx_power == 17.0
    assert aps["east"].position == pytest.approx((60.96, 10.0))     # 200 ft
    assert aps["east"].network == "yard"
    model = topo.radio.to_model()
    assert model.exponent == 2.5 and model.shadowing_sigma == 4 and model.seed == 3
    # coverage: the mean signal is the radio's sensitivity 40 m from the AP
    at_edge = model.mean_rssi(aps["east"], (60.96 + 40.0, 10.0))
    assert at_edge == pytest.approx(-85.0)
    # the reference loss defaults to Friis' at 2.4 GHz and 1 m
    assert model.reference_loss == pytest.approx(40.05, abs=0.01)


def test_a_topology_without_radio_or_positions_still_loads():
    text = TOPOLOGY.replace(", position: [0m, 0m], tx_power: 17dBm", "")
    text = text.split("radio:")[0] + "nodes:" + text.split("\nnodes:")[1]
    topo = load_topology_text(text)
    assert topo.radio is None
    assert [ap.name for ap in access_points(topo)] == ["east"]


@pytest.mark.parametrize("old,new,message", [
    ("position: [0m, 0m]", "position: [0m, 5]",
     "corridor.yaml:14:56: nodes.west.position[1]: expected a coordinate with a unit, like '12.5m' (got 5)"),
    ("position: [0m, 0m]", "position: [0m, 0m, 0m]",
     "corridor.yaml:14:51: nodes.west.position: expected at most 2 entries (got 3)"),
    ("position: [0m, 0m]", "position: [0yd, 0m]",
     "corridor.yaml:14:52: nodes.west.position[0]: malformed coordinate '0yd': expected a number and one of the units m, cm, km, ft, like '12.5m'"),
    ("coverage: 40m", "coverage: 40m, tx_power: 20dBm",
     "corridor.yaml:15:9: nodes.east: give coverage or tx_power, not both: the coverage radius sets the transmit power"),
    ("coverage: 40m", "coverage: -40m",
     "corridor.yaml:15:75: nodes.east.coverage: length '-40m' is negative: it must be 0 or more"),
    ("tx_power: 17dBm", "tx_power: 17dB",
     "corridor.yaml:14:71: nodes.west.tx_power: malformed power '17dB': expected a number and one of the units dBm, like '-70dBm'"),
    ("decorrelation: 10m", "decorelation: 10m",
     "corridor.yaml:9:27: radio.shadowing.decorelation: unknown key 'decorelation' (did you mean 'decorrelation'?)"),
    ("exponent: 2.5", "exponent: '2.5'",
     "corridor.yaml:8:3: radio: exponent must be a plain number like 3.0 (got '2.5')"),
    ("exponent: 2.5", "exponent: 2.5\n  reference_loss: 40dB\n  frequency: 5GHz",
     "corridor.yaml:8:3: radio: give reference_loss or frequency, not both: the frequency only sets the free-space reference loss"),
    ("sensitivity: -85dBm", "sensitivity: -85",
     "corridor.yaml:10:16: radio.sensitivity: expected a power with a unit, like '-70dBm' (got -85)"),
    ("seed: 3", "sed: 3",
     "corridor.yaml:11:3: radio.sed: unknown key 'sed' (did you mean 'seed'?)"),
])
def test_topology_refusals_name_the_line_and_path(old, new, message):
    assert old in TOPOLOGY
    assert topology_error(TOPOLOGY.replace(old, new, 1)) == [message]


# -- experiment -----------------------------------------------------------------------------

def test_a_movement_scenario_becomes_a_path_and_a_policy(tmp_path):
    exp, confs = experiment(tmp_path, EXPERIMENT)
    m = exp.scenarios[0].movement
    path = m.path.to_path()
    assert isinstance(path, MPath)
    assert path.waypoints == [(5.0, 0.0), (55.0, 0.0)]
    assert path.duration == pytest.approx(10.0)           # 50 m at 5 m/s
    params = m.policy.to_policy()
    assert params.pre_configure_below is None and params.hysteresis == 2.0
    assert params.dwell == pytest.approx(0.2)
    assert params.ctn_selection == "above" and params.ctn_min_rssi == -80.0
    assert m.sample_interval == pytest.approx(0.05)
    assert exp.scenarios[0].to_ap is None and confs[0].mobile_node == "walker"


@pytest.mark.parametrize("path,check", [
    ("{waypoints: [[0m, 0m], [30m, 0m], [30m, 40m]], speed: [3m/s, 4m/s], pause: 1s}",
     lambda p: p.duration == pytest.approx(10 + 10 + 2) and p.length == pytest.approx(70)),
    ("{back_and_forth: {between: [[20m, 0m], [40m, 0m]], times: 4}, speed: 2m/s}",
     lambda p: p.duration == pytest.approx(40) and p.waypoints[-1] == (20.0, 0.0)),
    ("{line: {from: [0ft, 0ft], to: [100ft, 0ft]}, speed: 50ft/s}",
     lambda p: p.duration == pytest.approx(2.0) and p.length == pytest.approx(30.48)),
])
def test_path_kinds(tmp_path, path, check):
    text = EXPERIMENT.replace("{line: {from: [5m, 0m], to: [55m, 0m]}, speed: 18km/h}", path)
    exp, _ = experiment(tmp_path, text)
    assert check(exp.scenarios[0].movement.path.to_path())


def test_random_waypoint_is_fixed_by_its_seed(tmp_path):
    rwp = ("{random_waypoint: {area: [[0m, 0m], [60m, 20m]], legs: 5, speed: [1m/s, 3m/s], "
           "pause: [0s, 1s], seed: SEED}}")
    paths = []
    for seed in (1, 1, 2):
        text = EXPERIMENT.replace("{line: {from: [5m, 0m], to: [55m, 0m]}, speed: 18km/h}",
                                  rwp.replace("SEED", str(seed)))
        exp, _ = experiment(tmp_path, text)
        paths.append(exp.scenarios[0].movement.path.to_path().waypoints)
    assert paths[0] == paths[1] and paths[0] != paths[2]
    assert all(0 <= x <= 60 and 0 <= y <= 20 for x, y in paths[0][1:])


LINE = "{line: {from: [5m, 0m], to: [55m, 0m]}, speed: 18km/h}"


@pytest.mark.parametrize("old,new,message", [
    (LINE, "{line: {from: [5m, 0m], to: [55m, 0m]}, sped: 1m/s}",
     "10:53: scenarios[0].movement.path.sped: unknown key 'sped' (did you mean 'speed'?)"),
    (LINE, "{line: {from: [5m, 0m], to: [55m, 0m]}}",
     "10:13: scenarios[0].movement.path: line needs a speed, like 'speed: 1.4m/s'"),
    (LINE, "{line: {from: [5m, 0m], to: [55m, 0m]}, waypoints: [[0m, 0m], [1m, 0m]], speed: 1m/s}",
     "10:13: scenarios[0].movement.path: a path is exactly one of waypoints, line, across, random_waypoint, back_and_forth (got waypoints, line)"),
    (LINE, "{waypoints: [[0m, 0m], [1m, 0m]], speed: [1m/s, 2m/s]}",
     "10:13: scenarios[0].movement.path: 1 legs but 2 speeds"),
    (LINE, "{line: {from: [5m, 0m], to: [55m, 0m]}, speed: 18}",
     "10:60: scenarios[0].movement.path.speed: expected a speed with a unit, like '1.4m/s' (got 18)"),
    (LINE, "{line: {from: [5m, 0m], to: [55m, 0m]}, speed: 0m/s}",
     "10:13: scenarios[0].movement.path: speed must be more than 0 m/s"),
    (LINE, "{line: {from: [5m, 0m], to: [55km, 0m]}, speed: 1cm/s}",
     "10:61: scenarios[0].movement.path.speed: malformed speed '1cm/s': expected a number and one of the units m/s, km/h, ft/s, mph, like '1.4m/s'"),
    (LINE, "{line: {from: [5m, 0m], to: [55km, 0m]}, speed: 1m/s}",
     "10:7: scenarios[0].movement: the path takes 54995 s; a movement runs at real speed and may take at most 3600 s"),
    ("hysteresis: 2dB", "hysteresis: -2dB",
     "11:55: scenarios[0].movement.policy.hysteresis: gain or margin '-2dB' is negative: it must be 0 or more"),
    ("pre_configure_below: none", "pre_configure_below: never",
     "11:37: scenarios[0].movement.policy.pre_configure_below: malformed power 'never': expected a number and one of the units dBm, like '-70dBm'"),
    ("{above: -80dBm}", "{above: -80dBm, top: 2}",
     "11:89: scenarios[0].movement.policy.ctn_selection: ctn_selection is {top: K} or {above: LEVEL}, exactly one"),
    ("sample_interval: 50ms", "sample_interval: 1ms",
     "10:7: scenarios[0].movement: sample_interval must be at least 10ms (each sample is a command to the MN's agent)"),
    ("    from: west\n", "    from: west\n    to: east\n",
     "6:5: scenarios[0]: a movement has no 'to': its policy chooses the handovers from what the MN hears along the path"),
    ("    flow: movement\n", "    flow: mpa-l2-pre-authentication\n    to: east\n",
     "6:5: scenarios[0]: movement applies to the flow movement only (not mpa-l2-pre-authentication)"),
])
def test_experiment_refusals_name_the_line_and_path(tmp_path, old, new, message):
    assert old in EXPERIMENT
    assert experiment_error(tmp_path, EXPERIMENT.replace(old, new, 1)) == [message]


def test_a_movement_needs_every_ap_on_the_map_and_a_paa_elsewhere(tmp_path):
    topo = TOPOLOGY.replace(", position: [200ft, 10m], coverage: 40m", "")
    topo = topo.replace(", colocated: [authentication_agent]", "")
    assert experiment_error(tmp_path, EXPERIMENT, topo) == [
        "6:5: scenarios[0]: movement on corridor.yaml (only): access point(s) east have no "
        "position: a movement needs every AP on the map (nodes.<ap>.position: [x, y], e.g. "
        "[0m, 20m])",
        "6:5: scenarios[0]: movement on corridor.yaml (only): no other network than 'hall' "
        "has an authentication_agent (PAA): a movement pre-authenticates with the candidate "
        "target network's PAA"]


def test_pre_configuration_needs_an_information_server(tmp_path):
    text = EXPERIMENT.replace("pre_configure_below: none", "pre_configure_below: -75dBm")
    assert experiment_error(tmp_path, text) == [
        "6:5: scenarios[0]: movement on corridor.yaml (only): no information_server: a policy "
        "that pre-configures (pre_configure_below not 'none') learns the CTN's DHCP server "
        "and access router from it (s7.1)"]


def test_a_movement_starts_where_the_mn_has_its_address(tmp_path):
    text = EXPERIMENT.replace("from: west", "from: east")
    assert experiment_error(tmp_path, text) == [
        "6:5: scenarios[0]: movement on corridor.yaml (only): mobile node 'walker' needs its "
        "address (nodes.walker.address) on network 'yard' of the start AP 'east': MPA signals "
        "over IP from there",
        "6:5: scenarios[0]: movement on corridor.yaml (only): no other network than 'yard' "
        "has an authentication_agent (PAA): a movement pre-authenticates with the candidate "
        "target network's PAA"]


def test_the_plan_says_what_the_movement_is(tmp_path):
    from orchestrator.model.experiment import describe_plan
    exp, confs = experiment(tmp_path, EXPERIMENT)
    line = [l for l in describe_plan(exp, confs) if "scenario stroll" in l][0]
    assert line == ("  scenario stroll: movement west -> (the policy's choice), path 50.0 m in "
                    "10.0 s, a scan every 50ms")
    assert not math.isnan(confs[0].topology.radio.exponent)


# -- the switch-back scenario's options ------------------------------------------------------

SWITCH = """\
name: border
repetitions: 1
configurations:
  only: {topology: corridor.yaml}
scenarios:
  - {name: sb, flow: switch-back, from: west, to: east, switches: 3, context: mpa-sa, mpa_sa_lifetime: 30s}
"""


def test_switch_back_options_load(tmp_path):
    topo = TOPOLOGY.replace("  auth: {kind: aaa_server, domain: d}",
                            "  auth: {kind: aaa_server, domain: d}\n"
                            "  dhcp: {kind: configuration_agent, domain: d}\n"
                            "  info: {kind: information_server, domain: d}")
    topo += ("  - {endpoints: [dhcp, yard], addresses: {dhcp: 10.2.0.6}}\n"
             "  - {endpoints: [info, hall], addresses: {info: 10.1.0.30}}\n")
    exp, _ = experiment(tmp_path, SWITCH, topo)
    s = exp.scenarios[0]
    assert (s.switches, s.context, s.mpa_sa_lifetime) == (3, "mpa-sa", 30.0)
    # and what the flow needs of the topology is checked on load
    assert experiment_error(tmp_path, SWITCH) == [
        "6:5: scenarios[0]: switch-back on corridor.yaml (only): no configuration_agent "
        "(DHCP) serves network 'yard' of 'east'",
        "6:5: scenarios[0]: switch-back on corridor.yaml (only): no information_server: the "
        "MN discovers the target network's PAA, DHCP server and access router from it (s7.1)"]


@pytest.mark.parametrize("old,new,message", [
    ("context: mpa-sa", "context: kept",
     "6:79: scenarios[0].context: expected one of 'mpa-sa' or 'none' (got 'kept')"),
    ("switches: 3", "switches: 0",
     "6:67: scenarios[0].switches: expected at least 1 (got int 0)"),
    ("flow: switch-back", "flow: mpa-l2-pre-authentication",
     "6:5: scenarios[0]: switches applies to the flow switch-back only (not mpa-l2-pre-authentication)"),
])
def test_switch_back_refusals(tmp_path, old, new, message):
    assert experiment_error(tmp_path, SWITCH.replace(old, new)) == [message]


CALL = "      sample_interval: 50ms\n"


@pytest.mark.parametrize("call,message", [
    ("{binding_update: after, buffering: 500ms}",
     "13:13: scenarios[0].movement.call: buffering needs the stream at the nCoA before the "
     "move (binding_update 'handover' or 'before'): with 'after' the CN sends to the old "
     "address and the target access router would hold nothing"),
    ("{binding_update: handover, buffering: 0ms}",
     "13:13: scenarios[0].movement.call: buffering must be a positive period, e.g. '500ms'; "
     "leave it out to disable buffering"),
    ("{binding_update: handover, buffering: 11s}",
     "13:51: scenarios[0].movement.call.buffering: 11s is more than the emulation can do: "
     "call.buffering is at most 10s"),
    ("{binding_update: handover, buffering: 500}",
     "13:51: scenarios[0].movement.call.buffering: expected a duration with a unit, like "
     "'15ms' or '1.5s' (got 500)"),
    ("{binding_update: at-handover}",
     "13:30: scenarios[0].movement.call.binding_update: expected one of 'before', 'after' or "
     "'handover' (got 'at-handover')"),
    ("{binding_update: handover}",
     "10:7: scenarios[0].movement: call binding_update 'handover' needs a pre-configured "
     "nCoA and tunnel (C.4): policy.pre_configure_below is 'none'"),
    ("{binding_update: before, buffering: 1s}",
     "10:7: scenarios[0].movement: call buffering needs a pre-configured nCoA and tunnel "
     "(C.4): policy.pre_configure_below is 'none'"),
])
def test_call_buffering_and_binding_update_refusals(tmp_path, call, message):
    """C.4's buffering alternative (call.buffering, binding_update 'handover'): each refusal
    names the line and the YAML path (the policy here pre-configures nothing)."""
    assert CALL in EXPERIMENT
    text = EXPERIMENT.replace(CALL, CALL + f"      call: {call}\n")
    assert experiment_error(tmp_path, text) == [message]
