"""Proactive address acquisition for a cellular interface through the WLAN
(protocols/cellular_address.py, our own protocol for RFC 6252 s7.3 / s7.6.2): the documented
layout, the key checked against `cryptography`'s HKDF and the standard library's HMAC,
round trips, tampering, the wrong secret, and seeded fuzzing (only ProtocolError)."""
from __future__ import annotations

import hashlib
import hmac
import random
import struct
from ipaddress import IPv4Address

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from orchestrator.protocols import cellular_address as ca
from orchestrator.protocols.errors import ProtocolError
from tests.support.fuzzing import mutate

SECRET = bytes(range(32))                     # a pdg_chap_key
STA, GW = bytes.fromhex("02f0f26caa0f"), bytes.fromhex("02000000c0de")
NONCE = bytes(range(100, 116))


def reference_key(secret: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"MPA cellular address").derive(secret)


def test_request_layout_matches_the_documented_format():
    raw = ca.encode_request(SECRET, ca.AddressRequest(STA, GW, NONCE))
    assert len(raw) == 64
    assert raw[:4] == bytes((1, 1, 0, 0)) and raw[4:10] == STA and raw[10:16] == GW
    assert raw[16:32] == NONCE
    assert raw[32:] == hmac.new(reference_key(SECRET), raw[:32], hashlib.sha256).digest()
    assert ca.request_station(raw) == STA
    assert ca.decode_request(SECRET, raw) == ca.AddressRequest(STA, GW, NONCE)


def test_answer_layout_and_round_trip():
    ans = ca.AddressAnswer(ca.Status.RESERVED, NONCE, IPv4Address("10.20.0.2"),
                           IPv4Address("10.20.0.53"), 3600)
    raw = ca.encode_answer(SECRET, ans)
    assert len(raw) == 64 and raw[:4] == bytes((1, 2, 0, 0)) and raw[4:20] == NONCE
    assert raw[20:24] == bytes((10, 20, 0, 2)) and raw[24:28] == bytes((10, 20, 0, 53))
    assert struct.unpack("!I", raw[28:32]) == (3600,)
    assert raw[32:] == hmac.new(reference_key(SECRET), raw[:32], hashlib.sha256).digest()
    assert ca.decode_answer(SECRET, raw) == ans
    none = ca.encode_answer(SECRET, ca.AddressAnswer(ca.Status.RESERVED, NONCE,
                                                     IPv4Address("10.20.0.2"), None, 60))
    assert none[24:28] == bytes(4) and ca.decode_answer(SECRET, none).dns is None


@pytest.mark.parametrize("index", [0, 1, 4, 12, 20, 31, 32, 63])
def test_a_tampered_request_does_not_verify(index):
    raw = bytearray(ca.encode_request(SECRET, ca.AddressRequest(STA, GW, NONCE)))
    raw[index] ^= 0x01
    with pytest.raises(ProtocolError):
        ca.decode_request(SECRET, bytes(raw))


def test_the_wrong_secret_and_the_wrong_type_are_refused():
    req = ca.encode_request(SECRET, ca.AddressRequest(STA, GW, NONCE))
    with pytest.raises(ProtocolError):
        ca.decode_request(b"another secret", req)
    with pytest.raises(ProtocolError):
        ca.decode_answer(SECRET, req)                  # a request is no answer
    with pytest.raises(ProtocolError):
        ca.encode_request(b"", ca.AddressRequest(STA, GW, NONCE))
    with pytest.raises(ProtocolError):
        ca.encode_request(SECRET, ca.AddressRequest(STA[:5], GW, NONCE))
    with pytest.raises(ProtocolError):
        ca.request_station(req[:-1])


def test_seeded_fuzz_only_protocol_errors():
    """Mutations, half of them re-MACed so that the parser behind the MAC check sees them."""
    rnd = random.Random(0x6252)
    key = reference_key(SECRET)
    samples = [ca.encode_request(SECRET, ca.AddressRequest(STA, GW, NONCE)),
               ca.encode_answer(SECRET, ca.AddressAnswer(ca.Status.RESERVED, NONCE,
                                                         IPv4Address("10.20.0.9"), None, 60))]
    for _ in range(3000):
        data = mutate(rnd, rnd.choice(samples))
        if rnd.random() < 0.5 and len(data) > 32:
            body = data[:-32]
            data = body + hmac.new(key, body, hashlib.sha256).digest()
        for decode in (lambda d: ca.decode_request(SECRET, d),
                       lambda d: ca.decode_answer(SECRET, d), ca.request_station):
            try:
                decode(data)
            except ProtocolError:
                pass
