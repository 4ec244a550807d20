"""Mobile IPv6 wire formats and return routability cryptography (RFC 6275), pure.

The kernels this testbed runs on have no Mobile IPv6 (no ``CONFIG_IPV6_MIP6``), so the
agents speak it in user space; this module is their codec. Bytes in, values out, and every
parser raises `ProtocolError` and nothing else.

Mobility Header (s6.1.1), the last header of its packet, Next Header 135::

    Payload Proto (8) = 59 | Header Len (8, 8-octet units - 1) | MH Type (8) | Reserved (8)
    Checksum (16) | Message Data (type-specific fields, then mobility options)

========  =====================================  ========================================
MH Type   message (section)                      fixed fields after the Checksum
========  =====================================  ========================================
0         Binding Refresh Request (s6.1.2)        Reserved 16
1         Home Test Init (s6.1.3)                 Reserved 16, Home Init Cookie 64
2         Care-of Test Init (s6.1.4)              Reserved 16, Care-of Init Cookie 64
3         Home Test (s6.1.5)                      Home Nonce Index 16, cookie 64, token 64
4         Care-of Test (s6.1.6)                   Care-of Nonce Index 16, cookie 64, token 64
5         Binding Update (s6.1.7)                 Sequence 16, A H L K flags + 12 reserved,
                                                  Lifetime 16 (4-second units)
6         Binding Acknowledgement (s6.1.8)        Status 8, K flag + 7 reserved, Sequence 16,
                                                  Lifetime 16
7         Binding Error (s6.1.9)                  Status 8, Reserved 8, Home Address 128
========  =====================================  ========================================

Mobility options (s6.2) follow as TLVs (Pad1 is one zero octet); this module inserts Pad1 /
PadN to meet each option's alignment requirement (Binding Refresh Advice 2n, Alternate
Care-of Address 8n+6, Nonce Indices 2n, Binding Authorization Data 8n+2 and last) and pads
the message to a multiple of 8 octets. The Checksum is the Internet checksum over the IPv6
pseudo-header (RFC 8200 s8.1, Next Header 135) and the whole Mobility Header (s6.1.1); the
pseudo-header's addresses are those the upper layer sees: the home address, not the
care-of address, when the packet carries a Home Address option, and the final destination
when it carries a type 2 routing header (`ipv6.checksum_addresses`).

Home Address destination option (s6.3): type 201, 16 octets, alignment 8n+6, so in its own
Destination Options header it follows a 4-octet PadN (24 octets in all). Type 2 Routing
header (s6.4): Hdr Ext Len 2, Routing Type 2, Segments Left 1, Reserved 32, Home Address.

Return routability (s5.2.5)::

    home keygen token    = First(64, HMAC_SHA1(Kcn, (home address | nonce | 0)))
    care-of keygen token = First(64, HMAC_SHA1(Kcn, (care-of address | nonce | 1)))
    Kbm                  = SHA1(home keygen token | care-of keygen token)
                           SHA1(home keygen token)   when deregistering (s5.2.5, s9.5.1)
    Authenticator        = First(96, HMAC_SHA1(Kbm, (care-of address | correspondent | MH Data)))

where 0 and 1 are single octets and MH Data is the Mobility Header with its Checksum zero and
without the 12-octet Authenticator (the option's type and length octets are in it;
s6.2.7). The care-of address is the one being registered (the Alternate Care-of Address
when present, the home address when deleting a binding), the correspondent the CN's
address. Kcn is 20 octets (s5.2.3); nonces are 8 octets here (the RFC leaves their length
to the implementation), cookies and keygen tokens 8 octets.
"""
from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field, replace
from enum import IntEnum
from ipaddress import IPv6Address

from . import ipv6
from .errors import ProtocolError
from .ipv6 import ExtensionHeader, Ipv6Packet

__all__ = [
    "MhType", "OptionType", "BaStatus", "BeStatus", "PAYLOAD_PROTO_NONE", "LIFETIME_UNIT",
    "BindingRefreshAdvice", "AlternateCareOfAddress", "NonceIndices",
    "BindingAuthorizationData", "UnknownOption", "MobilityOption",
    "BindingRefreshRequest", "HomeTestInit", "CareOfTestInit", "HomeTest", "CareOfTest",
    "BindingUpdate", "BindingAck", "BindingError", "UnknownMessage", "MobilityMessage",
    "encode", "decode", "verify_checksum", "home_address_option", "find_home_address",
    "type2_routing_header", "parse_type2_routing_header", "home_keygen_token",
    "care_of_keygen_token", "binding_management_key", "authenticator", "authorize",
    "verify_authorization", "mobility_packet", "parse_mobility_packet", "MobilityPacket",
    "add_home_address_option", "apply_home_address_option", "add_type2_routing_header",
    "apply_type2_routing_header", "ProtocolError",
]

