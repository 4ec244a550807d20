"""PPPoE discovery, the PPP option negotiation automaton, CHAP and the link phases (pure).

The cellular data session of RFC 6252 C.5.2 (the mobile's PPP with LCP, CHAP and IPCP to the
CDMA PDSN), spoken over the emulated link as PPP over Ethernet (codecs in `ppp`). Nothing
here does I/O or reads a clock: every method takes `now` (seconds, any monotonic origin) and
returns an `Output` of what to send plus `Event`s; randomness is an injected `rng(n)`. No
method raises on peer input: a malformed or unexpected packet is an ``Event("dropped")``.

Who does what:
- `Automaton` is RFC 1661 s4's option negotiation automaton, the whole state transition
  table of s4.1 (ten states, sixteen events, the actions tlu/tld/tls/tlf, irc/zrc,
  scr/sca/scn, str/sta, scj, ser), with the restart timer and the Max-Configure,
  Max-Terminate and Max-Failure counters of s4.6. It serves LCP and IPCP alike; what to
  request and how to judge the peer's request is an `OptionPolicy`:
  `LcpPolicy` (s6: MRU, Authentication-Protocol, Magic-Number, loopback detection) and
  `IpcpGatewayPolicy` / `IpcpClientPolicy` (RFC 1332 s3.3 IP-Address, RFC 1877 DNS).
- `ChapAuthenticator` and `ChapPeer` are RFC 1994 s4 with MD5 (Algorithm 5). The
  authenticator does not know secrets: a Response becomes ``Event("chap-response")`` and the
  caller (the gateway, a RADIUS NAS) answers with `PppLink.chap_verdict`.
- `PppLink` runs the phases of RFC 1661 s3.2 (Establish, Authenticate, Network, Terminate)
  for one session: LCP first, then CHAP if it was negotiated, then IPCP.
- `DiscoveryClient` (the host) and `AccessConcentrator` (the gateway) are RFC 2516 s5:
  PADI/PADO/PADR/PADS, PADT. The AC is stateless until PADR: its PADO carries an AC-Cookie
  (HMAC-SHA256 of the host's MAC under a key of its own) that a PADR must echo.

Timers and counters (defaults; each a constructor argument, reported by the agent):
RFC 1661 s4.6 Restart timer 3 s, Max-Terminate 2, Max-Configure 10, Max-Failure 5; RFC 1994
s4.1 the Challenge is retransmitted on the same timer up to Max-Configure times; RFC 2516 s5
does not fix the PADI/PADR timeout, only that it doubles: 1 s, four attempts.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import struct
from dataclasses import dataclass, field
from enum import Enum
from ipaddress import IPv4Address
from typing import Callable

from .errors import ProtocolError
from .ppp import (
    BROADCAST, CHAP_MD5, CONFIGURE_CODES, MAX_MRU, PADI, PADO, PADR, PADS, PADT, PROTO_CHAP,
    PROTO_IPCP, PROTO_IPV4, PROTO_LCP, ChapCode, ChapPacket, ControlPacket, IpcpOption, LcpCode,
    LcpOption, Option, PppoeDiscovery, PppoeSession, Tag, TagType, chap_md5_response,
    decode_frame, ipv4, u16, u32,
)

__all__ = [
    "State", "Event", "Output", "Automaton", "OptionPolicy", "LcpPolicy", "IpcpGatewayPolicy",
    "IpcpClientPolicy", "ChapAuthenticator", "ChapPeer", "PppLink", "Phase",
    "DiscoveryClient", "AccessConcentrator", "RESTART_S", "MAX_CONFIGURE", "MAX_TERMINATE",
    "MAX_FAILURE", "DISCOVERY_TIMEOUT_S", "DISCOVERY_ATTEMPTS",
]

RESTART_S = 3.0          # RFC 1661 s4.6 Restart timer
MAX_TERMINATE = 2        # s4.6
MAX_CONFIGURE = 10       # s4.6
MAX_FAILURE = 5          # s4.6
DISCOVERY_TIMEOUT_S = 1.0   # RFC 2516 s5 leaves it open; it doubles on each retry
DISCOVERY_ATTEMPTS = 4

Rng = Callable[[int], bytes]


@dataclass(frozen=True)
class Event:
    kind: str
    detail: dict = field(default_factory=dict)


@dataclass
class Output:
    """What one call produced: PPP packets `(protocol, information)` (or whole Ethernet
    frames for discovery, in `frames`) and events."""
    packets: list[tuple[int, bytes]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    frames: list[bytes] = field(default_factory=list)

    def extend(self, other: Output) -> Output:
        self.packets += other.packets
        self.events += other.events
        self.frames += other.frames
        return self

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


# --- RFC 1661 s4: the option negotiation automaton ----------------------------------------


class State(Enum):
    INITIAL = 0
    STARTING = 1
    CLOSED = 2
    STOPPED = 3
    CLOSING = 4
    STOPPING = 5
    REQ_SENT = 6
    ACK_RCVD = 7
    ACK_SENT = 8
    OPENED = 9


# RFC 1661 s4.1 State Transition Table, verbatim: one row per event, one column per state
# (0 Initial .. 9 Opened); "actions/next", "next" alone, or "-" (cannot happen). The
# suffixes p (passive), r (restart) and x (crossed) of the RFC are implementation options:
# p and x change nothing here, r is kept out (an Open in Stopped/Closing/Stopping/Opened
# does not restart the link).
_TABLE = {
    "Up":    ("2", "irc,scr/6", "-", "-", "-", "-", "-", "-", "-", "-"),
    "Down":  ("-", "-", "0", "tls/1", "0", "1", "1", "1", "1", "tld/1"),
    "Open":  ("tls/1", "1", "irc,scr/6", "3", "5", "5", "6", "7", "8", "9"),
    "Close": ("0", "tlf/0", "2", "2", "4", "4", "irc,str/4", "irc,str/4", "irc,str/4",
              "tld,irc,str/4"),
    "TO+":   ("-", "-", "-", "-", "str/4", "str/5", "scr/6", "scr/6", "scr/8", "-"),
    "TO-":   ("-", "-", "-", "-", "tlf/2", "tlf/3", "tlf/3", "tlf/3", "tlf/3", "-"),
    "RCR+":  ("-", "-", "sta/2", "irc,scr,sca/8", "4", "5", "sca/8", "sca,tlu/9", "sca/8",
              "tld,scr,sca/8"),
    "RCR-":  ("-", "-", "sta/2", "irc,scr,scn/6", "4", "5", "scn/6", "scn/7", "scn/6",
              "tld,scr,scn/6"),
    "RCA":   ("-", "-", "sta/2", "sta/3", "4", "5", "irc/7", "scr/6", "irc,tlu/9", "tld,scr/6"),
    "RCN":   ("-", "-", "sta/2", "sta/3", "4", "5", "irc,scr/6", "scr/6", "irc,scr/8",
              "tld,scr/6"),
    "RTR":   ("-", "-", "sta/2", "sta/3", "sta/4", "sta/5", "sta/6", "sta/6", "sta/6",
              "tld,zrc,sta/5"),
    "RTA":   ("-", "-", "2", "3", "tlf/2", "tlf/3", "6", "6", "8", "tld,scr/6"),
    "RUC":   ("-", "-", "scj/2", "scj/3", "scj/4", "scj/5", "scj/6", "scj/7", "scj/8", "scj/9"),
    "RXJ+":  ("-", "-", "2", "3", "4", "5", "6", "6", "8", "9"),
    "RXJ-":  ("-", "-", "tlf/2", "tlf/3", "tlf/2", "tlf/3", "tlf/3", "tlf/3", "tlf/3",
              "tld,irc,str/5"),
    "RXR":   ("-", "-", "2", "3", "4", "5", "6", "7", "8", "ser/9"),
}
_TIMER_STATES = (State.CLOSING, State.STOPPING, State.REQ_SENT, State.ACK_RCVD, State.ACK_SENT)


def _transition(event: str, state: State) -> tuple[tuple[str, ...], State] | None:
    cell = _TABLE[event][state.value]
    if cell == "-":
        return None
    actions, _, target = cell.rpartition("/")
    return tuple(a for a in actions.split(",") if a), State(int(target))


class OptionPolicy:
    """What a side requests and how it judges the peer's request (RFC 1661 s5.1-s5.4).

    `judge` returns (code, options): CONFIGURE_ACK with the peer's options as they were, or
    CONFIGURE_NAK with acceptable values, or CONFIGURE_REJECT with the unacceptable options
    (Reject wins over Nak, s5.4). `naked`/`rejected` adapt the next request; `acked` is
    called with the options the peer acknowledged."""

    def request(self) -> list[Option]:
        return []

    def judge(self, options: tuple[Option, ...]) -> tuple[int, list[Option]]:
        return (LcpCode.CONFIGURE_REJECT, list(options)) if options else \
            (LcpCode.CONFIGURE_ACK, [])

    def naked(self, options: tuple[Option, ...]) -> None:
        pass

    def rejected(self, options: tuple[Option, ...]) -> None:
        pass

    def acked(self, options: tuple[Option, ...]) -> None:
        pass

    def peer_acked(self, options: tuple[Option, ...]) -> None:
        """We acknowledged these options of the peer (its part of the negotiation)."""


@dataclass(frozen=True)
class _Verdict:
    rejects: list[Option]
    naks: list[Option]

    def result(self, options) -> tuple[int, list[Option]]:
        if self.rejects:
            return LcpCode.CONFIGURE_REJECT, self.rejects
        if self.naks:
            return LcpCode.CONFIGURE_NAK, self.naks
        return LcpCode.CONFIGURE_ACK, list(options)


class Automaton:
    """RFC 1661 s4 for one control protocol (`protocol`: PROTO_LCP or PROTO_IPCP)."""

    def __init__(self, protocol: int, policy: OptionPolicy, rng: Rng = os.urandom,
                 restart_s: float = RESTART_S, max_configure: int = MAX_CONFIGURE,
                 max_terminate: int = MAX_TERMINATE, max_failure: int = MAX_FAILURE,
                 magic: Callable[[], int] = lambda: 0):
        self.protocol, self.policy, self.rng = protocol, policy, rng
        self.restart_s = restart_s
        self.max_configure, self.max_terminate, self.max_failure = (
            max_configure, max_terminate, max_failure)
        self.magic = magic                     # LCP Echo/Discard: our Magic-Number
        self.state = State.INITIAL
        self.counter = 0
        self.failures = 0                      # Naks sent in a row (Max-Failure)
        self.deadline: float | None = None
        self._identifier = rng(1)[0]
        self._request: ControlPacket | None = None
        self._terminate_id: int | None = None
        self.transmissions = {"configure_request": 0, "terminate_request": 0}

    # -- administrative and lower-layer events (s4.3) --
    def up(self, now: float) -> Output:
        return self._run("Up", now)

    def down(self, now: float) -> Output:
        return self._run("Down", now)

    def open(self, now: float) -> Output:
        return self._run("Open", now)

    def close(self, now: float, reason: bytes = b"") -> Output:
        self._reason = reason
        return self._run("Close", now)

    def poll(self, now: float) -> Output:
        """Fire the restart timer if it expired (TO+ while the counter is positive, TO-)."""
        if self.deadline is None or now < self.deadline:
            return Output()
        self.deadline = None
        return self._run("TO+" if self.counter > 0 else "TO-", now)

    # -- received packets (s4.3 RCR..RXR) --
    def receive(self, information: bytes, now: float) -> Output:
        try:
            packet = ControlPacket.decode(information)
        except ProtocolError as exc:
            return Output(events=[Event("dropped", {"protocol": self.protocol,
                                                    "reason": exc.reason})])
        if self.state in (State.INITIAL, State.STARTING):
            return Output(events=[Event("dropped", {"protocol": self.protocol,
                                                    "reason": "not open"})])
        code = packet.code
        if code == LcpCode.CONFIGURE_REQUEST:
            verdict, options = self.policy.judge(packet.options)
            if verdict == LcpCode.CONFIGURE_NAK:
                self.failures += 1
                if self.failures > self.max_failure:      # s4.6: Naks become Rejects
                    naked = {o.type for o in options}      # of the peer's options, unchanged
                    options = [o for o in packet.options if o.type in naked]
                    verdict = LcpCode.CONFIGURE_REJECT if options else LcpCode.CONFIGURE_ACK
                    if not options:                        # only hints were Nak'd: agree
                        options = list(packet.options)
            elif verdict == LcpCode.CONFIGURE_ACK:
                self.failures = 0
            self._reply = ControlPacket.configure(verdict, packet.identifier, options)
            if verdict == LcpCode.CONFIGURE_ACK:
                self._peer_options = packet.options
                return self._run("RCR+", now)
            return self._run("RCR-", now)
        if code in (LcpCode.CONFIGURE_ACK, LcpCode.CONFIGURE_NAK, LcpCode.CONFIGURE_REJECT):
            return self._configure_reply(packet, now)
        if code == LcpCode.TERMINATE_REQUEST:
            self._peer_terminate = packet
            return self._run("RTR", now)
        if code == LcpCode.TERMINATE_ACK:
            if self._terminate_id is not None and packet.identifier != self._terminate_id \
                    and self.state in (State.CLOSING, State.STOPPING):
                return self._drop("Terminate-Ack for another Terminate-Request")
            return self._run("RTA", now)
        if code == LcpCode.CODE_REJECT:
            rejected = packet.data[0] if packet.data else 0
            catastrophic = 1 <= rejected <= 7            # what the automaton needs
            out = self._run("RXJ-" if catastrophic else "RXJ+", now)
            out.events.insert(0, Event("code-rejected", {"protocol": self.protocol,
                                                         "code": rejected}))
            return out
        if self.protocol == PROTO_LCP and code == LcpCode.PROTOCOL_REJECT:
            if len(packet.data) < 2:
                return self._drop("Protocol-Reject without Rejected-Protocol")
            proto = packet.rejected_protocol
            out = self._run("RXJ-" if proto == PROTO_LCP else "RXJ+", now)
            out.events.insert(0, Event("protocol-rejected", {"protocol": proto}))
            return out
        if self.protocol == PROTO_LCP and code in (LcpCode.ECHO_REQUEST, LcpCode.ECHO_REPLY,
                                                   LcpCode.DISCARD_REQUEST):
            if self.state != State.OPENED:
                return self._drop("Echo/Discard outside the Opened state")  # s5.8
            if len(packet.data) < 4:
                return self._drop("Echo/Discard without Magic-Number")
            self._echo = packet
            out = self._run("RXR", now)
            if code == LcpCode.ECHO_REPLY:
                out.events.append(Event("echo-reply", {"identifier": packet.identifier,
                                                       "magic": packet.magic}))
            return out
        self._unknown = packet
        return self._run("RUC", now)

    def echo_request(self, identifier: int, data: bytes = b"") -> Output:
        """An LCP Echo-Request (s5.8), e.g. a keepalive for link-down detection."""
        if self.protocol != PROTO_LCP or self.state != State.OPENED:
            return Output()
        pkt = ControlPacket(LcpCode.ECHO_REQUEST, identifier, u32(self.magic()) + data)
        return Output(packets=[(self.protocol, pkt.encode())])

    # -- internals --
    def _configure_reply(self, packet: ControlPacket, now: float) -> Output:
        request = self._request
        if request is None or packet.identifier != request.identifier:
            return self._drop(f"Configure reply with Identifier {packet.identifier} "
                              "does not match the outstanding Configure-Request")
        if packet.code == LcpCode.CONFIGURE_ACK:
            if packet.data != request.data:            # s5.2: must match exactly
                return self._drop("Configure-Ack options differ from the request")
            self.policy.acked(packet.options)
            return self._run("RCA", now)
        if packet.code == LcpCode.CONFIGURE_REJECT:
            if not set(packet.options) <= set(request.options):   # s5.4: a subset, unchanged
                return self._drop("Configure-Reject lists options that were not requested")
            self.policy.rejected(packet.options)
        else:
            if not packet.options:
                return self._drop("Configure-Nak without options")
            self.policy.naked(packet.options)
        return self._run("RCN", now)

    def _drop(self, reason: str) -> Output:
        return Output(events=[Event("dropped", {"protocol": self.protocol, "reason": reason})])

    def _run(self, event: str, now: float) -> Output:
        self._pending_event = event          # irc, scr and str depend on it
        out = Output()
        step = _transition(event, self.state)
        if step is None:            # "cannot happen": an out-of-order administrative call
            out.events.append(Event("ignored", {"protocol": self.protocol, "event": event,
                                                "state": self.state.name}))
            return out
        actions, target = step
        before = self.state
        for action in actions:
            getattr(self, f"_{action}")(out, now)
        self.state = target
        if target not in _TIMER_STATES:
            self.deadline = None
        if before != target:
            out.events.append(Event("state", {"protocol": self.protocol, "from": before.name,
                                              "to": target.name, "event": event}))
        return out

    def _send(self, out: Output, packet: ControlPacket) -> None:
        out.packets.append((self.protocol, packet.encode()))

    def _next_id(self) -> int:
        self._identifier = (self._identifier + 1) & 0xFF
        return self._identifier

    # actions (s4.4)
    def _tlu(self, out, now):
        out.events.append(Event("up", {"protocol": self.protocol}))

    def _tld(self, out, now):
        out.events.append(Event("down", {"protocol": self.protocol}))

    def _tls(self, out, now):
        out.events.append(Event("started", {"protocol": self.protocol}))

    def _tlf(self, out, now):
        out.events.append(Event("finished", {"protocol": self.protocol}))

    def _irc(self, out, now):
        # Max-Terminate when the next packet is a Terminate-Request, else Max-Configure
        closing = self._pending_event in ("Close", "RXJ-")
        self.counter = self.max_terminate if closing else self.max_configure

    def _zrc(self, out, now):
        self.counter = 0
        self.deadline = now + self.restart_s

    def _scr(self, out, now):
        retransmit = self._pending_event == "TO+" and self._request is not None
        if not retransmit:
            self._request = ControlPacket.configure(LcpCode.CONFIGURE_REQUEST, self._next_id(),
                                                    self.policy.request())
        self.counter -= 1
        self.deadline = now + self.restart_s
        self.transmissions["configure_request"] += 1
        self._send(out, self._request)

    def _sca(self, out, now):
        self.policy.peer_acked(self._peer_options)
        self._send(out, self._reply)

    def _scn(self, out, now):
        self._send(out, self._reply)

    def _str(self, out, now):
        if self._pending_event != "TO+" or self._terminate_id is None:
            self._terminate_id = self._next_id()
        self.counter -= 1
        self.deadline = now + self.restart_s
        self.transmissions["terminate_request"] += 1
        self._send(out, ControlPacket(LcpCode.TERMINATE_REQUEST, self._terminate_id,
                                      getattr(self, "_reason", b"")))

    def _sta(self, out, now):
        peer = getattr(self, "_peer_terminate", None)
        ident = peer.identifier if peer is not None and self._pending_event == "RTR" else \
            self._next_id()
        self._send(out, ControlPacket(LcpCode.TERMINATE_ACK, ident))

    def _scj(self, out, now):
        bad = self._unknown.encode()
        self._send(out, ControlPacket(LcpCode.CODE_REJECT, self._next_id(), bad[:MAX_MRU - 4]))

    def _ser(self, out, now):
        echo = self._echo
        if echo.code == LcpCode.ECHO_REQUEST:
            self._send(out, ControlPacket(LcpCode.ECHO_REPLY, echo.identifier,
                                          u32(self.magic()) + echo.data[4:]))

    _pending_event = ""


# --- option policies --------------------------------------------------------------------


def _random_magic(rng: Rng) -> int:
    while True:
        value = int.from_bytes(rng(4), "big")
        if value:
            return value


class LcpPolicy(OptionPolicy):
    """LCP options (RFC 1661 s6) for PPPoE (RFC 2516 s7).

    Requests MRU `mru` (when not the default 1500), Magic-Number, and, when `authenticate`,
    Authentication-Protocol CHAP with MD5 (the gateway authenticates the mobile). Agrees to
    authenticate itself with CHAP-MD5 only (`Nak` with CHAP-MD5 otherwise). Rejects ACFC
    (RFC 2516 s7: MUST NOT), PFC and unknown options; Naks an MRU above 1492 and a zero or
    looped-back Magic-Number (s6.4)."""

    def __init__(self, rng: Rng = os.urandom, mru: int = MAX_MRU, authenticate: bool = False):
        self.rng = rng
        self.mru = mru
        self.authenticate = authenticate
        self.magic = _random_magic(rng)
        self._ask = {"mru": mru != 1500, "magic": True, "auth": authenticate}
        self.local: dict = {}          # what the peer acknowledged of ours
        self.remote: dict = {}         # what we acknowledged of the peer's
        self.loopback = 0

    @property
    def auth_protocol(self) -> bytes:
        return u16(PROTO_CHAP) + bytes((CHAP_MD5,))

    def request(self) -> list[Option]:
        out = []
        if self._ask["mru"]:
            out.append(Option(LcpOption.MRU, u16(self.mru)))
        if self._ask["auth"]:
            out.append(Option(LcpOption.AUTH_PROTOCOL, self.auth_protocol))
        if self._ask["magic"]:
            out.append(Option(LcpOption.MAGIC_NUMBER, u32(self.magic)))
        return out

    def judge(self, options):
        rejects, naks = [], []
        for o in options:
            if o.type == LcpOption.MRU:
                if len(o.value) != 2:
                    rejects.append(o)
                elif not 64 <= struct.unpack("!H", o.value)[0] <= MAX_MRU:
                    naks.append(Option(LcpOption.MRU, u16(MAX_MRU)))
            elif o.type == LcpOption.AUTH_PROTOCOL:
                if o.value != self.auth_protocol:
                    naks.append(Option(LcpOption.AUTH_PROTOCOL, self.auth_protocol))
            elif o.type == LcpOption.MAGIC_NUMBER:
                if len(o.value) != 4:
                    rejects.append(o)
                else:
                    value = struct.unpack("!I", o.value)[0]
                    if value == 0 or value == self.magic:       # s6.4 loopback
                        self.loopback += value == self.magic
                        naks.append(Option(LcpOption.MAGIC_NUMBER,
                                           u32(_random_magic(self.rng))))
            else:
                rejects.append(o)
        return _Verdict(rejects, naks).result(options)

    def naked(self, options):
        for o in options:
            if o.type == LcpOption.MRU and len(o.value) == 2:
                self.mru = min(struct.unpack("!H", o.value)[0], MAX_MRU)
                self._ask["mru"] = self.mru != 1500
            elif o.type == LcpOption.MAGIC_NUMBER:
                self.magic = _random_magic(self.rng)       # s6.4: choose another
            # a Nak of our Authentication-Protocol: we keep asking for CHAP-MD5

    def rejected(self, options):
        for o in options:
            key = {LcpOption.MRU: "mru", LcpOption.MAGIC_NUMBER: "magic",
                   LcpOption.AUTH_PROTOCOL: "auth"}.get(o.type)
            if key:
                self._ask[key] = False
        if not self._ask["magic"]:
            self.magic = 0

    def acked(self, options):
        self.local = {"mru": self.mru if self._ask["mru"] else 1500,
                      "magic": self.magic if self._ask["magic"] else 0,
                      "auth": "chap-md5" if self._ask["auth"] else None}

    def peer_acked(self, options):
        self.remote = {"mru": 1500, "magic": 0, "auth": None}
        for o in options:
            if o.type == LcpOption.MRU:
                self.remote["mru"] = struct.unpack("!H", o.value)[0]
            elif o.type == LcpOption.MAGIC_NUMBER:
                self.remote["magic"] = struct.unpack("!I", o.value)[0]
            elif o.type == LcpOption.AUTH_PROTOCOL:
                self.remote["auth"] = "chap-md5"


def _addr(option: Option) -> IPv4Address | None:
    return IPv4Address(option.value) if len(option.value) == 4 else None


class IpcpGatewayPolicy(OptionPolicy):
    """The gateway's IPCP (RFC 1332): requests its own IP-Address; Naks the peer's
    IP-Address until it is `assigned` (s3.3, the address comes from the AAA server or the
    gateway's pool) and the primary/secondary DNS until they are `dns` (RFC 1877); rejects
    IP-Compression-Protocol, the deprecated IP-Addresses and anything unknown."""

    def __init__(self, local: IPv4Address | str, dns: list[str] | None = None):
        self.local_address = IPv4Address(local)
        self.assigned: IPv4Address | None = None
        self.dns = [IPv4Address(d) for d in (dns or [])][:2]
        self.peer_address: IPv4Address | None = None

    def request(self):
        return [Option(IpcpOption.IP_ADDRESS, self.local_address.packed)]

    def judge(self, options):
        rejects, naks = [], []
        dns_slot = {IpcpOption.PRIMARY_DNS: 0, IpcpOption.SECONDARY_DNS: 1}
        seen_address = False
        for o in options:
            if o.type == IpcpOption.IP_ADDRESS:
                seen_address = True
                if _addr(o) is None:
                    rejects.append(o)
                elif self.assigned is None or _addr(o) != self.assigned:
                    if self.assigned is not None:
                        naks.append(Option(IpcpOption.IP_ADDRESS, self.assigned.packed))
                    else:
                        rejects.append(o)
            elif o.type in dns_slot and dns_slot[o.type] < len(self.dns):
                want = self.dns[dns_slot[o.type]]
                if _addr(o) is None:
                    rejects.append(o)
                elif _addr(o) != want:
                    naks.append(Option(o.type, want.packed))
            else:
                rejects.append(o)
        if not seen_address and not rejects and self.assigned is not None:
            naks.append(Option(IpcpOption.IP_ADDRESS, self.assigned.packed))  # s5.3 hint
        return _Verdict(rejects, naks).result(options)

    def peer_acked(self, options):
        for o in options:
            if o.type == IpcpOption.IP_ADDRESS:
                self.peer_address = _addr(o)


class IpcpClientPolicy(OptionPolicy):
    """The mobile's IPCP: asks for IP-Address 0.0.0.0 (and, with `want_dns`, the primary
    DNS 0.0.0.0), takes the values of the gateway's Nak (RFC 1332 s3.3, RFC 1877 s1),
    stops asking for what the gateway rejects; acknowledges the gateway's own IP-Address."""

    def __init__(self, want_dns: bool = True):
        self.address = IPv4Address(0)
        self.dns: IPv4Address | None = IPv4Address(0) if want_dns else None
        self.peer_address: IPv4Address | None = None
        self.address_rejected = False

    def request(self):
        out = [Option(IpcpOption.IP_ADDRESS, self.address.packed)]
        if self.dns is not None:
            out.append(Option(IpcpOption.PRIMARY_DNS, self.dns.packed))
        return out

    def judge(self, options):
        rejects = [o for o in options if o.type != IpcpOption.IP_ADDRESS or _addr(o) is None
                   or _addr(o) == IPv4Address(0)]
        return _Verdict(rejects, []).result(options)

    def naked(self, options):
        for o in options:
            if _addr(o) is None:
                continue
            if o.type == IpcpOption.IP_ADDRESS:
                self.address = _addr(o)
            elif o.type == IpcpOption.PRIMARY_DNS and self.dns is not None:
                self.dns = _addr(o)

    def rejected(self, options):
        for o in options:
            if o.type == IpcpOption.PRIMARY_DNS:
                self.dns = None
            elif o.type == IpcpOption.IP_ADDRESS:
                self.address_rejected = True

    def peer_acked(self, options):
        for o in options:
            if o.type == IpcpOption.IP_ADDRESS:
                self.peer_address = _addr(o)


