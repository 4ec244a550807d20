"""IPv6 header, extension header chain, pseudo-header checksums and IPv6-in-IPv6
(RFC 8200, RFC 2473), cross-checked against scapy."""
from __future__ import annotations

from ipaddress import IPv6Address

import pytest
from scapy.all import raw
from scapy.layers.inet import UDP
from scapy.layers.inet6 import (HAO, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                                IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, RouterAlert)

from orchestrator.protocols import ipv6
from orchestrator.protocols.errors import ProtocolError

A, B, C = "2001:db8:1::100", "2001:db8:3::1", "2001:db8:2::100"


def test_fixed_header_round_trip_matches_scapy():
    data = raw(IPv6(src=A, dst=B, tc=0xB8, fl=0x12345, hlim=7) / UDP(sport=1, dport=2) / b"x")
    pkt = ipv6.decode(data + b"\0\0")                     # link-layer padding dropped
    assert (pkt.src, pkt.dst, pkt.traffic_class, pkt.flow_label, pkt.hop_limit,
            pkt.next_header) == (IPv6Address(A), IPv6Address(B), 0xB8, 0x12345, 7, 17)
    assert ipv6.encode(pkt) == data


def test_udp_checksum_matches_scapy():
    data = raw(IPv6(src=A, dst=B) / UDP(sport=1000, dport=2000) / b"hello")
    udp = bytearray(data[40:])
    theirs = int.from_bytes(udp[6:8], "big")
    udp[6:8] = b"\0\0"
    assert ipv6.upper_layer_checksum(A, B, 17, bytes(udp)) == theirs


def test_walk_chain_and_checksum_addresses():
    data = raw(IPv6(src=C, dst=B) / IPv6ExtHdrHopByHop(options=[RouterAlert()])
               / IPv6ExtHdrRouting(type=2, segleft=1, addresses=[A])
               / IPv6ExtHdrDestOpt(options=[HAO(hoa=A)]) / IPv6ExtHdrFragment(m=0, id=5)
               / UDP(sport=1, dport=2) / b"abc")
    pkt = ipv6.decode(data)
    chain = ipv6.split(pkt)
    assert [h.kind for h in chain.headers] == [0, 43, 60, 44]
    assert chain.upper_protocol == 17 and chain.upper[8:] == b"abc"
    # RFC 8200 s8.1 final destination; RFC 6275 s6.3 home address as source
    assert ipv6.checksum_addresses(pkt) == (IPv6Address(A), IPv6Address(A))
    nh, payload = ipv6.join(chain.headers, chain.upper_protocol, chain.upper)
    assert (nh, payload) == (pkt.next_header, pkt.payload)


@pytest.mark.parametrize("data, reason", [
    (b"\x60" + bytes(38), "shorter than its 40-octet"),
    (b"\x40" + bytes(39), "version 4"),
    (bytes.fromhex("60000000000a3b40") + bytes(32), "Payload Length 10 exceeds"),
    (bytes.fromhex("6000000000083c40") + bytes(32) + bytes.fromhex("3b01000000000000"),
     "runs past"),
    (bytes.fromhex("6000000000103c40") + bytes(32) + bytes.fromhex("0000000000000000") * 2,
     "Hop-by-Hop Options header must follow"),
    (bytes.fromhex("6000000000000040") + bytes(32) + bytes(8), "jumbogram"),
])
def test_malformed_chains_are_rejected(data, reason):
    with pytest.raises(ProtocolError, match=reason):
        ipv6.split(ipv6.decode(data))


def test_empty_payload_with_link_layer_padding():
    # Payload Length 0, No Next Header, padded by Ethernet to 60 octets: an empty payload
    pkt = ipv6.decode(raw(IPv6(src=A, dst=B, nh=59)) + bytes(20))
    assert pkt.payload == b"" and ipv6.split(pkt).upper_protocol == 59


def test_options_header_padding_follows_alignment():
    # a 16-octet option at 8n+6 after 2 octets: PadN(4) first (the Home Address layout)
    hdr = ipv6.options_header([(201, bytes(16), (8, 6))])
    assert hdr[:8] == bytes([0, 2, 1, 2, 0, 0, 201, 16]) and len(hdr) == 24
    # one octet of padding is Pad1, and the end is padded to 8 octets
    hdr = ipv6.options_header([(0x05, b"\x00\x00", (2, 1))])
    assert hdr == bytes([0, 0, 0, 5, 2, 0, 0, 0])          # Pad1, option at 3, Pad1
    assert [(k, d) for k, d, _ in ipv6.parse_options(hdr)] == [(5, b"\0\0")]


def test_ip6ip6_matches_scapy_and_round_trips():
    inner = raw(IPv6(src=A, dst=B) / UDP(sport=5, dport=6) / b"in")
    outer = ipv6.encapsulate(C, "2001:db8:1::1", inner)
    assert outer == raw(IPv6(src=C, dst="2001:db8:1::1", nh=41) / IPv6(inner))
    got_outer, got_inner = ipv6.decapsulate(outer)
    assert got_inner == inner and got_outer.src == IPv6Address(C)
    with pytest.raises(ProtocolError, match="not an IPv6-in-IPv6"):
        ipv6.decapsulate(inner)
    with pytest.raises(ProtocolError):
        ipv6.encapsulate(C, A, b"not a packet")
