"""The next access router's buffering module and the buffering protocol's two ends (RFC 6252
s6.3 step 4 "The buffering module at the next access router buffers the packets once the
tunnel interface is deleted", s7.6.1, Appendix C.4 "a separate buffering protocol").

Who does what:
- `BufferingModule` (nAR) holds, per nCoA, the packets that arrive for a mobile node
  between the deletion of its proactive handover tunnel and its attachment, and re-sends
  them onto the CTN link when told (`flush`) or when the buffering period runs out.
- `BufferingServer` (nAR) answers the MN's BUFFER_REQUEST and ATTACHED messages
  (`orchestrator.protocols.buffering`): it authenticates them with the station's MN-AR key
  and calls the access router's ``on_buffer`` / ``on_attached``, which arm / flush the module
  (and delete the tunnel, stop proxy ARP: the access router's business, not this module's).
- `request` (MN) sends one message and waits for its authenticated ACK.

How packets get into the buffer, without a race against charon: `arm` puts a route for the
nCoA (/32) into the MAIN table pointing into the module's TUN device. While the tunnel is up,
charon's own /32 route in table 220 (ip rule pref 220, before main) wins and packets go into
the tunnel; the moment charon deletes the CHILD_SA and its route, the next packet falls through
to main and into the TUN device, where a reader thread queues it by destination address.
`flush` removes the /32 route first (new packets take the connected route to the MN on the
link), then re-sends the held packets in arrival order through a raw socket bound to the CTN
interface (IP_HDRINCL: the packets go out as they were received, TTL included). A packet that
reaches the TUN device for an nCoA that is not (or no longer) armed, e.g. in the instant
between the route's removal and the last read, is re-sent at once, never dropped.

The buffering period is a cap, not a delay: the timer starts with the first packet held (if
nothing arrives, nothing happens until `flush`/`disarm`) and, when it expires, the buffer is
flushed with reason "period expired", so a lost ATTACHED cannot hold packets forever. At most
`max_packets` are held per nCoA; more are dropped and counted (``dropped``). Re-sent packets
wait in the kernel for the MN's link-layer address like any others (neighbour queue
``unres_qlen_bytes``): the MN's ATTACHED, sent from the nCoA over the new link, normally
leaves its address in the nAR's neighbour cache first.

Events: ``buffering_start`` (pre-switching) at `arm`, ``buffering_flushed``
(post-switching) at `flush`, ``buffering_rejected`` (pre-switching) for a refused message;
every one with ``sta=`` the station's MAC address. Standard library only (agents run from
a zipapp).
"""
from __future__ import annotations

import fcntl
import os
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Callable

from ..events import EventLog
from ..protocols import buffering as proto
from ..protocols.errors import ProtocolError
from ..protocols.mgmt import mac_bytes, mac_str
from .health import Loop
from .tunnel import run
from .udpserver import UdpServer

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
MAX_PACKETS = 10_000
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # Linux <linux/in.h>; Python >= 3.12 has it
_PKTINFO = struct.Struct("i4s4s")      # struct in_pktinfo: ifindex, spec_dst, addr
_PKTINFO_SPACE = socket.CMSG_SPACE(_PKTINFO.size)


def _sysctl(path: str, value: str) -> None:
    """Write a /proc/sys value if it exists (net/ipv6 is absent without IPv6)."""
    try:
        with open(f"/proc/sys/{path}", "w") as fh:
            fh.write(value)
    except FileNotFoundError:
        pass


@dataclass(eq=False)
class _Buffer:
    """What is held for one nCoA."""
    sta: str
    period_ms: int
    armed_ns: int
    packets: list[bytes] = field(default_factory=list)
    first_ns: int | None = None  # the first packet held: the period runs from here
    dropped: int = 0
    timer: threading.Timer | None = None
    mn: str | None = None        # the MN's node name, for events (subject); None: unknown


