"""The rtnetlink client's wire formats (orchestrator/agents/rtnl.py), without root.

Expected requests are packed here field by field from the kernel's structures
(<linux/netlink.h> nlmsghdr, <linux/if_addr.h> ifaddrmsg, <linux/rtnetlink.h> rtmsg and
rtattr, <linux/neighbour.h> ndmsg, <linux/fib_rules.h> fib_rule_hdr), independently of the
module's own Struct definitions; the lengths and flags of the address and route requests are
those strace shows for `ip addr add 10.1.0.5/24 dev v0` and `ip route replace default via
10.1.0.1 dev v0` (iproute2 6.1). The canned answers were captured from a 6.x kernel.
"""
from __future__ import annotations

import errno
import struct

import pytest

from orchestrator.agents import rtnl

AF_INET = 2
REQUEST, ACK, REPLACE, EXCL, CREATE = 0x1, 0x4, 0x100, 0x200, 0x400


def hdr(length: int, kind: int, flags: int, seq: int, pid: int = 0) -> bytes:
    return struct.pack("=IHHII", length, kind, flags, seq, pid)


def attr(kind: int, payload: bytes) -> bytes:
    pad = (4 - (4 + len(payload)) % 4) % 4
    return struct.pack("=HH", 4 + len(payload), kind) + payload + b"\0" * pad


IP_10_1_0_5 = bytes([10, 1, 0, 5])


# -- requests ---------------------------------------------------------------------------------
def test_newaddr_matches_ip_addr_add():
    """10.1.0.5/24 on ifindex 3: IFA_LOCAL then IFA_ADDRESS, no IFA_BROADCAST (no `brd`)."""
    expected = (hdr(40, 20, REQUEST | ACK | EXCL | CREATE, 7)
                + struct.pack("=BBBBI", AF_INET, 24, 0, 0, 3)          # ifaddrmsg
                + struct.pack("=HH", 8, 2) + IP_10_1_0_5                # IFA_LOCAL
                + struct.pack("=HH", 8, 1) + IP_10_1_0_5)               # IFA_ADDRESS
    got = rtnl.addr_request(rtnl.RTM_NEWADDR, rtnl.ACKED | rtnl.NLM_F_CREATE | rtnl.NLM_F_EXCL,
                            7, 3, "10.1.0.5/24")
    assert got == expected


def test_newlink_matches_ip_link_set_up_and_down():
    """`ip link set dev X up|down` (strace of iproute2): ifinfomsg with IFF_UP in `change`."""
    for up, flags in ((True, 1), (False, 0)):
        expected = hdr(32, 16, REQUEST | ACK, 9) + struct.pack("=BxHiII", 0, 0, 4, flags, 1)
        assert rtnl.link_request(9, 4, up) == expected


def test_newaddr_with_broadcast_is_brd_plus():
    got = rtnl.addr_request(rtnl.RTM_NEWADDR, rtnl.ACKED, 1, 3, "10.1.0.5/24", broadcast=True)
    assert got[-8:] == struct.pack("=HH", 8, 4) + bytes([10, 1, 0, 255])   # IFA_BROADCAST
    assert struct.unpack_from("=I", got)[0] == len(got) == 48
    for plen in (31, 32):       # no broadcast address on point-to-point prefixes
        assert len(rtnl.addr_request(rtnl.RTM_NEWADDR, rtnl.ACKED, 1, 3, f"10.1.0.5/{plen}",
                                     broadcast=True)) == 40


def test_loopback_address_has_host_scope():
    got = rtnl.addr_request(rtnl.RTM_NEWADDR, rtnl.ACKED, 1, 1, "127.0.0.2/8")
    assert got[16:24] == struct.pack("=BBBBI", AF_INET, 8, 0, 254, 1)


def test_deladdr_defaults_to_a_host_prefix():
    got = rtnl.addr_request(rtnl.RTM_DELADDR, rtnl.ACKED, 9, 3, "10.1.0.5")
    assert got[:24] == hdr(40, 21, REQUEST | ACK, 9) + struct.pack("=BBBBI", AF_INET, 32, 0, 0, 3)


def test_route_replace_default_matches_ip_route_replace():
    expected = (hdr(44, 24, REQUEST | ACK | REPLACE | CREATE, 8)
                # family, dst_len, src_len, tos, table main, proto boot, scope universe,
                # type unicast, flags
                + struct.pack("=BBBBBBBBI", AF_INET, 0, 0, 0, 254, 3, 0, 1, 0)
                + struct.pack("=HH", 8, 5) + bytes([10, 1, 0, 1])       # RTA_GATEWAY
                + struct.pack("=HH", 8, 4) + struct.pack("=I", 3))      # RTA_OIF
    got = rtnl.route_request(rtnl.RTM_NEWROUTE,
                             rtnl.ACKED | rtnl.NLM_F_CREATE | rtnl.NLM_F_REPLACE, 8,
                             "default", gateway="10.1.0.1", oif=3)
    assert got == expected


