"""tshark (Wireshark 4.0's independent dissectors) reads every Mobile IPv6 message and
header our codec writes as Mobile IPv6, with no malformed packet or expert error, the same
field values, and checksums right: ICMPv6 and UDP checksums are verified by Wireshark itself
(``udp.check_checksum``), Mobility Header checksums (which Wireshark 4.0 prints but does
not verify) against the pseudo-header made of the addresses tshark reports."""
from __future__ import annotations

import shutil
import struct
import subprocess
from ipaddress import IPv6Address

import pytest
from scapy.utils import checksum as scapy_checksum

from orchestrator.protocols import icmpv6, ipv6, mipv6
from orchestrator.protocols.mipv6 import (AlternateCareOfAddress, BindingAck,
                                          BindingAuthorizationData, BindingError,
                                          BindingRefreshAdvice, BindingRefreshRequest,
                                          BindingUpdate, CareOfTest, CareOfTestInit,
                                          HomeTest, HomeTestInit, NonceIndices)
from tests.analysis.synthetic import write_pcap

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")

HOA, COA, HA, CN = "2001:db8:1::100", "2001:db8:2::100", "2001:db8:1::1", "2001:db8:3::1"
MAC_A, MAC_B = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
COOKIE, TOKEN = bytes.fromhex("0102030405060708"), bytes.fromhex("1112131415161718")
KBM = bytes(range(20))


def _udp(src, dst, sport, dport, payload: bytes) -> bytes:
    body = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    csum = ipv6.upper_layer_checksum(src, dst, ipv6.NH_UDP, body) or 0xFFFF
    return ipv6.encode(ipv6.Ipv6Packet(src, dst, ipv6.NH_UDP,
                                       body[:6] + struct.pack("!H", csum) + body[8:]))


def _messages():
    """(name, IPv6 packet, expected tshark fields) for every message type we send."""
    bu_ro = mipv6.authorize(BindingUpdate(9, 105, ack=True, options=(NonceIndices(3, 4),)),
                            KBM, COA, CN)
    ba_ro = mipv6.authorize(BindingAck(0, 9, 105, options=(BindingRefreshAdvice(50),)),
                            KBM, COA, CN)
    mp = mipv6.mobility_packet
    return [
        ("BU home", mp(COA, HA, BindingUpdate(1, 900, ack=True, home_registration=True),
                       home_address=HOA), {"mip6.mhtype": "5", "mip6.bu.seqnr": "1",
                                           "ipv6.opt.mipv6.home_address": HOA}),
        ("BU alt-coa", mp(COA, HA, BindingUpdate(2, 900, ack=True, home_registration=True,
                                                 options=(AlternateCareOfAddress(COA),)),
                          home_address=HOA), {"mip6.acoa.acoa": COA}),
        ("BA home", mp(HA, COA, BindingAck(0, 1, 900), routed_home_address=HOA),
         {"mip6.mhtype": "6", "mip6.ba.status": "0", "ipv6.routing.type": "2"}),
        ("BA 135", mp(HA, COA, BindingAck(135, 1, 0), routed_home_address=HOA),
         {"mip6.ba.status": "135"}),
        ("BRR", mp(CN, COA, BindingRefreshRequest(), routed_home_address=HOA),
         {"mip6.mhtype": "0"}),
        ("HoTI", mp(HOA, CN, HomeTestInit(COOKIE)), {"mip6.mhtype": "1",
                                                     "mip6.hoti.cookie": COOKIE.hex()}),
        ("CoTI", mp(COA, CN, CareOfTestInit(COOKIE)), {"mip6.mhtype": "2"}),
        ("HoT", mp(CN, HOA, HomeTest(7, COOKIE, TOKEN)),
         {"mip6.mhtype": "3", "mip6.hot.nindex": "7", "mip6.hot.token": TOKEN.hex()}),
        ("CoT", mp(CN, COA, CareOfTest(8, COOKIE, TOKEN)),
         {"mip6.mhtype": "4", "mip6.cot.nindex": "8"}),
        ("BU RO", mp(COA, CN, bu_ro, home_address=HOA),
         {"mip6.ni.hni": "3", "mip6.ni.cni": "4",
          "mip6.bad.auth": bu_ro.options[-1].authenticator.hex()}),
        ("BA RO", mp(CN, COA, ba_ro, routed_home_address=HOA), {"mip6.mhtype": "6"}),
        ("BE", mp(CN, COA, BindingError(1, HOA)), {"mip6.mhtype": "7", "mip6.be.status": "1"}),
        ("UDP HAO", mipv6.add_home_address_option(_udp(HOA, CN, 5000, 6000, b"ro up"), COA),
         {"ipv6.opt.mipv6.home_address": HOA, "udp.checksum.status": "1"}),
        ("UDP RH2", mipv6.add_type2_routing_header(_udp(CN, HOA, 6000, 5000, b"ro dn"), COA),
         {"ipv6.routing.type": "2", "udp.checksum.status": "1"}),
        ("ip6ip6", ipv6.encapsulate(HA, COA, _udp(CN, HOA, 6000, 5000, b"tunnelled")),
         {"ipv6.nxt": "41,17", "udp.checksum.status": "1"}),
        ("RA", icmpv6.packet("fe80::1", "ff02::1", icmpv6.RouterAdvertisement(
            home_agent=True, options=(icmpv6.SourceLinkLayerAddress(MAC_A),
                                      icmpv6.PrefixInformation(HA, 64, router_address=True),
                                      icmpv6.AdvertisementInterval(1000),
                                      icmpv6.HomeAgentInformation(10, 1800)))),
         {"icmpv6.type": "134", "icmpv6.checksum.status": "1"}),
        ("NS DAD", icmpv6.dad_probe(HOA), {"icmpv6.type": "135",
                                           "icmpv6.checksum.status": "1"}),
        ("NA proxy", icmpv6.proxy_advertisement(HOA, "fe80::1", MAC_A),
         {"icmpv6.type": "136", "icmpv6.checksum.status": "1"}),
    ]


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    msgs = _messages()
    path = tmp_path_factory.mktemp("mipv6") / "mipv6.pcap"
    write_pcap(path, [(1_795_000_000.0 + i / 100, MAC_B + MAC_A + b"\x86\xdd" + pkt)
                      for i, (_, pkt, _) in enumerate(msgs)])
    return path, msgs