class BufferingModule:
    """The nAR's buffering module (see the module docstring). Runs inside the nAR's
    network namespace; needs CAP_NET_ADMIN and CAP_NET_RAW."""

    def __init__(self, ctn_iface: str, log: EventLog | None, tun_name: str = "mpabuf0",
                 max_packets: int = MAX_PACKETS):
        self.ctn_iface, self.log, self.tun_name = ctn_iface, log, tun_name
        self.max_packets = max_packets
        self.strays = 0                         # packets re-sent at once (no armed nCoA)
        self._buffers: dict[str, _Buffer] = {}
        self._lock = threading.Lock()           # _buffers and the TUN fd's reads
        self._ops = threading.RLock()           # one arm/flush at a time (routes!)
        self._stop = threading.Event()
        self._fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        try:
            fcntl.ioctl(self._fd, TUNSETIFF,
                        struct.pack("16sH22x", tun_name.encode(), IFF_TUN | IFF_NO_PI))
            _sysctl(f"net/ipv6/conf/{tun_name}/disable_ipv6", "1")
            _sysctl(f"net/ipv4/conf/{tun_name}/rp_filter", "0")
            run(["ip", "link", "set", "dev", tun_name, "up"])
            self._raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
            self._raw.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
            self._raw.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE,
                                 ctn_iface.encode())
        except BaseException:
            os.close(self._fd)
            raise
        self._loop = Loop(f"buffering-tun:{tun_name}", log)
        self._reader = self._loop.start(self._read_loop, f"buffering-{tun_name}")

    # -- the reader ----------------------------------------------------------------------
    def _read_loop(self) -> None:
        while not self._stop.is_set():
            if not select.select([self._fd], [], [], 0.1)[0]:
                continue
            self._loop.guard(self._read_ready)

    def _read_ready(self) -> None:
        with self._lock:
            strays = self._drain()
        self._send(strays)

    def _drain(self) -> list[bytes]:
        """Queue every packet waiting in the TUN device (lock held); the strays back."""
        strays: list[bytes] = []
        while True:
            try:
                packet = os.read(self._fd, 65535)
            except (BlockingIOError, InterruptedError):
                return strays
            if len(packet) < 20 or packet[0] >> 4 != 4:
                continue                        # not IPv4
            buf = self._buffers.get(socket.inet_ntoa(packet[16:20]))
            if buf is None:
                self.strays += 1
                strays.append(packet)
            elif len(buf.packets) >= self.max_packets:
                buf.dropped += 1
            else:
                buf.packets.append(packet)
                if buf.first_ns is None:
                    buf.first_ns = time.perf_counter_ns()
                    buf.timer = threading.Timer(buf.period_ms / 1000, self._expire,
                                                (socket.inet_ntoa(packet[16:20]), buf))
                    buf.timer.daemon = True
                    buf.timer.start()

    def _send(self, packets: list[bytes]) -> int:
        sent = 0
        for packet in packets:
            try:
                self._raw.sendto(packet, (socket.inet_ntoa(packet[16:20]), 0))
                sent += 1
            except OSError:
                pass                            # e.g. no route to it: lost, as on the wire
        return sent

    def _expire(self, ncoa: str, buf: _Buffer) -> None:
        self._flush(ncoa, "period expired", buf)

    # -- commands --------------------------------------------------------------------------
    def arm(self, ncoa: str, period_ms: int, sta: str, mn: str | None = None) -> dict:
        """Buffer what arrives for `ncoa` once no other route (the tunnel's) takes it.
        Arming an armed nCoA updates its period and station and keeps what it holds."""
        ncoa, period_ms = str(IPv4Address(ncoa)), int(period_ms)
        if period_ms <= 0:
            raise ValueError(f"buffering period {period_ms} ms: must be positive")
        with self._ops:
            run(["ip", "route", "replace", f"{ncoa}/32", "dev", self.tun_name])
            with self._lock:
                buf = self._buffers.get(ncoa)
                if buf is not None:
                    buf.sta, buf.period_ms, buf.mn = sta, period_ms, mn
                    return {"ncoa": ncoa, "armed": True, "already": True}
                self._buffers[ncoa] = _Buffer(sta, period_ms, time.perf_counter_ns(), mn=mn)
        if self.log:
            self.log.emit("buffering_start", "pre-switching", sta=sta, ncoa=ncoa,
                          period_ms=period_ms, tun=self.tun_name, **({"mn": mn} if mn else {}))
        return {"ncoa": ncoa, "armed": True, "already": False}

    def flush(self, ncoa: str, reason: str = "attached") -> dict:
        """Stop buffering for `ncoa` and re-send what is held, in order, onto the CTN link.
        {packets (re-sent), held_ms (first packet held -> now), reason, dropped (over
        `max_packets`)}; packets 0 for an nCoA that was never armed (and no event)."""
        return self._flush(str(IPv4Address(ncoa)), reason, None)

    def disarm(self, ncoa: str) -> dict:
        """Stop buffering for `ncoa`. Nothing is discarded: held packets are flushed
        (reason "disarmed"), so this is `flush` under another name."""
        return self.flush(ncoa, "disarmed")

    def _flush(self, ncoa: str, reason: str, expected: _Buffer | None) -> dict:
        with self._ops:
            with self._lock:
                buf = self._buffers.get(ncoa)
            if buf is None or (expected is not None and buf is not expected):
                return {"packets": 0, "held_ms": 0.0, "reason": reason, "dropped": 0}
            run(["ip", "route", "del", f"{ncoa}/32", "dev", self.tun_name], check=False)
            with self._lock:
                strays = self._drain()          # what was already in the TUN device
                del self._buffers[ncoa]
                now = time.perf_counter_ns()
            if buf.timer is not None:
                buf.timer.cancel()
            sent = self._send(buf.packets)
            self._send(strays)
        held_ms = (now - buf.first_ns) / 1e6 if buf.first_ns is not None else 0.0
        if self.log:
            self.log.emit("buffering_flushed", "post-switching", sta=buf.sta, ncoa=ncoa,
                          packets=sent, held_ms=held_ms, reason=reason,
                          period_ms=buf.period_ms, dropped=buf.dropped,
                          armed_ms=(now - buf.armed_ns) / 1e6,
                          **({"mn": buf.mn} if buf.mn else {}))
        return {"packets": sent, "held_ms": held_ms, "reason": reason, "dropped": buf.dropped}

    def status(self) -> dict:
        now = time.perf_counter_ns()
        with self._lock:
            held = {ncoa: {"sta": b.sta, "period_ms": b.period_ms, "packets": len(b.packets),
                           "dropped": b.dropped,
                           "held_ms": (now - b.first_ns) / 1e6 if b.first_ns else 0.0}
                    for ncoa, b in self._buffers.items()}
        return {"tun": self.tun_name, "ctn_iface": self.ctn_iface, "strays": self.strays,
                "buffers": held}

    def close(self) -> None:
        """Flush every armed nCoA (reason "module closed": nothing held is lost), stop the
        reader, close the TUN device (it disappears with its descriptor)."""
        for ncoa in list(self._buffers):
            self.flush(ncoa, "module closed")
        self._stop.set()
        self._loop.stop()
        self._reader.join(timeout=2)
        self._raw.close()
        os.close(self._fd)


