"""MPA key hierarchy (RFC 6252 s6.3, s7.7.1, Appendix C.5.3) and its HKDF (RFC 5869).

Sources: HKDF-SHA256 expected values are RFC 5869 Appendix A.1 and A.2 (and the PRK of A.3),
as quoted by ring tests/hkdf_tests.txt and the Android keymaster hkdf_test.cpp. The MPA labels
have no external vector (this testbed defines them); they are checked against the
`cryptography` package's HKDF as an independent implementation, plus properties.
"""

from __future__ import annotations

import random

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from orchestrator.protocols import eapol, mpa_keys
from orchestrator.protocols.mpa_keys import MpaKeys

h = bytes.fromhex

# --- RFC 5869 Appendix A ------------------------------------------------------------------

RFC5869 = [
    ("A.1",
     "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "000102030405060708090a0b0c",
     "f0f1f2f3f4f5f6f7f8f9",
     "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
     "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"),
    ("A.2",
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
     "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
     "404142434445464748494a4b4c4d4e4f",
     "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
     "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
     "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
     "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
     "d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef"
     "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
     "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
     "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
     "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
     "cc30c58179ec3e87c14c01d5c1f3434f1d87"),
]


@pytest.mark.parametrize("case,ikm,salt,info,prk,okm", RFC5869)
def test_hkdf_rfc5869(case, ikm, salt, info, prk, okm):
    assert mpa_keys.hkdf_extract(h(salt), h(ikm)) == h(prk)
    assert mpa_keys.hkdf_expand(h(prk), h(info), len(h(okm))) == h(okm)
    assert mpa_keys.hkdf(h(ikm), h(salt), h(info), len(h(okm))) == h(okm)


def test_hkdf_rfc5869_a3_empty_salt_prk():
    prk = mpa_keys.hkdf_extract(b"", h("0b" * 22))
    assert prk == h("19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04")


def test_hkdf_length_limit():
    assert len(mpa_keys.hkdf_expand(bytes(32), b"", 255 * 32)) == 255 * 32
    with pytest.raises(ValueError):
        mpa_keys.hkdf_expand(bytes(32), b"", 255 * 32 + 1)


# --- the MPA hierarchy --------------------------------------------------------------------

MSK = bytes(range(64))
AP1, AP2 = h("02000000aa01"), h("02000000aa02")


def keys(msk: bytes = MSK, session_id: int = 0x11223344, key_id: int = 1) -> MpaKeys:
    return MpaKeys(msk, session_id, key_id)


def reference_hkdf(ikm: bytes, salt: bytes | None, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def test_derivations_match_the_documented_table():
    k = keys()
    salt = (0x11223344).to_bytes(4, "big") + (1).to_bytes(4, "big")
    assert k.mn_ca_key() == reference_hkdf(MSK, salt, b"MPA MN-CA key")
    assert k.mn_ar_key() == reference_hkdf(MSK, salt, b"MPA MN-AR key")
    assert k.pmk() == reference_hkdf(MSK, salt, b"MPA PMK")
    assert k.psk_ap(AP1) == reference_hkdf(k.pmk(), None, b"MPA PSK-AP" + AP1)
    # HKDF-Expand only: the reference's extract with the MSK and this salt gives the PRK
    assert k.pdg_chap_key(AP2) == reference_hkdf(MSK, salt, b"MPA PDG CHAP key" + AP2)


def test_keys_are_32_octets_and_pairwise_distinct():
    k = keys()
    derived = [k.mn_ca_key(), k.mn_ar_key(), k.pmk(), k.psk_ap(AP1), k.psk_ap(AP2),
               k.pdg_chap_key(AP1), k.pdg_chap_key(AP2)]
    assert all(len(x) == 32 for x in derived)
    assert len(set(derived)) == len(derived)


def test_deterministic_on_both_ends():
    mn, aa = keys(), keys(bytes(MSK))
    assert (mn.mn_ca_key(), mn.mn_ar_key(), mn.pmk(), mn.psk_ap(AP1)) == (
        aa.mn_ca_key(), aa.mn_ar_key(), aa.pmk(), aa.psk_ap(AP1))


def test_psk_ap_distinct_per_ap():
    rnd = random.Random(6252)
    bssids = {bytes(rnd.getrandbits(8) for _ in range(6)) for _ in range(200)}
    k = keys()
    assert len({k.psk_ap(b) for b in bssids}) == len(bssids)


def test_psk_ap_bound_to_every_bit_of_the_mac():
    k = keys()
    base = k.psk_ap(AP1)
    for bit in range(48):
        flipped = (int.from_bytes(AP1, "big") ^ (1 << bit)).to_bytes(6, "big")
        assert k.psk_ap(flipped) != base


def test_keys_bound_to_the_mpa_sa():
    base = keys()
    others = [keys(MSK[:-1] + b"\xff"), keys(session_id=0x11223345), keys(key_id=2)]
    for other in others:
        assert other.pmk() != base.pmk()
        assert other.mn_ca_key() != base.mn_ca_key()
        assert other.psk_ap(AP1) != base.psk_ap(AP1)


def test_input_validation():
    with pytest.raises(ValueError):
        keys(msk=bytes(32))  # an MSK is at least 64 octets
    with pytest.raises(ValueError):
        keys(session_id=1 << 32)
    with pytest.raises(ValueError):
        keys().psk_ap(b"\x02\x00\x00")


def test_psk_ap_drives_the_4way_handshake_only_at_its_own_ap():
    """C.5.3: the MN runs the 4-way handshake with PSK_ap; another AP's PSK must not work."""
    k = keys()
    sta_mac = h("02000000cc01")
    gtk = bytes(16)

    def run(ap_bssid: bytes, sta_psk: bytes):
        ap = eapol.Authenticator4Way(k.psk_ap(ap_bssid), ap_bssid, sta_mac, gtk,
                                     rng=random.Random(1).randbytes)
        sta = eapol.Supplicant4Way(sta_psk, ap_bssid, sta_mac, rng=random.Random(2).randbytes)
        msg2 = sta.receive(ap.start()[0][0])[0][0]
        out, _ = ap.receive(msg2)
        if out:
            ap.receive(sta.receive(out[0])[0][0])
        return ap, sta

    ap, sta = run(AP1, k.psk_ap(AP1))
    assert ap.ptk is not None and ap.ptk == sta.ptk
    ap, sta = run(AP2, k.psk_ap(AP1))
    assert ap.ptk is None and ap.state == eapol.HandshakeState.FAILED
