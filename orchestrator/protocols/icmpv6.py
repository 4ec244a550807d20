"""ICMPv6 Neighbor Discovery messages an IPv6 MPA and Mobile IPv6 need (pure).

RFC 4861 s4: Router Solicitation (133), Router Advertisement (134), Neighbor Solicitation
(135) and Neighbor Advertisement (136), with the options Source / Target Link-layer
Address (1, 2), Prefix Information (3), MTU (5), and the ones RFC 6275 s7 adds: the Home
Agent (H) flag of a Router Advertisement (s7.1), the Router Address (R) flag of Prefix
Information (s7.2: the Prefix field then holds the router's whole address), Advertisement
Interval (7, s7.3, milliseconds) and Home Agent Information (8, s7.4: preference, lifetime).

What the testbed does with them: an access router's agent advertises its prefix (router
discovery and stateless autoconfiguration of the nCoA, RFC 4862; RFC 6252 s7.2), a home
agent advertises itself (H flag, Home Agent Information), duplicate address detection
probes (RFC 4862 s5.4.2: NS from the unspecified address to the solicited-node multicast
group, no Source Link-layer Address option) and proxy Neighbor Discovery for a mobile
node's home address (RFC 6275 s10.4.1: the HA answers NS for the home address with its own
link-layer address; on registration it multicasts an unsolicited NA, Override set).

Checksum: the Internet checksum over the pseudo-header (Next Header 58) and the message
(RFC 4443 s2.3). `parse_packet` applies RFC 4861's validity checks that need no state
(s6.1.1, s6.1.2, s7.1.1, s7.1.2): Hop Limit 255, checksum, Code 0, length, option lengths
not zero, no Source Link-layer Address option on an NS from the unspecified address.
Every parser raises `ProtocolError` and nothing else.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from ipaddress import IPv6Address, IPv6Network

from . import ipv6
from .errors import ProtocolError

__all__ = [
    "IcmpType", "NdOptionType", "ND_HOP_LIMIT", "ALL_NODES", "ALL_ROUTERS",
    "SourceLinkLayerAddress", "TargetLinkLayerAddress", "PrefixInformation", "Mtu",
    "AdvertisementInterval", "HomeAgentInformation", "UnknownNdOption",
    "RouterSolicitation", "RouterAdvertisement", "NeighborSolicitation",
    "NeighborAdvertisement", "encode", "decode", "packet", "parse_packet",
    "solicited_node_multicast", "multicast_mac", "dad_probe", "proxy_advertisement",
    "interface_identifier", "slaac_address",
    "ProtocolError",
]

ND_HOP_LIMIT = 255
ALL_NODES = IPv6Address("ff02::1")
ALL_ROUTERS = IPv6Address("ff02::2")
INFINITY = 0xFFFFFFFF


class IcmpType(IntEnum):
    ROUTER_SOLICITATION = 133
    ROUTER_ADVERTISEMENT = 134
    NEIGHBOR_SOLICITATION = 135
    NEIGHBOR_ADVERTISEMENT = 136


class NdOptionType(IntEnum):
    SOURCE_LINK_LAYER_ADDRESS = 1
    TARGET_LINK_LAYER_ADDRESS = 2
    PREFIX_INFORMATION = 3
    MTU = 5
    ADVERTISEMENT_INTERVAL = 7          # RFC 6275 s7.3
    HOME_AGENT_INFORMATION = 8          # RFC 6275 s7.4


def _mac(value: bytes | str) -> bytes:
    if isinstance(value, str):
        try:
            value = bytes(int(x, 16) for x in value.split(":"))
        except ValueError as exc:
            raise ProtocolError(f"{value!r} is not a MAC address") from exc
    if len(value) != 6:
        raise ProtocolError(f"link-layer address of {len(value)} octets, expected 6")
    return bytes(value)


def _fits(name: str, value: int, bits: int, signed: bool = False) -> None:
    lo, hi = (-(1 << bits - 1), (1 << bits - 1) - 1) if signed else (0, (1 << bits) - 1)
    if not lo <= value <= hi:
        raise ProtocolError(f"{name} {value} does not fit {bits} bits")


# ---- options (RFC 4861 s4.6, RFC 6275 s7.3-s7.4) ----------------------------------------


@dataclass(frozen=True)
class SourceLinkLayerAddress:
    address: bytes
    TYPE = NdOptionType.SOURCE_LINK_LAYER_ADDRESS

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", _mac(self.address))

    def data(self) -> bytes:
        return self.address

    @classmethod
    def parse(cls, data: bytes):
        return cls(data[:6])


@dataclass(frozen=True)
class TargetLinkLayerAddress(SourceLinkLayerAddress):
    TYPE = NdOptionType.TARGET_LINK_LAYER_ADDRESS


@dataclass(frozen=True)
class PrefixInformation:
    """RFC 4861 s4.6.2; ``router_address`` is RFC 6275 s7.2's R flag (``prefix`` then is the
    router's whole address, not only the prefix). Lifetimes in seconds, 0xffffffff infinite."""
    prefix: IPv6Address
    prefix_length: int
    on_link: bool = True
    autonomous: bool = True
    router_address: bool = False
    valid_lifetime: int = 2592000
    preferred_lifetime: int = 604800
    TYPE = NdOptionType.PREFIX_INFORMATION
    _S = struct.Struct("!BBII4x16s")

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefix", ipv6.address(self.prefix))
        if not 0 <= self.prefix_length <= 128:
            raise ProtocolError(f"Prefix Length {self.prefix_length} exceeds 128")
        _fits("Valid Lifetime", self.valid_lifetime, 32)
        _fits("Preferred Lifetime", self.preferred_lifetime, 32)

    @property
    def network(self) -> IPv6Network:
        return IPv6Network((self.prefix, self.prefix_length), strict=False)

    def data(self) -> bytes:
        flags = self.on_link << 7 | self.autonomous << 6 | self.router_address << 5
        return self._S.pack(self.prefix_length, flags, self.valid_lifetime,
                            self.preferred_lifetime, self.prefix.packed)

    @classmethod
    def parse(cls, data: bytes):
        if len(data) != cls._S.size:
            raise ProtocolError(f"Prefix Information of {len(data) + 2} octets, expected 32")
        plen, flags, valid, preferred, prefix = cls._S.unpack(data)
        if plen > 128:
            raise ProtocolError(f"Prefix Length {plen} exceeds 128")
        return cls(IPv6Address(prefix), plen, bool(flags & 0x80), bool(flags & 0x40),
                   bool(flags & 0x20), valid, preferred)