# --- CHAP (RFC 1994 s4, MD5) ----------------------------------------------------------------


class ChapAuthenticator:
    """Sends a Challenge, retransmits it every `restart_s` (same Identifier and value) up to
    `max_challenges` times, and hands the matching Response to the caller
    (``Event("chap-response")``); `verdict` sends Success or Failure. A Response repeated
    after the verdict gets the same answer again (s4.2: the Success may have been lost)."""

    def __init__(self, rng: Rng = os.urandom, name: bytes = b"pdsn", challenge_len: int = 16,
                 restart_s: float = RESTART_S, max_challenges: int = MAX_CONFIGURE):
        self.rng, self.name, self.challenge_len = rng, name, challenge_len
        self.restart_s, self.max_challenges = restart_s, max_challenges
        self.identifier = rng(1)[0]
        self.challenge = b""
        self.sent = 0
        self.deadline: float | None = None
        self.pending = False               # a Response is with the caller
        self.answer: ChapPacket | None = None
        self.peer_name: bytes = b""

    def start(self, now: float) -> Output:
        self.identifier = (self.identifier + 1) & 0xFF
        self.challenge = self.rng(self.challenge_len)
        self.sent, self.answer, self.pending = 0, None, False
        return self._send_challenge(now)

    def _send_challenge(self, now: float) -> Output:
        self.sent += 1
        self.deadline = now + self.restart_s
        pkt = ChapPacket(ChapCode.CHALLENGE, self.identifier, self.challenge, self.name)
        return Output(packets=[(PROTO_CHAP, pkt.encode())])

    def poll(self, now: float) -> Output:
        if self.deadline is None or now < self.deadline or self.pending:
            return Output()
        if self.sent >= self.max_challenges:
            self.deadline = None
            return Output(events=[Event("chap-timeout", {"challenges": self.sent})])
        return self._send_challenge(now)

    def receive(self, information: bytes, now: float) -> Output:
        try:
            pkt = ChapPacket.decode(information)
        except ProtocolError as exc:
            return Output(events=[Event("dropped", {"protocol": PROTO_CHAP,
                                                    "reason": exc.reason})])
        if pkt.code != ChapCode.RESPONSE:
            return Output(events=[Event("dropped", {"protocol": PROTO_CHAP,
                                                    "reason": f"CHAP code {pkt.code} at the "
                                                              "authenticator"})])
        if pkt.identifier != self.identifier or not self.challenge:
            return Output(events=[Event("dropped", {"protocol": PROTO_CHAP, "reason":
                                                    "Response to another Challenge"})])
        if self.answer is not None:
            return Output(packets=[(PROTO_CHAP, self.answer.encode())])
        if self.pending:
            return Output()
        self.pending, self.deadline = True, None
        self.peer_name = pkt.name
        return Output(events=[Event("chap-response", {
            "identifier": pkt.identifier, "name": pkt.name, "response": pkt.value,
            "challenge": self.challenge})])

    def verdict(self, ok: bool, message: bytes = b"") -> Output:
        if not self.pending:
            return Output()
        self.pending = False
        self.answer = ChapPacket(ChapCode.SUCCESS if ok else ChapCode.FAILURE, self.identifier,
                                 b"", message)
        event = Event("chap-success" if ok else "chap-failure",
                      {"name": self.peer_name, "message": message})
        return Output(packets=[(PROTO_CHAP, self.answer.encode())], events=[event])


