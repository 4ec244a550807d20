"""The MN's signalling counted from a capture (experiment/signalling.py, C.4), checked
against tshark's dissectors on the same capture: PANA, IKEv2 (UDP 500 and 4500 with the
non-ESP marker), DHCP and SIP are counted, ESP in UDP and RTP are not signalling."""
import shutil
import struct
import subprocess

import pytest

from orchestrator.experiment import signalling
from orchestrator.protocols import dhcp as dhcpc
from tests.analysis import synthetic

MN, AR = ("02:00:00:00:00:01", "10.2.0.100"), ("02:00:00:00:00:02", "10.1.0.1")


def frames() -> list[bytes]:
    def u(sport, dport, payload, ident, up=True):
        a, b = (MN, AR) if up else (AR, MN)
        return synthetic.udp(a[0], b[0], a[1], b[1], sport, dport, payload, ident)
    pana = struct.pack("!HHHHII", 0, 16, 0x8000, 2, 0x1234, 1)
    ike_init = bytes(8) + bytes(8) + bytes([33, 0x20, 34, 0x08]) + struct.pack("!II", 0, 28)
    disc = dhcpc.encode(dhcpc.discover(bytes.fromhex("020000000001"), 7, AR[1], "10.1.0.0/24"))
    sip_msg = (b"OPTIONS sip:cn@10.0.0.20 SIP/2.0\r\nVia: SIP/2.0/UDP 10.2.0.100:5060;"
               b"branch=z9hG4bK1\r\nFrom: <sip:mn@10.2.0.100>;tag=1\r\nTo: <sip:cn@10.0.0.20>\r\n"
               b"Call-ID: 1@x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    return [u(716, 716, pana, 1), u(716, 716, pana, 2, up=False),
            u(500, 500, ike_init, 3), u(4500, 4500, bytes(4) + ike_init, 4),
            u(4500, 4500, struct.pack("!II", 0xC0FFEE, 1) + bytes(40), 5),      # ESP in UDP
            u(67, 67, disc, 6), u(67, 67, disc, 7, up=False),
            u(5060, 5060, sip_msg, 8), u(40000, 4000, bytes(172), 9, up=False)]   # RTP


def test_counts_per_protocol(tmp_path):
    path = tmp_path / "mn.pcap"
    synthetic.write_pcap(path, [(synthetic.T0 + i / 100, f) for i, f in enumerate(frames())])
    got = signalling.count(path.read_bytes())
    assert {p: c["messages"] for p, c in got.items()} == {
        "pana": 2, "ikev2": 2, "dhcp": 2, "sip": 1, "esp": 1}
    assert got["pana"]["octets"] == 2 * (20 + 8 + 16)
    if not shutil.which("tshark"):
        pytest.skip("tshark not installed: no cross-check")
    for proto, display in (("pana", "pana"), ("ikev2", "isakmp"), ("dhcp", "dhcp"),
                           ("sip", "sip")):
        out = subprocess.run(["tshark", "-n", "-r", str(path), "-d", "udp.port==716,pana",
                              "-Y", display, "-T", "fields", "-e", "ip.len"],
                             capture_output=True, text=True, timeout=60)
        lengths = [int(x) for x in out.stdout.split()]
        assert (got[proto]["messages"], got[proto]["octets"]) == (len(lengths), sum(lengths)), proto


def test_linux_cooked_captures_and_what_is_not_counted():
    """tcpdump -i any writes LINUX_SLL2 (or SLL); fragments, TCP and other frames are
    skipped; junk after the header is refused, not misread."""
    ip = frames()[7][14:]                                  # the SIP datagram, IPv4
    sll2 = struct.pack("!HHIHBB8s", 0x0800, 0, 3, 1, 0, 6, bytes(8)) + ip
    sll = struct.pack("!HHH8sH", 0, 1, 6, bytes(8), 0x0800) + ip
    frag = bytearray(ip)
    frag[6:8] = struct.pack("!H", 0x0001)                  # a later fragment
    for linktype, pkts in ((276, [sll2]), (113, [sll]), (101, [ip, bytes(frag)])):
        data = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
        for p in pkts:
            data += struct.pack("<IIII", 0, 0, len(p), len(p)) + p
        got = signalling.count(data)
        assert got["sip"] == {"messages": 1, "octets": len(ip)}, linktype
        assert sum(c["messages"] for c in got.values()) == 1
    with pytest.raises(signalling.PcapError):
        signalling.count(b"\x0a\x0d\x0d\x0a" + bytes(40))   # pcapng: not read here
    empty = signalling.count(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    assert empty == {p: {"messages": 0, "octets": 0} for p in signalling.PROTOCOLS}
    assert signalling.FILTER.startswith("udp and (") and "port 716" in signalling.FILTER


def test_until_leaves_out_what_came_after_per_protocol(tmp_path):
    """A movement counts each protocol up to its window's end (multi_ctn.signalling_window)."""
    path = tmp_path / "mn.pcap"
    synthetic.write_pcap(path, [(synthetic.T0 + i, f) for i, f in enumerate(frames())])
    # frames i at T0 + i: PANA 0-1, IKEv2 2-3, ESP 4, DHCP 5-6, SIP 7, RTP 8
    got = signalling.count(path.read_bytes(), {"pana": synthetic.T0 + 0.5,
                                               "dhcp": synthetic.T0 + 5.5,
                                               "sip": synthetic.T0 + 7.0})
    assert {p: c["messages"] for p, c in got.items()} == {
        "pana": 1, "ikev2": 2, "dhcp": 1, "sip": 1, "esp": 1}
