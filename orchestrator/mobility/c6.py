"""RFC 6252 C.6, guidelines for handover preparation: how fast may a mobile node move for MPA
to finish before it must hand over?

    2RTT + Tpsk          < D / v      (pre-authentication only)
    2RTT + Tpsk + Tconf  < D / v      (pre-authentication and pre-configuration)

D: the distance over which the MN can do MPA before it must hand over (the RFC says "coverage
diameter"; for a station crossing a cell through its centre, the distance between the point
where MPA starts and the point where it must hand over is at most that); v: its velocity;
RTT: AP to AAA server round trip including authentication processing (Tauth = 2RTT in the
RFC's model); Tpsk: installing the keys in the target APs; Tconf: layer-3 configuration.

Names: C.5.3's "Tconf" (PSK_ap generation and installation) is C.6's Tpsk; C.6's Tconf is the
pre-configuration phase (nCoA and proactive handover tunnel, s6.3 step 2). The RFC's worked
example, D = 100 ft, RTT = 100 ms, Tpsk = 10 ms, Tconf = 190 ms, gives 100/0.21 = 476 ft/s
(the RFC rounds to "~500 ft/sec") and 100/0.4 = 250 ft/s.

With measured phase times (`PhaseTimes`), Tauth is the measured PANA/EAP pre-authentication
time (several round trips in EAP-TLS, not two), taken in place of the RFC's 2RTT.
"""
from __future__ import annotations

from dataclasses import dataclass

from .propagation import AccessPoint, LogDistance

PRE_AUTHENTICATION = "pre-authentication"
PRE_CONFIGURATION = "pre-authentication+pre-configuration"
DEPTHS = (PRE_AUTHENTICATION, PRE_CONFIGURATION)


def velocity_limit(distance: float, rtt: float, tpsk: float, tconf: float = 0.0) -> float:
    """The RFC's formula: D / (2RTT + Tpsk + Tconf), in the unit of `distance` per second."""
    budget = 2 * rtt + tpsk + tconf
    if not budget > 0:
        raise ValueError(f"2RTT + Tpsk + Tconf must be positive (got {budget!r} s)")
    return distance / budget


@dataclass(frozen=True)
class PhaseTimes:
    """Measured (or assumed) durations of the MPA phases, in seconds."""
    tauth: float                       # pre-authentication (the RFC's 2RTT)
    tpsk: float                        # key installation in the target APs
    tconf: float = 0.0                 # pre-configuration (layer 3)
    discovery: float = 0.0             # network discovery (s6.3 step 1; 0 in the RFC's example)

    @classmethod
    def from_rtt(cls, rtt: float, tpsk: float, tconf: float = 0.0) -> "PhaseTimes":
        return cls(2 * rtt, tpsk, tconf)

    def budget(self, depth: str) -> float:
        """Seconds the MN needs between the start of MPA and the handover, for a depth."""
        base = self.discovery + self.tauth + self.tpsk
        if depth == PRE_AUTHENTICATION:
            return base
        if depth == PRE_CONFIGURATION:
            return base + self.tconf
        raise ValueError(f"unknown MPA depth {depth!r} (known: {', '.join(DEPTHS)})")


def predicted_limits(distance: float, times: PhaseTimes) -> dict[str, float]:
    """The velocity limit (distance unit per second) for each MPA depth, from phase times."""
    return {depth: distance / times.budget(depth) for depth in DEPTHS}


def mpa_distance(model: LogDistance, ap: AccessPoint, start_below: float,
                 must_hand_over_below: float) -> float:
    """D for a station moving straight away from `ap` (metres): from where its mean signal
    falls below `start_below` dBm (MPA starts) to where it falls below `must_hand_over_below`
    (the handover threshold, or the sensitivity: the link is lost)."""
    if must_hand_over_below > start_below:
        raise ValueError("MPA must start at a stronger signal than the one it must finish by "
                         f"(start_below {start_below} dBm < must_hand_over_below "
                         f"{must_hand_over_below} dBm)")
    return (model.coverage_radius(must_hand_over_below, ap)
            - model.coverage_radius(start_below, ap))
