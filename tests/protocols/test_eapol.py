"""EAPOL framing, 802.11 key derivation and the 4-way handshake, against published vectors.

Sources of the expected values (none of them is output of this code):

* PRF: IEEE 802.11 PRF test vectors (802.11i-2004 H.3.2, 802.11-2016 Annex J.3), as quoted by
  hostapd tests/test-sha1.c (test cases 0-2) and qianfan-Zhao/understand_wisun
  ieee80211i_prf/prf.c ("H.3.2 PRF test vectors", sequences 1-3).
* PTK, 32-octet nonces: IEEE 802.11 J.7.1 pairwise key derivation as quoted by iwd
  unit/test-crypto.c (PTK test cases 1 and 2) and by an rtw89 driver test ("IEEE 802.11
  J.7.1: pairwise key derivation (KCK, KEK, TK)").
* PTK, 20-octet nonces: IEEE 802.11i-2004 H.7.1 Table H.15 as quoted by a Rust test
  ("prf384_matches_ieee_802_11i_h7_1_vector") and a Go test (PTK "aa7cfc85...").
* PTK from captures: iwd unit/test-crypto.c PTK test cases 3 and 4.
* MIC: iwd unit/test-eapol.c eapol_key_mic_test_2 (HMAC-SHA1, KCK of PTK test case 4).
* A captured WPA2-PSK 4-way handshake: iwd unit/test-eapol.c eapol_4way_test (frames
  eapol_key_data_3..6, passphrase "EasilyGuessedPassword", SSID "TestWPA").
* AES key wrap: RFC 3394 s4.1, s4.3, s4.5, s4.6 as quoted by Chromium
  components/test/data/webcrypto/aes_kw.json.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

import pytest

from orchestrator.protocols import eapol
from orchestrator.protocols.eapol import (
    Authenticator4Way,
    EapolFrame,
    EapolKey,
    Event,
    HandshakeState,
    PacketType,
    ProtocolError,
    Supplicant4Way,
)
from orchestrator.protocols.errors import ProtocolError as SharedProtocolError


def c_array(text: str) -> bytes:
    """Bytes from a C initializer such as ``0x01, 0x03, ...`` (vectors are pasted verbatim)."""
    return bytes(int(t, 16) for t in re.findall(r"0x([0-9a-fA-F]{2})", text))


h = bytes.fromhex


# --- PRF (IEEE 802.11 J.3 / 802.11i H.3.2, via hostapd tests/test-sha1.c) -------------------

PRF_VECTORS = [
    (b"\x0b" * 20, b"Hi There",
     "bcd4c650b30b9684951829e0d75f9d54b862175ed9f00606e17d8da35402ffee"
     "75df78c3d31e0f889f012120c0862beb67753e7439ae242edb8373698356cf5a"),
    (b"Jefe", b"what do ya want for nothing?",
     "51f4de5b33f249adf81aeb713a3c20f4fe631446fabdfa58244759ae58ef9009"
     "a99abf4eac2ca5fa87e692c440eb40023e7babb206d61de7b92f41529092b8fc"),
    (b"\xaa" * 20, b"\xdd" * 50,
     "e1ac546ec4cb636f9976487be5c86be17a0252ca5d8d8df12cfb0473525249ce"
     "9dd8d177ead710bc9b590547239107aef7b4abd43d87f0a68f1cbd9e2b6f7607"),
]


@pytest.mark.parametrize("key,data,expected", PRF_VECTORS)
def test_prf_512_ieee_vectors(key, data, expected):
    assert eapol.prf(key, "prefix", data, 512) == h(expected)


def test_prf_shorter_outputs_are_prefixes():
    key, data, expected = PRF_VECTORS[0]
    assert eapol.prf(key, b"prefix", data, 192) == h(expected)[:24]  # rtw89 quotes this prefix
    assert eapol.prf(key, b"prefix", data, 384) == h(expected)[:48]


def test_prf_rejects_odd_lengths():
    with pytest.raises(ValueError):
        eapol.prf(b"k", "x", b"", 100)


# --- PTK derivation ------------------------------------------------------------------------

J71_PMK = h("0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af")
J71_AA = h("a0a1a1a3a4a5")
J71_SPA = h("b0b1b2b3b4b5")
J71_SNONCE = h("c0c1c2c3c4c5c6c7c8c9d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5")
J71_ANONCE = h("e0e1e2e3e4e5e6e7e8e9f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405")


def test_ptk_ieee_j71_ccmp():
    ptk = eapol.derive_ptk(J71_PMK, J71_AA, J71_SPA, J71_ANONCE, J71_SNONCE)
    assert ptk.kck == h("379f9852d0199236b94e407ce4c00ec8")
    assert ptk.kek == h("47c9edc01c2c6e5b4910caddfb3e51a7")
    assert ptk.tk == h("b2360c79e9710fdd58bea93deaf06599")


def test_ptk_ieee_j71_tkip_prf512():
    ptk = eapol.derive_ptk(J71_PMK, J71_AA, J71_SPA, J71_ANONCE, J71_SNONCE, bits=512)
    assert ptk.tk == h("b2360c79e9710fdd58bea93deaf06599db980afbc29c152855740a6ce5ae3827")


def test_ptk_is_symmetric_in_its_inputs():
    a = eapol.derive_ptk(J71_PMK, J71_AA, J71_SPA, J71_ANONCE, J71_SNONCE)
    b = eapol.derive_ptk(J71_PMK, J71_SPA, J71_AA, J71_SNONCE, J71_ANONCE)
    assert a == b


def test_ptk_ieee_80211i_h71_with_20_octet_nonces():
    # 802.11i-2004 H.7.1 printed 20-octet nonces; exercise the PRF with its literal B string.
    snonce = h("c0c1c2c3c4c5c6c7c8c9d0d1d2d3d4d5d6d7d8d9")
    anonce = h("e0e1e2e3e4e5e6e7e8e9f0f1f2f3f4f5f6f7f8f9")
    seed = eapol.ptk_seed(J71_AA, J71_SPA, anonce, snonce)
    assert seed == J71_AA + J71_SPA + snonce + anonce
    raw = eapol.prf(J71_PMK, "Pairwise key expansion", seed, 384)
    assert raw == h("aa7cfc8560251e4bc687e0cb8d298363"
                    "ba53163df32a8638f479abe34bfd2bc8"
                    "8cb778332e94aca6d30b89cbe82a9ca9")


CAPTURED_PTK = [  # iwd unit/test-crypto.c PTK test cases 3 and 4 (TKIP, PRF-512)
    ("9e9988bde2cba74395c0289ffda07bc41ffa889a3309237a2240c934bcdc7ddb", "000c41d294fb",
     "000d3a2610fb",
     "893ee551214557fff3c076ac977915a2060727038e9bea9b6619a5bab40f89c1",
     "dabdc104d457411aee338c00fa8a1f32abfc6cfb794360adce3afb5d159a51f6",
     "ccbf97a82b5c51a44325a77e9bc57050", "daec5438430f00eb893d84d8b4b4b5e8",
     "19f4dce0cc5f2166e94fdb3eaf68eb7680f4e2646e6d9e36260d89ffbf24ee7e"),
    ("6fe857c0b742dfc2da8a1fe8b1b4b4628d9fbbb060826b83cb43b64b13e103e8", "00146c7e4080",
     "001346fe320c",
     "59168bc3a5df18d71efb6423f340088dab9e1ba2bbc58659e07b3764b0de8570",
     "225854b0444de3af06d1492b852984f04cf6274c0e3218b8681756864db7a055",
     "9a75ef0bde7c209ccae13f54b1b33ea3", "fa0166166e30811f1baaff8d1c1ac163",
     "82a49b50b86088c5cb793b542661a28a64693c72b86673e0a82d48c74768cbf9"),
]


@pytest.mark.parametrize("pmk,aa,spa,snonce,anonce,kck,kek,tk", CAPTURED_PTK)
def test_ptk_captured_vectors(pmk, aa, spa, snonce, anonce, kck, kek, tk):
    ptk = eapol.derive_ptk(h(pmk), h(aa), h(spa), h(anonce), h(snonce), bits=512)
    assert (ptk.kck, ptk.kek, ptk.tk) == (h(kck), h(kek), h(tk))


# --- MIC (iwd unit/test-eapol.c eapol_key_mic_test_2) -------------------------------------

MIC_FRAME = c_array("""
    0x01, 0x03, 0x00, 0x75, 0x02, 0x01, 0x0a, 0x00,
    0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x59, 0x16, 0x8b, 0xc3, 0xa5, 0xdf, 0x18,
    0xd7, 0x1e, 0xfb, 0x64, 0x23, 0xf3, 0x40, 0x08,
    0x8d, 0xab, 0x9e, 0x1b, 0xa2, 0xbb, 0xc5, 0x86,
    0x59, 0xe0, 0x7b, 0x37, 0x64, 0xb0, 0xde, 0x85,
    0x70, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x16, 0x30, 0x14, 0x01, 0x00, 0x00,
    0x0f, 0xac, 0x04, 0x01, 0x00, 0x00, 0x0f, 0xac,
    0x04, 0x01, 0x00, 0x00, 0x0f, 0xac, 0x02, 0x01,
    0x00,
