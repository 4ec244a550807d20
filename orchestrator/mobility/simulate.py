"""The timeline of one movement, computed without a network (pure): at each sample time, the
mobile node's position, the RSSI of every AP there, what it hears, its serving AP and the
policy's actions. The runner can replay it at real speed against the agents (issuing each
action as an agent command at its time), and the same policy code then runs on real phase
completions instead of the modelled `PhaseDurations`.

Modelled phase ends: an action started at t completes at t + its duration (discovery; PANA
pre-authentication = Tauth + Tpsk, C.6's 2RTT + Tpsk; pre-configuration = C.6's Tconf). The
policy is told at that exact time and starts the next phase then (on the last scan), so the
chain of phases does not wait for samples; only the triggers (thresholds, handover) are judged
at sample times, as a station judges its scans.
"""
from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from .geometry import Path, Point, lerp
from .policy import (DISCOVER, HANDOVER, PRE_AUTHENTICATE, PRE_CONFIGURE, SAME_NETWORK, Action,
                     Policy, PolicyParams)
from .propagation import AccessPoint, LogDistance, rssi_table
from .station import scan

DEFAULT_INTERVAL = 0.1              # s between samples (an 802.11 station's background scan
                                    # is slower, ~1 s; RSSI of the serving AP comes per beacon,
                                    # ~0.1 s)


@dataclass(frozen=True)
class PhaseDurations:
    """What the simulator assumes each MPA phase takes (s). C.5.3's "Tconf" (PSK_ap generation
    and installation, the testbed's `tconf_status`) is C.6's Tpsk; C.6's Tconf is the layer-3
    pre-configuration (nCoA and tunnel)."""
    discovery: float = 0.0
    authentication: float = 0.0        # Tauth (C.6: 2RTT to the AAA server)
    key_installation: float = 0.0      # Tpsk
    pre_configuration: float = 0.0     # Tconf (C.6)

    def of(self, kind: str) -> float:
        return {DISCOVER: self.discovery,
                PRE_AUTHENTICATE: self.authentication + self.key_installation,
                PRE_CONFIGURE: self.pre_configuration}[kind]


@dataclass(frozen=True)
class Sample:
    t: float
    position: Point
    rssi: dict[str, float]             # every AP, heard or not (dBm)
    serving: str | None                # after this sample's actions
    actions: tuple[Action, ...] = ()


@dataclass
class Timeline:
    samples: list[Sample]
    aps: list[AccessPoint]
    params: PolicyParams | None = None
    completions: list[tuple[float, str, str | None]] = field(default_factory=list)

    @property
    def actions(self) -> list[Action]:
        return [a for s in self.samples for a in s.actions]

    @property
    def handovers(self) -> list[Action]:
        return [a for a in self.actions if a.kind == HANDOVER]

    @property
    def ping_pongs(self) -> int:
        return sum(a.ping_pong for a in self.handovers)

    def position_at(self, t: float) -> Point:
        """The position at time t, interpolated between the samples around it."""
        ts = [s.t for s in self.samples]
        i = int(np.searchsorted(ts, t, side="right"))
        if i == 0:
            return self.samples[0].position
        if i == len(ts):
            return self.samples[-1].position
        a, b = self.samples[i - 1], self.samples[i]
        return lerp(a.position, b.position, (t - a.t) / (b.t - a.t))

    def to_records(self) -> list[dict]:
        """One JSON-able row per sample (the shape run records will take)."""
        return [{"t": s.t, "x": s.position[0], "y": s.position[1], "serving": s.serving,
                 "rssi": dict(s.rssi), "actions": [a.to_dict() for a in s.actions]}
                for s in self.samples]

    @classmethod
    def from_records(cls, rows: Iterable[dict], aps: Sequence[AccessPoint],
                     params: PolicyParams | None = None) -> "Timeline":
        samples = [Sample(float(r["t"]), (float(r["x"]), float(r["y"])),
                          {k: float(v) for k, v in r["rssi"].items()}, r.get("serving"),
                          tuple(Action(**a) for a in r.get("actions", ())))
                   for r in rows]
        return cls(samples, list(aps), params)


def simulate(path: Path, aps: Sequence[AccessPoint], model: LogDistance,
             params: PolicyParams = PolicyParams(), *, start_ap: str | None = None,
             interval: float = DEFAULT_INTERVAL,
             durations: PhaseDurations = PhaseDurations()) -> Timeline:
    """Sample `path` every `interval` s; the policy starts attached to `start_ap` (None: the
    strongest AP heard at the first sample, an `attach` handover)."""
    names = [ap.name for ap in aps]
    if len(set(names)) != len(names):
        raise ValueError(f"AP names must be unique (got {names})")
    if start_ap is not None and start_ap not in names:
        raise ValueError(f"start_ap {start_ap!r} is not one of the APs {names}")
    times = path.times(interval)
    positions = [path.position(t) for t in times]
    table = rssi_table(model, aps, positions)
    policy = Policy(params, {ap.name: ap.network for ap in aps}, start_ap)
    pending: list[tuple[float, int, str, str | None]] = []
    seq = itertools.count()
    completions, samples = [], []
    def start(new: list[Action]) -> list[Action]:
        for a in new:
            if a.kind in (DISCOVER, PRE_AUTHENTICATE, PRE_CONFIGURE):
                heapq.heappush(pending, (a.t + durations.of(a.kind), next(seq), a.kind, a.network))
        return new

    for i, t in enumerate(times):
        actions = []
        while pending and pending[0][0] <= t + 1e-12:     # phases that ended since the last
            done, _, kind, net = heapq.heappop(pending)   # sample start their successors then
            completions.append((done, kind, net))
            actions += start(policy.completed(done, kind, net))
        rssi = {name: float(table[name][i]) for name in names}
        actions += start(policy.step(t, scan(rssi, params.sensitivity)))
        samples.append(Sample(t, positions[i], rssi, policy.serving, tuple(actions)))
    return Timeline(samples, list(aps), params, completions)


@dataclass(frozen=True)
class Preparation:
    """One inter-network handover seen from C.6: how long and how far the MN travelled between
    the start of MPA (discovery in the network it left) and the handover, and how far MPA got."""
    handover: Action
    started: float | None              # time of the discovery that began this preparation
    window: float | None               # s from that discovery to the handover
    distance: float | None             # m travelled meanwhile (C.6's D for this run)
    prepared: str


def preparations(timeline: Timeline, path: Path) -> list[Preparation]:
    """For each handover, the preparation window that preceded it (None where no discovery
    happened in the serving period, e.g. an `attach` or a move within one network)."""
    out, began = [], None
    for a in timeline.actions:
        if a.kind == DISCOVER and began is None:
            began = a.t
        elif a.kind == HANDOVER:
            w = None if began is None else a.t - began
            d = None if began is None else path.distance_travelled(a.t) - path.distance_travelled(began)
            out.append(Preparation(a, began, w, d, a.prepared or ""))
            if a.prepared != SAME_NETWORK:    # discovery is per serving network
                began = None
    return out
