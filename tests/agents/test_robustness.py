"""Receive loops survive any input (issue 13): each is fed what once stopped it, counts a
`malformed` event, and still does its job afterwards. No root: the authenticator gets its
frames from a fake link, the UDP servers run on loopback.

The root test that does the same through a deployed testbed (a real AP authenticator, frames
on the emulated wire, then a real 802.1X authentication) is
tests/integration/test_hostile_frames.py.
"""
from __future__ import annotations

import json
import queue
import socket
import time

from orchestrator.agents import dot1x, health
from orchestrator.agents.control import AgentClient, ControlServer, MAX_REQUEST
from orchestrator.agents.discovery import InformationServer, query
from orchestrator.agents.pana import Paa
from orchestrator.agents.radius_client import RadiusClient, RadiusReply
from orchestrator.agents.sip_ua import SipUserAgent
from orchestrator.agents.udpserver import UdpServer
from orchestrator.events import EventLog
from orchestrator.protocols import eap, eapol, pana
from orchestrator.protocols.errors import ProtocolError

LO = "127.0.0.1"
AP, STA = "02:00:00:00:00:aa", "02:00:00:00:00:01"


def events(log: EventLog, name: str) -> list[dict]:
    lines = log.path.read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == name]


def wait_until(cond, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


# -- the AP's authenticator --------------------------------------------------------------------
class FakeLink:
    """FrameIO's interface: frames in from a queue, frames out into a list."""

    def __init__(self, mac: str = AP):
        self.mac, self.inbox, self.sent = mac, queue.Queue(), []

    def recv(self, timeout: float):
        try:
            return self.inbox.get(timeout=timeout)
        except queue.Empty:
            return None

    def send(self, dst: str, ethertype: int, pdu: bytes) -> None:
        self.sent.append((dst, ethertype, pdu))

    def put(self, src: str, ethertype: int, pdu: bytes, dst: str = AP) -> None:
        self.inbox.put((src, dst, ethertype, pdu))


class FakeRadius:
    """Access-Challenge to every EAP Response, Access-Accept (with keys) to the third."""

    def __init__(self):
        self.requests: list[tuple[str, bytes]] = []

    def exchange(self, user, eap_message, state, **_kw) -> RadiusReply:
        self.requests.append((user, eap_message))
        ident = eap.EapPacket.decode(eap_message).identifier
        if len(self.requests) % 3:
            return RadiusReply("challenge", eap.request(ident + 1, 13, b"\x20").encode(), b"s")
        return RadiusReply("accept", eap.success(ident).encode(), msk=bytes(range(64)))


def eapol_pdu(kind: int, body: bytes = b"") -> bytes:
    return eapol.EapolFrame(2, kind, body).encode()


def mgmt_body(text: bytes) -> bytes:
    return text


# Frames that stopped the authenticator before (issue 13), then fuzz-like garbage.
HOSTILE = [
    (dot1x.ETH_P_EAPOL, eapol_pdu(eapol.PacketType.START)),
    (dot1x.ETH_P_EAPOL, eapol_pdu(eapol.PacketType.EAP_PACKET, bytes([2, 1, 0, 7, 1]) + b"\xff\xfe")),
    (dot1x.ETH_P_MGMT, json.dumps({"type": "sta_associated", "sta": [STA], "bssid": AP}).encode()),
    (dot1x.ETH_P_MGMT, json.dumps({"type": "sta_associated", "sta": "zz:00", "bssid": AP}).encode()),
    (dot1x.ETH_P_MGMT, b'{"type": "sta_associated", "sta": ' + b"[" * 30000 + b"]" * 30000 + b"}"),
    (dot1x.ETH_P_MGMT, json.dumps({"type": "sta_associated", "sta": STA, "seq": True}).encode()),
    (dot1x.ETH_P_MGMT, b"\xff\x00not json"),
    (dot1x.ETH_P_EAPOL, b""),
    (dot1x.ETH_P_EAPOL, b"\x02\x03\x00\x05\x02"),                    # a truncated EAPOL-Key
    (dot1x.ETH_P_PREAUTH, eapol_pdu(eapol.PacketType.EAP_PACKET, b"\x02\x01\xff\xff")),
]
MALFORMED = 8          # all but the EAPOL-Start and the EAP packet without a session


def test_authenticator_survives_every_hostile_frame_then_authenticates(tmp_path):
    log = EventLog(tmp_path / "ap.jsonl", "ap", "access-point")
    link, radius, ports = FakeLink(), FakeRadius(), []
    auth = dot1x.Authenticator("fake0", radius, log, lambda sta, ok: ports.append((sta, ok))
                               or "ok", io=link)
    thread = auth.start()
    try:
        for et, pdu in HOSTILE:
            link.put(STA, et, pdu)
        assert wait_until(lambda: auth.loop.malformed == MALFORMED)
        assert thread.is_alive() and auth.loop.alive
        # after the non-UTF-8 identity the session is not stuck "busy": a proper EAP
        # exchange goes through the same session to the AAA server and ends in a 4-way
        # handshake (message 1 sent to the station)
        link.sent.clear()
        link.put(STA, dot1x.ETH_P_EAPOL, eapol_pdu(eapol.PacketType.START))
        for sent in (1, 2, 3):          # Identity request, then two challenges: answer each
            assert wait_until(lambda: len(link.sent) == sent)
            req = eap.EapPacket.decode(eapol.EapolFrame.decode(link.sent[-1][2]).body)
            answer = (eap.identity_response(req.identifier, "mn@h.example") if sent == 1
                      else eap.response(req.identifier, 13, b"\x00"))
            link.put(STA, dot1x.ETH_P_EAPOL, eapol_pdu(eapol.PacketType.EAP_PACKET,
                                                        answer.encode()))
        assert wait_until(lambda: any(r["event"] == "fourway_start" for r in
                                      map(json.loads, log.path.read_text().splitlines())))
        assert radius.requests[0][0] == "mn@h.example"
        assert STA in auth.pmksa
        malformed = events(log, "malformed")
        assert malformed and all(e["attrs"]["loop"] == "authenticator" for e in malformed)
        assert {"RecursionError", "TypeError"}.isdisjoint(auth.loop.errors)
        assert health.report()["ok"]
    finally:
        auth.stop()
        thread.join(2)
    assert not thread.is_alive()


def test_authenticator_holds_a_bounded_number_of_half_open_sessions(tmp_path, monkeypatch):
    log = EventLog(tmp_path / "ap.jsonl", "ap", "access-point")
    link = FakeLink()
    auth = dot1x.Authenticator("fake0", None, log, lambda *a: "ok", io=link)
    monkeypatch.setattr(dot1x, "MAX_EAP_SESSIONS", 8)
    for i in range(20):                 # EAPOL-Starts over the DS from 20 forged MACs
        auth.handle_frame(f"02:00:00:00:01:{i:02x}", AP, dot1x.ETH_P_PREAUTH,
                          eapol_pdu(eapol.PacketType.START))
    assert len(auth.sessions) == 8
    assert len(events(log, "eap_failed")) == 12
    monkeypatch.setattr(dot1x, "EAP_SESSION_TIMEOUT", 0.0)
    auth._expire_sessions()
    assert auth.sessions == {}


def test_a_dead_loop_is_reported_by_health(tmp_path):
    log = EventLog(tmp_path / "x.jsonl", "x", "x")
    loop = health.Loop("doomed", log)

    def body():
        raise MemoryError("no more")
    loop.start(body).join(2)
    try:
        report = health.report()
        assert not report["ok"] and "doomed" in report["dead"]
        assert "MemoryError" in report["loops"]["doomed"]["died"]
        assert events(log, "loop_died")[0]["attrs"]["loop"] == "doomed"
    finally:
        loop.stop()
    assert "doomed" not in health.report()["loops"]


def test_malformed_events_are_rate_limited_but_counted(tmp_path):
    log = EventLog(tmp_path / "x.jsonl", "x", "x")
    loop = health.Loop("flood", log)
    try:
        for _ in range(500):
            loop.guard(lambda: (_ for _ in ()).throw(ProtocolError("bad")))
        assert loop.malformed == 500
        assert len(events(log, "malformed")) <= 2 * health.LOG_PER_SECOND
    finally:
        loop.stop()


# -- UDP servers -------------------------------------------------------------------------------
class Fragile(UdpServer):
    name = "fragile"

    def __init__(self, log):
        super().__init__(LO, 0, log=log)
        self.answered = 0

    def datagram(self, data, peer, ancillary):
        if data == b"value":
            raise ValueError("a bug")
        if data == b"key":
            {}[data]
        if data == b"deep":
            json.loads(b"[" * 100000)
        self.sock.sendto(b"ok", peer)
        self.answered += 1


def test_every_udp_server_survives_any_exception_from_its_handler(tmp_path):
    log = EventLog(tmp_path / "s.jsonl", "s", "s")
    server = Fragile(log).start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            for data in (b"value", b"key", b"deep"):
                s.sendto(data, (LO, server.port))
            s.sendto(b"hello", (LO, server.port))
            assert s.recv(16) == b"ok"
        assert server.loop.malformed == 3 and server.loop.alive
        assert set(server.loop.errors) == {"ValueError", "KeyError", "RecursionError"}
    finally:
        server.stop()


def test_information_server_survives_deep_json_and_oversized_answers(tmp_path):
    log = EventLog(tmp_path / "is.jsonl", "is", "information-server")
    networks = [{"name": f"net-{i}", "subnet": f"10.{i // 250}.{i % 250}.0/24",
                 "blob": "x" * 100} for i in range(1000)]           # > 64 KiB as an answer
    server = InformationServer(LO, 0, networks, log).start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            s.sendto(b"[" * 60000, (LO, server.port))
            s.sendto(json.dumps({"type": "query", "id": "x" * 5000}).encode(), (LO, server.port))
            s.sendto(json.dumps({"type": "query", "id": 1, "address": "192.168.0.1"}).encode(),
                     (LO, server.port))
            reply = json.loads(s.recv(65535))
        assert reply["type"] == "error" and "does not fit" in reply["reason"]
        server.networks = networks[:2]
        assert [c["name"] for c in query((LO, server.port), "mn", "192.168.0.1")["ctns"]] == \
            ["net-0", "net-1"]
        assert server.loop.malformed == 2 and server.loop.alive
    finally:
        server.stop()


def test_sip_user_agent_survives_a_header_past_the_int_string_limit(tmp_path):
    ua = SipUserAgent(LO, 0, user="cn")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            bad = (b"OPTIONS sip:cn@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK1\r\n"
                   b"From: <sip:a@h>;tag=1\r\nTo: <sip:cn@h>\r\nCall-ID: x\r\nCSeq: "
                   + b"9" * 5000 + b" OPTIONS\r\nContent-Length: 0\r\n\r\n")
            s.sendto(bad, (LO, ua.port))
            s.sendto(bad.replace(b"9" * 5000, b"1").replace(b"127.0.0.1:9", b"127.0.0.1:%d"
                                                             % s.getsockname()[1]), (LO, ua.port))
            ok = s.recv(65535)
        assert ok.startswith(b"SIP/2.0 200")
        assert ua.malformed == 1 and ua.loop.alive
    finally:
        ua.close()


# -- the PAA -----------------------------------------------------------------------------------
class SlowRadius:
    def __init__(self, delay: float):
        self.delay = delay

    def exchange(self, *a, **kw):
        time.sleep(self.delay)
        return RadiusReply("timeout", reason="slow")


def _pci() -> bytes:
    return pana.PanaMessage(pana.MessageType.CLIENT_INITIATION).encode()


def test_paa_caps_half_open_sessions_per_peer_and_in_all(tmp_path):
    log = EventLog(tmp_path / "paa.jsonl", "paa", "paa")
    paa = Paa(LO, 0, SlowRadius(0), log).start()
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(300)]
    try:
        for i, s in enumerate(socks):   # 300 PCIs, each from its own source port
            s.sendto(_pci(), (LO, paa.port))
            if i % 20 == 19:            # not faster than the PAA reads (no socket overflow)
                wait_until(lambda: len(events(log, "pana_dropped")) >= i - 4)
        assert wait_until(lambda: len(events(log, "pana_dropped")) == 300 - 4)
        assert len(paa.sessions) == 4
        assert "not established yet" in events(log, "pana_dropped")[-1]["attrs"]["reason"]
    finally:
        for s in socks:
            s.close()
        paa.stop()