class ChapPeer:
    """Answers each Challenge with MD5(Identifier || secret || Challenge) and `name`;
    reports Success / Failure for the Identifier it last answered."""

    def __init__(self, name: bytes, secret: bytes):
        self.name, self.secret = name, secret
        self.identifier: int | None = None
        self.done = False
        self.challenges = 0

    def receive(self, information: bytes, now: float) -> Output:
        try:
            pkt = ChapPacket.decode(information)
        except ProtocolError as exc:
            return Output(events=[Event("dropped", {"protocol": PROTO_CHAP,
                                                    "reason": exc.reason})])
        if pkt.code == ChapCode.CHALLENGE:
            if pkt.identifier != self.identifier:        # a new Challenge (s4.1: rechallenge)
                self.done = False
            self.identifier = pkt.identifier
            self.challenges += 1
            value = chap_md5_response(pkt.identifier, self.secret, pkt.value)
            resp = ChapPacket(ChapCode.RESPONSE, pkt.identifier, value, self.name)
            return Output(packets=[(PROTO_CHAP, resp.encode())],
                          events=[Event("chap-challenge", {"identifier": pkt.identifier,
                                                           "name": pkt.name})])
        if pkt.code in (ChapCode.SUCCESS, ChapCode.FAILURE):
            if pkt.identifier != self.identifier or self.done:
                return Output(events=[Event("dropped", {"protocol": PROTO_CHAP,
                                                        "reason": "unexpected CHAP result"})])
            self.done = True
            kind = "chap-success" if pkt.code == ChapCode.SUCCESS else "chap-failure"
            return Output(events=[Event(kind, {"message": pkt.message})])
        return Output(events=[Event("dropped", {"protocol": PROTO_CHAP,
                                                "reason": "CHAP Response at the peer"})])


