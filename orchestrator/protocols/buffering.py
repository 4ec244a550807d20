"""The MPA buffering protocol: the MN asks the next access router to hold its packets (pure).

RFC 6252 s6.3 step 4: "The buffering module at the next access router buffers the packets
once the tunnel interface is deleted"; s7.6.1: "Dynamic buffering signals from the MN can
temporarily hold transient traffic during handover, and then these packets can be forwarded
to the MN once it attaches to the target network"; Appendix C.4: "Forwarding of data can be
triggered by the mobile node ... as a separate buffering protocol". The RFC specifies no such
protocol: this is **our own**, over UDP (`PORT`, nothing registered).

- BUFFER_REQUEST (MN -> nAR, through the proactive handover tunnel, before the MN deletes
  it): hold packets for nCoA once the tunnel is gone, for at most Period milliseconds.
- ATTACHED (MN -> nAR, from the nCoA over the new link after the layer-2 handoff): "I am on
  your link now": delete the tunnel for nCoA if it is still up, stop proxy ARP, flush the
  buffer to me.
- ACK (nAR -> MN): the outcome; Packets is the number of packets flushed (ATTACHED).

Every message, network byte order::

    off len field
    0   1   Version     = 1
    1   1   Type        1 = BUFFER_REQUEST, 2 = ATTACHED, 3 = ACK
    2   2   Reserved    0 (covered by the MAC, otherwise ignored)
    4   4   Sequence    MN: strictly increasing per station; ACK: the request's, echoed
    8   6   Station     MAC address of the mobile node (in the clear: selects the key)

    BUFFER_REQUEST (38 octets)       ATTACHED (34 octets)        ACK (36 octets)
    14  4   nCoA                     14  4   nCoA                14  1   Acked-Type
    18  4   Period (ms)              18  16  MAC                 15  1   Status
    22  16  MAC                                                  16  4   Packets
                                                                 20  16  MAC

MAC = the first 16 octets of HMAC-SHA256(MN-AR key, every octet before it); the MN-AR key is
32 octets, from the MPA-SA (`orchestrator.protocols.mpa_keys.MpaKeys.mn_ar_key`). `decode`
checks the length and the MAC (in constant time) before it looks at anything else.

Status: 0 ok, 1 unknown-station, 2 bad-mac, 3 replay, 4 not-tunnelled (no proactive handover
tunnel for that nCoA and station), 5 bad-request, 6 failed (the nAR could not do it).
The nAR cannot authenticate an answer to a station it has no key for, nor to a request whose
MAC did not verify (the MN's key is then suspect): those two rejections are sent with a MAC of
16 zero octets. `decode` refuses them like any other unverifiable message; `decode_reject`
reads them, and only them, marked ``authenticated=False``: an MN may take them as a hint,
never as success.

Replay protection (`ReplayWindow`): per station, a Sequence not above the highest accepted
one is a replay. Every malformed or unauthenticated input raises `ProtocolError`.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from enum import IntEnum
from ipaddress import IPv4Address

from orchestrator.protocols.errors import ProtocolError

__all__ = [
    "PORT", "VERSION", "KEY_LENGTH", "MAC_LENGTH", "MessageType", "Status", "BufferRequest",
    "Attached", "Ack", "Message", "encode", "decode", "decode_reject", "peek", "ReplayWindow",
    "ProtocolError",
]

PORT = 7012
VERSION = 1
KEY_LENGTH = 32
MAC_LENGTH = 16
ZERO_MAC = bytes(MAC_LENGTH)

_HEADER = struct.Struct("!BBHI6s")  # 14 octets
_BODY = {1: struct.Struct("!4sI"), 2: struct.Struct("!4s"), 3: struct.Struct("!BBI")}


class MessageType(IntEnum):
    BUFFER_REQUEST = 1
    ATTACHED = 2
    ACK = 3


class Status(IntEnum):
    OK = 0
    UNKNOWN_STATION = 1
    BAD_MAC = 2
    REPLAY = 3
    NOT_TUNNELLED = 4
    BAD_REQUEST = 5
    FAILED = 6


# rejections the nAR cannot sign (no key, or the request's MAC did not verify)
UNAUTHENTICATED = (Status.UNKNOWN_STATION, Status.BAD_MAC)


@dataclass(frozen=True)
class BufferRequest:
    station: bytes  # 6 octets
    ncoa: IPv4Address
    period_ms: int
    sequence: int
    type = MessageType.BUFFER_REQUEST


@dataclass(frozen=True)
class Attached:
    station: bytes
    ncoa: IPv4Address
    sequence: int
    type = MessageType.ATTACHED


@dataclass(frozen=True)
class Ack:
    station: bytes
    sequence: int
    acked: MessageType
    status: Status
    packets: int = 0
    authenticated: bool = True  # False only from `decode_reject`
    type = MessageType.ACK


Message = BufferRequest | Attached | Ack


def _mac(key: bytes | None, body: bytes) -> bytes:
    if key is None:
        return ZERO_MAC
    if len(key) != KEY_LENGTH:
        raise ProtocolError(f"buffering key of {len(key)} octets (the MN-AR key is "
                            f"{KEY_LENGTH})")
    return hmac.new(key, body, hashlib.sha256).digest()[:MAC_LENGTH]


def encode(msg: Message, key: bytes | None) -> bytes:
    """The datagram for ``msg``. ``key=None`` only for an ACK whose status is one of
    `UNAUTHENTICATED` (the zero MAC)."""
    if key is None and not (isinstance(msg, Ack) and msg.status in UNAUTHENTICATED):
        raise ProtocolError("only an unknown-station or bad-mac ACK goes unauthenticated")
    if len(msg.station) != 6:
        raise ProtocolError(f"Station of {len(msg.station)} octets (a MAC address is 6)")
    try:
        if isinstance(msg, BufferRequest):
            fields = (IPv4Address(msg.ncoa).packed, msg.period_ms)
        elif isinstance(msg, Attached):
            fields = (IPv4Address(msg.ncoa).packed,)
        else:
            fields = (int(msg.acked), int(msg.status), msg.packets)
        body = (_HEADER.pack(VERSION, int(msg.type), 0, msg.sequence, msg.station)
                + _BODY[msg.type].pack(*fields))
    except (struct.error, ValueError) as exc:
        raise ProtocolError(f"buffering {msg.type.name} field out of range: {exc}") from None
    return body + _mac(key, body)


def peek(data: bytes) -> tuple[MessageType, int, bytes]:
    """(Type, Sequence, Station) of a datagram, NOT authenticated: to find the key."""
    data = bytes(data)
    if len(data) < _HEADER.size + MAC_LENGTH:
        raise ProtocolError(f"buffering message of {len(data)} octets is too short")
    version, msg_type, _reserved, sequence, station = _HEADER.unpack_from(data)
    if version != VERSION:
        raise ProtocolError(f"buffering Version {version} (expected {VERSION})")
    try:
        msg_type = MessageType(msg_type)
    except ValueError:
        raise ProtocolError(f"unknown buffering Type {msg_type}") from None
    expected = _HEADER.size + _BODY[msg_type].size + MAC_LENGTH
    if len(data) != expected:
        raise ProtocolError(f"buffering {msg_type.name} of {len(data)} octets "
                            f"(expected {expected})")
    return msg_type, sequence, station


def _parse(msg_type: MessageType, sequence: int, station: bytes, data: bytes,
           authenticated: bool = True) -> Message:
    fields = _BODY[msg_type].unpack_from(data, _HEADER.size)
    if msg_type == MessageType.BUFFER_REQUEST:
        return BufferRequest(station, IPv4Address(fields[0]), fields[1], sequence)
    if msg_type == MessageType.ATTACHED:
        return Attached(station, IPv4Address(fields[0]), sequence)
    acked, status, packets = fields
    try:
        acked, status = MessageType(acked), Status(status)
    except ValueError:
        raise ProtocolError(f"ACK of unknown Acked-Type {acked} or Status {status}") from None
    if acked == MessageType.ACK:
        raise ProtocolError("an ACK acknowledging an ACK")
    return Ack(station, sequence, acked, status, packets, authenticated)


def decode(data: bytes, key: bytes) -> Message:
    """The message in ``data`` if its MAC verifies under ``key``; else `ProtocolError`."""
    data = bytes(data)
    if len(data) < _HEADER.size + MAC_LENGTH:
        raise ProtocolError(f"buffering message of {len(data)} octets is too short")
    if not hmac.compare_digest(_mac(bytes(key), data[:-MAC_LENGTH]), data[-MAC_LENGTH:]):
        raise ProtocolError("buffering MAC does not verify (wrong MN-AR key or tampered)")
    return _parse(*peek(data), data)


def decode_reject(data: bytes) -> Ack:
    """An unauthenticated rejection (zero MAC, status unknown-station or bad-mac) as an
    ACK with ``authenticated=False``; anything else raises `ProtocolError`."""
    msg_type, sequence, station = peek(data)
    if msg_type != MessageType.ACK or bytes(data[-MAC_LENGTH:]) != ZERO_MAC:
        raise ProtocolError("not an unauthenticated buffering rejection")
    ack = _parse(msg_type, sequence, station, bytes(data), authenticated=False)
    if ack.status not in UNAUTHENTICATED:
        raise ProtocolError(f"status {ack.status.name} is never sent unauthenticated")
    return ack


class ReplayWindow:
    """Per station, the highest Sequence accepted; `accept` admits only higher ones."""

    def __init__(self) -> None:
        self.highest: dict[bytes, int] = {}

    def accept(self, station: bytes, sequence: int) -> bool:
        """True (and remembered) if ``sequence`` is above every one accepted from
        ``station``; False for a replay. Call it only for authenticated messages."""
        station = bytes(station)
        if station in self.highest and sequence <= self.highest[station]:
            return False
        self.highest[station] = sequence
        return True