def test_route_without_gateway_in_a_big_table():
    """Scope link without a gateway; table 1000 goes in RTA_TABLE, rtm_table = UNSPEC."""
    expected = (hdr(52, 24, REQUEST | ACK | REPLACE | CREATE, 1)
                + struct.pack("=BBBBBBBBI", AF_INET, 16, 0, 0, 0, 3, 253, 1, 0)
                + attr(15, struct.pack("=I", 1000))                      # RTA_TABLE
                + attr(1, bytes([10, 9, 0, 0]))                          # RTA_DST
                + attr(4, struct.pack("=I", 5)))                         # RTA_OIF
    got = rtnl.route_request(rtnl.RTM_NEWROUTE,
                             rtnl.ACKED | rtnl.NLM_F_CREATE | rtnl.NLM_F_REPLACE, 1,
                             "10.9.0.0/16", oif=5, table=1000)
    assert got == expected


def test_route_delete_matches_any_scope_and_protocol():
    expected = (hdr(36, 25, REQUEST | ACK, 2)
                + struct.pack("=BBBBBBBBI", AF_INET, 24, 0, 0, 100, 0, 255, 0, 0)
                + attr(1, bytes([10, 2, 0, 0])))
    assert rtnl.route_request(rtnl.RTM_DELROUTE, rtnl.ACKED, 2, "10.2.0.0/24",
                              table=100) == expected


def test_neigh_replace_stale():
    expected = (hdr(48, 28, REQUEST | ACK | REPLACE | CREATE, 3)
                # ndm_family, pad1, pad2, ifindex, state NUD_STALE, flags, type
                + struct.pack("=BBHiHBB", AF_INET, 0, 0, 3, 0x04, 0, 0)
                + struct.pack("=HH", 8, 1) + bytes([10, 1, 0, 7])        # NDA_DST
                + struct.pack("=HH", 10, 2) + bytes.fromhex("020000000007") + b"\0\0")
    got = rtnl.neigh_request(rtnl.RTM_NEWNEIGH,
                             rtnl.ACKED | rtnl.NLM_F_CREATE | rtnl.NLM_F_REPLACE, 3, 3,
                             rtnl.ipv4("10.1.0.7"), rtnl.NUD_STALE,
                             rtnl.lladdr("02:00:00:00:00:07"))
    assert got == expected


def test_rule_del():
    expected = (hdr(44, 33, REQUEST | ACK, 4)
                # family, dst_len, src_len, tos, table, res1, res2, action, flags
                + struct.pack("=BBBBBBBBI", AF_INET, 0, 32, 0, 0, 0, 0, 0, 0)
                + attr(2, IP_10_1_0_5)                                   # FRA_SRC
                + attr(15, struct.pack("=I", 1000)))                     # FRA_TABLE
    assert rtnl.rule_request(rtnl.RTM_DELRULE, rtnl.ACKED, 4, "10.1.0.5/32", 1000) == expected
    small = rtnl.rule_request(rtnl.RTM_DELRULE, rtnl.ACKED, 4, "10.1.0.0/24", 100)
    assert small[16:28] == struct.pack("=BBBBBBBBI", AF_INET, 0, 24, 0, 100, 0, 0, 0, 0)


def test_dump_requests():
    assert rtnl.dump_request(rtnl.RTM_GETADDR, 5) == (
        hdr(24, 22, REQUEST | 0x300, 5) + struct.pack("=BBBBI", AF_INET, 0, 0, 0, 0))
    assert rtnl.dump_request(rtnl.RTM_GETNEIGH, 6, index=3) == (
        hdr(36, 30, REQUEST | 0x300, 6) + struct.pack("=BBHiHBB", AF_INET, 0, 0, 0, 0, 0, 0)
        + struct.pack("=HHI", 8, 8, 3))                                  # NDA_IFINDEX


@pytest.mark.parametrize("payload, rta_len, total", [
    (b"", 4, 4), (b"a", 5, 8), (b"ab", 6, 8), (b"v0\0", 7, 8), (b"abcd", 8, 8),
    (b"abcde", 9, 12), (bytes(6), 10, 12)])
