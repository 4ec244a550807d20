"""Preparations the handover overtook end at once (agents/overtaken.py, RFC 6252 C.6): the
PaC's pre-authentication from a network the MN has left, on loopback with a PAA that never
answers (no root, no certificates: the exchange never gets to EAP-TLS)."""
import socket
import threading

from orchestrator.agents.overtaken import Departures, Overtaken
from orchestrator.agents.pana import PaC

WAIT = 10.0          # s: only ever reached when the code under test is wrong


def test_a_pre_authentication_ends_when_the_mn_leaves_its_network(tmp_path):
    paa = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    paa.bind(("127.0.0.1", 0))                      # takes the PCI, never answers
    pac = PaC("mn@home.example", "/nonexistent", "/nonexistent", "/nonexistent", "127.0.0.1",
              paa.getsockname()[1])
    overtaken, out = Overtaken(), {}
    t = threading.Thread(target=lambda: out.update(pac.pre_authenticate(
        60.0, overtaken=overtaken)), daemon=True)
    try:
        t.start()
        paa.settimeout(WAIT)
        paa.recvfrom(4096)                          # the PCI left
        overtaken.overtake("overtaken by the handover to net-a (the MN left net-b)")
        t.join(WAIT)
        assert not t.is_alive()                     # ended within WAIT, not at its 60 s
    finally:
        paa.close()
        pac.close()
    assert (out["status"], out["reason"], out["msk"]) == (
        "overtaken", "overtaken by the handover to net-a (the MN left net-b)", None)


def test_departures_overtake_only_what_started_before():
    d = Departures()
    before = d.current
    d.left("left net-b")
    after = d.current
    assert before.is_set() and before.reason == "left net-b"
    assert not after.is_set() and after is not before
    assert before.slice(3.0) == after.slice(3.0) <= 0.05