class _Reserved16Uint32:
    """Options of 8 octets holding Reserved (16) and one 32-bit value (``VALUE`` names
    the field): MTU (RFC 4861 s4.6.4), Advertisement Interval (RFC 6275 s7.3)."""
    VALUE: str

    def __post_init__(self) -> None:
        _fits(type(self).__name__, getattr(self, self.VALUE), 32)

    def data(self) -> bytes:
        return struct.pack("!2xI", getattr(self, self.VALUE))

    @classmethod
    def parse(cls, data: bytes):
        if len(data) != 6:
            raise ProtocolError(f"{cls.__name__} option of {len(data) + 2} octets, "
                                f"expected 8")
        return cls(struct.unpack("!2xI", data)[0])


@dataclass(frozen=True)
class Mtu(_Reserved16Uint32):
    mtu: int
    TYPE = NdOptionType.MTU
    VALUE = "mtu"


@dataclass(frozen=True)
class AdvertisementInterval(_Reserved16Uint32):
    """RFC 6275 s7.3: the router's maximum interval between unsolicited RAs, in ms (a MN
    uses it for movement detection)."""
    interval_ms: int
    TYPE = NdOptionType.ADVERTISEMENT_INTERVAL
    VALUE = "interval_ms"


@dataclass(frozen=True)
class HomeAgentInformation:
    """RFC 6275 s7.4: Home Agent Preference (signed 16) and Home Agent Lifetime (s)."""
    preference: int = 0
    lifetime: int = 1800
    TYPE = NdOptionType.HOME_AGENT_INFORMATION

    def __post_init__(self) -> None:
        _fits("Home Agent Preference", self.preference, 16, signed=True)
        _fits("Home Agent Lifetime", self.lifetime, 16)

    def data(self) -> bytes:
        return struct.pack("!2xhH", self.preference, self.lifetime)

    @classmethod
    def parse(cls, data: bytes):
        if len(data) != 6:
            raise ProtocolError(f"Home Agent Information of {len(data) + 2} octets, "
                                f"expected 8")
        return cls(*struct.unpack("!2xhH", data))


