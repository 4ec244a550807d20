"""The departure notice from the AP to its network's PAA (RFC 6252 C.2; the message is
`orchestrator.protocols.departure`, our own).

Who does what:
- the emulated radio (controller/app.py) tells the AP a station left it, as a real AP's
  MAC layer learns it (the station's Disassociation, its reassociation with another AP
  announced to the old one, or its link lost): a `sta_disassociated` management frame on
  the AP's authenticator port;
- the AP's `DepartureNotifier` sends a Departure-Notice to each PAA of its network
  (retransmitted until acknowledged; not sent if the station came back meanwhile):
  events ``departure_notice_sent`` / ``departure_notice_failed``;
- the PAA's `DepartureServer` authenticates it with the secret it shares with that AP and
  hands it on; `departure_action` (pure) decides what it means for the MPA-SA: the
  station's identity if it left the PAA's network, None if it reassociated with another AP
  of the same network or is not known. The PAA role then moves the identity's authorized
  sessions to unauthorized (`agents/pana.py` `Paa.detach`, trigger ``departure notice``)
  and emits ``departure_notice``.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

from ..events import EventLog
from ..protocols import departure as dn
from ..protocols import mgmt
from .keyinstall import _next_sequence
from .udpserver import UdpServer, request

PHASE = "switching"
# The AP's retransmission of a notice: first wait, doubling, retries (like key installation)
NOTICE_TIMEOUT, NOTICE_RETRIES = 0.2, 3
REASONS = {"station_request": dn.Reason.DISASSOCIATED, "reassociation": dn.Reason.REASSOCIATED,
           "link_lost": dn.Reason.LINK_LOST}


class DepartureNotifier:
    """The AP's side: ``departed(sta, reason, new_bssid)`` sends a notice to every PAA of the
    AP's network (`peers`: PAA address -> the secret they share) in a thread of its own, so
    that the authenticator's receive loop never waits. `gone(sta)` is asked before each
    (re)transmission: a station that is back at this AP is not reported."""

    def __init__(self, bssid: str, peers: dict[str, str], port: int, log: EventLog | None,
                 gone: Callable[[str], bool] = lambda sta: True, *,
                 timeout: float = NOTICE_TIMEOUT, retries: int = NOTICE_RETRIES):
        self.bssid, self.peers, self.port, self.log = bssid, dict(peers), port, log
        self.gone, self.timeout, self.retries = gone, timeout, retries

    def departed(self, sta: str, reason: str, new_bssid: str | None = None) -> None:
        notice = dn.DepartureNotice(REASONS.get(reason, dn.Reason.DISASSOCIATED),
                                    _next_sequence(), mgmt.mac_bytes(sta),
                                    mgmt.mac_bytes(self.bssid),
                                    mgmt.mac_bytes(new_bssid) if new_bssid else dn.NO_BSSID)
        for address, secret in self.peers.items():
            threading.Thread(target=self.send, args=(address, secret.encode(), notice, sta),
                             daemon=True, name="departure").start()

    def send(self, address: str, secret: bytes, notice: dn.DepartureNotice, sta: str) -> bool:
        datagram = dn.encode_notice(secret, notice)
        t0 = time.perf_counter()

        def answer(data: bytes):
            reason, sequence = dn.decode_ack(secret, data)   # ProtocolError: not ours
            return True if sequence == notice.sequence else None
        if not self.gone(sta):
            return False
        acked = request((address, self.port), datagram, answer, self.timeout, self.retries)
        attrs = {"sta": sta, "paa": f"{address}:{self.port}", "reason": notice.reason.name,
                 "new_bssid": mgmt.mac_str(notice.new_bssid) if any(notice.new_bssid) else None,
                 "elapsed_ms": (time.perf_counter() - t0) * 1e3}
        if self.log:
            self.log.emit("departure_notice_sent" if acked else "departure_notice_failed",
                          PHASE, **attrs, attempts=None if acked else 1 + self.retries)
        return bool(acked)


def departure_action(notice: dn.DepartureNotice, network_bssids: set[bytes],
                     identities: dict[str, str]) -> tuple[str | None, str]:
    """(identity whose authorized sessions become unauthorized, or None; why). RFC 6252 C.2:
    only a station that left the PAA's *network* loses its authorization; a reassociation
    with another AP of that network keeps it."""
    sta = mgmt.mac_str(notice.station)
    identity = identities.get(sta)
    if identity is None:
        return None, f"station {sta} is not known to this PAA"
    if notice.new_bssid in network_bssids:
        return None, f"reassociated with {mgmt.mac_str(notice.new_bssid)}, in this PAA's network"
    return identity, "left the PAA's network"


class DepartureServer(UdpServer):
    """The PAA's side: one `protocols.departure.Receiver` per AP of its network (`aps`: dicts
    with name, bssid, secret), chosen by the BSSID the notice names (its MAC then proves the
    AP sent it). ``on_notice(notice, ap_name)`` runs before the ack (acked means done)."""
    name = "departure"

    def __init__(self, address: str, port: int, aps: list[dict],
                 on_notice: Callable[[dn.DepartureNotice, str], None], log: EventLog | None = None):
        super().__init__(address, port, log=log)
        self.receivers = {mgmt.mac_bytes(a["bssid"]): (a["name"], dn.Receiver(
            a["secret"].encode(), mgmt.mac_bytes(a["bssid"]))) for a in aps}
        self.on_notice = on_notice

    def datagram(self, data: bytes, peer: tuple[str, int], ancillary: list) -> None:
        found = self.receivers.get(bytes(data[18:24]))
        if found is None:
            self._reject(peer, "no AP of this PAA's network has the BSSID the notice names")
            return
        ap, receiver = found
        receipt = receiver.handle(data)
        if receipt.notice is not None:
            self.on_notice(receipt.notice, ap)
        elif receipt.reason:
            self._reject(peer, receipt.reason, ap=ap)
        if receipt.ack is not None:
            self.sock.sendto(receipt.ack, peer)

    def _reject(self, peer: tuple[str, int], reason: str, **attrs) -> None:
        if self.log:
            self.log.emit("departure_rejected", PHASE, source=f"{peer[0]}:{peer[1]}",
                          reason=reason, **attrs)
