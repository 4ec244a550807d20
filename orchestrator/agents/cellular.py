"""The cellular data session: the mobile's PPP client and the packet data gateway (PDSN-like).

RFC 6252 C.5.2: in the CDMA testbed the mobile brings up its second interface with PPP
(LCP, CHAP, IPCP) to the PDSN before (MPA) or after (no MPA) the handover. Here the
exchange is real: PPP over Ethernet (RFC 2516) on the emulated link, CHAP-MD5 (RFC 1994)
checked by the domain's AAA server over RADIUS (RFC 2865: the gateway is the NAS, it sends
CHAP-Password and CHAP-Challenge), the address assigned with IPCP (RFC 1332; from the
Access-Accept's Framed-IP-Address when there is one, else from the gateway's pool).
The kernel has no PPP driver, so the protocol engines are `protocols.ppp` / `ppp_fsm`;
this module does the I/O (AF_PACKET sockets on EtherTypes 0x8863 and 0x8864, UDP to the
AAA server, rtnetlink) and writes events (docs/events.md "cellular data session").

Data path (decided by bench/cellular_session.py): after IPCP the mobile's address goes on
its Ethernet interface as a /32 with a host route and a permanent neighbour entry to the
gateway (the MAC learnt in discovery), and the gateway routes the address to the link the
same way: datagrams then travel as plain IPv4 over the link, not in PPPoE session frames.
PPP's point-to-point link has no ARP either, so nothing is added at handover time.
Measured (bench/cellular_session.py, 200 ICMP echoes mobile -> gateway, no link delay):
plain IPv4 RTT avg 0.015 ms (max 0.06), IPv4 in PPPoE session frames through TUN devices
and a user-space relay on each side avg 0.104 ms (max 3.8, mdev 0.26); with 50 ms one way,
100.40 vs 100.96 ms. The framing adds only user-space jitter and CPU on the 2 shared cores,
and what the handover measures (loss, delay, duplicates) does not depend on it, so data
is plain IPv4; the session frames carry the control protocols only.

Who does what:
- `PacketLink`: the two AF_PACKET sockets of one interface, `recv(timeout)` over both;
- `RadiusNas`: one Access-Request per CHAP Response, retransmitted unchanged every
  `timeout` seconds, `retries` times (RFC 5080 s2.2.1); standard library only;
- `CellularClient.establish()`: discovery, LCP, CHAP, IPCP, address; the time of every
  stage measured from the frames' arrival (`time.perf_counter_ns`), never slept;
  `close()`: LCP Terminate-Request, PADT, address removed;
- `PacketDataGateway`: one thread serving any number of sessions; CHAP verdicts come
  back from AAA worker threads through a queue. A mobile pre-authenticated through another
  network (RFC 6252 s7.6.2, C.5.2: MPA's PAA installed a CHAP secret for its interface's MAC
  address, `preauthorize`) is checked against that secret here, with no AAA exchange
  (`chap_verified` method "mpa-key"); the secret serves one session set-up.

Every receive loop survives any input: a frame that does not decode, or that a state
machine drops, is counted and recorded as `cellular_frame_dropped`, and the loop goes on.

Run inside a host (standard library only, like every agent):
    python -m orchestrator.agents.cellular gateway --iface bs0 --local 10.20.0.1 \\
        --pool 10.20.0.0/24 --radius 10.9.0.2:1812 --radius-secret S [--events F]
    python -m orchestrator.agents.cellular client --iface cdma0 --name mn1 --secret S \\
        [--repeat N] [--hold]
"""
from __future__ import annotations

import argparse
import hmac
import ipaddress
import json
import os
import queue
import select
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field

from ..events import EventLog
from ..protocols import cellular_address, ppp, ppp_fsm, radius
from ..protocols.errors import ProtocolError
from ..protocols.ppp_fsm import Event, Output, State
from .rtnl import Rtnl, RtnlError
from .udpserver import UdpServer, request

PHASES = ("switching", "pre-configuration")     # where a session set-up may be recorded
DEFAULT_SERVICE = b""
RADIUS_TIMEOUT_S, RADIUS_RETRIES = 1.0, 3     # the NAS's retransmission (RFC 5080 s2.2.1)
MAX_EARLY = 8           # session frames kept while the PADS is awaited (they may overtake it)
# the MN's Address-Request through the WLAN (request_address): first wait, doubling, retries
ADDRESS_TIMEOUT_S, ADDRESS_RETRIES = 0.2, 3


def _ms(t0: int, t1: int) -> float:
    return round((t1 - t0) / 1e6, 3)


def _mac_str(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


class PacketLink:
    """AF_PACKET sockets for PPPoE discovery and session frames on one interface."""

    def __init__(self, iface: str):
        self.iface = iface
        self.socks = []
        for ethertype in (ppp.ETH_P_PPP_DISC, ppp.ETH_P_PPP_SES):
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ethertype))
            s.bind((iface, ethertype))
            self.socks.append(s)
        with open(f"/sys/class/net/{iface}/address") as fh:
            self.mac = bytes(int(x, 16) for x in fh.read().strip().split(":"))
        self.sent = 0
        self.received = 0

    def send(self, frame: bytes) -> None:
        sock = self.socks[0 if frame[12:14] == ppp.ETH_P_PPP_DISC.to_bytes(2, "big") else 1]
        sock.send(frame)
        self.sent += 1

    def recv(self, timeout: float | None, extra=()) -> tuple[bytes | None, int, list]:
        """(frame or None, arrival ns, ready extra fds). Outgoing copies are skipped."""
        ready, _, _ = select.select([*self.socks, *extra],
                                    [], [], None if timeout is None else max(0.0, timeout))
        now = time.perf_counter_ns()
        others = [r for r in ready if r in extra]
        for s in ready:
            if s in self.socks:
                data, addr = s.recvfrom(65535)
                if addr[2] == socket.PACKET_OUTGOING:
                    continue
                self.received += 1
                return data, now, others
        return None, now, others

    def close(self) -> None:
        for s in self.socks:
            s.close()


