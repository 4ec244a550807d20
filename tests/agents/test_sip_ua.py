"""SIP mobility on loopback (no root): call set-up, the CN's 16 ms RTP stream, the MN's
binding update (re-INVITE) from another address, the stream moving there; interoperability
with sipp; tshark dissecting our SIP and RTP.

All of 127/8 is loopback, so 127.0.0.2 plays the MN's nCoA: the MN's UA binds it, sends the
re-INVITE from it, and the receiver (one socket on 0.0.0.0, IP_PKTINFO) logs which address
each packet arrived on.
"""
from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from orchestrator.agents.sip_ua import CorrespondentNode, MobileNodeMedia, SipError, SipUserAgent
from orchestrator.events import EventLog, phase_durations, read_events, vocabulary_problems
from orchestrator.experiment import media
from orchestrator.protocols import sip

LO, NCOA = "127.0.0.1", "127.0.0.2"


def free_udp_port(address: str = LO) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def _logs(tmp_path: Path) -> tuple[EventLog, EventLog]:
    return (EventLog(tmp_path / "events" / "cn.jsonl", "cn", "correspondent_node"),
            EventLog(tmp_path / "events" / "mn.jsonl", "mn", "mobile_node"))


def _run_handover(tmp_path: Path, before: float = 0.5, after: float = 0.5, on_ready=None):
    cn_log, mn_log = _logs(tmp_path)
    cn = CorrespondentNode(LO, 0, 0, cn_log, interval=0.016, send_log=tmp_path / "rtp_sent.jsonl")
    mn = MobileNodeMedia(LO, 0, 0, mn_log, tmp_path / "rtp.jsonl")
    try:
        if on_ready is not None:
            on_ready(cn, mn)
        call = mn.call((LO, cn.ua.port), timeout=5)
        time.sleep(before)
        update = mn.binding_update(NCOA, timeout=5)
        time.sleep(after)
        mn.hangup()
        time.sleep(0.1)                            # the last packets in flight
        sent = cn.sender.sent
    finally:
        mn.close()
        cn.close()
        for log in (cn_log, mn_log):
            log.close()
    return call, update, sent, cn, mn


def test_binding_update_moves_the_stream(tmp_path):
    call, update, sent, cn, mn = _run_handover(tmp_path)
    media_port = mn.receiver.address[1]
    assert call["state"] == "confirmed"
    assert call["remote_media"] == f"{LO}:{cn.sender.address[1]}"
    assert update["source"] == f"{NCOA}:{mn.ua.port}" and update["media"] == f"{NCOA}:{media_port}"

    packets = media.read_receiver_log(tmp_path / "rtp.jsonl")
    dsts = [p["dst"] for p in packets]
    first_new = dsts.index(f"{NCOA}:{media_port}")
    assert set(dsts[:first_new]) == {f"{LO}:{media_port}"}          # old address first ...
    assert set(dsts[first_new:]) == {f"{NCOA}:{media_port}"}        # ... then only the new one
    assert 20 <= first_new and 20 <= len(packets) - first_new      # ~0.5 s each at 16 ms
    assert len(packets) == sent                                      # nothing lost on loopback
    assert {p["src"] for p in packets} == {f"{LO}:{cn.sender.address[1]}"}

    events = read_events(tmp_path)
    assert vocabulary_problems([e for e in events if e["phase"] == "binding-update"]) == []
    by = {(e["node"], e["event"]): e for e in events}
    start, done = by[("mn", "binding_update_start")], by[("mn", "binding_update_done")]
    received = by[("cn", "binding_update_received")]
    assert start["mono_ns"] < received["mono_ns"] < done["mono_ns"]
    assert start["attrs"]["ncoa"] == NCOA and start["attrs"]["source"] == update["source"]
    assert received["attrs"]["media_to"] == f"{NCOA}:{media_port}"
    assert received["attrs"]["mn"] == "mn"
    assert ("mn", "call_established") in by and ("cn", "call_answered") in by
    assert by[("cn", "call_ended")]["attrs"]["by"] == "remote"
    tbu = [r for r in phase_durations(events) if r["interval"] == "Tbu"]
    assert len(tbu) == 1 and tbu[0]["status"] == "ok" and tbu[0]["duration_ms"] > 0   # no timing bound

    # the CN's send log: the stream changed destination between two consecutive packets
    sent_log = [json.loads(line) for line in (tmp_path / "rtp_sent.jsonl").read_text().splitlines()]
    moved = next(i for i, r in enumerate(sent_log) if r["dst"].startswith(NCOA))
    assert sent_log[moved]["seq"] == packets[first_new]["seq"]

    # no layer-2 switch on loopback: the "handover" is the instant the re-INVITE leaves
    t = start["mono_ns"]
    m = media.media_metrics(packets, media.Handover(t, t, NCOA))
    assert (m.packets_lost, m.duplicates) == (0, 0)
    assert 0 < m.l3_handoff_ms < 200                      # RTT + at most one 16 ms interval
    assert 12 < m.inter_packet_interval_ms < 20
    assert m.jitter_max_ms < 16


