"""MPA key installation: the PAA pushes a key to an access point or access router (pure).

RFC 6252 C.5.3: "After authentication, the PAA proactively installs two keys, PSK_ap1 and
PSK_ap2, in AP1 and AP2"; s6.3 step 1: the MN-AR key "is securely delivered to ... the access
router". Neither RFC says how. This is **our own protocol**, standing in for that
unspecified mechanism (a deployment would use e.g. RADIUS/Diameter key push or RFC 5807
style key distribution): one authenticated request, one authenticated answer, over UDP.

Install-Request (PAA -> target), network byte order::

    0   Version       1   = 1
    1   Type          1   1 = Install-Request, 2 = Install-Answer
    2   Target-Kind   1   1 = access point (key = PSK_ap), 2 = access router (key = MN-AR key),
                          3 = packet data gateway (key = the CHAP secret of the MN's cellular
                          data session, mpa_keys.pdg_chap_key; RFC 6252 s7.6.2, C.5.2)
    3   Status        1   0 in a request
    4   Sequence      8   strictly increasing per sender (replay protection)
    12  Nonce         16  random per request, echoed in the answer
    28  Lifetime      4   seconds the key may be used
    32  Station       6   MAC address of the mobile node's interface the key belongs to
    38  Target-Id     6   BSSID of the AP the key is bound to (access router, packet data
                          gateway: its MAC address on the network the key serves)
    44  Session-Id    4   PANA Session Identifier of the MPA-SA the key comes from
    48  Key-Id        4   PANA Key-Id of that MPA-SA
    52  Wrapped-Len   2   n, octets of Wrapped-Key (a multiple of 8, at least 24)
    54  Wrapped-Key   n   AES key wrap (RFC 3394) of the key under KEK
    54+n MAC          32  HMAC-SHA256(MAC-Key, octets 0 .. 53+n)

Install-Answer (target -> PAA)::

    0   Version 1, Type 2, Target-Kind, Status (0 installed, 1 not my Target-Id,
        2 not my kind), then Sequence (8) and Nonce (16) of the request, then
    28  MAC           32  HMAC-SHA256(MAC-Key, octets 0 .. 27)

Keys from the PAA-target shared secret (HKDF-SHA256, RFC 5869, empty salt):
KEK = HKDF(secret, "MPA key install KEK", 32) (AES-256 key wrap), MAC-Key =
HKDF(secret, "MPA key install MAC", 32). The MAC is checked first, in constant time; nothing
of an unauthenticated message is used.

Replay protection at the target (`Receiver`), a sliding window as IPsec's (RFC 4303
s3.4.3): a request is accepted once, if its Sequence is above the highest accepted one, or
below it by less than REPLAY_WINDOW and not accepted before (the PAA installs the keys of
several MNs at once, each from a thread of its own, and their datagrams may arrive in
another order than their Sequences were drawn: issue 17, 2 of 5 concurrent key
installations were refused as replays). The very same datagram again (the PAA
retransmitting after a lost answer) gets the cached answer and installs nothing; any other
request with an accepted Sequence, or one at or below the window, is rejected. The answer echoes Sequence
and Nonce, so the PAA accepts only the answer to its own outstanding request.

Every malformed or unauthenticated input raises `ProtocolError` (codec) or is returned as
a rejection with a reason (`Receiver.handle`), never anything else.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from orchestrator.protocols.eapol import aes_key_unwrap, aes_key_wrap
from orchestrator.protocols.errors import ProtocolError
from orchestrator.protocols.mpa_keys import hkdf

__all__ = [
    "VERSION", "REPLAY_WINDOW", "MAX_REMEMBERED",
    "TargetKind",
    "Status",
    "InstallRequest",
    "InstallAnswer",
    "encode_request",
    "decode_request",
    "encode_answer",
    "decode_answer",
    "Receiver",
    "SequenceWindow",
    "Receipt",
    "ProtocolError",
]

VERSION = 1
TYPE_REQUEST, TYPE_ANSWER = 1, 2
NONCE_LENGTH = 16
MAC_LENGTH = 32
LABEL_KEK = b"MPA key install KEK"
LABEL_MAC = b"MPA key install MAC"

_REQUEST_HEAD = struct.Struct("!BBBBQ16sI6s6sIIH")  # 54 octets
_ANSWER_HEAD = struct.Struct("!BBBBQ16s")  # 28 octets


class TargetKind(IntEnum):
    ACCESS_POINT = 1
    ACCESS_ROUTER = 2
    PACKET_DATA_GATEWAY = 3


class Status(IntEnum):
    INSTALLED = 0
    WRONG_TARGET = 1
    WRONG_KIND = 2


@dataclass(frozen=True)
class InstallRequest:
    kind: TargetKind
    sequence: int
    nonce: bytes
    lifetime: int
    station: bytes  # 6 octets
    target_id: bytes  # 6 octets
    session_id: int
    key_id: int
    key: bytes  # 16..: a multiple of 8 (PSK_ap and MN-AR key are 32)


@dataclass(frozen=True)
class InstallAnswer:
    kind: TargetKind
    status: Status
    sequence: int
    nonce: bytes


def _keys(secret: bytes) -> tuple[bytes, bytes]:
    if not secret:
        raise ProtocolError("the PAA-target shared secret is empty")
    return hkdf(secret, b"", LABEL_KEK, 32), hkdf(secret, b"", LABEL_MAC, 32)


def _mac(mac_key: bytes, data: bytes) -> bytes:
    return hmac.new(mac_key, data, hashlib.sha256).digest()


def _authenticated(secret: bytes, data: bytes, minimum: int) -> tuple[bytes, bytes]:
    """(KEK, body) of a message whose trailing MAC verified."""
    data = bytes(data)
    if len(data) < minimum + MAC_LENGTH:
        raise ProtocolError(f"key install message of {len(data)} octets is too short")
    kek, mac_key = _keys(secret)
    body, mac = data[:-MAC_LENGTH], data[-MAC_LENGTH:]
    if not hmac.compare_digest(_mac(mac_key, body), mac):
        raise ProtocolError("key install MAC does not verify (wrong secret or tampered)")
    if body[0] != VERSION:
        raise ProtocolError(f"key install Version {body[0]} (expected {VERSION})")
    return kek, body


def _kind(value: int) -> TargetKind:
    try:
        return TargetKind(value)
    except ValueError:
        raise ProtocolError(f"unknown Target-Kind {value}") from None


def encode_request(secret: bytes, req: InstallRequest) -> bytes:
    kek, mac_key = _keys(secret)
    if len(req.station) != 6 or len(req.target_id) != 6 or len(req.nonce) != NONCE_LENGTH:
        raise ProtocolError("Station and Target-Id are 6 octets, Nonce 16")
    wrapped = aes_key_wrap(kek, req.key)
    try:
        body = _REQUEST_HEAD.pack(VERSION, TYPE_REQUEST, int(req.kind), 0, req.sequence,
                                  req.nonce, req.lifetime, req.station, req.target_id,
                                  req.session_id, req.key_id, len(wrapped)) + wrapped
    except struct.error as exc:
        raise ProtocolError(f"key install request field out of range: {exc}") from None
    return body + _mac(mac_key, body)


def decode_request(secret: bytes, data: bytes) -> InstallRequest:
    kek, body = _authenticated(secret, data, _REQUEST_HEAD.size + 24)
    (_v, msg_type, kind, _status, sequence, nonce, lifetime, station, target_id, session_id,
     key_id, wrapped_len) = _REQUEST_HEAD.unpack_from(body)
    if msg_type != TYPE_REQUEST:
        raise ProtocolError(f"key install Type {msg_type} where a request was expected")
    wrapped = body[_REQUEST_HEAD.size:]
    if wrapped_len != len(wrapped):
        raise ProtocolError(f"Wrapped-Len {wrapped_len} but {len(wrapped)} octets follow")
    return InstallRequest(_kind(kind), sequence, nonce, lifetime, station, target_id,
                          session_id, key_id, aes_key_unwrap(kek, wrapped))


def encode_answer(secret: bytes, ans: InstallAnswer) -> bytes:
    _kek, mac_key = _keys(secret)
    try:
        body = _ANSWER_HEAD.pack(VERSION, TYPE_ANSWER, int(ans.kind), int(ans.status),
                                 ans.sequence, ans.nonce)
    except struct.error as exc:
        raise ProtocolError(f"key install answer field out of range: {exc}") from None
    return body + _mac(mac_key, body)


def decode_answer(secret: bytes, data: bytes) -> InstallAnswer:
    _kek, body = _authenticated(secret, data, _ANSWER_HEAD.size)
    if len(body) != _ANSWER_HEAD.size:
        raise ProtocolError(f"key install answer of {len(body) + MAC_LENGTH} octets")
    _v, msg_type, kind, status, sequence, nonce = _ANSWER_HEAD.unpack(body)
    if msg_type != TYPE_ANSWER:
        raise ProtocolError(f"key install Type {msg_type} where an answer was expected")
    try:
        status = Status(status)
    except ValueError:
        raise ProtocolError(f"unknown key install Status {status}") from None
    return InstallAnswer(_kind(kind), status, sequence, nonce)


class Receipt(NamedTuple):
    """What the target does with one datagram: send ``ack`` (if any), install ``request``'s
    key (if not None); ``reason`` says why nothing was installed."""

    ack: bytes | None
    request: InstallRequest | None
    reason: str = ""


REPLAY_WINDOW = 1_000_000_000   # Sequence values below the highest accepted (our PAA: 1 s of ns)
MAX_REMEMBERED = 1024           # accepted Sequences kept; the floor rises past those dropped


class SequenceWindow:
    """Replay protection by Sequence, a sliding window as IPsec's (RFC 4303 s3.4.3; module
    docstring): `check` says what to do with a datagram, `remember` records an accepted one
    with the answer it got. Shared by the targets of key installation and the PAA's
    departure notices (protocols/departure.py)."""

    def __init__(self):
        self.last_sequence: int | None = None        # the highest accepted
        self._dropped = -1                           # the highest Sequence forgotten
        self._accepted: dict[int, tuple[bytes, bytes]] = {}   # Sequence -> (request, answer)

    def _floor(self) -> int:
        """Sequences at or below this are refused (unless remembered)."""
        if self.last_sequence is None:
            return -1
        return max(self.last_sequence - REPLAY_WINDOW, self._dropped)

    def check(self, sequence: int, data: bytes) -> tuple[bytes | None, str]:
        """(cached answer, reason): the very same datagram again gets its answer back and
        reason "retransmitted"; a replayed Sequence gets no answer and its reason; a new
        one (None, "")."""
        seen = self._accepted.get(sequence)
        if seen is not None and seen[0] == data:
            return seen[1], "retransmitted"
        if seen is not None or sequence <= self._floor():
            return None, f"replayed Sequence {sequence} (last accepted {self.last_sequence})"
        return None, ""

    def screen(self, decode, data: bytes, retransmitted: str):
        """Authenticate (`decode(data)`, which raises ProtocolError) and de-duplicate one
        datagram: (message, None, "") when it is new, else (None, the cached answer or None,
        why: `retransmitted` for the very same datagram again)."""
        try:
            msg = decode(data)
        except ProtocolError as exc:
            return None, None, exc.reason
        cached, reason = self.check(msg.sequence, data)
        if cached is not None:
            return None, cached, retransmitted
        return (None, None, reason) if reason else (msg, None, "")

    def remember(self, sequence: int, data: bytes, ack: bytes) -> None:
        self._accepted[sequence] = (data, ack)
        self.last_sequence = max(sequence, self.last_sequence or 0)
        while len(self._accepted) > MAX_REMEMBERED:
            old = next(iter(self._accepted))  # the earliest accepted
            del self._accepted[old]
            self._dropped = max(self._dropped, old)


class Receiver:
    """The target's side (AP or access router): authenticate, check, de-duplicate.

    ``target_id`` is this AP's BSSID (6 octets); a request for another target is answered
    with WRONG_TARGET and installs nothing.
    """

    def __init__(self, secret: bytes, kind: TargetKind, target_id: bytes):
        self.secret, self.kind, self.target_id = bytes(secret), TargetKind(kind), bytes(target_id)
        self.window = SequenceWindow()

    @property
    def last_sequence(self) -> int | None:
        return self.window.last_sequence

    def handle(self, data: bytes) -> Receipt:
        data = bytes(data)
        req, cached, why = self.window.screen(lambda d: decode_request(self.secret, d), data,
                                              "retransmitted request: answer repeated")
        if req is None:
            return Receipt(cached, None, why)
        if req.kind != self.kind:
            status, reason = Status.WRONG_KIND, f"request for a {req.kind.name}"
        elif req.target_id != self.target_id:
            status, reason = Status.WRONG_TARGET, f"key bound to {req.target_id.hex(':')}"
        else:
            status, reason = Status.INSTALLED, ""
        ack = encode_answer(self.secret, InstallAnswer(self.kind, status, req.sequence,
                                                       req.nonce))
        self.window.remember(req.sequence, data, ack)
        return Receipt(ack, req if status == Status.INSTALLED else None, reason)