@dataclass
class AaaAnswer:
    code: str                       # "accept" | "reject" | "timeout" | "error"
    address: str | None = None      # Framed-IP-Address
    message: str = ""
    rtt_ms: float = 0.0
    attempts: int = 0


class RadiusNas:
    """The gateway's RADIUS client for CHAP (RFC 2865 s5.3, s5.40)."""

    def __init__(self, server: str, port: int, secret: str, nas_identifier: str,
                 timeout: float = RADIUS_TIMEOUT_S, retries: int = RADIUS_RETRIES,
                 nas_ip: str | None = None):
        self.server, self.port, self.secret = server, port, secret.encode()
        self.nas_identifier, self.nas_ip = nas_identifier, nas_ip
        self.timeout, self.retries = timeout, retries
        self._ids = iter(range(1 << 62))

    def verify_chap(self, user: bytes, chap_id: int, response: bytes, challenge: bytes,
                    calling_station_id: str = "") -> AaaAnswer:
        identifier = next(self._ids) & 0xFF
        authenticator = os.urandom(16)
        attrs = [(radius.Attr.USER_NAME, user),
                 *radius.chap_attributes(chap_id, response, challenge),
                 (radius.Attr.NAS_IDENTIFIER, self.nas_identifier.encode()),
                 (radius.Attr.SERVICE_TYPE, radius.SERVICE_TYPE_FRAMED.to_bytes(4, "big")),
                 (radius.Attr.FRAMED_PROTOCOL, radius.FRAMED_PROTOCOL_PPP.to_bytes(4, "big")),
                 (radius.Attr.NAS_PORT_TYPE,
                  radius.NAS_PORT_TYPE_WIRELESS_CDMA2000.to_bytes(4, "big"))]
        if self.nas_ip:
            attrs.append((radius.Attr.NAS_IP_ADDRESS, ipaddress.IPv4Address(self.nas_ip).packed))
        if calling_station_id:
            attrs.append((radius.Attr.CALLING_STATION_ID, calling_station_id.encode()))
        try:
            request = radius.access_request(identifier, authenticator, attrs, self.secret)
        except ProtocolError as exc:
            return AaaAnswer("error", message=exc.reason)
        t0 = time.perf_counter_ns()
        attempts = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((self.server, self.port))
            for _ in range(self.retries + 1):
                attempts += 1
                s.send(request)
                deadline = time.monotonic() + self.timeout
                while (left := deadline - time.monotonic()) > 0:
                    s.settimeout(left)
                    try:
                        data = s.recv(4096)
                    except (socket.timeout, ConnectionRefusedError):
                        break
                    try:
                        answer = radius.verify_answer(data, identifier, authenticator,
                                                      self.secret)
                    except ProtocolError:
                        continue                        # s4.2: silently discarded
                    rtt = _ms(t0, time.perf_counter_ns())
                    message = (answer.get(radius.Attr.REPLY_MESSAGE) or b"").decode(
                        "utf-8", "replace")
                    if answer.code == radius.ACCESS_ACCEPT:
                        address = radius.framed_ip_address(answer)
                        return AaaAnswer("accept", str(address) if address else None,
                                         message, rtt, attempts)
                    return AaaAnswer("reject", None, message, rtt, attempts)
        return AaaAnswer("timeout", rtt_ms=_ms(t0, time.perf_counter_ns()), attempts=attempts)


class _Failed(Exception):
    def __init__(self, stage: str, reason: str):
        super().__init__(f"{stage}: {reason}")
        self.stage, self.reason = stage, reason


class _Counters:
    def __init__(self, log: EventLog | None, phase: str):
        self.log, self.phase = log, phase
        self.dropped = 0

    def drop(self, reason: str, **attrs) -> None:
        self.dropped += 1
        if self.log:
            self.log.emit("cellular_frame_dropped", phase=self.phase, reason=reason,
                          count=self.dropped, **attrs)


def _configure(ops) -> str | None:
    """Apply rtnetlink changes; the error text, or None."""
    try:
        with Rtnl() as nl:
            for name, *args in ops:
                try:
                    getattr(nl, name)(*args)
                except RtnlError as exc:
                    # already there / already gone (EEXIST; ENOENT, ESRCH, EADDRNOTAVAIL)
                    if not ((name == "addr_add" and exc.errno == 17)
                            or (name.endswith("_del") and exc.errno in (2, 3, 99))):
                        raise
    except (OSError, ValueError) as exc:
        return str(exc)
    return None


# --- the mobile -------------------------------------------------------------------------