def test_glare_is_refused_with_491(tmp_path):
    """A re-INVITE that meets one of the peer's own pending re-INVITEs gets 491 (s14.2), and
    the binding update is reported failed; the next one succeeds."""
    cn_log, mn_log = _logs(tmp_path)
    a = SipUserAgent(LO, 0, user="cn", media=(LO, 5004), log=cn_log)
    b = SipUserAgent(LO, 0, user="mn", media=(LO, 4000), log=mn_log)
    try:
        call = b.call((LO, a.port), timeout=5)
        assert a.calls[call.call_id].state in ("calling", "confirmed")
        a.calls[call.call_id].inviting = True                # as if A had a re-INVITE out
        with pytest.raises(SipError, match="491"):
            b.reinvite(NCOA, timeout=5)
        a.calls[call.call_id].inviting = False
        assert b.reinvite(NCOA, timeout=5)["ncoa"] == NCOA
        events = [json.loads(line) for line in (tmp_path / "events" / "mn.jsonl").read_text().splitlines()]
        assert [e["attrs"].get("status") for e in events if e["event"] == "binding_update_failed"] == [491]
        b.bye()
        assert a.calls[call.call_id].ended.wait(2)
    finally:
        a.close()
        b.close()


# ---- sipp (Debian sip-tester) interoperability ----

needs_sipp = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) not installed")


