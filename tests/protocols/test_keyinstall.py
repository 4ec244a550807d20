"""The PAA -> AP / access router key installation messages (our protocol, see the module).

Expected values come from the layout in the module docstring, rebuilt here with struct,
hmac and cryptography's AES key wrap, not from the code under test.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import struct

import pytest
from cryptography.hazmat.primitives import keywrap

from orchestrator.protocols.keyinstall import (
    MAX_REMEMBERED, REPLAY_WINDOW, InstallAnswer, InstallRequest, Receiver, Status, TargetKind, decode_answer,
    decode_request, encode_answer, encode_request,
)
from orchestrator.protocols.errors import ProtocolError
from orchestrator.protocols.mpa_keys import MpaKeys
from tests.support.fuzzing import mutate

SECRET = b"paa-ap1-shared-secret"
STA = bytes.fromhex("020000000001")
AP1, AP2 = bytes.fromhex("0200000000a1"), bytes.fromhex("0200000000a2")
KEYS = MpaKeys(bytes(range(64)), 0x1234ABCD, 7)


def request(sequence: int = 1, target: bytes = AP1, key: bytes | None = None,
            kind: TargetKind = TargetKind.ACCESS_POINT) -> InstallRequest:
    return InstallRequest(kind, sequence, bytes(range(16)), 3600, STA, target,
                          KEYS.session_id, KEYS.key_id, key or KEYS.psk_ap(target))


def hkdf_sha256(secret: bytes, info: bytes) -> bytes:
    prk = hmac.new(bytes(32), secret, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def test_request_layout_matches_the_documented_format():
    req = request()
    raw = encode_request(SECRET, req)
    kek = hkdf_sha256(SECRET, b"MPA key install KEK")
    mac_key = hkdf_sha256(SECRET, b"MPA key install MAC")
    wrapped = keywrap.aes_key_wrap(kek, req.key)
    body = (struct.pack("!BBBBQ", 1, 1, 1, 0, 1) + bytes(range(16)) + struct.pack("!I", 3600)
            + STA + AP1 + struct.pack("!IIH", 0x1234ABCD, 7, len(wrapped)) + wrapped)
    assert raw == body + hmac.new(mac_key, body, hashlib.sha256).digest()
    assert len(raw) == 54 + 40 + 32


def test_roundtrip_request_and_answer():
    req = request(sequence=0x0102030405060708)
    assert decode_request(SECRET, encode_request(SECRET, req)) == req
    ans = InstallAnswer(TargetKind.ACCESS_ROUTER, Status.WRONG_TARGET, 42, bytes(16))
    assert decode_answer(SECRET, encode_answer(SECRET, ans)) == ans


def test_receiver_installs_and_acknowledges():
    rx = Receiver(SECRET, TargetKind.ACCESS_POINT, AP1)
    ack, installed, reason = rx.handle(encode_request(SECRET, request()))
    assert reason == "" and installed.key == KEYS.psk_ap(AP1) and installed.station == STA
    answer = decode_answer(SECRET, ack)
    assert answer.status == Status.INSTALLED and answer.sequence == 1
    assert answer.nonce == bytes(range(16))


def test_access_router_gets_the_mn_ar_key():
    ar_id = bytes.fromhex("0200000000f0")
    rx = Receiver(SECRET, TargetKind.ACCESS_ROUTER, ar_id)
    req = request(target=ar_id, key=KEYS.mn_ar_key(), kind=TargetKind.ACCESS_ROUTER)
    _, installed, _ = rx.handle(encode_request(SECRET, req))
    assert installed.key == KEYS.mn_ar_key()


def test_packet_data_gateway_gets_the_chap_key_and_refuses_other_kinds():
    pdg_id = bytes.fromhex("0200000000f1")
    rx = Receiver(SECRET, TargetKind.PACKET_DATA_GATEWAY, pdg_id)
    req = request(target=pdg_id, key=KEYS.pdg_chap_key(pdg_id),
                  kind=TargetKind.PACKET_DATA_GATEWAY)
    raw = encode_request(SECRET, req)
    assert raw[2] == 3                                  # Target-Kind 3 on the wire
    ack, installed, _ = rx.handle(raw)
    assert installed.key == KEYS.pdg_chap_key(pdg_id)
    assert decode_answer(SECRET, ack).kind == TargetKind.PACKET_DATA_GATEWAY
    ack, installed, reason = rx.handle(encode_request(SECRET, request(
        target=pdg_id, key=KEYS.mn_ar_key(), kind=TargetKind.ACCESS_ROUTER, sequence=9)))
    assert installed is None and decode_answer(SECRET, ack).status == Status.WRONG_KIND


@pytest.mark.parametrize("index", [0, 3, 5, 20, 30, 40, 60, 100, -1])
def test_tampered_request_is_rejected(index):
    raw = bytearray(encode_request(SECRET, request()))
    raw[index] ^= 0x40
    ack, installed, reason = Receiver(SECRET, TargetKind.ACCESS_POINT, AP1).handle(bytes(raw))
    assert ack is None and installed is None and "MAC does not verify" in reason


def test_wrong_secret_is_rejected():
    raw = encode_request(b"another secret", request())
    ack, installed, reason = Receiver(SECRET, TargetKind.ACCESS_POINT, AP1).handle(raw)
    assert (ack, installed) == (None, None) and "MAC" in reason
    with pytest.raises(ProtocolError):
        decode_answer(SECRET, encode_answer(b"x", InstallAnswer(
            TargetKind.ACCESS_POINT, Status.INSTALLED, 1, bytes(16))))


def test_replay_is_rejected_and_retransmission_answered_without_reinstalling():
    rx = Receiver(SECRET, TargetKind.ACCESS_POINT, AP1)
    first, second = encode_request(SECRET, request(5)), encode_request(SECRET, request(6))
    ack1, installed, _ = rx.handle(first)
    assert installed is not None
    again = rx.handle(first)  # the PAA lost our answer and sent the same datagram again
    assert again.ack == ack1 and again.request is None
    assert rx.handle(second).request is not None
    late = rx.handle(first)   # the same datagram after a newer one: still only answered
    assert late.ack == ack1 and late.request is None
    same_seq = rx.handle(encode_request(SECRET, request(6, key=bytes(32))))
    assert same_seq.ack is None and same_seq.request is None and "replayed Sequence 6" in same_seq.reason


def test_requests_drawn_concurrently_arrive_out_of_order_and_are_each_installed_once():
    """The PAA installs several MNs' keys at once (issue 17): Sequences drawn 1, 2, 3 may
    arrive 3, 1, 2; each is installed once; one older than the window is a replay."""
    rx = Receiver(SECRET, TargetKind.ACCESS_POINT, AP1)
    base = 10 * REPLAY_WINDOW
    msgs = {q: encode_request(SECRET, request(base + q)) for q in (1, 2, 3)}
    for q in (3, 1, 2):
        assert rx.handle(msgs[q]).request is not None, q
    for q in (1, 2, 3):
        assert rx.handle(msgs[q]).request is None          # answered again, not reinstalled
    old = rx.handle(encode_request(SECRET, request(base + 3 - REPLAY_WINDOW)))
    assert old.ack is None and old.request is None and "replayed" in old.reason
    inside = rx.handle(encode_request(SECRET, request(base + 4 - REPLAY_WINDOW)))
    assert inside.request is not None                      # just inside, never seen


def test_forgotten_sequences_raise_the_floor():
    rx = Receiver(SECRET, TargetKind.ACCESS_POINT, AP1)
    for q in range(1, MAX_REMEMBERED + 3):                 # 1 and 2 are forgotten
        assert rx.handle(encode_request(SECRET, request(q))).request is not None
    assert "replayed" in rx.handle(encode_request(SECRET, request(2))).reason
    assert "replayed" in rx.handle(encode_request(SECRET, request(1))).reason
    assert rx.handle(encode_request(SECRET, request(MAX_REMEMBERED + 3))).request is not None


def test_key_for_another_ap_is_refused_with_status():
    rx = Receiver(SECRET, TargetKind.ACCESS_POINT, AP2)
    ack, installed, reason = rx.handle(encode_request(SECRET, request(target=AP1)))
    assert installed is None and decode_answer(SECRET, ack).status == Status.WRONG_TARGET
    rx = Receiver(SECRET, TargetKind.ACCESS_ROUTER, AP1)
    ack, installed, _ = rx.handle(encode_request(SECRET, request(2)))
    assert installed is None and decode_answer(SECRET, ack).status == Status.WRONG_KIND


def test_psk_ap_distinct_per_bssid():
    assert KEYS.psk_ap(AP1) != KEYS.psk_ap(AP2)


def test_encode_rejects_bad_fields():
    with pytest.raises(ProtocolError):
        encode_request(SECRET, request(sequence=-1))
    with pytest.raises(ProtocolError):
        encode_request(SECRET, request(key=b"short"))
    with pytest.raises(ProtocolError):
        encode_request(b"", request())


def test_seeded_fuzz_only_protocol_errors():
    """Mutated messages: decoders raise only ProtocolError; the receiver never raises and
    never installs a key that was not sent. Also decode with the right secret after the MAC
    is recomputed over the mutated body, to reach the parser behind the MAC check."""
    rnd = random.Random(0x6252)
    mac_key = hkdf_sha256(SECRET, b"MPA key install MAC")
    samples = [encode_request(SECRET, request(i + 1)) for i in range(3)]
    samples.append(encode_answer(SECRET, InstallAnswer(TargetKind.ACCESS_POINT,
                                                       Status.INSTALLED, 9, bytes(16))))
    rx = Receiver(SECRET, TargetKind.ACCESS_POINT, AP1)
    for _ in range(3000):
        data = mutate(rnd, rnd.choice(samples))
        if rnd.random() < 0.5 and len(data) > 32:  # re-MAC so the parser sees it
            body = data[:-32]
            data = body + hmac.new(mac_key, body, hashlib.sha256).digest()
        for decoder in (decode_request, decode_answer):
            try:
                decoder(SECRET, data)
            except ProtocolError:
                pass
        receipt = rx.handle(data)
        if receipt.request is not None:
            assert receipt.request.key == KEYS.psk_ap(AP1)