PAYLOAD_PROTO_NONE = ipv6.NH_NONE       # s6.1.1: Payload Proto SHOULD be IPPROTO_NONE (59)
LIFETIME_UNIT = 4                       # s6.1.7: one Lifetime unit is 4 seconds
COOKIE_LENGTH = TOKEN_LENGTH = 8        # s6.1.3-s6.1.6: 64-bit cookies and keygen tokens
AUTHENTICATOR_LENGTH = 12               # s6.2.7: First(96, ...)
KCN_LENGTH = 20                         # s5.2.3
OPT_HOME_ADDRESS = ipv6.OPT_HOME_ADDRESS
RH_TYPE_2 = 2
_MH = struct.Struct("!BBBBH")


class MhType(IntEnum):
    """s6.1.2-s6.1.9 (IANA Mobility Header Types)."""
    BINDING_REFRESH_REQUEST = 0
    HOME_TEST_INIT = 1
    CARE_OF_TEST_INIT = 2
    HOME_TEST = 3
    CARE_OF_TEST = 4
    BINDING_UPDATE = 5
    BINDING_ACK = 6
    BINDING_ERROR = 7


class OptionType(IntEnum):
    """s6.2.2-s6.2.7."""
    PAD1 = 0
    PADN = 1
    BINDING_REFRESH_ADVICE = 2
    ALTERNATE_CARE_OF_ADDRESS = 3
    NONCE_INDICES = 4
    BINDING_AUTHORIZATION_DATA = 5


class BaStatus(IntEnum):
    """Binding Acknowledgement Status (s6.1.8); below 128 accepted, from 128 rejected.
    140-141 are RFC 3963's (NEMO), listed so that a decoded value has a name."""
    ACCEPTED = 0
    ACCEPTED_PREFIX_DISCOVERY_NECESSARY = 1
    REASON_UNSPECIFIED = 128
    ADMINISTRATIVELY_PROHIBITED = 129
    INSUFFICIENT_RESOURCES = 130
    HOME_REGISTRATION_NOT_SUPPORTED = 131
    NOT_HOME_SUBNET = 132
    NOT_HOME_AGENT_FOR_THIS_MOBILE_NODE = 133
    DUPLICATE_ADDRESS_DETECTION_FAILED = 134
    SEQUENCE_NUMBER_OUT_OF_WINDOW = 135
    EXPIRED_HOME_NONCE_INDEX = 136
    EXPIRED_CARE_OF_NONCE_INDEX = 137
    EXPIRED_NONCES = 138
    REGISTRATION_TYPE_CHANGE_DISALLOWED = 139
    MOBILE_ROUTER_OPERATION_NOT_PERMITTED = 140
    INVALID_PREFIX = 141

    @property
    def accepted(self) -> bool:
        return self < 128


class BeStatus(IntEnum):
    """Binding Error Status (s6.1.9)."""
    UNKNOWN_BINDING_FOR_HOME_ADDRESS_OPTION = 1
    UNRECOGNIZED_MH_TYPE = 2


# ---- mobility options (s6.2) ------------------------------------------------------------


def _u16(name: str, value: int) -> None:
    if not 0 <= value <= 0xFFFF:
        raise ProtocolError(f"{name} {value} is not a 16-bit unsigned integer")


@dataclass(frozen=True)
class BindingRefreshAdvice:
    """s6.2.4: the interval (4-second units) after which the MN should refresh (in a BA)."""
    refresh_interval: int
    TYPE = OptionType.BINDING_REFRESH_ADVICE
    ALIGN = (2, 0)

    def __post_init__(self) -> None:
        _u16("Refresh Interval", self.refresh_interval)

    def data(self) -> bytes:
        return struct.pack("!H", self.refresh_interval)

    @classmethod
    def parse(cls, data: bytes) -> BindingRefreshAdvice:
        if len(data) != 2:
            raise ProtocolError(f"Binding Refresh Advice of length {len(data)}, expected 2")
        return cls(struct.unpack("!H", data)[0])


@dataclass(frozen=True)
class AlternateCareOfAddress:
    """s6.2.5: the care-of address to register, instead of the packet's source (in a BU)."""
    address: IPv6Address
    TYPE = OptionType.ALTERNATE_CARE_OF_ADDRESS
    ALIGN = (8, 6)

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", ipv6.address(self.address))

    def data(self) -> bytes:
        return self.address.packed

    @classmethod
    def parse(cls, data: bytes) -> AlternateCareOfAddress:
        if len(data) != 16:
            raise ProtocolError(f"Alternate Care-of Address of length {len(data)}, expected 16")
        return cls(IPv6Address(data))


