"""Neighbor Discovery messages with the Mobile IPv6 additions (RFC 4861, RFC 6275 s7),
cross-checked against scapy's independent codec."""
from __future__ import annotations

from ipaddress import IPv6Address

import pytest
from scapy.all import raw
from scapy.layers.inet6 import (ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6ND_RA, ICMPv6ND_RS,
                                ICMPv6NDOptAdvInterval, ICMPv6NDOptDstLLAddr,
                                ICMPv6NDOptHAInfo, ICMPv6NDOptMTU, ICMPv6NDOptPrefixInfo,
                                ICMPv6NDOptSrcLLAddr, IPv6)

from orchestrator.protocols import icmpv6, ipv6
from orchestrator.protocols.errors import ProtocolError
from orchestrator.protocols.icmpv6 import (AdvertisementInterval, HomeAgentInformation, Mtu,
                                           NeighborAdvertisement, NeighborSolicitation,
                                           PrefixInformation, RouterAdvertisement,
                                           RouterSolicitation, SourceLinkLayerAddress,
                                           TargetLinkLayerAddress)

MAC = "02:00:00:00:01:01"
HA_LL, HA = "fe80::1", "2001:db8:1::1"
HOA = "2001:db8:1::100"

CASES = [
    ("fe80::100", "ff02::2", RouterSolicitation((SourceLinkLayerAddress(MAC),)),
     ICMPv6ND_RS() / ICMPv6NDOptSrcLLAddr(lladdr=MAC)),
    (HA_LL, "ff02::1",
     RouterAdvertisement(64, home_agent=True, router_lifetime=1800, options=(
         SourceLinkLayerAddress(MAC), Mtu(1500),
         PrefixInformation(HA, 64, router_address=True, valid_lifetime=86400,
                           preferred_lifetime=14400),
         AdvertisementInterval(1000), HomeAgentInformation(5, 600))),
     ICMPv6ND_RA(chlim=64, M=0, O=0, H=1, prf=0, routerlifetime=1800)
     / ICMPv6NDOptSrcLLAddr(lladdr=MAC) / ICMPv6NDOptMTU(mtu=1500)
     / ICMPv6NDOptPrefixInfo(prefixlen=64, L=1, A=1, R=1, validlifetime=86400,
                             preferredlifetime=14400, prefix=HA)
     / ICMPv6NDOptAdvInterval(advint=1000) / ICMPv6NDOptHAInfo(pref=5, lifetime=600)),
    ("::", "ff02::1:ff00:100", NeighborSolicitation(HOA), ICMPv6ND_NS(tgt=HOA)),
    (HA_LL, "ff02::1",
     NeighborAdvertisement(HOA, override=True, options=(TargetLinkLayerAddress(MAC),)),
     ICMPv6ND_NA(R=0, S=0, O=1, tgt=HOA) / ICMPv6NDOptDstLLAddr(lladdr=MAC)),
]


@pytest.mark.parametrize("src, dst, ours, theirs", CASES,
                         ids=[type(c[2]).__name__ for c in CASES])
def test_messages_match_scapy(src, dst, ours, theirs):
    expected = raw(IPv6(src=src, dst=dst, hlim=255) / theirs)
    assert icmpv6.packet(src, dst, ours) == expected
    pkt, msg = icmpv6.parse_packet(expected)
    assert msg == ours and pkt.hop_limit == 255


def test_dad_probe_and_proxy_advertisements():
    pkt, ns = icmpv6.parse_packet(icmpv6.dad_probe(HOA))
    assert pkt.src == IPv6Address("::") and pkt.dst == IPv6Address("ff02::1:ff00:100")
    assert ns == NeighborSolicitation(HOA)
    assert icmpv6.multicast_mac(pkt.dst) == bytes.fromhex("3333ff000100")
    pkt, na = icmpv6.parse_packet(icmpv6.proxy_advertisement(HOA, HA_LL, MAC))
    assert pkt.dst == icmpv6.ALL_NODES and na.override and not na.solicited
    assert na.option(TargetLinkLayerAddress).address == bytes.fromhex("020000000101")
    pkt, na = icmpv6.parse_packet(icmpv6.proxy_advertisement(HOA, HA_LL, MAC, "fe80::9"))
    assert na.solicited and not na.override and pkt.dst == IPv6Address("fe80::9")


