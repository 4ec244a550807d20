"""What a station's radio reports: scan results and link events (IEEE 802.21 style).

- `scan`: the APs whose signal is at or above the receiver's sensitivity, strongest first (an
  802.11 scan's BSS list with RSSI). The policy is fed these, never the propagation model.
- `LinkMonitor`: the link-layer events IEEE 802.21 (MIH) passes up, for the station's current
  AP: `link_going_down` when its signal falls below a threshold (re-armed when it rises again
  above the threshold plus a margin, so shadowing near the threshold does not repeat the
  event every sample), `link_down` when the AP is no longer heard (below sensitivity) for
  `link_loss_time` seconds (an 802.11 station declares the link lost after missed beacons).
  RFC 6252 s6.3: MPA starts before the link goes down; these are its triggers.

Pure: values in, events out; no clock of its own (times are passed in).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

LINK_GOING_DOWN = "link_going_down"
LINK_DOWN = "link_down"


@dataclass(frozen=True)
class ScanResult:
    ap: str
    rssi: float                      # dBm


def scan(rssi: Mapping[str, float], sensitivity: float) -> list[ScanResult]:
    """The APs heard at or above `sensitivity` dBm, strongest first (ties by name)."""
    heard = [ScanResult(ap, float(v)) for ap, v in rssi.items() if v >= sensitivity]
    return sorted(heard, key=lambda r: (-r.rssi, r.ap))


@dataclass
class LinkMonitor:
    """Link events of the current AP; `attach` on every (re)association."""
    going_down: float                # dBm
    rearm_margin: float = 3.0        # dB above `going_down` before the event can repeat
    link_loss_time: float = 0.0      # s unheard before link_down
    ap: str | None = None
    _armed: bool = True
    _unheard_since: float | None = None
    _down: bool = False

    def attach(self, ap: str | None) -> None:
        self.ap, self._armed, self._unheard_since, self._down = ap, True, None, False

    def update(self, t: float, signal: float | None) -> list[str]:
        """`signal` is the current AP's (possibly averaged) RSSI, or None when not heard."""
        if self.ap is None or self._down:
            return []
        events = []
        if signal is None:
            if self._unheard_since is None:
                self._unheard_since = t
            if t - self._unheard_since >= self.link_loss_time:
                self._down = True
                events.append(LINK_DOWN)
            return events
        self._unheard_since = None
        if self._armed and signal < self.going_down:
            self._armed = False
            events.append(LINK_GOING_DOWN)
        elif not self._armed and signal >= self.going_down + self.rearm_margin:
            self._armed = True
        return events

    @property
    def is_down(self) -> bool:
        return self._down