@dataclass(frozen=True)
class NonceIndices:
    """s6.2.6: which of the CN's nonces the keygen tokens of a BU were made with."""
    home_nonce_index: int
    care_of_nonce_index: int
    TYPE = OptionType.NONCE_INDICES
    ALIGN = (2, 0)

    def __post_init__(self) -> None:
        _u16("Home Nonce Index", self.home_nonce_index)
        _u16("Care-of Nonce Index", self.care_of_nonce_index)

    def data(self) -> bytes:
        return struct.pack("!HH", self.home_nonce_index, self.care_of_nonce_index)

    @classmethod
    def parse(cls, data: bytes) -> NonceIndices:
        if len(data) != 4:
            raise ProtocolError(f"Nonce Indices of length {len(data)}, expected 4")
        return cls(*struct.unpack("!HH", data))


@dataclass(frozen=True)
class BindingAuthorizationData:
    """s6.2.7: the 96-bit Authenticator of a BU or BA; always the last option."""
    authenticator: bytes = bytes(AUTHENTICATOR_LENGTH)
    TYPE = OptionType.BINDING_AUTHORIZATION_DATA
    ALIGN = (8, 2)

    def __post_init__(self) -> None:
        object.__setattr__(self, "authenticator", bytes(self.authenticator))
        if len(self.authenticator) != AUTHENTICATOR_LENGTH:
            raise ProtocolError(f"Authenticator of {len(self.authenticator)} octets, "
                                f"expected {AUTHENTICATOR_LENGTH}")

    def data(self) -> bytes:
        return self.authenticator

    @classmethod
    def parse(cls, data: bytes) -> BindingAuthorizationData:
        return cls(data)


@dataclass(frozen=True)
class UnknownOption:
    """An option this codec does not know; s6.2.1: receivers skip it and go on."""
    type: int
    value: bytes
    ALIGN = (1, 0)

    def __post_init__(self) -> None:
        if not 2 <= self.type < 256 or self.type in _OPTIONS or len(self.value) > 255:
            raise ProtocolError(f"unknown option type {self.type} / length {len(self.value)}")

    @property
    def TYPE(self) -> int:  # noqa: N802 - mirrors the known options' class attribute
        return self.type

    def data(self) -> bytes:
        return self.value


MobilityOption = (BindingRefreshAdvice | AlternateCareOfAddress | NonceIndices
                  | BindingAuthorizationData | UnknownOption)
_OPTIONS = {cls.TYPE: cls for cls in (BindingRefreshAdvice, AlternateCareOfAddress,
                                      NonceIndices, BindingAuthorizationData)}


def _encode_options(start: int, options: tuple) -> bytes:
    """Options after ``start`` octets of Mobility Header, padded to their alignment and the
    whole header to a multiple of 8 octets (s6.2)."""
    out = bytearray()
    for i, opt in enumerate(options):
        if isinstance(opt, BindingAuthorizationData) and i != len(options) - 1:
            raise ProtocolError("the Binding Authorization Data option must be the last one")
        x, y = opt.ALIGN
        out += ipv6.pad_options((y - start - len(out)) % x)
        data = opt.data()
        out += bytes([opt.TYPE, len(data)]) + data
    return bytes(out + ipv6.pad_options(-(start + len(out)) % 8))


def _parse_options(data: bytes, start: int) -> tuple[tuple, list[int]]:
    """(options, offset of each in the Mobility Header); padding left out."""
    options, offsets, at = [], [], 0
    while at < len(data):
        kind = data[at]
        if kind == OptionType.PAD1:
            at += 1
            continue
        if at + 2 > len(data) or at + 2 + data[at + 1] > len(data):
            raise ProtocolError(f"mobility option {kind} at offset {start + at} runs past "
                                f"the Mobility Header")
        value = data[at + 2:at + 2 + data[at + 1]]
        if kind != OptionType.PADN:
            cls = _OPTIONS.get(kind)
            options.append(cls.parse(value) if cls else UnknownOption(kind, value))
            offsets.append(start + at)
        at += 2 + data[at + 1]
    if any(isinstance(o, BindingAuthorizationData) for o in options[:-1]):
        raise ProtocolError("Binding Authorization Data option is not the last option")
    return tuple(options), offsets


# ---- messages (s6.1) --------------------------------------------------------------------


def _cookie(name: str, value: bytes) -> bytes:
    value = bytes(value)
    if len(value) != 8:
        raise ProtocolError(f"{name} of {len(value)} octets, expected 8")
    return value


class _Message:
    """Shared by the message classes: `MH_TYPE`, `FIXED` (their fixed fields after the
    Checksum), `fields()` / `from_fields()`, and a tuple of options."""
    MH_TYPE: int
    FIXED: struct.Struct
    options: tuple

    def option(self, cls):
        """The first option of class ``cls``, or None."""
        return next((o for o in self.options if isinstance(o, cls)), None)


def _options_field():
    return field(default=(), compare=True)


