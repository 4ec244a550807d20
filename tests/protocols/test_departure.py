"""The AP -> PAA departure notice (RFC 6252 C.2; our own message, protocols/departure.py).

Expected bytes come from the layout in the module docstring, rebuilt here with struct and
hmac and an HKDF written out from RFC 5869, not from the code under test."""
from __future__ import annotations

import hashlib
import hmac
import struct

import pytest

from orchestrator.protocols import departure as dn
from orchestrator.protocols.errors import ProtocolError
from orchestrator.protocols.keyinstall import MAX_REMEMBERED

SECRET = b"ap1-paa-shared-secret"
STA = bytes.fromhex("020000000001")
AP1, AP2 = bytes.fromhex("0200000000a1"), bytes.fromhex("0200000000a2")


def notice(sequence: int = 1, reason=dn.Reason.REASSOCIATED, bssid=AP1, new=AP2):
    return dn.DepartureNotice(reason, sequence, STA, bssid, new)


def mac_key(secret: bytes) -> bytes:
    prk = hmac.new(bytes(32), secret, hashlib.sha256).digest()       # RFC 5869 extract
    return hmac.new(prk, b"MPA departure notice MAC\x01", hashlib.sha256).digest()


def test_notice_layout_matches_the_documented_format():
    raw = dn.encode_notice(SECRET, notice(0x0102030405060708))
    body = struct.pack("!BBBBQ", 1, 1, 2, 0, 0x0102030405060708) + STA + AP1 + AP2
    assert len(body) == 30
    assert raw == body + hmac.new(mac_key(SECRET), body, hashlib.sha256).digest()


def test_ack_layout_matches_the_documented_format():
    raw = dn.encode_ack(SECRET, notice(77, dn.Reason.LINK_LOST))
    body = struct.pack("!BBBBQ", 1, 2, 3, 0, 77)
    assert raw == body + hmac.new(mac_key(SECRET), body, hashlib.sha256).digest()
    assert dn.decode_ack(SECRET, raw) == (dn.Reason.LINK_LOST, 77)


def test_the_mac_key_is_not_the_key_installations():
    """Domain separation: a key installation MAC key never authenticates a notice."""
    from orchestrator.protocols import keyinstall as ki
    assert dn._mac_key(SECRET) not in ki._keys(SECRET)


def test_roundtrip_and_unknown_new_bssid():
    n = notice(9, dn.Reason.DISASSOCIATED, new=dn.NO_BSSID)
    assert dn.decode_notice(SECRET, dn.encode_notice(SECRET, n)) == n


def test_receiver_accepts_once_and_acks_a_retransmission_without_acting():
    rx = dn.Receiver(SECRET, AP1)
    raw = dn.encode_notice(SECRET, notice(5))
    first = rx.handle(raw)
    assert first.notice == notice(5) and dn.decode_ack(SECRET, first.ack)[1] == 5
    again = rx.handle(raw)                 # the AP lost our ack and sent it again
    assert again.ack == first.ack and again.notice is None
    other = rx.handle(dn.encode_notice(SECRET, notice(5, dn.Reason.LINK_LOST)))
    assert other == (None, None, "replayed Sequence 5 (last accepted 5)")
    assert rx.handle(dn.encode_notice(SECRET, notice(6))).notice is not None


def test_forgotten_sequences_raise_the_floor():
    rx = dn.Receiver(SECRET, AP1)
    for q in range(1, MAX_REMEMBERED + 3):
        assert rx.handle(dn.encode_notice(SECRET, notice(q))).notice is not None
    assert "replayed" in rx.handle(dn.encode_notice(SECRET, notice(1))).reason


@pytest.mark.parametrize("index", [0, 2, 4, 12, 18, 24, 29, 30, -1])
def test_tampered_notice_is_rejected(index):
    raw = bytearray(dn.encode_notice(SECRET, notice()))
    raw[index] ^= 0x01
    assert dn.Receiver(SECRET, AP1).handle(bytes(raw)) == (
        None, None, "departure notice MAC does not verify (wrong secret or tampered)")


def test_wrong_secret_and_another_aps_notice_are_rejected():
    assert "MAC" in dn.Receiver(SECRET, AP1).handle(
        dn.encode_notice(b"another secret", notice())).reason
    # AP2 holding the secret it shares with this PAA may not speak for AP1
    receipt = dn.Receiver(SECRET, AP2).handle(dn.encode_notice(SECRET, notice()))
    assert receipt.notice is None and receipt.ack is None and "from the AP" in receipt.reason


def test_an_ack_is_not_a_notice_and_a_notice_is_not_an_ack():
    n = notice()
    with pytest.raises(ProtocolError):
        dn.decode_notice(SECRET, dn.encode_ack(SECRET, n))
    with pytest.raises(ProtocolError):
        dn.decode_ack(SECRET, dn.encode_notice(SECRET, n))


def test_encode_rejects_bad_fields():
    for bad in (notice(-1), dn.DepartureNotice(dn.Reason.LINK_LOST, 1, b"\x01", AP1),
                dn.DepartureNotice(9, 1, STA, AP1)):
        with pytest.raises(ProtocolError):
            dn.encode_notice(SECRET, bad)
    with pytest.raises(ProtocolError):
        dn.encode_notice(b"", notice())


def test_the_receive_loop_contract_is_fuzzed():
    """tests/protocols/test_fuzz_all.py runs the registered 'departure' target (mutants,
    some re-MACed to reach the parser): only ProtocolError or a value."""
    from tests.support.fuzzing import TARGETS, campaign
    result = campaign(TARGETS["departure"], 2000, seed=0xC2)
    assert result.inputs == 2000 and not result.others, result.examples
