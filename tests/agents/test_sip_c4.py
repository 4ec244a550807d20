"""RFC 6252 C.4's third scheme on loopback (no root): the MN's re-INVITE names several
contact addresses (its nCoAs in several CTNs), the CN sends a transient copy of its stream to
each further address, and the re-INVITE with one contact after the handover ends them; the
CN reports what they cost. tshark's SIP dissector reads the several contacts as we do.

127.0.0.2-4 play the MN's nCoAs in CTNs A, C and D (all of 127/8 is loopback); the MN's RTP
receiver (one socket on 0.0.0.0, IP_PKTINFO) logs the address each packet arrived on."""
from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from orchestrator.agents.sip_ua import CorrespondentNode, MobileNodeMedia, transient_destinations
from orchestrator.events import EventLog, read_events, vocabulary_problems
from orchestrator.experiment import media
from orchestrator.protocols import sip
from orchestrator.protocols.sip import NameAddr, SipUri
from tests.support.cellular_bed import wait_for

LO, A, C, D = "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"


def test_transient_destinations_are_the_further_contacts_at_the_media_port():
    contacts = [NameAddr(SipUri(h, 5060, "mn")) for h in (A, C, D, C, A)]
    assert transient_destinations(contacts, (A, 4000)) == [(C, 4000), (D, 4000)]
    assert transient_destinations(contacts[:1], (A, 4000)) == []
    assert transient_destinations(contacts, None) == []
    v6 = [NameAddr(SipUri("[2001:db8::1]", 5060, "mn")), NameAddr(SipUri("[2001:db8::2]"))]
    assert transient_destinations(v6, ("2001:db8::1", 4000)) == [("2001:db8::2", 4000)]


def test_several_contacts_give_transient_streams_until_the_final_reinvite(tmp_path):
    cn_log = EventLog(tmp_path / "events" / "cn.jsonl", "cn", "correspondent_node")
    mn_log = EventLog(tmp_path / "events" / "mn.jsonl", "mn", "mobile_node")
    cn = CorrespondentNode(LO, 0, 0, cn_log, interval=0.016)
    mn = MobileNodeMedia(LO, 0, 0, mn_log, tmp_path / "rtp.jsonl")
    port = mn.receiver.address[1]
    rtp_log = tmp_path / "rtp.jsonl"

    def arrived(addr):
        return sum(p["dst"] == f"{addr}:{port}" for p in media.read_receiver_log(rtp_log))
    try:
        mn.call((LO, cn.ua.port), timeout=5)
        update = mn.binding_update(A, timeout=5, also=[C, D, A])        # C.4 scheme 3
        assert update["contacts"] == [A, C, D]
        assert wait_for(lambda: all(arrived(x) >= 10 for x in (A, C, D)))
        final = mn.binding_update(A, timeout=5)                         # after the handover
        assert final["contacts"] == [A]
        assert wait_for(lambda: any(e["event"] == "transient_streams_end"
                                    for e in read_events(tmp_path)))
        # one socket receives every copy in order: once two more packets reached A, every
        # copy sent before the final re-INVITE's move has been logged
        before = arrived(A)
        assert wait_for(lambda: arrived(A) >= before + 2)
        copies = {x: arrived(x) for x in (C, D)}
        before = arrived(A)
        assert wait_for(lambda: arrived(A) >= before + 10)
        assert {x: arrived(x) for x in (C, D)} == copies                # the copies ended
        mn.hangup()
    finally:
        mn.close()
        cn.close()
        cn_log.close()
        mn_log.close()
    events = read_events(tmp_path)
    assert vocabulary_problems(events) == []
    [start] = [e["attrs"] for e in events if e["event"] == "transient_streams_start"]
    [end] = [e["attrs"] for e in events if e["event"] == "transient_streams_end"]
    assert start["transient"] == [f"{C}:{port}", f"{D}:{port}"]
    assert start["stream_to"] == f"{A}:{port}" and end["stream_to"] == f"{A}:{port}"
    # what the CN counted as sent is what arrived at each transient address (loopback)
    for x in (C, D):
        packets, octets = end["streams"][f"{x}:{port}"]
        assert packets == copies[x] and octets == packets * start["packet_octets"]
    assert end["packets"] == copies[C] + copies[D] and end["duration_ms"] > 0
    received = [e["attrs"] for e in events if e["event"] == "binding_update_received"]
    assert [r["transient"] for r in received] == [[f"{C}:{port}", f"{D}:{port}"], []]
    assert [len(r["contacts"]) for r in received] == [3, 1]


def _pcap(payloads: list[bytes], src: str, dst: str, sport: int, dport: int) -> bytes:
    """A pcap (linktype 101, raw IPv4) of UDP datagrams."""
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)
    for i, data in enumerate(payloads):
        udp = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                         bytes(int(x) for x in src.split(".")),
                         bytes(int(x) for x in dst.split("."))) + udp
        out += struct.pack("<IIII", i, 0, len(ip), len(ip)) + ip
    return out


@pytest.mark.skipif(not shutil.which("tshark"), reason="tshark not installed")
def test_tshark_reads_the_several_contacts_as_we_do(tmp_path):
    d = sip.Dialog("c4@x", "mt", "ct", NameAddr(SipUri("10.2.0.100", 5060, "mn")),
                   NameAddr(SipUri("10.0.0.20", 5060, "cn")), SipUri("10.1.0.50", 5060, "mn"),
                   SipUri("10.0.0.20", 5060, "cn"), 1)
    body = sip.sdp_encode(sip.SessionDescription("10.1.0.50", 4000))
    invite = d.request("INVITE", sip.Via("10.1.0.50", 5060, (("branch", sip.new_branch()),)),
                       body=body, also=(SipUri("10.3.0.50", 5060, "mn"),
                                        SipUri("10.4.0.50", 5060, "mn")))
    final = d.request("INVITE", sip.Via("10.1.0.50", 5060, (("branch", sip.new_branch()),)),
                      body=body)
    pcap = tmp_path / "c4.pcap"
    pcap.write_bytes(_pcap([sip.encode(invite), sip.encode(final)], "10.1.0.50",
                           "10.0.0.20", 5060, 5060))
    out = subprocess.run(["tshark", "-n", "-r", str(pcap), "-T", "fields", "-E", "occurrence=a",
                          "-E", "aggregator=|", "-e", "sip.Method", "-e", "sip.contact.host",
                          "-e", "sip.contact.port", "-e", "_ws.malformed"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = [line.split("\t") for line in out.stdout.splitlines() if line.strip()]
    ours = [[c.uri.host for c in sip.decode(sip.encode(m)).contacts] for m in (invite, final)]
    assert [r[0] for r in rows] == ["INVITE", "INVITE"]
    assert [r[1].split("|") for r in rows] == ours == [
        ["10.1.0.50", "10.3.0.50", "10.4.0.50"], ["10.1.0.50"]]
    assert [r[2] for r in rows] == ["5060|5060|5060", "5060"]
    assert all(r[3] == "" for r in rows)                     # nothing malformed
