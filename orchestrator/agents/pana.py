"""PANA over UDP: the PaC in the mobile node, the PAA in the authentication agent.

RFC 6252 s6.3 step 1 and C.5.3: the MN pre-authenticates with the PAA of a candidate target
network through its current network (PANA, RFC 5191, with RFC 5873's E flag); the PAA is a
pass-through EAP authenticator and a RADIUS client of its domain's AAA server (roaming: that
server proxies the realm to the home AAA, so the PAA does not change). The RFC's testbed
used Diameter between PAA and AAA; we use RADIUS (RFC 3579) because FreeRADIUS is what runs
here (PLATFORM.md: no Diameter EAP application is packaged).

The protocol logic is in `orchestrator.protocols.pana_fsm` (pure); this module owns the
sockets, the clock, the threads and the events:

- PaC: ``preauth_start`` / ``preauth_done`` (elapsed_ms, rounds) / ``preauth_failed``,
  ``pana_auth_failed`` (reason), ``pana_dropped`` (reason), ``pana_session_activated``
  after the move, ``pana_reauthenticated``, ``pana_session_terminated``.
- PAA: ``pana_session_established``, ``pana_auth_failed``, ``pana_dropped``,
  ``pana_session_activated``, ``pana_reauthenticated``, ``pana_session_terminated``; then
  ``on_success(session)`` runs (in its own thread) - typically Tconf,
  `orchestrator.agents.keyinstall.install_mpa_keys`.

Port: PANA is UDP 716 (RFC 5191 s10); both classes take any port (tests use random ones).
"""
from __future__ import annotations

import os
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from ..events import EventLog
from ..protocols.eap_tls import DEFAULT_FRAGMENT_SIZE, EapPeer, EapTlsPeer
from ..protocols.errors import ProtocolError
from ..protocols.mpa_keys import MpaKeys
from ..protocols.pana import PANA_UDP_PORT, MessageType, PanaMessage
from ..protocols.pana_fsm import BackendResult, Event, Output, PaaSession, PaaState, PacSession
from .health import Loop
from .overtaken import Overtaken
from .radius_client import RadiusClient

PREAUTH = "pre-authentication"
# Limits of the PAA (per-peer caps and timers of half-open sessions): a PaC address holds at
# most MAX_HALF_OPEN_PER_PEER sessions that are not yet established (a PCI from a new source
# port starts one), the PAA at most MAX_SESSIONS in all; a session waiting for the AAA server
# longer than BACKEND_TIMEOUT (pyrad's 3 tries x 3 s, and some) fails with a timeout.
MAX_HALF_OPEN_PER_PEER, MAX_SESSIONS, BACKEND_TIMEOUT = 4, 1024, 15.0

# session-level events of either side -> (event log name, phase)
_REPORTED = {
    "dropped": ("pana_dropped", PREAUTH),
    "auth_failed": ("pana_auth_failed", PREAUTH),
    "eap_discarded": ("pana_dropped", PREAUTH),
    "retransmitted": ("pana_retransmitted", PREAUTH),
    "timeout": ("pana_timeout", PREAUTH),
    "reauthenticated": ("pana_reauthenticated", PREAUTH),
    "activated": ("pana_session_activated", "post-switching"),
    "terminated": ("pana_session_terminated", "setup"),
    "expired": ("pana_session_terminated", "setup"),
    # the MPA-SA after the MN leaves (RFC 6252 C.2; protocols/pana_fsm.py)
    "unauthorized": ("mpa_sa_unauthorized", "setup"),
    "authorized": ("mpa_sa_authorized", "post-switching"),
    "detached": ("pana_detached", "setup"),
}


def _report(log: EventLog | None, event: Event, **attrs) -> None:
    if log is None or event.name not in _REPORTED:
        return
    name, phase = _REPORTED[event.name]
    log.emit(name, phase, what=event.name, reason=event.reason, **attrs)


