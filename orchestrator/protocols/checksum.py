"""The Internet checksum (RFC 1071), shared by every codec that needs it (IPv4 headers, UDP,
ICMP, ICMPv6 and the Mobility Header over RFC 8200's pseudo-header)."""
from __future__ import annotations

import struct


def internet_checksum(data: bytes) -> int:
    """The 16-bit one's complement of the one's complement sum of 16-bit words (RFC 1071);
    an odd length is padded with a zero octet."""
    data = bytes(data)
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
