"""Positions and paths of mobile nodes (RFC 6252 C.1, C.6: movement pattern, cell size, velocity).

Unit: every length here is in **metres**, every time in **seconds**, every speed in **m/s**.
RFC 6252 C.6 works its example in feet (D = 100 ft, v ~ 500 ft/s); convert at the edges with
`feet()` / `to_feet()` (1 ft = 0.3048 m exactly, by the 1959 international yard and pound
agreement). For orientation: walking ~1.4 m/s, urban car ~14 m/s (50 km/h), motorway
~33 m/s (120 km/h); the RFC's 500 ft/s is 152 m/s.

A path is plain data (waypoints and speeds); `position(t)` is a pure function of time, so a
path can be sampled at any interval and replayed at real speed. Before it starts a node stands
at its first waypoint, after it ends at its last.
"""
from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field
from typing import Sequence

FOOT = 0.3048                       # metres, exactly
KMH = 1000.0 / 3600.0               # m/s per km/h

Point = tuple[float, float]


def feet(value: float) -> float:
    """A length (or speed) in feet (per second) -> metres (per second)."""
    return value * FOOT


def to_feet(metres: float) -> float:
    """Metres (per second) -> feet (per second)."""
    return metres / FOOT


def kmh(value: float) -> float:
    """km/h -> m/s."""
    return value * KMH


def distance(a: Point, b: Point) -> float:
    return math.hypot(b[0] - a[0], b[1] - a[1])


def lerp(a: Point, b: Point, f: float) -> Point:
    return (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f)


@dataclass(frozen=True)
class Leg:
    """One straight stretch at constant speed, then an optional pause at its end."""
    start: Point
    end: Point
    speed: float                    # m/s, > 0
    pause: float = 0.0              # s spent standing at `end`

    @property
    def length(self) -> float:
        return distance(self.start, self.end)

    @property
    def travel_time(self) -> float:
        return self.length / self.speed

    @property
    def duration(self) -> float:
        return self.travel_time + self.pause


@dataclass(frozen=True)
class Path:
    """A sequence of legs from t = 0 (`start_time` shifts it). Build it with `waypoints`,
    `line` or `random_waypoint` rather than by hand."""
    legs: tuple[Leg, ...]
    start_time: float = 0.0
    _ends: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not self.legs:
            raise ValueError("a path needs at least one leg")
        for i, leg in enumerate(self.legs):
            if not (leg.speed > 0 and math.isfinite(leg.speed)):
                raise ValueError(f"leg {i}: speed must be a positive number of m/s (got {leg.speed!r})")
            if leg.pause < 0:
                raise ValueError(f"leg {i}: pause must be 0 or more seconds (got {leg.pause!r})")
        ends, t = [], self.start_time
        for leg in self.legs:
            t += leg.duration
            ends.append(t)
        object.__setattr__(self, "_ends", tuple(ends))

    @property
    def duration(self) -> float:
        """Seconds from `start_time` until the node stands at its last waypoint."""
        return self._ends[-1] - self.start_time

    @property
    def end_time(self) -> float:
        return self._ends[-1]

    @property
    def length(self) -> float:
        return sum(leg.length for leg in self.legs)

    @property
    def waypoints(self) -> list[Point]:
        return [self.legs[0].start] + [leg.end for leg in self.legs]

    def _leg_at(self, t: float) -> tuple[Leg, float]:
        """The leg under way at time t and the seconds since it began."""
        i = min(bisect.bisect_right(self._ends, t), len(self.legs) - 1)
        begin = self._ends[i - 1] if i else self.start_time
        return self.legs[i], t - begin

    def position(self, t: float) -> Point:
        if t <= self.start_time:
            return self.legs[0].start
        if t >= self.end_time:
            return self.legs[-1].end
        leg, dt = self._leg_at(t)
        if dt >= leg.travel_time:
            return leg.end
        return lerp(leg.start, leg.end, dt / leg.travel_time)

    def speed(self, t: float) -> float:
        """Instantaneous speed (0 while pausing, before the start and after the end)."""
        if t < self.start_time or t >= self.end_time:
            return 0.0
        leg, dt = self._leg_at(t)
        return leg.speed if dt < leg.travel_time else 0.0

    def distance_travelled(self, t: float) -> float:
        """Metres covered from the start until time t."""
        if t <= self.start_time:
            return 0.0
        total = 0.0
        for leg, end in zip(self.legs, self._ends):
            begin = end - leg.duration
            if t >= end:
                total += leg.length
            else:
                total += min(leg.length, leg.speed * max(0.0, t - begin))
                break
        return total

    def times(self, interval: float) -> list[float]:
        """Sample times from the start to the end inclusive, `interval` apart (the last one
        is the end time even when the duration is not a multiple of the interval)."""
        if not interval > 0:
            raise ValueError(f"the sample interval must be positive (got {interval!r})")
        n = int(math.floor(self.duration / interval + 1e-9))
        ts = [round(self.start_time + k * interval, 9) for k in range(n + 1)]
        if self.end_time - ts[-1] > 1e-9:
            ts.append(self.end_time)
        return ts


