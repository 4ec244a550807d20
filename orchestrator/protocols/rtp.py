"""RTP data packet header (RFC 3550 s5.1), and the sender's sequence/timestamp bookkeeping (pure).

The CN's media stream in RFC 6252 Appendix C.5.1 is RTP: Figure 7 reports loss, duplicates,
inter-packet arrival times and jitter, all read from RTP headers at the MN. Layout (network
byte order)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    |V=2|P|X|  CC   |M|     PT      |       sequence number         |
    |                           timestamp                           |
    |           synchronization source (SSRC) identifier            |
    |            contributing source (CSRC) identifiers (CC x 32)   |
    [ header extension (s5.3.1): profile-defined 16 | length 16 (32-bit words) | data ]
    payload ... [ padding, the last octet counting the padding octets (s5.1 P) ]

Decoding applies the validity checks of RFC 3550 Appendix A.1 that need no stream state:
version 2; the CSRC list and the extension fit in the packet; with P set, the last octet is a
padding count of at least 1 that fits after the header; the payload type is not 72-76 (an
RTCP SR/RR/SDES/BYE/APP packet read as RTP, s5.1 and RFC 5761 s4). Malformed input raises
`ProtocolError`.

`Stream` numbers a sender's packets: a random initial sequence number and timestamp (s5.1),
the sequence number +1 per packet modulo 2^16, the timestamp + `samples_per_packet` modulo
2^32. `seq_distance` and `ts_distance` are the modular differences receivers need.
"""
from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field

from .errors import ProtocolError

__all__ = ["VERSION", "HEADER_LENGTH", "PT_PCMU", "PCMU_CLOCK_RATE", "RtpPacket", "encode",
           "decode", "Stream", "seq_distance", "ts_distance", "ProtocolError"]

VERSION = 2
HEADER_LENGTH = 12
PT_PCMU = 0                      # RFC 3551 s6: PCMU, audio, 8000 Hz
PCMU_CLOCK_RATE = 8000
_RTCP_COLLISION = range(72, 77)  # RTCP types 200-204 with the marker bit read as RTP
_FIXED = struct.Struct("!BBHII")


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    # (16 profile-defined bits, data whose length is a multiple of 4), or None (X = 0)
    extension: tuple[int, bytes] | None = None
    padding: int = 0             # padding octets including the count octet; 0: P = 0

    def __post_init__(self) -> None:
        if not 0 <= self.payload_type < 128:
            raise ProtocolError(f"RTP payload type {self.payload_type} is not 7 bits")
        if not 0 <= self.sequence < 1 << 16:
            raise ProtocolError(f"RTP sequence number {self.sequence} is not 16 bits")
        if not 0 <= self.timestamp < 1 << 32 or not 0 <= self.ssrc < 1 << 32:
            raise ProtocolError("RTP timestamp and SSRC are 32-bit unsigned")
        if len(self.csrcs) > 15 or any(not 0 <= c < 1 << 32 for c in self.csrcs):
            raise ProtocolError("at most 15 CSRCs of 32 bits each")
        if not 0 <= self.padding < 256:
            raise ProtocolError(f"RTP padding {self.padding} does not fit its count octet")
        if self.extension is not None:
            profile, data = self.extension
            if not 0 <= profile < 1 << 16 or len(data) % 4 or len(data) > 4 * 0xFFFF:
                raise ProtocolError("RTP header extension: 16-bit profile field and a "
                                    "multiple of 4 octets of data")