def test_paa_ends_a_session_whose_backend_never_answers(tmp_path, monkeypatch):
    from orchestrator.agents import pana as agent_pana
    from orchestrator.protocols.pana_fsm import PaaState
    monkeypatch.setattr(agent_pana, "BACKEND_TIMEOUT", 0.2)
    log = EventLog(tmp_path / "paa.jsonl", "paa", "paa")
    paa = Paa(LO, 0, SlowRadius(30), log).start()
    try:
        paa._on_pci(_pci(), (LO, 9))
        entry = next(iter(paa.sessions.values()))
        with entry.lock:              # as if the PaC's EAP Response had been relayed
            entry.fsm.state = PaaState.WAIT_BACKEND
            entry.backend_since = time.monotonic()
        assert wait_until(lambda: any("no answer from the AAA server" in (e["attrs"].get("reason") or "")
                                      for e in events(log, "pana_auth_failed")))
    finally:
        paa.stop()


def test_radius_client_turns_what_pyrad_refuses_into_an_error_reply():
    client = RadiusClient(LO, 9, "secret", "nas")
    reply = client.exchange("u" * 300 + "@realm", eap.identity_response(1, "u").encode(), None)
    assert reply.code == "error" and "RADIUS" in reply.reason


# -- the control channel -----------------------------------------------------------------------
def test_control_channel_answers_hostile_requests_and_keeps_serving(tmp_path):
    server = ControlServer(str(tmp_path / "c.sock"), lambda cmd, args, rid: {"cmd": cmd}).start()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(tmp_path / "c.sock"))
            fh = s.makefile("rwb")
            fh.write(b'{"cmd": "x", "args": ' + b"[" * 100000 + b"\n")
            fh.flush()
            assert json.loads(fh.readline())["error_type"] == "BadRequest"
            fh.write(b'{"id": "1", "cmd": "' + b"x" * (MAX_REQUEST + 10) + b'"}\n')
            fh.flush()
            assert "longer than" in json.loads(fh.readline())["error"]
        assert AgentClient(str(tmp_path / "c.sock")).call("hello") == {"cmd": "hello"}
        assert server.loop.malformed == 1 and server.loop.alive
    finally:
        server.close()
