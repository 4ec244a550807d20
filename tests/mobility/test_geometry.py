"""Paths: positions at times, speeds, pauses, sampling; the random-waypoint model's seed."""
import math

import pytest

from orchestrator.mobility.geometry import (FOOT, back_and_forth, distance, feet, kmh, line,
                                            random_waypoint, to_feet, waypoints)


def test_feet_and_kmh():
    assert FOOT == 0.3048
    assert feet(100) == pytest.approx(30.48)
    assert to_feet(30.48) == pytest.approx(100)
    assert to_feet(feet(476.19)) == pytest.approx(476.19)
    assert kmh(36) == pytest.approx(10.0)


def test_line_positions_and_speed():
    p = line((0, 0), (30, 40), speed=5.0)             # 50 m at 5 m/s
    assert p.length == pytest.approx(50)
    assert p.duration == pytest.approx(10)
    assert p.position(0) == (0, 0)
    assert p.position(-3) == (0, 0)                   # before the start: at the first point
    assert p.position(4) == pytest.approx((12, 16))
    assert p.position(10) == pytest.approx((30, 40))
    assert p.position(99) == (30, 40)                 # after the end: at the last point
    assert p.speed(5) == 5.0 and p.speed(10) == 0.0 and p.speed(-1) == 0.0
    assert p.distance_travelled(4) == pytest.approx(20)


def test_waypoints_per_leg_speed_and_pause():
    p = waypoints([(0, 0), (10, 0), (10, 20)], speed=[1.0, 4.0], pause=[2.0, 0.0], start_time=1.0)
    # leg 1: 10 s travelling, 2 s pause; leg 2: 20 m at 4 m/s = 5 s
    assert p.duration == pytest.approx(17)
    assert p.end_time == pytest.approx(18)
    assert p.position(6) == pytest.approx((5, 0))     # 5 s into leg 1
    assert p.position(12) == pytest.approx((10, 0))   # pausing
    assert p.speed(12) == 0.0
    assert p.position(13 + 2.5) == pytest.approx((10, 10))
    assert p.speed(15) == 4.0
    assert p.distance_travelled(15.5) == pytest.approx(20)
    assert p.waypoints == [(0, 0), (10, 0), (10, 20)]


def test_sample_times_include_the_end():
    p = line((0, 0), (10, 0), speed=4.0)              # 2.5 s
    ts = p.times(1.0)
    assert ts == [0.0, 1.0, 2.0, 2.5]
    assert line((0, 0), (10, 0), 1.0).times(0.1)[-1] == 10.0
    assert len(line((0, 0), (10, 0), 1.0).times(0.1)) == 101


@pytest.mark.parametrize("kwargs, message", [
    ({"speed": 0}, "speed must be a positive"),
    ({"speed": -1}, "speed must be a positive"),
    ({"speed": [1, 2, 3]}, "3 speed values for 2 legs"),
    ({"speed": 1, "pause": -1}, "pause must be 0 or more"),
])
def test_bad_paths_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        waypoints([(0, 0), (1, 0), (2, 0)], **kwargs)


def test_back_and_forth_alternates():
    p = back_and_forth((0, 0), (10, 0), speed=2.0, times=3)
    assert p.waypoints == [(0, 0), (10, 0), (0, 0), (10, 0)]
    assert p.position(7.5) == pytest.approx((5, 0))   # halfway back on the second leg
    assert p.duration == pytest.approx(15)


def test_random_waypoint_is_reproducible_and_stays_in_its_area():
    area = ((0, 0), (200, 100))
    a = random_waypoint(area, legs=20, speed=(1, 3), pause=(0, 2), seed=42)
    b = random_waypoint(area, legs=20, speed=(1, 3), pause=(0, 2), seed=42)
    c = random_waypoint(area, legs=20, speed=(1, 3), pause=(0, 2), seed=43)
    assert a == b
    assert a.waypoints != c.waypoints
    assert len(a.legs) == 20
    for leg in a.legs:
        assert 1 <= leg.speed <= 3 and 0 <= leg.pause <= 2
    for t in a.times(1.0):
        x, y = a.position(t)
        assert 0 <= x <= 200 and 0 <= y <= 100
    # speed is the distance covered per second while travelling
    leg = a.legs[0]
    t0 = leg.travel_time / 2
    assert distance(a.position(t0), a.position(t0 + 0.1)) == pytest.approx(0.1 * leg.speed)


def test_random_waypoint_refuses_a_zero_minimum_speed():
    with pytest.raises(ValueError, match="0 < min"):
        random_waypoint(((0, 0), (1, 1)), legs=3, speed=(0, 2))
    assert math.isfinite(random_waypoint(((0, 0), (1, 1)), legs=3, speed=(1, 2)).duration)