def encode(pkt: RtpPacket) -> bytes:
    first = (VERSION << 6) | (0x20 if pkt.padding else 0) | \
            (0x10 if pkt.extension is not None else 0) | len(pkt.csrcs)
    out = bytearray(_FIXED.pack(first, (0x80 if pkt.marker else 0) | pkt.payload_type,
                                pkt.sequence, pkt.timestamp, pkt.ssrc))
    for c in pkt.csrcs:
        out += struct.pack("!I", c)
    if pkt.extension is not None:
        profile, data = pkt.extension
        out += struct.pack("!HH", profile, len(data) // 4) + data
    out += pkt.payload
    if pkt.padding:
        out += bytes(pkt.padding - 1) + bytes([pkt.padding])
    return bytes(out)


def decode(data: bytes) -> RtpPacket:
    data = bytes(data)
    if len(data) < HEADER_LENGTH:
        raise ProtocolError(f"RTP packet of {len(data)} octets is shorter than the "
                            f"{HEADER_LENGTH}-octet fixed header")
    first, second, seq, ts, ssrc = _FIXED.unpack_from(data)
    if first >> 6 != VERSION:
        raise ProtocolError(f"RTP version {first >> 6}, expected {VERSION}")
    pt = second & 0x7F
    if pt in _RTCP_COLLISION:
        raise ProtocolError(f"payload type {pt} collides with RTCP packet type {pt + 128}")
    cc, i = first & 0x0F, HEADER_LENGTH
    if i + 4 * cc > len(data):
        raise ProtocolError(f"RTP CSRC count {cc} runs past the {len(data)} octets received")
    csrcs = struct.unpack_from(f"!{cc}I", data, i)
    i += 4 * cc
    extension = None
    if first & 0x10:
        if i + 4 > len(data):
            raise ProtocolError("RTP X bit set but no room for the extension header")
        profile, words = struct.unpack_from("!HH", data, i)
        if i + 4 + 4 * words > len(data):
            raise ProtocolError(f"RTP extension of {words} words runs past the end")
        extension = (profile, data[i + 4:i + 4 + 4 * words])
        i += 4 + 4 * words
    end, padding = len(data), 0
    if first & 0x20:
        padding = data[-1]
        if padding == 0 or i + padding > len(data):
            raise ProtocolError(f"RTP padding count {padding} is not between 1 and the "
                                f"{len(data) - i} octets after the header")
        end -= padding
    return RtpPacket(payload_type=pt, sequence=seq, timestamp=ts, ssrc=ssrc,
                     payload=data[i:end], marker=bool(second & 0x80), csrcs=tuple(csrcs),
                     extension=extension, padding=padding)


def seq_distance(a: int, b: int) -> int:
    """b - a for 16-bit sequence numbers, in [-2^15, 2^15) (wrap-around aware)."""
    return ((b - a + (1 << 15)) % (1 << 16)) - (1 << 15)


def ts_distance(a: int, b: int) -> int:
    """b - a for 32-bit RTP timestamps, in [-2^31, 2^31)."""
    return ((b - a + (1 << 31)) % (1 << 32)) - (1 << 31)


@dataclass
class Stream:
    """A sender's numbering (RFC 3550 s5.1: random initial sequence number and timestamp).

    `samples_per_packet` is the timestamp increment per packet: the sampling-clock ticks
    between the first octets of consecutive packets, i.e. the packet interval times the
    clock rate (16 ms at 8000 Hz: 128), so that jitter (s6.4.1) measures the network only.
    """
    ssrc: int
    payload_type: int = PT_PCMU
    samples_per_packet: int = 128
    sequence: int = field(default=-1)
    timestamp: int = field(default=-1)
    rnd: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.sequence < 0:
            self.sequence = self.rnd.randrange(1 << 16)
        if self.timestamp < 0:
            self.timestamp = self.rnd.randrange(1 << 32)

    def next(self, payload: bytes, marker: bool = False) -> RtpPacket:
        """The next packet; the numbering then advances by one packet."""
        pkt = RtpPacket(self.payload_type, self.sequence, self.timestamp, self.ssrc,
                        payload, marker)
        self.sequence = (self.sequence + 1) % (1 << 16)
        self.timestamp = (self.timestamp + self.samples_per_packet) % (1 << 32)
        return pkt
