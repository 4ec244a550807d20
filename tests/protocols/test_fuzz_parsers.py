"""Deterministic mutation fuzzing of the EAPOL, EAPOL-Key and PANA parsers.

Each parser gets a few thousand frames derived from valid ones (bit flips, byte overwrites,
truncation, insertion, deletion, length-field tweaks, random tails, pure noise) from a seeded
`random.Random`, so a failure reproduces exactly. The only exception allowed to escape is
`ProtocolError`; the 4-way handshake state machines must not raise at all, and neither they
nor `verify_auth` may accept a frame whose protected bytes were changed.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from orchestrator.protocols import eapol, pana
from orchestrator.protocols.eapol import EapolFrame, EapolKey, PacketType
from orchestrator.protocols.errors import ProtocolError
from orchestrator.protocols.pana import Avp, PanaMessage
from tests.support.fuzzing import (AA, GTK, PANA_KEY, PMK, SPA, _rng, fix_length,  # noqa: F401
                                   handshake_frames, mutate, pana_corpus, tolerate)

SEED = 0x6252
CASES = 3000


HANDSHAKE = handshake_frames()
EAPOL_CORPUS = HANDSHAKE + [
    EapolFrame(1, PacketType.START).encode(),
    EapolFrame(2, PacketType.LOGOFF).encode(),
    EapolFrame(3, PacketType.EAP_PACKET, bytes.fromhex("0101000a016a6f686e")).encode(),
]


def _pdu(frame: bytes) -> bytes | None:
    try:
        decoded = EapolFrame.decode(frame)
    except ProtocolError:
        return None
    return frame[:4 + len(decoded.body)]


# --- EAPOL ------------------------------------------------------------------------------


def test_fuzz_eapol_frame_decode():
    rnd = random.Random(SEED)
    decoded = 0
    for _ in range(CASES):
        data = mutate(rnd, rnd.choice(EAPOL_CORPUS))
        frame = tolerate(EapolFrame.decode, data)
        if frame is not None:
            decoded += 1
            assert EapolFrame.decode(frame.encode()) == frame
        tolerate(eapol.decode_ethernet, mutate(rnd, eapol.encode_ethernet(AA, SPA, data)))
    assert 0 < decoded < CASES  # the corpus produced both valid and invalid frames


def test_fuzz_eapol_key_decode_and_mic():
    rnd = random.Random(SEED + 1)
    kck = eapol.derive_ptk(PMK, AA, SPA, bytes(32), bytes(32)).kck
    for _ in range(CASES):
        data = fix_length(rnd, mutate(rnd, rnd.choice(HANDSHAKE)), 2, 4)
        result = tolerate(eapol.decode_eapol_key, data)
        if result is not None:
            frame, key = result
            assert key.to_eapol(frame.version) == _pdu(data)
        tolerate(eapol.verify_mic, kck, data)
        tolerate(eapol.add_mic, kck, data)


def test_fuzz_key_data_parsing_and_unwrap():
    rnd = random.Random(SEED + 2)
    plain = eapol.pad_key_data(eapol.DEFAULT_RSNE + eapol.gtk_kde(GTK, 1))
    kek = bytes(16)
    wrapped = eapol.aes_key_wrap(kek, plain)
    for _ in range(CASES):
        tolerate(eapol.parse_key_data, mutate(rnd, plain))
        unwrapped = tolerate(eapol.aes_key_unwrap, kek, mutate(rnd, wrapped))
        if unwrapped is not None:
            tolerate(eapol.parse_key_data, unwrapped)


def test_fuzz_eapol_key_encode_field_values():
    rnd = random.Random(SEED + 3)
    sizes = [0, 1, 7, 8, 15, 16, 17, 31, 32, 33]
    for _ in range(CASES // 3):
        key = EapolKey(
            key_info=rnd.choice([0, 0x010A, 0xFFFF, 0x10000, -1]),
            key_length=rnd.choice([0, 16, 0xFFFF, 0x10000]),
            replay_counter=rnd.choice([0, 1, (1 << 64) - 1, 1 << 64, -1]),
            nonce=bytes(rnd.choice(sizes)), iv=bytes(rnd.choice(sizes)),
            rsc=bytes(rnd.choice([0, 8, 9])), mic=bytes(rnd.choice(sizes)),
            key_data=bytes(rnd.choice([0, 22, 0xFFFF])))
        encoded = tolerate(key.to_eapol, rnd.choice([0, 1, 2, 3, 256]))
        if encoded is not None:
            assert eapol.decode_eapol_key(encoded)[1] == key


@pytest.mark.parametrize("target", [0, 1, 2, 3])  # index of the message replaced by a mutant
def test_fuzz_handshake_state_machines_never_raise_nor_accept_forgeries(target):
    rnd = random.Random(SEED + 10 + target)
    original = HANDSHAKE[target]
    for _ in range(CASES // 4):
        mutant = mutate(rnd, original)
        ap = eapol.Authenticator4Way(PMK, AA, SPA, GTK, rng=_rng(1))
        sta = eapol.Supplicant4Way(PMK, AA, SPA, rng=_rng(2))
        out = ap.start()[0]
        for index in range(4):  # msg1 and msg3 go to the STA, msg2 and msg4 to the AP
            receiver = sta if index % 2 == 0 else ap
            incoming = mutant if index == target else out[0]
            out, events = receiver.receive(incoming)
            assert all(isinstance(e, eapol.Event) and e.name for e in events)
            if index == target and target > 0:  # messages 2-4 are MIC-protected
                accepted = bool(out) or receiver.state == eapol.HandshakeState.DONE
                if accepted:
                    assert _pdu(mutant) == _pdu(original)
            if not out:
                break


# --- PANA -------------------------------------------------------------------------------

AUTH_KEY = PANA_KEY
PANA_CORPUS = pana_corpus()


def test_fuzz_pana_decode():
    rnd = random.Random(SEED + 20)
    decoded = 0
    for _ in range(CASES):
        data = fix_length(rnd, mutate(rnd, rnd.choice(PANA_CORPUS)), 2, 0)
        msg = tolerate(PanaMessage.decode, data)
        if msg is not None:
            decoded += 1
            assert PanaMessage.decode(msg.encode()) == msg
    assert 0 < decoded < CASES


def test_fuzz_pana_auth_verification():
    rnd = random.Random(SEED + 21)
    signed = PANA_CORPUS[2:]
    for _ in range(CASES):
        original = rnd.choice(signed)
        mutant = fix_length(rnd, mutate(rnd, original), 2, 0)
        verdict = tolerate(pana.verify_auth, AUTH_KEY, mutant)
        assert verdict in (None, True, False)
        if verdict:
            assert mutant == original
        tolerate(pana.compute_auth, AUTH_KEY, mutant)


def test_fuzz_pana_encode_field_values():
    rnd = random.Random(SEED + 22)
    for _ in range(CASES // 3):
        avps = tuple(
            Avp(rnd.choice([0, 1, 0xFFFF, 0x10000, -1]), bytes(rnd.choice([0, 3, 4, 0x10000])),
                vendor_id=rnd.choice([None, 0, 1 << 32]), flags=rnd.choice([0, 0x8000, 0x10000]))
            for _ in range(rnd.randint(0, 3)))
        msg = PanaMessage(rnd.choice([0, 1, 2, 3, 4, 5]), rnd.choice([0, pana.FLAG_R, 0x10000]),
                          rnd.choice([0, (1 << 32) - 1, 1 << 32]), rnd.choice([0, -1, 5]), avps,
                          rnd.choice([0, 0xFFFF, 0x10000]))
        encoded = tolerate(msg.encode)
        if encoded is not None:
            assert PanaMessage.decode(encoded) == replace(
                msg, avps=tuple(replace(a, flags=a.flags & 0x7FFF) for a in msg.avps))
