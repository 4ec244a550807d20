"""ARP frames for proactive duplicate address detection and proxy ARP (pure).

RFC 6252 Appendix A: "The proactive DAD over the candidate target network should be performed
by the nAR on behalf of the mobile node at the time of proactive handover tunnel
establishment". For IPv4 that is RFC 5227 address conflict detection: ARP Probes (sender IP
0.0.0.0, target IP = the address), and a conflict is any ARP packet whose sender IP is the
address, or another host's Probe for it. Once the address is the MN's, the nAR answers ARP
for it (s7.4, proxy ARP) and announces that with an ARP Announcement (RFC 5227 s2.3: sender
IP = target IP = the address), so that on-link neighbours that cached another mapping update.

Frame: Ethernet II (dst 6, src 6, type 0x0806) + ARP for IPv4 over Ethernet (RFC 826)::

    htype 1 (2)  ptype 0x0800 (2)  hlen 6  plen 4  oper (2)  sha (6)  spa (4)  tha (6)  tpa (4)
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address

from .errors import ProtocolError

__all__ = ["ETH_P_ARP", "REQUEST", "REPLY", "Arp", "encode", "decode", "probe",
           "announcement", "is_conflict", "mac_bytes", "mac_str", "ProtocolError"]

ETH_P_ARP = 0x0806
REQUEST, REPLY = 1, 2
BROADCAST = b"\xff" * 6
_ETH = struct.Struct("!6s6sH")
_ARP = struct.Struct("!HHBBH6s4s6s4s")
ZERO = IPv4Address(0)


def mac_bytes(mac: str) -> bytes:
    raw = bytes(int(x, 16) for x in mac.split(":"))
    if len(raw) != 6:
        raise ProtocolError(f"{mac!r} is not a MAC address")
    return raw


def mac_str(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


@dataclass(frozen=True)
class Arp:
    oper: int
    sha: bytes
    spa: IPv4Address
    tha: bytes
    tpa: IPv4Address
    eth_src: bytes = b""
    eth_dst: bytes = BROADCAST


def encode(arp: Arp) -> bytes:
    src = arp.eth_src or arp.sha
    return (_ETH.pack(arp.eth_dst, src, ETH_P_ARP)
            + _ARP.pack(1, 0x0800, 6, 4, arp.oper, arp.sha, arp.spa.packed, arp.tha,
                        arp.tpa.packed))


def decode(frame: bytes) -> Arp:
    frame = bytes(frame)
    if len(frame) < _ETH.size + _ARP.size:
        raise ProtocolError(f"ARP frame of {len(frame)} octets is too short")
    dst, src, etype = _ETH.unpack_from(frame)
    if etype != ETH_P_ARP:
        raise ProtocolError(f"EtherType 0x{etype:04x} is not ARP")
    htype, ptype, hlen, plen, oper, sha, spa, tha, tpa = _ARP.unpack_from(frame, _ETH.size)
    if (htype, ptype, hlen, plen) != (1, 0x0800, 6, 4):
        raise ProtocolError("not ARP for IPv4 over Ethernet")
    if oper not in (REQUEST, REPLY):
        raise ProtocolError(f"ARP operation {oper}")
    return Arp(oper, sha, IPv4Address(spa), tha, IPv4Address(tpa), src, dst)


def probe(mac: bytes, address: IPv4Address | str) -> Arp:
    """RFC 5227 s2.1.1 ARP Probe: who has `address`? (sender IP all zeros)."""
    return Arp(REQUEST, bytes(mac), ZERO, bytes(6), IPv4Address(address))


def announcement(mac: bytes, address: IPv4Address | str) -> Arp:
    """RFC 5227 s2.3 ARP Announcement: `address` is at `mac` (gratuitous ARP request)."""
    a = IPv4Address(address)
    return Arp(REQUEST, bytes(mac), a, bytes(6), a)


def is_conflict(arp: Arp, address: IPv4Address | str, own_mac: bytes) -> bool:
    """RFC 5227 s2.1.1: another host uses `address` (its sender IP), or probes for it too."""
    a = IPv4Address(address)
    if arp.sha == bytes(own_mac):
        return False
    if arp.spa == a:
        return True
    return arp.oper == REQUEST and arp.spa == ZERO and arp.tpa == a
