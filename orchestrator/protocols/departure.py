"""Departure notice: an access point tells its network's PAA that a station left (pure).

RFC 6252 C.2: when the MN hands over to another network "the authentication agent should
change the fully authorized state for the MN to an unauthorized state". The PAA does not
see the MN leave: PANA runs over IP and the MN's departure is a layer-2 event at the AP
(its Disassociation frame, its reassociation with another AP announced by the new AP, IEEE
802.11F's Layer 2 Update / IAPP MOVE, or its inactivity). PANA's own relation between
the PAA and its enforcement points (RFC 5191 s1.2, "PAA-EP protocol") is left unspecified
by RFC 5191; this is **our own message** for it, sent by the AP to each PAA of its network
over the channel they already share for key installation (protocols/keyinstall.py: the
same per-pair secret, a MAC key of its own, the same replay window).

Departure-Notice (AP -> PAA), network byte order::

    0   Version       1   = 1
    1   Type          1   1 = Departure-Notice, 2 = Departure-Ack
    2   Reason        1   1 = disassociated (the station's Disassociation), 2 = reassociated
                          with another AP (New-BSSID says which), 3 = link lost
    3   Reserved      1   0
    4   Sequence      8   strictly increasing per sender (replay protection)
    12  Station       6   MAC address of the station that left
    18  BSSID         6   the AP it left (the sender)
    24  New-BSSID     6   the AP it reassociated with; all zero when not known
    30  MAC           32  HMAC-SHA256(MAC-Key, octets 0 .. 29)

Departure-Ack (PAA -> AP)::

    0   Version 1, Type 2, Reason of the notice, Reserved 0, Sequence (8) of the notice
    12  MAC           32  HMAC-SHA256(MAC-Key, octets 0 .. 11)

MAC-Key = HKDF-SHA256(secret, "MPA departure notice MAC", 32) (RFC 5869, empty salt), the
secret being the one the AP and the PAA share for key installation. The MAC is checked
first, in constant time; nothing of an unauthenticated message is used. The PAA accepts a
Sequence once (`keyinstall.SequenceWindow`); the same datagram again (the AP retransmitting
after a lost ack) gets the same ack and changes nothing.

Every malformed or unauthenticated input raises `ProtocolError` (codec) or is returned as a
rejection with a reason (`Receiver.handle`), never anything else.
"""
from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from orchestrator.protocols.errors import ProtocolError
from orchestrator.protocols.keyinstall import SequenceWindow
from orchestrator.protocols.mpa_keys import hkdf

__all__ = ["VERSION", "Reason", "DepartureNotice", "encode_notice", "decode_notice",
           "encode_ack", "decode_ack", "Receiver", "Receipt", "NO_BSSID", "ProtocolError"]

VERSION = 1
TYPE_NOTICE, TYPE_ACK = 1, 2
MAC_LENGTH = 32
LABEL_MAC = b"MPA departure notice MAC"
NO_BSSID = bytes(6)

_NOTICE = struct.Struct("!BBBBQ6s6s6s")     # 30 octets
_ACK = struct.Struct("!BBBBQ")              # 12 octets


class Reason(IntEnum):
    DISASSOCIATED = 1
    REASSOCIATED = 2
    LINK_LOST = 3


@dataclass(frozen=True)
class DepartureNotice:
    reason: Reason
    sequence: int
    station: bytes      # 6 octets
    bssid: bytes        # 6 octets: the AP the station left
    new_bssid: bytes = NO_BSSID   # the AP it went to (zero: not known)


def _mac_key(secret: bytes) -> bytes:
    if not secret:
        raise ProtocolError("the AP-PAA shared secret is empty")
    return hkdf(bytes(secret), b"", LABEL_MAC, 32)


def _sign(secret: bytes, body: bytes) -> bytes:
    return body + hmac.new(_mac_key(secret), body, hashlib.sha256).digest()


