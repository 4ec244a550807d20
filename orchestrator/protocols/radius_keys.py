"""MS-MPPE-Send-Key / MS-MPPE-Recv-Key (RFC 2548 s2.4.2, s2.4.3) and the MSK they carry.

A RADIUS server hands the EAP MSK to the authenticator in two Microsoft vendor attributes
(Vendor-Id 311). Their value is ``Salt (2 octets, high bit set) || String``, where String is
``Key-Length (1) || Key || padding`` (to a multiple of 16) encrypted with the chain of
RFC 2548 s2.4.2:

    b(1) = MD5(S + R + A)    c(1) = p(1) xor b(1)
    b(i) = MD5(S + c(i-1))   c(i) = p(i) xor b(i)

S is the shared secret, R the Request Authenticator of the Access-Request answered, A the
Salt. FreeRADIUS (rlm_eap, eaptls_gen_mppe_keys) puts MSK[0..31] in MS-MPPE-Recv-Key and
MSK[32..63] in MS-MPPE-Send-Key, so MSK = Recv-Key || Send-Key (RFC 3748 s7.10 leaves
the key transport to the AAA protocol; this split is the de facto RADIUS convention).
"""

from __future__ import annotations

import hashlib
import os

from orchestrator.protocols.errors import ProtocolError

__all__ = [
    "VENDOR_MICROSOFT",
    "MS_MPPE_SEND_KEY",
    "MS_MPPE_RECV_KEY",
    "encrypt_mppe_key",
    "decrypt_mppe_key",
    "msk_from_mppe_keys",
    "mppe_keys_from_msk",
]

VENDOR_MICROSOFT = 311
MS_MPPE_SEND_KEY = 16  # RFC 2548 s2.4.2
MS_MPPE_RECV_KEY = 17  # RFC 2548 s2.4.3
_BLOCK = 16
_AUTHENTICATOR_LENGTH = 16


def _keystream_xor(data: bytes, secret: bytes, request_authenticator: bytes, salt: bytes,
                   *, decrypting: bool) -> bytes:
    out = bytearray()
    previous = request_authenticator + salt
    for i in range(0, len(data), _BLOCK):
        block = data[i : i + _BLOCK]
        b = hashlib.md5(secret + previous).digest()
        result = bytes(x ^ y for x, y in zip(block, b))
        out += result
        previous = block if decrypting else result  # chain on the ciphertext c(i)
    return bytes(out)


def _check_inputs(secret: bytes, request_authenticator: bytes) -> None:
    if not secret:
        raise ProtocolError("RADIUS shared secret is empty (RFC 2548 s2.4.2 needs S)")
    if len(request_authenticator) != _AUTHENTICATOR_LENGTH:
        raise ProtocolError(
            f"Request Authenticator must be 16 octets, got {len(request_authenticator)}"
        )


def encrypt_mppe_key(
    key: bytes, secret: bytes, request_authenticator: bytes, salt: bytes | None = None
) -> bytes:
    """Value of an MS-MPPE-Send/Recv-Key attribute: Salt || encrypted String (RFC 2548 s2.4.2).

    ``salt`` defaults to two random octets with the high bit set; it must be unique per
    attribute within a packet (s2.4.2), so pass distinct salts for Send and Recv keys.
    """
    _check_inputs(secret, request_authenticator)
    if salt is None:
        salt = bytes([os.urandom(1)[0] | 0x80]) + os.urandom(1)
    if len(salt) != 2 or not salt[0] & 0x80:
        raise ProtocolError("Salt must be two octets with the most significant bit set")
    if len(key) > 255:
        raise ProtocolError("MPPE key longer than 255 octets")
    plain = bytes([len(key)]) + key
    if len(plain) % _BLOCK:
        plain += b"\x00" * (_BLOCK - len(plain) % _BLOCK)
    if 2 + len(plain) > 253:
        raise ProtocolError("encrypted MPPE key does not fit one vendor attribute")
    return salt + _keystream_xor(plain, secret, request_authenticator, salt, decrypting=False)


def decrypt_mppe_key(value: bytes, secret: bytes, request_authenticator: bytes) -> bytes:
    """The key inside an MS-MPPE-Send/Recv-Key attribute value (RFC 2548 s2.4.2, s2.4.3)."""
    _check_inputs(secret, request_authenticator)
    value = bytes(value)
    if len(value) < 2 + _BLOCK:
        raise ProtocolError(f"MS-MPPE key attribute of {len(value)} octets is too short")
    salt, cipher = value[:2], value[2:]
    if not salt[0] & 0x80:
        raise ProtocolError("MS-MPPE key Salt lacks its most significant bit (RFC 2548 s2.4.2)")
    if len(cipher) % _BLOCK:
        raise ProtocolError(
            f"MS-MPPE key String of {len(cipher)} octets is not a multiple of 16"
        )
    plain = _keystream_xor(cipher, secret, request_authenticator, salt, decrypting=True)
    key_length = plain[0]
    if key_length > len(plain) - 1:
        raise ProtocolError(
            f"decrypted Key-Length {key_length} exceeds the {len(plain) - 1} octets present "
            "(wrong secret or Request Authenticator?)"
        )
    return plain[1 : 1 + key_length]


def msk_from_mppe_keys(recv_key: bytes, send_key: bytes) -> bytes:
    """MSK as FreeRADIUS splits it: MS-MPPE-Recv-Key (32) || MS-MPPE-Send-Key (32)."""
    if len(recv_key) < 32 or len(send_key) < 32:
        raise ProtocolError(
            f"MPPE keys of {len(recv_key)} and {len(send_key)} octets cannot hold a 64-octet MSK"
        )
    return recv_key[:32] + send_key[:32]


def mppe_keys_from_msk(msk: bytes) -> tuple[bytes, bytes]:
    """(Recv-Key, Send-Key) carrying ``msk`` the way FreeRADIUS does."""
    if len(msk) < 64:
        raise ProtocolError(f"MSK must be at least 64 octets, got {len(msk)}")
    return msk[:32], msk[32:64]