""")
MIC_KCK = h("9a75ef0bde7c209ccae13f54b1b33ea3")
MIC_EXPECTED = h("6f0489cf7406acf0ae8fcb32bce57c37")


def test_mic_vector():
    assert eapol.compute_mic(MIC_KCK, MIC_FRAME) == MIC_EXPECTED
    signed = eapol.add_mic(MIC_KCK, MIC_FRAME)
    assert signed[eapol.MIC_OFFSET:eapol.MIC_OFFSET + 16] == MIC_EXPECTED
    assert eapol.verify_mic(MIC_KCK, signed)
    assert not eapol.verify_mic(bytes(16), signed)


def test_mic_ignores_the_received_mic_field_and_ethernet_padding():
    signed = eapol.add_mic(MIC_KCK, MIC_FRAME)
    assert eapol.compute_mic(MIC_KCK, signed + bytes(7)) == MIC_EXPECTED


def test_mic_needs_key_descriptor_version_2():
    v1 = MIC_FRAME[:6] + bytes([MIC_FRAME[6] & 0xF8 | 1]) + MIC_FRAME[7:]
    with pytest.raises(ProtocolError):
        eapol.compute_mic(MIC_KCK, v1)


# --- AES key wrap (RFC 3394 s4) -----------------------------------------------------------

KEK_128 = "000102030405060708090A0B0C0D0E0F"
KEK_256 = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
RFC3394 = [
    ("4.1", KEK_128, "00112233445566778899AABBCCDDEEFF",
     "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"),
    ("4.3", KEK_256, "00112233445566778899AABBCCDDEEFF",
     "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7"),
    ("4.5", KEK_256, "00112233445566778899AABBCCDDEEFF0001020304050607",
     "A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1"),
    ("4.6", KEK_256, "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
     "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"),
]


@pytest.mark.parametrize("section,kek,key,wrapped", RFC3394)
def test_aes_key_wrap_rfc3394(section, kek, key, wrapped):
    assert eapol.aes_key_wrap(h(kek), h(key)) == h(wrapped)
    assert eapol.aes_key_unwrap(h(kek), h(wrapped)) == h(key)


def test_aes_key_unwrap_detects_tampering():
    _, kek, _, wrapped = RFC3394[0]
    tampered = bytearray(h(wrapped))
    tampered[5] ^= 1
    with pytest.raises(ProtocolError, match="integrity"):
        eapol.aes_key_unwrap(h(kek), bytes(tampered))
    with pytest.raises(ProtocolError):
        eapol.aes_key_unwrap(h(kek), h(wrapped)[:20])  # not a multiple of 8


# --- EAPOL framing (802.1X-2004 s7.5) -----------------------------------------------------


def test_protocol_error_is_the_shared_one():
    assert ProtocolError is SharedProtocolError


def test_eapol_start_and_logoff_bytes():
    assert EapolFrame(2, PacketType.START).encode() == h("02010000")
    assert EapolFrame(1, PacketType.LOGOFF).encode() == h("01020000")


def test_eapol_eap_packet_roundtrip_and_padding_ignored():
    eap = h("0101000501")  # EAP-Request/Identity, RFC 3748 s4 / s5.1
    frame = EapolFrame(3, PacketType.EAP_PACKET, eap).encode()
    assert frame == h("030000050101000501")
    assert EapolFrame.decode(frame + bytes(37)) == EapolFrame(3, 0, eap)


@pytest.mark.parametrize("data,reason", [
    (h("0203"), "4 octets"),
    (h("00010000"), "Version 0"),
    (h("02090000"), "Packet Type"),
    (h("0200000501"), "exceeds"),
])
def test_eapol_decode_errors(data, reason):
    with pytest.raises(ProtocolError, match=reason):
        EapolFrame.decode(data)


def test_ethernet_framing():
    sta, ap = h("020000000100"), h("020000000000")
    frame = eapol.encode_ethernet(eapol.PAE_GROUP_ADDRESS, sta, h("02010000"))
    assert frame[12:14] == h("888e")
    assert eapol.decode_ethernet(frame) == (eapol.PAE_GROUP_ADDRESS, sta, h("02010000"))
    with pytest.raises(ProtocolError):
        eapol.decode_ethernet(ap + sta + h("0800") + bytes(20))
    with pytest.raises(ProtocolError):
        eapol.decode_ethernet(ap)


# --- the captured WPA2-PSK handshake (iwd unit/test-eapol.c, eapol_4way_test) -------------

CAP_PASSPHRASE, CAP_SSID = b"EasilyGuessedPassword", b"TestWPA"
CAP_PMK = h("bf9aa3155300125e7a5ebb2a549f8cd4edab8ee12e94bfc24b3357ad049665d9")
CAP_AA, CAP_SPA = h("24a2e1ec1704"), h("a0a8cd1c7ec9")
CAP_MSG1 = c_array("""
    0x02, 0x03, 0x00, 0x5f, 0x02, 0x00, 0x8a, 0x00, 0x10, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0xc2, 0xbb, 0x57, 0xab, 0x58, 0x8f, 0x92,
    0xeb, 0xbd, 0x44, 0xe8, 0x11, 0x09, 0x4f, 0x60, 0x1c, 0x08, 0x79, 0x86,
    0x03, 0x0c, 0x3a, 0xc7, 0x49, 0xcc, 0x61, 0xd6, 0x3e, 0x33, 0x83, 0x2e,
    0x50, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00