# -- the protocol, nAR side ------------------------------------------------------------------
class BufferingRefused(Exception):
    """Raised by ``on_buffer`` / ``on_attached`` to answer with a status other than OK."""

    def __init__(self, status: proto.Status, reason: str):
        super().__init__(reason)
        self.status, self.reason = proto.Status(status), reason


class BufferingServer(UdpServer):
    """UDP server of the buffering protocol at the nAR.

    ``key_for(sta)`` gives the station's MN-AR key (None: unknown station);
    ``on_buffer(sta, ncoa, period_ms)`` and ``on_attached(sta, ncoa) -> packets flushed`` do
    the work before the ACK goes out (acked means done) and may raise `BufferingRefused`;
    ``on_buffer`` may return a callable, run once its ACK has been sent.
    A retransmitted datagram gets the same answer again and is not acted on twice. Every
    answer leaves through the interface its request came in on (IP_PKTINFO), so it is
    never caught by the buffer it may just have armed."""
    name = "buffering"

    def __init__(self, address: str, port: int, key_for: Callable[[str], bytes | None],
                 on_buffer: Callable[[str, str, int], None],
                 on_attached: Callable[[str, str], int], log: EventLog | None = None):
        super().__init__(address, port, _PKTINFO_SPACE, log=log)
        self.sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        self.key_for, self.on_buffer, self.on_attached = key_for, on_buffer, on_attached
        self.window = proto.ReplayWindow()
        self._answered: dict[bytes, tuple[bytes, bytes]] = {}  # station -> (request, ACK)
        self._after_ack: list[Callable[[], None]] = []

    def datagram(self, data: bytes, peer: tuple[str, int], ancillary: list) -> None:
        ack = self.handle(data, f"{peer[0]}:{peer[1]}")
        if ack is None:
            return
        # out of the interface the request came in on: a BUFFER_REQUEST's answer goes
        # back through the tunnel, an ATTACHED's (even a rejection) onto the CTN link,
        # never into the buffer that the nCoA's route in the main table leads to
        pktinfo = [c for c in ancillary if c[:2] == (socket.IPPROTO_IP, IP_PKTINFO)]
        try:
            self.sock.sendmsg([ack], [(socket.IPPROTO_IP, IP_PKTINFO,
                                       pktinfo[0][2][:_PKTINFO.size])] if pktinfo else [],
                              0, peer)
        except OSError:
            pass                                # that interface is gone: the MN retransmits
        while self._after_ack:
            try:
                self._after_ack.pop(0)()
            except Exception as exc:            # noqa: BLE001 -- logged, the server goes on
                self._rejected(f"{peer[0]}:{peer[1]}", None, None, 0, None,
                               f"after the ACK: {type(exc).__name__}: {exc}")

    def handle(self, data: bytes, source: str = "") -> bytes | None:
        """One datagram in, the ACK to send back (or None) out."""
        try:
            msg_type, seq, station = proto.peek(data)
        except ProtocolError as exc:
            self._rejected(source, None, None, 0, None, exc.reason)
            return None
        if msg_type == proto.MessageType.ACK:
            return None                         # never answer an answer
        last = self._answered.get(station)
        if last is not None and last[0] == data:
            return last[1]
        sta = mac_str(station)
        key = self.key_for(sta)
        if key is None:
            return self._unsigned(source, station, msg_type, seq, proto.Status.UNKNOWN_STATION,
                                  "no MN-AR key for this station")
        try:
            msg = proto.decode(data, key)
        except ProtocolError as exc:
            return self._unsigned(source, station, msg_type, seq, proto.Status.BAD_MAC,
                                  exc.reason)
        status, packets, reason = self._act(msg)
        if status != proto.Status.OK:
            self._rejected(source, sta, msg_type, seq, status, reason)
        ack = proto.encode(proto.Ack(station, seq, msg_type, status, packets), key)
        if status != proto.Status.REPLAY:
            self._answered[station] = (bytes(data), ack)
        return ack

    def _act(self, msg: proto.BufferRequest | proto.Attached) -> tuple[proto.Status, int, str]:
        if not self.window.accept(msg.station, msg.sequence):
            return (proto.Status.REPLAY, 0, f"Sequence {msg.sequence} not above "
                                            f"{self.window.highest[msg.station]}")
        sta, ncoa = mac_str(msg.station), str(msg.ncoa)
        try:
            if isinstance(msg, proto.BufferRequest):
                then = self.on_buffer(sta, ncoa, msg.period_ms)
                if callable(then):                 # to be done once the ACK is out
                    self._after_ack.append(then)
                return proto.Status.OK, 0, ""
            packets = int(self.on_attached(sta, ncoa) or 0)
            return proto.Status.OK, min(packets, 0xFFFFFFFF), ""
        except BufferingRefused as exc:
            return exc.status, 0, exc.reason
        except Exception as exc:  # a failing access router must not stop the server
            return proto.Status.FAILED, 0, f"{type(exc).__name__}: {exc}"

    def _unsigned(self, source: str, station: bytes, msg_type: proto.MessageType, seq: int,
                  status: proto.Status, reason: str) -> bytes:
        """A rejection the nAR cannot sign (protocols.buffering: zero MAC)."""
        self._rejected(source, mac_str(station), msg_type, seq, status, reason)
        return proto.encode(proto.Ack(station, seq, msg_type, status), None)

    def _rejected(self, source: str, sta: str | None, msg_type: proto.MessageType | None,
                  seq: int, status: proto.Status | None, reason: str) -> None:
        if self.log:
            self.log.emit("buffering_rejected", "pre-switching", sta=sta, source=source,
                          type=msg_type.name if msg_type else None, sequence=seq,
                          status=status.name if status is not None else None, reason=reason)


