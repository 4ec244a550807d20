"""protocols/ipv4.readdress (copy-and-forward, RFC 6252 C.5.2): the readdressed packet's
checksums as scapy computes them independently, and malformed input refused."""
import random

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP

from orchestrator.protocols.errors import ProtocolError
from orchestrator.protocols.ipv4 import destination, readdress

NEW = "10.20.0.2"


def _reference(pkt) -> bytes:
    """scapy's own packet to NEW: checksums recomputed by scapy."""
    p = IP(bytes(pkt))
    p.dst = NEW
    del p.chksum
    if p.haslayer(UDP) and p[UDP].chksum != 0:
        del p[UDP].chksum
    if p.haslayer(TCP):
        del p[TCP].chksum
    return bytes(p)


@pytest.mark.parametrize("pkt", [
    IP(src="10.0.0.20", dst="10.1.0.100", ttl=63, id=77) / UDP(sport=5004, dport=4000) / (b"\x80" * 172),
    IP(src="10.0.0.20", dst="10.1.0.100", options=[b"\x01\x01\x01\x00"]) / UDP(sport=1, dport=2) / b"x",
    IP(src="10.0.0.20", dst="10.1.0.100") / TCP(sport=5060, dport=5060, flags="PA") / b"INVITE",
    IP(src="10.0.0.20", dst="10.1.0.100") / ICMP() / b"ping",
], ids=["rtp", "ip-options", "tcp", "icmp"])
def test_readdressed_like_scapy(pkt):
    raw = bytes(pkt)
    got = readdress(raw, NEW)
    assert got == _reference(pkt)
    assert destination(got) == NEW and got[8] == raw[8]          # the TTL is kept
    assert IP(got)[IP].chksum == IP(_reference(pkt))[IP].chksum


def test_a_udp_datagram_without_checksum_stays_without():
    pkt = IP(src="10.0.0.20", dst="10.1.0.100") / UDP(sport=1, dport=2, chksum=0) / b"abc"
    got = readdress(bytes(pkt), NEW)
    assert IP(got)[UDP].chksum == 0 and got == _reference(pkt)


def test_fragments_keep_their_transport_bytes():
    frag = IP(src="10.0.0.20", dst="10.1.0.100", flags="MF") / UDP(sport=1, dport=2) / (b"y" * 40)
    raw = bytes(frag)
    got = readdress(raw, NEW)
    assert got[20:] == raw[20:] and destination(got) == NEW


@pytest.mark.parametrize("raw", [b"", b"\x45" * 19, bytes(IP() / UDP())[:24],
                                 b"\x65" + bytes(IP())[1:], b"\x46" + bytes(IP())[1:]])
def test_malformed_refused(raw):
    with pytest.raises(ProtocolError):
        readdress(raw, NEW)


def test_fuzz_never_raises_anything_but_protocol_error():
    rng = random.Random(15)
    base = bytes(IP(src="10.0.0.20", dst="10.1.0.100") / UDP(sport=5004, dport=4000) / (b"z" * 20))
    for _ in range(3000):
        data = bytearray(base[:rng.randrange(len(base) + 1)])
        for _ in range(rng.randrange(4)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            readdress(bytes(data), NEW)
        except ProtocolError:
            pass