@dataclass(frozen=True)
class BindingRefreshRequest(_Message):
    """s6.1.2: a CN or HA asks the MN to refresh its binding."""
    options: tuple = _options_field()
    MH_TYPE = MhType.BINDING_REFRESH_REQUEST
    FIXED = struct.Struct("!2x")

    def fields(self) -> tuple:
        return ()

    @classmethod
    def from_fields(cls, values, options) -> BindingRefreshRequest:
        return cls(options)


@dataclass(frozen=True)
class _TestInit(_Message):
    """HoTI and CoTI: Reserved 16, an init cookie of 64 bits. The two are siblings, not
    subclasses of each other, so that isinstance() tells them apart."""
    cookie: bytes
    options: tuple = _options_field()
    FIXED = struct.Struct("!2x8s")

    def __post_init__(self) -> None:
        object.__setattr__(self, "cookie", _cookie("init cookie", self.cookie))

    def fields(self) -> tuple:
        return (self.cookie,)

    @classmethod
    def from_fields(cls, values, options):
        return cls(values[0], options)


@dataclass(frozen=True)
class HomeTestInit(_TestInit):
    """s6.1.3: MN -> CN through the HA (reverse tunnelled), source the home address."""
    MH_TYPE = MhType.HOME_TEST_INIT


@dataclass(frozen=True)
class CareOfTestInit(_TestInit):
    """s6.1.4: MN -> CN directly, source the care-of address."""
    MH_TYPE = MhType.CARE_OF_TEST_INIT


@dataclass(frozen=True)
class _Test(_Message):
    """HoT and CoT: a nonce index, the init cookie echoed, a keygen token (siblings)."""
    nonce_index: int
    cookie: bytes
    keygen_token: bytes
    options: tuple = _options_field()
    FIXED = struct.Struct("!H8s8s")

    def __post_init__(self) -> None:
        _u16("nonce index", self.nonce_index)
        object.__setattr__(self, "cookie", _cookie("init cookie", self.cookie))
        object.__setattr__(self, "keygen_token", _cookie("keygen token", self.keygen_token))

    def fields(self) -> tuple:
        return (self.nonce_index, self.cookie, self.keygen_token)

    @classmethod
    def from_fields(cls, values, options):
        return cls(*values, options=options)


@dataclass(frozen=True)
class HomeTest(_Test):
    """s6.1.5: CN -> MN's home address: Home Nonce Index, the cookie echoed, the token."""
    MH_TYPE = MhType.HOME_TEST


@dataclass(frozen=True)
class CareOfTest(_Test):
    """s6.1.6: CN -> MN's care-of address: Care-of Nonce Index, cookie, token."""
    MH_TYPE = MhType.CARE_OF_TEST


@dataclass(frozen=True)
class BindingUpdate(_Message):
    """s6.1.7. ``lifetime`` in 4-second units; ``ack`` (A), ``home_registration`` (H),
    ``link_local`` (L: the home address' interface identifier is the link-local one's),
    ``key_management`` (K)."""
    sequence: int
    lifetime: int
    ack: bool = False
    home_registration: bool = False
    link_local: bool = False
    key_management: bool = False
    options: tuple = _options_field()
    MH_TYPE = MhType.BINDING_UPDATE
    FIXED = struct.Struct("!HHH")

    def __post_init__(self) -> None:
        _u16("Sequence", self.sequence)
        _u16("Lifetime", self.lifetime)

    @property
    def lifetime_seconds(self) -> int:
        return self.lifetime * LIFETIME_UNIT

    def fields(self) -> tuple:
        flags = (self.ack << 15 | self.home_registration << 14 | self.link_local << 13
                 | self.key_management << 12)
        return (self.sequence, flags, self.lifetime)

    @classmethod
    def from_fields(cls, values, options) -> BindingUpdate:
        seq, flags, lifetime = values
        return cls(seq, lifetime, bool(flags & 0x8000), bool(flags & 0x4000),
                   bool(flags & 0x2000), bool(flags & 0x1000), options)


@dataclass(frozen=True)
class BindingAck(_Message):
    """s6.1.8. ``lifetime`` granted, in 4-second units; ``key_management`` (K)."""
    status: int
    sequence: int
    lifetime: int
    key_management: bool = False
    options: tuple = _options_field()
    MH_TYPE = MhType.BINDING_ACK
    FIXED = struct.Struct("!BBHH")

    def __post_init__(self) -> None:
        if not 0 <= self.status < 256:
            raise ProtocolError(f"Status {self.status} is not 8 bits")
        _u16("Sequence", self.sequence)
        _u16("Lifetime", self.lifetime)

    @property
    def lifetime_seconds(self) -> int:
        return self.lifetime * LIFETIME_UNIT

    @property
    def accepted(self) -> bool:
        return self.status < 128

    def fields(self) -> tuple:
        return (self.status, self.key_management << 7, self.sequence, self.lifetime)

    @classmethod
    def from_fields(cls, values, options) -> BindingAck:
        status, flags, seq, lifetime = values
        return cls(status, seq, lifetime, bool(flags & 0x80), options)