# ---------------------------------------------------------------------------------------
# PaC (mobile node)
# ---------------------------------------------------------------------------------------
class PaC:
    """The MN's PANA client with EAP-TLS (one session at a time)."""

    def __init__(self, identity: str, cert: str, key: str, ca: str, paa_address: str,
                 paa_port: int = PANA_UDP_PORT, log: EventLog | None = None, *,
                 tls_max_version: str = "1.2", server_name: str | None = None,
                 source_address: str | None = None, fragment_size: int = DEFAULT_FRAGMENT_SIZE):
        self.identity, self.cert, self.key, self.ca = identity, cert, key, ca
        self.fragment_size = fragment_size
        self.paa = (paa_address, paa_port)
        self.log = log
        self.tls_max_version, self.server_name = tls_max_version, server_name
        self.source_address = source_address
        self.session: PacSession | None = None
        self.sock: socket.socket | None = None
        self.loop = Loop("pac", log)       # counts what the PAA's side sent that we dropped

    def _emit(self, event: str, phase: str = PREAUTH, **attrs) -> None:
        if self.log:
            self.log.emit(event, phase, **attrs)

    def _new_peer(self) -> EapPeer:
        return EapPeer(EapTlsPeer(self.identity, self.cert, self.key, self.ca,
                                  tls_max_version=self.tls_max_version,
                                  server_name=self.server_name, fragment_size=self.fragment_size))

    def _open_socket(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if self.source_address:
            self.sock.bind((self.source_address, 0))
        self.sock.connect(self.paa)

    @property
    def mpa_keys(self) -> MpaKeys | None:
        """The MPA-SA's keys (MN-CA, MN-AR, PMK, PSK_ap per BSSID), once authenticated."""
        s = self.session
        if s is None or s.msk is None:
            return None
        return MpaKeys(s.msk, s.session_id, s.key_id)

    def _exchange(self, first: Output, until: set[str], timeout: float,
                  overtaken: Overtaken | None = None) -> Event | None:
        """Send ``first``; feed datagrams and timer ticks to the session until an event in
        ``until`` (returned), the deadline (None), or the MN leaving the network the
        exchange started from (`overtaken`: an "overtaken" event)."""
        session, sock = self.session, self.sock
        out, events = first
        deadline = time.monotonic() + timeout
        while True:
            for datagram in out:
                sock.send(datagram)
            for event in events:
                _report(self.log, event, session_id=session.session_id)
                if event.name in until:
                    return event
            if overtaken is not None and overtaken.is_set():
                return Event("overtaken", reason=overtaken.reason)
            now = time.monotonic()
            if now >= deadline:
                return None
            wake = min(deadline, session.next_deadline() or deadline)
            wait = max(0.0, wake - now)
            if overtaken is not None:
                wait = overtaken.slice(wait)
            if select.select([sock], [], [], wait)[0]:
                try:
                    data = sock.recv(65535)
                except ConnectionRefusedError:  # ICMP port unreachable: keep waiting
                    out, events = [], []
                    continue
                out, events = (self.loop.guard(session.receive, data, source=self.paa[0])
                               or ([], []))
            else:
                out, events = session.poll()

    def pre_authenticate(self, timeout: float = 10.0, *, preauth: bool = True,
                         overtaken: Overtaken | None = None) -> dict:
        """EAP-TLS over PANA with the PAA (RFC 5873 pre-authentication unless ``preauth``
        is False). Returns status, msk, pana_auth_key, session_id, key_id, elapsed_ms,
        rounds, session_lifetime; on failure status and reason, and no keys. `overtaken`:
        the MN's departure from the network it pre-authenticates from ends it (C.6)."""
        self.session = PacSession(self._new_peer, preauth=preauth)
        self._open_socket()
        t0 = time.perf_counter_ns()
        self._emit("preauth_start", paa=f"{self.paa[0]}:{self.paa[1]}", identity=self.identity,
                   preauth=preauth, source=self.sock.getsockname()[0])
        event = self._exchange(self.session.start(), {"established", "auth_failed"}, timeout,
                               overtaken)
        elapsed_ms = (time.perf_counter_ns() - t0) / 1e6
        s = self.session
        if event is not None and event.name == "established":
            tls = getattr(getattr(s.eap_peer, "method", None), "tls_version", None)
            self._emit("preauth_done", elapsed_ms=elapsed_ms, rounds=s.rounds,
                       session_id=s.session_id, key_id=s.key_id,
                       session_lifetime=s.session_lifetime, tls_version=tls, preauth=preauth)
            return {"status": "ok", "msk": s.msk, "pana_auth_key": s.pana_auth_key,
                    "session_id": s.session_id, "key_id": s.key_id, "elapsed_ms": elapsed_ms,
                    "rounds": s.rounds, "session_lifetime": s.session_lifetime,
                    "tls_version": tls}
        reason = event.reason if event else f"no PANA session after {timeout} s"
        self._emit("preauth_failed", elapsed_ms=elapsed_ms, reason=reason)
        status = "timeout" if event is None else "overtaken" if event.name == "overtaken" \
            else "failure"
        return {"status": status, "reason": reason, "msk": None,
                "pana_auth_key": None, "session_id": s.session_id, "key_id": None,
                "elapsed_ms": elapsed_ms, "rounds": s.rounds}

    def _command(self, output: Output, until: set[str], timeout: float) -> dict:
        if self.session is None:
            return {"status": "failure", "reason": "no PANA session"}
        t0 = time.perf_counter_ns()
        refused = next((e for e in output[1] if e.name == "refused"), None)
        if refused is not None:
            return {"status": "failure", "reason": refused.reason}
        event = self._exchange(output, until, timeout)
        elapsed_ms = (time.perf_counter_ns() - t0) / 1e6
        if event is None:
            return {"status": "timeout", "reason": f"no answer after {timeout} s",
                    "elapsed_ms": elapsed_ms}
        ok = event.name not in ("auth_failed", "timeout")
        return {"status": "ok" if ok else "failure", "event": event.name,
                "reason": event.reason, "elapsed_ms": elapsed_ms}

    def reauthenticate(self, timeout: float = 10.0) -> dict:
        """PNR [A] and a new EAP run (RFC 5191 s4.2): new MSK, Key-Id, PANA_AUTH_KEY."""
        out = self.session.reauthenticate() if self.session else ([], [])
        result = self._command(out, {"reauthenticated", "auth_failed", "timeout"}, timeout)
        if result["status"] == "ok":
            result.update(msk=self.session.msk, key_id=self.session.key_id,
                          pana_auth_key=self.session.pana_auth_key, rounds=self.session.rounds)
        return result

    def attach(self, timeout: float = 5.0, source_address: str | None = None) -> dict:
        """After the move: authenticated PNR [P] from the new address (RFC 5873; RFC 5191
        s5.6) turns the pre-authenticated session into the active one on both sides."""
        if source_address is not None:
            self.source_address = source_address
        self._open_socket()
        out = self.session.attach() if self.session else ([], [])
        return self._command(out, {"activated", "timeout"}, timeout)

    def detach(self) -> dict:
        """The MN left the PAA's network, keeping the MPA-SA (RFC 6252 C.2): `attach` on
        return proves possession of its keys (local; PANA sends nothing)."""
        out = self.session.detach() if self.session else ([], [])
        for event in out[1]:
            _report(self.log, event, session_id=self.session.session_id)
        refused = next((e for e in out[1] if e.name == "refused"), None)
        return ({"status": "failure", "reason": refused.reason} if refused else
                {"status": "ok", "state": self.session.state.value})

    def ping(self, timeout: float = 5.0) -> dict:
        out = self.session.ping() if self.session else ([], [])
        return self._command(out, {"ping_answered", "timeout"}, timeout)

    def terminate(self, timeout: float = 5.0) -> dict:
        """PTR / PTA (RFC 5191 s4.4); the session and its keys are gone afterwards."""
        out = self.session.terminate() if self.session else ([], [])
        return self._command(out, {"terminated", "timeout"}, timeout)

    def close(self) -> None:
        self.loop.stop()
        if self.sock is not None:
            self.sock.close()
            self.sock = None


# ---------------------------------------------------------------------------------------
# PAA (authentication agent)
# ---------------------------------------------------------------------------------------
@dataclass
class PanaSession:
    """An established session as the PAA sees it (what ``on_success`` receives)."""

    session_id: int
    key_id: int
    msk: bytes
    pana_auth_key: bytes
    identity: str
    pac_address: tuple[str, int]
    preauth: bool
    session_lifetime: int
    elapsed_ms: float
    reauthentication: bool = False

    @property
    def mpa_keys(self) -> MpaKeys:
        return MpaKeys(self.msk, self.session_id, self.key_id)


@dataclass
class _Entry:
    fsm: PaaSession
    address: tuple[str, int]
    lock: threading.RLock = field(default_factory=threading.RLock)
    radius_state: bytes | None = None
    started_ns: int = field(default_factory=time.perf_counter_ns)
    backend_since: float | None = None        # monotonic time the last relay started


class Paa:
    """The PAA: many PaCs on one UDP socket, EAP relayed to RADIUS (RFC 3579)."""

    def __init__(self, listen_address: str, port: int, radius: RadiusClient,
                 log: EventLog | None = None,
                 on_success: Callable[[PanaSession], None] | None = None, *,
                 session_lifetime: int = 3600, supports_preauth: bool = True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((listen_address, port))
        self.address, self.port = self.sock.getsockname()
        self.radius, self.log, self.on_success = radius, log, on_success
        self.session_lifetime, self.supports_preauth = session_lifetime, supports_preauth
        self.sessions: dict[int, _Entry] = {}
        self.established: dict[int, PanaSession] = {}
        self._handshakes: dict[tuple[str, int], int] = {}  # PaC address -> session in start
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.loop = Loop(f"paa:{self.port}", log)

    def _emit(self, event: str, phase: str = PREAUTH, **attrs) -> None:
        if self.log:
            self.log.emit(event, phase, **attrs)

    def start(self) -> Paa:
        self._thread = self.loop.start(self._serve, f"paa-{self.port}")
        return self

    def stop(self) -> None:
        self._stop.set()
        self.loop.stop()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                entries = list(self.sessions.values())
            deadlines = [d for e in entries if (d := e.fsm.next_deadline()) is not None]
            wait = min([0.1] + [max(0.0, d - time.monotonic()) for d in deadlines])
            try:
                if select.select([self.sock], [], [], wait)[0]:
                    data, addr = self.sock.recvfrom(65535)
                    self.loop.guard(self._on_datagram, data, addr, source=addr[0])
            except (OSError, ValueError):
                if self._stop.is_set():
                    return
            for entry in entries:
                self.loop.guard(self._poll, entry)

    def _poll(self, entry: _Entry) -> None:
        with entry.lock:
            since = entry.backend_since
            if since is not None and time.monotonic() - since > BACKEND_TIMEOUT:
                entry.backend_since = None
                self._handle(entry, *entry.fsm.backend_result(BackendResult(
                    "timeout", reason=f"no answer from the AAA server in {BACKEND_TIMEOUT:g}s")))
            self._handle(entry, *entry.fsm.poll())

    def _on_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            msg = PanaMessage.decode(data)
        except ProtocolError as exc:
            self._emit("pana_dropped", reason=f"malformed: {exc.reason}", pac=addr[0])
            return
        if msg.msg_type == MessageType.CLIENT_INITIATION:
            self._on_pci(data, addr)
            return
        with self._lock:
            entry = self.sessions.get(msg.session_id)
        if entry is None:
            self._emit("pana_dropped", reason=f"unknown Session Identifier {msg.session_id}",
                       pac=addr[0])
            return
        with entry.lock:
            out, events = entry.fsm.receive(data)
            if not any(e.name == "dropped" for e in events):
                entry.address = addr  # RFC 5191 s5.6: the PaC may have moved
            self._handle(entry, out, events)

    def _on_pci(self, data: bytes, addr: tuple[str, int]) -> None:
        with self._lock:
            pending = self.sessions.get(self._handshakes.get(addr, 0))
            if pending is not None and pending.fsm.state == PaaState.WAIT_PAN_S:
                return  # a retransmitted PCI: our PAR [S] timer covers it
            refused = self._refuse(addr)
            if refused:
                self._emit("pana_dropped", reason=refused, pac=addr[0])
                return
            fsm = PaaSession(self._new_session_id(), supports_preauth=self.supports_preauth,
                             session_lifetime=self.session_lifetime)
            entry = _Entry(fsm, addr)
            self.sessions[fsm.session_id] = entry
            self._handshakes[addr] = fsm.session_id
        with entry.lock:
            self._handle(entry, *fsm.start(data))

    def _refuse(self, addr: tuple[str, int]) -> str:
        """Why a new session from `addr` is not started ('' if it may be; lock held)."""
        if len(self.sessions) >= MAX_SESSIONS:
            return f"{MAX_SESSIONS} PANA sessions held: no more are started"
        half_open = sum(1 for e in self.sessions.values()
                        if e.address[0] == addr[0] and not e.fsm.established)
        if half_open >= MAX_HALF_OPEN_PER_PEER:
            return (f"{half_open} sessions of {addr[0]} are not established yet: no more "
                    "are started for it")
        return ""

    def detach(self, identity: str, keep: float | None = None,
               trigger: str = "command") -> list[dict]:
        """RFC 6252 C.2: the MN of `identity` has left this PAA's network; each of its open
        (authorized) sessions becomes unauthorized, the MPA-SA kept (for `keep` s at most).
        `trigger` says who told the PAA (the events carry it: an AP's departure notice,
        agents/departure.py, or a command). Returns the sessions it moved."""
        with self._lock:
            entries = [e for e in self.sessions.values()
                       if e.fsm.identity == identity and e.fsm.state == PaaState.OPEN]
        moved = []
        for entry in entries:
            with entry.lock:
                self._handle(entry, *entry.fsm.detach(keep), trigger=trigger)
                moved.append({"session_id": entry.fsm.session_id, "state": entry.fsm.state.value})
        return moved

    def states(self) -> dict[str, list[dict]]:
        """identity -> its sessions' states (pre-authenticated, open, unauthorized, ...)."""
        with self._lock:
            entries = list(self.sessions.values())
        out: dict[str, list[dict]] = {}
        for e in entries:
            out.setdefault(e.fsm.identity, []).append(
                {"session_id": e.fsm.session_id, "state": e.fsm.state.value,
                 "pac": f"{e.address[0]}:{e.address[1]}"})
        return out

    def _new_session_id(self) -> int:
        while True:
            sid = int.from_bytes(os.urandom(4), "big")
            if sid and sid not in self.sessions:
                return sid

    def _handle(self, entry: _Entry, out: list[bytes], events: list[Event], **attrs) -> None:
        fsm = entry.fsm
        for datagram in out:
            self.sock.sendto(datagram, entry.address)
        for event in events:
            _report(self.log, event, session_id=fsm.session_id, pac=entry.address[0],
                    identity=fsm.identity, **attrs)
            if event.name == "eap_response":
                entry.backend_since = time.monotonic()
                threading.Thread(target=self._relay, args=(entry, event.payload),
                                 daemon=True).start()
            elif event.name == "reauth_started":
                entry.radius_state = None  # a new EAP conversation
                entry.started_ns = time.perf_counter_ns()
            elif event.name in ("established", "reauthenticated"):
                self._on_established(entry, event.name == "reauthenticated")
        if fsm.state == PaaState.CLOSED:
            with self._lock:
                self.sessions.pop(fsm.session_id, None)
                self.established.pop(fsm.session_id, None)
                if self._handshakes.get(entry.address) == fsm.session_id:
                    self._handshakes.pop(entry.address, None)

    def _relay(self, entry: _Entry, eap_response: bytes) -> None:
        """One EAP Response to the AAA server and its answer back into the session."""
        fsm = entry.fsm
        reply = self.radius.exchange(fsm.identity or "anonymous", eap_response,
                                     entry.radius_state, calling_station_id=entry.address[0],
                                     called_station_id=self.address)
        if reply.retransmissions:
            self.log.emit("aaa_retransmitted", PREAUTH, mn=entry.address[0],
                          count=reply.retransmissions, timeout_s=self.radius.timeout)
        with entry.lock:
            if entry.backend_since is None:       # timed out meanwhile (_poll)
                return
            entry.backend_since = None
            entry.radius_state = reply.state
            result = BackendResult(reply.code, reply.eap, reply.msk, reply.session_timeout,
                                   reply.reason if reply.code in ("timeout", "error") else "")
            self._handle(entry, *fsm.backend_result(result))

    def _on_established(self, entry: _Entry, reauth: bool) -> None:
        fsm = entry.fsm
        session = PanaSession(fsm.session_id, fsm.key_id, fsm.msk, fsm.pana_auth_key,
                              fsm.identity, entry.address, fsm.preauth, fsm.session_lifetime,
                              (time.perf_counter_ns() - entry.started_ns) / 1e6, reauth)
        with self._lock:
            self.established[fsm.session_id] = session
            self._handshakes.pop(entry.address, None)
        if not reauth:
            self._emit("pana_session_established", session_id=session.session_id,
                       key_id=session.key_id, identity=session.identity, pac=entry.address[0],
                       preauth=session.preauth, elapsed_ms=session.elapsed_ms,
                       rounds=fsm.rounds, session_lifetime=session.session_lifetime)
        if self.on_success is not None:
            threading.Thread(target=self._run_on_success, args=(session,), daemon=True).start()

    def _run_on_success(self, session: PanaSession) -> None:
        try:
            self.on_success(session)
        except Exception as exc:  # a callback bug must not go unseen, nor kill the PAA
            self._emit("paa_on_success_failed", "pre-configuration",
                       session_id=session.session_id, reason=repr(exc))
