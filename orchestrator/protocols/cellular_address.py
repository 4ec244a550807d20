"""Proactive address acquisition for a cellular interface, through the WLAN (pure).

RFC 6252 s7.6.2: "MPA usage in multi-interface handover scenarios involves preparing the
second interface for use via the current active interface. This preparation involves
pre-authentication and provisioning at a target network ... some of the PPP context can be
set up during the pre-authentication period, thus reducing the time for PPP activation";
s7.3: the MN obtains its address "proactively from a CTN" (s7.3.1 piggy-backs it on PANA;
here the MN asks the packet data gateway itself). After MPA pre-authentication the PAA has
installed the CHAP secret of the MN's data session in the gateway (protocols/keyinstall.py,
`MpaKeys.pdg_chap_key`); with a key derived from that secret the MN asks the gateway, over
its current (WLAN) interface, to reserve the address its IPCP will ask for at the handover.
This is **our own protocol** (RFC 6252 specifies none): one authenticated request, one
authenticated answer, over UDP.

Address-Request (MN -> gateway), network byte order::

    0   Version       1   = 1
    1   Type          1   1 = Address-Request, 2 = Address-Answer
    2   Reserved      2   0
    4   Station       6   MAC address of the MN's cellular interface (its PPPoE host address)
    10  Target-Id     6   the gateway's MAC address on the radio network (the key is bound to it)
    16  Nonce         16  random per request, echoed in the answer
    32  MAC           32  HMAC-SHA256(K, octets 0 .. 31)

Address-Answer (gateway -> MN)::

    0   Version 1, Type 2, Status 1 (0 reserved, 1 pool exhausted), Reserved 1
    4   Nonce         16  the request's
    20  Address       4   the reserved IPv4 address (0.0.0.0 unless Status is 0)
    24  DNS           4   the primary DNS server IPCP will offer (RFC 1877), 0.0.0.0: none
    28  Lifetime      4   seconds the reservation is held
    32  MAC           32  HMAC-SHA256(K, octets 0 .. 31)

With both known, the data session's IPCP Configure-Request carries exactly what the gateway
will acknowledge: the reserved address, and the DNS option only when there is a server.

K = HKDF-SHA256(the CHAP secret, empty salt, "MPA cellular address", 32) (RFC 5869): only the
MN and the gateway hold the secret, the PAA derived it from the MPA-SA. The MAC is checked
first, in constant time; nothing of an unauthenticated message is used. A request is
idempotent (the gateway answers a station's repeated request with the same address), so a
replayed one only re-sends the answer to its sender.
"""
from __future__ import annotations

import hmac
import hashlib
import struct
from dataclasses import dataclass
from enum import IntEnum
from ipaddress import IPv4Address

from .errors import ProtocolError
from .mpa_keys import hkdf

__all__ = ["VERSION", "Status", "AddressRequest", "AddressAnswer", "address_key",
           "encode_request", "decode_request", "encode_answer", "decode_answer",
           "request_station", "ProtocolError"]

VERSION = 1
TYPE_REQUEST, TYPE_ANSWER = 1, 2
LABEL = b"MPA cellular address"
MAC_LENGTH = 32
_REQUEST = struct.Struct("!BBH6s6s16s")      # 32 octets
_ANSWER = struct.Struct("!BBBB16s4s4sI")      # 32 octets


class Status(IntEnum):
    RESERVED = 0
    POOL_EXHAUSTED = 1


@dataclass(frozen=True)
class AddressRequest:
    station: bytes          # 6 octets
    target_id: bytes        # 6 octets
    nonce: bytes            # 16 octets


@dataclass(frozen=True)
class AddressAnswer:
    status: Status
    nonce: bytes
    address: IPv4Address
    dns: IPv4Address | None          # None: the gateway offers no DNS server
    lifetime: int


def address_key(secret: bytes) -> bytes:
    if not secret:
        raise ProtocolError("the CHAP secret is empty")
    return hkdf(bytes(secret), b"", LABEL, 32)


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()


def _verified(key: bytes, data: bytes, head: struct.Struct) -> bytes:
    if len(data) != head.size + MAC_LENGTH:
        raise ProtocolError(f"{len(data)} octets, a message is {head.size + MAC_LENGTH}")
    body, mac = data[:head.size], data[head.size:]
    if not hmac.compare_digest(_mac(key, body), mac):
        raise ProtocolError("MAC does not verify")
    return body


def encode_request(secret: bytes, req: AddressRequest) -> bytes:
    if len(req.station) != 6 or len(req.target_id) != 6 or len(req.nonce) != 16:
        raise ProtocolError("Station and Target-Id are 6 octets, Nonce 16")
    body = _REQUEST.pack(VERSION, TYPE_REQUEST, 0, req.station, req.target_id, req.nonce)
    return body + _mac(address_key(secret), body)


def request_station(data: bytes) -> bytes:
    """The Station field of a request, unauthenticated: only to find the secret to check it
    with (the gateway holds one per station). ProtocolError when it cannot be a request."""
    if len(data) != _REQUEST.size + MAC_LENGTH or data[:2] != bytes((VERSION, TYPE_REQUEST)):
        raise ProtocolError("not an Address-Request")
    return data[4:10]


def decode_request(secret: bytes, data: bytes) -> AddressRequest:
    body = _verified(address_key(secret), data, _REQUEST)
    version, kind, _reserved, station, target_id, nonce = _REQUEST.unpack(body)
    if (version, kind) != (VERSION, TYPE_REQUEST):
        raise ProtocolError(f"version {version} type {kind}: not an Address-Request")
    return AddressRequest(station, target_id, nonce)


def encode_answer(secret: bytes, ans: AddressAnswer) -> bytes:
    if len(ans.nonce) != 16 or not 0 <= ans.lifetime < 1 << 32:
        raise ProtocolError("Nonce is 16 octets, Lifetime 32 bits")
    body = _ANSWER.pack(VERSION, TYPE_ANSWER, int(ans.status), 0, ans.nonce,
                        IPv4Address(ans.address).packed, IPv4Address(ans.dns or 0).packed,
                        ans.lifetime)
    return body + _mac(address_key(secret), body)


def decode_answer(secret: bytes, data: bytes) -> AddressAnswer:
    body = _verified(address_key(secret), data, _ANSWER)
    version, kind, status, _reserved, nonce, address, dns, lifetime = _ANSWER.unpack(body)
    if (version, kind) != (VERSION, TYPE_ANSWER):
        raise ProtocolError(f"version {version} type {kind}: not an Address-Answer")
    try:
        status = Status(status)
    except ValueError:
        raise ProtocolError(f"unknown Status {status}") from None
    return AddressAnswer(status, nonce, IPv4Address(address),
                         IPv4Address(dns) if any(dns) else None, lifetime)