class CellularClient:
    """The mobile's cellular interface: PPPoE + PPP client (see the module docstring)."""

    def __init__(self, iface: str, name: str, secret: str, log: EventLog | None = None,
                 service_name: bytes = DEFAULT_SERVICE, ac_name: bytes | None = None,
                 configure: bool = True, phase: str = "switching", want_dns: bool = True,
                 timers: dict | None = None, discovery: dict | None = None):
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}")
        self.iface, self.name, self.secret = iface, name.encode(), secret.encode()
        self.log, self.phase, self.configure = log, phase, configure
        self.service_name, self.ac_name, self.want_dns = service_name, ac_name, want_dns
        self.timers = dict(timers or {})
        self.discovery_params = dict(discovery or {})
        self.link = PacketLink(iface)
        self.counters = _Counters(log, phase)
        self.session: dict | None = None
        self._disc: ppp_fsm.DiscoveryClient | None = None
        self._ppp: ppp_fsm.PppLink | None = None
        self._early: list[bytes] = []       # session frames received before the PADS
        self._lock = threading.Lock()
        # (address, DNS server or None) IPCP asks for (pre-configured through the WLAN)
        self.request_address: tuple[str, str | None] | None = None

    def _emit(self, event: str, mono_ns: int | None = None, **attrs) -> None:
        if self.log:
            self.log.emit(event, phase=self.phase, mono_ns=mono_ns, iface=self.iface, **attrs)

    def establish(self, timeout: float = 15.0) -> dict:
        """Bring the data session up; returns {status, address, peer, dns, session_id,
        ac, discovery_ms, lcp_ms, chap_ms, ipcp_ms, configure_ms, total_ms, ...}."""
        with self._lock:
            return self._establish(timeout)

    def _establish(self, timeout: float) -> dict:
        t0 = time.perf_counter_ns()
        self._emit("cellular_session_start", mono_ns=t0, service=self.service_name.decode(
            "utf-8", "replace"), name=self.name.decode("utf-8", "replace"))
        marks = {"start": t0}
        disc = ppp_fsm.DiscoveryClient(self.link.mac, self.service_name, ac_name=self.ac_name,
                                       **self.discovery_params)
        pre = self.request_address       # (address, DNS or None) reserved through the WLAN
        ipcp = ppp_fsm.IpcpClientPolicy(self.want_dns and (not pre or bool(pre[1])))
        if pre:                          # (AddressServer): IPCP confirms them
            ipcp.address = ipaddress.IPv4Address(pre[0])
            if pre[1] and ipcp.dns is not None:
                ipcp.dns = ipaddress.IPv4Address(pre[1])
        link = ppp_fsm.PppLink(ppp_fsm.LcpPolicy(), ipcp,
                               peer=ppp_fsm.ChapPeer(self.name, self.secret), **self.timers)
        self._disc, self._ppp = disc, link
        self._early = []
        result: dict = {}
        stage = "discovery"
        deadline = t0 + int(timeout * 1e9)
        try:
            self._perform(disc.start(t0 / 1e9))
            while stage != "done":
                now = time.perf_counter_ns()
                if now >= deadline:
                    raise _Failed(stage, f"no session after {timeout} s")
                wake = [d for d in (disc.deadline, link.deadline) if d is not None]
                try:
                    frame, t_rx, _ = self.link.recv(min([deadline / 1e9, *wake]) - now / 1e9)
                except OSError as exc:                  # e.g. the interface went down
                    raise _Failed(stage, f"link: {exc}") from None
                sec = t_rx / 1e9
                outs = [disc.poll(sec) if stage == "discovery" else link.poll(sec)]
                if frame is not None:
                    outs.append(self._dispatch(frame, sec, stage))
                while outs:
                    for out in outs:
                        self._perform(out)
                        for ev in out.events:
                            stage = self._on_event(ev, stage, t_rx, marks, result)
                    # session frames that overtook the PADS, now that the session exists
                    early = []
                    if stage != "discovery":
                        early, self._early = self._early, []
                    outs = [self._dispatch(f, sec, stage) for f in early]
        except _Failed as exc:
            return self._fail(exc.stage, exc.reason, marks)
        return self._configured(marks, result)

    def _dispatch(self, frame: bytes, sec: float, stage: str) -> Output:
        try:
            f = ppp.decode_frame(frame)
        except ProtocolError as exc:
            self.counters.drop(exc.reason, malformed=True)
            return Output()
        if isinstance(f.packet, ppp.PppoeDiscovery):
            return self._disc.receive(frame, sec)
        pkt = f.packet
        if stage == "discovery" and f.dst == self.link.mac and len(self._early) < MAX_EARLY:
            # the AC's first LCP Configure-Request can overtake its PADS (two flows through
            # the emulated switch): kept until the PADS says which session is ours
            self._early.append(frame)
            return Output()
        if (stage == "discovery" or pkt.session_id != self._disc.session_id
                or f.src != self._disc.ac_mac or f.dst != self.link.mac):
            self.counters.drop("session frame for another session", malformed=False)
            return Output()
        return self._ppp.receive(pkt.protocol, pkt.information, sec)

    def _perform(self, out: Output) -> None:
        for frame in out.frames:
            self.link.send(frame)
        if out.packets and self._disc and self._disc.session_id is not None:
            for protocol, info in out.packets:
                self.link.send(ppp_fsm.session_frame(self._disc.ac_mac, self.link.mac,
                                                     self._disc.session_id, protocol, info))
        for ev in out.events:
            if ev.kind == "dropped":
                self.counters.drop(ev.detail.get("reason", ""), malformed=False)

    def _on_event(self, ev: Event, stage: str, t_rx: int, marks: dict, result: dict) -> str:
        k = ev.kind
        if k == "session":
            marks["discovery"] = t_rx
            result.update(session_id=ev.detail["session_id"], ac=_mac_str(ev.detail["ac"]))
            self._emit("pppoe_discovery_done", mono_ns=t_rx, session_id=ev.detail["session_id"],
                       ac=result["ac"], discovery_ms=_ms(marks["start"], t_rx),
                       padi_sent=self._disc.sent["PADI"], padr_sent=self._disc.sent["PADR"])
            self._perform(self._ppp.lower_up(t_rx / 1e9))
            return "lcp"
        if k == "pado":
            result["ac_name"] = (ev.detail.get("ac_name") or b"").decode("utf-8", "replace")
            return stage
        if k == "failed":
            raise _Failed("discovery", ev.detail.get("reason", "discovery failed"))
        if k == "lcp-up":
            marks["lcp"] = t_rx
            result["lcp"] = {**ev.detail["local"], "peer_auth": ev.detail["remote"].get("auth")}
            self._emit("lcp_opened", mono_ns=t_rx, lcp_ms=_ms(marks["discovery"], t_rx),
                       mru=ev.detail["local"].get("mru"), magic=ev.detail["local"].get("magic"),
                       auth=ev.detail["remote"].get("auth"))
            return "chap"
        if k == "auth-success":
            marks["chap"] = t_rx
            self._emit("chap_success", mono_ns=t_rx, chap_ms=_ms(marks["lcp"], t_rx),
                       message=ev.detail.get("message", b"").decode("utf-8", "replace"))
            return "ipcp"
        if k == "auth-failure":
            self._emit("chap_failure", mono_ns=t_rx, reason=ev.detail.get("reason"),
                       message=ev.detail.get("message", b"").decode("utf-8", "replace"))
            raise _Failed("chap", ev.detail.get("reason", "authentication failed"))
        if k == "ipcp-up":
            marks["ipcp"] = t_rx
            result.update(address=ev.detail["address"], peer=ev.detail["peer"],
                          dns=ev.detail["dns"])
            self._emit("ipcp_opened", mono_ns=t_rx, ipcp_ms=_ms(marks.get("chap",
                                                                          marks["lcp"]), t_rx),
                       address=ev.detail["address"], peer=ev.detail["peer"],
                       dns=ev.detail["dns"])
            return "done"
        if k in ("finished", "terminated", "lcp-down"):
            raise _Failed(stage, self._ppp.failure or {"terminated": "PADT from the gateway"}
                          .get(k, f"LCP {k}"))
        return stage

    def _configured(self, marks: dict, result: dict) -> dict:
        error = None
        if self.configure:
            peer = result["peer"]
            error = _configure([("addr_add", self.iface, f"{result['address']}/32"),
                                ("route_replace", f"{peer}/32", None, self.iface),
                                ("neigh_replace", self.iface, peer, result["ac"], "permanent")])
        t_done = time.perf_counter_ns()
        if error:
            return self._fail("configure", error, marks)
        chap_end = marks.get("chap", marks["lcp"])
        result.update(
            status="ok", iface=self.iface, data_path="ip",
            discovery_ms=_ms(marks["start"], marks["discovery"]),
            lcp_ms=_ms(marks["discovery"], marks["lcp"]),
            chap_ms=_ms(marks["lcp"], chap_end) if "chap" in marks else 0.0,
            ipcp_ms=_ms(chap_end, marks["ipcp"]),
            configure_ms=_ms(marks["ipcp"], t_done), total_ms=_ms(marks["start"], t_done),
            frames_sent=self.link.sent, frames_received=self.link.received,
            dropped=self.counters.dropped,
            configure_requests=self._ppp.lcp.transmissions["configure_request"]
            + self._ppp.ipcp.transmissions["configure_request"],
            start_ns=marks["start"], done_ns=t_done)
        self.session = result
        self._emit("cellular_session_done", mono_ns=t_done, **{
            k: v for k, v in result.items() if k not in ("status", "iface", "start_ns",
                                                         "done_ns")})
        return result

    def _fail(self, stage: str, reason: str, marks: dict) -> dict:
        t = time.perf_counter_ns()
        self._emit("cellular_session_failed", mono_ns=t, stage=stage, reason=reason,
                   elapsed_ms=_ms(marks["start"], t))
        self._teardown(wait=False)
        return {"status": "failed", "stage": stage, "reason": reason,
                "elapsed_ms": _ms(marks["start"], t)}

    def serve(self, stop: threading.Event, echo_interval: float = 0.0) -> dict:
        """After `establish`: answer LCP (Echo, Terminate), notice PADT, until `stop` or the
        session ends. With `echo_interval`, send LCP Echo-Requests (link keepalive)."""
        reason = "stopped"
        next_echo = time.monotonic() + echo_interval if echo_interval else None
        while not stop.is_set() and self.session is not None:
            with self._lock:
                link = self._ppp
                wake = [link.deadline or float("inf"), time.perf_counter() + 0.1]
                try:
                    frame, t_rx, _ = self.link.recv(max(0.0, min(wake) - time.perf_counter()))
                    sec = t_rx / 1e9
                    out = link.poll(sec)
                    if frame is not None:
                        out.extend(self._dispatch(frame, sec, "session"))
                    if next_echo and time.monotonic() >= next_echo:
                        out.extend(link.echo(sec))
                        next_echo = time.monotonic() + echo_interval
                    self._perform(out)
                except OSError as exc:                 # the interface went away
                    reason = f"link: {exc}"
                    self._emit("cellular_session_terminated", reason=reason)
                    self._teardown(wait=False)
                    break
                ended = [e for e in out.events if e.kind in ("terminated", "finished",
                                                              "lcp-down")]
                if ended:
                    reason = "PADT from the gateway" if ended[0].kind == "terminated" else \
                        "LCP terminated by the gateway"
                    self._emit("cellular_session_terminated", reason=reason)
                    self._teardown(wait=False)
                    break
        return {"reason": reason}

    def close(self, timeout: float = 3.0) -> dict:
        """LCP Terminate-Request (until its Ack or `timeout`), PADT, address removed."""
        with self._lock:
            if self.session is None:
                return {"status": "closed"}
            t0 = time.perf_counter_ns()
            self._teardown(wait=True, timeout=timeout)
            t1 = time.perf_counter_ns()
            self._emit("cellular_session_terminated", mono_ns=t1, reason="closed by the mobile",
                       elapsed_ms=_ms(t0, t1))
            return {"status": "ok", "elapsed_ms": _ms(t0, t1)}

    def _teardown(self, wait: bool, timeout: float = 3.0) -> None:
        link, disc = self._ppp, self._disc
        if link is not None and wait and link.lcp.state == State.OPENED:
            now = time.perf_counter_ns()
            self._perform(link.close(now / 1e9, b"mobile leaves"))
            deadline = now / 1e9 + timeout
            while link.lcp.state not in (State.CLOSED, State.STOPPED, State.INITIAL):
                now = time.perf_counter()
                if now >= deadline:
                    break
                frame, t_rx, _ = self.link.recv(min(deadline, link.deadline or deadline) - now)
                out = link.poll(t_rx / 1e9)
                if frame is not None:
                    out.extend(self._dispatch(frame, t_rx / 1e9, "session"))
                self._perform(out)
        if disc is not None:
            for frame in disc.terminate().frames:
                self.link.send(frame)
        session, self.session = self.session, None
        if session and self.configure:
            _configure([("route_del", f"{session['peer']}/32", 254, self.iface),
                        ("neigh_del", self.iface, session["peer"]),
                        ("addr_del", self.iface, f"{session['address']}/32")])

    def shutdown(self) -> None:
        self.link.close()


