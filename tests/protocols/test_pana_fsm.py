"""PaC and PAA state machines wired back to back (RFC 5191 s4, RFC 5873), no network.

A fake EAP peer and a fake EAP server stand in for EAP-TLS and RADIUS: the peer answers
Identity and one method type, the server sends ``challenges`` requests and then Success
(with an MSK that both sides know) or Failure. Time is a fake clock, randomness a seeded
`random.Random`, the timer jitter a constant, so every run is the same.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from orchestrator.protocols import eap, pana
from orchestrator.protocols.eap import Code, EapPacket, EapType
from orchestrator.protocols.pana import (
    FLAG_A, FLAG_C, FLAG_E, FLAG_P, FLAG_R, FLAG_S, AvpCode, MessageType, PanaMessage,
)
from orchestrator.protocols.pana_fsm import (
    PCI_TIMER, REQ_TIMER, BackendResult, Event, PaaSession, PaaState, PacSession, PacState,
    RetransmissionTimer, TimerParams,
)

IDENTITY = "mn@home.example"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakePeer:
    """EAP peer: Identity, then echoes any method Request; MSK once Success arrives."""

    def __init__(self, msk: bytes):
        self._msk, self.ok, self.failure_reason = msk, False, None

    def handle(self, data: bytes) -> bytes | None:
        packet = EapPacket.decode(data)
        if packet.code == Code.SUCCESS:
            self.ok = True
            return None
        if packet.code == Code.FAILURE:
            self.failure_reason = "EAP-Failure from the authenticator"
            return None
        if packet.type == EapType.IDENTITY:
            return eap.identity_response(packet.identifier, IDENTITY).encode()
        return eap.response(packet.identifier, packet.type, b"answer:" + packet.type_data).encode()

    @property
    def msk(self) -> bytes | None:
        return self._msk if self.ok else None


class FakeServer:
    """EAP server behind the PAA: ``challenges`` MD5-Challenge-typed requests, then a result."""

    def __init__(self, challenges: int = 2, accept: bool = True):
        self.challenges, self.accept = challenges, accept
        self.runs = 0
        self._sent = 0
        self.seen: list[bytes] = []

    def msk(self, run: int) -> bytes:
        return bytes([run]) * 64

    def __call__(self, response: bytes) -> BackendResult:
        self.seen.append(response)
        packet = EapPacket.decode(response)
        if packet.type == EapType.IDENTITY:
            self.runs += 1
            self._sent = 0
        if self._sent < self.challenges:
            self._sent += 1
            return BackendResult("challenge", eap.request(
                (packet.identifier + 1) % 256, EapType.MD5_CHALLENGE, b"c%d" % self._sent).encode())
        if self.accept:
            return BackendResult("accept", eap.success(packet.identifier).encode(),
                                 msk=self.msk(self.runs), session_lifetime=600)
        return BackendResult("reject", eap.failure(packet.identifier).encode())


class Wire:
    """Carries datagrams between one PaC and one PAA session; records them and the events.

    ``tamper(direction, raw) -> raw | None`` may change or drop a datagram in flight."""

    def __init__(self, preauth: bool = True, server: FakeServer | None = None, *,
                 supports_preauth: bool = True, seed: int = 6252):
        self.clock = Clock()
        rnd = random.Random(seed)
        self.rng = rnd.randbytes
        self.server = server or FakeServer()
        self.pac = PacSession(lambda: FakePeer(self.server.msk(self.server.runs + 1)),
                              preauth=preauth, clock=self.clock, rng=self.rng,
                              jitter=lambda: 0.5)
        self.paa = PaaSession(0x1234ABCD, clock=self.clock, rng=self.rng, jitter=lambda: 0.5,
                              supports_preauth=supports_preauth)
        self.to_paa: list[bytes] = []  # every datagram sent towards the PAA
        self.to_pac: list[bytes] = []
        self.pac_events: list[Event] = []
        self.paa_events: list[Event] = []
        self.tamper = lambda direction, raw: raw

    def start(self) -> None:
        out, events = self.pac.start()
        self.pac_events += events
        self._send("paa", out, first=True)

    def _send(self, direction: str, datagrams: list[bytes], first: bool = False) -> None:
        for raw in datagrams:
            (self.to_paa if direction == "paa" else self.to_pac).append(raw)
            raw = self.tamper(direction, raw)
            if raw is None:
                continue
            if direction == "paa":
                if first or (self.paa.state == PaaState.INITIAL
                             and PanaMessage.decode(raw).msg_type == MessageType.CLIENT_INITIATION):
                    out, events = self.paa.start(raw)
                else:
                    out, events = self.paa.receive(raw)
                self.paa_from(out, events)
            else:
                out, events = self.pac.receive(raw)
                self.pac_from(out, events)

    def paa_from(self, out: list[bytes], events: list[Event]) -> None:
        self.paa_events += events
        self._send("pac", out)
        for event in events:
            if event.name == "eap_response":
                self.paa_from(*self.paa.backend_result(self.server(event.payload)))

    def pac_from(self, out: list[bytes], events: list[Event]) -> None:
        self.pac_events += events
        self._send("paa", out)

    def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        self.pac_from(*self.pac.poll())
        self.paa_from(*self.paa.poll())

    def names(self, side: str) -> list[str]:
        return [e.name for e in (self.pac_events if side == "pac" else self.paa_events)]


def established(preauth: bool = True, **kw) -> Wire:
    wire = Wire(preauth, **kw)
    wire.start()
    return wire


def decoded(datagrams: list[bytes]) -> list[PanaMessage]:
    return [PanaMessage.decode(d) for d in datagrams]


def flip(raw: bytes, index: int) -> bytes:
    b = bytearray(raw)
    b[index] ^= 0x01
    return bytes(b)


# --- the successful exchange -----------------------------------------------------------


def test_preauthentication_success_keys_equal_both_sides():
    wire = established()
    pac, paa = wire.pac, wire.paa
    assert pac.state == PacState.PREAUTHENTICATED and paa.state == PaaState.PREAUTHENTICATED
    assert "established" in wire.names("pac") and "established" in wire.names("paa")
    assert pac.session_id == paa.session_id == 0x1234ABCD
    assert pac.msk == paa.msk == wire.server.msk(1)
    assert pac.key_id == paa.key_id is not None
    assert pac.pana_auth_key == paa.pana_auth_key and len(pac.pana_auth_key) == 20
    assert pac.pana_auth_key == pana.derive_pana_auth_key(
        paa.msk, paa.i_par, paa.i_pan, paa.pac_nonce, paa.paa_nonce, paa.key_id)
    assert pac.i_par == paa.i_par and pac.i_pan == paa.i_pan
    assert pac.session_lifetime == paa.session_lifetime == 600
    assert paa.identity == IDENTITY
    assert [e for e in wire.pac_events + wire.paa_events if e.name == "dropped"] == []


def test_message_sequence_and_e_flag():
    """PCI, PAR[S]/PAN[S], PAR/PAN with nonces, 2 challenges, PAR[C]/PAN[C]; E on all."""
    wire = established()
    to_paa, to_pac = decoded(wire.to_paa), decoded(wire.to_pac)
    assert [m.name for m in to_paa] == ["PCI", "PAN", "PAN", "PAN", "PAN", "PAN"]
    assert [m.name for m in to_pac] == ["PAR"] * 5
    assert all(m.flags & FLAG_E for m in to_paa + to_pac)  # RFC 5873 s3
    assert to_pac[0].flags & FLAG_S and to_paa[1].flags & FLAG_S
    assert to_pac[-1].flags & FLAG_C and to_paa[-1].flags & FLAG_C
    assert to_pac[1].find(AvpCode.NONCE) and to_paa[2].find(AvpCode.NONCE)
    final_par, final_pan = to_pac[-1], to_paa[-1]
    for avp in (AvpCode.RESULT_CODE, AvpCode.KEY_ID, AvpCode.SESSION_LIFETIME, AvpCode.AUTH,
                AvpCode.EAP_PAYLOAD):
        assert final_par.find(avp) is not None, avp
    assert final_pan.find(AvpCode.AUTH) and final_pan.find(AvpCode.KEY_ID)
    assert pana.verify_auth(wire.pac.pana_auth_key, wire.to_pac[-1])
    assert pana.verify_auth(wire.pac.pana_auth_key, wire.to_paa[-1])
    # nothing before the key existed carries AUTH
    assert not any(m.find(AvpCode.AUTH) for m in to_pac[:-1] + to_paa[:-1])
    assert wire.pac.rounds == 5


def test_attach_after_move_activates_the_preauthenticated_session():
    wire = established()
    wire.pac_from(*wire.pac.attach())
    assert wire.pac.state == PacState.OPEN and wire.paa.state == PaaState.OPEN
    assert "activated" in wire.names("pac") and "activated" in wire.names("paa")
    pnr = PanaMessage.decode(wire.to_paa[-1])
    assert pnr.name == "PNR" and pnr.flags & FLAG_P and not pnr.flags & FLAG_E
    assert pnr.find(AvpCode.AUTH) is not None


def test_without_preauthentication_no_e_flag_and_open_session():
    wire = established(preauth=False)
    assert wire.pac.state == PacState.OPEN and wire.paa.state == PaaState.OPEN
    assert not any(m.flags & FLAG_E for m in decoded(wire.to_paa + wire.to_pac))


def test_paa_without_preauthentication_support_drops_e_pci():
    wire = established(supports_preauth=False)
    assert wire.paa.state == PaaState.CLOSED and wire.to_pac == []
    assert any(e.name == "dropped" and "RFC 5873" in e.reason for e in wire.paa_events)


def test_rejected_authentication_gives_failure_and_no_keys():
    wire = established(server=FakeServer(accept=False))
    assert wire.pac.state == PacState.CLOSED and wire.paa.state == PaaState.CLOSED
    assert wire.pac.msk is None and wire.pac.pana_auth_key is None
    failed = [e for e in wire.pac_events if e.name == "auth_failed"]
    assert failed and "PANA_AUTHENTICATION_REJECTED" in failed[0].reason
    assert "auth_failed" in wire.names("paa")
    assert PanaMessage.decode(wire.to_pac[-1]).find(AvpCode.AUTH) is None


def test_backend_timeout_fails_the_session():
    class Silent(FakeServer):
        def __call__(self, response: bytes) -> BackendResult:
            return BackendResult("timeout")

    wire = established(server=Silent())
    assert wire.pac.state == PacState.CLOSED
    assert any(e.name == "auth_failed" for e in wire.pac_events)
    assert any(e.name == "auth_failed" and "AAA" in e.reason for e in wire.paa_events)


# --- drops: AUTH, sequence numbers, malformed ------------------------------------------


def test_bad_auth_is_dropped_and_does_not_move_the_window():
    wire = established(preauth=False)
    out, _ = wire.pac.ping()
    forged = flip(out[0], len(out[0]) - 1)  # last octet of the AUTH value
    answer, events = wire.paa.receive(forged)
    assert answer == [] and events == [Event("dropped", "bad AUTH")]
    answer, events = wire.paa.receive(out[0])  # the genuine one still counts as new
    assert len(answer) == 1 and events == [Event("ping_received")]


def ping_once(wire: Wire) -> int:
    """One PaC ping, so the PAA has a last received request number; returns it."""
    wire.pac_from(*wire.pac.ping())
    return wire.paa.seqs.last_received_request


def test_missing_auth_is_dropped():
    wire = established()
    seq = ping_once(wire)
    unsigned = PanaMessage(MessageType.NOTIFICATION, FLAG_R | FLAG_P, wire.paa.session_id,
                           (seq + 1) % (1 << 32)).encode()
    _, events = wire.paa.receive(unsigned)
    assert events[0].name == "dropped" and events[0].reason.startswith("bad AUTH")


def test_bad_auth_on_final_par_is_dropped_then_retransmission_succeeds():
    wire = Wire()
    state = {"done": False}

    def tamper(direction, raw):
        msg = PanaMessage.decode(raw)
        if direction == "pac" and msg.flags & FLAG_C and not state["done"]:
            state["done"] = True
            return flip(raw, len(raw) - 1)
        return raw

    wire.tamper = tamper
    wire.start()
    assert Event("dropped", "bad AUTH") in wire.pac_events
    assert wire.pac.state == PacState.AUTHENTICATING and wire.pac.pana_auth_key is None
    wire.advance(REQ_TIMER.irt)  # the PAA retransmits the PAR [C]
    assert wire.pac.state == PacState.PREAUTHENTICATED
    assert wire.pac.pana_auth_key == wire.paa.pana_auth_key


def test_replayed_sequence_number_is_dropped():
    wire = established()
    old_par = wire.to_pac[1]  # a PAR from the EAP exchange
    _, events = wire.pac.receive(old_par)
    assert events[0].name == "dropped" and "replayed sequence number" in events[0].reason
    # an old request to the PAA, replayed after a newer one
    first, _ = wire.pac.ping()
    wire.paa.receive(first[0])
    wire.pac.receive(wire.paa._last_answer)
    second, _ = wire.pac.ping()
    wire.paa.receive(second[0])
    _, events = wire.paa.receive(first[0])
    assert events[0].name == "dropped" and "replayed sequence number" in events[0].reason


def test_duplicate_request_gets_the_cached_answer():
    wire = established()
    last_par, last_pan = wire.to_pac[-1], wire.to_paa[-1]
    out, events = wire.pac.receive(last_par)
    assert out == [last_pan] and events == [Event("duplicate_answered", "PAR")]


def test_out_of_window_sequence_number_is_dropped_even_with_good_auth():
    wire = established()
    seq = ping_once(wire)
    ahead = PanaMessage(MessageType.NOTIFICATION, FLAG_R | FLAG_P, wire.paa.session_id,
                        (seq + 5) % (1 << 32))
    _, events = wire.paa.receive(pana.sign(ahead, wire.paa.pana_auth_key))
    assert events[0].name == "dropped" and "out-of-window" in events[0].reason


def test_unexpected_answer_and_wrong_session_and_malformed_are_dropped():
    wire = established()
    _, events = wire.paa.receive(wire.to_paa[-1])  # PAN [C] again: nothing outstanding
    assert events[0].name == "dropped" and "unexpected PAN" in events[0].reason
    other = PanaMessage(MessageType.NOTIFICATION, FLAG_R | FLAG_P, 7, 1).encode()
    _, events = wire.paa.receive(other)
    assert events[0].reason == "unknown Session Identifier 7"
    for garbage in (b"", b"\x00" * 15, b"\xff" * 40, wire.to_pac[-1][:-3]):
        for fsm in (wire.pac, wire.paa):
            out, events = fsm.receive(garbage)
            assert out == [] and events[0].name == "dropped"
            assert events[0].reason.startswith("malformed")


def test_e_flag_mismatch_is_dropped():
    wire = Wire()
    wire.tamper = lambda d, raw: _strip_e(raw) if d == "pac" else raw
    wire.start()
    assert any(e.name == "dropped" and "E flag" in e.reason for e in wire.pac_events)
    assert wire.pac.state == PacState.WAIT_PAA


def _strip_e(raw: bytes) -> bytes:
    msg = PanaMessage.decode(raw)
    return replace(msg, flags=msg.flags & ~FLAG_E).encode()


def test_seeded_fuzz_never_raises_and_never_changes_keys():
    rnd = random.Random(0x5191)
    wire = established()
    keys = (wire.pac.pana_auth_key, wire.paa.pana_auth_key)
    samples = wire.to_pac + wire.to_paa
    for _ in range(3000):
        data = bytearray(rnd.choice(samples))
        for _ in range(rnd.randint(1, 4)):
            op = rnd.randrange(3)
            if op == 0 and data:
                data[rnd.randrange(len(data))] ^= 1 << rnd.randrange(8)
            elif op == 1:
                del data[rnd.randrange(len(data) + 1):]
            else:
                data += rnd.randbytes(rnd.randint(1, 8))
        for fsm in (wire.pac, wire.paa):
            out, events = fsm.receive(bytes(data))
            assert all(isinstance(e, Event) for e in events)
    assert (wire.pac.pana_auth_key, wire.paa.pana_auth_key) == keys
    assert wire.pac.state == PacState.PREAUTHENTICATED


# --- timers ------------------------------------------------------------------------------


def timer_sequence(params: TimerParams, jitter: float, steps: int) -> tuple[list[float], bool]:
    clock = Clock()
    timer = RetransmissionTimer(params, clock, lambda: jitter)
    rts = [timer.start()]
    for _ in range(steps):
        clock.now = timer.deadline
        assert timer.expired()
        if not timer.backoff():
            return rts, False
        rts.append(timer.rt)
    return rts, True


def test_request_timer_doubles_to_mrt_and_gives_up_after_mrc():
    rts, alive = timer_sequence(REQ_TIMER, 0.5, 20)  # RAND = 0
    assert rts == [1, 2, 4, 8, 16, 30, 30, 30, 30, 30, 30]  # first send + 10 retransmissions
    assert not alive


def test_timer_randomisation_bounds():
    low, _ = timer_sequence(REQ_TIMER, 0.0, 5)  # RAND = -0.1
    high, _ = timer_sequence(REQ_TIMER, 1.0, 5)  # RAND = +0.1 (limit)
    assert low[0] == pytest.approx(0.9) and high[0] == pytest.approx(1.1)
    assert low[1] == pytest.approx(2 * 0.9 - 0.1 * 0.9) and high[1] == pytest.approx(2.31)
    rnd = random.Random(1)
    clock = Clock()
    timer = RetransmissionTimer(REQ_TIMER, clock, rnd.random)
    prev = timer.start()
    assert 0.9 <= prev <= 1.1
    while True:
        clock.now = timer.deadline
        if not timer.backoff():
            break
        if timer.rt <= 0.9 * REQ_TIMER.mrt:
            assert 1.9 * prev <= timer.rt <= 2.1 * prev
        else:
            assert 0.9 * REQ_TIMER.mrt <= timer.rt <= 1.1 * REQ_TIMER.mrt
        prev = timer.rt
    assert timer.count == REQ_TIMER.mrc


def test_pci_timer_never_gives_up():
    rts, alive = timer_sequence(PCI_TIMER, 0.5, 40)
    assert alive and rts[:8] == [1, 2, 4, 8, 16, 32, 64, 120] and set(rts[8:]) == {120}


def test_pci_retransmitted_on_the_timer():
    wire = Wire()
    wire.tamper = lambda d, raw: None  # nothing arrives
    wire.start()
    sent = []
    for step in (0.99, 0.01, 1.99, 0.01, 4.0):
        wire.advance(step)
        sent.append(len(wire.to_paa))
    assert sent == [1, 2, 2, 3, 4]  # PCI at t=0, 1, 3, 7
    assert all(PanaMessage.decode(d).name == "PCI" for d in wire.to_paa)


def test_lost_pan_recovered_by_par_retransmission():
    wire = Wire()
    lost = {"n": 0}

    def tamper(direction, raw):
        msg = PanaMessage.decode(raw)
        if direction == "paa" and msg.name == "PAN" and not msg.flags & FLAG_S and not lost["n"]:
            lost["n"] = 1
            return None
        return raw

    wire.tamper = tamper
    wire.start()
    assert wire.pac.state == PacState.AUTHENTICATING
    wire.advance(1.0)
    assert "retransmitted" in wire.names("paa") and "duplicate_answered" in wire.names("pac")
    assert wire.pac.state == PacState.PREAUTHENTICATED
    assert wire.pac.pana_auth_key == wire.paa.pana_auth_key


def test_unanswered_par_fails_after_mrc_retransmissions():
    wire = Wire()
    wire.tamper = lambda d, raw: raw if d == "paa" else None  # PaC hears nothing
    wire.start()
    for _ in range(12):
        wire.advance(30.0)
    pars = [m for m in decoded(wire.to_pac) if m.name == "PAR"]
    assert len(pars) == 1 + REQ_TIMER.mrc
    failed = [e for e in wire.paa_events if e.name == "auth_failed"]
    assert failed and "after 10 retransmissions" in failed[0].reason
    assert wire.paa.state == PaaState.CLOSED


def test_session_lifetime_expires():
    wire = established()
    wire.advance(599.0)
    assert wire.pac.state == PacState.PREAUTHENTICATED
    wire.advance(1.0)
    assert wire.pac.state == PacState.CLOSED and wire.paa.state == PaaState.CLOSED
    assert "expired" in wire.names("pac") and "expired" in wire.names("paa")


# --- termination, re-authentication, ping -------------------------------------------------


def test_termination_by_the_pac():
    wire = established()
    wire.pac_from(*wire.pac.terminate())
    assert wire.pac.state == PacState.CLOSED and wire.paa.state == PaaState.CLOSED
    assert Event("terminated", "LOGOUT") in wire.paa_events
    assert "terminated" in wire.names("pac")
    ptr, pta = PanaMessage.decode(wire.to_paa[-1]), PanaMessage.decode(wire.to_pac[-1])
    assert (ptr.name, pta.name) == ("PTR", "PTA")
    assert pana.verify_auth(wire.paa.pana_auth_key, wire.to_paa[-1])
    assert pana.verify_auth(wire.paa.pana_auth_key, wire.to_pac[-1])
    out, events = wire.pac.ping()
    assert out == [] and events[0].name == "refused"


def test_termination_by_the_paa():
    wire = established()
    wire.paa_from(*wire.paa.terminate())
    assert wire.pac.state == PacState.CLOSED and wire.paa.state == PaaState.CLOSED


def test_reauthentication_makes_new_keys_on_both_sides():
    wire = established()
    wire.pac_from(*wire.pac.attach())
    old_key, old_key_id = wire.pac.pana_auth_key, wire.pac.key_id
    i_par = wire.pac.i_par
    mark = len(wire.to_pac)
    wire.pac_from(*wire.pac.reauthenticate())
    assert "reauthenticated" in wire.names("pac") and "reauthenticated" in wire.names("paa")
    assert wire.pac.state == PacState.OPEN and wire.paa.state == PaaState.OPEN
    assert wire.pac.msk == wire.paa.msk == wire.server.msk(2)
    assert wire.pac.key_id == wire.paa.key_id != old_key_id
    assert wire.pac.pana_auth_key == wire.paa.pana_auth_key != old_key
    assert wire.pac.i_par == i_par  # s5.3: the initial PAR of the session
    pnr = [m for m in decoded(wire.to_paa) if m.name == "PNR"][-1]
    assert pnr.flags & FLAG_A
    later = decoded(wire.to_pac[mark:])
    assert later[0].name == "PNA" and later[0].flags & FLAG_A
    assert all(m.find(AvpCode.AUTH) for m in later)  # protected throughout
    assert not any(m.flags & (FLAG_S | FLAG_E) for m in later)  # attached: no E any more
    # messages of the new run before PAR [C] were protected with the old key
    assert pana.verify_auth(old_key, wire.to_pac[mark + 1])
    assert pana.verify_auth(wire.pac.pana_auth_key, wire.to_pac[-1])


def test_failed_reauthentication_closes_the_session():
    wire = established()
    wire.server.accept = False
    wire.pac_from(*wire.pac.reauthenticate())
    assert wire.pac.state == PacState.CLOSED and wire.pac.pana_auth_key is None
    assert "auth_failed" in wire.names("pac")
    assert wire.paa.state == PaaState.CLOSED


def test_ping_both_ways():
    wire = established(preauth=False)
    wire.pac_from(*wire.pac.ping())
    wire.paa_from(*wire.paa.ping())
    assert "ping_answered" in wire.names("pac") and "ping_answered" in wire.names("paa")
    assert "ping_received" in wire.names("pac") and "ping_received" in wire.names("paa")
    assert wire.pac.state == PacState.OPEN  # a ping on an open session changes nothing


def test_commands_refused_in_wrong_state():
    wire = Wire()
    assert wire.pac.reauthenticate()[1][0].name == "refused"
    assert wire.pac.attach()[1][0].name == "refused"
    wire.start()
    assert wire.pac.start()[1][0].name == "refused"
    assert wire.paa.backend_result(BackendResult("accept"))[1][0].name == "refused"