# --- the link phases (RFC 1661 s3.2) ------------------------------------------------------


class Phase(Enum):
    DEAD = "dead"
    ESTABLISH = "establish"
    AUTHENTICATE = "authenticate"
    NETWORK = "network"
    TERMINATE = "terminate"


class PppLink:
    """One PPP session: LCP, then CHAP (when negotiated), then IPCP.

    Gateway (`authenticator` given): requests CHAP-MD5 in LCP, challenges once LCP is up,
    reports ``chap-response`` and waits for `chap_verdict(ok, address)`; IPCP then assigns
    `address`. Client (`peer` given): answers the Challenge; opens IPCP after Success (or
    straight after LCP when the gateway asked for no authentication). Events (besides the
    automata's): ``lcp-up``, ``auth-success``, ``auth-failure``, ``ipcp-up``,
    ``lcp-down``, ``finished`` (send PADT), ``ipv4`` (a datagram in the Network phase),
    ``dropped``."""

    def __init__(self, lcp: LcpPolicy, ipcp: OptionPolicy, rng: Rng = os.urandom,
                 authenticator: ChapAuthenticator | None = None, peer: ChapPeer | None = None,
                 **timers):
        self.lcp_policy, self.ipcp_policy = lcp, ipcp
        self.lcp = Automaton(PROTO_LCP, lcp, rng, magic=lambda: self.lcp_policy.magic, **timers)
        self.ipcp = Automaton(PROTO_IPCP, ipcp, rng, **timers)
        self.authenticator, self.peer = authenticator, peer
        self.phase = Phase.DEAD
        self.failure: str | None = None
        self._echo_id = 0

    @property
    def deadline(self) -> float | None:
        times = [t for t in (self.lcp.deadline, self.ipcp.deadline,
                             self.authenticator.deadline if self.authenticator else None)
                 if t is not None]
        return min(times) if times else None

    def lower_up(self, now: float) -> Output:
        """The PPPoE session exists (PADS): Up and Open to LCP."""
        self.phase = Phase.ESTABLISH
        out = self.lcp.up(now)
        return self._follow(out.extend(self.lcp.open(now)), now)

    def close(self, now: float, reason: bytes = b"") -> Output:
        self.phase = Phase.TERMINATE
        return self._follow(self.lcp.close(now, reason), now)

    def lower_down(self, now: float) -> Output:
        out = self.ipcp.down(now)
        out.extend(self.lcp.down(now))
        self.phase = Phase.DEAD
        return self._follow(out, now)

    def poll(self, now: float) -> Output:
        out = self.lcp.poll(now).extend(self.ipcp.poll(now))
        if self.authenticator and self.phase == Phase.AUTHENTICATE:
            out.extend(self.authenticator.poll(now))
        return self._follow(out, now)

    def echo(self, now: float) -> Output:
        self._echo_id = (self._echo_id + 1) & 0xFF
        return self.lcp.echo_request(self._echo_id)

    def chap_verdict(self, ok: bool, now: float, address: IPv4Address | str | None = None,
                     message: bytes = b"") -> Output:
        """The gateway's answer to ``chap-response`` (after asking the AAA server)."""
        if self.authenticator is None:
            return Output()
        if ok and address is not None and isinstance(self.ipcp_policy, IpcpGatewayPolicy):
            self.ipcp_policy.assigned = IPv4Address(address)
        return self._follow(self.authenticator.verdict(ok, message), now)

    def receive(self, protocol: int, information: bytes, now: float) -> Output:
        if protocol == PROTO_LCP:
            return self._follow(self.lcp.receive(information, now), now)
        if self.lcp.state != State.OPENED:          # s3.4: only LCP before Opened
            return Output(events=[Event("dropped", {"protocol": protocol,
                                                    "reason": "LCP is not opened"})])
        if protocol == PROTO_CHAP and self.phase in (Phase.AUTHENTICATE, Phase.NETWORK):
            side = self.authenticator or self.peer
            if side is None:
                return self._protocol_reject(protocol, information)
            return self._follow(side.receive(information, now), now)
        if protocol == PROTO_IPCP:
            if self.phase != Phase.NETWORK:         # s3.5: NCPs wait for authentication
                return Output(events=[Event("dropped", {"protocol": protocol,
                                                        "reason": "not in the Network phase"})])
            return self._follow(self.ipcp.receive(information, now), now)
        if protocol == PROTO_IPV4 and self.ipcp.state == State.OPENED:
            return Output(events=[Event("ipv4", {"datagram": information})])
        if protocol == PROTO_CHAP:
            return Output(events=[Event("dropped", {"protocol": protocol,
                                                    "reason": "CHAP outside authentication"})])
        return self._protocol_reject(protocol, information)

    def _protocol_reject(self, protocol: int, information: bytes) -> Output:
        """RFC 1661 s5.7: an unsupported protocol in the Opened state."""
        pkt = ControlPacket(LcpCode.PROTOCOL_REJECT, self.lcp._next_id(),
                            u16(protocol) + information[:MAX_MRU - 6])
        return Output(packets=[(PROTO_LCP, pkt.encode())],
                      events=[Event("dropped", {"protocol": protocol,
                                                "reason": "unsupported protocol rejected"})])

    def _follow(self, out: Output, now: float) -> Output:
        """React to the automata's layer events: the phase transitions of s3.2."""
        extra = Output()
        for ev in list(out.events):
            proto = ev.detail.get("protocol")
            if ev.kind == "up" and proto == PROTO_LCP:
                extra.events.append(Event("lcp-up", {"local": dict(self.lcp_policy.local),
                                                     "remote": dict(self.lcp_policy.remote)}))
                extra.extend(self._authenticate(now))
            elif ev.kind == "down" and proto == PROTO_LCP:
                extra.events.append(Event("lcp-down"))
                extra.extend(self.ipcp.down(now))
                if self.authenticator:
                    self.authenticator.deadline = None
                self.phase = Phase.TERMINATE
            elif ev.kind == "finished" and proto == PROTO_LCP:
                extra.events.append(Event("finished", {"reason": self.failure}))
                self.phase = Phase.DEAD
            elif ev.kind == "up" and proto == PROTO_IPCP:
                extra.events.append(Event("ipcp-up", self._ipcp_result()))
            elif ev.kind == "down" and proto == PROTO_IPCP:
                extra.events.append(Event("ipcp-down"))
            elif ev.kind == "chap-success":
                extra.events.append(Event("auth-success", ev.detail))
                extra.extend(self._network(now))
            elif ev.kind in ("chap-failure", "chap-timeout"):
                self.failure = "authentication failed" if ev.kind == "chap-failure" else \
                    "no CHAP Response"
                extra.events.append(Event("auth-failure", {**ev.detail, "reason": self.failure}))
                extra.extend(self.close(now, self.failure.encode()))
            elif ev.kind == "protocol-rejected" and ev.detail.get("protocol") == PROTO_IPCP:
                self.failure = "peer rejected IPCP"
                extra.extend(self.close(now, self.failure.encode()))
        if isinstance(self.ipcp_policy, IpcpClientPolicy) and self.ipcp_policy.address_rejected \
                and self.phase == Phase.NETWORK:
            self.failure = "gateway rejected the IP-Address option"
            self.ipcp_policy.address_rejected = False
            extra.extend(self.close(now, self.failure.encode()))
        return out.extend(extra)

    def _authenticate(self, now: float) -> Output:
        self.phase = Phase.AUTHENTICATE
        if self.authenticator is not None:
            if self.lcp_policy.local.get("auth") != "chap-md5":
                self.failure = "peer refused to authenticate"
                return self.close(now, self.failure.encode())
            return self.authenticator.start(now)
        if self.peer is not None and self.lcp_policy.remote.get("auth") == "chap-md5":
            return Output()                          # wait for the Challenge
        return self._network(now)

    def _network(self, now: float) -> Output:
        self.phase = Phase.NETWORK
        return self.ipcp.up(now).extend(self.ipcp.open(now))

    def _ipcp_result(self) -> dict:
        p = self.ipcp_policy
        if isinstance(p, IpcpClientPolicy):
            return {"address": str(p.address), "peer": str(p.peer_address),
                    "dns": str(p.dns) if p.dns else None}
        if isinstance(p, IpcpGatewayPolicy):
            return {"address": str(p.peer_address), "local": str(p.local_address)}
        return {}


