"""RTP header codec (RFC 3550 s5.1, Appendix A.1 checks): vectors, numbering, seeded fuzzing."""
from __future__ import annotations

import random

import pytest

from orchestrator.protocols import rtp
from orchestrator.protocols.errors import ProtocolError
from orchestrator.protocols.rtp import RtpPacket
from tests.protocols.test_fuzz_parsers import mutate, tolerate

SEED = 0x3550
CASES = 3000

# V=2 P=0 X=0 CC=0 | M=0 PT=0 | seq 0x1234 | ts 0x11223344 | SSRC 0xdeadbeef | 4 octets PCMU
PLAIN = bytes.fromhex("80001234" "11223344" "deadbeef" "ffffffff")
# V=2 P=1 X=1 CC=2 | M=1 PT=96 | seq 0xffff | ts 0 | SSRC 1 | CSRCs 2, 3
# | extension profile 0xbede, 1 word 01020304 | payload "ab" | padding 00 00 03
FULL = bytes.fromhex("b2e0ffff" "00000000" "00000001" "00000002" "00000003"
                     "bede0001" "01020304" "6162" "000003")


def test_decode_plain_vector():
    pkt = rtp.decode(PLAIN)
    assert pkt == RtpPacket(payload_type=0, sequence=0x1234, timestamp=0x11223344,
                            ssrc=0xDEADBEEF, payload=b"\xff" * 4)
    assert rtp.encode(pkt) == PLAIN


def test_decode_every_field():
    pkt = rtp.decode(FULL)
    assert (pkt.payload_type, pkt.marker, pkt.sequence, pkt.timestamp, pkt.ssrc) == \
        (96, True, 0xFFFF, 0, 1)
    assert pkt.csrcs == (2, 3)
    assert pkt.extension == (0xBEDE, bytes([1, 2, 3, 4]))
    assert pkt.payload == b"ab" and pkt.padding == 3
    assert rtp.encode(pkt) == FULL


@pytest.mark.parametrize("data, reason", [
    (PLAIN[:11], "shorter than the 12-octet"),
    (bytes([0x40]) + PLAIN[1:], "version 1"),
    (bytes([0x81]) + PLAIN[1:12], "CSRC count 1 runs past"),
    (bytes([0x90]) + PLAIN[1:12], "no room for the extension"),
    (bytes([0x90]) + PLAIN[1:12] + bytes.fromhex("00000002") + b"\0" * 4, "extension of 2 words"),
    (bytes([0xA0]) + PLAIN[1:12] + b"\x00", "padding count 0"),
    (bytes([0xA0]) + PLAIN[1:12] + b"\x05", "padding count 5"),
    (PLAIN[:1] + bytes([0xC8]) + PLAIN[2:], "collides with RTCP packet type 200"),
])
def test_malformed_packets_are_rejected(data, reason):
    with pytest.raises(ProtocolError, match=reason):
        rtp.decode(data)


def test_fields_out_of_range_are_rejected():
    with pytest.raises(ProtocolError):
        RtpPacket(payload_type=128, sequence=0, timestamp=0, ssrc=0)
    with pytest.raises(ProtocolError):
        RtpPacket(payload_type=0, sequence=1 << 16, timestamp=0, ssrc=0)
    with pytest.raises(ProtocolError):
        RtpPacket(payload_type=0, sequence=0, timestamp=0, ssrc=0, csrcs=tuple(range(16)))
    with pytest.raises(ProtocolError):
        RtpPacket(payload_type=0, sequence=0, timestamp=0, ssrc=0, extension=(1, b"abc"))


def test_stream_numbering_wraps():
    s = rtp.Stream(ssrc=7, samples_per_packet=128, sequence=0xFFFE, timestamp=(1 << 32) - 128)
    a, b, c = (s.next(b"x") for _ in range(3))
    assert [p.sequence for p in (a, b, c)] == [0xFFFE, 0xFFFF, 0]
    assert [p.timestamp for p in (a, b, c)] == [(1 << 32) - 128, 0, 128]
    assert rtp.seq_distance(0xFFFF, 0) == 1 and rtp.seq_distance(0, 0xFFFF) == -1
    assert rtp.ts_distance((1 << 32) - 128, 128) == 256


def test_stream_starts_at_random_numbers():
    a = rtp.Stream(ssrc=1, rnd=random.Random(1)).next(b"")
    b = rtp.Stream(ssrc=1, rnd=random.Random(2)).next(b"")
    assert (a.sequence, a.timestamp) != (b.sequence, b.timestamp)


def _random_packet(rnd: random.Random) -> RtpPacket:
    pt = rnd.choice([0, 8, 18, 96, 127])
    ext = (rnd.randrange(1 << 16), rnd.randbytes(4 * rnd.randrange(4))) if rnd.random() < .3 else None
    return RtpPacket(payload_type=pt, sequence=rnd.randrange(1 << 16),
                     timestamp=rnd.randrange(1 << 32), ssrc=rnd.randrange(1 << 32),
                     payload=rnd.randbytes(rnd.randrange(200)), marker=rnd.random() < .2,
                     csrcs=tuple(rnd.randrange(1 << 32) for _ in range(rnd.randrange(4))),
                     extension=ext, padding=rnd.choice([0, 0, 1, 4]))


def test_random_packets_round_trip():
    rnd = random.Random(SEED)
    for _ in range(500):
        pkt = _random_packet(rnd)
        assert rtp.decode(rtp.encode(pkt)) == pkt


def test_fuzz_decode_raises_only_protocol_error():
    rnd = random.Random(SEED)
    accepted = 0
    for _ in range(CASES):
        data = mutate(rnd, rtp.encode(_random_packet(rnd)))
        pkt = tolerate(rtp.decode, data)
        if pkt is not None:
            accepted += 1
            # what decodes re-encodes to something that decodes the same (padding octets
            # other than the count are normalised to zero)
            assert rtp.decode(rtp.encode(pkt)) == pkt
    assert 0 < accepted < CASES