@dataclass(frozen=True)
class BindingError(_Message):
    """s6.1.9: status 1 (a Home Address option without a binding) or 2 (unknown MH Type);
    ``home_address`` is the one from that option (unspecified otherwise)."""
    status: int
    home_address: IPv6Address = IPv6Address(0)
    options: tuple = _options_field()
    MH_TYPE = MhType.BINDING_ERROR
    FIXED = struct.Struct("!Bx16s")

    def __post_init__(self) -> None:
        if not 0 <= self.status < 256:
            raise ProtocolError(f"Status {self.status} is not 8 bits")
        object.__setattr__(self, "home_address", ipv6.address(self.home_address))

    def fields(self) -> tuple:
        return (self.status, self.home_address.packed)

    @classmethod
    def from_fields(cls, values, options) -> BindingError:
        return cls(values[0], IPv6Address(values[1]), options)


@dataclass(frozen=True)
class UnknownMessage:
    """A Mobility Header whose MH Type this node does not know: s9.2 says to answer it with
    a Binding Error, status 2. ``data`` is the message data after the Checksum."""
    mh_type: int
    data: bytes


MobilityMessage = (BindingRefreshRequest | HomeTestInit | CareOfTestInit | HomeTest
                   | CareOfTest | BindingUpdate | BindingAck | BindingError)
_MESSAGES = {cls.MH_TYPE: cls for cls in (BindingRefreshRequest, HomeTestInit,
                                          CareOfTestInit, HomeTest, CareOfTest,
                                          BindingUpdate, BindingAck, BindingError)}


