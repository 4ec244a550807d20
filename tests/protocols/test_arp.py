"""ARP frames for the nAR's proactive DAD and proxy ARP (orchestrator.protocols.arp):
expected octets from RFC 826's layout and RFC 5227's definitions of Probe and Announcement."""
from ipaddress import IPv4Address

import pytest

from orchestrator.protocols import arp
from orchestrator.protocols.errors import ProtocolError

AR = bytes.fromhex("02c5eec641d7")
OTHER = bytes.fromhex("02aabbccddee")
NCOA = "10.1.0.165"


def test_probe_octets():
    frame = arp.encode(arp.probe(AR, NCOA))
    assert frame == (b"\xff" * 6 + AR + b"\x08\x06"                 # Ethernet, broadcast
                     + b"\x00\x01\x08\x00\x06\x04\x00\x01"           # IPv4/Ethernet, request
                     + AR + bytes(4)                                 # sender IP 0.0.0.0
                     + bytes(6) + IPv4Address(NCOA).packed)          # who has the nCoA?


def test_announcement_octets_and_roundtrip():
    frame = arp.encode(arp.announcement(AR, NCOA))
    assert frame[28:32] == frame[38:42] == IPv4Address(NCOA).packed  # spa == tpa
    back = arp.decode(frame)
    assert back.oper == arp.REQUEST and back.sha == AR and back.eth_src == AR
    assert back.spa == back.tpa == IPv4Address(NCOA)


def test_conflicts_per_rfc5227():
    reply = arp.Arp(arp.REPLY, OTHER, IPv4Address(NCOA), AR, IPv4Address(NCOA))
    assert arp.is_conflict(reply, NCOA, AR)                           # someone has it
    assert arp.is_conflict(arp.probe(OTHER, NCOA), NCOA, AR)          # someone probes it too
    assert not arp.is_conflict(arp.probe(AR, NCOA), NCOA, AR)         # our own probe
    assert not arp.is_conflict(arp.probe(OTHER, "10.1.0.9"), NCOA, AR)
    other = arp.Arp(arp.REQUEST, OTHER, IPv4Address("10.1.0.6"), bytes(6), IPv4Address(NCOA))
    assert not arp.is_conflict(other, NCOA, AR)                       # a plain question


@pytest.mark.parametrize("frame,reason", [
    (b"\x00" * 20, "too short"),
    (b"\xff" * 12 + b"\x08\x00" + bytes(28), "not ARP"),
    (b"\xff" * 12 + b"\x08\x06" + b"\x00\x06\x08\x00\x06\x04\x00\x01" + bytes(20), "IPv4 over"),
    (b"\xff" * 12 + b"\x08\x06" + b"\x00\x01\x08\x00\x06\x04\x00\x09" + bytes(20), "operation 9"),
])
def test_malformed(frame, reason):
    with pytest.raises(ProtocolError, match=reason):
        arp.decode(frame)
