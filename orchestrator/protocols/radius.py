"""RADIUS packets for a NAS that checks CHAP with its AAA server (RFC 2865), pure and
standard library only, so that agents can carry it (the EAP authenticators use pyrad through
agents/radius_client.py; a zipapp agent cannot).

RFC 2865 s3: Code (1) Identifier (1) Length (2) Authenticator (16) Attributes, Length
20..4096; each attribute Type (1) Length (1, >= 2) Value. What a PPP gateway sends for a
CHAP Response (RFC 2865 s5.3 CHAP-Password = CHAP Ident (1) + the 16-octet Response,
s5.40 CHAP-Challenge), and how it checks the answer:

- the Request Authenticator is 16 random octets (s3);
- Message-Authenticator (RFC 3579 s3.2) = HMAC-MD5(secret, the packet with the attribute's
  value zeroed) on the request; FreeRADIUS >= 3.2.5 wants it on every Access-Request
  (BlastRADIUS, CVE-2024-3596), and so do we on every answer that carries it;
- the Response Authenticator (s3) = MD5(Code | Identifier | Length | Request Authenticator
  | Attributes | secret); an answer whose Identifier or Response Authenticator does not
  match is silently discarded (s4.2) -- here: `ProtocolError`.
"""
from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from ipaddress import IPv4Address

from .errors import ProtocolError

__all__ = [
    "ACCESS_REQUEST", "ACCESS_ACCEPT", "ACCESS_REJECT", "ACCESS_CHALLENGE", "Attr",
    "RadiusPacket", "access_request", "verify_answer", "chap_attributes",
    "NAS_PORT_TYPE_VIRTUAL", "NAS_PORT_TYPE_WIRELESS_CDMA2000", "SERVICE_TYPE_FRAMED",
    "FRAMED_PROTOCOL_PPP",
]

ACCESS_REQUEST, ACCESS_ACCEPT, ACCESS_REJECT, ACCESS_CHALLENGE = 1, 2, 3, 11
_HEADER = struct.Struct("!BBH16s")
MIN_LENGTH, MAX_LENGTH = 20, 4096

SERVICE_TYPE_FRAMED = 2             # RFC 2865 s5.6
FRAMED_PROTOCOL_PPP = 1             # s5.7
NAS_PORT_TYPE_VIRTUAL = 5           # s5.41
NAS_PORT_TYPE_WIRELESS_CDMA2000 = 22    # IANA radius-types (RFC 2865 s5.41 registry)


class Attr:
    """RFC 2865 s5 attribute types used here (and RFC 3579 s3.2)."""
    USER_NAME = 1
    CHAP_PASSWORD = 3
    NAS_IP_ADDRESS = 4
    SERVICE_TYPE = 6
    FRAMED_PROTOCOL = 7
    FRAMED_IP_ADDRESS = 8
    FRAMED_MTU = 12
    REPLY_MESSAGE = 18
    SESSION_TIMEOUT = 27
    CALLING_STATION_ID = 31
    NAS_IDENTIFIER = 32
    CHAP_CHALLENGE = 60
    NAS_PORT_TYPE = 61
    MESSAGE_AUTHENTICATOR = 80


@dataclass(frozen=True)
class RadiusPacket:
    code: int
    identifier: int
    authenticator: bytes
    attributes: tuple[tuple[int, bytes], ...] = ()

    def get(self, kind: int) -> bytes | None:
        return next((v for t, v in self.attributes if t == kind), None)

    def encode(self) -> bytes:
        body = b""
        for kind, value in self.attributes:
            if not 0 <= len(value) <= 253:
                raise ProtocolError(f"attribute {kind} value of {len(value)} octets")
            body += bytes((kind, len(value) + 2)) + value
        length = MIN_LENGTH + len(body)
        if length > MAX_LENGTH or len(self.authenticator) != 16:
            raise ProtocolError(f"RADIUS packet of {length} octets or a bad Authenticator")
        return _HEADER.pack(self.code, self.identifier & 0xFF, length, self.authenticator) + body

    @classmethod
    def decode(cls, data: bytes) -> RadiusPacket:
        data = bytes(data)
        if len(data) < MIN_LENGTH:
            raise ProtocolError(f"RADIUS packet of {len(data)} octets is shorter than 20")
        code, identifier, length, authenticator = _HEADER.unpack_from(data)
        if not MIN_LENGTH <= length <= MAX_LENGTH or length > len(data):
            raise ProtocolError(f"RADIUS Length {length} with {len(data)} octets received")
        attrs, at = [], MIN_LENGTH
        while at < length:                         # s3: octets past Length are padding
            if length - at < 2 or data[at + 1] < 2 or at + data[at + 1] > length:
                raise ProtocolError(f"RADIUS attribute at octet {at} is malformed")
            attrs.append((data[at], data[at + 2:at + data[at + 1]]))
            at += data[at + 1]
        return cls(code, identifier, authenticator, tuple(attrs))