# --- the packet data gateway -------------------------------------------------------------


@dataclass
class _GwSession:
    host: bytes
    session_id: int
    link: ppp_fsm.PppLink
    t_start: int
    marks: dict = field(default_factory=dict)
    user: str = ""
    address: str | None = None
    from_pool: bool = False
    address_source: str = ""


class PacketDataGateway:
    """The base station's packet data gateway: PPPoE access concentrator + PPP
    authenticator + RADIUS NAS + IPCP address server (module docstring)."""

    def __init__(self, iface: str, local: str, pool: str, aaa: RadiusNas,
                 log: EventLog | None = None, ac_name: str = "pdsn",
                 services: tuple[bytes, ...] = (DEFAULT_SERVICE,), dns: list[str] | None = None,
                 configure: bool = True, phase: str = "switching", timers: dict | None = None,
                 reserved: tuple[str, ...] = ()):
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}")
        self.iface, self.local, self.aaa, self.log = iface, local, aaa, log
        self.reserved = set(reserved)        # addresses of the pool never leased (static ones)
        self.network = ipaddress.IPv4Network(pool, strict=False)
        self.dns, self.configure, self.phase = dns or [], configure, phase
        self.timers = dict(timers or {})
        self.link = PacketLink(iface)
        self.ac = ppp_fsm.AccessConcentrator(self.link.mac, ac_name.encode(), services)
        self.counters = _Counters(log, phase)
        self.sessions: dict[tuple[bytes, int], _GwSession] = {}
        self.leases: set[str] = set()
        self.verdicts: queue.Queue = queue.Queue()
        self.preauthorized: dict[bytes, tuple[bytes, float]] = {}  # host -> (secret, expiry)
        self.reserved_for: dict[bytes, str] = {}   # host -> address reserved through the WLAN
        self._wake_r, self._wake_w = os.pipe()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.completed = 0
        if configure:
            error = _configure([("addr_add", iface, f"{local}/32")])
            if error:
                raise OSError(f"cannot put {local}/32 on {iface}: {error}")

    def _emit(self, event: str, mono_ns: int | None = None, **attrs) -> None:
        if self.log:
            self.log.emit(event, phase=self.phase, mono_ns=mono_ns, **attrs)

    def start(self) -> PacketDataGateway:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True,
                                        name="packet-data-gateway")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        os.write(self._wake_w, b"x")
        if self._thread:
            self._thread.join(5)
        for s in list(self.sessions.values()):
            self._end(s, "gateway stopped", padt=True)
        self.link.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def serve_forever(self) -> None:
        while not self._stop.is_set():
            wake = [s.link.deadline for s in self.sessions.values() if s.link.deadline]
            wait = max(0.0, min(wake) - time.perf_counter()) if wake else 1.0
            try:
                frame, t_rx, woken = self.link.recv(wait, (self._wake_r,))
            except OSError as exc:           # the interface went away: keep trying
                self.counters.drop(f"receive: {exc}", malformed=False)
                time.sleep(0.1)
                continue
            if woken:
                os.read(self._wake_r, 64)
            sec = t_rx / 1e9
            try:
                if frame is not None:
                    self._on_frame(frame, t_rx)
                while True:
                    try:
                        key, answer, t_answer = self.verdicts.get_nowait()
                    except queue.Empty:
                        break
                    self._on_verdict(key, answer, t_answer)
                for s in list(self.sessions.values()):
                    self._handle(s, s.link.poll(sec), t_rx)
            except Exception as exc:  # noqa: BLE001 - the loop survives any input
                self.counters.drop(f"internal error: {type(exc).__name__}: {exc}",
                                   malformed=False)

    def _on_frame(self, frame: bytes, t_rx: int) -> None:
        sec = t_rx / 1e9
        try:
            f = ppp.decode_frame(frame)
        except ProtocolError as exc:
            self.counters.drop(exc.reason, malformed=True)
            return
        if isinstance(f.packet, ppp.PppoeDiscovery):
            out = self.ac.receive(frame, sec)
            for fr in out.frames:
                self.link.send(fr)
            for ev in out.events:
                if ev.kind == "session":
                    self._new_session(ev.detail["host"], ev.detail["session_id"], t_rx)
                elif ev.kind == "terminated":
                    s = self.sessions.get((ev.detail["host"], ev.detail["session_id"]))
                    if s:
                        self._end(s, "PADT from the mobile", padt=False)
                elif ev.kind == "dropped":
                    self.counters.drop(ev.detail.get("reason", ""), malformed=False)
            return
        s = self.sessions.get((f.src, f.packet.session_id))
        if s is None or f.dst != self.link.mac:
            self.counters.drop("session frame for no session", malformed=False)
            return
        self._handle(s, s.link.receive(f.packet.protocol, f.packet.information, sec), t_rx)

    def _new_session(self, host: bytes, session_id: int, t_rx: int) -> None:
        link = ppp_fsm.PppLink(ppp_fsm.LcpPolicy(authenticate=True),
                               ppp_fsm.IpcpGatewayPolicy(self.local, self.dns),
                               authenticator=ppp_fsm.ChapAuthenticator(), **self.timers)
        s = _GwSession(host, session_id, link, t_rx)
        self.sessions[(host, session_id)] = s
        self._emit("pppoe_discovery_done", mono_ns=t_rx, sta=_mac_str(host),
                   session_id=session_id)
        self._handle(s, link.lower_up(t_rx / 1e9), t_rx)

    def _send(self, s: _GwSession, out: Output) -> None:
        for protocol, info in out.packets:
            self.link.send(ppp_fsm.session_frame(s.host, self.link.mac, s.session_id,
                                                 protocol, info))

    def _handle(self, s: _GwSession, out: Output, t: int) -> None:
        self._send(s, out)
        who = s.user or _mac_str(s.host)
        for ev in out.events:
            if ev.kind == "dropped":
                self.counters.drop(ev.detail.get("reason", ""), malformed=False,
                                   sta=_mac_str(s.host))
            elif ev.kind == "lcp-up":
                s.marks["lcp"] = t
                self._emit("lcp_opened", mono_ns=t, mn=who, sta=_mac_str(s.host),
                           mru=ev.detail["local"].get("mru"), auth="chap-md5",
                           lcp_ms=_ms(s.t_start, t))
            elif ev.kind == "chap-response":
                s.user = ev.detail["name"].decode("utf-8", "replace")
                pre = self.preauthorized.pop(s.host, None)
                if pre is not None and pre[1] >= time.monotonic():
                    self._verify_locally(s, pre[0], ev.detail, t)
                    continue
                self._emit("aaa_request", mono_ns=t, mn=s.user, sta=_mac_str(s.host),
                           server=f"{self.aaa.server}:{self.aaa.port}", method="chap")
                threading.Thread(target=self._verify, daemon=True, args=(
                    (s.host, s.session_id), ev.detail)).start()
            elif ev.kind == "auth-success":
                s.marks["chap"] = t
                self._emit("chap_success", mono_ns=t, mn=who, sta=_mac_str(s.host),
                           chap_ms=_ms(s.marks.get("lcp", s.t_start), t))
            elif ev.kind == "auth-failure":
                self._emit("chap_failure", mono_ns=t, mn=who, sta=_mac_str(s.host),
                           reason=ev.detail.get("reason"))
            elif ev.kind == "ipcp-up":
                self._opened(s, ev.detail, t)
            elif ev.kind == "finished":
                self._end(s, s.link.failure or "LCP finished", padt=True)

    def preauthorize(self, sta: str, secret: bytes, lifetime: float) -> None:
        """The CHAP secret a PAA installed for the mobile whose interface has MAC `sta`
        (RFC 6252 s7.6.2: pre-authentication through the other interface): its next CHAP
        Response is checked against it here, for `lifetime` seconds."""
        host = bytes(int(x, 16) for x in sta.split(":"))
        if len(host) != 6 or not secret:
            raise ValueError(f"a station MAC address and a secret, not {sta!r}")
        self.preauthorized[host] = (bytes(secret), time.monotonic() + lifetime)
        if self.log:
            self.log.emit("chap_preauthorized", phase="pre-configuration", sta=_mac_str(host),
                          lifetime_s=lifetime)

    def reserve(self, host: bytes) -> str | None:
        """Reserve an address of the pool for the pre-authorized mobile `host` (RFC 6252
        s7.3, s7.6.2: asked through its WLAN, AddressServer); the same one when asked again.
        Its data session's IPCP then confirms it. None when the pool is exhausted."""
        if host in self.reserved_for:
            return self.reserved_for[host]
        address = self._lease()
        if address is not None:
            self.leases.add(address)
            self.reserved_for[host] = address
            if self.log:
                self.log.emit("cellular_address_reserved", phase="pre-configuration",
                              sta=_mac_str(host), address=address)
        return address

    def holds(self, host: bytes, address: str) -> bool:
        """`address` is reserved for the mobile `host` (through its WLAN) or leased to it in
        a data session: C.5.2's tunnel into this network may carry it for that mobile."""
        if self.reserved_for.get(host) == address:
            return True
        return any(s.host == host and s.address == address
                   for s in list(self.sessions.values()))

    def forget_preauthorized(self) -> int:
        """Drop every installed secret and reservation (a clean start); how many secrets."""
        n = len(self.preauthorized)
        self.preauthorized.clear()
        for address in self.reserved_for.values():
            self.leases.discard(address)
        self.reserved_for.clear()
        return n

    def _verify_locally(self, s: _GwSession, secret: bytes, detail: dict, t: int) -> None:
        """CHAP against the pre-authorized secret (RFC 1994 s4.1: the expected response is
        MD5(Identifier || secret || Challenge)); no AAA round trip."""
        expected = ppp.chap_md5_response(detail["identifier"], secret, detail["challenge"])
        ok = hmac.compare_digest(expected, bytes(detail["response"]))
        self._emit("chap_verified", mono_ns=t, mn=s.user, sta=_mac_str(s.host),
                   method="mpa-key", ok=ok)
        reserved = self.reserved_for.pop(s.host, None)
        answer = AaaAnswer("accept" if ok else "reject", address=reserved if ok else None,
                           message="" if ok else "pre-authorized secret does not match")
        if reserved and not ok:
            self.leases.discard(reserved)
        self._on_verdict((s.host, s.session_id), answer, time.perf_counter_ns(),
                         local=True, source="reserved" if reserved else None)

    def _verify(self, key, detail: dict) -> None:
        try:
            answer = self.aaa.verify_chap(detail["name"], detail["identifier"],
                                          detail["response"], detail["challenge"],
                                          _mac_str(key[0]))
        except Exception as exc:  # noqa: BLE001 - reported as an AAA error
            answer = AaaAnswer("error", message=f"{type(exc).__name__}: {exc}")
        self.verdicts.put((key, answer, time.perf_counter_ns()))
        os.write(self._wake_w, b"v")

    def _on_verdict(self, key, answer: AaaAnswer, t: int, local: bool = False,
                    source: str | None = None) -> None:
        s = self.sessions.get(key)
        if s is None:
            return
        if not local:
            self._emit("aaa_answer", mono_ns=t, mn=s.user, sta=_mac_str(s.host),
                       server=f"{self.aaa.server}:{self.aaa.port}", code=answer.code,
                       rtt_ms=answer.rtt_ms, attempts=answer.attempts)
        ok = answer.code == "accept"
        address = None
        if ok:
            address = answer.address or self._lease()
            if address is None:
                ok, answer.message = False, "address pool exhausted"
            else:
                s.address, s.from_pool = address, answer.address is None
                s.address_source = source or ("pool" if s.from_pool else "aaa")
                if s.from_pool:
                    self.leases.add(address)
        message = (answer.message or ("welcome" if ok else answer.code)).encode()
        self._handle(s, s.link.chap_verdict(ok, t / 1e9, address, message), t)

    def _lease(self) -> str | None:
        taken = {self.local, *self.reserved, *self.leases,
                 *(s.address for s in self.sessions.values())}
        return next((str(a) for a in self.network.hosts() if str(a) not in taken), None)

    def _opened(self, s: _GwSession, detail: dict, t: int) -> None:
        s.marks["ipcp"] = t
        error = None
        if self.configure and s.address:
            error = _configure([("route_replace", f"{s.address}/32", None, self.iface),
                                ("neigh_replace", self.iface, s.address, _mac_str(s.host),
                                 "permanent")])
        t_done = time.perf_counter_ns()
        self._emit("ipcp_opened", mono_ns=t, mn=s.user, sta=_mac_str(s.host),
                   address=s.address, local=self.local,
                   ipcp_ms=_ms(s.marks.get("chap", t), t))
        if error:
            self._emit("cellular_session_failed", mono_ns=t_done, mn=s.user, stage="configure",
                       reason=error)
            self._handle(s, s.link.close(t_done / 1e9, b"gateway configuration failed"),
                         t_done)
            return
        self.completed += 1
        self._emit("cellular_session_done", mono_ns=t_done, mn=s.user, sta=_mac_str(s.host),
                   address=s.address, session_id=s.session_id,
                   address_source=s.address_source,
                   total_ms=_ms(s.t_start, t_done))

    def _end(self, s: _GwSession, reason: str, padt: bool) -> None:
        if self.sessions.pop((s.host, s.session_id), None) is None:
            return
        if padt:
            for fr in self.ac.terminate(s.session_id).frames:
                self.link.send(fr)
        else:
            self.ac.sessions.pop(s.session_id, None)
        if s.address:
            self.leases.discard(s.address)
            if self.configure:
                _configure([("route_del", f"{s.address}/32", 254, self.iface),
                            ("neigh_del", self.iface, s.address)])
        self._emit("cellular_session_terminated", mn=s.user or _mac_str(s.host),
                   sta=_mac_str(s.host), reason=reason, address=s.address)


