"""The mobile's PPPoE client (agents/cellular.py) when the access concentrator's first LCP
Configure-Request overtakes its PADS (two flows through the emulated switch, each with its
own upcall; seen on the deployed C.5.2 topology once the frames were delayed): the request is
kept until the PADS names the session, then answered at once instead of after the AC's 3 s
restart timer. A scripted link stands in for the AF_PACKET sockets (no root)."""
import time

from orchestrator.agents import cellular
from orchestrator.protocols import ppp, ppp_fsm

MN, AC = bytes.fromhex("02aabbccdd01"), bytes.fromhex("02aabbccdd02")


class ScriptedLink:
    """PacketLink's interface; answers with the AC's discovery and, after the PADR, delivers
    the AC's LCP Configure-Request before its PADS."""

    def __init__(self, iface):
        self.iface, self.mac = iface, MN
        self.sent, self.received, self.queue = [], 0, []
        self.ac = ppp_fsm.AccessConcentrator(AC, b"pdsn")
        self.sent_at = {}

    def send(self, frame):
        self.sent.append((time.perf_counter(), frame))
        out = self.ac.receive(frame, time.perf_counter())
        pads = [f for f in out.frames if ppp.decode_frame(f).packet.code == ppp.PADS]
        if pads:
            sid = ppp.decode_frame(pads[0]).packet.session_id
            request = ppp.ControlPacket.configure(ppp.LcpCode.CONFIGURE_REQUEST, 7, ())
            self.queue.append(ppp_fsm.session_frame(MN, AC, sid, ppp.PROTO_LCP, request.encode()))
        self.queue += out.frames

    def recv(self, timeout, extra=()):
        if self.queue:
            return self.queue.pop(0), time.perf_counter_ns(), []
        time.sleep(min(max(timeout or 0, 0), 0.05))
        return None, time.perf_counter_ns(), []

    def close(self):
        pass


def test_an_lcp_request_before_the_pads_is_answered_once_the_session_exists(monkeypatch):
    monkeypatch.setattr(cellular, "PacketLink", ScriptedLink)
    client = cellular.CellularClient("cdma0", "mn@home.example", "secret", configure=False)
    t0 = time.perf_counter()
    client.establish(timeout=0.5)            # no CHAP from this AC: it ends at the timeout
    acks = [(t, f) for t, f in client.link.sent if f[12:14] == b"\x88\x64"
            and ppp.decode_frame(f).packet.protocol == ppp.PROTO_LCP
            and ppp.ControlPacket.decode(ppp.decode_frame(f).packet.information).code
            == ppp.LcpCode.CONFIGURE_ACK]
    assert acks, "the early Configure-Request was never acknowledged"
    t_ack, frame = acks[0]
    assert ppp.ControlPacket.decode(ppp.decode_frame(frame).packet.information).identifier == 7
    assert t_ack - t0 < 0.5                  # answered within the set-up, not by a retry
    assert client.counters.dropped == 0
