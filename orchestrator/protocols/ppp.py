"""PPP over Ethernet with LCP, CHAP and IPCP: the cellular data session's wire formats (pure).

RFC 6252 C.5.2's CDMA testbed sets up the mobile's data session with PPP (LCP, CHAP, IPCP)
between the mobile and the PDSN. This kernel has no PPP driver (no /dev/ppp), so the
testbed speaks PPP itself, framed as PPP over Ethernet on the emulated link so that every
frame is standard and Wireshark dissects it. This module is the codecs; the negotiation
automata are in `ppp_fsm`, the I/O in `orchestrator.agents.cellular`.

Frames (RFC 2516 s4, Ethernet II)::

    dst (6) src (6) EtherType (2)   0x8863 discovery, 0x8864 session
    VER=1 (4 bits) TYPE=1 (4 bits)  CODE (1)  SESSION_ID (2)  LENGTH (2)  payload (LENGTH)

- Discovery (RFC 2516 s5): PADI 0x09, PADO 0x07, PADR 0x19, PADS 0x65, PADT 0xa7; the payload
  is TAGs: TAG_TYPE (2) TAG_LENGTH (2) value (s5, Appendix A).
- Session (RFC 2516 s6): CODE 0x00, the payload is a PPP frame without address/control
  fields: PPP Protocol (2) + information (RFC 1661 s2; s7 of RFC 2516 forbids ACFC and
  discourages PFC, so the Protocol field always has two octets here).
- LCP and IPCP packets (RFC 1661 s5, RFC 1332 s2): Code (1) Identifier (1) Length (2) data;
  Configure-* data is a list of options Type (1) Length (1, >= 2) value (RFC 1661 s6).
- CHAP packets (RFC 1994 s4): Code (1) Identifier (1) Length (2); Challenge/Response carry
  Value-Size (1) Value Name, Success/Failure a Message. The MD5 response (s4.1) is
  MD5(Identifier || secret || challenge).

Every decoder returns a value or raises `ProtocolError` (never another exception). Octets
after an Ethernet frame's PPPoE LENGTH are padding (the 60-octet minimum) and ignored.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from .errors import ProtocolError

__all__ = [
    "ETH_P_PPP_DISC", "ETH_P_PPP_SES", "BROADCAST", "PADI", "PADO", "PADR", "PADS", "PADT",
    "SESSION_DATA", "Tag", "TagType", "EthernetFrame", "PppoeDiscovery", "PppoeSession",
    "PROTO_LCP", "PROTO_CHAP", "PROTO_IPCP", "PROTO_IPV4", "PROTO_PAP", "ControlPacket",
    "Option", "LcpCode", "LcpOption", "IpcpOption", "ChapCode", "ChapPacket", "CHAP_MD5",
    "chap_md5_response", "decode_options", "encode_options", "u16", "u32", "ipv4",
    "MAX_MRU", "ProtocolError",
]

ETH_P_PPP_DISC = 0x8863          # RFC 2516 s4: Discovery stage
ETH_P_PPP_SES = 0x8864           # RFC 2516 s4: PPP Session stage
BROADCAST = b"\xff" * 6
ETH_HEADER = struct.Struct("!6s6sH")
PPPOE_HEADER = struct.Struct("!BBHH")
PPPOE_VER_TYPE = 0x11            # VER 1, TYPE 1 (RFC 2516 s4)
ETH_MIN_FRAME = 60               # without FCS: senders pad to it
MAX_MRU = 1492                   # RFC 2516 s7: 1500 - 6 (PPPoE) - 2 (PPP Protocol)

# RFC 2516 s5 discovery codes, s6 session code
PADI, PADO, PADR, PADS, PADT = 0x09, 0x07, 0x19, 0x65, 0xA7
SESSION_DATA = 0x00
DISCOVERY_CODES = {PADI: "PADI", PADO: "PADO", PADR: "PADR", PADS: "PADS", PADT: "PADT"}

# PPP DLL Protocol Numbers (RFC 1661 s2, RFC 1994 s2, RFC 1332 s2)
PROTO_IPV4, PROTO_IPCP = 0x0021, 0x8021
PROTO_LCP, PROTO_PAP, PROTO_CHAP = 0xC021, 0xC023, 0xC223
CHAP_MD5 = 5                     # RFC 1994 s3: Algorithm 5, MD5


def u16(value: int) -> bytes:
    return struct.pack("!H", value)


def u32(value: int) -> bytes:
    return struct.pack("!I", value)


def ipv4(value: IPv4Address | str) -> bytes:
    return IPv4Address(value).packed


def _mac(raw: bytes, what: str) -> bytes:
    raw = bytes(raw)
    if len(raw) != 6:
        raise ProtocolError(f"{what} must be 6 octets, not {len(raw)}")
    return raw


# --- Ethernet II + PPPoE header (RFC 2516 s4) ---------------------------------------------


@dataclass(frozen=True)
class EthernetFrame:
    """An Ethernet II frame carrying PPPoE; `payload` is the PPPoE header and its payload."""
    dst: bytes
    src: bytes
    ethertype: int
    payload: bytes

    def encode(self) -> bytes:
        frame = (ETH_HEADER.pack(_mac(self.dst, "destination"), _mac(self.src, "source"),
                                 self.ethertype) + self.payload)
        return frame + bytes(max(0, ETH_MIN_FRAME - len(frame)))

    @classmethod
    def decode(cls, frame: bytes) -> EthernetFrame:
        frame = bytes(frame)
        if len(frame) < ETH_HEADER.size:
            raise ProtocolError(f"Ethernet frame of {len(frame)} octets is too short")
        dst, src, ethertype = ETH_HEADER.unpack_from(frame)
        if ethertype not in (ETH_P_PPP_DISC, ETH_P_PPP_SES):
            raise ProtocolError(f"EtherType 0x{ethertype:04x} is not PPPoE")
        return cls(dst, src, ethertype, frame[ETH_HEADER.size:])


def _pppoe_header(data: bytes, ethertype: int) -> tuple[int, int, bytes]:
    """(CODE, SESSION_ID, payload) of a PPPoE packet; padding after LENGTH is dropped."""
    if len(data) < PPPOE_HEADER.size:
        raise ProtocolError(f"PPPoE packet of {len(data)} octets is shorter than its header")
    ver_type, code, session_id, length = PPPOE_HEADER.unpack_from(data)
    if ver_type != PPPOE_VER_TYPE:
        raise ProtocolError(f"PPPoE VER/TYPE 0x{ver_type:02x}, expected 0x11 (RFC 2516 s4)")
    if length > len(data) - PPPOE_HEADER.size:
        raise ProtocolError(f"PPPoE LENGTH {length} exceeds the "
                            f"{len(data) - PPPOE_HEADER.size} octets received")
    if ethertype == ETH_P_PPP_SES and code != SESSION_DATA:
        raise ProtocolError(f"PPPoE session packet with CODE 0x{code:02x} (must be 0x00)")
    if ethertype == ETH_P_PPP_DISC and code not in DISCOVERY_CODES:
        raise ProtocolError(f"unknown PPPoE discovery CODE 0x{code:02x}")
    return code, session_id, data[PPPOE_HEADER.size:PPPOE_HEADER.size + length]


# --- Discovery (RFC 2516 s5, Appendix A) ----------------------------------------------------


class TagType:
    """RFC 2516 Appendix A TAG_TYPEs."""
    END_OF_LIST = 0x0000
    SERVICE_NAME = 0x0101
    AC_NAME = 0x0102
    HOST_UNIQ = 0x0103
    AC_COOKIE = 0x0104
    VENDOR_SPECIFIC = 0x0105
    RELAY_SESSION_ID = 0x0110
    SERVICE_NAME_ERROR = 0x0201
    AC_SYSTEM_ERROR = 0x0202
    GENERIC_ERROR = 0x0203


@dataclass(frozen=True)
class Tag:
    type: int
    value: bytes = b""

    def encode(self) -> bytes:
        if len(self.value) > 0xFFFF:
            raise ProtocolError(f"TAG 0x{self.type:04x} value of {len(self.value)} octets")
        return struct.pack("!HH", self.type, len(self.value)) + self.value


@dataclass(frozen=True)
class PppoeDiscovery:
    """A discovery packet (RFC 2516 s5): PADI, PADO, PADR, PADS or PADT with its TAGs.

    `decode` checks what s5 requires of each code: PADI, PADO and PADR carry SESSION_ID 0,
    PADS a session (or a Service-Name-Error with 0), PADT a non-zero session; PADI and PADR
    exactly one Service-Name, PADO an AC-Name and at least one Service-Name."""
    code: int
    session_id: int = 0
    tags: tuple[Tag, ...] = ()

    def tag(self, kind: int) -> bytes | None:
        """The first TAG of type `kind` (its value), or None."""
        return next((t.value for t in self.tags if t.type == kind), None)

    def all(self, kind: int) -> list[bytes]:
        return [t.value for t in self.tags if t.type == kind]

    @property
    def name(self) -> str:
        return DISCOVERY_CODES.get(self.code, f"0x{self.code:02x}")

    def encode(self) -> bytes:
        body = b"".join(t.encode() for t in self.tags)
        if len(body) > MAX_MRU + 2:
            raise ProtocolError(f"{self.name} payload of {len(body)} octets exceeds 1494")
        return PPPOE_HEADER.pack(PPPOE_VER_TYPE, self.code, self.session_id, len(body)) + body

    def frame(self, dst: bytes, src: bytes) -> bytes:
        return EthernetFrame(dst, src, ETH_P_PPP_DISC, self.encode()).encode()

    @classmethod
    def decode(cls, data: bytes) -> PppoeDiscovery:
        code, session_id, payload = _pppoe_header(bytes(data), ETH_P_PPP_DISC)
        tags, at = [], 0
        while at < len(payload):
            if len(payload) - at < 4:
                raise ProtocolError(f"{len(payload) - at} octets left where a TAG header goes")
            kind, length = struct.unpack_from("!HH", payload, at)
            if at + 4 + length > len(payload):
                raise ProtocolError(f"TAG 0x{kind:04x} length {length} runs past the payload")
            if kind == TagType.END_OF_LIST:        # s5 / Appendix A: ignore what follows
                break
            tags.append(Tag(kind, payload[at + 4:at + 4 + length]))
            at += 4 + length
        packet = cls(code, session_id, tuple(tags))
        packet._check()
        return packet

    def _check(self) -> None:
        services = self.all(TagType.SERVICE_NAME)
        if self.code in (PADI, PADO, PADR) and self.session_id != 0:
            raise ProtocolError(f"{self.name} with SESSION_ID 0x{self.session_id:04x} (must be 0)")
        if self.code in (PADI, PADR) and len(services) != 1:
            raise ProtocolError(f"{self.name} with {len(services)} Service-Name TAGs (needs one)")
        if self.code == PADO and (self.tag(TagType.AC_NAME) is None or not services):
            raise ProtocolError("PADO without AC-Name or Service-Name TAG")
        if self.code == PADS and self.session_id == 0 and not self.is_error():
            raise ProtocolError("PADS with SESSION_ID 0 and no error TAG")
        if self.code == PADT and self.session_id == 0:
            raise ProtocolError("PADT with SESSION_ID 0")

    def is_error(self) -> bool:
        return any(t.type in (TagType.SERVICE_NAME_ERROR, TagType.AC_SYSTEM_ERROR,
                              TagType.GENERIC_ERROR) for t in self.tags)


@dataclass(frozen=True)
class PppoeSession:
    """A PPPoE session packet (RFC 2516 s6): SESSION_ID and one PPP frame (Protocol + info)."""
    session_id: int
    protocol: int
    information: bytes

    def encode(self) -> bytes:
        ppp = u16(self.protocol) + self.information
        return PPPOE_HEADER.pack(PPPOE_VER_TYPE, SESSION_DATA, self.session_id, len(ppp)) + ppp

    def frame(self, dst: bytes, src: bytes) -> bytes:
        return EthernetFrame(dst, src, ETH_P_PPP_SES, self.encode()).encode()

    @classmethod
    def decode(cls, data: bytes) -> PppoeSession:
        _, session_id, payload = _pppoe_header(bytes(data), ETH_P_PPP_SES)
        if session_id == 0:
            raise ProtocolError("PPPoE session packet with SESSION_ID 0")
        if len(payload) < 2:
            raise ProtocolError(f"PPP frame of {len(payload)} octets has no Protocol field")
        protocol = struct.unpack_from("!H", payload)[0]
        # RFC 1661 s2: Protocol values are odd, and the high octet's low bit is 0
        if protocol & 0x0101 != 0x0001:
            raise ProtocolError(f"PPP Protocol 0x{protocol:04x} is not a valid Protocol number")
        return cls(session_id, protocol, payload[2:])


# --- LCP / IPCP control packets and options (RFC 1661 s5, s6; RFC 1332) -----------------


class LcpCode:
    """RFC 1661 s5 codes (IPCP uses 1-7, RFC 1332 s2)."""
    CONFIGURE_REQUEST = 1
    CONFIGURE_ACK = 2
    CONFIGURE_NAK = 3
    CONFIGURE_REJECT = 4
    TERMINATE_REQUEST = 5
    TERMINATE_ACK = 6
    CODE_REJECT = 7
    PROTOCOL_REJECT = 8
    ECHO_REQUEST = 9
    ECHO_REPLY = 10
    DISCARD_REQUEST = 11


CONFIGURE_CODES = (LcpCode.CONFIGURE_REQUEST, LcpCode.CONFIGURE_ACK, LcpCode.CONFIGURE_NAK,
                   LcpCode.CONFIGURE_REJECT)


class LcpOption:
    """RFC 1661 s6 LCP Configuration Options."""
    MRU = 1
    AUTH_PROTOCOL = 3
    QUALITY_PROTOCOL = 4
    MAGIC_NUMBER = 5
    PFC = 7
    ACFC = 8


class IpcpOption:
    """RFC 1332 s3 and RFC 1877 IPCP Configuration Options."""
    IP_ADDRESSES = 1
    IP_COMPRESSION = 2
    IP_ADDRESS = 3
    PRIMARY_DNS = 129
    PRIMARY_NBNS = 130
    SECONDARY_DNS = 131
    SECONDARY_NBNS = 132


@dataclass(frozen=True)
class Option:
    type: int
    value: bytes = b""

    def encode(self) -> bytes:
        if len(self.value) > 253:
            raise ProtocolError(f"option {self.type} value of {len(self.value)} octets")
        return bytes((self.type, len(self.value) + 2)) + self.value


def encode_options(options) -> bytes:
    return b"".join(o.encode() for o in options)


def decode_options(data: bytes) -> tuple[Option, ...]:
    """RFC 1661 s6: Type (1) Length (1, counts both) value. A Length below 2 or past the end
    is malformed."""
    data = bytes(data)
    out, at = [], 0
    while at < len(data):
        if len(data) - at < 2:
            raise ProtocolError(f"option header truncated at octet {at}")
        kind, length = data[at], data[at + 1]
        if length < 2 or at + length > len(data):
            raise ProtocolError(f"option {kind} Length {length} is invalid at octet {at}")
        out.append(Option(kind, data[at + 2:at + length]))
        at += length
    return tuple(out)


_CONTROL = struct.Struct("!BBH")


@dataclass(frozen=True)
class ControlPacket:
    """An LCP or IPCP packet (RFC 1661 s5): Code, Identifier, data. Configure-* data are
    options (`options`); Echo/Discard data start with the Magic-Number (`magic`)."""
    code: int
    identifier: int
    data: bytes = b""

    def encode(self) -> bytes:
        if len(self.data) > 0xFFFF - 4:
            raise ProtocolError(f"control packet data of {len(self.data)} octets")
        return _CONTROL.pack(self.code, self.identifier & 0xFF, len(self.data) + 4) + self.data

    @classmethod
    def configure(cls, code: int, identifier: int, options) -> ControlPacket:
        return cls(code, identifier, encode_options(options))

    @property
    def options(self) -> tuple[Option, ...]:
        if self.code not in CONFIGURE_CODES:
            raise ProtocolError(f"code {self.code} carries no options")
        return decode_options(self.data)

    @property
    def magic(self) -> int:
        if len(self.data) < 4:
            raise ProtocolError(f"code {self.code} packet without a Magic-Number")
        return struct.unpack_from("!I", self.data)[0]

    @property
    def rejected_protocol(self) -> int:
        """Protocol-Reject (RFC 1661 s5.8): the Rejected-Protocol field."""
        if self.code != LcpCode.PROTOCOL_REJECT or len(self.data) < 2:
            raise ProtocolError("not a Protocol-Reject with a Rejected-Protocol field")
        return struct.unpack_from("!H", self.data)[0]

    @classmethod
    def decode(cls, data: bytes) -> ControlPacket:
        """Octets after Length are padding (RFC 1661 s5) and dropped; a Length below 4 or
        past the end of the data is malformed."""
        data = bytes(data)
        if len(data) < 4:
            raise ProtocolError(f"control packet of {len(data)} octets is shorter than 4")
        code, identifier, length = _CONTROL.unpack_from(data)
        if length < 4 or length > len(data):
            raise ProtocolError(f"control packet Length {length} with {len(data)} octets")
        packet = cls(code, identifier, data[4:length])
        if code in CONFIGURE_CODES:
            packet.options  # noqa: B018 - validates the option list
        return packet


# --- CHAP (RFC 1994 s4) -----------------------------------------------------------------


class ChapCode:
    CHALLENGE = 1
    RESPONSE = 2
    SUCCESS = 3
    FAILURE = 4


@dataclass(frozen=True)
class ChapPacket:
    """Challenge/Response: `value` (Value-Size octets) and `name`; Success/Failure: `message`
    (kept in `name`)."""
    code: int
    identifier: int
    value: bytes = b""
    name: bytes = b""

    @property
    def message(self) -> bytes:
        return self.name

    def encode(self) -> bytes:
        if self.code in (ChapCode.CHALLENGE, ChapCode.RESPONSE):
            if not 1 <= len(self.value) <= 255:
                raise ProtocolError(f"CHAP Value-Size {len(self.value)} (1..255)")
            body = bytes((len(self.value),)) + self.value + self.name
        else:
            body = self.name
        return _CONTROL.pack(self.code, self.identifier & 0xFF, len(body) + 4) + body

    @classmethod
    def decode(cls, data: bytes) -> ChapPacket:
        data = bytes(data)
        if len(data) < 4:
            raise ProtocolError(f"CHAP packet of {len(data)} octets is shorter than 4")
        code, identifier, length = _CONTROL.unpack_from(data)
        if length < 4 or length > len(data):
            raise ProtocolError(f"CHAP Length {length} with {len(data)} octets")
        body = data[4:length]
        if code in (ChapCode.CHALLENGE, ChapCode.RESPONSE):
            if not body or body[0] == 0 or 1 + body[0] > len(body):
                raise ProtocolError("CHAP Value-Size is zero or runs past the packet")
            return cls(code, identifier, body[1:1 + body[0]], body[1 + body[0]:])
        if code in (ChapCode.SUCCESS, ChapCode.FAILURE):
            return cls(code, identifier, b"", body)
        raise ProtocolError(f"unknown CHAP Code {code}")


def chap_md5_response(identifier: int, secret: bytes, challenge: bytes) -> bytes:
    """RFC 1994 s4.1: the Response Value is the one-way hash over the Identifier, followed
    by the secret, followed by the Challenge Value (MD5, Algorithm 5: 16 octets)."""
    return hashlib.md5(bytes((identifier & 0xFF,)) + bytes(secret) + bytes(challenge)).digest()


@dataclass(frozen=True)
class Frame:
    """A decoded Ethernet frame: addresses plus the PPPoE packet it carries."""
    dst: bytes
    src: bytes
    packet: PppoeDiscovery | PppoeSession = field(compare=False)


def decode_frame(frame: bytes) -> Frame:
    """Any PPPoE frame (discovery or session) as received from an AF_PACKET socket."""
    eth = EthernetFrame.decode(frame)
    packet = (PppoeDiscovery.decode(eth.payload) if eth.ethertype == ETH_P_PPP_DISC
              else PppoeSession.decode(eth.payload))
    return Frame(eth.dst, eth.src, packet)


__all__ += ["Frame", "decode_frame", "DISCOVERY_CODES", "CONFIGURE_CODES"]