def waypoints(points: Sequence[Point], speed: float | Sequence[float],
              pause: float | Sequence[float] = 0.0, start_time: float = 0.0) -> Path:
    """A path through `points` in order: one speed for every leg, or one per leg; likewise
    the pause at the end of each leg."""
    points = [(float(x), float(y)) for x, y in points]
    if len(points) < 2:
        raise ValueError("a waypoint path needs at least two points")
    n = len(points) - 1
    speeds = _per_leg(speed, n, "speed")
    pauses = _per_leg(pause, n, "pause")
    return Path(tuple(Leg(points[i], points[i + 1], speeds[i], pauses[i]) for i in range(n)),
                start_time)


def _per_leg(value, n: int, what: str) -> list[float]:
    if isinstance(value, (int, float)):
        return [float(value)] * n
    values = [float(v) for v in value]
    if len(values) != n:
        raise ValueError(f"{len(values)} {what} values for {n} legs: give one, or one per leg")
    return values


def line(start: Point, end: Point, speed: float, start_time: float = 0.0) -> Path:
    """From `start` to `end` in a straight line at constant speed."""
    return waypoints([start, end], speed, start_time=start_time)


def back_and_forth(a: Point, b: Point, speed: float, times: int,
                   pause: float = 0.0, start_time: float = 0.0) -> Path:
    """a -> b -> a -> ... with `times` legs: a border path for the ping-pong of C.1."""
    if times < 1:
        raise ValueError("back_and_forth needs at least one leg")
    points = [a if k % 2 == 0 else b for k in range(times + 1)]
    return waypoints(points, speed, pause, start_time)


def random_waypoint(area: tuple[Point, Point], legs: int, speed: tuple[float, float],
                    pause: tuple[float, float] = (0.0, 0.0), seed: int = 0,
                    start: Point | None = None, start_time: float = 0.0) -> Path:
    """The random-waypoint model (Johnson & Maltz, 1996): each leg goes to a point drawn
    uniformly in the rectangle `area` = ((xmin, ymin), (xmax, ymax)) at a speed drawn
    uniformly in `speed` = (min, max) m/s, then pauses a time drawn uniformly in `pause`.
    The same seed gives the same path. (The model's known bias: the node spends more time
    near the centre of the area, and a minimum speed of 0 makes the mean speed decay; keep
    min speed > 0.)"""
    (x0, y0), (x1, y1) = area
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"area must be ((xmin, ymin), (xmax, ymax)) with max > min (got {area!r})")
    if not (0 < speed[0] <= speed[1]):
        raise ValueError(f"speed range must be (min, max) with 0 < min <= max (got {speed!r})")
    if not (0 <= pause[0] <= pause[1]):
        raise ValueError(f"pause range must be (min, max) with 0 <= min <= max (got {pause!r})")
    rng = random.Random(seed)
    here = start if start is not None else (rng.uniform(x0, x1), rng.uniform(y0, y1))
    out = []
    for _ in range(legs):
        there = (rng.uniform(x0, x1), rng.uniform(y0, y1))
        out.append(Leg(here, there, rng.uniform(*speed), rng.uniform(*pause)))
        here = there
    return Path(tuple(out), start_time)
