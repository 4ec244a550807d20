"""The timeline simulator: deterministic, consistent with its path and model, records round-trip."""
import json

import pytest

from orchestrator.mobility.geometry import random_waypoint, waypoints
from orchestrator.mobility.policy import DISCOVER, HANDOVER, PRE_AUTHENTICATE, PolicyParams
from orchestrator.mobility.propagation import AccessPoint, LogDistance
from orchestrator.mobility.simulate import PhaseDurations, Timeline, simulate

APS = [AccessPoint("ap0", (0, 0), "net-b"), AccessPoint("ap1", (100, 0), "net-a"),
       AccessPoint("ap2", (50, 80), "net-c"), AccessPoint("ap3", (110, 10), "net-a")]
MODEL = LogDistance(exponent=3.0, shadowing_sigma=5.0, decorrelation=8.0, seed=9)
PARAMS = PolicyParams(dwell=0.3, averaging_window=0.5, ctn_selection="above")
DURATIONS = PhaseDurations(0.02, 0.18, 0.016, 0.12)


def _walk(seed=4):
    return random_waypoint(((0, 0), (120, 90)), legs=8, speed=(1.0, 10.0), seed=seed)


def test_same_inputs_same_timeline():
    a = simulate(_walk(), APS, MODEL, PARAMS, durations=DURATIONS)
    b = simulate(_walk(), APS, MODEL, PARAMS, durations=DURATIONS)
    assert a.to_records() == b.to_records()
    assert len(a.handovers) >= 2                          # the walk does cross cells
    c = simulate(_walk(seed=5), APS, MODEL, PARAMS, durations=DURATIONS)
    assert a.to_records() != c.to_records()


def test_samples_follow_the_path_and_the_model():
    path = _walk()
    tl = simulate(path, APS, MODEL, PARAMS, interval=0.25, durations=DURATIONS)
    assert [s.t for s in tl.samples] == path.times(0.25)
    for s in tl.samples[::40]:
        assert s.position == pytest.approx(path.position(s.t))
        for ap in APS:
            assert s.rssi[ap.name] == pytest.approx(MODEL.rssi(ap, s.position))
    first = tl.samples[0].actions[0]                     # no start AP: attach to the strongest
    assert (first.kind, first.reason) == (HANDOVER, "attach")
    assert first.ap == max(tl.samples[0].rssi, key=tl.samples[0].rssi.get)
    assert tl.samples[-1].serving == tl.handovers[-1].ap


def test_phases_end_after_their_modelled_durations():
    tl = simulate(_walk(), APS, MODEL, PARAMS, durations=DURATIONS)
    started = {}
    for a in tl.actions:
        if a.kind in (DISCOVER, PRE_AUTHENTICATE):
            started.setdefault((a.kind, a.network if a.kind != DISCOVER else None), []).append(a.t)
    ends = [(t, kind) for t, kind, _ in tl.completions]
    assert ends, "no phase ran"
    for t, kind, net in tl.completions:
        key = (kind, net if kind != DISCOVER else None)
        if key in started:
            assert any(t == pytest.approx(s + DURATIONS.of(kind)) for s in started[key])


def test_records_round_trip_through_json():
    tl = simulate(_walk(), APS, MODEL, PARAMS, durations=DURATIONS)
    rows = json.loads(json.dumps(tl.to_records()))
    back = Timeline.from_records(rows, APS, PARAMS)
    assert back.actions == tl.actions
    assert back.ping_pongs == tl.ping_pongs
    assert [s.serving for s in back.samples] == [s.serving for s in tl.samples]


def test_position_at_interpolates_between_samples():
    path = waypoints([(0, 0), (10, 0)], speed=1.0)
    tl = simulate(path, APS[:2], MODEL, PARAMS, start_ap="ap0", interval=1.0)
    assert tl.position_at(2.5) == pytest.approx((2.5, 0))
    assert tl.position_at(-1) == (0, 0) and tl.position_at(99) == (10, 0)


def test_bad_inputs_are_refused():
    path = waypoints([(0, 0), (10, 0)], speed=1.0)
    with pytest.raises(ValueError, match="unique"):
        simulate(path, [APS[0], APS[0]], MODEL)
    with pytest.raises(ValueError, match="start_ap 'apx'"):
        simulate(path, APS, MODEL, start_ap="apx")