def test_attribute_alignment(payload, rta_len, total):
    """rta_len counts header + payload; the padding to 4 octets is zeros and not counted."""
    a = rtnl.rtattr(7, payload)
    assert len(a) == total
    assert struct.unpack_from("=HH", a) == (rta_len, 7)
    assert a[4:4 + len(payload)] == payload and a[rta_len:] == b"\0" * (total - rta_len)


def test_attributes_round_trip():
    data = rtnl.rtattr(1, b"x") + rtnl.rtattr(2, bytes(6)) + rtnl.rtattr(3, b"abcd")
    assert rtnl.parse_attrs(data) == {1: b"x", 2: bytes(6), 3: b"abcd"}
    assert rtnl.parse_attrs(data + b"\x10\x00") == {1: b"x", 2: bytes(6), 3: b"abcd"}


def test_bad_arguments():
    with pytest.raises(ValueError):
        rtnl.lladdr("02:00:00:00:07")
    with pytest.raises(ValueError):
        rtnl.prefix("10.1.0.300/24")
    with pytest.raises(ValueError):
        rtnl.dump_request(rtnl.RTM_NEWROUTE, 1)


# -- answers ----------------------------------------------------------------------------------
# `ip addr add 10.1.0.5/24 dev v0` (ifindex 3, down), then an RTM_GETADDR dump (seq 42):
# ifaddrmsg, IFA_ADDRESS, IFA_LOCAL, IFA_LABEL "v0", IFA_FLAGS 0x80 (permanent),
# IFA_CACHEINFO; then NLMSG_DONE with error 0.
DUMP = bytes.fromhex(
    "4c000000140002002a000000997300000218800003000000080001000a010005080002000a0100050700"
    "030076300000080008008000000014000600ffffffffffffffff10b3100010b31000")
DONE = bytes.fromhex("14000000030002002a0000009973000000000000")
# The same address added again: EEXIST, capped, with the kernel's extended-ack text.
EEXIST = bytes.fromhex(
    "48000000020000032b00000099730000efffffff28000000140005062b00000000000000230001006970"
    "76343a204164647265737320616c72656164792061737369676e65640000")


def test_parse_newaddr_dump():
    msgs = rtnl.parse_messages(DUMP + DONE)
    assert [(m.type, m.flags, m.seq, m.pid) for m in msgs] == [
        (20, rtnl.NLM_F_MULTI, 42, 29593), (rtnl.NLMSG_DONE, rtnl.NLM_F_MULTI, 42, 29593)]
    a = rtnl.parse_ifaddr(msgs[0].body)
    assert (a["family"], a["prefixlen"], a["flags"], a["scope"], a["index"], a["local"]) == (
        AF_INET, 24, 0x80, 0, 3, "10.1.0.5")
    assert a["attrs"][3] == b"v0\0"                                # IFA_LABEL
    assert a["attrs"][8] == struct.pack("=I", 0x80)                 # IFA_FLAGS


def test_parse_messages_stops_at_a_truncated_message():
    assert rtnl.parse_messages(DUMP[:-4]) == []
    assert len(rtnl.parse_messages(DUMP + DONE[:10])) == 1


def test_parse_capped_error_with_extended_ack():
    (msg,) = rtnl.parse_messages(EEXIST)
    assert msg.type == rtnl.NLMSG_ERROR
    assert rtnl.parse_error(msg) == (errno.EEXIST, "ipv4: Address already assigned")


def test_parse_uncapped_error_and_ack():
    """Without NETLINK_CAP_ACK the whole request is echoed; an ack is error 0."""
    request = rtnl.route_request(rtnl.RTM_DELROUTE, rtnl.ACKED, 11, "10.99.0.0/16")
    body = struct.pack("=i", -errno.ESRCH) + request
    msg = rtnl.parse_messages(hdr(16 + len(body), 2, 0, 11, 77) + body)[0]
    assert rtnl.parse_error(msg) == (errno.ESRCH, "")
    ack = struct.pack("=i", 0) + request[:16]
    msg = rtnl.parse_messages(hdr(16 + len(ack), 2, rtnl.NLM_F_CAPPED, 11, 77) + ack)[0]
    assert rtnl.parse_error(msg) == (0, "")


def test_rtnl_error_is_an_oserror():
    exc = rtnl.RtnlError(errno.ESRCH, "route_del('10.99.0.0/16', table=254, ifname=None): "
                                      "No such process")
    assert isinstance(exc, OSError) and exc.errno == errno.ESRCH
    assert "route_del('10.99.0.0/16'" in str(exc)
