"""The signalling a mobile node exchanges, counted from a capture (RFC 6252 C.4: "(1)
Additional signaling for pre-authentication in the neighboring networks"; pure).

The movement flow captures, on every interface of the MN's host (`-i any`: the radio
interface and the proactive handover tunnels' TUN device, where a re-INVITE sent through a
tunnel appears before its ESP encapsulation), the UDP ports of the protocols MPA uses and
`count` sorts each datagram by protocol:

    pana    UDP 716 (RFC 5191; pre-authentication, RFC 5873)
    ikev2   UDP 500, and UDP 4500 with the non-ESP marker (RFC 3948 s2.2; the tunnels' set-up
            and deletion, RFC 7296)
    dhcp    UDP 67/68 (the nCoA by DHCP relayed from the oCoA, s7.3.3; on-link DHCP after a
            move)
    sip     UDP 5060 (the call and the binding updates, s7.5)

ESP in UDP 4500 (the tunnels' payload: the transient streams) is not signalling and is
counted apart (`esp`). A movement counts what prepared and made its handover: each
protocol up to the end of the handover, SIP up to the final re-INVITE after it
(experiment/multi_ctn.py `signalling_window`; what follows prepares the next handover). Octets are IP datagram lengths (headers included). A datagram seen on
two interfaces (none here: the TUN device shows the inner packet, the radio its ESP) would be
counted twice.
"""
from __future__ import annotations

import struct

PORTS = {716: "pana", 500: "ikev2", 4500: "ikev2", 67: "dhcp", 68: "dhcp", 5060: "sip"}
PROTOCOLS = ("pana", "ikev2", "dhcp", "sip")
FILTER = "udp and (" + " or ".join(f"port {p}" for p in sorted(PORTS)) + ")"

# link types (pcap-linktype(7)): Ethernet, Linux cooked v1 and v2, raw IP
_ETHERNET, _SLL, _SLL2, _RAW, _RAW4 = 1, 113, 276, 101, 228


class PcapError(ValueError):
    """Not a capture this reader knows (only classic pcap, microsecond or nanosecond)."""


def _records(data: bytes):
    """(link type, capture time in s since the epoch, packet bytes) of each record of a
    classic pcap file."""
    if len(data) < 24:
        raise PcapError("shorter than a pcap file header")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise PcapError(f"not a classic pcap file (magic {magic.hex()})")
    linktype = struct.unpack_from(endian + "I", data, 20)[0] & 0x0FFFFFFF
    fraction = 1e9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e6
    off = 24
    while off + 16 <= len(data):
        sec, frac, caplen = struct.unpack_from(endian + "III", data, off)
        pkt = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        yield linktype, sec + frac / fraction, pkt


def _ip(linktype: int, pkt: bytes) -> bytes | None:
    """The IP datagram of a link-layer frame (None: not IP)."""
    if linktype == _ETHERNET:
        proto, body = (struct.unpack_from("!H", pkt, 12)[0], pkt[14:]) if len(pkt) >= 14 else (0, b"")
        if proto == 0x8100 and len(pkt) >= 18:                # one 802.1Q tag
            proto, body = struct.unpack_from("!H", pkt, 16)[0], pkt[18:]
    elif linktype == _SLL:
        proto, body = (struct.unpack_from("!H", pkt, 14)[0], pkt[16:]) if len(pkt) >= 16 else (0, b"")
    elif linktype == _SLL2:
        proto, body = (struct.unpack_from("!H", pkt, 0)[0], pkt[20:]) if len(pkt) >= 20 else (0, b"")
    elif linktype in (_RAW, _RAW4):
        return pkt
    else:
        return None
    return body if proto in (0x0800, 0x86DD) else None


def _udp(ip: bytes) -> tuple[int, int, bytes, int] | None:
    """(source port, destination port, payload, IP datagram length) of a UDP datagram."""
    if len(ip) < 1:
        return None
    version = ip[0] >> 4
    if version == 4 and len(ip) >= 20:
        ihl, total = (ip[0] & 0x0F) * 4, struct.unpack_from("!H", ip, 2)[0]
        if ip[9] != 17 or struct.unpack_from("!H", ip, 6)[0] & 0x1FFF:   # not UDP, or a fragment
            return None
        udp = ip[ihl:]
    elif version == 6 and len(ip) >= 40:
        total = 40 + struct.unpack_from("!H", ip, 4)[0]
        if ip[6] != 17:
            return None
        udp = ip[40:]
    else:
        return None
    if len(udp) < 8:
        return None
    sport, dport = struct.unpack_from("!HH", udp, 0)
    return sport, dport, udp[8:], total


def classify(sport: int, dport: int, payload: bytes) -> str | None:
    """The protocol of a UDP datagram by its ports (module docstring); "esp" for ESP in UDP."""
    for port in (dport, sport):
        proto = PORTS.get(port)
        if proto is None:
            continue
        if port == 4500 and payload[:4] != b"\0\0\0\0":
            return "esp" if len(payload) > 1 else None          # 1 octet: NAT keepalive
        return proto
    return None


def count(data: bytes, until: dict[str, float] | None = None) -> dict[str, dict[str, int]]:
    """{protocol: {"messages": n, "octets": m}} of a pcap file's bytes, every protocol of
    PROTOCOLS present (0 when none was seen), plus "esp" if any. `until`: per protocol, the
    capture time (s since the epoch) after which its datagrams are not counted."""
    out = {p: {"messages": 0, "octets": 0} for p in PROTOCOLS}
    until = until or {}
    for linktype, ts, pkt in _records(data):
        ip = _ip(linktype, pkt)
        udp = _udp(ip) if ip else None
        if udp is None:
            continue
        proto = classify(udp[0], udp[1], udp[2])
        if proto is None or ts > until.get(proto, float("inf")):
            continue
        entry = out.setdefault(proto, {"messages": 0, "octets": 0})
        entry["messages"] += 1
        entry["octets"] += udp[3]
    return out
