"""MPA key installation over UDP (Tconf, RFC 6252 C.5.3; s6.3 step 1 for the MN-AR key).

Who does what:
- `install` is the PAA's client for one target: one Install-Request, retransmitted until an
  authenticated Install-Answer echoes it; returns the seconds it took.
- `install_mpa_keys` is Tconf: after a PANA session is established the PAA derives PSK_ap
  for each AP of the CTN (bound to its BSSID) and the MN-AR key for the access router from
  the MPA-SA (`orchestrator.protocols.mpa_keys`) and installs them in parallel, emitting
  ``psk_install_start``, one ``psk_installed`` / ``psk_install_failed`` per target and
  ``tconf_done``.
- `handle_datagram` is what an AP or access-router agent calls per datagram: it returns
  (answer to send back, (station MAC, key) to install or None); the AP then calls
  ``Authenticator.install_pmk(sta, psk, "mpa")``. `KeyInstallServer` is a small UDP loop
  around it for agents (and tests) that have nothing else to multiplex.

The wire format and its protection are in `orchestrator.protocols.keyinstall` (our own
protocol; RFC 6252 does not specify one). UDP port: configurable, nothing is registered.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Callable

from ..events import EventLog
from ..protocols import keyinstall as ki
from ..protocols import mgmt
from ..protocols.errors import ProtocolError
from ..protocols.mpa_keys import MpaKeys
from .udpserver import UdpServer, request

ACCESS_POINT, ACCESS_ROUTER = "access-point", "access-router"
PACKET_DATA_GATEWAY = "packet-data-gateway"
_KINDS = {ACCESS_POINT: ki.TargetKind.ACCESS_POINT, ACCESS_ROUTER: ki.TargetKind.ACCESS_ROUTER,
          PACKET_DATA_GATEWAY: ki.TargetKind.PACKET_DATA_GATEWAY}
PHASE = "pre-configuration"


mac_bytes, mac_str = mgmt.mac_bytes, mgmt.mac_str     # MgmtError is a ValueError


class KeyInstallError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


_seq_lock = threading.Lock()
_last_seq = 0


def _next_sequence() -> int:
    """Wall-clock nanoseconds, strictly increasing in this process: a restarted PAA still
    sends Sequences above those its targets have seen."""
    global _last_seq
    with _seq_lock:
        _last_seq = max(time.time_ns(), _last_seq + 1)
        return _last_seq


def install(address: str, port: int, secret: str | bytes, sta: str, bssid: str | None,
            psk: bytes, lifetime: int, *, kind: str = ACCESS_POINT, session_id: int = 0,
            key_id: int = 0, timeout: float = 0.2, retries: int = 3) -> float:
    """Install one key in one target; seconds from first send to the authenticated answer.
    Raises `KeyInstallError` on no answer or a refusal."""
    secret = secret.encode() if isinstance(secret, str) else bytes(secret)
    req = ki.InstallRequest(_KINDS[kind], _next_sequence(), os.urandom(ki.NONCE_LENGTH),
                            lifetime, mac_bytes(sta),
                            mac_bytes(bssid) if bssid else bytes(6), session_id, key_id, psk)
    datagram = ki.encode_request(secret, req)
    t0 = time.perf_counter()

    def answer(data: bytes):
        ans = ki.decode_answer(secret, data)
        if ans.sequence != req.sequence or ans.nonce != req.nonce:
            return None                       # not the answer to this request
        if ans.status != ki.Status.INSTALLED:
            raise KeyInstallError(f"{address}:{port} refused: {ans.status.name}")
        return ans
    if request((address, port), datagram, answer, timeout, retries) is not None:
        return time.perf_counter() - t0
    raise KeyInstallError(f"no answer from {address}:{port} after {1 + retries} attempts")


@dataclass(frozen=True)
class KeyTarget:
    """A node the PAA installs a key in: an AP of the CTN, its access router, or a packet
    data gateway of a cellular network.

    ``target_id`` is what the key is bound to and the target checks: an AP's BSSID (PSK_ap
    is derived from it), the access router's MAC address on the CTN link, the gateway's on
    the radio network (the MAC the MN's PPPoE discovery finds)."""

    name: str
    kind: str  # ACCESS_POINT | ACCESS_ROUTER
    address: str
    port: int
    secret: str
    target_id: str

    def key(self, keys: MpaKeys) -> bytes:
        if self.kind == ACCESS_POINT:
            return keys.psk_ap(mac_bytes(self.target_id))
        if self.kind == PACKET_DATA_GATEWAY:
            return keys.pdg_chap_key(mac_bytes(self.target_id))
        return keys.mn_ar_key()


def install_mpa_keys(keys: MpaKeys, sta: str, targets: list[KeyTarget],
                     log: EventLog | None = None, *, lifetime: int = 3600,
                     timeout: float = 0.2, retries: int = 3,
                     cellular_sta: str | None = None) -> dict:
    """Tconf: derive and install every target's key in parallel (RFC 6252 C.5.3). A packet
    data gateway's key is installed for `cellular_sta`, the MAC address of the MN's
    cellular interface (its PPPoE host address), the others' for `sta`."""
    def emit(event: str, **attrs) -> None:
        if log:
            log.emit(event, PHASE, sta=sta, **attrs)

    t0 = time.perf_counter()
    emit("psk_install_start", session_id=keys.session_id, key_id=keys.key_id,
         targets=[t.name for t in targets])
    installed: dict[str, float] = {}
    failed: dict[str, str] = {}

    def one(target: KeyTarget) -> None:
        station = cellular_sta if target.kind == PACKET_DATA_GATEWAY else sta
        try:
            if station is None:
                raise KeyInstallError("no MAC address known for the MN's cellular interface")
            key = target.key(keys)  # "PSK generation" is part of Tconf
            seconds = install(target.address, target.port, target.secret, station,
                              target.target_id,
                              key, lifetime, kind=target.kind, session_id=keys.session_id,
                              key_id=keys.key_id, timeout=timeout, retries=retries)
        except (KeyInstallError, ProtocolError, OSError, ValueError) as exc:
            failed[target.name] = getattr(exc, "reason", None) or str(exc)
            emit("psk_install_failed", target=target.name, kind=target.kind,
                 reason=failed[target.name])
            return
        installed[target.name] = seconds * 1000
        emit("psk_installed", target=target.name, kind=target.kind, target_id=target.target_id,
             station=station, elapsed_ms=seconds * 1000, since_start_ms=(time.perf_counter() - t0) * 1000)

    threads = [threading.Thread(target=one, args=(t,), daemon=True) for t in targets]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed_ms = (time.perf_counter() - t0) * 1000
    emit("tconf_done", elapsed_ms=elapsed_ms, installed=sorted(installed),
         failed=sorted(failed))
    return {"status": "ok" if not failed else "failure", "elapsed_ms": elapsed_ms,
            "installed_ms": installed, "failed": failed}


def handle_datagram(receiver: ki.Receiver, data: bytes, log: EventLog | None = None,
                    source: str = "") -> tuple[bytes | None, tuple[str, bytes] | None]:
    """One datagram at an AP or access router: (answer or None, (sta, key) or None)."""
    receipt = receiver.handle(data)
    if receipt.request is not None:
        if log:
            log.emit("psk_received", PHASE, sta=mac_str(receipt.request.station),
                     kind=receipt.request.kind.name, session_id=receipt.request.session_id,
                     key_id=receipt.request.key_id, lifetime=receipt.request.lifetime)
        return receipt.ack, (mac_str(receipt.request.station), receipt.request.key)
    if receipt.reason and log:
        log.emit("keyinstall_rejected", PHASE, source=source, reason=receipt.reason)
    return receipt.ack, None


def receivers_by_address(peers: dict[str, str], kind: ki.TargetKind,
                         target_id: bytes) -> dict[str, ki.Receiver]:
    """PAA address -> the `Receiver` checking its datagrams; a PAA's addresses (they share
    its secret) share one Receiver, so its Sequence is counted once."""
    per_secret: dict[str, ki.Receiver] = {}
    return {address: per_secret.setdefault(secret, ki.Receiver(secret.encode(), kind, target_id))
            for address, secret in peers.items()}


class KeyInstallServer(UdpServer):
    """UDP loop around `handle_datagram`; ``on_install(sta, key)`` for each accepted key.

    `receiver`: one for every sender, or one per PAA keyed by its source addresses: each PAA
    shares its own secret with this target and counts its own Sequence, so with several PAAs
    in a domain (a campus: one per access network) a datagram is checked with its sender's
    (issue 17: the first PAA's secret was used for all, and the others' keys were refused)."""
    name = "keyinstall"

    def __init__(self, address: str, port: int, receiver: ki.Receiver | dict[str, ki.Receiver],
                 on_install: Callable[[str, bytes], None], log: EventLog | None = None):
        super().__init__(address, port, log=log)
        self.receiver, self.on_install = receiver, on_install

    def datagram(self, data: bytes, peer: tuple[str, int], ancillary: list) -> None:
        receiver = (self.receiver.get(peer[0]) if isinstance(self.receiver, dict)
                    else self.receiver)
        if receiver is None:
            if self.log:
                self.log.emit("keyinstall_rejected", PHASE, source=f"{peer[0]}:{peer[1]}",
                              reason="not from an address of a PAA this target shares a secret with")
            return
        ack, key = handle_datagram(receiver, data, self.log, f"{peer[0]}:{peer[1]}")
        if key is not None:
            self.on_install(*key)  # before the answer: acked means installed
        if ack is not None:
            self.sock.sendto(ack, peer)