class AddressServer(UdpServer):
    """The gateway's side of proactive address acquisition through the WLAN
    (protocols/cellular_address.py; RFC 6252 s7.3, s7.6.2): a pre-authorized mobile's
    authenticated Address-Request reserves an address of the pool for its next data
    session. A request from a station with no installed secret, or one that does not
    verify, is dropped (counted by the loop's guard)."""
    name = "cellular-address"

    def __init__(self, address: str, port: int, gateway: PacketDataGateway, lifetime: int,
                 log: EventLog | None = None):
        super().__init__(address, port, log=log)
        self.gateway, self.lifetime = gateway, lifetime

    def datagram(self, data: bytes, peer: tuple[str, int], ancillary: list) -> None:
        station = cellular_address.request_station(data)
        pre = self.gateway.preauthorized.get(station)
        if pre is None or pre[1] < time.monotonic():
            raise ProtocolError(f"no pre-authorized secret for station {_mac_str(station)}")
        req = cellular_address.decode_request(pre[0], data)
        if req.target_id != self.gateway.link.mac:
            raise ProtocolError(f"an address request for gateway {_mac_str(req.target_id)}")
        address = self.gateway.reserve(station)
        status = (cellular_address.Status.RESERVED if address
                  else cellular_address.Status.POOL_EXHAUSTED)
        dns = self.gateway.dns[0] if self.gateway.dns else None
        answer = cellular_address.AddressAnswer(status, req.nonce,
                                                ipaddress.IPv4Address(address or 0),
                                                dns and ipaddress.IPv4Address(dns),
                                                self.lifetime)
        self.sock.sendto(cellular_address.encode_answer(pre[0], answer), peer)


