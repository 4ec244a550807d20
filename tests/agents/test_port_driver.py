"""The AP opens a station's controlled port itself, after message 2 and before message 3
(agents/port_driver.py, issue 11). No root: the authenticator runs on a fake link against a
real 4-way supplicant; the port driver writes to a fake OpenFlow connection."""
from __future__ import annotations

import os

from orchestrator.agents import dot1x
from orchestrator.agents.port_driver import PortDriver
from orchestrator.controller import ofdirect, policy
from orchestrator.events import EventLog
from orchestrator.protocols import eapol
from tests.agents.test_robustness import AP, STA, FakeLink, events

PMK = bytes(range(32))


def _handshake(tmp_path, tamper_msg4: bool = False):
    """Run the 4-way between a real supplicant and the authenticator; returns the ordered
    record of what the AP did ('port open', 'port close', 'sent msgN') and the log."""
    log = EventLog(tmp_path / "ap.jsonl", "ap", "access-point")
    link = FakeLink()
    trail: list[str] = []

    class Recorder(FakeLink):
        def send(self, dst, ethertype, pdu):
            key = eapol.EapolKey.decode_body(eapol.EapolFrame.decode(pdu).body)
            number = 3 if key.key_info & eapol.KI_INSTALL else 1
            trail.append(f"sent msg{number}")
            link.send(dst, ethertype, pdu)

    def port_control(sta, authorized):
        trail.append(f"port {'open' if authorized else 'close'} {sta}")
        return "ok"
    auth = dot1x.Authenticator("fake0", None, log, port_control, io=Recorder(),
                               stations={STA: "walker"})
    auth.install_pmk(STA, PMK, "mpa")
    sup = eapol.Supplicant4Way(PMK, dot1x.mac_bytes(AP), dot1x.mac_bytes(STA))
    auth._start_four_way(STA, auth.pmksa[STA])
    for _ in range(2):                       # message 1 -> 2, message 3 -> 4
        frames, _ = sup.receive(link.sent[-1][2])
        [reply] = frames
        if tamper_msg4 and sup.state == eapol.HandshakeState.DONE:
            tampered = bytearray(reply)          # a bad MIC on message 4: EAPOL header (4)
            tampered[4 + 77] ^= 0xFF             # + the key descriptor's fields before it (77)
            reply = bytes(tampered)
        auth.handle_frame(STA, AP, dot1x.ETH_P_EAPOL, reply)
    return trail, log, auth


def test_port_opens_after_message_2_before_message_3(tmp_path):
    trail, log, auth = _handshake(tmp_path)
    assert trail == ["sent msg1", f"port open {STA}", "sent msg3"]
    [opened] = events(log, "port_opened")
    assert opened["attrs"]["mn"] == "walker" and opened["attrs"]["status"] == "ok"
    [done] = events(log, "fourway_done")
    assert opened["mono_ns"] < done["mono_ns"]
    assert STA not in auth.handshakes


def test_a_failed_message_4_closes_the_port_again(tmp_path):
    trail, log, _ = _handshake(tmp_path, tamper_msg4=True)
    assert trail == ["sent msg1", f"port open {STA}", "sent msg3", f"port close {STA}"]
    assert events(log, "port_closed") and not events(log, "fourway_done")


def test_no_message_3_when_the_port_does_not_open(tmp_path):
    log = EventLog(tmp_path / "ap.jsonl", "ap", "access-point")
    link = FakeLink()
    auth = dot1x.Authenticator("fake0", None, log, lambda sta, ok: "timeout", io=link)
    auth.install_pmk(STA, PMK, "mpa")
    sup = eapol.Supplicant4Way(PMK, dot1x.mac_bytes(AP), dot1x.mac_bytes(STA))
    auth._start_four_way(STA, auth.pmksa[STA])
    [msg2], _ = sup.receive(link.sent[-1][2])
    auth.handle_frame(STA, AP, dot1x.ETH_P_EAPOL, msg2)
    assert len(link.sent) == 1                                   # message 1 only
    assert "port did not open" in events(log, "fourway_failed")[0]["attrs"]["reason"]


class FakeConnection:
    def __init__(self):
        self.batches: list[list[bytes]] = []

    def transact(self, messages):
        self.batches.append(list(messages))

    def close(self):
        pass


class FakeSync:
    spec = "purge"

    def __init__(self, trail):
        self.trail = trail

    def __call__(self):
        self.trail.append("sync")
        return 0.0


def _driver():
    trail: list[str] = []
    conn = FakeConnection()
    config = {"bridge": "x-cell", "ap": {"name": "cell", "index": 3, "bssid": AP},
              "stations": {STA.upper(): 7, "02:00:00:00:00:02": 8}}
    return PortDriver(config, connection=conn, sync=FakeSync(trail)), conn, trail


def test_driver_installs_the_controllers_port_flows_then_syncs_the_datapath():
    driver, conn, trail = _driver()
    assert driver.knows(STA) and not driver.knows("02:00:00:00:00:99")
    driver.open(STA)
    sta = policy.StaConf(STA, 7, STA, 0)
    ap = policy.ApConf("cell", 3, AP, 0)
    want = policy.port_flows(sta, ap) + policy.ap_multicast_flows(ap, True)
    assert conn.batches == [[ofdirect.encode_flow(f) for f in want]]
    assert trail == ["sync"]                       # after the barrier reply, once
    # the cookies are the controller's for station 7: its departure removes them
    assert {f.cookie for f in policy.port_flows(sta, ap)} == {policy.COOKIE_AUTH | 7,
                                                              policy.COOKIE_TO_STA_AUTH | 7}


def test_driver_close_removes_the_port_flows_only():
    driver, conn, trail = _driver()
    driver.close(STA)
    assert conn.batches == [[ofdirect.delete_cookie(0, policy.COOKIE_AUTH | 7),
                             ofdirect.delete_cookie(0, policy.COOKIE_TO_STA_AUTH | 7)]]
    # the association's EAPOL path (COOKIE_TO_STA) is not among them
    assert ofdirect.delete_cookie(0, policy.COOKIE_TO_STA | 7) not in conn.batches[0]
    assert trail == ["sync"]


def test_driver_constants_say_where_the_port_opens():
    driver, _, _ = _driver()
    c = driver.constants()
    assert c["port_control"]["value"].startswith("AP-local")
    assert "message 2" in c["port_opens_at"]["value"]
    assert os.path.basename(c["port_opens_at"]["source"]) == "port_driver.py"