def _verified(secret: bytes, data: bytes, size: int, what: str) -> bytes:
    data = bytes(data)
    if len(data) != size + MAC_LENGTH:
        raise ProtocolError(f"departure {what} of {len(data)} octets (expected "
                            f"{size + MAC_LENGTH})")
    body, mac = data[:size], data[size:]
    if not hmac.compare_digest(hmac.new(_mac_key(secret), body, hashlib.sha256).digest(), mac):
        raise ProtocolError("departure notice MAC does not verify (wrong secret or tampered)")
    if body[0] != VERSION:
        raise ProtocolError(f"departure notice Version {body[0]} (expected {VERSION})")
    return body


def _reason(value: int) -> Reason:
    try:
        return Reason(value)
    except ValueError:
        raise ProtocolError(f"unknown departure Reason {value}") from None


def encode_notice(secret: bytes, notice: DepartureNotice) -> bytes:
    if not all(len(m) == 6 for m in (notice.station, notice.bssid, notice.new_bssid)):
        raise ProtocolError("Station, BSSID and New-BSSID are 6 octets")
    try:
        body = _NOTICE.pack(VERSION, TYPE_NOTICE, int(_reason(int(notice.reason))), 0,
                            notice.sequence, notice.station, notice.bssid, notice.new_bssid)
    except struct.error as exc:
        raise ProtocolError(f"departure notice field out of range: {exc}") from None
    return _sign(secret, body)


def decode_notice(secret: bytes, data: bytes) -> DepartureNotice:
    body = _verified(secret, data, _NOTICE.size, "notice")
    _v, msg_type, reason, _r, sequence, station, bssid, new_bssid = _NOTICE.unpack(body)
    if msg_type != TYPE_NOTICE:
        raise ProtocolError(f"departure Type {msg_type} where a notice was expected")
    return DepartureNotice(_reason(reason), sequence, station, bssid, new_bssid)


def encode_ack(secret: bytes, notice: DepartureNotice) -> bytes:
    try:
        body = _ACK.pack(VERSION, TYPE_ACK, int(notice.reason), 0, notice.sequence)
    except struct.error as exc:
        raise ProtocolError(f"departure ack field out of range: {exc}") from None
    return _sign(secret, body)


def decode_ack(secret: bytes, data: bytes) -> tuple[Reason, int]:
    """-> (Reason, Sequence) of the notice the ack answers."""
    body = _verified(secret, data, _ACK.size, "ack")
    _v, msg_type, reason, _r, sequence = _ACK.unpack(body)
    if msg_type != TYPE_ACK:
        raise ProtocolError(f"departure Type {msg_type} where an ack was expected")
    return _reason(reason), sequence


class Receipt(NamedTuple):
    """What the PAA does with one datagram: send ``ack`` (if any), act on ``notice`` (if not
    None); ``reason`` says why nothing is to be done."""

    ack: bytes | None
    notice: DepartureNotice | None
    reason: str = ""


class Receiver:
    """The PAA's side for one AP: authenticate with the pair's secret, check that the AP
    speaks for itself (BSSID = its own), de-duplicate by Sequence."""

    def __init__(self, secret: bytes, bssid: bytes):
        self.secret, self.bssid = bytes(secret), bytes(bssid)
        self.window = SequenceWindow()

    def handle(self, data: bytes) -> Receipt:
        data = bytes(data)
        notice, cached, why = self.window.screen(lambda d: decode_notice(self.secret, d), data,
                                                 "retransmitted notice: ack repeated")
        if notice is None:
            return Receipt(cached, None, why)
        if notice.bssid != self.bssid:
            return Receipt(None, None, f"notice for BSSID {notice.bssid.hex(':')} from the AP "
                                       f"{self.bssid.hex(':')}")
        ack = encode_ack(self.secret, notice)
        self.window.remember(notice.sequence, data, ack)
        return Receipt(ack, notice)
