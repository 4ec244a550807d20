"""The on-link DHCPv4 client's messages and frames (orchestrator.protocols.dhcp, RFC 6252
C.5.1: the MN's address after the move, without MPA).

Expected headers are rebuilt here from RFC 2131 s2, RFC 791 and RFC 768 with struct, and
their checksums recomputed with a sum of our own; the answer is a real one: a DHCPOFFER
frame that dnsmasq 2.90 unicast to an on-link client (broadcast flag 0), read from the
client's veth with an AF_PACKET socket (tests/agents/test_dhcp_client.py's testbed). Its UDP
checksum is the partial one a veth leaves for the offload to fill in.
"""
import struct
from ipaddress import IPv4Address

import pytest

from orchestrator.protocols import dhcp
from orchestrator.protocols.errors import ProtocolError

MAC = bytes.fromhex("020000770010")
SERVER_MAC = bytes.fromhex("5a8ce80c40af")
XID = 0xF56D7809
DNSMASQ_OFFER_FRAME = (
    bytes.fromhex("0200007700105a8ce80c40af0800"                        # Ethernet II
                  "45c00148cb710000401198a40a4d00010a4d0035"            # IPv4 -> 10.77.0.53
                  "0043004401341615"                                    # UDP 67 -> 68
                  "02010600f56d780900000000000000000a4d00350a4d0001000000000200007700"
                  "10")
    + bytes(202)
    + bytes.fromhex("6382536335010236040a4d00013304000002583a040000012c3b040000020d0104"
                    "ffffff001c040a4d00ff03040a4d00feff" + "00" * 14))


