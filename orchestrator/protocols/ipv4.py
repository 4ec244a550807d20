"""IPv4 packets readdressed for copy-and-forward (RFC 6252 C.5.2: "duplicate packets because
of the copy-and-forward mechanism at the access routers"; pure).

`readdress(packet, new_dst)`: the same packet (header options, TTL, identification and
payload as they were) sent to another destination: the IPv4 header checksum (RFC 791) and,
for UDP and TCP, the transport checksum over the pseudo-header (RFC 768, RFC 9293 s3.1)
recomputed. A UDP datagram sent without a checksum (0) stays without one. Fragments other
carry only part of the transport segment: only their IP header changes. Bytes in, bytes out
or ProtocolError.
"""
from __future__ import annotations

import struct
from ipaddress import IPv4Address

from .checksum import internet_checksum
from .errors import ProtocolError

IPPROTO_TCP, IPPROTO_UDP = 6, 17
_CHECKSUM_AT = {IPPROTO_UDP: 6, IPPROTO_TCP: 16}     # offset in the transport header


class Ipv4Error(ProtocolError):
    pass


def header(packet: bytes) -> tuple[int, int, int, bytes, bytes]:
    """(header length, total length, protocol, source, destination) of an IPv4 packet."""
    if len(packet) < 20:
        raise Ipv4Error(f"{len(packet)} octets: shorter than an IPv4 header")
    version, ihl = packet[0] >> 4, (packet[0] & 0x0F) * 4
    if version != 4:
        raise Ipv4Error(f"IP version {version}, not 4")
    total = struct.unpack_from("!H", packet, 2)[0]
    if ihl < 20 or total < ihl or total > len(packet):
        raise Ipv4Error(f"header length {ihl} / total length {total} do not fit "
                        f"{len(packet)} octets")
    return ihl, total, packet[9], packet[12:16], packet[16:20]


def destination(packet: bytes) -> str:
    return str(IPv4Address(header(packet)[4]))


def readdress(packet: bytes, new_dst: str | IPv4Address) -> bytes:
    """`packet` to `new_dst`, checksums recomputed (see the module docstring)."""
    ihl, total, proto, src, _ = header(packet)
    dst = IPv4Address(new_dst).packed
    out = bytearray(packet[:total])
    out[16:20] = dst
    out[10:12] = b"\0\0"
    out[10:12] = struct.pack("!H", internet_checksum(bytes(out[:ihl])))
    fragmented = struct.unpack_from("!H", out, 6)[0] & 0x3FFF      # MF or an offset
    at = _CHECKSUM_AT.get(proto)
    if at is None or fragmented:
        return bytes(out)
    segment = out[ihl:]
    if len(segment) < at + 2:
        raise Ipv4Error(f"protocol {proto}: {len(segment)} octets, too short for its header")
    if proto == IPPROTO_UDP and segment[6:8] == b"\0\0":
        return bytes(out)                           # sent without a checksum
    segment[at:at + 2] = b"\0\0"
    pseudo = src + dst + struct.pack("!BBH", 0, proto, len(segment))
    csum = internet_checksum(pseudo + bytes(segment))
    if proto == IPPROTO_UDP and csum == 0:
        csum = 0xFFFF                               # RFC 768: 0 means "no checksum"
    segment[at:at + 2] = struct.pack("!H", csum)
    out[ihl:] = segment
    return bytes(out)