class _Refused(Exception):
    """The gateway's authenticated refusal (not swallowed like a bad datagram)."""


def request_address(server: tuple[str, int], secret: bytes, station: bytes, target_id: bytes,
                    timeout: float = ADDRESS_TIMEOUT_S, retries: int = ADDRESS_RETRIES) -> tuple[str, str | None, float]:
    """The MN's side: ask the gateway at `server` (reached through the current interface)
    for an address; (address, DNS server or None, seconds). The request is retransmitted unchanged, the wait
    doubling, `retries` times. Raises OSError on no answer, ProtocolError on a refusal."""
    req = cellular_address.AddressRequest(bytes(station), bytes(target_id), os.urandom(16))
    datagram = cellular_address.encode_request(secret, req)
    t0 = time.perf_counter()

    def answer(data: bytes):
        ans = cellular_address.decode_answer(secret, data)
        if ans.nonce != req.nonce:
            return None
        if ans.status != cellular_address.Status.RESERVED:
            raise _Refused(f"{server[0]}: {ans.status.name}")
        return ans
    try:
        ans = request(server, datagram, answer, timeout, retries)
    except _Refused as exc:
        raise ProtocolError(str(exc)) from None
    if ans is not None:
        return (str(ans.address), ans.dns and str(ans.dns), time.perf_counter() - t0)
    raise OSError(f"no address answer from {server[0]}:{server[1]} after {1 + retries} tries")