def _message_authenticator(packet: bytes, secret: bytes) -> bytes:
    return hmac.new(secret, packet, hashlib.md5).digest()


def _with_zero_ma(packet: RadiusPacket, authenticator: bytes) -> bytes:
    attrs = tuple((t, bytes(16) if t == Attr.MESSAGE_AUTHENTICATOR else v)
                  for t, v in packet.attributes)
    return RadiusPacket(packet.code, packet.identifier, authenticator, attrs).encode()


def access_request(identifier: int, authenticator: bytes, attributes, secret: bytes) -> bytes:
    """An Access-Request with a Message-Authenticator (RFC 3579 s3.2), as bytes."""
    attrs = tuple((t, bytes(v)) for t, v in attributes
                  if t != Attr.MESSAGE_AUTHENTICATOR) + ((Attr.MESSAGE_AUTHENTICATOR, bytes(16)),)
    packet = RadiusPacket(ACCESS_REQUEST, identifier, bytes(authenticator), attrs)
    ma = _message_authenticator(packet.encode(), secret)
    return RadiusPacket(ACCESS_REQUEST, identifier, packet.authenticator,
                        attrs[:-1] + ((Attr.MESSAGE_AUTHENTICATOR, ma),)).encode()


def verify_answer(data: bytes, identifier: int, request_authenticator: bytes,
                  secret: bytes) -> RadiusPacket:
    """Decode an answer to our request and check it (s3 Response Authenticator, RFC 3579
    Message-Authenticator when present); `ProtocolError` says why it must be discarded."""
    packet = RadiusPacket.decode(data)
    if packet.code not in (ACCESS_ACCEPT, ACCESS_REJECT, ACCESS_CHALLENGE):
        raise ProtocolError(f"RADIUS code {packet.code} is not an answer to an Access-Request")
    if packet.identifier != identifier & 0xFF:
        raise ProtocolError(f"RADIUS Identifier {packet.identifier}, expected {identifier}")
    length = struct.unpack_from("!H", data, 2)[0]
    expected = hashlib.md5(bytes(data[:4]) + bytes(request_authenticator)
                           + bytes(data[MIN_LENGTH:length]) + secret).digest()
    if not hmac.compare_digest(expected, packet.authenticator):
        raise ProtocolError("RADIUS Response Authenticator does not verify (wrong secret?)")
    ma = packet.get(Attr.MESSAGE_AUTHENTICATOR)
    if ma is not None:
        mine = _message_authenticator(_with_zero_ma(packet, bytes(request_authenticator)), secret)
        if len(ma) != 16 or not hmac.compare_digest(mine, ma):
            raise ProtocolError("RADIUS Message-Authenticator does not verify")
    return packet


def chap_attributes(chap_identifier: int, response: bytes,
                    challenge: bytes) -> list[tuple[int, bytes]]:
    """RFC 2865 s5.3 CHAP-Password (CHAP Ident + Response) and s5.40 CHAP-Challenge."""
    if len(response) != 16:
        raise ProtocolError(f"a CHAP-MD5 Response has 16 octets, not {len(response)}")
    if not 1 <= len(challenge) <= 253:
        raise ProtocolError(f"CHAP-Challenge of {len(challenge)} octets")
    return [(Attr.CHAP_PASSWORD, bytes((chap_identifier & 0xFF,)) + bytes(response)),
            (Attr.CHAP_CHALLENGE, bytes(challenge))]


def framed_ip_address(packet: RadiusPacket) -> IPv4Address | None:
    """s5.8 Framed-IP-Address of an Access-Accept (0xFFFFFFFF / 0xFFFFFFFE: the NAS picks)."""
    value = packet.get(Attr.FRAMED_IP_ADDRESS)
    if value is None or len(value) != 4 or value in (b"\xff\xff\xff\xff", b"\xff\xff\xff\xfe"):
        return None
    return IPv4Address(value)


__all__ += ["Attr", "framed_ip_address"]
