"""Copy-and-forward at the previous access router (RFC 6252 C.5.2: "we observed about 10
duplicate packets because of the copy-and-forward mechanism at the access routers").

During a make-before-break transition the access router that served the MN's old address
keeps delivering packets for it there, and for `duration` also sends a copy of each one to
the MN's new address, so that nothing in flight on the old path is lost whichever interface
the MN listens on; the MN then receives some packets twice (duplicates, counted by
experiment/inter_technology.py).

How: a packet socket (every protocol, every interface) sees the packets this router
forwards; the IPv4 ones leaving it (PACKET_OUTGOING) for the old address are copied, readdressed
(protocols/ipv4.readdress: destination and checksums) and sent through a raw IPv4 socket
(IP_HDRINCL), which routes them to the new address like any packet of this router. The
originals are never held or changed. Events: `copy_forward_start` and `copy_forward_done`
(`copies`) with `mn`, `old`, `new`, `duration_ms`. Standard library only.

The same window serves the access router at the end of a proactive handover tunnel into a
cellular network (agents/agent.py `pht_to_link`, C.5.2): once it stops tunnelling the MN's
cellular address, the packets for it leave on the radio link (`leaving`), and a copy of
each goes, unchanged (`new` = `old`), into the tunnel (`via`: the raw socket is bound to
the tunnel's device, so the copy does not take the route of the original).
"""
from __future__ import annotations

import select
import socket
import threading
import time

from ..events import EventLog
from ..protocols.errors import ProtocolError
from ..protocols.ipv4 import destination, readdress

ETH_P_ALL, ETH_P_IP = 0x0003, 0x0800
PACKET_OUTGOING = 4
MAX_DURATION = 10.0          # s: a copy window is a transition, not a second path


class CopyForward:
    """One copy window: packets for `old` copied to `new` for `duration` seconds."""

    def __init__(self, mn: str, old: str, new: str, duration: float, log: EventLog | None,
                 leaving: str | None = None, via: str | None = None):
        """`leaving`: copy only packets that leave on this interface (else on any); `via`:
        send the copies out of this interface (else as routed)."""
        if not 0 < duration <= MAX_DURATION:
            raise ValueError(f"copy-and-forward duration {duration:g} s: expected 0 < d <= "
                             f"{MAX_DURATION:g} s")
        if old == new and (leaving is None or via is None or leaving == via):
            raise ValueError("copies to the same address need another interface: "
                             "leaving and via")
        self.mn, self.old, self.new, self.duration, self.log = mn, old, new, duration, log
        self.leaving, self.via = leaving, via
        self.copies = self.malformed = 0
        self.done = threading.Event()
        # ETH_P_ALL: the kernel shows packets it sends only to packet sockets of every protocol
        self._tap = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
        self._raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self._raw.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        if via is not None:
            self._raw.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, via.encode())

    def _emit(self, event: str, **attrs) -> None:
        if self.log:
            self.log.emit(event, "switching", mn=self.mn, old=self.old, new=self.new,
                          duration_ms=self.duration * 1e3, leaving=self.leaving, via=self.via,
                          **attrs)

    def start(self) -> dict:
        self._emit("copy_forward_start")
        threading.Thread(target=self._run, daemon=True, name=f"copy-forward-{self.old}").start()
        return {"status": "started", "old": self.old, "new": self.new,
                "duration_ms": self.duration * 1e3}

    def _run(self) -> None:
        deadline = time.monotonic() + self.duration
        try:
            while (left := deadline - time.monotonic()) > 0:
                ready, _, _ = select.select([self._tap], [], [], left)
                if not ready:
                    continue
                data, addr = self._tap.recvfrom(65535)
                if addr[2] != PACKET_OUTGOING or addr[1] != ETH_P_IP:
                    continue
                if self.leaving is not None and addr[0] != self.leaving:
                    continue
                try:
                    if destination(data) != self.old:
                        continue
                    copy = readdress(data, self.new)
                except ProtocolError:
                    self.malformed += 1
                    continue
                try:
                    self._raw.sendto(copy, (self.new, 0))
                    self.copies += 1
                except OSError:
                    self.malformed += 1
        finally:
            self._tap.close()
            self._raw.close()
            self._emit("copy_forward_done", copies=self.copies, unsent=self.malformed)
            self.done.set()
