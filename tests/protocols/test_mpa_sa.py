"""The MPA-SA kept at the PAA after the MN leaves (RFC 6252 C.2; protocols/pana_fsm.py):
authorized -> unauthorized -> authorized only with proof of possession (an authenticated
PNR [P]); a forged or replayed return is refused; the kept context expires."""
from orchestrator.protocols.pana import AvpCode, PanaMessage
from orchestrator.protocols.pana_fsm import PaaState, PacState
from tests.protocols.test_pana_fsm import Wire, established, flip


def attached() -> Wire:
    wire = established()
    wire.pac_from(*wire.pac.attach())
    assert wire.paa.state == PaaState.OPEN and wire.pac.state == PacState.OPEN
    return wire


def leave(wire: Wire, keep=None) -> None:
    wire.paa_from(*wire.paa.detach(keep))
    wire.pac_from(*wire.pac.detach())


def test_leaving_unauthorizes_and_keeps_the_keys():
    wire = attached()
    keys = (wire.paa.msk, wire.paa.key_id, wire.paa.pana_auth_key)
    sent = len(wire.to_pac) + len(wire.to_paa)
    leave(wire)
    assert wire.paa.state == PaaState.UNAUTHORIZED and wire.pac.state == PacState.PREAUTHENTICATED
    assert "unauthorized" in wire.names("paa") and "detached" in wire.names("pac")
    assert (wire.paa.msk, wire.paa.key_id, wire.paa.pana_auth_key) == keys
    assert len(wire.to_pac) + len(wire.to_paa) == sent        # no message: a local transition


def test_the_return_is_authorized_by_proof_of_possession_without_eap():
    wire = attached()
    leave(wire)
    runs, rounds = wire.server.runs, wire.paa.rounds
    wire.pac_from(*wire.pac.attach())
    assert wire.paa.state == PaaState.OPEN and wire.pac.state == PacState.OPEN
    assert wire.paa_events[-1].name == "authorized"
    assert wire.server.runs == runs and wire.paa.rounds == rounds    # no EAP, no AAA
    pnr = PanaMessage.decode(wire.to_paa[-1])
    assert pnr.name == "PNR" and pnr.find(AvpCode.AUTH) is not None
    # and again: leave, come back
    leave(wire)
    wire.pac_from(*wire.pac.attach())
    assert [e.name for e in wire.paa_events if e.name in ("unauthorized", "authorized")] == [
        "unauthorized", "authorized", "unauthorized", "authorized"]


def test_a_forged_return_is_refused():
    wire = attached()
    leave(wire)
    wire.tamper = lambda direction, raw: flip(raw, len(raw) - 1) if direction == "paa" else raw
    wire.pac_from(*wire.pac.attach())          # AUTH no longer verifies: not the key holder
    assert wire.paa.state == PaaState.UNAUTHORIZED
    assert any(e.name == "dropped" and "AUTH" in e.reason for e in wire.paa_events)
    assert "authorized" not in wire.names("paa")


def test_a_return_with_another_sessions_key_is_refused():
    wire, other = attached(), Wire(seed=7)
    other.start()
    leave(wire)
    # a PaC with its own valid MPA-SA (another session) claims this session
    pnr, _ = other.pac.attach()
    raw = bytearray(pnr[0])
    raw[8:12] = wire.paa.session_id.to_bytes(4, "big")   # Session Identifier of the victim
    out, events = wire.paa.receive(bytes(raw))
    assert out == [] and [e.name for e in events] == ["dropped"]
    assert wire.paa.state == PaaState.UNAUTHORIZED


def test_a_replayed_attach_does_not_authorize():
    wire = attached()
    old_attach = wire.to_paa[-1]                 # the PNR [P] of the first attach
    leave(wire)
    out, events = wire.paa.receive(old_attach)
    assert wire.paa.state == PaaState.UNAUTHORIZED
    assert [e.name for e in events] in (["duplicate_answered"], ["dropped"])
    assert "authorized" not in [e.name for e in events]


def test_the_kept_context_expires_after_keep():
    wire = attached()
    leave(wire, keep=30.0)
    wire.advance(29.0)
    assert wire.paa.state == PaaState.UNAUTHORIZED
    wire.advance(1.0)
    assert wire.paa.state == PaaState.CLOSED and "expired" in wire.names("paa")


def test_detach_only_from_the_authorized_state():
    wire = established()                         # pre-authenticated, never attached
    out, events = wire.paa.detach()
    assert out == [] and events[0].name == "refused"
    out, events = wire.pac.detach()
    assert events[0].name == "refused"
    wire = attached()
    leave(wire)
    assert wire.paa.detach()[1][0].name == "refused"      # already unauthorized