""")
CAP_MSG2 = c_array("""
    0x01, 0x03, 0x00, 0x75, 0x02, 0x01, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x32, 0x89, 0xe9, 0x15, 0x65, 0x09, 0x4f,
    0x32, 0x9a, 0x9c, 0xd5, 0x4a, 0x4a, 0x09, 0x0d, 0x2c, 0xf4, 0x34, 0x46,
    0x83, 0xbf, 0x50, 0xef, 0xee, 0x36, 0x08, 0xb6, 0x48, 0x56, 0x80, 0x0e,
    0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xc3, 0x1b,
    0x82, 0xff, 0x62, 0xa3, 0x79, 0xb0, 0x8d, 0xd1, 0xfc, 0x82, 0xc2, 0xf7,
    0x68, 0x00, 0x16, 0x30, 0x14, 0x01, 0x00, 0x00, 0x0f, 0xac, 0x04, 0x01,
    0x00, 0x00, 0x0f, 0xac, 0x04, 0x01, 0x00, 0x00, 0x0f, 0xac, 0x02, 0x00,
    0x00
""")
CAP_MSG3 = c_array("""
    0x02, 0x03, 0x00, 0x97, 0x02, 0x13, 0xca, 0x00, 0x10, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x01, 0xc2, 0xbb, 0x57, 0xab, 0x58, 0x8f, 0x92,
    0xeb, 0xbd, 0x44, 0xe8, 0x11, 0x09, 0x4f, 0x60, 0x1c, 0x08, 0x79, 0x86,
    0x03, 0x0c, 0x3a, 0xc7, 0x49, 0xcc, 0x61, 0xd6, 0x3e, 0x33, 0x83, 0x2e,
    0x50, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf5, 0x35, 0xd9,
    0x18, 0x09, 0x73, 0x1a, 0x1d, 0x29, 0x08, 0x94, 0x70, 0x5e, 0x91, 0x9c,
    0x8e, 0x00, 0x38, 0x19, 0x18, 0xdf, 0x1e, 0xf0, 0xe7, 0x69, 0x66, 0x52,
    0xe2, 0x57, 0x93, 0x80, 0x34, 0xe1, 0x70, 0x38, 0xb9, 0x8b, 0x4c, 0x45,
    0xa9, 0x23, 0xb7, 0xb6, 0xfa, 0x8c, 0x33, 0xe3, 0x7b, 0xdc, 0xd4, 0x7f,
    0xea, 0xb1, 0x1c, 0x22, 0x6a, 0x2c, 0x5e, 0x38, 0xd5, 0xad, 0x79, 0x94,
    0x05, 0xd6, 0x10, 0xa6, 0x95, 0x51, 0xd6, 0x0b, 0xe6, 0x0a, 0x5b,
