"""The MN <-> nAR buffering protocol (our own, see orchestrator/protocols/buffering.py).

The vector is written out from the layout in the module docstring, its MAC computed here
with the hmac module, not with the code under test.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from ipaddress import IPv4Address

import pytest

from orchestrator.protocols.buffering import (
    Ack, Attached, BufferRequest, MessageType, ReplayWindow, Status, decode, decode_reject,
    encode, peek,
)
from orchestrator.protocols.errors import ProtocolError
from tests.protocols.test_fuzz_parsers import SEED, mutate, tolerate

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
STA = bytes.fromhex("020000000001")
NCOA = IPv4Address("10.1.2.77")

MESSAGES = [
    BufferRequest(STA, NCOA, 500, 0x01020304),
    Attached(STA, NCOA, 0xFFFFFFFF),
    Ack(STA, 7, MessageType.ATTACHED, Status.OK, 42),
    Ack(STA, 8, MessageType.BUFFER_REQUEST, Status.NOT_TUNNELLED),
]


def test_buffer_request_vector():
    body = bytes.fromhex(
        "01"              # Version
        "01"              # Type BUFFER_REQUEST
        "0000"            # Reserved
        "01020304"        # Sequence
        "020000000001"    # Station
        "0a01024d"        # nCoA 10.1.2.77
        "000001f4")       # Period 500 ms
    mac = hmac.new(KEY, body, hashlib.sha256).digest()[:16]
    assert encode(MESSAGES[0], KEY) == body + mac
    assert decode(body + mac, KEY) == MESSAGES[0]


def test_ack_vector():
    body = bytes.fromhex("01" "03" "0000" "00000007" "020000000001"
                         "02" "00" "0000002a")  # Acked-Type ATTACHED, Status ok, 42 packets
    mac = hmac.new(KEY, body, hashlib.sha256).digest()[:16]
    assert encode(MESSAGES[2], KEY) == body + mac


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_roundtrip(msg):
    data = encode(msg, KEY)
    assert len(data) == {BufferRequest: 38, Attached: 34, Ack: 36}[type(msg)]
    assert decode(data, KEY) == msg
    assert peek(data) == (msg.type, msg.sequence, STA)


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_tampered_bit_is_rejected(msg):
    data = encode(msg, KEY)
    for index in range(len(data)):
        for bit in range(8):
            bad = bytearray(data)
            bad[index] ^= 1 << bit
            with pytest.raises(ProtocolError):
                decode(bytes(bad), KEY)


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_truncation_at_every_length_and_extension(msg):
    data = encode(msg, KEY)
    for length in range(len(data)):
        with pytest.raises(ProtocolError):
            decode(data[:length], KEY)
    with pytest.raises(ProtocolError):
        decode(data + b"\0", KEY)


def test_wrong_key():
    data = encode(MESSAGES[0], KEY)
    with pytest.raises(ProtocolError, match="MAC does not verify"):
        decode(data, OTHER_KEY)
    with pytest.raises(ProtocolError, match="32"):
        encode(MESSAGES[0], KEY[:16])


def test_garbled_but_validly_signed_fields_are_rejected():
    def signed(body: bytes) -> bytes:
        return body + hmac.new(KEY, body, hashlib.sha256).digest()[:16]
    for body, reason in [(bytes.fromhex("0203000000000007020000000001" "02000000002a"),
                          "Version 2"),
                         (bytes.fromhex("0109000000000007020000000001" "02000000002a"),
                          "Type 9"),
                         (bytes.fromhex("0103000000000007020000000001" "02090000002a"),
                          "Status 9"),
                         (bytes.fromhex("0103000000000007020000000001" "03000000002a"),
                          "ACK acknowledging an ACK"),
                         (bytes.fromhex("0102000000000007020000000001" "0a01024d00"),
                          "of 35 octets")]:
        with pytest.raises(ProtocolError, match=reason):
            decode(signed(body), KEY)


def test_unsigned_rejections():
    reject = Ack(STA, 9, MessageType.BUFFER_REQUEST, Status.UNKNOWN_STATION)
    data = encode(reject, None)
    assert data.endswith(bytes(16))
    assert decode_reject(data) == Ack(STA, 9, MessageType.BUFFER_REQUEST,
                                      Status.UNKNOWN_STATION, authenticated=False)
    with pytest.raises(ProtocolError):
        decode(data, KEY)                       # never taken as authenticated
    for msg in MESSAGES:                        # an unsigned OK cannot be made nor read
        with pytest.raises(ProtocolError):
            encode(msg, None)
    forged = bytearray(encode(MESSAGES[2], KEY))
    forged[-16:] = bytes(16)
    with pytest.raises(ProtocolError, match="never sent unauthenticated"):
        decode_reject(bytes(forged))
    with pytest.raises(ProtocolError):
        decode_reject(encode(MESSAGES[0], KEY))


@pytest.mark.parametrize("msg", [BufferRequest(STA, NCOA, 1 << 32, 1),
                                 BufferRequest(STA, NCOA, 1, -1),
                                 Attached(STA[:5], NCOA, 1),
                                 Attached(STA, "10.1.2.300", 1),
                                 Ack(STA, 1, MessageType.ATTACHED, Status.OK, 1 << 32)])
def test_fields_out_of_range(msg):
    with pytest.raises(ProtocolError):
        encode(msg, KEY)


def test_replay_window():
    window = ReplayWindow()
    other = bytes.fromhex("020000000002")
    assert window.accept(STA, 5)
    assert not window.accept(STA, 5)
    assert not window.accept(STA, 4)
    assert window.accept(other, 1)              # per station
    assert window.accept(STA, 6)
    assert window.highest == {STA: 6, other: 1}


def test_fuzz_decode_raises_only_protocol_error():
    rnd = random.Random(SEED)
    corpus = [encode(m, KEY) for m in MESSAGES] + [
        encode(Ack(STA, 1, MessageType.ATTACHED, Status.BAD_MAC), None)]
    decoded = 0
    for _ in range(3000):
        data = mutate(rnd, rnd.choice(corpus))
        decoded += tolerate(decode, data, KEY) is not None
        tolerate(decode_reject, data)
        tolerate(peek, data)
    assert decoded < 3000 // 10  # only mutants that left the signed octets as they were
