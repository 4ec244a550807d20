"""Preparations the handover overtook (RFC 6252 C.6: an MN that moves too fast hands over
before MPA has finished).

A pre-authentication or pre-configuration runs from the MN's address in the network it is
in (PANA from the oCoA, the relayed DHCP from the oCoA). Once the MN has handed over to
another network, the answers to those messages go to a network it has left: the phase
cannot finish, and waiting for its timeout (5 s in a movement) only holds the movement.
The MN knows it has left; each phase watches the `Overtaken` of the network it started
from and ends at once, with the reason, when the MN leaves it:

    departures = Departures()
    watch = departures.current          # taken when the phase starts
    ...                                  # the phase polls watch.is_set() while it waits
    departures.left("the handover to net-a overtook it")   # every phase watching ends

A phase started after the handover watches the next network's `Overtaken`.
"""
from __future__ import annotations

import threading

# how often a waiting phase looks at its Overtaken (it also wakes for its own traffic)
POLL_S = 0.05


class Overtaken:
    """Set, with a reason, when the MN leaves the network a phase started from."""

    def __init__(self):
        self._event = threading.Event()
        self.reason = ""

    def is_set(self) -> bool:
        return self._event.is_set()

    def overtake(self, reason: str) -> None:
        self.reason = reason
        self._event.set()

    def slice(self, wait: float) -> float:
        """A select() timeout no longer than POLL_S, so that the phase sees the departure."""
        return min(wait, POLL_S)


class Departures:
    """The MN's current `Overtaken`, replaced each time it leaves a network."""

    def __init__(self):
        self._lock = threading.Lock()
        self.current = Overtaken()

    def left(self, reason: str) -> None:
        with self._lock:
            old, self.current = self.current, Overtaken()
        old.overtake(reason)