def _sipp(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(["sipp", *args, "-i", LO, "-m", "1", "-nostdin", "-timeout", "20s",
                             "-timeout_error", "-mp", str(free_udp_port())],
                            cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen, timeout: float = 30) -> int:
    try:
        return proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()                                   # by PID (Popen.kill)
            proc.wait(5)


@needs_sipp
def test_our_uac_calls_sipp_uas(tmp_path):
    port = free_udp_port()
    proc = _sipp(["-sn", "uas", "-p", str(port)], tmp_path)
    ua = None
    try:
        time.sleep(0.3)                                   # sipp binds its socket
        assert proc.poll() is None, proc.stderr.read().decode()
        ua = SipUserAgent(LO, 0, user="mn", media=(LO, 4000))
        call = ua.call((LO, port), callee="service", timeout=5)
        assert call.remote_sdp is not None and call.remote_sdp.formats == (0,)
        assert ua.bye(timeout=5)["status"] == 200
    finally:
        if ua is not None:
            ua.close()
        rc = _finish(proc)
    assert rc == 0, proc.stderr.read().decode()[-2000:]


@needs_sipp
def test_sipp_uac_calls_our_uas(tmp_path):
    cn_log, _ = _logs(tmp_path)
    ua = SipUserAgent(LO, 0, user="cn", media=(LO, 5004), log=cn_log)
    try:
        proc = _sipp(["-sn", "uac", f"{LO}:{ua.port}", "-p", str(free_udp_port())], tmp_path)
        rc = _finish(proc)
        assert rc == 0, proc.stderr.read().decode()[-2000:]
        (call,) = ua.calls.values()
        assert call.state == "terminated" and call.remote_media[0] == LO
    finally:
        ua.close()
        cn_log.close()
    events = [json.loads(line)["event"] for line in
              (tmp_path / "events" / "cn.jsonl").read_text().splitlines()]
    assert events == ["call_answered", "call_ended"]


# ---- tshark: our SIP and RTP dissect without malformed packets ----

@pytest.mark.skipif(not (shutil.which("tshark") and shutil.which("dumpcap")),
                    reason="tshark/dumpcap not installed")
def test_tshark_dissects_sip_and_rtp(tmp_path):
    pcap = tmp_path / "sip-rtp.pcapng"
    capture: dict = {}

    def start_capture(cn, mn):
        ports = sorted({cn.ua.port, mn.ua.port, cn.sender.address[1], mn.receiver.address[1]})
        capture["ports"] = dict(sip=(cn.ua.port, mn.ua.port), rtp=mn.receiver.address[1])
        filt = "udp and (" + " or ".join(f"port {p}" for p in ports) + ")"
        proc = subprocess.Popen(["dumpcap", "-q", "-i", "lo", "-f", filt, "-w", str(pcap)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        capture["proc"] = proc
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            if pcap.exists() and pcap.stat().st_size > 0:    # the file header: capturing
                break
            time.sleep(0.05)
        if proc.poll() is not None:
            pytest.skip(f"dumpcap cannot capture on lo: {proc.stderr.read().decode().strip()}")
        time.sleep(0.3)

    try:
        _run_handover(tmp_path, before=0.2, after=0.2, on_ready=start_capture)
        time.sleep(0.2)
    finally:
        proc = capture.get("proc")
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)                  # by PID: dumpcap flushes and exits
            proc.wait(10)
    sip_a, sip_b = capture["ports"]["sip"]
    decode = ["-d", f"udp.port=={sip_a},sip", "-d", f"udp.port=={sip_b},sip",
              "-d", f"udp.port=={capture['ports']['rtp']},rtp"]

    def tshark(*args: str) -> list[str]:
        out = subprocess.run(["tshark", "-n", "-r", str(pcap), *decode, *args],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return [line for line in out.stdout.splitlines() if line.strip()]

    assert tshark("-Y", "_ws.malformed || _ws.expert.severity >= error") == []
    sip_lines = tshark("-Y", "sip", "-T", "fields", "-e", "sip.Method", "-e", "sip.Status-Code",
                       "-e", "sip.CSeq.method")
    methods = [line.split("\t") for line in sip_lines]
    assert [m[0] for m in methods if m[0]] == ["INVITE", "ACK", "INVITE", "ACK", "BYE"]
    assert sorted(m[1] for m in methods if m[1]) == ["100", "200", "200", "200"]
    rtp_lines = tshark("-Y", "rtp", "-T", "fields", "-e", "rtp.seq", "-e", "rtp.p_type",
                       "-e", "ip.dst")
    assert len(rtp_lines) >= 20
    assert {line.split("\t")[1] for line in rtp_lines} == {"0"}
    assert {line.split("\t")[2] for line in rtp_lines} == {LO, NCOA}
    sdp_c = tshark("-Y", "sdp", "-T", "fields", "-e", "sdp.connection_info.address")
    assert NCOA in sdp_c


def _raw_invite(port: int, to_tag: str | None = None, method: str = "INVITE") -> bytes:
    to = sip.NameAddr(sip.SipUri(LO, port, "cn"))
    msg = sip.request(
        method, sip.SipUri(LO, port, "cn"),
        via=sip.Via(LO, 9, (("branch", "z9hG4bKraw1"),)),
        from_=sip.NameAddr(sip.SipUri(LO, 9, "x"), params=(("tag", "xt"),)),
        to=to.with_tag(to_tag) if to_tag else to, call_id="raw@127.0.0.1", cseq=1,
        contact=sip.NameAddr(sip.SipUri(LO, 9, "x")),
        body=sip.sdp_encode(sip.SessionDescription(LO, 4000)) if method == "INVITE" else b"")
    return sip.encode(msg)


def test_server_side_retransmissions_and_unknown_dialogs():
    """A retransmitted INVITE gets the same 200 OK and makes no second call (s17.2.1); a
    request in an unknown dialog gets 481 (s12.2.2); OPTIONS 200; garbage is dropped."""
    ua = SipUserAgent(LO, 0, user="cn", media=(LO, 5004), t1=0.05)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind((LO, 0))
    peer.settimeout(2)
    port = peer.getsockname()[1]
    try:
        def exchange(data: bytes, answers: int) -> list[sip.SipMessage]:
            peer.sendto(data.replace(b"127.0.0.1:9", b"127.0.0.1:%d" % port), (LO, ua.port))
            return [sip.decode(peer.recv(65535)) for _ in range(answers)]
        first = exchange(_raw_invite(ua.port), 2)
        assert [m.status for m in first] == [100, 200]
        again = exchange(_raw_invite(ua.port), 1)
        assert again[0].status == 200 and again[0].to.tag == first[1].to.tag
        assert len(ua.calls) == 1
        # no ACK: the 200 OK is retransmitted (s13.3.1.4), from T1 = 50 ms on
        assert sip.decode(peer.recv(65535)).status == 200
        peer.sendto(b"\r\n\r\n garbage", (LO, ua.port))
        bye = exchange(_raw_invite(ua.port, to_tag="nosuchtag", method="BYE")
                       .replace(b"z9hG4bKraw1", b"z9hG4bKraw2"), 1)
        assert bye[0].status == 481
        options = exchange(_raw_invite(ua.port, method="OPTIONS")
                           .replace(b"z9hG4bKraw1", b"z9hG4bKraw3"), 1)
        assert options[0].status == 200 and "BYE" in options[0].get_all("Allow")
        assert ua.malformed == 1
    finally:
        peer.close()
        ua.close()
