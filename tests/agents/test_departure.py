"""The AP's departure notice drives the PAA's MPA-SA (RFC 6252 C.2; agents/departure.py,
the PAA role's `on_departure`): on loopback, an AP's notifier tells the PAA role that the
MN left; the PAA's authorized session becomes unauthorized (trigger: the notice), keys
kept. A reassociation within the PAA's network, a forged notice, a replay, another AP
speaking for this one and a station that is back at the AP change nothing. No root, no
RADIUS: the PANA session is the pure state machine's (tests/protocols/test_pana_fsm.py)."""
from __future__ import annotations

import json
import socket
import time

import pytest

from orchestrator.agents import agent
from orchestrator.agents.departure import DepartureNotifier, departure_action
from orchestrator.agents.pana import _Entry
from orchestrator.events import EventLog
from orchestrator.protocols import departure as dn
from orchestrator.protocols.pana_fsm import PaaState
from tests.protocols.test_mpa_sa import attached

STA = "02:00:00:00:00:01"
AP1, AP2, AP3 = "02:00:00:00:00:a1", "02:00:00:00:00:a2", "02:00:00:00:00:a3"
SECRETS = {"ap1": "ap1-paa", "ap2": "ap2-paa"}


@pytest.fixture
def paa(tmp_path):
    log_path = tmp_path / "events.jsonl"
    role = agent.Paa("paa", {
        "paa_radius": {"server": "127.0.0.1", "port": 9, "secret": "unused"},
        "pana_address": "127.0.0.1", "pana_port": 0, "departure_port": 0,
        "stations": {"mn@home.example": STA.upper()},
        "ctn_aps": [{"name": n, "bssid": b, "address": "127.0.0.1", "port": 9,
                     "secret": SECRETS[n]} for n, b in (("ap1", AP1), ("ap2", AP2))]},
        EventLog(log_path, "paa", "paa"))
    wire = attached()                             # an authorized (attached) PANA session
    role.paa.sessions[wire.paa.session_id] = _Entry(wire.paa, ("127.0.0.1", 9))
    role.events = lambda: [json.loads(x) for x in log_path.read_text().splitlines()]
    role.fsm = wire.paa
    try:
        yield role
    finally:
        role.close()


def notifier(paa, name="ap1", bssid=AP1, secret=None, gone=lambda sta: True):
    return DepartureNotifier(bssid, {"127.0.0.1": secret or SECRETS[name]},
                             paa.departures.port, None, gone, timeout=0.05, retries=2)


def send(paa, n: DepartureNotifier, reason="reassociation", new=AP3) -> bool:
    notice = dn.DepartureNotice(dn.Reason.REASSOCIATED if reason == "reassociation"
                                else dn.Reason.LINK_LOST, time.time_ns(),
                                bytes.fromhex(STA.replace(":", "")),
                                bytes.fromhex(n.bssid.replace(":", "")),
                                bytes.fromhex(new.replace(":", "")) if new else dn.NO_BSSID)
    return n.send("127.0.0.1", next(iter(n.peers.values())).encode(), notice, STA)


def named(paa, event):
    return [e for e in paa.events() if e["event"] == event]


def test_a_departure_notice_unauthorizes_the_mpa_sa(paa):
    keys = (paa.fsm.msk, paa.fsm.pana_auth_key)
    assert send(paa, notifier(paa)) is True                 # acknowledged
    assert paa.fsm.state == PaaState.UNAUTHORIZED
    assert (paa.fsm.msk, paa.fsm.pana_auth_key) == keys     # the MPA-SA is kept
    [notice] = named(paa, "departure_notice")
    assert notice["attrs"].items() >= {"ap": "ap1", "identity": "mn@home.example",
                                       "action": "unauthorize", "reason": "REASSOCIATED",
                                       "new_bssid": AP3}.items()
    [moved] = named(paa, "mpa_sa_unauthorized")
    assert moved["attrs"]["trigger"] == "departure notice from ap1"
    assert notice["mono_ns"] <= moved["mono_ns"]            # the notice, then what it caused
    # a second notice (the session is unauthorized already) moves nothing
    assert send(paa, notifier(paa), reason="link_lost", new=None) is True
    assert named(paa, "departure_notice")[-1]["attrs"]["action"] == "no authorized session"
    assert len(named(paa, "mpa_sa_unauthorized")) == 1


def test_the_command_path_is_kept_and_says_so(paa):
    assert paa.mpa_sa_detach("mn@home.example", keep=5.0)["moved"][0]["state"] == "unauthorized"
    assert named(paa, "mpa_sa_unauthorized")[0]["attrs"]["trigger"] == "command"


def test_a_reassociation_within_the_network_keeps_the_authorization(paa):
    assert send(paa, notifier(paa), new=AP2) is True
    assert paa.fsm.state == PaaState.OPEN
    assert named(paa, "departure_notice")[0]["attrs"]["action"] == "none"


