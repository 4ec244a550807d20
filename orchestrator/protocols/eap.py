"""EAP packet codec (RFC 3748).

Who does what: `EapPacket` knows the wire format of every EAP packet (RFC 3748 s4: Code,
Identifier, Length, Data; s4.1 Request/Response carry a Type; s4.2 Success/Failure carry
nothing). The helper functions build and read the initial Types of RFC 3748 s5 (Identity
s5.1, Notification s5.2, Nak s5.3.1). Methods such as EAP-TLS live in their own modules.

Every malformed input raises `ProtocolError`; RFC 3748 s4.1 says such a packet is silently
discarded, which is the caller's decision.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from orchestrator.protocols.errors import ProtocolError

__all__ = [
    "Code",
    "EapType",
    "EapPacket",
    "HEADER_LENGTH",
    "ProtocolError",
    "request",
    "response",
    "success",
    "failure",
    "identity_request",
    "identity_response",
    "identity_of",
    "notification_response",
    "nak_response",
    "nak_desired_types",
]

HEADER_LENGTH = 4  # Code, Identifier, Length (RFC 3748 s4)
MAX_LENGTH = 0xFFFF  # the Length field is two octets


class Code(IntEnum):
    """EAP Codes (RFC 3748 s4)."""

    REQUEST = 1
    RESPONSE = 2
    SUCCESS = 3
    FAILURE = 4


class EapType(IntEnum):
    """EAP Types used in this testbed (RFC 3748 s5, IANA "EAP Method Types")."""

    IDENTITY = 1
    NOTIFICATION = 2
    NAK = 3  # Legacy Nak, Response only (s5.3.1)
    MD5_CHALLENGE = 4
    OTP = 5
    GTC = 6
    TLS = 13  # RFC 5216, RFC 9190
    TTLS = 21
    PEAP = 25
    MSCHAPV2 = 26
    EXPANDED = 254  # s5.7
    EXPERIMENTAL = 255  # s5.8


@dataclass(frozen=True)
class EapPacket:
    """One EAP packet (RFC 3748 s4).

    ``type`` and ``type_data`` are present for Request and Response (s4.1) and absent
    (``None`` and ``b""``) for Success and Failure (s4.2).
    """

    code: Code
    identifier: int
    type: int | None = None
    type_data: bytes = b""

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "code", Code(self.code))
        except ValueError:
            raise ProtocolError(f"unknown EAP Code {self.code!r} (RFC 3748 s4)") from None
        if not isinstance(self.identifier, int) or not 0 <= self.identifier <= 0xFF:
            raise ProtocolError(f"EAP Identifier {self.identifier!r} is not one octet")
        if not isinstance(self.type_data, (bytes, bytearray)):
            raise ProtocolError("EAP Type-Data must be bytes")
        object.__setattr__(self, "type_data", bytes(self.type_data))
        if self.code in (Code.SUCCESS, Code.FAILURE):
            if self.type is not None or self.type_data:
                raise ProtocolError(
                    f"EAP {self.code.name.title()} carries no Type or Data (RFC 3748 s4.2)"
                )
            return
        if not isinstance(self.type, int) or not 1 <= self.type <= 0xFF:
            raise ProtocolError(
                f"EAP {self.code.name.title()} needs a Type of 1..255, got {self.type!r} "
                "(RFC 3748 s4.1)"
            )
        if self.type == EapType.NAK and self.code == Code.REQUEST:
            raise ProtocolError("Nak is valid only in Responses (RFC 3748 s5.3)")
        if self.type == EapType.EXPANDED and len(self.type_data) < 7:
            raise ProtocolError(
                "Expanded Type needs 3 octets Vendor-Id and 4 octets Vendor-Type (RFC 3748 s5.7)"
            )
        if HEADER_LENGTH + 1 + len(self.type_data) > MAX_LENGTH:
            raise ProtocolError("EAP packet longer than 65535 octets")

    @property
    def length(self) -> int:
        """Value of the Length field (RFC 3748 s4)."""
        if self.type is None:
            return HEADER_LENGTH
        return HEADER_LENGTH + 1 + len(self.type_data)

    def encode(self) -> bytes:
        """Wire bytes of this packet."""
        head = struct.pack("!BBH", self.code, self.identifier, self.length)
        if self.type is None:
            return head
        return head + bytes([self.type]) + self.type_data

    @classmethod
    def decode(cls, data: bytes) -> EapPacket:
        """Parse one EAP packet.

        Octets after Length are link-layer padding and are ignored (RFC 3748 s4); a Length
        larger than the octets received, shorter than the header, or inconsistent with the
        Code is an error.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ProtocolError("EAP packet must be bytes")
        data = bytes(data)
        if len(data) < HEADER_LENGTH:
            raise ProtocolError(f"EAP packet of {len(data)} octets is shorter than its header")
        code, identifier, length = struct.unpack_from("!BBH", data)
        if code not in Code._value2member_map_:
            raise ProtocolError(f"unknown EAP Code {code} (RFC 3748 s4)")
        if length < HEADER_LENGTH:
            raise ProtocolError(f"EAP Length {length} is shorter than the 4-octet header")
        if length > len(data):
            raise ProtocolError(
                f"EAP Length {length} exceeds the {len(data)} octets received (RFC 3748 s4)"
            )
        body = data[HEADER_LENGTH:length]
        code = Code(code)
        if code in (Code.SUCCESS, Code.FAILURE):
            if body:
                raise ProtocolError(
                    f"EAP {code.name.title()} with Length {length}; it must be 4 (RFC 3748 s4.2)"
                )
            return cls(code, identifier)
        if not body:
            raise ProtocolError(f"EAP {code.name.title()} without a Type (RFC 3748 s4.1)")
        return cls(code, identifier, body[0], body[1:])

    @property
    def is_request(self) -> bool:
        return self.code == Code.REQUEST

    def __repr__(self) -> str:
        if self.type is None:
            return f"EapPacket({self.code.name}, id={self.identifier})"
        try:
            type_name = EapType(self.type).name
        except ValueError:
            type_name = str(self.type)
        return (
            f"EapPacket({self.code.name}, id={self.identifier}, type={type_name}, "
            f"{len(self.type_data)} octets)"
        )