def ones_sum(data: bytes) -> int:
    """RFC 1071 checksum, written apart from the module's: add words, fold, complement."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
    total = (total % 0xFFFF) or (0xFFFF if total else 0)     # end-around carry
    return 0xFFFF - total


def options_of(payload: bytes) -> dict[int, bytes]:
    out, i = {}, 240
    while payload[i] != 255:
        out[payload[i]] = payload[i + 2:i + 2 + payload[i + 1]]
        i += 2 + payload[i + 1]
    return out


def test_discover_frame_is_a_broadcast_from_no_address():
    payload = dhcp.encode(dhcp.discover_onlink(MAC, XID, requested="10.77.0.53"))
    frame = dhcp.udp_frame(payload, MAC)
    assert len(frame) == 14 + 20 + 8 + len(payload) == 14 + 20 + 8 + 300
    assert frame[:14] == b"\xff" * 6 + MAC + b"\x08\x00"
    ip = frame[14:34]
    total = 20 + 8 + 300
    assert ip[:10] == struct.pack("!BBHHHBB", 0x45, 0, total, 0, 0, 64, 17)
    assert ip[12:20] == bytes(4) + b"\xff" * 4                 # 0.0.0.0 -> 255.255.255.255
    checksum = struct.unpack("!H", ip[10:12])[0]
    # by hand: 4500 + 0148 + 4011 + ffff + ffff = 2 8657 -> 8659, complemented 79a6
    assert checksum == ones_sum(ip[:10] + bytes(2) + ip[12:]) == 0x79A6
    assert ones_sum(ip) == 0
    udp = frame[34:42]
    assert udp[:6] == struct.pack("!HHH", 68, 67, 8 + 300)
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, 8 + 300)
    assert ones_sum(pseudo + udp + payload) == 0               # RFC 768 checksum verified
    assert udp[6:8] != b"\0\0"
    assert frame[42:] == payload


def test_discover_asks_for_broadcast_and_names_the_client():
    raw = dhcp.encode(dhcp.discover_onlink(MAC, XID, requested="10.77.0.53"))
    assert raw[:12] == struct.pack("!BBBBIHH", 1, 1, 6, 0, XID, 0, 0x8000)
    assert raw[12:28] == bytes(16)                             # ciaddr .. giaddr all 0
    assert raw[28:44] == MAC + bytes(10)
    assert raw[236:240] == b"\x63\x82\x53\x63"
    opts = options_of(raw)
    assert list(opts) == [53, 61, 50, 55]
    assert opts[53] == b"\x01" and opts[61] == b"\x01" + MAC
    assert opts[50] == IPv4Address("10.77.0.53").packed
    assert opts[55] == bytes([1, 3, 51, 54])
    assert 50 not in options_of(dhcp.encode(dhcp.discover_onlink(MAC, XID)))
    assert dhcp.encode(dhcp.discover_onlink(MAC, XID, broadcast=False))[10:12] == b"\0\0"


def test_request_selects_the_offer_from_the_frame():
    port, payload = dhcp.parse_udp_frame(DNSMASQ_OFFER_FRAME)
    assert port == 68
    offer = dhcp.decode(payload)
    assert offer.message_type == dhcp.MessageType.OFFER and offer.xid == XID
    assert offer.yiaddr == IPv4Address("10.77.0.53") and offer.chaddr == MAC
    raw = dhcp.encode(dhcp.request_onlink(offer, MAC, XID))
    assert raw[:12] == struct.pack("!BBBBIHH", 1, 1, 6, 0, XID, 0, 0x8000)
    assert raw[12:28] == bytes(16)                             # ciaddr 0 in SELECTING
    opts = options_of(raw)
    assert list(opts) == [53, 61, 50, 54, 55]
    assert opts[53] == b"\x03" and opts[61] == b"\x01" + MAC
    assert opts[50] == IPv4Address("10.77.0.53").packed        # the offered address
    assert opts[54] == IPv4Address("10.77.0.1").packed         # the offering server
    back = dhcp.decode(raw)
    assert back.message_type == dhcp.MessageType.REQUEST and back.flags == 0x8000


def test_request_needs_a_server_identifier():
    offer = dhcp.decode(dhcp.parse_udp_frame(DNSMASQ_OFFER_FRAME)[1])
    bare = dhcp.DhcpMessage(dhcp.BOOTREPLY, XID, MAC, ((53, b"\x02"),),
                            yiaddr=offer.yiaddr)
    with pytest.raises(ProtocolError, match="Server Identifier"):
        dhcp.request_onlink(bare, MAC, XID)
    nothing = dhcp.DhcpMessage(dhcp.BOOTREPLY, XID, MAC, offer.options)
    with pytest.raises(ProtocolError, match="no address"):
        dhcp.request_onlink(nothing, MAC, XID)


def test_release_and_decline_name_the_lease():
    ack = dhcp.decode(dhcp.parse_udp_frame(DNSMASQ_OFFER_FRAME)[1].replace(
        b"\x35\x01\x02", b"\x35\x01\x05", 1))
    lease = dhcp.lease_from_ack(ack)
    assert (lease.address, lease.server_id, lease.lease_time) == (
        IPv4Address("10.77.0.53"), IPv4Address("10.77.0.1"), 600)
    rel = dhcp.encode(dhcp.release_onlink(lease, MAC, 7))
    assert rel[:16] == struct.pack("!BBBBIHH", 1, 1, 6, 0, 7, 0, 0) + lease.address.packed
    assert options_of(rel) == {53: b"\x07", 61: b"\x01" + MAC,
                               54: IPv4Address("10.77.0.1").packed}
    dec = dhcp.encode(dhcp.decline_onlink(lease, MAC, 8))
    assert dec[:16] == struct.pack("!BBBBIHH", 1, 1, 6, 0, 8, 0, 0) + bytes(4)
    assert options_of(dec) == {53: b"\x04", 61: b"\x01" + MAC,
                               50: lease.address.packed, 54: IPv4Address("10.77.0.1").packed}
    assert dhcp.decode(dec).message_type == dhcp.MessageType.DECLINE
    serverless = dhcp.Lease(lease.address, None, None, None, None)
    with pytest.raises(ProtocolError, match="names no server"):
        dhcp.release_onlink(serverless, MAC, 7)


def test_frames_round_trip():
    payload = dhcp.encode(dhcp.release_onlink(
        dhcp.Lease(IPv4Address("10.77.0.53"), IPv4Address("10.77.0.1"), 600, None, None),
        MAC, 9))
    frame = dhcp.udp_frame(payload, MAC, SERVER_MAC, "10.77.0.53", "10.77.0.1", ident=5)
    assert frame[:12] == SERVER_MAC + MAC
    assert dhcp.parse_udp_frame(frame) == (67, payload)
    assert dhcp.parse_udp_frame(frame + bytes(20)) == (67, payload)      # trailer ignored
    odd = dhcp.udp_frame(b"abc", MAC, sport=1000, dport=2000)
    assert dhcp.parse_udp_frame(odd) == (2000, b"abc")
    assert ones_sum(odd[26:34] + struct.pack("!BBH", 0, 17, 11) + odd[34:]) == 0


def corrupt(frame: bytes, at: int, value: bytes, fix_checksum: bool = True) -> bytes:
    out = bytearray(frame)
    out[at:at + len(value)] = value
    if fix_checksum:
        out[24:26] = b"\0\0"
        out[24:26] = struct.pack("!H", ones_sum(bytes(out[14:34])))
    return bytes(out)


@pytest.mark.parametrize("frame, message", [
    (DNSMASQ_OFFER_FRAME[:40], "too short"),
    (corrupt(DNSMASQ_OFFER_FRAME, 12, b"\x86\xdd"), "not IPv4"),
    (corrupt(DNSMASQ_OFFER_FRAME, 14, b"\x65"), "not an IPv4 header"),
    (corrupt(DNSMASQ_OFFER_FRAME, 24, b"\0\0", fix_checksum=False), "checksum"),
    (corrupt(DNSMASQ_OFFER_FRAME, 16, b"\x05\x00"), "total length"),
    (corrupt(DNSMASQ_OFFER_FRAME, 20, b"\x20\x00"), "fragment"),
    (corrupt(DNSMASQ_OFFER_FRAME, 23, b"\x06"), "not UDP"),
    (corrupt(DNSMASQ_OFFER_FRAME, 38, b"\x01\x40"), "UDP length"),
])
def test_parse_rejects_what_is_not_one_udp_datagram(frame, message):
    with pytest.raises(ProtocolError, match=message):
        dhcp.parse_udp_frame(frame)


def test_internet_checksum_matches_an_independent_sum():
    for data in (b"", b"\x01", bytes(range(255)), b"\xff\xff" * 40, bytes(20)):
        assert dhcp.internet_checksum(data) == ones_sum(data)


def test_the_client_keeps_only_replies_for_it():
    """agents.dhcp_client.reply_for: UDP to port 68, BOOTREPLY, our xid and MAC."""
    from orchestrator.agents.dhcp_client import reply_for
    assert reply_for(DNSMASQ_OFFER_FRAME, XID, MAC).yiaddr == IPv4Address("10.77.0.53")
    assert reply_for(DNSMASQ_OFFER_FRAME, XID + 1, MAC) is None
    assert reply_for(DNSMASQ_OFFER_FRAME, XID, SERVER_MAC) is None
    request = dhcp.encode(dhcp.discover_onlink(MAC, XID))
    assert reply_for(dhcp.udp_frame(request, MAC), XID, MAC) is None          # to port 67
    assert reply_for(dhcp.udp_frame(request, MAC, sport=67, dport=68), XID, MAC) is None
    assert reply_for(DNSMASQ_OFFER_FRAME[:300], XID, MAC) is None             # truncated