def test_forged_and_misattributed_notices_change_nothing(paa):
    assert send(paa, notifier(paa, secret="guessed")) is False       # no ack: MAC fails
    # ap2 signs with its own secret but names ap1's BSSID
    assert send(paa, notifier(paa, name="ap2", bssid=AP1)) is False
    assert send(paa, notifier(paa, name="ap1", bssid=AP3)) is False  # not of this network
    assert paa.fsm.state == PaaState.OPEN
    reasons = [e["attrs"]["reason"] for e in named(paa, "departure_rejected")]
    assert any("MAC does not verify" in r for r in reasons)
    assert any("has the BSSID" in r for r in reasons)
    assert not named(paa, "departure_notice")


def test_a_replayed_notice_is_acked_again_but_not_acted_on_twice(paa):
    n = dn.DepartureNotice(dn.Reason.DISASSOCIATED, 42, bytes.fromhex(STA.replace(":", "")),
                           bytes.fromhex(AP1.replace(":", "")))
    raw = dn.encode_notice(SECRETS["ap1"].encode(), n)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(raw, ("127.0.0.1", paa.departures.port))
        first = s.recv(100)
        s.sendto(raw, ("127.0.0.1", paa.departures.port))
        assert s.recv(100) == first
    assert len(named(paa, "departure_notice")) == 1


def test_the_receive_loop_survives_junk(paa):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for junk in (b"", b"\x01", bytes(62), b"\xff" * 2000):
            s.sendto(junk, ("127.0.0.1", paa.departures.port))
    assert send(paa, notifier(paa)) is True                  # still serving
    assert paa.fsm.state == PaaState.UNAUTHORIZED


def test_a_station_back_at_the_ap_is_not_reported(paa):
    assert send(paa, notifier(paa, gone=lambda sta: False)) is False
    assert paa.fsm.state == PaaState.OPEN and not named(paa, "departure_notice")


def test_departure_action_is_pure():
    n = dn.DepartureNotice(dn.Reason.REASSOCIATED, 1, bytes.fromhex("020000000001"),
                           bytes(6), bytes.fromhex("0200000000a2"))
    ids = {STA: "mn"}
    nets = {bytes.fromhex("0200000000a1"), bytes.fromhex("0200000000a2")}
    assert departure_action(n, nets, ids)[0] is None                 # within the network
    assert departure_action(n, {bytes.fromhex("0200000000a1")}, ids) == (
        "mn", "left the PAA's network")
    assert departure_action(n, nets, {})[0] is None                  # unknown station


def test_the_aps_authenticator_reports_a_station_that_left_and_keeps_its_pmksa():
    """The controller's `sta_disassociated` frame on the AP's authenticator port
    (controller/app.py `_tell_departure`) reaches `on_departure`; the PMKSA stays (PMK
    caching); a frame naming a bad new BSSID is malformed (a ProtocolError the loop counts),
    and a frame for another AP is ignored."""
    from orchestrator.agents import dot1x
    from orchestrator.agents.dot1x import Authenticator, Pmksa
    from orchestrator.protocols import mgmt
    from orchestrator.protocols.errors import ProtocolError

    class IO:
        mac = AP1

        def send(self, *a):
            pass
    seen = []
    auth = Authenticator("wlan0", None, None, lambda sta, ok: "ok", io=IO())
    auth.on_departure = lambda *a: seen.append(a)
    auth.pmksa[STA] = Pmksa(bytes(32), "mpa")

    def frame(msg):
        raw = mgmt.encode(AP1, STA, msg)
        return raw[14:]
    auth.handle_frame(STA, AP1, dot1x.ETH_P_MGMT, frame(mgmt.Mgmt("sta_associated", STA, AP1)))
    assert not auth.gone(STA)
    auth.handle_frame(STA, AP1, dot1x.ETH_P_MGMT, frame(mgmt.Mgmt(
        "sta_disassociated", STA, AP1, 0, "reassociation", {"new_bssid": AP2})))
    assert seen == [(STA, "reassociation", AP2)] and auth.gone(STA) and STA in auth.pmksa
    with pytest.raises(ProtocolError):
        auth.handle_frame(STA, AP1, dot1x.ETH_P_MGMT, frame(mgmt.Mgmt(
            "sta_disassociated", STA, AP1, 0, "reassociation", {"new_bssid": "nope"})))
    auth.handle_frame(STA, AP1, dot1x.ETH_P_MGMT, frame(mgmt.Mgmt(
        "sta_disassociated", STA, AP2, 0, "link_lost")))           # another AP's: ignored
    assert len(seen) == 1


def test_the_departure_constants_are_reported_beside_results():
    """emulation_constants: the AP's notice timer and retries, the PAA's keep time."""
    from orchestrator.agents import departure

    class Agent:
        roles = [agent.AccessPoint.__new__(agent.AccessPoint)]
    Agent.roles[0].config = {"departure_peers": {"10.0.0.5": "s"}, "departure_port": 7015}
    out = agent.agent_constants(["access-point"], Agent)
    assert out["departure_notice_timeout"]["value"] == departure.NOTICE_TIMEOUT * 1e3
    assert out["departure_notice_retries"]["value"] == departure.NOTICE_RETRIES
    Agent.roles[0].config = {"departure_port": 7015, "mpa_sa_keep": 30.0}
    assert agent.agent_constants(["paa"], Agent)["mpa_sa_keep"]["value"] == 30000.0
