"""Message 1 of the 4-way handshake is sent again when message 2 does not come (hostapd's
dot11RSNAConfigPairwiseUpdateTimeout), from the shared timer thread, then given up."""
from orchestrator.agents import dot1x
from orchestrator.events import EventLog
from tests.agents.test_robustness import STA, FakeLink, events, wait_until


def test_message_1_is_retransmitted_then_the_handshake_given_up(tmp_path, monkeypatch):
    monkeypatch.setattr(dot1x, "MSG1_TIMEOUT", 0.02)
    monkeypatch.setattr(dot1x, "MSG1_TIMEOUT_SUBSEQ", 0.03)
    monkeypatch.setattr(dot1x, "MSG1_RETRIES", 2)
    log = EventLog(tmp_path / "ap.jsonl", "ap", "access-point")
    link = FakeLink()
    auth = dot1x.Authenticator("fake0", None, log, lambda *a: "ok", io=link)
    auth.install_pmk(STA, bytes(32), "mpa")
    auth._start_four_way(STA, auth.pmksa[STA])
    assert wait_until(lambda: events(log, "fourway_failed"), timeout=3)
    assert len(link.sent) == 3                      # message 1 and its two retransmissions
    assert len({pdu for _, _, pdu in link.sent}) == 1
    assert [e["attrs"]["attempt"] for e in events(log, "fourway_retransmitted")] == [1, 2]
    assert STA not in auth.handshakes
    # the event of the start carries the time message 1 was built, before it was written
    [start] = events(log, "fourway_start")
    assert start["mono_ns"] <= events(log, "fourway_retransmitted")[0]["mono_ns"]