# --- command line ---------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m orchestrator.agents.cellular")
    ap.add_argument("--events", help="event log file (JSON lines)")
    ap.add_argument("--node", default=socket.gethostname())
    ap.add_argument("--phase", default="switching", choices=PHASES)
    ap.add_argument("--restart", type=float, default=ppp_fsm.RESTART_S,
                    help="RFC 1661 restart timer, seconds")
    sub = ap.add_subparsers(dest="op", required=True)
    gw = sub.add_parser("gateway")
    gw.add_argument("--iface", required=True)
    gw.add_argument("--local", required=True, help="the gateway's address on the link")
    gw.add_argument("--pool", required=True, help="addresses for mobiles, e.g. 10.20.0.0/24")
    gw.add_argument("--dns", action="append", default=[])
    gw.add_argument("--radius", required=True, help="AAA server HOST:PORT")
    gw.add_argument("--radius-secret", required=True)
    gw.add_argument("--radius-timeout", type=float, default=1.0)
    gw.add_argument("--ac-name", default="pdsn")
    gw.add_argument("--preauthorize", action="append", default=[], metavar="MAC=SECRET",
                    help="a CHAP secret already installed for the mobile with this MAC "
                         "(as a PAA does after MPA pre-authentication): checked here, no AAA")
    cl = sub.add_parser("client")
    cl.add_argument("--iface", required=True)
    cl.add_argument("--name", required=True, help="CHAP name (the AAA user)")
    cl.add_argument("--secret", required=True)
    cl.add_argument("--timeout", type=float, default=15.0)
    cl.add_argument("--repeat", type=int, default=1, help="set up and close N times")
    cl.add_argument("--hold", action="store_true",
                    help="keep the (last) session until SIGTERM, then close it")
    cl.add_argument("--no-configure", action="store_true")
    args = ap.parse_args(argv)
    timers = {"restart_s": args.restart}
    role = "packet-data-gateway" if args.op == "gateway" else "mobile-node"
    log = EventLog(args.events, args.node, role) if args.events else None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.op == "gateway":
        host, _, port = args.radius.rpartition(":")
        nas = RadiusNas(host, int(port), args.radius_secret, args.node, args.radius_timeout)
        gateway = PacketDataGateway(args.iface, args.local, args.pool, nas, log, args.ac_name,
                                    dns=args.dns, phase=args.phase, timers=timers)
        for item in args.preauthorize:
            sta, _, secret = item.partition("=")
            gateway.preauthorize(sta, secret.encode(), 3600.0)
        gateway.start()
        print(json.dumps({"status": "ready", "mac": _mac_str(gateway.link.mac)}), flush=True)
        stop.wait()
        gateway.stop()
        print(json.dumps({"status": "stopped", "completed": gateway.completed,
                          "dropped": gateway.counters.dropped}), flush=True)
        return 0
    client = CellularClient(args.iface, args.name, args.secret, log,
                            configure=not args.no_configure, phase=args.phase, timers=timers)
    status = 0
    for i in range(args.repeat):
        result = client.establish(args.timeout)
        print(json.dumps(result), flush=True)
        if result["status"] != "ok":
            status = 1
            break
        if args.hold and i == args.repeat - 1:
            client.serve(stop)
        print(json.dumps({"close": client.close()}), flush=True)
        if stop.is_set():
            break
    client.shutdown()
    return status


if __name__ == "__main__":
    sys.exit(main())
