"""IEEE 802.1X on the emulated link: supplicant (MN) and authenticator (AP), the 802.11 4-way
handshake, and 802.11i pre-authentication over the distribution system.

Frames are real Ethernet frames on the emulated wire: EAPOL (EtherType 0x888E) between the
station and the AP it is associated with, RSN pre-authentication (0x88C7, same EAPOL format)
from the station through its current AP and the DS to a target AP (IEEE 802.11-2016
s12.6.10.2). The protocol logic is in the pure modules (protocols.eap, eap_tls, eapol); this
module does the I/O, the timers and the events.

PMKSA caching: after EAP-TLS (at association or by pre-authentication) both sides keep
PMK = MSK[0:32] for the pair (station, AP). A station that (re)associates sends EAPOL-Start;
an AP holding a PMKSA for it starts the 4-way handshake at once, otherwise EAP. (A real
station names the PMKSA by its PMKID in the association request; the EAPOL-Start stands in
for that here, and costs one frame.) A PMK installed by the PAA (MPA, RFC 6252 C.5.3:
PSK_ap) is a PMKSA like any other.

The authenticator opens the station's controlled port when message 2 has proved that the
station holds the PMK, before message 3 leaves (agents/port_driver.py says why and what it
costs), so that the station's port is open, as in 802.11, the moment it has sent message 4.
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
from ..later import Later
from ..protocols import eap, eapol, mgmt
from ..protocols.eap_tls import DEFAULT_FRAGMENT_SIZE, EapPeer, EapTlsPeer, PeerState
from ..protocols.errors import ProtocolError
from .health import Loop
from .radius_client import RadiusClient

ETH_P_EAPOL, ETH_P_PREAUTH, ETH_P_MGMT = 0x888E, 0x88C7, 0x88B5
PMK_LENGTH = 32
START_PERIOD, MAX_START = 1.0, 3       # EAPOL-Start retransmission (802.1X startPeriod, maxStart)
# 4-way message 1 retransmission, as hostapd (src/ap/wpa_auth.c eapol_key_timeout_first,
# eapol_key_timeout_subseq): 100 ms after the first send, 1 s after each later one. 100 ms
# throughout gave a crowd up: 100 MNs at one AP answered after 0.5 s (issue 17). hostapd
# sends message 1 at most wpa_pairwise_update_count = 4 times (dot11RSNAConfigPairwiseUpdate-
# Count; PTKSTART: "No point in sending the EAPOL-Key" once TimeoutCtr exceeds it), so 3
# retransmissions, and gives the station up one timeout after the last (3.1 s after the first)
MSG1_TIMEOUT, MSG1_TIMEOUT_SUBSEQ, MSG1_RETRIES = 0.1, 1.0, 3
# A station holding a PMKSA for the AP waits for message 1 this long before it reminds the
# AP with an EAPOL-Start: until the AP's own resends of message 1 must have run out. An
# EAPOL-Start the AP receives while its handshake waits for message 2 means "no matching
# PMKSA" (hostapd too drops the PMKSA and starts EAP), so a reminder after START_PERIOD
# (1 s) from a station whose message 1 was merely slow turned a handshake it was completing
# into a full EAP it was not expecting (issue 17: 16 of 100 MNs at one AP at once)
FOURWAY_REMINDER = MSG1_TIMEOUT + MSG1_RETRIES * MSG1_TIMEOUT_SUBSEQ
# Half-open EAP sessions of an authenticator: a station's (or a forged source's) session is
# forgotten after EAP_SESSION_TIMEOUT without an EAP exchange completing (hostapd gives up
# after a few 30 s supplicant timeouts), and at most MAX_EAP_SESSIONS are held (one per
# station and EtherType): EAPOL-Starts from many forged MACs over the DS cannot grow it.
EAP_SESSION_TIMEOUT, MAX_EAP_SESSIONS = 30.0, 256


mac_bytes, mac_str = mgmt.mac_bytes, mgmt.mac_str
_TIMERS: Later | None = None


def _timers() -> Later:
    """One timer thread for every handshake's retransmissions (not a thread per message 1)."""
    global _TIMERS
    if _TIMERS is None:
        _TIMERS = Later("eapol-timers")
    return _TIMERS