@dataclass(frozen=True)
class UnknownNdOption:
    """RFC 4861 s4.6: receivers skip options they do not recognize."""
    type: int
    value: bytes

    def __post_init__(self) -> None:
        if not 0 < self.type < 256 or self.type in _OPTIONS or (len(self.value) + 2) % 8:
            raise ProtocolError(f"ND option type {self.type} of {len(self.value) + 2} octets")

    @property
    def TYPE(self) -> int:  # noqa: N802 - mirrors the known options' class attribute
        return self.type

    def data(self) -> bytes:
        return self.value


_OPTIONS = {cls.TYPE: cls for cls in (SourceLinkLayerAddress, TargetLinkLayerAddress,
                                      PrefixInformation, Mtu, AdvertisementInterval,
                                      HomeAgentInformation)}


def _encode_options(options) -> bytes:
    out = bytearray()
    for opt in options:
        data = opt.data()
        size = -(-(len(data) + 2) // 8) * 8          # link-layer addresses padded to 8
        if size > 255 * 8:
            raise ProtocolError(f"ND option {opt.TYPE} of {size} octets")
        out += bytes([opt.TYPE, size // 8]) + data + bytes(size - 2 - len(data))
    return bytes(out)


def _parse_options(data: bytes) -> tuple:
    options, at = [], 0
    while at < len(data):
        if at + 2 > len(data):
            raise ProtocolError(f"ND option at offset {at} is truncated")
        kind, units = data[at], data[at + 1]
        if units == 0:
            raise ProtocolError(f"ND option {kind} with Length 0 (RFC 4861 s4.6: discard)")
        if at + 8 * units > len(data):
            raise ProtocolError(f"ND option {kind} of {8 * units} octets runs past the end")
        value = data[at + 2:at + 8 * units]
        cls = _OPTIONS.get(kind)
        options.append(cls.parse(value) if cls else UnknownNdOption(kind, value))
        at += 8 * units
    return tuple(options)


# ---- messages ---------------------------------------------------------------------------


class _Message:
    options: tuple

    def option(self, cls):
        """The first option of class ``cls`` (exactly: a TLLA is not an SLLA), or None."""
        return next((o for o in self.options if type(o) is cls), None)


@dataclass(frozen=True)
class RouterSolicitation(_Message):
    options: tuple = ()
    TYPE = IcmpType.ROUTER_SOLICITATION
    FIXED = struct.Struct("!4x")

    def fields(self) -> tuple:
        return ()

    @classmethod
    def from_fields(cls, values, options):
        return cls(options)


@dataclass(frozen=True)
class RouterAdvertisement(_Message):
    """RFC 4861 s4.2; ``home_agent`` is RFC 6275 s7.1's H flag. Times: Router Lifetime in
    s, Reachable Time and Retrans Timer in ms."""
    cur_hop_limit: int = 64
    managed: bool = False
    other: bool = False
    home_agent: bool = False
    router_lifetime: int = 1800
    reachable_time: int = 0
    retrans_timer: int = 0
    options: tuple = ()
    TYPE = IcmpType.ROUTER_ADVERTISEMENT
    FIXED = struct.Struct("!BBHII")

    def __post_init__(self) -> None:
        _fits("Cur Hop Limit", self.cur_hop_limit, 8)
        _fits("Router Lifetime", self.router_lifetime, 16)
        _fits("Reachable Time", self.reachable_time, 32)
        _fits("Retrans Timer", self.retrans_timer, 32)

    def fields(self) -> tuple:
        flags = self.managed << 7 | self.other << 6 | self.home_agent << 5
        return (self.cur_hop_limit, flags, self.router_lifetime, self.reachable_time,
                self.retrans_timer)

    @classmethod
    def from_fields(cls, values, options):
        hop, flags, lifetime, reachable, retrans = values
        return cls(hop, bool(flags & 0x80), bool(flags & 0x40), bool(flags & 0x20),
                   lifetime, reachable, retrans, options)

    def prefixes(self) -> list[PrefixInformation]:
        return [o for o in self.options if isinstance(o, PrefixInformation)]


@dataclass(frozen=True)
class NeighborSolicitation(_Message):
    target: IPv6Address
    options: tuple = ()
    TYPE = IcmpType.NEIGHBOR_SOLICITATION
    FIXED = struct.Struct("!4x16s")

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", ipv6.address(self.target))

    def fields(self) -> tuple:
        return (self.target.packed,)

    @classmethod
    def from_fields(cls, values, options):
        return cls(IPv6Address(values[0]), options)


@dataclass(frozen=True)
class NeighborAdvertisement(_Message):
    """RFC 4861 s4.4: Router (R), Solicited (S) and Override (O) flags."""
    target: IPv6Address
    router: bool = False
    solicited: bool = False
    override: bool = False
    options: tuple = ()
    TYPE = IcmpType.NEIGHBOR_ADVERTISEMENT
    FIXED = struct.Struct("!I16s")

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", ipv6.address(self.target))

    def fields(self) -> tuple:
        return (self.router << 31 | self.solicited << 30 | self.override << 29,
                self.target.packed)

    @classmethod
    def from_fields(cls, values, options):
        flags, target = values
        return cls(IPv6Address(target), bool(flags >> 31 & 1), bool(flags >> 30 & 1),
                   bool(flags >> 29 & 1), options)


NdMessage = RouterSolicitation | RouterAdvertisement | NeighborSolicitation | \
    NeighborAdvertisement
_MESSAGES = {cls.TYPE: cls for cls in (RouterSolicitation, RouterAdvertisement,
                                       NeighborSolicitation, NeighborAdvertisement)}


def encode(msg: NdMessage, src: IPv6Address | str, dst: IPv6Address | str) -> bytes:
    """The ICMPv6 message with its checksum for the pseudo-header (src, dst)."""
    body = bytearray(struct.pack("!BBH", msg.TYPE, 0, 0) + msg.FIXED.pack(*msg.fields())
                     + _encode_options(msg.options))
    body[2:4] = struct.pack("!H", ipv6.upper_layer_checksum(src, dst, ipv6.NH_ICMPV6, body))
    return bytes(body)


def decode(data: bytes, src: IPv6Address | str | None = None,
           dst: IPv6Address | str | None = None) -> NdMessage:
    """An ND message; with (src, dst) its checksum is verified."""
    data = bytes(data)
    if len(data) < 4:
        raise ProtocolError(f"ICMPv6 message of {len(data)} octets")
    kind, code = data[0], data[1]
    cls = _MESSAGES.get(kind)
    if cls is None:
        raise ProtocolError(f"ICMPv6 type {kind} is not a Neighbor Discovery message here")
    if code != 0:
        raise ProtocolError(f"ICMPv6 {cls.__name__} with Code {code}")
    if src is not None and dst is not None and \
            ipv6.upper_layer_checksum(src, dst, ipv6.NH_ICMPV6, data) != 0:
        raise ProtocolError("ICMPv6 checksum is wrong")
    end = 4 + cls.FIXED.size
    if len(data) < end:
        raise ProtocolError(f"{cls.__name__} of {len(data)} octets, at least {end} expected")
    return cls.from_fields(cls.FIXED.unpack_from(data, 4), _parse_options(data[end:]))


def packet(src: IPv6Address | str, dst: IPv6Address | str, msg: NdMessage) -> bytes:
    """The whole IPv6 packet, Hop Limit 255 as RFC 4861 requires."""
    return ipv6.encode(ipv6.Ipv6Packet(src, dst, ipv6.NH_ICMPV6, encode(msg, src, dst),
                                       ND_HOP_LIMIT))


def parse_packet(data: bytes) -> tuple[ipv6.Ipv6Packet, NdMessage]:
    """An IPv6 packet carrying an ND message, validated as RFC 4861 s6.1, s7.1 say."""
    pkt = ipv6.decode(data)
    chain = ipv6.split(pkt)
    if chain.upper_protocol != ipv6.NH_ICMPV6:
        raise ProtocolError(f"not ICMPv6 (upper protocol {chain.upper_protocol})")
    if pkt.hop_limit != ND_HOP_LIMIT:
        raise ProtocolError(f"ND message with Hop Limit {pkt.hop_limit}, not 255")
    msg = decode(chain.upper, *ipv6.checksum_addresses(pkt, chain))
    if isinstance(msg, NeighborSolicitation) and pkt.src.is_unspecified and \
            msg.option(SourceLinkLayerAddress):
        raise ProtocolError("NS from the unspecified address with a Source Link-layer "
                            "Address option (RFC 4861 s7.1.1)")
    if isinstance(msg, (NeighborSolicitation, NeighborAdvertisement)) and \
            msg.target.is_multicast:
        raise ProtocolError(f"ND target {msg.target} is a multicast address")
    if isinstance(msg, NeighborAdvertisement) and pkt.dst.is_multicast and msg.solicited:
        raise ProtocolError("solicited NA sent to a multicast address (RFC 4861 s7.1.2)")
    return pkt, msg


# ---- addresses and the messages built from them -----------------------------------------


def solicited_node_multicast(addr: IPv6Address | str) -> IPv6Address:
    """RFC 4291 s2.7.1: ff02::1:ff00:0/104 with the address' low 24 bits."""
    low = int(ipv6.address(addr)) & 0xFFFFFF
    return IPv6Address(int(IPv6Address("ff02::1:ff00:0")) | low)


def multicast_mac(group: IPv6Address | str) -> bytes:
    """RFC 2464 s7: 33:33 and the group's low 32 bits."""
    return b"\x33\x33" + ipv6.address(group).packed[12:]


def interface_identifier(mac: bytes | str) -> bytes:
    """RFC 4291 Appendix A / RFC 2464 s4: the modified EUI-64 of a 48-bit MAC (ff:fe in
    the middle, the universal/local bit inverted)."""
    m = _mac(mac)
    return bytes([m[0] ^ 0x02]) + m[1:3] + b"\xff\xfe" + m[3:]


def slaac_address(prefix: IPv6Network | PrefixInformation | str, mac: bytes | str
                  ) -> IPv6Address:
    """RFC 4862 s5.5.3: a /64 prefix (an RA's Prefix Information with the A flag, e.g. the
    nAR's, learnt before the move: RFC 6252 s7.2) and the interface identifier."""
    if isinstance(prefix, PrefixInformation):
        if not prefix.autonomous:
            raise ProtocolError(f"prefix {prefix.network} is not for autoconfiguration")
        prefix = prefix.network
    net = IPv6Network(prefix, strict=False)
    if net.prefixlen != 64:
        raise ProtocolError(f"prefix {net} + a 64-bit interface identifier is not 128 bits "
                            f"(RFC 4862 s5.5.3)")
    return IPv6Address(net.network_address.packed[:8] + interface_identifier(mac))


def dad_probe(target: IPv6Address | str) -> bytes:
    """RFC 4862 s5.4.2: an NS for ``target`` from the unspecified address to the
    target's solicited-node group, with no Source Link-layer Address option."""
    return packet("::", solicited_node_multicast(target), NeighborSolicitation(target))


def proxy_advertisement(target: IPv6Address | str, src: IPv6Address | str,
                        mac: bytes | str, dst: IPv6Address | str | None = None) -> bytes:
    """RFC 6275 s10.4.1: the HA defends a registered home address with its own link-layer
    address. Unsolicited (``dst`` None): to all-nodes, Override set, Solicited clear; in
    answer to an NS from ``dst``: Solicited set, Override clear (RFC 4861 s7.2.8, proxy)."""
    tlla = TargetLinkLayerAddress(_mac(mac))
    if dst is None:
        msg = NeighborAdvertisement(target, override=True, options=(tlla,))
        return packet(src, ALL_NODES, msg)
    return packet(src, dst, NeighborAdvertisement(target, solicited=True, options=(tlla,)))

