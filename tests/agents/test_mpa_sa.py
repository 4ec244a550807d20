"""The MPA-SA kept at the PAA, end to end on loopback (RFC 6252 C.2, agents/pana.py): the MN
pre-authenticates (PANA, EAP-TLS with FreeRADIUS), attaches, leaves (the PAA moves the
session to unauthorized, keys kept), comes back and is re-authorized by proof of possession
alone (no EAP, no AAA, no new key installation); a return with a forged AUTH is refused.
Fixtures: tests/agents/test_pana_freeradius.py (a private FreeRADIUS on loopback)."""
import socket

from tests.agents.test_pana_freeradius import (IDENTITY, pki, radius_server, testbed,  # noqa: F401
                                               wait_for)


def state(bed, sid):
    return bed.paa.sessions[sid].fsm.state.value


def test_switch_back_keeps_the_mpa_sa_and_returns_by_proof_of_possession(testbed, pki):  # noqa: F811
    pac = testbed.pac(pki)
    result = pac.pre_authenticate(timeout=10)
    assert result["status"] == "ok", result
    sid = result["session_id"]
    wait_for(lambda: testbed.tconf_done.is_set())
    assert pac.attach()["status"] == "ok"                 # RFC 5873: after the move
    assert state(testbed, sid) == "open"
    # the MN leaves: the PAA learns it (mpa_sa_detach), the MN keeps its MPA-SA
    assert testbed.paa.detach(IDENTITY, keep=30.0) == [{"session_id": sid, "state": "unauthorized"}]
    assert pac.detach()["status"] == "ok"
    assert testbed.paa.states()[IDENTITY][0]["state"] == "unauthorized"
    rounds = testbed.paa.sessions[sid].fsm.rounds
    installs = len(testbed.tconf)
    # the return: the MN's PNR [P]; in front of it the same datagram with one bit of its
    # AUTH flipped (someone without the key claiming the session)
    pac._open_socket()
    out, events = pac.session.attach()
    forged = bytearray(out[0])
    forged[-1] ^= 1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(bytes(forged), ("127.0.0.1", testbed.paa.port))
    wait_for(lambda: "pana_dropped" in testbed.names("paa"))
    assert state(testbed, sid) == "unauthorized"
    back = pac._command((out, events), {"activated", "timeout"}, 5.0)   # the real one
    assert back["status"] == "ok", back
    assert state(testbed, sid) == "open"
    assert testbed.paa.sessions[sid].fsm.rounds == rounds   # no EAP run
    assert len(testbed.tconf) == installs                    # no new key installation
    names = testbed.names("paa")
    assert names.count("mpa_sa_unauthorized") == 1 and names.count("mpa_sa_authorized") == 1
    assert names.index("mpa_sa_unauthorized") < names.index("mpa_sa_authorized")
    dropped = [r for r in testbed.records("paa") if r["event"] == "pana_dropped"]
    assert any("AUTH" in (r["attrs"].get("reason") or "") for r in dropped)
    pac.close()