class FrameIO:
    """Raw sockets for EAPOL and pre-authentication frames on one interface."""

    def __init__(self, iface: str, ethertypes=(ETH_P_EAPOL, ETH_P_PREAUTH)):
        self.iface = iface
        self.socks = {}
        for et in ethertypes:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(et))
            s.bind((iface, et))
            self.socks[et] = s
        with open(f"/sys/class/net/{iface}/address") as fh:
            self.mac = fh.read().strip()

    def send(self, dst: str, ethertype: int, pdu: bytes) -> None:
        frame = mac_bytes(dst) + mac_bytes(self.mac) + ethertype.to_bytes(2, "big") + pdu
        self.socks[ethertype].send(frame)

    def recv(self, timeout: float):
        """-> (src, dst, ethertype, EAPOL PDU) or None on timeout."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select(list(self.socks.values()), [], [], left)
            for s in ready:
                data, addr = s.recvfrom(65535)
                if addr[2] == socket.PACKET_OUTGOING or len(data) < 14:
                    continue
                et = int.from_bytes(data[12:14], "big")
                return mac_str(data[6:12]), mac_str(data[0:6]), et, data[14:]
        return None

    def close(self) -> None:
        for s in self.socks.values():
            s.close()


@dataclass
class Pmksa:
    pmk: bytes
    source: str                     # "eap" | "preauth" | "mpa"
    created_ns: int = field(default_factory=time.perf_counter_ns)


def _eapol_pdu(packet_type: int, body: bytes = b"") -> bytes:
    return eapol.EapolFrame(eapol.EAPOL_VERSION_2004, packet_type, body).encode()


# ---------------------------------------------------------------------------------------
# Supplicant (MN)
# ---------------------------------------------------------------------------------------
class Supplicant:
    """The MN's IEEE 802.1X supplicant with EAP-TLS and the 4-way handshake."""

    def __init__(self, iface: str, identity: str, cert: str, key: str, ca: str,
                 log: EventLog | None = None, tls_max_version: str = "1.2",
                 server_name: str | None = None, fragment_size: int = DEFAULT_FRAGMENT_SIZE):
        self.io = FrameIO(iface)
        self.fragment_size = fragment_size
        self.identity, self.cert, self.key, self.ca = identity, cert, key, ca
        self.tls_max_version, self.server_name = tls_max_version, server_name
        self.log = log
        self.pmksa: dict[str, Pmksa] = {}          # by BSSID

    def _emit(self, event: str, phase: str, **attrs) -> None:
        if self.log:
            self.log.emit(event, phase, **attrs)

    def _peer(self) -> EapPeer:
        return EapPeer(EapTlsPeer(self.identity, self.cert, self.key, self.ca,
                                  tls_max_version=self.tls_max_version,
                                  server_name=self.server_name, fragment_size=self.fragment_size))

    def install_pmk(self, bssid: str, pmk: bytes, source: str) -> None:
        self.pmksa[bssid] = Pmksa(pmk[:PMK_LENGTH], source)

    def eap_authenticate(self, bssid: str, preauth: bool = False, timeout: float = 10.0,
                         phase: str = "switching", send_start: bool = False) -> dict:
        """EAP-TLS with the authenticator of `bssid`: over EAPOL to the AP we are associated
        with, or over the DS (0x88C7) to another AP (802.11i pre-authentication)."""
        et = ETH_P_PREAUTH if preauth else ETH_P_EAPOL
        mode = "preauth" if preauth else "eap"
        peer = self._peer()
        t0 = time.perf_counter_ns()
        self._emit("eap_start", phase, bssid=bssid, mode=mode)
        starts = 0
        if preauth or send_start:
            # pre-authentication is the station's initiative; after association the
            # authenticator starts, and EAPOL-Start only follows a silence (startPeriod)
            self.io.send(bssid, et, _eapol_pdu(eapol.PacketType.START))
            starts = 1
        deadline = time.monotonic() + timeout
        rounds = 0
        while (left := deadline - time.monotonic()) > 0:
            got = self.io.recv(min(left, START_PERIOD))
            if got is None:
                if rounds == 0 and starts <= MAX_START and time.monotonic() < deadline:
                    # IEEE 802.1X-2004 s8.2.11: EAPOL-Start again after startPeriod
                    starts += 1
                    self.io.send(bssid, et, _eapol_pdu(eapol.PacketType.START))
                    continue
                if time.monotonic() < deadline and rounds:
                    continue
                break
            src, _dst, got_et, pdu = got
            if src != bssid or got_et != et:
                continue
            try:
                frame = eapol.EapolFrame.decode(pdu)
            except ProtocolError as exc:
                self._emit("eapol_malformed", phase, bssid=bssid, reason=exc.reason)
                continue
            if frame.packet_type == eapol.PacketType.KEY and rounds == 0:
                # the AP holds a PMKSA we do not (message 1 of a 4-way handshake): ask for
                # full authentication, as wpa_supplicant does ("no matching PMKID")
                self.io.send(bssid, et, _eapol_pdu(eapol.PacketType.START))
                continue
            if frame.packet_type != eapol.PacketType.EAP_PACKET:
                continue
            rounds += 1
            try:
                response = peer.handle(frame.body)
            except ProtocolError as exc:
                self._emit("eap_malformed", phase, bssid=bssid, reason=exc.reason)
                continue
            if response is not None:
                self.io.send(bssid, et, _eapol_pdu(eapol.PacketType.EAP_PACKET, response))
            if peer.state == PeerState.SUCCESS:
                self.install_pmk(bssid, peer.msk, mode)
                self._emit("eap_done", phase, bssid=bssid, mode=mode, rounds=rounds,
                           elapsed_ms=(time.perf_counter_ns() - t0) / 1e6)
                return {"status": "ok", "rounds": rounds, "elapsed_ms": (time.perf_counter_ns() - t0) / 1e6}
            if peer.state == PeerState.FAILURE:
                self._emit("eap_failed", phase, bssid=bssid, mode=mode,
                           reason=peer.failure_reason or "EAP-Failure")
                return {"status": "failure", "reason": peer.failure_reason or "EAP-Failure"}
        reason = ("no answer from the target AP over the distribution system (a different "
                  "subnet or domain cannot be reached by 802.11i pre-authentication)"
                  if preauth and rounds == 0 else "timeout")
        self._emit("eap_failed", phase, bssid=bssid, mode=mode, reason=reason)
        return {"status": "timeout", "reason": reason}

    def connect(self, bssid: str, timeout: float = 10.0, phase: str = "switching") -> dict:
        """After (re)association: EAPOL-Start; the AP answers with the 4-way handshake if it
        holds our PMKSA, otherwise with EAP (then the 4-way handshake)."""
        t0 = time.perf_counter_ns()
        cached = self.pmksa.get(bssid)
        if cached is None:
            result = self.eap_authenticate(bssid, timeout=timeout, phase=phase)
            if result["status"] != "ok":
                return result
        result = self.four_way(bssid, timeout=timeout, phase=phase)
        if result["status"] == "eap_requested":
            # the AP has no PMKSA for us (flushed, expired): full authentication
            self.pmksa.pop(bssid, None)
            cached = None
            result = self.eap_authenticate(bssid, timeout=timeout, phase=phase, send_start=True)
            if result["status"] != "ok":
                return result
            result = self.four_way(bssid, timeout=timeout, phase=phase)
        result["pmksa"] = cached.source if cached else "eap"
        result["elapsed_ms"] = (time.perf_counter_ns() - t0) / 1e6
        return result

    def four_way(self, bssid: str, timeout: float = 5.0, phase: str = "switching") -> dict:
        pmksa = self.pmksa.get(bssid)
        if pmksa is None:
            return {"status": "failure", "reason": "no PMKSA for this AP"}
        hs = eapol.Supplicant4Way(pmksa.pmk, mac_bytes(bssid), mac_bytes(self.io.mac))
        self._emit("fourway_start", phase, bssid=bssid, pmksa=pmksa.source)
        deadline = time.monotonic() + timeout
        starts = 0
        while (left := deadline - time.monotonic()) > 0:
            got = self.io.recv(min(left, FOURWAY_REMINDER))
            if got is None:
                if hs.state == eapol.HandshakeState.WAIT_MSG1 and starts < MAX_START:
                    starts += 1       # the authenticator did not start: remind it
                    self.io.send(bssid, ETH_P_EAPOL, _eapol_pdu(eapol.PacketType.START))
                continue
            src, _dst, et, pdu = got
            if src != bssid or et != ETH_P_EAPOL:
                continue
            if len(pdu) > 1 and pdu[1] == eapol.PacketType.EAP_PACKET and hs.state == eapol.HandshakeState.WAIT_MSG1:
                self._emit("fourway_failed", phase, bssid=bssid, reason="AP asked for EAP: no PMKSA there")
                return {"status": "eap_requested"}
            frames, events = hs.receive(pdu)
            for f in frames:
                self.io.send(bssid, ETH_P_EAPOL, f)
            for ev in events:
                if ev.name in ("failure", "rejected"):
                    self._emit(f"fourway_{ev.name}", phase, bssid=bssid, reason=ev.reason)
            if hs.state == eapol.HandshakeState.DONE:
                self._emit("fourway_done", phase, bssid=bssid, pmksa=pmksa.source)
                return {"status": "ok"}
            if hs.state == eapol.HandshakeState.FAILED:
                self.pmksa.pop(bssid, None)
                return {"status": "failure", "reason": events[-1].reason if events else "failed"}
        self._emit("fourway_failed", phase, bssid=bssid, reason="timeout")
        return {"status": "timeout", "reason": "no 4-way handshake from the AP"}


