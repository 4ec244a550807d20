"""PANA codec, AUTH AVP, PANA_AUTH_KEY and sequence numbers (RFC 5191, RFC 5873).

Sources of expected values:

* Byte-exact messages are written out by hand from the RFC 5191 s6.2/s6.3 layouts (16-octet
  header, AVP header with AVP Length counting the Value only, padding to 4 octets) with flag
  bit positions from the IANA "PANA Message Flags" registry (R=bit 0 ... I=bit 5, E=bit 6 from
  RFC 5873) and AVP codes from RFC 5191 s8; none is output of the code under test.
* prf+ (RFC 4306 s2.13) with PRF_HMAC_SHA1: the IKEv2 KDF vector (NIST CAVS SP 800-135 format,
  SHA-1) printed in libreswan's ikev2 CAVS test program: SKEYSEED = prf(Ni | Nr, g^ir),
  DKM = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr), DKM(Child SA) = prf+(SK_d, Ni | Nr),
  DKM(Child SA D-H) = prf+(SK_d, g^ir (new) | Ni | Nr), SK_d = the first 20 octets of DKM.
* There is no published PANA_AUTH_KEY or AUTH AVP test vector; those are checked against a
  straightforward independent implementation written in this file.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest

from orchestrator.protocols import pana
from orchestrator.protocols.pana import (
    FLAG_E,
    FLAG_R,
    FLAG_S,
    Avp,
    AvpCode,
    MessageType,
    PanaMessage,
    ProtocolError,
    RequestVerdict,
    SequenceNumbers,
)

h = bytes.fromhex


# --- byte-exact messages from the RFC 5191 s6 layouts -------------------------------------

PCI_BYTES = h("0000 0010 0000 0001 00000000 00000000")  # Reserved, Length 16, Flags 0, Type 1
PCI_PREAUTH_BYTES = h("0000 0010 0200 0001 00000000 00000000")  # E flag = bit 6 = 0x0200

PAR_BYTES = h(
    "0000 0028 c000 0002 11223344 01020304"  # Length 40, R|S, PANA-Auth, Session-Id, Seq
    "0006 0000 0004 0000 00000002"  # PRF-Algorithm AVP = PRF_HMAC_SHA1 (2)
    "0003 0000 0004 0000 00000007"  # Integrity-Algorithm AVP = AUTH_HMAC_SHA1_160 (7)
)

PAN_PADDED_BYTES = h(
    "0000 0030 4000 0002 11223344 01020304"  # Length 48, S, PANA-Auth answer
    "0002 0000 0005 0000 0201000501 000000"  # EAP-Payload, Length 5 (Value only) + 3 pad
    "0064 8000 0002 0000 00001234 abcd 0000"  # vendor AVP: V flag, Vendor-Id, Length 2 + 2 pad
)


def test_pci_byte_exact():
    assert PanaMessage(MessageType.CLIENT_INITIATION).encode() == PCI_BYTES
    msg = PanaMessage.decode(PCI_BYTES)
    assert msg.name == "PCI" and not msg.is_request and msg.avps == ()


def test_pci_with_rfc5873_preauthentication_flag():
    msg = PanaMessage(MessageType.CLIENT_INITIATION, flags=FLAG_E)
    assert msg.encode() == PCI_PREAUTH_BYTES
    assert PanaMessage.decode(PCI_PREAUTH_BYTES).flags & FLAG_E


def test_par_byte_exact():
    msg = PanaMessage(MessageType.AUTH, FLAG_R | FLAG_S, 0x11223344, 0x01020304, (
        Avp.unsigned32(AvpCode.PRF_ALGORITHM, pana.PRF_HMAC_SHA1),
        Avp.unsigned32(AvpCode.INTEGRITY_ALGORITHM, pana.AUTH_HMAC_SHA1_160),
    ))
    assert msg.encode() == PAR_BYTES
    decoded = PanaMessage.decode(PAR_BYTES)
    assert decoded == msg and decoded.name == "PAR"
    assert decoded.find(AvpCode.PRF_ALGORITHM).as_unsigned32() == 2
    assert decoded.find(AvpCode.INTEGRITY_ALGORITHM).as_unsigned32() == 7


def test_avp_padding_and_vendor_avp_byte_exact():
    msg = PanaMessage(MessageType.AUTH, FLAG_S, 0x11223344, 0x01020304, (
        Avp(AvpCode.EAP_PAYLOAD, h("0201000501")),
        Avp(0x64, h("abcd"), vendor_id=0x1234),
    ))
    assert msg.encode() == PAN_PADDED_BYTES
    decoded = PanaMessage.decode(PAN_PADDED_BYTES)
    assert decoded == msg and decoded.name == "PAN"
    assert decoded.find(0x64) is None  # vendor-specific AVPs are not matched by code alone


@pytest.mark.parametrize("msg_type,flags,name", [
    (1, 0, "PCI"), (2, FLAG_R, "PAR"), (2, 0, "PAN"), (3, FLAG_R, "PTR"), (3, 0, "PTA"),
    (4, FLAG_R, "PNR"), (4, 0, "PNA"),
])
def test_message_names_roundtrip(msg_type, flags, name):
    msg = PanaMessage(msg_type, flags, 7, 9, (
        Avp.unsigned32(AvpCode.RESULT_CODE, pana.ResultCode.PANA_SUCCESS),
        Avp.unsigned32(AvpCode.SESSION_LIFETIME, 3600),
        Avp.unsigned32(AvpCode.TERMINATION_CAUSE, pana.TerminationCause.LOGOUT),
        Avp(AvpCode.NONCE, bytes(range(20))),
        Avp.unsigned32(AvpCode.KEY_ID, 0xDEADBEEF),
    ))
    decoded = PanaMessage.decode(msg.encode())
    assert decoded == msg and decoded.name == name


def test_reserved_field_is_ignored_on_receipt():
    data = h("abcd") + PCI_BYTES[2:]
    assert PanaMessage.decode(data).reserved == 0xABCD


@pytest.mark.parametrize("data,reason", [
    (PCI_BYTES[:15], "16 octets"),
    (PCI_BYTES + b"\x00", "Message Length"),
    (h("0000 0010 0000 0009 00000000 00000000"), "Message Type"),
    (h("0000 0010 8000 0001 00000000 00000000"), "R flag"),
    (PAR_BYTES[:2] + h("0024") + PAR_BYTES[4:36], "AVP"),  # last AVP cut short
    (h("0000 0018 0000 0002 00000000 00000000 0005 0000 0009 0000"), "overruns"),
    (h("0000 0018 0000 0002 00000000 00000000 0005 8000 0000 0000"), "Vendor-Id"),
    (h("0000 0014 0000 0002 00000000 00000000 0005 0000"), "header truncated"),
])
def test_decode_errors(data, reason):
    with pytest.raises(ProtocolError, match=reason):
        PanaMessage.decode(data)


def test_encode_errors():
    with pytest.raises(ProtocolError):
        PanaMessage(MessageType.AUTH, session_id=1 << 32).encode()
    with pytest.raises(ProtocolError):
        PanaMessage(99).encode()
    with pytest.raises(ProtocolError):
        Avp.unsigned32(AvpCode.KEY_ID, -1)
    with pytest.raises(ProtocolError):
        Avp(AvpCode.NONCE, b"123").as_unsigned32()


# --- prf+ (RFC 4306 s2.13) against the IKEv2 KDF vector -----------------------------------

IKE_GIR = h("4b2c1f971981a8ad8d0abeafabf38cf75fc8349c148142465ed9c8b516b8be52")
IKE_GIR_NEW = h("863f3c9d06efd39d2b907b97f8699e5dd5251ef64a2a176f36ee40c87d4f9330")
IKE_NI, IKE_NR = h("32b50d5f4a3763f3"), h("9206a04b26564cb1")
IKE_SPII, IKE_SPIR = h("34c9e7c188868785"), h("3ff77d760d2b2199")
IKE_SKEYSEED = h("a9a7b222b59f8f48645f28a1db5b5f5d7479cba7")
IKE_DKM = h(
    "a14293677cc80ff8f9cc0eee30d895da9d8f405666e30ef0dfcb63c634a46002a2a63080e514a062768b7660"
    "6f9fa5e992204fc5a670bde3f10d6b027113936a5c55b648a194ae587b0088d52204b702c979fa280870d2ed"
    "41efa9c549fd11198af1670b143d384bd275c5f594cf266b05ebadca855e4249520a441a81157435a7a56cc4")
IKE_DKM_CHILD = h(
    "8059e3ee8810e6c3a91bc8bcd2a7a41151b8d0e6ae239c7b38093ad85ef4c5811a8e7b5d1cdabd9560b2d5e0"
    "92d1f24e2d4b85eccdf0ad0dc9abd94b51ee71814ca6dbc8bb51b6309f5b9545c7eb35cf5580b1e521a8fe20"
    "754a2d883ba0c2cf285f524aea6545b33106bc03e614296d319d41d4b50b3f510b1c0a22f3e664994d234cb4")
IKE_DKM_CHILD_DH = h(
    "bb43244c1860ad65ee1e211ffe8bb3661750c8f89cb9f547df7f4fa61d37301628190e38c66232eab4b3ab14"
    "c400a5197dd3730ed4820a8a10394d51e1c0400052f63ebd36b0e7ef53aaed31eba4a5080d7d4b5666023a8b"
    "bb5ffb7857240f9a05884d1b7d2f933708450b7b3288f1fc863ab49fa901227cffc06e27899c7054d56fd74c")


def test_ikev2_vector_skeyseed_is_hmac_sha1():
    assert hmac.new(IKE_NI + IKE_NR, IKE_GIR, hashlib.sha1).digest() == IKE_SKEYSEED


def test_prf_plus_ikev2_dkm():
    seed = IKE_NI + IKE_NR + IKE_SPII + IKE_SPIR
    assert pana.prf_plus(IKE_SKEYSEED, seed, len(IKE_DKM)) == IKE_DKM


def test_prf_plus_ikev2_child_sa():
    sk_d = IKE_DKM[:20]
    assert pana.prf_plus(sk_d, IKE_NI + IKE_NR, 132) == IKE_DKM_CHILD
    assert pana.prf_plus(sk_d, IKE_GIR_NEW + IKE_NI + IKE_NR, 132) == IKE_DKM_CHILD_DH


def test_prf_plus_limits():
    assert pana.prf_plus(b"k", b"s", 0) == b""
    assert len(pana.prf_plus(b"k", b"s", 255 * 20)) == 255 * 20
    with pytest.raises(ProtocolError):
        pana.prf_plus(b"k", b"s", 255 * 20 + 1)
    with pytest.raises(ProtocolError):
        pana.prf_plus(b"k", b"s", 20, prf=99)


# --- PANA_AUTH_KEY and the AUTH AVP (RFC 5191 s5.3, s5.4) ---------------------------------


def independent_prf_plus_sha1(key: bytes, seed: bytes, length: int) -> bytes:
    """RFC 4306 s2.13 written out: T1 = prf(K, S|0x01), T2 = prf(K, T1|S|0x02), ..."""
    blocks = [hmac.new(key, seed + b"\x01", hashlib.sha1).digest()]
    for n in range(2, 256):
        if sum(map(len, blocks)) >= length:
            break
        blocks.append(hmac.new(key, blocks[-1] + seed + bytes([n]), hashlib.sha1).digest())
    return b"".join(blocks)[:length]


MSK = bytes(range(64))
PAC_NONCE, PAA_NONCE = bytes([0xA1]) * 20, bytes([0xB2]) * 20
KEY_ID = 0x00000001
SESSION = 0x11223344


def initial_exchange() -> tuple[bytes, bytes]:
    """I_PAR and I_PAN: the first PAR and PAN of a session (S flag set), as sent."""
    i_par = PanaMessage(MessageType.AUTH, FLAG_R | FLAG_S | FLAG_E, SESSION, 100, (
        Avp.unsigned32(AvpCode.PRF_ALGORITHM, pana.PRF_HMAC_SHA1),
        Avp.unsigned32(AvpCode.INTEGRITY_ALGORITHM, pana.AUTH_HMAC_SHA1_160))).encode()
    i_pan = PanaMessage(MessageType.AUTH, FLAG_S | FLAG_E, SESSION, 100, (
        Avp.unsigned32(AvpCode.PRF_ALGORITHM, pana.PRF_HMAC_SHA1),
        Avp.unsigned32(AvpCode.INTEGRITY_ALGORITHM, pana.AUTH_HMAC_SHA1_160))).encode()
    return i_par, i_pan


def auth_key() -> bytes:
    i_par, i_pan = initial_exchange()
    return pana.derive_pana_auth_key(MSK, i_par, i_pan, PAC_NONCE, PAA_NONCE, KEY_ID)


def test_pana_auth_key_matches_rfc5191_formula():
    i_par, i_pan = initial_exchange()
    seed = b"IETF PANA" + i_par + i_pan + PAC_NONCE + PAA_NONCE + KEY_ID.to_bytes(4, "big")
    key = auth_key()
    assert len(key) == 20  # AUTH_HMAC_SHA1_160 key length
    assert key == independent_prf_plus_sha1(MSK, seed, 20)


def completion_par() -> PanaMessage:
    return PanaMessage(MessageType.AUTH, FLAG_R | pana.FLAG_C | FLAG_E, SESSION, 103, (
        Avp(AvpCode.EAP_PAYLOAD, h("03050004")),  # EAP-Success, RFC 3748 s4.2
        Avp.unsigned32(AvpCode.RESULT_CODE, pana.ResultCode.PANA_SUCCESS),
        Avp.unsigned32(AvpCode.SESSION_LIFETIME, 3600),
        Avp.unsigned32(AvpCode.KEY_ID, KEY_ID),
    ))


def test_auth_avp_compute_and_verify():
    key = auth_key()
    signed = pana.sign(completion_par(), key)
    decoded = PanaMessage.decode(signed)
    auth = decoded.find(AvpCode.AUTH).value
    start = signed.index(auth)
    zeroed = signed[:start] + bytes(20) + signed[start + 20:]
    assert auth == hmac.new(key, zeroed, hashlib.sha1).digest()
    assert pana.compute_auth(key, signed) == auth
    assert pana.verify_auth(key, signed)


def test_bad_auth_is_detected():
    key = auth_key()
    signed = bytearray(pana.sign(completion_par(), key))
    assert not pana.verify_auth(bytes(20), bytes(signed))  # wrong key
    signed[24] ^= 0x01  # tamper with the EAP-Payload value (header 16 + AVP header 8)
    assert not pana.verify_auth(key, bytes(signed))
    signed[24] ^= 0x01
    signed[-1] ^= 0x80  # tamper with the AUTH value itself (last AVP)
    assert not pana.verify_auth(key, bytes(signed))


def test_sign_replaces_an_existing_auth_avp():
    key = auth_key()
    msg = completion_par()
    stale = PanaMessage(msg.msg_type, msg.flags, msg.session_id, msg.seq,
                        msg.avps + (Avp(AvpCode.AUTH, b"\xff" * 20),))
    assert pana.sign(stale, key) == pana.sign(msg, key)


def test_auth_requires_exactly_one_well_formed_auth_avp():
    key = auth_key()
    with pytest.raises(ProtocolError, match="exactly one"):
        pana.verify_auth(key, completion_par().encode())
    msg = completion_par()
    two = PanaMessage(msg.msg_type, msg.flags, msg.session_id, msg.seq,
                      msg.avps + (Avp(AvpCode.AUTH, bytes(20)),) * 2).encode()
    with pytest.raises(ProtocolError, match="exactly one"):
        pana.verify_auth(key, two)
    short = PanaMessage(msg.msg_type, msg.flags, msg.session_id, msg.seq,
                        msg.avps + (Avp(AvpCode.AUTH, bytes(12)),)).encode()
    with pytest.raises(ProtocolError, match="20 octets"):
        pana.compute_auth(key, short)


# --- sequence numbers (RFC 5191 s5.2) -----------------------------------------------------


def test_requests_are_numbered_from_the_initial_value_and_answers_matched():
    paa = SequenceNumbers(initial_seq=0xFFFFFFFF)
    assert paa.next_request() == 0xFFFFFFFF
    assert paa.check_answer(0xFFFFFFFF) and not paa.check_answer(0xFFFFFFFE)
    assert paa.next_request() == 0  # modulo 2^32
    assert not paa.check_answer(0xFFFFFFFF)
    assert not SequenceNumbers(5).check_answer(5)  # nothing sent yet


def test_in_order_requests_accepted_retransmission_detected_replay_rejected():
    pac = SequenceNumbers(initial_seq=1000)
    assert pac.check_request(41) is RequestVerdict.NEW  # first request: any number
    assert pac.check_request(42) is RequestVerdict.NEW
    assert pac.check_request(42) is RequestVerdict.RETRANSMISSION
    assert pac.check_request(41) is RequestVerdict.INVALID  # replayed older request
    assert pac.check_request(44) is RequestVerdict.INVALID  # gap
    assert pac.last_received_request == 42
    assert pac.check_request(43) is RequestVerdict.NEW


def test_request_sequence_wraps():
    pac = SequenceNumbers(0, last_received_request=0xFFFFFFFF)
    assert pac.check_request(0) is RequestVerdict.NEW