def encode(msg: MobilityMessage, src: IPv6Address | str, dst: IPv6Address | str,
           checksum: bool = True) -> bytes:
    """The Mobility Header of ``msg`` with its Checksum for the pseudo-header (src, dst):
    the addresses the upper layer sees (the home address for a packet with a Home Address
    option, the home address as destination with a type 2 routing header). s6.1.1."""
    body = msg.FIXED.pack(*msg.fields())
    body += _encode_options(_MH.size + len(body), tuple(msg.options))
    length = _MH.size + len(body)
    if length > 8 * 256:
        raise ProtocolError(f"Mobility Header of {length} octets exceeds Header Len")
    mh = bytearray(_MH.pack(PAYLOAD_PROTO_NONE, length // 8 - 1, msg.MH_TYPE, 0, 0) + body)
    if checksum:
        mh[4:6] = struct.pack("!H", ipv6.upper_layer_checksum(src, dst, ipv6.NH_MH, mh))
    return bytes(mh)


def verify_checksum(mh: bytes, src: IPv6Address | str, dst: IPv6Address | str) -> bool:
    """The Checksum of a received Mobility Header is right for (src, dst)."""
    return ipv6.upper_layer_checksum(src, dst, ipv6.NH_MH, mh) == 0


def decode(mh: bytes, src: IPv6Address | str | None = None,
           dst: IPv6Address | str | None = None) -> MobilityMessage | UnknownMessage:
    """Parse a Mobility Header (s9.2 checks). With ``src`` and ``dst`` (the pseudo-header's
    addresses, see `encode`) a wrong Checksum is a ProtocolError ("silently discard").
    Octets after Header Len's length are not part of it; the caller saw them as trailing.
    """
    mh = bytes(mh)
    if len(mh) < 8:
        raise ProtocolError(f"Mobility Header of {len(mh)} octets is shorter than 8")
    proto, hlen, mh_type, _, _ = _MH.unpack_from(mh)
    length = (hlen + 1) * 8
    if length > len(mh):
        raise ProtocolError(f"Mobility Header Len {hlen} ({length} octets) exceeds the "
                            f"{len(mh)} octets received")
    mh = mh[:length]
    if proto != PAYLOAD_PROTO_NONE:
        raise ProtocolError(f"Mobility Header Payload Proto {proto}, expected 59 (s9.2: "
                            f"discard, ICMP Parameter Problem code 0)")
    if src is not None and dst is not None and not verify_checksum(mh, src, dst):
        raise ProtocolError("Mobility Header checksum is wrong")
    cls = _MESSAGES.get(mh_type)
    if cls is None:
        return UnknownMessage(mh_type, mh[6:])
    fixed_end = _MH.size + cls.FIXED.size
    if length < fixed_end:
        raise ProtocolError(f"{cls.__name__} needs {fixed_end} octets, Header Len gives "
                            f"{length} (s9.2: discard, ICMP Parameter Problem code 0)")
    options, _ = _parse_options(mh[fixed_end:], fixed_end)
    return cls.from_fields(cls.FIXED.unpack_from(mh, _MH.size), options)


# ---- Home Address option (s6.3) and type 2 routing header (s6.4) -------------------------


def home_address_option(home_address: IPv6Address | str) -> ExtensionHeader:
    """A Destination Options header holding only the Home Address option (8n+6: after a
    4-octet PadN), 24 octets. Its Next Header octet is set by `ipv6.join`."""
    data = ipv6.options_header([(OPT_HOME_ADDRESS, ipv6.address(home_address).packed,
                                 (8, 6))])
    return ExtensionHeader(ipv6.NH_DSTOPTS, data)


def find_home_address(header: ExtensionHeader) -> IPv6Address | None:
    """The Home Address of a Destination Options header, or None when it has none."""
    if header.kind != ipv6.NH_DSTOPTS:
        return None
    found = [d for kind, d, _ in ipv6.parse_options(header) if kind == OPT_HOME_ADDRESS]
    if not found:
        return None
    if len(found) > 1 or len(found[0]) != 16:
        raise ProtocolError("a Home Address option must appear once with 16 octets of data")
    return IPv6Address(found[0])


def type2_routing_header(home_address: IPv6Address | str, segments_left: int = 1
                         ) -> ExtensionHeader:
    """s6.4: Hdr Ext Len 2, Routing Type 2, Segments Left 1, Reserved, Home Address."""
    return ExtensionHeader(ipv6.NH_ROUTING,
                           struct.pack("!BBBB4x16s", 0, 2, RH_TYPE_2, segments_left,
                                       ipv6.address(home_address).packed))


def parse_type2_routing_header(header: ExtensionHeader) -> tuple[IPv6Address, int] | None:
    """(home address, Segments Left) of a type 2 routing header; None for another routing
    type; ProtocolError when a type 2 header is malformed (s6.4: Hdr Ext Len 2, Segments
    Left 0 or 1; s9.3.5/s11.3.3 discard otherwise)."""
    if header.kind != ipv6.NH_ROUTING or len(header.data) < 4:
        return None
    if header.data[2] != RH_TYPE_2:
        return None
    if header.data[1] != 2 or len(header.data) != 24:
        raise ProtocolError(f"type 2 routing header with Hdr Ext Len {header.data[1]}")
    if header.data[3] > 1:
        raise ProtocolError(f"type 2 routing header with Segments Left {header.data[3]}")
    return IPv6Address(header.data[8:24]), header.data[3]


# ---- whole packets: MH in IPv6, and the data plane's rewrites ---------------------------


@dataclass(frozen=True)
class MobilityPacket:
    """A Mobility Header packet as a node sends or receives it."""
    src: IPv6Address                       # IPv6 Source (the care-of address with a HAO)
    dst: IPv6Address                       # IPv6 Destination (the care-of address with RH2)
    message: MobilityMessage | UnknownMessage
    home_address: IPv6Address | None = None    # from the HAO (sent by the MN)
    routed_home_address: IPv6Address | None = None  # from the RH2 (sent to the MN)
    mh: bytes = b""                        # the Mobility Header octets as on the wire

    @property
    def upper_src(self) -> IPv6Address:
        """The source the upper layer sees (s9.3.1): the home address when a HAO is there."""
        return self.home_address or self.src

    @property
    def upper_dst(self) -> IPv6Address:
        return self.routed_home_address or self.dst


def mobility_packet(src: IPv6Address | str, dst: IPv6Address | str, msg: MobilityMessage, *,
                    home_address: IPv6Address | str | None = None,
                    routed_home_address: IPv6Address | str | None = None,
                    hop_limit: int = 64) -> bytes:
    """An IPv6 packet carrying ``msg``: with ``home_address`` a Home Address option (MN ->
    HA/CN: BU), with ``routed_home_address`` a type 2 routing header (HA/CN -> MN: BA, BRR);
    the Checksum with the addresses of s6.1.1 and RFC 8200 s8.1."""
    headers = []
    if routed_home_address is not None:
        headers.append(type2_routing_header(routed_home_address))
    if home_address is not None:
        headers.append(home_address_option(home_address))
    upper_src = ipv6.address(home_address if home_address is not None else src)
    upper_dst = ipv6.address(routed_home_address if routed_home_address is not None else dst)
    mh = encode(msg, upper_src, upper_dst)
    nh, payload = ipv6.join(headers, ipv6.NH_MH, mh)
    return ipv6.encode(Ipv6Packet(src, dst, nh, payload, hop_limit))


def parse_mobility_packet(packet: bytes, check_checksum: bool = True) -> MobilityPacket:
    """An IPv6 packet whose chain ends in a Mobility Header (s9.2; s9.3.1 for the HAO,
    s11.3.3 for the RH2). The Checksum is verified against the upper-layer addresses."""
    pkt = ipv6.decode(packet)
    chain = ipv6.split(pkt)
    if chain.upper_protocol != ipv6.NH_MH:
        raise ProtocolError(f"no Mobility Header (upper protocol {chain.upper_protocol})")
    home = routed = None
    for h in chain.headers:
        if h.kind == ipv6.NH_DSTOPTS:
            home = find_home_address(h) or home
        elif h.kind == ipv6.NH_ROUTING:
            rh2 = parse_type2_routing_header(h)
            if rh2 is not None:
                routed = rh2[0]
    src, dst = ipv6.checksum_addresses(pkt, chain)
    mh = chain.upper
    msg = decode(mh, src, dst) if check_checksum else decode(mh)
    length = (mh[1] + 1) * 8
    return MobilityPacket(pkt.src, pkt.dst, msg, home, routed, mh[:length])


def _insert_position(headers: tuple[ExtensionHeader, ...], after: set[int]) -> int:
    """Index after the leading headers of kinds ``after`` (RFC 8200 s4.1 order)."""
    i = 0
    while i < len(headers) and headers[i].kind in after:
        i += 1
    return i


def add_home_address_option(packet: bytes, care_of_address: IPv6Address | str) -> bytes:
    """s11.3.1 (route optimization, MN sending): a packet from the home address leaves with
    the care-of address as source and the home address in a Home Address option, placed
    after any Hop-by-Hop and Routing headers and before Fragment, AH and ESP (s6.3).
    Upper-layer checksums stay right: they were computed with the home address."""
    pkt = ipv6.decode(packet)
    chain = ipv6.split(pkt)
    if any(find_home_address(h) for h in chain.headers if h.kind == ipv6.NH_DSTOPTS):
        raise ProtocolError("the packet already carries a Home Address option")
    at = _insert_position(chain.headers, {ipv6.NH_HOPOPTS, ipv6.NH_ROUTING})
    headers = chain.headers[:at] + (home_address_option(pkt.src),) + chain.headers[at:]
    return ipv6.encode(ipv6.with_payload(replace(pkt, src=ipv6.address(care_of_address)),
                                         headers, chain.upper_protocol, chain.upper))


def _without_home_address(header: ExtensionHeader) -> ExtensionHeader | None:
    rest = [(k, d, (1, 0)) for k, d, _ in ipv6.parse_options(header) if k != OPT_HOME_ADDRESS]
    return ExtensionHeader(header.kind, ipv6.options_header(rest)) if rest else None


def apply_home_address_option(packet: bytes) -> tuple[bytes, IPv6Address, IPv6Address]:
    """s9.3.1 (receiving): swap the Home Address into the Source and drop the option (its
    header too when nothing else is in it), so that a stack without Mobile IPv6 takes the
    packet. Returns (packet, home address, care-of address = the original Source)."""
    pkt = ipv6.decode(packet)
    chain = ipv6.split(pkt)
    for i, h in enumerate(chain.headers):
        home = find_home_address(h) if h.kind == ipv6.NH_DSTOPTS else None
        if home is None:
            continue
        rest = _without_home_address(h)
        headers = chain.headers[:i] + ((rest,) if rest else ()) + chain.headers[i + 1:]
        out = ipv6.with_payload(replace(pkt, src=home), headers, chain.upper_protocol,
                                chain.upper)
        return ipv6.encode(out), home, pkt.src
    raise ProtocolError("no Home Address option in the packet")


def add_type2_routing_header(packet: bytes, care_of_address: IPv6Address | str) -> bytes:
    """s9.3.2 (route optimization, CN/HA sending): a packet to the home address goes to
    the care-of address with the home address in a type 2 routing header, placed after a
    Hop-by-Hop header and before Destination Options (RFC 8200 s4.1)."""
    pkt = ipv6.decode(packet)
    chain = ipv6.split(pkt)
    if any(parse_type2_routing_header(h) for h in chain.headers):
        raise ProtocolError("the packet already carries a type 2 routing header")
    at = _insert_position(chain.headers, {ipv6.NH_HOPOPTS})
    headers = chain.headers[:at] + (type2_routing_header(pkt.dst),) + chain.headers[at:]
    return ipv6.encode(ipv6.with_payload(replace(pkt, dst=ipv6.address(care_of_address)),
                                         headers, chain.upper_protocol, chain.upper))


def apply_type2_routing_header(packet: bytes) -> tuple[bytes, IPv6Address, IPv6Address]:
    """s11.3.3 (MN receiving): the routing header's home address becomes the Destination
    and the header goes away. Returns (packet, home address, care-of address = the
    original Destination). Segments Left must be 1 (s6.4)."""
    pkt = ipv6.decode(packet)
    chain = ipv6.split(pkt)
    for i, h in enumerate(chain.headers):
        rh2 = parse_type2_routing_header(h)
        if rh2 is None:
            continue
        home, left = rh2
        if left != 1:
            raise ProtocolError(f"type 2 routing header with Segments Left {left}")
        headers = chain.headers[:i] + chain.headers[i + 1:]
        out = ipv6.with_payload(replace(pkt, dst=home), headers, chain.upper_protocol,
                                chain.upper)
        return ipv6.encode(out), home, pkt.dst
    raise ProtocolError("no type 2 routing header in the packet")


# ---- return routability (s5.2) ----------------------------------------------------------


def _keygen_token(kcn: bytes, addr: IPv6Address | str, nonce: bytes, which: int) -> bytes:
    if len(kcn) != KCN_LENGTH:
        raise ProtocolError(f"Kcn of {len(kcn)} octets, expected {KCN_LENGTH} (s5.2.3)")
    msg = ipv6.address(addr).packed + bytes(nonce) + bytes([which])
    return hmac.new(bytes(kcn), msg, hashlib.sha1).digest()[:TOKEN_LENGTH]


def home_keygen_token(kcn: bytes, home_address: IPv6Address | str, nonce: bytes) -> bytes:
    """s5.2.5: First(64, HMAC_SHA1(Kcn, (home address | nonce | 0)))."""
    return _keygen_token(kcn, home_address, nonce, 0)


def care_of_keygen_token(kcn: bytes, care_of_address: IPv6Address | str, nonce: bytes) -> bytes:
    """s5.2.5: First(64, HMAC_SHA1(Kcn, (care-of address | nonce | 1)))."""
    return _keygen_token(kcn, care_of_address, nonce, 1)


def binding_management_key(home_token: bytes, care_of_token: bytes | None = None) -> bytes:
    """s5.2.5: Kbm = SHA1(home keygen token | care-of keygen token); a deregistration
    (care-of address = home address) has no care-of token: Kbm = SHA1(home keygen token)."""
    return hashlib.sha1(bytes(home_token) + bytes(care_of_token or b"")).digest()


def authenticator(kbm: bytes, care_of_address: IPv6Address | str,
                  correspondent: IPv6Address | str, mh_data: bytes) -> bytes:
    """s6.2.7: First(96, HMAC_SHA1(Kbm, (care-of address | correspondent | MH Data)))."""
    msg = (ipv6.address(care_of_address).packed + ipv6.address(correspondent).packed
           + bytes(mh_data))
    return hmac.new(bytes(kbm), msg, hashlib.sha1).digest()[:AUTHENTICATOR_LENGTH]


def _mh_data(mh: bytes, auth_at: int) -> bytes:
    """MH Data of s6.2.7: Checksum zero, the 12 Authenticator octets at ``auth_at`` left out."""
    zeroed = mh[:4] + b"\0\0" + mh[6:]
    return zeroed[:auth_at] + zeroed[auth_at + AUTHENTICATOR_LENGTH:]


def authorize(msg: BindingUpdate | BindingAck, kbm: bytes, care_of_address: IPv6Address | str,
              correspondent: IPv6Address | str) -> BindingUpdate | BindingAck:
    """``msg`` with a Binding Authorization Data option (last) holding its Authenticator."""
    options = tuple(o for o in msg.options if not isinstance(o, BindingAuthorizationData))
    draft = replace(msg, options=options + (BindingAuthorizationData(),))
    mh = encode(draft, "::", "::", checksum=False)
    at = len(mh) - AUTHENTICATOR_LENGTH
    auth = authenticator(kbm, care_of_address, correspondent, _mh_data(mh, at))
    return replace(msg, options=options + (BindingAuthorizationData(auth),))


def verify_authorization(mh: bytes, kbm: bytes, care_of_address: IPv6Address | str,
                         correspondent: IPv6Address | str) -> bool:
    """The received Mobility Header ``mh`` (octets as on the wire) carries a Binding
    Authorization Data option whose Authenticator is right (s9.5.1, s11.7.2).
    ProtocolError when there is no such option or the header is malformed."""
    msg = decode(mh)
    if isinstance(msg, UnknownMessage):
        raise ProtocolError(f"MH Type {msg.mh_type} carries no Binding Authorization Data")
    fixed_end = _MH.size + msg.FIXED.size
    length = (mh[1] + 1) * 8
    _, offsets = _parse_options(bytes(mh[fixed_end:length]), fixed_end)
    if not msg.options or not isinstance(msg.options[-1], BindingAuthorizationData):
        raise ProtocolError("no Binding Authorization Data option")
    auth_at = offsets[-1] + 2
    expected = authenticator(kbm, care_of_address, correspondent,
                             _mh_data(bytes(mh[:length]), auth_at))
    return hmac.compare_digest(expected, msg.options[-1].authenticator)