def test_home_agent_preference_is_signed():
    # RFC 6275 s7.4: a signed 16-bit preference (scapy's field is unsigned: not comparable)
    assert HomeAgentInformation(-5, 600).data() == bytes.fromhex("0000fffb0258")
    assert HomeAgentInformation.parse(bytes.fromhex("0000fffb0258")).preference == -5
    with pytest.raises(ProtocolError):
        HomeAgentInformation(40000)


def test_stateless_address_autoconfiguration_matches_scapy():
    from scapy.utils6 import in6_mactoifaceid
    for mac in (MAC, "00:1b:21:3a:4f:9c", "ff:ff:ff:ff:ff:ff"):
        iid = icmpv6.interface_identifier(mac)
        assert IPv6Address(bytes(8) + iid) == IPv6Address("::" + in6_mactoifaceid(mac))
    pio = PrefixInformation("2001:db8:4::", 64)
    assert icmpv6.slaac_address(pio, "00:1b:21:3a:4f:9c") == \
        IPv6Address("2001:db8:4::21b:21ff:fe3a:4f9c")
    with pytest.raises(ProtocolError, match="not 128 bits"):
        icmpv6.slaac_address("2001:db8::/48", MAC)
    with pytest.raises(ProtocolError, match="not for autoconfiguration"):
        icmpv6.slaac_address(PrefixInformation("2001:db8:4::", 64, autonomous=False), MAC)


def test_prefix_information_network():
    pio = PrefixInformation("2001:db8:1::1", 64, router_address=True)
    assert str(pio.network) == "2001:db8:1::/64"


def _raw_nd(src, dst, body: bytes, hlim=255) -> bytes:
    body = bytearray(body)
    body[2:4] = ipv6.upper_layer_checksum(src, dst, 58, bytes(body)).to_bytes(2, "big")
    return ipv6.encode(ipv6.Ipv6Packet(src, dst, 58, bytes(body), hlim))


@pytest.mark.parametrize("data, reason", [
    (_raw_nd("::", "ff02::1", bytes(24), hlim=64), "Hop Limit 64"),
    (_raw_nd("fe80::1", "ff02::1", bytes([136, 1]) + bytes(22)), "with Code 1"),
    (_raw_nd("fe80::1", "ff02::1", bytes([136, 0]) + bytes(10)), "at least 24"),
    (_raw_nd("fe80::1", "ff02::1", bytes([135, 0]) + bytes(22) + bytes([1, 0]) + bytes(6)),
     "Length 0"),
    (_raw_nd("::", "ff02::1:ff00:1", bytes([135, 0, 0, 0]) + bytes(4)
             + IPv6Address("2001:db8::1").packed + bytes([1, 1]) + bytes(6)),
     "unspecified address with a Source"),
    (_raw_nd("fe80::1", "ff02::1", bytes([136, 0, 0, 0, 0x40]) + bytes(3)
             + IPv6Address("2001:db8::1").packed), "solicited NA sent to a multicast"),
    (_raw_nd("fe80::1", "ff02::1", bytes([128, 0]) + bytes(6)), "not a Neighbor Discovery"),
])
def test_invalid_nd_messages_are_rejected(data, reason):
    with pytest.raises(ProtocolError, match=reason):
        icmpv6.parse_packet(data)


def test_bad_checksum_is_rejected():
    data = bytearray(icmpv6.dad_probe(HOA))
    data[-1] ^= 1
    with pytest.raises(ProtocolError, match="checksum"):
        icmpv6.parse_packet(bytes(data))