def request(identifier: int, eap_type: int, type_data: bytes = b"") -> EapPacket:
    """An EAP Request (RFC 3748 s4.1)."""
    return EapPacket(Code.REQUEST, identifier, eap_type, type_data)


def response(identifier: int, eap_type: int, type_data: bytes = b"") -> EapPacket:
    """An EAP Response (RFC 3748 s4.1); its Identifier echoes the Request's."""
    return EapPacket(Code.RESPONSE, identifier, eap_type, type_data)


def success(identifier: int) -> EapPacket:
    """EAP Success (RFC 3748 s4.2)."""
    return EapPacket(Code.SUCCESS, identifier)


def failure(identifier: int) -> EapPacket:
    """EAP Failure (RFC 3748 s4.2)."""
    return EapPacket(Code.FAILURE, identifier)


def identity_request(identifier: int, message: bytes = b"") -> EapPacket:
    """Request/Identity with an optional displayable message (RFC 3748 s5.1)."""
    return request(identifier, EapType.IDENTITY, message)


def identity_response(identifier: int, identity: str) -> EapPacket:
    """Response/Identity carrying the peer's identity, UTF-8, not NUL-terminated (s5.1)."""
    return response(identifier, EapType.IDENTITY, identity.encode("utf-8"))


def identity_of(packet: EapPacket) -> str:
    """The identity in a Response/Identity, or the displayable part of a Request/Identity.

    A Request's message ends at the first NUL; what follows is options (RFC 3748 s5.1).
    """
    if packet.type != EapType.IDENTITY:
        raise ProtocolError(f"{packet!r} is not an Identity packet")
    raw = packet.type_data
    if packet.code == Code.REQUEST:
        raw = raw.split(b"\x00", 1)[0]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"Identity is not UTF-8 (RFC 3748 s5.1): {exc.reason}") from None


def notification_response(identifier: int) -> EapPacket:
    """Response/Notification: zero-length Type-Data (RFC 3748 s5.2)."""
    return response(identifier, EapType.NOTIFICATION)


def nak_response(identifier: int, desired_types: tuple[int, ...] | list[int] = ()) -> EapPacket:
    """Legacy Nak listing the authentication Types the peer wants (RFC 3748 s5.3.1).

    An empty ``desired_types`` sends the single octet 0: no alternative is acceptable.
    """
    desired = bytes(desired_types) if desired_types else b"\x00"
    for t in desired_types:
        if not 4 <= t <= 253:
            raise ProtocolError(f"Type {t} cannot be proposed in a Nak (RFC 3748 s5.3.1)")
    return response(identifier, EapType.NAK, desired)


def nak_desired_types(packet: EapPacket) -> tuple[int, ...]:
    """The Types proposed by a Nak; ``()`` when it says none is acceptable (s5.3.1)."""
    if packet.code != Code.RESPONSE or packet.type != EapType.NAK:
        raise ProtocolError(f"{packet!r} is not a Nak Response")
    if not packet.type_data:
        raise ProtocolError("Nak without Type-Data (RFC 3748 s5.3.1)")
    if packet.type_data == b"\x00":
        return ()
    if 0 in packet.type_data:
        raise ProtocolError("Nak mixes 0 (no alternative) with proposed Types (RFC 3748 s5.3.1)")
    return tuple(packet.type_data)