# --- PPPoE discovery (RFC 2516 s5) ----------------------------------------------------------


def _tag_values(packet: PppoeDiscovery, *kinds: int) -> list[Tag]:
    return [t for t in packet.tags if t.type in kinds]


class DiscoveryClient:
    """The host's discovery: PADI (broadcast) until a PADO for our Host-Uniq, then PADR to
    that AC until its PADS. Retransmissions double the timeout (RFC 2516 s5.1, s5.3).
    `ac_name` (optional) picks an AC by its AC-Name. Events: ``pado`` (AC MAC, AC-Name),
    ``session`` (SESSION_ID, AC MAC), ``failed`` (an error TAG or no answer),
    ``terminated`` (a PADT for our session)."""

    def __init__(self, mac: bytes, service_name: bytes = b"", rng: Rng = os.urandom,
                 ac_name: bytes | None = None, timeout_s: float = DISCOVERY_TIMEOUT_S,
                 attempts: int = DISCOVERY_ATTEMPTS):
        self.mac, self.service_name, self.ac_name = bytes(mac), service_name, ac_name
        self.host_uniq = rng(8)
        self.timeout_s, self.attempts = timeout_s, attempts
        self.state = "idle"
        self.ac_mac: bytes | None = None
        self.session_id: int | None = None
        self._request: bytes = b""
        self._tries = 0
        self._wait = timeout_s
        self.deadline: float | None = None
        self.sent = {"PADI": 0, "PADR": 0}

    def start(self, now: float) -> Output:
        self.state = "padi-sent"
        pkt = PppoeDiscovery(PADI, 0, (Tag(TagType.SERVICE_NAME, self.service_name),
                                       Tag(TagType.HOST_UNIQ, self.host_uniq)))
        self._request = pkt.frame(BROADCAST, self.mac)
        self._tries, self._wait = 0, self.timeout_s
        return self._transmit(now)

    def _transmit(self, now: float) -> Output:
        self._tries += 1
        self.deadline = now + self._wait
        self._wait *= 2
        self.sent["PADI" if self.state == "padi-sent" else "PADR"] += 1
        return Output(frames=[self._request])

    def poll(self, now: float) -> Output:
        if self.deadline is None or now < self.deadline:
            return Output()
        if self._tries >= self.attempts:
            self.deadline, self.state = None, "failed"
            return Output(events=[Event("failed", {"reason": f"no answer to {self._tries} "
                                                   + ("PADI" if self._request[0] == 0xFF
                                                      else "PADR")})])
        return self._transmit(now)

    def terminate(self) -> Output:
        """PADT to the AC for our session (RFC 2516 s5.5)."""
        if self.session_id is None or self.ac_mac is None:
            return Output()
        frame = PppoeDiscovery(PADT, self.session_id).frame(self.ac_mac, self.mac)
        self.state, self.session_id = "terminated", None
        return Output(frames=[frame])

    def receive(self, frame: bytes, now: float) -> Output:
        try:
            f = decode_frame(frame)
        except ProtocolError as exc:
            return Output(events=[Event("dropped", {"reason": exc.reason})])
        pkt = f.packet
        if not isinstance(pkt, PppoeDiscovery) or f.dst != self.mac:
            return Output()
        if pkt.code == PADT:
            if pkt.session_id == self.session_id and f.src == self.ac_mac:
                self.state, self.session_id = "terminated", None
                return Output(events=[Event("terminated", {"ac": f.src})])
            return Output()
        if pkt.tag(TagType.HOST_UNIQ) != self.host_uniq:
            return Output(events=[Event("dropped", {"reason": "Host-Uniq is not ours"})])
        if pkt.code == PADO and self.state == "padi-sent":
            name = pkt.tag(TagType.AC_NAME)
            if self.ac_name is not None and name != self.ac_name:
                return Output(events=[Event("dropped", {"reason": f"PADO from AC {name!r}"})])
            if self.service_name not in pkt.all(TagType.SERVICE_NAME) and self.service_name:
                return Output(events=[Event("dropped", {"reason": "service not offered"})])
            self.ac_mac, self.state = f.src, "padr-sent"
            echo = _tag_values(pkt, TagType.AC_COOKIE, TagType.RELAY_SESSION_ID)
            padr = PppoeDiscovery(PADR, 0, (Tag(TagType.SERVICE_NAME, self.service_name),
                                            Tag(TagType.HOST_UNIQ, self.host_uniq), *echo))
            self._request = padr.frame(f.src, self.mac)
            self._tries, self._wait = 0, self.timeout_s
            out = self._transmit(now)
            out.events.append(Event("pado", {"ac": f.src, "ac_name": name}))
            return out
        if pkt.code == PADS and self.state == "padr-sent" and f.src == self.ac_mac:
            self.deadline = None
            if pkt.is_error() or pkt.session_id == 0:
                self.state = "failed"
                errors = [t.value for t in pkt.tags if t.type >= TagType.SERVICE_NAME_ERROR]
                return Output(events=[Event("failed", {"reason": "PADS error TAG",
                                                       "errors": errors})])
            self.session_id, self.state = pkt.session_id, "session"
            return Output(events=[Event("session", {"session_id": pkt.session_id,
                                                    "ac": f.src})])
        return Output(events=[Event("dropped", {"reason": f"{pkt.name} in state {self.state}"})])