# ---------------------------------------------------------------------------------------
# Authenticator (AP)
# ---------------------------------------------------------------------------------------
@dataclass
class _EapSession:
    ethertype: int
    identity: str = ""
    state: bytes | None = None
    started_ns: int = 0
    busy: bool = False


class Authenticator:
    """The AP's IEEE 802.1X authenticator: EAP pass-through to RADIUS (RFC 3579), PMKSA cache,
    4-way handshake, port authorization through the controller."""

    def __init__(self, iface: str, radius: RadiusClient | None, log: EventLog | None,
                 port_control: Callable[[str, bool], str], gtk: bytes | None = None,
                 io: FrameIO | None = None, stations: dict[str, str] | None = None):
        self.io = io or FrameIO(iface, (ETH_P_EAPOL, ETH_P_PREAUTH, ETH_P_MGMT))
        self.bssid = self.io.mac
        self.radius = radius
        self.log = log
        self.port_control = port_control
        self.names = {m.lower(): n for m, n in (stations or {}).items()}   # MAC -> node, events
        self.gtk = gtk or os.urandom(16)
        self.pmksa: dict[str, Pmksa] = {}          # by station MAC
        self.sessions: dict[tuple[str, int], _EapSession] = {}
        self.handshakes: dict[str, eapol.Authenticator4Way] = {}
        # the stations associated with this AP as its MAC layer knows them, and who is told
        # when one leaves: ``on_departure(sta, reason, new_bssid)`` (RFC 6252 C.2: the AP's
        # departure notice to its PAA, agents/departure.py)
        self.present: set[str] = set()
        self.on_departure: Callable[[str, str, str | None], None] | None = None
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self.loop = Loop("authenticator", log)

    def _emit(self, event: str, phase: str = "switching", **attrs) -> None:
        if self.log:
            self.log.emit(event, phase, **attrs)

    def install_pmk(self, sta: str, pmk: bytes, source: str) -> None:
        """A PMK delivered ahead of time (PSK_ap from the PAA, RFC 6252 C.5.3)."""
        with self._lock:
            self.pmksa[sta] = Pmksa(pmk[:PMK_LENGTH], source)
        self._emit("pmk_installed", "pre-configuration", sta=sta, source=source)

    def flush(self) -> None:
        with self._lock:
            self.pmksa.clear()
            self.sessions.clear()
            self.handshakes.clear()

    def stop(self) -> None:
        self._stop.set()
        self.loop.stop()

    def serve_forever(self) -> None:
        """Receive loop: a frame whose handling raises is dropped as `malformed` (counted,
        logged) and the loop goes on (agents/health.py)."""
        self.loop.run(self._serve)

    def start(self) -> threading.Thread:
        """`serve_forever` in a thread of its own."""
        return self.loop.start(self._serve, "authenticator")

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                got = self.io.recv(0.2)
            except (OSError, ValueError):          # a transient socket error
                continue
            if got is not None:
                self.loop.guard(self.handle_frame, *got, sta=got[0])
            self._expire_sessions()

    def _expire_sessions(self) -> None:
        """Forget half-open EAP sessions older than EAP_SESSION_TIMEOUT."""
        limit = time.perf_counter_ns() - int(EAP_SESSION_TIMEOUT * 1e9)
        with self._lock:
            stale = [k for k, s in self.sessions.items() if s.started_ns < limit]
            for key in stale:
                del self.sessions[key]
        for sta, et in stale:
            self._emit("eap_failed", "pre-authentication" if et == ETH_P_PREAUTH else "switching",
                       sta=sta, reason=f"no EAP exchange completed in {EAP_SESSION_TIMEOUT:g}s")

    def handle_frame(self, src: str, dst: str, ethertype: int, pdu: bytes) -> None:
        if ethertype == ETH_P_MGMT:
            self._on_mgmt(dst, pdu)
            return
        frame = eapol.EapolFrame.decode(pdu)       # ProtocolError: malformed (serve_forever)
        if frame.packet_type == eapol.PacketType.START:
            self._on_start(src, ethertype)
        elif frame.packet_type == eapol.PacketType.EAP_PACKET:
            self._on_eap(src, ethertype, frame.body)
        elif frame.packet_type == eapol.PacketType.KEY and ethertype == ETH_P_EAPOL:
            self._on_key(src, pdu)

    def _on_mgmt(self, dst: str, body: bytes) -> None:
        """The controller's word that a station associated with this AP (start 802.1X) or
        left it (tell the PAA: `on_departure`)."""
        _, src, msg = mgmt.decode(mac_bytes(dst) + mac_bytes(self.bssid)   # MgmtError:
                                  + ETH_P_MGMT.to_bytes(2, "big") + body)  # malformed
        if msg.bssid != self.bssid:
            return
        if msg.type == "sta_disassociated":
            self._on_departure(msg)
            return
        if msg.type != "sta_associated":
            return
        with self._lock:
            self.present.add(msg.sta)
            self.handshakes.pop(msg.sta, None)
            self.sessions.pop((msg.sta, ETH_P_EAPOL), None)
            cached = self.pmksa.get(msg.sta)
        if cached is not None:
            self._start_four_way(msg.sta, cached)
        else:
            self._start_eap(msg.sta, ETH_P_EAPOL)

    def _on_departure(self, msg: mgmt.Mgmt) -> None:
        """A station left this AP: its Disassociation, its reassociation elsewhere
        (`attrs.new_bssid`), or its link lost (`status` says which). The PMKSA stays (PMK
        caching: a return runs the 4-way handshake only)."""
        new_bssid = msg.attrs.get("new_bssid")
        if new_bssid is not None:
            mac_bytes(new_bssid)                   # MgmtError: malformed
        with self._lock:
            self.present.discard(msg.sta)
        self._emit("sta_departed", sta=msg.sta, reason=msg.status, new_bssid=new_bssid)
        if self.on_departure is not None:
            self.on_departure(msg.sta, msg.status, new_bssid)

    def gone(self, sta: str) -> bool:
        """Whether `sta` is (still) not associated with this AP."""
        with self._lock:
            return sta not in self.present

    def _on_start(self, sta: str, et: int) -> None:
        with self._lock:
            cached = self.pmksa.get(sta) if et == ETH_P_EAPOL else None
            pending = self.handshakes.get(sta)
            if (et == ETH_P_EAPOL and pending is not None
                    and pending.state == eapol.HandshakeState.WAIT_MSG4):
                # message 2's MIC proved the station holds the PMK: this EAPOL-Start is one
                # it sent before our message 1 reached it (its startPeriod ran out while we
                # were slow). Starting again replaced the handshake the station completed,
                # whose message 4 was then refused: the port never opened (issue 17, 100
                # MNs at one AP at once)
                self._emit("fourway_rejected", sta=sta, reason="EAPOL-Start during the "
                           "handshake, after message 2 proved the PMK: ignored")
                return
            if (cached is not None and pending is not None
                    and pending.state == eapol.HandshakeState.WAIT_MSG2):
                # EAPOL-Start in answer to our message 1: the station has no matching PMKSA
                self.pmksa.pop(sta, None)
                self.handshakes.pop(sta, None)
                cached = None
                self._emit("pmksa_dropped", sta=sta, reason="station has no matching PMKSA")
        if cached is not None:
            self._start_four_way(sta, cached)
            return
        self._start_eap(sta, et)

    def _start_eap(self, sta: str, et: int) -> None:
        phase = "pre-authentication" if et == ETH_P_PREAUTH else "switching"
        with self._lock:
            if (sta, et) not in self.sessions and len(self.sessions) >= MAX_EAP_SESSIONS:
                self._emit("eap_failed", phase, sta=sta, reason=f"{MAX_EAP_SESSIONS} EAP "
                           "sessions in progress: no more are started")
                return
            self.sessions[(sta, et)] = _EapSession(et, started_ns=time.perf_counter_ns())
        self._emit("eap_start", phase, sta=sta, mode="preauth" if et == ETH_P_PREAUTH else "eap")
        req = eap.identity_request(int.from_bytes(os.urandom(1), "big")).encode()
        self.io.send(sta, et, _eapol_pdu(eapol.PacketType.EAP_PACKET, req))

    def _on_eap(self, sta: str, et: int, body: bytes) -> None:
        with self._lock:
            session = self.sessions.get((sta, et))
            if session is None or session.busy:
                return                                   # not started, or a retransmission
            session.busy = True
        try:
            packet = eap.EapPacket.decode(body)
            if packet.type == eap.EapType.IDENTITY and packet.code == eap.Code.RESPONSE:
                session.identity = eap.identity_of(packet)
        except ProtocolError:
            session.busy = False                      # the next EAP Response may come
            raise                                     # counted as malformed
        threading.Thread(target=self._relay, args=(sta, session, body), daemon=True).start()

    def _relay(self, sta: str, session: _EapSession, body: bytes) -> None:
        phase = "pre-authentication" if session.ethertype == ETH_P_PREAUTH else "switching"
        mode = "preauth" if session.ethertype == ETH_P_PREAUTH else "eap"
        if self.radius is None:
            self._emit("eap_failed", phase, sta=sta, reason="no RADIUS server configured")
            self.sessions.pop((sta, session.ethertype), None)
            return
        reply = self.radius.exchange(session.identity, body, session.state,
                                     calling_station_id=sta, called_station_id=self.bssid)
        session.state = reply.state
        session.busy = False
        if reply.retransmissions:
            self._emit("aaa_retransmitted", phase, sta=sta, count=reply.retransmissions,
                       timeout_s=self.radius.timeout)
        if reply.code in ("timeout", "error"):
            self._emit("eap_failed", phase, sta=sta, mode=mode,
                       reason=reply.reason or "RADIUS timeout")
            self.sessions.pop((sta, session.ethertype), None)
            return
        if reply.eap:
            self.io.send(sta, session.ethertype, _eapol_pdu(eapol.PacketType.EAP_PACKET, reply.eap))
        if reply.code == "accept":
            self.sessions.pop((sta, session.ethertype), None)
            if reply.msk is None:
                self._emit("eap_failed", phase, sta=sta, mode=mode, reason="Access-Accept without MS-MPPE keys")
                return
            pmksa = Pmksa(reply.msk[:PMK_LENGTH], mode)
            with self._lock:
                self.pmksa[sta] = pmksa
            self._emit("eap_done", phase, sta=sta, mode=mode, identity=session.identity,
                       elapsed_ms=(time.perf_counter_ns() - session.started_ns) / 1e6)
            if session.ethertype == ETH_P_EAPOL:
                self._start_four_way(sta, pmksa)
        elif reply.code == "reject":
            self.sessions.pop((sta, session.ethertype), None)
            self._emit("eap_failed", phase, sta=sta, mode=mode, identity=session.identity,
                       reason="Access-Reject")

    def _start_four_way(self, sta: str, pmksa: Pmksa) -> None:
        hs = eapol.Authenticator4Way(pmksa.pmk, mac_bytes(self.bssid), mac_bytes(sta), self.gtk)
        with self._lock:
            self.handshakes[sta] = hs
        t_start = time.perf_counter_ns()
        frames, _ = hs.start()
        for f in frames:
            self.io.send(sta, ETH_P_EAPOL, f)
            self._retransmit_later(sta, hs, f, 1)
        # the event after message 1: writing it is not part of the handshake's time
        self._emit("fourway_start", sta=sta, pmksa=pmksa.source, mono_ns=t_start)

    def _retransmit_later(self, sta: str, hs, frame: bytes, attempt: int) -> None:
        """Message 1 again if message 2 does not come (as hostapd: 100 ms after the first
        send, 1 s after the others, up to MSG1_RETRIES times)."""
        def again():
            with self._lock:
                current = self.handshakes.get(sta)
            if current is hs and hs.state == eapol.HandshakeState.WAIT_MSG2:
                if attempt > MSG1_RETRIES:           # half-open: give the handshake up
                    with self._lock:
                        if self.handshakes.get(sta) is hs:
                            del self.handshakes[sta]
                    self._emit("fourway_failed", sta=sta, reason="no message 2 after "
                               f"{MSG1_RETRIES} retransmissions of message 1")
                    return
                self._emit("fourway_retransmitted", sta=sta, message=1, attempt=attempt)
                self.io.send(sta, ETH_P_EAPOL, frame)
                self._retransmit_later(sta, hs, frame, attempt + 1)
        _timers().call(MSG1_TIMEOUT if attempt == 1 else MSG1_TIMEOUT_SUBSEQ, again)

    def _on_key(self, sta: str, pdu: bytes) -> None:
        with self._lock:
            hs = self.handshakes.get(sta)
        if hs is None:
            self._emit("fourway_rejected", sta=sta, reason="no handshake in progress")
            return
        before = hs.state
        frames, events = hs.receive(pdu)
        opened = None
        if before == eapol.HandshakeState.WAIT_MSG2 and hs.state == eapol.HandshakeState.WAIT_MSG4:
            # message 2's MIC is good: the port opens now, message 3 after it (module docstring)
            t0 = time.perf_counter_ns()
            status = self.port_control(sta, True)
            opened = (t0, time.perf_counter_ns(), status)
            if status != "ok":                  # a port that did not open: no message 3
                with self._lock:
                    self.handshakes.pop(sta, None)
                self._emit("fourway_failed", sta=sta, reason=f"port did not open: {status}")
                return
        for f in frames:
            self.io.send(sta, ETH_P_EAPOL, f)
        if opened:                   # events after the frames: writing them costs no frame time
            self._emit("port_opened", sta=sta, mn=self.names.get(sta, sta), mono_ns=opened[1],
                       status=opened[2],
                       elapsed_ms=(opened[1] - opened[0]) / 1e6)
        for ev in events:
            if ev.name in ("failure", "rejected"):
                self._emit(f"fourway_{ev.name}", sta=sta, reason=ev.reason)
        if hs.state == eapol.HandshakeState.FAILED:
            with self._lock:
                self.handshakes.pop(sta, None)
                self.pmksa.pop(sta, None)
            if before == eapol.HandshakeState.WAIT_MSG4:      # its port was opened at message 2
                self._emit("port_closed", sta=sta, status=self.port_control(sta, False))
        elif hs.state == eapol.HandshakeState.DONE:
            t_done = time.perf_counter_ns()
            with self._lock:
                self.handshakes.pop(sta, None)
            self._emit("fourway_done", sta=sta, mono_ns=t_done)
