"""DHCPv4 messages of proactive address acquisition (orchestrator.protocols.dhcp).

Expected requests are rebuilt here from RFC 2131 s2's layout with struct; the answers are
real ones: a DHCPACK and a DHCPOFFER that dnsmasq 2.90 (the testbed's configuration agent)
sent to an MN acting as its own relay agent, and a DISCOVER of strongSwan's dhcp plugin,
captured on the testbed (tests/integration/test_preconfiguration.py takes such captures).
"""
import struct
from ipaddress import IPv4Address

import pytest

from orchestrator.protocols import dhcp
from orchestrator.protocols.errors import ProtocolError

MAC = bytes.fromhex("02a3d69a6a59")
OCOA, SUBNET = "10.2.0.100", "10.1.0.0/24"
# dnsmasq 2.90 -> 10.2.0.100:67 (giaddr), for the MN's DHCPREQUEST
DNSMASQ_ACK = bytes.fromhex(
    "0201060108e8423500000000000000000a0100880a0100060a02006402a3d69a6a59" + "00" * 10
    + "00" * 192 + "63825363"
    "35010536040a010006330400000e1076040a0100003a04000007083b0400000c4e0104ffffff00"
    "1c040a0100ff03040a010001ff0000000000000000")
DNSMASQ_OFFER = DNSMASQ_ACK.replace(bytes.fromhex("350105"), bytes.fromhex("350102"), 1)
# strongSwan 5.9.8 dhcp plugin (relay agent 10.1.0.1, identity_lease) -> dnsmasq
STRONGSWAN_DISCOVER = bytes.fromhex(
    "01010600112c903f000000000000000000000000000000000a0100017aa7379b8ca9" + "00" * 10
    + "00" * 192 + "63825363"
    "3501010c143032613364363961366135392e7374612e6d70613d143032613364363961366135392e"
    "7374612e6d70613702062cff")


def header(op, xid, flags=0, hops=1, ciaddr="0.0.0.0", giaddr=OCOA) -> bytes:
    return (struct.pack("!BBBBIHH", op, 1, 6, hops, xid, 0, flags)
            + IPv4Address(ciaddr).packed + bytes(8) + IPv4Address(giaddr).packed
            + MAC + bytes(10) + bytes(64) + bytes(128) + b"\x63\x82\x53\x63")


def test_discover_is_a_relayed_unicast_request():
    raw = dhcp.encode(dhcp.discover(MAC, 0x01020304, OCOA, SUBNET))
    options = (b"\x35\x01\x01"                      # DHCPDISCOVER
               + b"\x3d\x07\x01" + MAC               # client id: type 1 + MAC (RFC 2132 9.14)
               + b"\x37\x04\x01\x03\x33\x36"         # asks for mask, router, lease, server
               + b"\x76\x04\x0a\x01\x00\x00"         # RFC 3011 subnet selection 10.1.0.0
               + b"\xff")
    expected = header(1, 0x01020304) + options
    assert raw == expected.ljust(300, b"\0")
    assert raw[10:12] == b"\0\0"                     # broadcast bit 0 (s7.3.3)
    assert raw[24:28] == IPv4Address(OCOA).packed     # giaddr = oCoA


def test_request_selects_the_offer_and_release_names_the_address():
    offer = dhcp.decode(DNSMASQ_OFFER)
    req = dhcp.encode(dhcp.request(offer, MAC, OCOA, SUBNET))
    assert req[:240] == header(1, offer.xid)
    assert b"\x32\x04\x0a\x01\x00\x88" in req           # requested IP 10.1.0.136
    assert b"\x36\x04\x0a\x01\x00\x06" in req           # server id 10.1.0.6
    assert dhcp.decode(req).message_type == dhcp.MessageType.REQUEST
    lease = dhcp.lease_from_ack(dhcp.decode(DNSMASQ_ACK))
    rel = dhcp.decode(dhcp.encode(dhcp.release(lease, MAC, 9, OCOA, SUBNET)))
    assert rel.message_type == dhcp.MessageType.RELEASE
    assert rel.ciaddr == IPv4Address("10.1.0.136") and rel.xid == 9
    assert rel.option(dhcp.Option.SERVER_ID) == IPv4Address("10.1.0.6").packed


def test_decodes_dnsmasq_ack():
    ack = dhcp.decode(DNSMASQ_ACK)
    assert ack.op == dhcp.BOOTREPLY and ack.xid == 0x08E84235 and ack.hops == 1
    assert ack.chaddr == MAC and ack.giaddr == IPv4Address(OCOA)
    assert ack.message_type == dhcp.MessageType.ACK
    lease = dhcp.lease_from_ack(ack)
    assert lease.address == IPv4Address("10.1.0.136")
    assert lease.server_id == IPv4Address("10.1.0.6") and lease.lease_time == 3600
    assert lease.router == IPv4Address("10.1.0.1")
    assert str(lease.network) == "10.1.0.0/24" and lease.extra == {"t1": 1800, "t2": 3150}
    assert ack.option(dhcp.Option.SUBNET_SELECTION) == bytes([10, 1, 0, 0])   # echoed


def test_decodes_strongswan_relay_discover():
    d = dhcp.decode(STRONGSWAN_DISCOVER)
    assert d.message_type == dhcp.MessageType.DISCOVER
    assert d.giaddr == IPv4Address("10.1.0.1") and d.chaddr[:2] == b"\x7a\xa7"
    assert d.option(dhcp.Option.CLIENT_ID) == b"02a3d69a6a59.sta.mpa"        # IKE identity


def test_nak_and_offer_are_not_leases():
    with pytest.raises(ProtocolError, match="not a DHCPACK"):
        dhcp.lease_from_ack(dhcp.decode(DNSMASQ_OFFER))


def test_long_and_repeated_options_rfc3396_and_overload():
    msg = dhcp.DhcpMessage(dhcp.BOOTREQUEST, 1, MAC, ((12, b"x" * 300),))
    raw = dhcp.encode(msg)
    assert dhcp.decode(raw).option(12) == b"x" * 300                      # split and joined
    # option overload: options continue in the file field
    head = bytearray(header(2, 5, giaddr="0.0.0.0"))
    head[108:114] = b"\x33\x04\x00\x00\x00\x3c"                             # lease 60 s in file
    head[114] = 0xFF
    raw = bytes(head) + b"\x35\x01\x05\x34\x01\x01\xff"
    m = dhcp.decode(raw)
    assert m.option(dhcp.Option.LEASE_TIME) == b"\x00\x00\x00\x3c" and m.file == b""


@pytest.mark.parametrize("data,reason", [
    (b"\x02" * 100, "shorter than"),
    (header(2, 1)[:236] + b"abcd" + b"\xff", "magic cookie"),
    (header(2, 1) + b"\x35\x01\x05", "no END"),
    (header(2, 1) + b"\x35\x05\x05", "runs past the end"),
    (header(2, 1) + b"\x35", "no length octet"),
    (bytes([3]) + header(2, 1)[1:] + b"\xff", "neither BOOTREQUEST nor BOOTREPLY"),
])
def test_malformed(data, reason):
    with pytest.raises(ProtocolError, match=reason):
        dhcp.decode(data)
