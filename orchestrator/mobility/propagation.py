"""Received signal strength per access point: log-distance path loss with log-normal shadowing.

    RSSI(d) = P_tx - PL(d0) - 10 n log10(d / d0) + X          [dBm]

P_tx the AP's transmit power (dBm), PL(d0) the loss at the reference distance d0 (dB), n the
path-loss exponent (2 in free space, ~2.7-3.5 in offices and streets, 4-6 through buildings),
X the shadowing: zero-mean Gaussian in dB with standard deviation sigma (typically 4-8 dB).
Distances are in metres (`geometry` converts feet). Below d0 the loss is held at PL(d0).

Shadowing is a property of *places* (a wall is where it is), so X is a function of the
station's position, one independent field per AP, fixed by the seed and the AP's name:

- `decorrelation` > 0: a spatially correlated Gaussian field whose correlation decays as
  exp(-r / decorrelation) (Gudmundson, Electronics Letters 27(23), 1991, the usual model for
  shadowing along a route). It is drawn as a sum of `SPECTRAL_COMPONENTS` random plane waves
  whose wave numbers follow the 2-D spectrum of that correlation (|k| = sqrt((1-u)^-2 - 1) / L,
  the inverse of its radial CDF 1 - (1 + k^2 L^2)^-1/2; the Hankel transform of
  k (1/L^2 + k^2)^-3/2 is L exp(-r/L)). The signal then changes little between nearby samples
  and a station that returns to a place sees the same shadowing there (the ping-pong of C.1 is
  a property of the border, not of the dice).
- `decorrelation` = 0: independent draws per position (rounded to the millimetre), for
  comparison; the signal then jumps at every sample.

Pure and deterministic: the same parameters, seed and AP name give the same dBm everywhere.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np

from .geometry import Point, distance

SPECTRAL_COMPONENTS = 512           # plane waves per shadowing field (std of the estimate of
                                    # the correlation ~ 1/sqrt(N) = 0.044)
SPEED_OF_LIGHT = 299_792_458.0


def free_space_reference_loss(frequency_hz: float, d0: float = 1.0) -> float:
    """Friis free-space loss at d0 metres: 20 log10(4 pi d0 f / c) dB (40.05 dB at 1 m,
    2.4 GHz; 46.4 dB at 1 m, 5.2 GHz)."""
    return 20 * math.log10(4 * math.pi * d0 * frequency_hz / SPEED_OF_LIGHT)


@dataclass(frozen=True)
class AccessPoint:
    """A point of attachment with a position (metres). `network` is the access network it
    belongs to (a CTN is a network, not an AP: RFC 6252 s6.3); `tx_power` in dBm overrides
    the propagation model's."""
    name: str
    position: Point
    network: str = ""
    tx_power: float | None = None


@dataclass(frozen=True)
class LogDistance:
    """Log-distance path loss with log-normal shadowing (parameters in the module docstring)."""
    tx_power: float = 20.0           # dBm (100 mW, a common 802.11 AP)
    reference_loss: float = 40.05    # dB at reference_distance (free space, 2.4 GHz, 1 m)
    reference_distance: float = 1.0  # m
    exponent: float = 3.0
    shadowing_sigma: float = 0.0     # dB
    decorrelation: float = 0.0       # m; 0 = independent draws per position
    seed: int = 0

    def __post_init__(self):
        if not self.reference_distance > 0:
            raise ValueError(f"reference_distance must be > 0 m (got {self.reference_distance!r})")
        if not self.exponent > 0:
            raise ValueError(f"the path-loss exponent must be > 0 (got {self.exponent!r})")
        if self.shadowing_sigma < 0 or self.decorrelation < 0:
            raise ValueError("shadowing sigma and decorrelation distance must be 0 or more")

    def _tx(self, ap: AccessPoint) -> float:
        return self.tx_power if ap.tx_power is None else ap.tx_power

    def path_loss(self, d: float | np.ndarray) -> float | np.ndarray:
        """Mean path loss (dB) at d metres."""
        d = np.maximum(np.asarray(d, dtype=float), self.reference_distance)
        out = self.reference_loss + 10 * self.exponent * np.log10(d / self.reference_distance)
        return float(out) if out.ndim == 0 else out

    def mean_rssi(self, ap: AccessPoint, position: Point) -> float:
        """RSSI without shadowing (dBm)."""
        return self._tx(ap) - self.path_loss(distance(ap.position, position))

    def rssi(self, ap: AccessPoint, position: Point) -> float:
        """RSSI with shadowing (dBm) at one position."""
        return float(self.rssi_along(ap, [position])[0])

    def rssi_along(self, ap: AccessPoint, positions: Sequence[Point]) -> np.ndarray:
        """RSSI (dBm) at each of `positions` (an (n, 2) array or a list of points)."""
        pos = np.asarray(positions, dtype=float).reshape(-1, 2)
        d = np.hypot(pos[:, 0] - ap.position[0], pos[:, 1] - ap.position[1])
        return self._tx(ap) - self.path_loss(d) + self.shadowing(ap.name, pos)

    def shadowing(self, ap_name: str, positions: np.ndarray) -> np.ndarray:
        """The shadowing field X (dB) of AP `ap_name` at each position."""
        pos = np.asarray(positions, dtype=float).reshape(-1, 2)
        if self.shadowing_sigma == 0:
            return np.zeros(len(pos))
        if self.decorrelation == 0:
            return np.array([random.Random(f"{self.seed}:{ap_name}:{x:.3f}:{y:.3f}")
                             .gauss(0.0, self.shadowing_sigma) for x, y in pos])
        k, phase = _spectral_field(self.seed, ap_name, self.decorrelation)
        return self.shadowing_sigma * math.sqrt(2.0 / len(phase)) * np.cos(pos @ k.T + phase).sum(axis=1)

    def coverage_radius(self, threshold: float, ap: AccessPoint | None = None) -> float:
        """Distance (m) at which the mean RSSI falls to `threshold` dBm (the cell edge for a
        receiver sensitivity, or where a link-going-down threshold is crossed)."""
        tx = self.tx_power if ap is None else self._tx(ap)
        margin = tx - self.reference_loss - threshold
        if margin <= 0:
            return 0.0
        return self.reference_distance * 10 ** (margin / (10 * self.exponent))

    def tx_power_for_radius(self, radius: float, threshold: float) -> float:
        """The transmit power (dBm) whose mean RSSI is `threshold` dBm at `radius` metres: a
        cell described by its coverage radius rather than by its power."""
        return threshold + self.path_loss(radius)


@lru_cache(maxsize=256)
def _spectral_field(seed: int, ap_name: str, decorrelation: float) -> tuple[np.ndarray, np.ndarray]:
    """Wave vectors (N, 2) and phases (N,) of one AP's shadowing field (module docstring)."""
    rng = random.Random(f"{seed}:{ap_name}:field")
    ks, phases = [], []
    for _ in range(SPECTRAL_COMPONENTS):
        u = rng.random()
        mag = math.sqrt((1.0 - u) ** -2 - 1.0) / decorrelation
        theta = rng.uniform(0.0, 2 * math.pi)
        ks.append((mag * math.cos(theta), mag * math.sin(theta)))
        phases.append(rng.uniform(0.0, 2 * math.pi))
    return np.array(ks), np.array(phases)


def rssi_table(model: LogDistance, aps: Iterable[AccessPoint],
               positions: Sequence[Point]) -> dict[str, np.ndarray]:
    """RSSI (dBm) of every AP at every position: {AP name: array over positions}."""
    return {ap.name: model.rssi_along(ap, positions) for ap in aps}