class AccessConcentrator:
    """The gateway's discovery (RFC 2516 s5): answers a PADI for a service it offers (or
    for any service, an empty Service-Name) with a PADO carrying its AC-Name and an
    AC-Cookie; a PADR with a valid cookie gets a fresh SESSION_ID in a PADS (the same one
    again for a retransmitted PADR). Events: ``session`` (host MAC, SESSION_ID, host_uniq),
    ``terminated`` (a PADT from the host), ``dropped``."""

    def __init__(self, mac: bytes, ac_name: bytes, services: tuple[bytes, ...] = (b"",),
                 rng: Rng = os.urandom):
        self.mac, self.ac_name, self.services, self.rng = bytes(mac), ac_name, services, rng
        self._key = rng(32)
        self.sessions: dict[int, tuple[bytes, bytes]] = {}     # id -> (host MAC, Host-Uniq)

    def cookie(self, host: bytes) -> bytes:
        return hmac.new(self._key, bytes(host), hashlib.sha256).digest()[:16]

    def _offers(self, service: bytes) -> bool:
        return service == b"" or service in self.services

    def receive(self, frame: bytes, now: float) -> Output:
        try:
            f = decode_frame(frame)
        except ProtocolError as exc:
            return Output(events=[Event("dropped", {"reason": exc.reason})])
        pkt = f.packet
        if not isinstance(pkt, PppoeDiscovery) or f.src == self.mac:
            return Output()
        if f.dst not in (self.mac, BROADCAST):
            return Output()
        uniq = _tag_values(pkt, TagType.HOST_UNIQ, TagType.RELAY_SESSION_ID)
        if pkt.code == PADI:
            service = pkt.tag(TagType.SERVICE_NAME)
            if not self._offers(service):
                return Output(events=[Event("dropped", {"reason": f"service {service!r} "
                                                                  "not offered"})])
            names = [Tag(TagType.SERVICE_NAME, s) for s in dict.fromkeys((service,
                                                                         *self.services))]
            pado = PppoeDiscovery(PADO, 0, (Tag(TagType.AC_NAME, self.ac_name), *names,
                                            Tag(TagType.AC_COOKIE, self.cookie(f.src)), *uniq))
            return Output(frames=[pado.frame(f.src, self.mac)])
        if f.dst != self.mac:
            return Output(events=[Event("dropped", {"reason": f"broadcast {pkt.name}"})])
        if pkt.code == PADR:
            if not hmac.compare_digest(pkt.tag(TagType.AC_COOKIE) or b"",
                                       self.cookie(f.src)):
                return Output(events=[Event("dropped", {"reason": "PADR with a bad AC-Cookie"})])
            service = pkt.tag(TagType.SERVICE_NAME)
            host_uniq = pkt.tag(TagType.HOST_UNIQ) or b""
            if not self._offers(service):
                pads = PppoeDiscovery(PADS, 0, (Tag(TagType.SERVICE_NAME, service),
                                                Tag(TagType.SERVICE_NAME_ERROR), *uniq))
                return Output(frames=[pads.frame(f.src, self.mac)])
            sid = next((s for s, v in self.sessions.items() if v == (f.src, host_uniq)), None)
            new = sid is None
            if new:
                sid = self._allocate()
                self.sessions[sid] = (f.src, host_uniq)
            pads = PppoeDiscovery(PADS, sid, (Tag(TagType.SERVICE_NAME, service), *uniq))
            out = Output(frames=[pads.frame(f.src, self.mac)])
            if new:
                out.events.append(Event("session", {"host": f.src, "session_id": sid,
                                                    "host_uniq": host_uniq}))
            return out
        if pkt.code == PADT:
            if self.sessions.get(pkt.session_id, (None,))[0] != f.src:
                return Output(events=[Event("dropped", {"reason": "PADT for an unknown "
                                                                  "session"})])
            del self.sessions[pkt.session_id]
            return Output(events=[Event("terminated", {"host": f.src,
                                                       "session_id": pkt.session_id})])
        return Output(events=[Event("dropped", {"reason": f"{pkt.name} at the AC"})])

    def _allocate(self) -> int:
        while True:
            sid = int.from_bytes(self.rng(2), "big")
            if sid not in (0, 0xFFFF) and sid not in self.sessions:   # 0xFFFF reserved, s4
                return sid

    def terminate(self, session_id: int) -> Output:
        host = self.sessions.pop(session_id, None)
        if host is None:
            return Output()
        return Output(frames=[PppoeDiscovery(PADT, session_id).frame(host[0], self.mac)])


def session_frame(dst: bytes, src: bytes, session_id: int, protocol: int,
                  information: bytes) -> bytes:
    return PppoeSession(session_id, protocol, information).frame(dst, src)


__all__ += ["session_frame", "CONFIGURE_CODES", "ipv4"]