""")
CAP_MSG4 = c_array("""
    0x01, 0x03, 0x00, 0x5f, 0x02, 0x03, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x9e, 0x57, 0xa4,
    0xc0, 0x9b, 0xaf, 0xb3, 0x37, 0x5e, 0x46, 0xd3, 0x86, 0xcf, 0x87, 0x27,
    0x53, 0x00, 0x00,
""")
CAPTURE = (CAP_MSG1, CAP_MSG2, CAP_MSG3, CAP_MSG4)


def _key(frame: bytes) -> EapolKey:
    return eapol.decode_eapol_key(frame)[1]


def _fixed_rng(value: bytes):
    return lambda n: value[:n]


def _capture_ptk():
    return eapol.derive_ptk(CAP_PMK, CAP_AA, CAP_SPA, _key(CAP_MSG1).nonce, _key(CAP_MSG2).nonce)


def test_capture_pmk_is_the_passphrase_mapping():
    # IEEE 802.11 PSK mapping (PBKDF2-SHA1, 4096 iterations): checks the vector hangs together.
    assert hashlib.pbkdf2_hmac("sha1", CAP_PASSPHRASE, CAP_SSID, 4096, 32) == CAP_PMK


def test_capture_frames_decode_and_reencode_byte_exact():
    fields = [(k.key_info, k.key_length, k.replay_counter, len(k.key_data))
              for k in map(_key, CAPTURE)]
    assert fields == [(0x008A, 16, 0, 0), (0x010A, 0, 0, 22), (0x13CA, 16, 1, 56),
                      (0x030A, 0, 1, 0)]
    for frame in CAPTURE:
        version = frame[0]
        assert _key(frame).to_eapol(version) == frame


def test_capture_mics_verify():
    ptk = _capture_ptk()
    for frame in CAPTURE[1:]:
        assert eapol.verify_mic(ptk.kck, frame)


def test_capture_message3_key_data_unwraps_to_rsne_and_gtk_kde():
    plaintext = eapol.aes_key_unwrap(_capture_ptk().kek, _key(CAP_MSG3).key_data)
    assert plaintext[0] == 48  # RSNE first, as the iwd test checks
    parsed = eapol.parse_key_data(plaintext)
    assert parsed.rsne == _key(CAP_MSG2).key_data  # same RSNE as in message 2 of the capture
    assert parsed.gtk is not None and len(parsed.gtk) == 16  # CCMP-128 GTK
    assert parsed.gtk_key_id in (1, 2, 3)


def test_supplicant_reproduces_captured_messages_2_and_4():
    snonce, rsne = _key(CAP_MSG2).nonce, _key(CAP_MSG2).key_data
    sta = Supplicant4Way(CAP_PMK, CAP_AA, CAP_SPA, rng=_fixed_rng(snonce), rsne=rsne,
                         eapol_version=1)
    frames, events = sta.receive(CAP_MSG1)
    assert frames == [CAP_MSG2] and events == [Event("msg2_sent")]
    frames, events = sta.receive(CAP_MSG3)
    assert frames == [CAP_MSG4]
    assert [e.name for e in events] == ["msg4_sent", "ptk_installed", "gtk_installed",
                                        "handshake_complete"]
    assert sta.ptk == _capture_ptk()


def test_authenticator_reproduces_captured_messages_1_and_3():
    ptk = _capture_ptk()
    key_data = eapol.parse_key_data(eapol.aes_key_unwrap(ptk.kek, _key(CAP_MSG3).key_data))
    ap = Authenticator4Way(CAP_PMK, CAP_AA, CAP_SPA, key_data.gtk,
                           gtk_key_id=key_data.gtk_key_id, rsne=key_data.rsne,
                           rng=_fixed_rng(_key(CAP_MSG1).nonce), replay_counter=0)
    assert ap.start() == ([CAP_MSG1], [Event("msg1_sent")])
    assert ap.receive(CAP_MSG2) == ([CAP_MSG3], [Event("msg3_sent")])
    assert ap.receive(CAP_MSG4) == ([], [Event("ptk_installed"), Event("handshake_complete")])
    assert ap.ptk == ptk and ap.state == HandshakeState.DONE


# --- handshakes between the two state machines --------------------------------------------

AA, SPA = h("02000000aa01"), h("02000000cc01")
PMK = bytes(range(32))
GTK = bytes(range(0x40, 0x50))


def _counter_rng(seed: int):
    state = {"n": seed}

    def rng(n: int) -> bytes:
        state["n"] += 1
        return hashlib.sha256(state["n"].to_bytes(8, "big")).digest()[:n]

    return rng


def _pair(ap_pmk=PMK, sta_pmk=PMK):
    ap = Authenticator4Way(ap_pmk, AA, SPA, GTK, gtk_key_id=1, rng=_counter_rng(100))
    sta = Supplicant4Way(sta_pmk, AA, SPA, rng=_counter_rng(200))
    return ap, sta


def _run(ap, sta):
    """Run the handshake; return every frame in order and every event per side."""
    frames, ap_events, sta_events = [], [], []
    out, ev = ap.start()
    ap_events += ev
    while out:
        frames += out
        out, ev = sta.receive(out[0])
        sta_events += ev
        frames += out
        if not out:
            break
        out, ev = ap.receive(out[0])
        ap_events += ev
    return frames, ap_events, sta_events


def test_full_handshake_equal_ptks_and_gtk_delivered():
    ap, sta = _pair()
    frames, ap_events, sta_events = _run(ap, sta)
    assert len(frames) == 4
    assert [e.name for e in ap_events] == ["msg1_sent", "msg3_sent", "ptk_installed",
                                           "handshake_complete"]
    assert [e.name for e in sta_events] == ["msg2_sent", "msg4_sent", "ptk_installed",
                                            "gtk_installed", "handshake_complete"]
    assert ap.ptk is not None and ap.ptk == sta.ptk
    assert ap.ptk == eapol.derive_ptk(PMK, AA, SPA, ap.anonce, sta.snonce)
    assert sta.gtk == GTK and sta.gtk_key_id == 1
    assert ap.state == sta.state == HandshakeState.DONE
    assert [_key(f).replay_counter for f in frames] == [1, 1, 2, 2]


def test_message_1_sent_again_gets_the_same_snonce_and_the_handshake_completes():
    """The AP resent message 1 before the STA's message 2 reached it: two messages 2 are on
    their way, the AP answers the first and ignores the second (issue 17, 50 at once)."""
    ap, sta = _pair()
    msg1 = ap.start()[0][0]
    msg2_first = sta.receive(msg1)[0][0]
    msg2_again = sta.receive(msg1)[0][0]                     # the retransmitted message 1
    assert _key(msg2_first).nonce == _key(msg2_again).nonce
    msg3 = ap.receive(msg2_first)[0][0]
    assert ap.receive(msg2_again)[1][0].name == "rejected"   # in state wait-msg4
    msg4, events = sta.receive(msg3)
    assert events[-1] == Event("handshake_complete")
    assert ap.receive(msg4[0])[1][-1] == Event("handshake_complete")
    assert ap.ptk == sta.ptk is not None


def test_handshake_is_deterministic_with_an_injected_rng():
    assert _run(*_pair())[0] == _run(*_pair())[0]


def test_wrong_pmk_fails_with_mic_mismatch_and_no_ptk():
    ap, sta = _pair(sta_pmk=bytes(32))
    frames, ap_events, sta_events = _run(ap, sta)
    assert ap_events[-1] == Event("failure", "MIC mismatch")
    assert ap.ptk is None and sta.ptk is None
    assert ap.state == HandshakeState.FAILED
    assert len(frames) == 2  # msg1, msg2; no msg3


def test_replayed_message_3_is_rejected():
    ap, sta = _pair()
    msg1 = ap.start()[0][0]
    msg2 = sta.receive(msg1)[0][0]
    msg3 = ap.receive(msg2)[0][0]
    assert sta.receive(msg3)[1][-1] == Event("handshake_complete")
    ptk = sta.ptk
    frames, events = sta.receive(msg3)
    assert frames == [] and events == [Event("rejected", "replayed Key Replay Counter")]
    assert sta.ptk == ptk


def test_stale_replay_counter_is_rejected_by_the_authenticator():
    ap, sta = _pair()
    msg1 = ap.start()[0][0]
    msg2 = sta.receive(msg1)[0][0]
    msg3 = ap.receive(msg2)[0][0]
    frames, events = ap.receive(msg2)  # msg2 again while waiting for msg4
    assert frames == [] and events[0].name == "rejected"
    msg4 = sta.receive(msg3)[0][0]
    stale = eapol.add_mic(sta.ptk.kck, replace(_key(msg4), replay_counter=1).to_eapol())
    assert ap.receive(stale) == (
        [], [Event("rejected", "Key Replay Counter does not match message 3")])
    assert ap.receive(msg4)[1][-1] == Event("handshake_complete")


def test_forged_message_3_fails_with_mic_mismatch():
    ap, sta = _pair()
    msg2 = sta.receive(ap.start()[0][0])[0][0]
    msg3 = bytearray(ap.receive(msg2)[0][0])
    msg3[-1] ^= 0x01  # flip a bit of the wrapped Key Data
    frames, events = sta.receive(bytes(msg3))
    assert frames == [] and events == [Event("failure", "MIC mismatch")]
    assert sta.ptk is None and sta.gtk is None


def test_malformed_frames_are_rejected_as_events():
    ap, sta = _pair()
    ap.start()
    for junk in (b"", b"\x02\x03", h("02000005") + b"hello", CAP_MSG1[:50]):
        frames, events = ap.receive(junk)
        assert frames == [] and events[0].name == "rejected"
        frames, events = sta.receive(junk)
        assert frames == [] and events[0].name == "rejected"


def test_rsne_checks_of_messages_2_and_3():
    other_rsne = bytes.fromhex("30140100000fac040100000fac040100000fac010000")  # AKM 802.1X
    ap = Authenticator4Way(PMK, AA, SPA, GTK, rng=_counter_rng(1), sta_rsne=other_rsne)
    sta = Supplicant4Way(PMK, AA, SPA, rng=_counter_rng(2))
    assert ap.receive(sta.receive(ap.start()[0][0])[0][0])[1] == [
        Event("failure", "message 2 RSNE differs from the association RSNE")]
    ap = Authenticator4Way(PMK, AA, SPA, GTK, rng=_counter_rng(1), rsne=other_rsne)
    sta = Supplicant4Way(PMK, AA, SPA, rng=_counter_rng(2), ap_rsne=eapol.DEFAULT_RSNE)
    msg3 = ap.receive(sta.receive(ap.start()[0][0])[0][0])[0][0]
    assert sta.receive(msg3) == (
        [], [Event("failure", "message 3 RSNE differs from the Beacon RSNE")])
    assert sta.ptk is None


def test_message_3_before_message_1_is_rejected():
    ap, sta = _pair()
    other = Supplicant4Way(PMK, AA, SPA, rng=_counter_rng(300))
    msg3 = ap.receive(other.receive(ap.start()[0][0])[0][0])[0][0]
    assert sta.receive(msg3)[1][0].name == "rejected"


# --- Key Data helpers ---------------------------------------------------------------------


def test_gtk_kde_layout_and_padding():
    kde = eapol.gtk_kde(GTK, key_id=2, tx=True)
    assert kde[:8] == h("dd16000fac010600")
    padded = eapol.pad_key_data(eapol.DEFAULT_RSNE + kde)
    assert len(padded) % 8 == 0 and padded[len(eapol.DEFAULT_RSNE) + len(kde)] == 0xDD
    parsed = eapol.parse_key_data(padded)
    assert (parsed.rsne, parsed.gtk, parsed.gtk_key_id, parsed.gtk_tx) == (
        eapol.DEFAULT_RSNE, GTK, 2, True)
    assert eapol.pad_key_data(b"") == b"\xdd" + bytes(15)


@pytest.mark.parametrize("data", [h("30"), h("3005010203"), h("dd05000fac0101")])
def test_parse_key_data_errors(data):
    with pytest.raises(ProtocolError):
        eapol.parse_key_data(data)