def tshark(path, *args: str) -> list[str]:
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-o", "udp.check_checksum:TRUE",
                          *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_no_malformed_packet_or_expert_error(capture):
    path, msgs = capture
    assert tshark(path, "-Y", "_ws.malformed || _ws.expert.severity >= error") == []
    assert len(tshark(path)) == len(msgs)
    assert len(tshark(path, "-Y", "mipv6")) == 12                    # every Mobility Header


def test_fields_as_written(capture):
    path, msgs = capture
    for i, (name, _, expected) in enumerate(msgs, start=1):
        fields = list(expected)
        row = tshark(path, "-Y", f"frame.number == {i}", "-T", "fields", "-E", "separator=|",
                     *[a for f in fields for a in ("-e", f)])
        values = row[0].split("|")
        got = dict(zip(fields, values))
        for f, want in expected.items():
            if f.endswith(("cookie", "token", "auth")):
                got[f] = got[f].replace(":", "").removeprefix("0x")
            assert got[f] == want, (name, f, got[f])


def test_mobility_header_checksums_against_tshark_addresses(capture):
    path, msgs = capture
    rows = tshark(path, "-Y", "mipv6", "-T", "fields", "-E", "separator=|", "-e", "frame.number",
                  "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "ipv6.opt.mipv6.home_address",
                  "-e", "ipv6.routing.mipv6.home_address", "-e", "mip6.csum")
    assert len(rows) == 12
    for row in rows:
        number, src, dst, home, routed_home, csum = row.split("|")
        mh = bytearray(ipv6.split(ipv6.decode(msgs[int(number) - 1][1])).upper)
        src = home or src                         # RFC 6275 s6.3: the home address
        dst = routed_home or dst                  # RFC 8200 s8.1: the final destination
        assert int(csum, 16) == int.from_bytes(mh[4:6], "big")
        mh[4:6] = b"\0\0"
        pseudo = (IPv6Address(src).packed + IPv6Address(dst).packed
                  + struct.pack("!I3xB", len(mh), 135))
        assert scapy_checksum(pseudo + bytes(mh)) == int(csum, 16), msgs[int(number) - 1][0]
