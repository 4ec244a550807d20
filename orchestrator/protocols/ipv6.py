"""IPv6 packets, their extension header chain and upper-layer checksums (pure).

What Mobile IPv6 (RFC 6275) and an IPv6 MPA need from IPv6 itself, as bytes in and values
out; nothing here opens a socket:

* the fixed header (RFC 8200 s3): version 6, traffic class, flow label, payload length,
  next header, hop limit, source and destination;
* the extension header chain (RFC 8200 s4): Hop-by-Hop (0), Routing (43), Fragment (44),
  Destination Options (60) and AH (51) are walked; ESP (50), No Next Header (59), the
  Mobility Header (135) and every upper-layer protocol end the walk (`walk`, `split`);
* the TLV options of Hop-by-Hop and Destination Options headers (RFC 8200 s4.2) with the
  Pad1/PadN padding an option's alignment requirement ``xn+y`` asks for (`options_header`,
  `parse_options`);
* the upper-layer checksum over the pseudo-header (RFC 8200 s8.1), whose destination is the
  final one when a Routing header is present, and whose source is the home address when a
  Home Address option is (RFC 6275 s6.3; `checksum_addresses`);
* IPv6-in-IPv6 encapsulation (RFC 2473 s3, next header 41), as the MN and the home agent use
  it for bidirectional tunnelling (RFC 6275 s10.4.2, s11.3.1).

Every parser raises `ProtocolError` and nothing else on malformed input.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from ipaddress import AddressValueError, IPv6Address

from .checksum import internet_checksum
from .errors import ProtocolError

__all__ = [
    "HEADER_LENGTH", "NH_HOPOPTS", "NH_TCP", "NH_UDP", "NH_IPV6", "NH_ROUTING", "NH_FRAGMENT",
    "NH_ESP", "NH_AH", "NH_ICMPV6", "NH_NONE", "NH_DSTOPTS", "NH_MH", "EXTENSION_HEADERS",
    "Ipv6Packet", "ExtensionHeader", "Chain", "address", "encode", "decode", "walk", "split",
    "join", "internet_checksum", "pseudo_header", "upper_layer_checksum", "checksum_addresses",
    "options_header", "parse_options", "pad_options", "encapsulate", "decapsulate",
    "with_payload", "OPT_PAD1", "OPT_PADN", "OPT_HOME_ADDRESS",
    "ProtocolError",
]

HEADER_LENGTH = 40
NH_HOPOPTS, NH_TCP, NH_UDP, NH_IPV6 = 0, 6, 17, 41
NH_ROUTING, NH_FRAGMENT, NH_ESP, NH_AH = 43, 44, 50, 51
NH_ICMPV6, NH_NONE, NH_DSTOPTS, NH_MH = 58, 59, 60, 135
# headers `walk` steps over; ESP, No Next Header and the Mobility Header end the chain
EXTENSION_HEADERS = frozenset({NH_HOPOPTS, NH_ROUTING, NH_FRAGMENT, NH_DSTOPTS, NH_AH})
OPT_PAD1, OPT_PADN = 0, 1
OPT_HOME_ADDRESS = 201            # RFC 6275 s6.3 (layout and alignment in `mipv6`)
DEFAULT_HOP_LIMIT = 64
_FIXED = struct.Struct("!IHBB16s16s")


def address(value: IPv6Address | str | bytes) -> IPv6Address:
    """An IPv6Address from text, 16 octets or an IPv6Address; ProtocolError otherwise."""
    if isinstance(value, IPv6Address):
        return value
    try:
        if isinstance(value, (bytes, bytearray)):
            if len(value) != 16:
                raise ProtocolError(f"an IPv6 address is 16 octets, not {len(value)}")
            return IPv6Address(bytes(value))
        return IPv6Address(value)
    except (AddressValueError, ValueError, TypeError) as exc:
        raise ProtocolError(f"{value!r} is not an IPv6 address") from exc


@dataclass(frozen=True)
class Ipv6Packet:
    """An IPv6 packet: the fixed header's fields and everything after it (``payload``,
    which starts with the header ``next_header`` names). RFC 8200 s3."""
    src: IPv6Address
    dst: IPv6Address
    next_header: int
    payload: bytes = b""
    hop_limit: int = DEFAULT_HOP_LIMIT
    traffic_class: int = 0
    flow_label: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "src", address(self.src))
        object.__setattr__(self, "dst", address(self.dst))
        if not 0 <= self.next_header < 256 or not 0 <= self.hop_limit < 256:
            raise ProtocolError("next header and hop limit are 8-bit fields")
        if not 0 <= self.traffic_class < 256 or not 0 <= self.flow_label < 1 << 20:
            raise ProtocolError("traffic class is 8 bits and flow label 20 bits")
        if len(self.payload) > 0xFFFF:
            raise ProtocolError(f"payload of {len(self.payload)} octets needs a jumbogram")


def encode(pkt: Ipv6Packet) -> bytes:
    first = (6 << 28) | (pkt.traffic_class << 20) | pkt.flow_label
    return _FIXED.pack(first, len(pkt.payload), pkt.next_header, pkt.hop_limit,
                       pkt.src.packed, pkt.dst.packed) + pkt.payload


def decode(data: bytes) -> Ipv6Packet:
    """The fixed header; octets past Payload Length (link-layer padding) are dropped."""
    data = bytes(data)
    if len(data) < HEADER_LENGTH:
        raise ProtocolError(f"IPv6 packet of {len(data)} octets is shorter than its "
                            f"{HEADER_LENGTH}-octet header")
    first, plen, nh, hlim, src, dst = _FIXED.unpack_from(data)
    if first >> 28 != 6:
        raise ProtocolError(f"IP version {first >> 28}, expected 6")
    if plen == 0 and nh == NH_HOPOPTS and len(data) > HEADER_LENGTH:
        raise ProtocolError("Payload Length 0 with Hop-by-Hop options: a jumbogram (RFC "
                            "2675), not supported")
    if HEADER_LENGTH + plen > len(data):
        raise ProtocolError(f"IPv6 Payload Length {plen} exceeds the "
                            f"{len(data) - HEADER_LENGTH} octets received")
    return Ipv6Packet(IPv6Address(src), IPv6Address(dst), nh, data[HEADER_LENGTH:HEADER_LENGTH + plen],
                      hlim, (first >> 20) & 0xFF, first & 0xFFFFF)


@dataclass(frozen=True)
class ExtensionHeader:
    """One extension header: its protocol number (``kind``: 0, 43, 44, 51 or 60) and all of
    its octets, the Next Header octet included (rewritten by `join`)."""
    kind: int
    data: bytes

    @property
    def body(self) -> bytes:
        """The octets after Next Header and Hdr Ext Len (options, routing data, ...)."""
        return self.data[2:]


@dataclass(frozen=True)
class Chain:
    """An IPv6 payload split into its extension headers and what follows them."""
    headers: tuple[ExtensionHeader, ...]
    upper_protocol: int          # 59, 135, 41, 58, 17, ... (50 ESP too: not walked into)
    upper: bytes                 # the upper-layer octets (the MH, the inner packet, ...)

    def find(self, kind: int) -> ExtensionHeader | None:
        return next((h for h in self.headers if h.kind == kind), None)


def _header_length(kind: int, data: bytes, at: int) -> int:
    if at + 2 > len(data):
        raise ProtocolError(f"extension header {kind} at offset {at} is truncated")
    if kind == NH_FRAGMENT:
        return 8
    if kind == NH_AH:                       # RFC 4302 s2.2: 4-octet units, minus 2
        return (data[at + 1] + 2) * 4
    return (data[at + 1] + 1) * 8           # RFC 8200 s4.3-4.6: 8-octet units, minus 1


def walk(next_header: int, payload: bytes) -> Chain:
    """Split ``payload`` (what follows a header whose Next Header is ``next_header``)."""
    payload = bytes(payload)
    headers, at, kind = [], 0, next_header
    while kind in EXTENSION_HEADERS:
        if kind == NH_HOPOPTS and headers:
            raise ProtocolError("a Hop-by-Hop Options header must follow the IPv6 header")
        length = _header_length(kind, payload, at)
        if at + length > len(payload):
            raise ProtocolError(f"extension header {kind} of {length} octets runs past the "
                                f"{len(payload) - at} octets left")
        headers.append(ExtensionHeader(kind, payload[at:at + length]))
        kind = payload[at]
        at += length
        if len(headers) > 16:
            raise ProtocolError("more than 16 extension headers")
    return Chain(tuple(headers), kind, payload[at:])


def split(pkt: Ipv6Packet) -> Chain:
    return walk(pkt.next_header, pkt.payload)


def join(headers: list[ExtensionHeader] | tuple[ExtensionHeader, ...], upper_protocol: int,
         upper: bytes) -> tuple[int, bytes]:
    """(first Next Header, payload): the headers chained in order, each one's Next Header
    octet set to the kind of what follows it."""
    kinds = [h.kind for h in headers] + [upper_protocol]
    out = bytearray()
    for h, following in zip(headers, kinds[1:]):
        out += bytes([following]) + h.data[1:]
    return kinds[0], bytes(out) + bytes(upper)


# ---- checksums --------------------------------------------------------------------------


def pseudo_header(src: IPv6Address, dst: IPv6Address, length: int, next_header: int) -> bytes:
    """RFC 8200 s8.1: source, destination, upper-layer packet length (32), zero (24), NH."""
    return address(src).packed + address(dst).packed + struct.pack("!I3xB", length, next_header)


def upper_layer_checksum(src: IPv6Address, dst: IPv6Address, next_header: int,
                         data: bytes) -> int:
    """The checksum of ``data`` (its own checksum field zeroed) under the pseudo-header."""
    return internet_checksum(pseudo_header(src, dst, len(data), next_header) + bytes(data))


def checksum_addresses(pkt: Ipv6Packet, chain: Chain | None = None
                       ) -> tuple[IPv6Address, IPv6Address]:
    """The (source, destination) of the pseudo-header of ``pkt``'s upper-layer checksum.

    RFC 8200 s8.1: with a Routing header, the destination is the final one (the last
    address of a type 0/2 routing header: for a type 2 header, the home address).
    RFC 6275 s6.3: with a Home Address option, the home address is the source the upper
    layer sees (the receiver swaps it in, s9.3.1), so the checksum uses it.
    """
    chain = split(pkt) if chain is None else chain
    src, dst = pkt.src, pkt.dst
    for h in chain.headers:
        if h.kind == NH_ROUTING and len(h.data) >= 8 and h.data[3] > 0:
            n = (len(h.data) - 8) // 16
            if h.data[2] in (0, 2) and n:
                dst = IPv6Address(h.data[8 + 16 * (n - 1):8 + 16 * n])
        elif h.kind == NH_DSTOPTS:
            for kind, data, _ in parse_options(h):
                if kind == OPT_HOME_ADDRESS and len(data) == 16:
                    src = IPv6Address(data)
    return src, dst


# ---- TLV options (Hop-by-Hop, Destination Options) --------------------------------------


def pad_options(length: int) -> bytes:
    """Pad1 or PadN octets filling ``length`` octets (RFC 8200 s4.2)."""
    if length <= 0:
        return b""
    if length == 1:
        return bytes([OPT_PAD1])
    return bytes([OPT_PADN, length - 2]) + bytes(length - 2)


def options_header(options: list[tuple[int, bytes, tuple[int, int]]]) -> bytes:
    """The octets of an options header after its Next Header octet is filled by `join`.

    ``options`` are (type, data, (x, y)) with the alignment requirement xn+y counted from
    the start of the header (RFC 8200 s4.2); padding goes before each option that needs it
    and at the end to a multiple of 8 octets. Returns the whole header with Next Header 0.
    """
    out = bytearray(2)
    for kind, data, (x, y) in options:
        if len(data) > 255:
            raise ProtocolError(f"option {kind} data of {len(data)} octets")
        out += pad_options((y - len(out)) % x if x > 1 else 0)
        out += bytes([kind, len(data)]) + bytes(data)
    out += pad_options(-len(out) % 8)
    if len(out) > 2048:
        raise ProtocolError("options header longer than 2048 octets")
    out[1] = len(out) // 8 - 1
    return bytes(out)


def parse_options(header: ExtensionHeader | bytes) -> list[tuple[int, bytes, int]]:
    """(type, data, offset in the header) of each option, padding left out."""
    data = header.data if isinstance(header, ExtensionHeader) else bytes(header)
    if len(data) < 2 or len(data) != (data[1] + 1) * 8:
        raise ProtocolError("options header length disagrees with its Hdr Ext Len")
    out, at = [], 2
    while at < len(data):
        kind = data[at]
        if kind == OPT_PAD1:
            at += 1
            continue
        if at + 2 > len(data) or at + 2 + data[at + 1] > len(data):
            raise ProtocolError(f"option {kind} at offset {at} runs past its header")
        if kind != OPT_PADN:
            out.append((kind, data[at + 2:at + 2 + data[at + 1]], at))
        at += 2 + data[at + 1]
    return out


# ---- IPv6-in-IPv6 (RFC 2473) ------------------------------------------------------------


def encapsulate(outer_src: IPv6Address | str, outer_dst: IPv6Address | str, inner: bytes,
                hop_limit: int = DEFAULT_HOP_LIMIT) -> bytes:
    """RFC 2473 s3.1: prepend an IPv6 header (next header 41) to the whole inner packet.
    The tunnel entry point adds no extension headers; the inner packet is not changed."""
    decode(inner)
    return encode(Ipv6Packet(outer_src, outer_dst, NH_IPV6, bytes(inner), hop_limit))


def decapsulate(packet: bytes) -> tuple[Ipv6Packet, bytes]:
    """RFC 2473 s3.2: (outer packet, inner packet) of a tunnel packet; the outer chain may
    carry extension headers; the inner packet must be a well-formed IPv6 packet."""
    outer = decode(packet)
    chain = split(outer)
    if chain.upper_protocol != NH_IPV6:
        raise ProtocolError(f"not an IPv6-in-IPv6 packet (upper protocol "
                            f"{chain.upper_protocol})")
    inner = decode(chain.upper)
    return outer, encode(inner)


def with_payload(pkt: Ipv6Packet, headers, upper_protocol: int, upper: bytes) -> Ipv6Packet:
    """``pkt`` with a new extension header chain and upper layer."""
    nh, payload = join(headers, upper_protocol, upper)
    return replace(pkt, next_header=nh, payload=payload)
