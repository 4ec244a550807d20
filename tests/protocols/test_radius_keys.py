"""MS-MPPE-Send/Recv-Key encryption (RFC 2548 s2.4.2, s2.4.3) and the MSK split."""

from __future__ import annotations

import hashlib
import random

import pytest

from orchestrator.protocols.errors import ProtocolError
from orchestrator.protocols.radius_keys import (
    decrypt_mppe_key,
    encrypt_mppe_key,
    mppe_keys_from_msk,
    msk_from_mppe_keys,
)

# Published vector: OpenBSD libradius regression test (regress/lib/libradius/test25.c),
# an implementation independent of this one.
OPENBSD_SECRET = b"hogehogefugafuga"
OPENBSD_REQUEST_AUTHENTICATOR = bytes.fromhex("678ae6ed696e1bd10ae2fea105d46a56")
OPENBSD_ATTRIBUTE = bytes.fromhex(
    "8036"
    "f4abbe2117fb3e4a7874dce91c5b0449"
    "8ec7720f168688562dbc88e21cab6271"
)
OPENBSD_KEY = bytes.fromhex("fc6ea418373d8e90c136fae3735e37d1")


def test_published_vector_decrypts():
    key = decrypt_mppe_key(OPENBSD_ATTRIBUTE, OPENBSD_SECRET, OPENBSD_REQUEST_AUTHENTICATOR)
    assert key == OPENBSD_KEY


def test_published_vector_encrypts_with_same_salt():
    salt = OPENBSD_ATTRIBUTE[:2]
    value = encrypt_mppe_key(OPENBSD_KEY, OPENBSD_SECRET, OPENBSD_REQUEST_AUTHENTICATOR, salt)
    assert value == OPENBSD_ATTRIBUTE


def test_first_block_follows_rfc2548_formula():
    """b(1) = MD5(S + R + A); c(1) = p(1) xor b(1), p(1) = Key-Length || Key[0..14]."""
    secret, ra, salt, key = b"s3cret", bytes(range(16)), b"\x81\x02", bytes(range(100, 132))
    value = encrypt_mppe_key(key, secret, ra, salt)
    b1 = hashlib.md5(secret + ra + salt).digest()
    p1 = bytes([len(key)]) + key[:15]
    assert value[2:18] == bytes(x ^ y for x, y in zip(p1, b1))
    b2 = hashlib.md5(secret + value[2:18]).digest()
    assert value[18:34] == bytes(x ^ y for x, y in zip(key[15:31], b2))
    assert len(value) == 2 + 48  # 1 + 32 octets padded to 48


def test_roundtrip_random():
    rng = random.Random(2548)
    for _ in range(300):
        key = rng.randbytes(rng.choice([0, 1, 15, 16, 32, 64, 100]))
        secret = rng.randbytes(rng.randrange(1, 40))
        ra = rng.randbytes(16)
        value = encrypt_mppe_key(key, secret, ra)
        assert value[0] & 0x80 and len(value[2:]) % 16 == 0
        assert decrypt_mppe_key(value, secret, ra) == key


def test_salts_are_random_and_distinct():
    ra = bytes(16)
    salts = {encrypt_mppe_key(b"k" * 32, b"x", ra)[:2] for _ in range(50)}
    assert len(salts) > 40


def test_wrong_secret_is_noticed_or_gives_other_key():
    value = encrypt_mppe_key(bytes(32), b"right", bytes(16))
    try:
        assert decrypt_mppe_key(value, b"wrong", bytes(16)) != bytes(32)
    except ProtocolError:
        pass


@pytest.mark.parametrize(
    "value, secret, ra",
    [
        (b"\x80\x01" + bytes(15), b"s", bytes(16)),  # too short
        (b"\x00\x01" + bytes(16), b"s", bytes(16)),  # salt high bit clear
        (b"\x80\x01" + bytes(17), b"s", bytes(16)),  # not a multiple of 16
        (b"\x80\x01" + bytes(16), b"", bytes(16)),  # no secret
        (b"\x80\x01" + bytes(16), b"s", bytes(15)),  # bad authenticator
    ],
)
def test_malformed_inputs(value, secret, ra):
    with pytest.raises(ProtocolError):
        decrypt_mppe_key(value, secret, ra)


def test_encrypt_checks():
    with pytest.raises(ProtocolError):
        encrypt_mppe_key(b"k", b"s", bytes(16), b"\x01\x02")
    with pytest.raises(ProtocolError):
        encrypt_mppe_key(bytes(300), b"s", bytes(16))


def test_msk_split_like_freeradius():
    msk = bytes(range(64))
    recv, send = mppe_keys_from_msk(msk)
    assert recv == msk[:32] and send == msk[32:]
    assert msk_from_mppe_keys(recv, send) == msk
    with pytest.raises(ProtocolError):
        msk_from_mppe_keys(bytes(16), bytes(32))
