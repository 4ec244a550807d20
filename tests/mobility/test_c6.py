"""RFC 6252 C.6: the velocity limit, its worked example, and the simulator agreeing with it."""
import pytest

from orchestrator.mobility.c6 import (DEPTHS, PRE_AUTHENTICATION, PRE_CONFIGURATION, PhaseTimes,
                                      mpa_distance, predicted_limits, velocity_limit)
from orchestrator.mobility.geometry import feet, line, to_feet
from orchestrator.mobility.policy import PolicyParams
from orchestrator.mobility.propagation import AccessPoint, LogDistance
from orchestrator.mobility.simulate import PhaseDurations, preparations, simulate


def test_the_rfc_worked_example():
    """D = 100 ft, RTT = 100 ms, Tpsk = 10 ms (-> "~500 ft/sec"), Tconf = 190 ms (-> ~250)."""
    v1 = velocity_limit(100, rtt=0.100, tpsk=0.010)
    v2 = velocity_limit(100, rtt=0.100, tpsk=0.010, tconf=0.190)
    assert v1 == pytest.approx(476.19, abs=0.01)          # 100 / 0.21
    assert round(v1, -2) == 500                            # the RFC's "~500 ft/sec"
    assert v2 == pytest.approx(250.0)
    # the same in metres: 30.48 m, 145.1 m/s and 76.2 m/s
    limits = predicted_limits(feet(100), PhaseTimes.from_rtt(0.100, 0.010, 0.190))
    assert limits[PRE_AUTHENTICATION] == pytest.approx(feet(v1))
    assert limits[PRE_CONFIGURATION] == pytest.approx(feet(250.0))
    assert to_feet(limits[PRE_CONFIGURATION]) == pytest.approx(250.0)
    assert limits[PRE_AUTHENTICATION] == pytest.approx(145.14, abs=0.01)


def test_measured_phase_times_give_a_limit_per_depth():
    times = PhaseTimes(tauth=0.177, tpsk=0.016, tconf=0.050, discovery=0.004)
    limits = predicted_limits(30.0, times)
    assert set(limits) == set(DEPTHS)
    assert limits[PRE_AUTHENTICATION] == pytest.approx(30.0 / (0.004 + 0.177 + 0.016))
    assert limits[PRE_CONFIGURATION] == pytest.approx(30.0 / (0.004 + 0.177 + 0.016 + 0.050))
    assert limits[PRE_CONFIGURATION] < limits[PRE_AUTHENTICATION]
    with pytest.raises(ValueError, match="unknown MPA depth"):
        times.budget("everything")
    with pytest.raises(ValueError, match="must be positive"):
        velocity_limit(100, 0, 0)


def test_mpa_distance_between_two_thresholds():
    m = LogDistance(exponent=3.0, tx_power=20.0)
    ap = AccessPoint("ap0", (0, 0))
    d = mpa_distance(m, ap, start_below=-70, must_hand_over_below=-78)
    assert d == pytest.approx(m.coverage_radius(-78) - m.coverage_radius(-70))
    assert 38 < d < 40                                     # 85.4 m - 46.2 m
    with pytest.raises(ValueError, match="stronger signal"):
        mpa_distance(m, ap, -78, -70)


# A station leaving AP0 straight for AP1, no shadowing: MPA starts (discovery, then at once
# pre-authentication and pre-configuration) when AP0 falls below -70 dBm and it must hand over
# when AP0 falls below -78 dBm (AP1 is stronger by then): D = 39.2 m.
MODEL = LogDistance(exponent=3.0, tx_power=20.0)
APS = [AccessPoint("ap0", (0, 0), "net-b"), AccessPoint("ap1", (120, 0), "net-a")]
RFC = PhaseDurations(discovery=0.0, authentication=0.200, key_installation=0.010,
                     pre_configuration=0.190)


def _prepared(speed: float, depth: str) -> tuple[str, float]:
    params = PolicyParams(link_going_down=-70, pre_authenticate_below=-70,
                          pre_configure_below=-70 if depth == PRE_CONFIGURATION else None,
                          handover_below=-78, hysteresis=0.0)
    path = line((0, 0), (120, 0), speed)
    timeline = simulate(path, APS, MODEL, params, start_ap="ap0", interval=0.005, durations=RFC)
    (prep,) = [p for p in preparations(timeline, path) if p.handover.source == "ap0"]
    return prep.prepared, prep.distance


@pytest.mark.parametrize("depth, done", [(PRE_AUTHENTICATION, "pre-authenticated"),
                                         (PRE_CONFIGURATION, "pre-configured")])
def test_the_simulator_agrees_with_the_formula(depth, done):
    """Below the predicted limit MPA finishes before the handover, above it does not."""
    D = mpa_distance(MODEL, APS[0], -70, -78)
    limit = predicted_limits(D, PhaseTimes(0.200, 0.010, 0.190))[depth]
    for factor in (0.5, 0.85):
        prepared, distance = _prepared(factor * limit, depth)
        assert prepared == done, factor
        assert distance == pytest.approx(D, abs=factor * limit * 0.005 + 1e-6)
    for factor in (1.15, 2.0):
        prepared, _ = _prepared(factor * limit, depth)
        assert prepared != done, factor