# -- the protocol, MN side -------------------------------------------------------------------
_seq_lock = threading.Lock()
_last_seq = 0


def _next_sequence() -> int:
    """Wall-clock seconds, strictly increasing in this process (u32 until 2106): a
    restarted MN still sends Sequences above those the nAR has seen, unless it sent more
    than one a second on average before."""
    global _last_seq
    with _seq_lock:
        _last_seq = max(int(time.time()), _last_seq + 1)
        return _last_seq


def _answer(data: bytes, key: bytes) -> proto.Ack | None:
    """The ACK in `data`, signed with `key` or an unsigned rejection; None for anything else."""
    try:
        msg = proto.decode(data, key)
    except ProtocolError:
        try:
            return proto.decode_reject(data)
        except ProtocolError:
            return None
    return msg if isinstance(msg, proto.Ack) else None


def request(server_addr: str | tuple[str, int], source_ip: str, sta: str, ncoa: str,
            key: bytes, msg_type: proto.MessageType, period_ms: int = 0,
            timeout: float = 1.0, retries: int = 3, *, sequence: int | None = None) -> proto.Ack:
    """Send BUFFER_REQUEST or ATTACHED from `source_ip` (the nCoA) to the nAR's
    `server_addr` ((address, port), or an address at `proto.PORT`); retransmit the same
    datagram `retries` times, the first after `timeout` seconds, each wait twice the one
    before (a handover signal: a lost one must cost tens of ms, not a second); return the
    ACK for it. An ACK with
    ``authenticated=False`` is an unsigned rejection (unknown station, bad MAC): a hint,
    never success. Raises TimeoutError when nothing answers."""
    address, port = (server_addr, proto.PORT) if isinstance(server_addr, str) else server_addr
    msg_type, station = proto.MessageType(msg_type), mac_bytes(sta)
    seq = _next_sequence() if sequence is None else sequence
    if msg_type == proto.MessageType.BUFFER_REQUEST:
        msg = proto.BufferRequest(station, IPv4Address(ncoa), period_ms, seq)
    elif msg_type == proto.MessageType.ATTACHED:
        msg = proto.Attached(station, IPv4Address(ncoa), seq)
    else:
        raise ValueError(f"the MN sends BUFFER_REQUEST or ATTACHED, not {msg_type.name}")
    datagram = proto.encode(msg, key)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source_ip, 0))
        sock.connect((address, port))
        for attempt in range(1 + retries):
            sock.send(datagram)
            deadline = time.perf_counter() + timeout * (2 ** attempt)
            while (left := deadline - time.perf_counter()) > 0:
                if not select.select([sock], [], [], left)[0]:
                    break
                try:
                    ack = _answer(sock.recv(2048), key)
                except ConnectionRefusedError:
                    continue                    # nothing listening (yet): keep trying
                if (ack is not None and ack.sequence == seq and ack.station == station
                        and ack.acked == msg_type):
                    return ack
    raise TimeoutError(f"no buffering ACK from {address}:{port} for {msg_type.name} "
                       f"after {1 + retries} attempts")
