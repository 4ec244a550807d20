"""PPPoE, LCP, CHAP and IPCP codecs and automata (orchestrator/protocols/ppp.py, ppp_fsm.py).

Vectors are written out from the RFCs' field definitions (RFC 2516 s4/s5 and Appendix B's
PADI, RFC 1661 s5/s6, RFC 1994 s4, RFC 1332 s3); tshark and scapy check the same frames
independently in test_ppp_dissectors.py.
"""
from __future__ import annotations

import hashlib
import random
import struct
from ipaddress import IPv4Address

import pytest

from orchestrator.protocols import ppp
from orchestrator.protocols import ppp_fsm as f
from orchestrator.protocols.errors import ProtocolError
from orchestrator.protocols.ppp import (PADI, PADO, PADR, PADS, PADT, PROTO_IPCP,
                                        PROTO_LCP, ChapCode, ChapPacket, ControlPacket,
                                        IpcpOption, LcpCode, LcpOption, Option, PppoeDiscovery,
                                        PppoeSession, Tag, TagType)
from orchestrator.protocols.ppp_fsm import State

HOST, AC = bytes.fromhex("020000000002"), bytes.fromhex("020000000001")


def rng(seed: int):
    return random.Random(seed).randbytes


# --- PPPoE (RFC 2516) -------------------------------------------------------------------------


def test_padi_of_rfc2516_appendix_b():
    """Appendix B: a PADI with one empty Service-Name TAG, broadcast, SESSION_ID 0."""
    frame = PppoeDiscovery(PADI, 0, (Tag(TagType.SERVICE_NAME),)).frame(ppp.BROADCAST, HOST)
    assert frame[:20] == (b"\xff" * 6 + HOST + bytes.fromhex("8863") + bytes.fromhex("11090000")
                          + bytes.fromhex("0004"))
    assert frame[20:24] == bytes.fromhex("01010000")
    assert len(frame) == 60 and frame[24:] == bytes(36)              # padded to the minimum
    got = ppp.decode_frame(frame)
    assert got.dst == ppp.BROADCAST and got.src == HOST
    assert got.packet == PppoeDiscovery(PADI, 0, (Tag(TagType.SERVICE_NAME, b""),))


def test_discovery_round_trip_and_end_of_list():
    tags = (Tag(TagType.AC_NAME, b"pdsn"), Tag(TagType.SERVICE_NAME, b"internet"),
            Tag(TagType.AC_COOKIE, bytes(16)), Tag(TagType.HOST_UNIQ, b"\x01\x02"))
    pado = PppoeDiscovery(PADO, 0, tags)
    assert PppoeDiscovery.decode(pado.encode()) == pado
    # End-Of-List: what follows is ignored (Appendix A)
    raw = pado.encode()
    eol = raw[:6] + raw[6:] + bytes(4) + Tag(TagType.GENERIC_ERROR, b"x").encode()
    eol = eol[:4] + struct.pack("!H", len(eol) - 6) + eol[6:]
    assert PppoeDiscovery.decode(eol).tags == tags


@pytest.mark.parametrize("packet, reason", [
    (PppoeDiscovery(PADI, 7, (Tag(TagType.SERVICE_NAME),)), "SESSION_ID"),
    (PppoeDiscovery(PADI, 0, ()), "Service-Name"),
    (PppoeDiscovery(PADR, 0, (Tag(TagType.SERVICE_NAME), Tag(TagType.SERVICE_NAME))),
     "Service-Name"),
    (PppoeDiscovery(PADO, 0, (Tag(TagType.SERVICE_NAME),)), "AC-Name"),
    (PppoeDiscovery(PADS, 0, (Tag(TagType.SERVICE_NAME),)), "SESSION_ID 0"),
    (PppoeDiscovery(PADT, 0, ()), "PADT"),
])
def test_discovery_rules_of_rfc2516_s5(packet, reason):
    with pytest.raises(ProtocolError, match=reason):
        PppoeDiscovery.decode(packet.encode())


def test_pads_with_service_name_error_and_session_zero_is_valid():
    pads = PppoeDiscovery(PADS, 0, (Tag(TagType.SERVICE_NAME), Tag(TagType.SERVICE_NAME_ERROR)))
    assert PppoeDiscovery.decode(pads.encode()).is_error()


@pytest.mark.parametrize("data, reason", [
    (bytes.fromhex("1109000000"), "shorter than its header"),
    (bytes.fromhex("2109000000000000"), "VER/TYPE"),
    (bytes.fromhex("1142000000000000"), "unknown PPPoE discovery CODE"),
    (bytes.fromhex("110900000008") + bytes(4), "exceeds"),
    (bytes.fromhex("11090000000101"), "TAG header"),
    (bytes.fromhex("110900000004") + bytes.fromhex("01010009"), "runs past"),
])
def test_discovery_malformed(data, reason):
    with pytest.raises(ProtocolError, match=reason):
        PppoeDiscovery.decode(data)


def test_session_frame_lcp_configure_request_vector():
    """RFC 2516 s6 session header + RFC 1661 s5.1 Configure-Request: MRU 1492 (s6.1), Magic
    0x12345678 (s6.4)."""
    req = ControlPacket.configure(LcpCode.CONFIGURE_REQUEST, 1,
                                  [Option(LcpOption.MRU, ppp.u16(1492)),
                                   Option(LcpOption.MAGIC_NUMBER, ppp.u32(0x12345678))])
    frame = PppoeSession(0x1234, PROTO_LCP, req.encode()).frame(AC, HOST)
    assert frame[12:] == bytes.fromhex(
        "8864" "1100" "1234" "0010"          # EtherType, VER/TYPE, CODE 0, SESSION_ID, LENGTH 16
        "c021"                               # PPP Protocol LCP
        "0101000e" "010405d4" "050612345678") + bytes(60 - 36)
    got = ppp.decode_frame(frame).packet
    assert got == PppoeSession(0x1234, PROTO_LCP, req.encode())
    assert ControlPacket.decode(got.information).options == req.options


@pytest.mark.parametrize("payload, reason", [
    (bytes.fromhex("110100010002c021"), "CODE 0x01"),
    (bytes.fromhex("110000000002c021"), "SESSION_ID 0"),
    (bytes.fromhex("11000001000100"), "no Protocol"),
    (bytes.fromhex("110000010002c020"), "not a valid Protocol"),
    (bytes.fromhex("110000010002c121"), "not a valid Protocol"),
])
def test_session_malformed(payload, reason):
    with pytest.raises(ProtocolError, match=reason):
        PppoeSession.decode(payload)


def test_ethernet_other_ethertype_and_short_frames():
    with pytest.raises(ProtocolError, match="not PPPoE"):
        ppp.EthernetFrame.decode(b"\xff" * 12 + b"\x08\x00" + bytes(46))
    with pytest.raises(ProtocolError, match="too short"):
        ppp.EthernetFrame.decode(bytes(13))


# --- LCP / IPCP packets and options (RFC 1661 s5, s6; RFC 1332) ----------------------------


def test_options_and_control_packets():
    assert ppp.decode_options(bytes.fromhex("0304c223" "0305c22305")) == (
        Option(3, bytes.fromhex("c223")), Option(3, bytes.fromhex("c22305")))
    for bad in (bytes.fromhex("01"), bytes.fromhex("0101"), bytes.fromhex("0105aabb")):
        with pytest.raises(ProtocolError):
            ppp.decode_options(bad)
    # RFC 1661 s5: octets past Length are padding
    assert ControlPacket.decode(bytes.fromhex("0905000812345678ffff")) == ControlPacket(
        9, 5, bytes.fromhex("12345678"))
    assert ControlPacket(9, 5, bytes.fromhex("12345678")).magic == 0x12345678
    with pytest.raises(ProtocolError, match="Length"):
        ControlPacket.decode(bytes.fromhex("01010003"))
    with pytest.raises(ProtocolError, match="option"):
        ControlPacket.decode(bytes.fromhex("010100060100"))       # a Configure with a bad option
    rej = ControlPacket(LcpCode.PROTOCOL_REJECT, 1, bytes.fromhex("80570102"))
    assert rej.rejected_protocol == 0x8057


def test_ipcp_configure_request_vector():
    """RFC 1332 s3.3 IP-Address (type 3, length 6) and RFC 1877 Primary-DNS (129)."""
    pkt = ControlPacket.configure(LcpCode.CONFIGURE_REQUEST, 7,
                                  [Option(IpcpOption.IP_ADDRESS, bytes(4)),
                                   Option(IpcpOption.PRIMARY_DNS, bytes(4))])
    assert pkt.encode() == bytes.fromhex("0107" "0010" "030600000000" "810600000000")


# --- CHAP (RFC 1994) ------------------------------------------------------------------------


def test_chap_packets_and_md5_response():
    challenge = bytes(range(16))
    ch = ChapPacket(ChapCode.CHALLENGE, 0x2A, challenge, b"pdsn")
    assert ch.encode() == bytes.fromhex("012a0019" "10") + challenge + b"pdsn"
    assert ChapPacket.decode(ch.encode()) == ch
    # s4.1: MD5 over Identifier || secret || Challenge
    value = ppp.chap_md5_response(0x2A, b"mn1-secret", challenge)
    assert value == hashlib.md5(b"\x2a" + b"mn1-secret" + challenge).digest()
    assert value.hex() == hashlib.md5(bytes.fromhex("2a") + b"mn1-secret"
                                      + bytes.fromhex("000102030405060708090a0b0c0d0e0f")).hexdigest()
    resp = ChapPacket(ChapCode.RESPONSE, 0x2A, value, b"mn1")
    assert ChapPacket.decode(resp.encode()).value == value
    ok = ChapPacket(ChapCode.SUCCESS, 0x2A, b"", b"welcome")
    assert ok.encode() == bytes.fromhex("032a000b") + b"welcome"
    assert ChapPacket.decode(ok.encode()).message == b"welcome"
    for bad in (bytes.fromhex("012a0004"), bytes.fromhex("012a000510"), bytes.fromhex("052a0004"),
                bytes.fromhex("012a0005"), bytes.fromhex("012a0009" "00aabbcc")):
        with pytest.raises(ProtocolError):
            ChapPacket.decode(bad)


# --- the automaton (RFC 1661 s4) ------------------------------------------------------------


def test_transition_table_is_complete_and_well_formed():
    for event in f._TABLE:
        for state in State:
            step = f._transition(event, state)
            if step is not None:
                actions, target = step
                assert set(actions) <= {"tlu", "tld", "tls", "tlf", "irc", "zrc", "scr", "sca",
                                        "scn", "str", "sta", "scj", "ser"}
                assert isinstance(target, State)
    # spot checks against RFC 1661 s4.1
    assert f._transition("RCA", State.ACK_SENT) == (("irc", "tlu"), State.OPENED)
    assert f._transition("RCR+", State.OPENED) == (("tld", "scr", "sca"), State.ACK_SENT)
    assert f._transition("RTR", State.OPENED) == (("tld", "zrc", "sta"), State.STOPPING)
    assert f._transition("Up", State.CLOSED) is None


def pair(client_secret=b"mn1-secret", dns=("10.20.0.53",), **timers):
    gw = f.PppLink(f.LcpPolicy(rng(1), authenticate=True),
                   f.IpcpGatewayPolicy("10.20.0.1", list(dns)), rng(2),
                   authenticator=f.ChapAuthenticator(rng(3)), **timers)
    cl = f.PppLink(f.LcpPolicy(rng(4)), f.IpcpClientPolicy(), rng(5),
                   peer=f.ChapPeer(b"mn1", client_secret), **timers)
    return gw, cl


def shuttle(gw, cl, gq, cq, secret=b"mn1-secret", address="10.20.0.7", now=0.0, rounds=30):
    """Deliver packets both ways until quiet; the gateway checks CHAP with `secret`."""
    events = []
    for _ in range(rounds):
        ngq, ncq = [], []
        for p, info in cq:
            out = gw.receive(p, info, now)
            events += [("gw", e) for e in out.events]
            ngq += out.packets
            for e in out.events:
                if e.kind == "chap-response":
                    d = e.detail
                    ok = d["response"] == ppp.chap_md5_response(d["identifier"], secret,
                                                                 d["challenge"])
                    v = gw.chap_verdict(ok, now, address, b"welcome" if ok else b"no")
                    events += [("gw", x) for x in v.events]
                    ngq += v.packets
        for p, info in gq:
            out = cl.receive(p, info, now)
            events += [("cl", e) for e in out.events]
            ncq += out.packets
        gq, cq = ngq, ncq
        if not gq and not cq:
            break
    return events


def kinds(events, side):
    return [e.kind for s, e in events if s == side and e.kind != "state"]


def test_session_lcp_chap_ipcp_opened():
    gw, cl = pair()
    ev = shuttle(gw, cl, gw.lower_up(0).packets, cl.lower_up(0).packets)
    assert [k for k in kinds(ev, "cl") if k.endswith("-up") or k.startswith("auth")] == [
        "lcp-up", "auth-success", "ipcp-up"]
    assert [k for k in kinds(ev, "gw") if k.endswith("-up") or k.startswith("auth")] == [
        "lcp-up", "auth-success", "ipcp-up"]
    assert gw.lcp.state == cl.lcp.state == gw.ipcp.state == cl.ipcp.state == State.OPENED
    up = next(e for s, e in ev if s == "cl" and e.kind == "ipcp-up").detail
    assert up == {"address": "10.20.0.7", "peer": "10.20.0.1", "dns": "10.20.0.53"}
    assert gw.lcp_policy.local["auth"] == "chap-md5" and cl.lcp_policy.remote["auth"] == "chap-md5"
    assert cl.lcp_policy.remote["magic"] == gw.lcp_policy.magic


def test_a_pre_configured_address_is_confirmed_in_one_configure_request():
    """RFC 6252 s7.3 / s7.6.2 (C.5.2, MPA): the mobile reserved its address through the WLAN
    and the DNS server (none, or the one the gateway offers) through the WLAN and asks for
    exactly those: the gateway's Configure-Ack comes for its first IPCP Configure-Request;
    asking for 0.0.0.0 and the DNS takes more (Reject, Nak, then Ack)."""
    def ipcp_requests(client_policy, dns=()):
        gw, _ = pair(dns=dns)
        cl = f.PppLink(f.LcpPolicy(rng(4)), client_policy, rng(5),
                       peer=f.ChapPeer(b"mn1", b"mn1-secret"))
        sent = []
        receive = cl.receive

        def spy(protocol, info, now):
            out = receive(protocol, info, now)
            sent.extend(out.packets)
            return out
        cl.receive = spy
        ev = shuttle(gw, cl, gw.lower_up(0).packets, cl.lower_up(0).packets)
        up = next(e for s, e in ev if s == "cl" and e.kind == "ipcp-up").detail
        return up["address"], sum(1 for p, info in sent if p == ppp.PROTO_IPCP and info[0] == 1)
    pre = f.IpcpClientPolicy(want_dns=False)       # the reservation said: no DNS server
    pre.address = IPv4Address("10.20.0.7")
    assert ipcp_requests(pre) == ("10.20.0.7", 1)
    pre = f.IpcpClientPolicy()                      # ... it said 10.20.0.53
    pre.address, pre.dns = IPv4Address("10.20.0.7"), IPv4Address("10.20.0.53")
    assert ipcp_requests(pre, dns=("10.20.0.53",)) == ("10.20.0.7", 1)
    address, n = ipcp_requests(f.IpcpClientPolicy())
    assert address == "10.20.0.7" and n >= 2


def test_wrong_secret_fails_and_terminates_lcp():
    gw, cl = pair(client_secret=b"wrong")
    ev = shuttle(gw, cl, gw.lower_up(0).packets, cl.lower_up(0).packets)
    assert "auth-failure" in kinds(ev, "gw") and "auth-failure" in kinds(ev, "cl")
    assert "ipcp-up" not in kinds(ev, "cl")
    assert gw.failure == "authentication failed"
    assert gw.lcp.state in (State.CLOSED, State.CLOSING) and cl.lcp.state != State.OPENED


def test_restart_timer_retransmits_then_gives_up():
    """s4.6: Configure-Request every Restart period, Max-Configure times, then TO- (tlf)."""
    a = f.Automaton(PROTO_LCP, f.LcpPolicy(rng(1)), rng(2), restart_s=3.0)
    first = a.up(0).extend(a.open(0)).packets
    assert len(first) == 1 and a.state == State.REQ_SENT and a.deadline == 3.0
    assert a.poll(2.9).packets == []
    again = a.poll(3.0).packets
    assert again == first                      # the same Identifier and options
    t, sent = 3.0, 2
    while a.state == State.REQ_SENT:
        t += 3.0
        out = a.poll(t)
        sent += len(out.packets)
    assert sent == f.MAX_CONFIGURE and a.state == State.STOPPED
    assert "finished" in out.kinds()


def test_peer_options_nak_and_reject():
    pol = f.LcpPolicy(rng(1))
    code, opts = pol.judge((Option(LcpOption.MRU, ppp.u16(9000)),))
    assert code == LcpCode.CONFIGURE_NAK and opts == [Option(LcpOption.MRU, ppp.u16(1492))]
    code, opts = pol.judge((Option(LcpOption.MAGIC_NUMBER, ppp.u32(pol.magic)),))
    assert code == LcpCode.CONFIGURE_NAK and pol.loopback == 1        # s6.4 looped back
    code, opts = pol.judge((Option(LcpOption.ACFC), Option(LcpOption.MRU, ppp.u16(9000))))
    assert code == LcpCode.CONFIGURE_REJECT and opts == [Option(LcpOption.ACFC)]   # s5.4
    code, opts = pol.judge((Option(LcpOption.AUTH_PROTOCOL, ppp.u16(ppp.PROTO_PAP)),))
    assert code == LcpCode.CONFIGURE_NAK and opts[0].value == bytes.fromhex("c22305")


def test_nak_and_reject_adapt_the_next_request():
    a = f.Automaton(PROTO_LCP, f.LcpPolicy(rng(1)), rng(2))
    req = ControlPacket.decode(a.up(0).extend(a.open(0)).packets[0][1])
    nak = ControlPacket.configure(LcpCode.CONFIGURE_NAK, req.identifier,
                                  [Option(LcpOption.MRU, ppp.u16(1400))])
    req2 = ControlPacket.decode(a.receive(nak.encode(), 0).packets[0][1])
    assert req2.identifier != req.identifier
    assert Option(LcpOption.MRU, ppp.u16(1400)) in req2.options
    rej = ControlPacket.configure(LcpCode.CONFIGURE_REJECT, req2.identifier,
                                  [o for o in req2.options if o.type == LcpOption.MAGIC_NUMBER])
    req3 = ControlPacket.decode(a.receive(rej.encode(), 0).packets[0][1])
    assert [o.type for o in req3.options] == [LcpOption.MRU]
    # a Reject naming an option that was not requested is invalid (s5.4): dropped
    bogus = ControlPacket.configure(LcpCode.CONFIGURE_REJECT, req3.identifier,
                                    [Option(LcpOption.PFC)])
    assert a.receive(bogus.encode(), 0).kinds() == ["dropped"]
    # an Ack with another Identifier or other options is dropped (s5.2)
    ack = ControlPacket(LcpCode.CONFIGURE_ACK, (req3.identifier + 1) & 0xFF, req3.data)
    assert a.receive(ack.encode(), 0).kinds() == ["dropped"]
    ack = ControlPacket(LcpCode.CONFIGURE_ACK, req3.identifier, req3.data + b"\x07\x02")
    assert a.receive(ack.encode(), 0).kinds() == ["dropped"]
    ack = ControlPacket(LcpCode.CONFIGURE_ACK, req3.identifier, req3.data)
    assert a.receive(ack.encode(), 0).kinds()[-1] == "state" and a.state == State.ACK_RCVD


def test_max_failure_turns_naks_into_rejects():
    a = f.Automaton(PROTO_LCP, f.LcpPolicy(rng(1)), rng(2), max_failure=2)
    a.up(0), a.open(0)
    bad = ControlPacket.configure(LcpCode.CONFIGURE_REQUEST, 9,
                                  [Option(LcpOption.MRU, ppp.u16(9000))]).encode()
    replies = [ControlPacket.decode(a.receive(bad, 0).packets[-1][1]) for _ in range(4)]
    assert [r.code for r in replies] == [LcpCode.CONFIGURE_NAK] * 2 + [LcpCode.CONFIGURE_REJECT] * 2
    assert replies[0].options == (Option(LcpOption.MRU, ppp.u16(1492)),)   # the value we want
    assert replies[-1].options == (Option(LcpOption.MRU, ppp.u16(9000)),)  # theirs, unchanged


def opened():
    gw, cl = pair()
    shuttle(gw, cl, gw.lower_up(0).packets, cl.lower_up(0).packets)
    assert cl.ipcp.state == State.OPENED
    return gw, cl


def test_echo_terminate_code_and_protocol_reject():
    gw, cl = opened()
    req = cl.echo(0).packets[0]
    reply = gw.receive(*req, 0)
    pkt = ControlPacket.decode(reply.packets[0][1])
    assert pkt.code == LcpCode.ECHO_REPLY and pkt.magic == gw.lcp_policy.magic
    assert "echo-reply" in cl.receive(PROTO_LCP, reply.packets[0][1], 0).kinds()
    # an unknown LCP code: Code-Reject carrying the packet (s5.6)
    out = gw.receive(PROTO_LCP, bytes.fromhex("2a010004"), 0)
    cj = ControlPacket.decode(out.packets[0][1])
    assert cj.code == LcpCode.CODE_REJECT and cj.data == bytes.fromhex("2a010004")
    # an unknown protocol in Opened: Protocol-Reject (s5.7)
    out = gw.receive(0x8057, b"\x01\x02", 0)
    pr = ControlPacket.decode(out.packets[0][1])
    assert pr.code == LcpCode.PROTOCOL_REJECT and pr.rejected_protocol == 0x8057
    # the peer rejects our IPv6CP-like Protocol-Reject target: RXJ+, the link stays up
    assert cl.receive(PROTO_LCP, pr.encode(), 0).kinds()[0] == "protocol-rejected"
    assert cl.lcp.state == State.OPENED
    # Terminate-Request in Opened: tld, zrc, sta -> Stopping; TO- after one period -> finished
    term = cl.close(10.0).packets
    out = gw.receive(*term[0], 10.0)
    assert ControlPacket.decode(out.packets[-1][1]).code == LcpCode.TERMINATE_ACK
    assert gw.lcp.state == State.STOPPING and "lcp-down" in out.kinds()
    assert "finished" in gw.poll(10.0 + f.RESTART_S).kinds() and gw.lcp.state == State.STOPPED
    done = cl.receive(*out.packets[-1], 10.1)
    assert "finished" in done.kinds() and cl.lcp.state == State.CLOSED


def test_ncp_and_echo_outside_their_phase_are_dropped():
    gw, cl = pair()
    gw.lower_up(0)
    ipcp = ControlPacket.configure(1, 1, [Option(IpcpOption.IP_ADDRESS, bytes(4))]).encode()
    assert gw.receive(PROTO_IPCP, ipcp, 0).kinds() == ["dropped"]      # LCP not opened
    echo = ControlPacket(LcpCode.ECHO_REQUEST, 1, bytes(4)).encode()
    assert gw.receive(PROTO_LCP, echo, 0).kinds() == ["dropped"]


def test_chap_authenticator_retransmits_and_repeats_its_verdict():
    auth = f.ChapAuthenticator(rng(1), restart_s=1.0, max_challenges=3)
    first = auth.start(0).packets
    assert auth.poll(1.0).packets == first                  # same Identifier, same value
    ch = ChapPacket.decode(first[0][1])
    wrong = ChapPacket(ChapCode.RESPONSE, (ch.identifier + 1) & 0xFF, bytes(16), b"x").encode()
    assert auth.receive(wrong, 1.0).kinds() == ["dropped"]
    resp = ChapPacket(ChapCode.RESPONSE, ch.identifier, bytes(16), b"mn1").encode()
    assert auth.receive(resp, 1.0).kinds() == ["chap-response"]
    assert auth.receive(resp, 1.0).packets == []           # still with the AAA server
    verdict = auth.verdict(True, b"ok")
    assert auth.receive(resp, 1.1).packets == verdict.packets    # s4.2: Success again
    timeout = f.ChapAuthenticator(rng(2), restart_s=1.0, max_challenges=2)
    timeout.start(0)
    timeout.poll(1.0)
    assert timeout.poll(2.0).kinds() == ["chap-timeout"]


def test_gateway_closes_when_the_peer_rejects_authentication():
    class NoAuth(f.LcpPolicy):
        def judge(self, options):
            rej = [o for o in options if o.type == LcpOption.AUTH_PROTOCOL]
            return (LcpCode.CONFIGURE_REJECT, rej) if rej else super().judge(options)
    gw = f.PppLink(f.LcpPolicy(rng(1), authenticate=True), f.IpcpGatewayPolicy("10.0.0.1"),
                   rng(2), authenticator=f.ChapAuthenticator(rng(3)))
    cl = f.PppLink(NoAuth(rng(4)), f.IpcpClientPolicy(), rng(5), peer=f.ChapPeer(b"a", b"b"))
    shuttle(gw, cl, gw.lower_up(0).packets, cl.lower_up(0).packets)
    assert gw.failure == "peer refused to authenticate"
    assert gw.ipcp.state != State.OPENED


def test_ipcp_gateway_naks_until_the_assigned_address():
    pol = f.IpcpGatewayPolicy("10.20.0.1", ["10.20.0.53"])
    pol.assigned = ppp_addr = IPv4Address("10.20.0.9")
    code, opts = pol.judge((Option(IpcpOption.IP_ADDRESS, bytes(4)),
                            Option(IpcpOption.PRIMARY_DNS, bytes(4))))
    assert code == LcpCode.CONFIGURE_NAK
    assert opts == [Option(IpcpOption.IP_ADDRESS, ppp_addr.packed),
                    Option(IpcpOption.PRIMARY_DNS, bytes([10, 20, 0, 53]))]
    code, opts = pol.judge((Option(IpcpOption.IP_COMPRESSION, bytes.fromhex("002d0f01")),))
    assert code == LcpCode.CONFIGURE_REJECT
    code, opts = pol.judge(())                   # no IP-Address: hint it in a Nak (s5.3)
    assert code == LcpCode.CONFIGURE_NAK and opts[0].type == IpcpOption.IP_ADDRESS


# --- discovery (RFC 2516 s5) ------------------------------------------------------------------


def test_discovery_exchange_and_padt():
    ac = f.AccessConcentrator(AC, b"pdsn", (b"internet",), rng(1))
    host = f.DiscoveryClient(HOST, b"internet", rng(2))
    padi = host.start(0).frames[0]
    pado = ac.receive(padi, 0).frames[0]
    got = ppp.decode_frame(pado).packet
    assert got.code == PADO and got.tag(TagType.AC_NAME) == b"pdsn"
    assert got.tag(TagType.HOST_UNIQ) == host.host_uniq
    out = host.receive(pado, 0)
    padr = out.frames[0]
    assert out.kinds() == ["pado"]
    pads_out = ac.receive(padr, 0)
    assert pads_out.kinds() == ["session"]
    # a retransmitted PADR (PADS lost) gets the same session, no second one
    again = ac.receive(padr, 0)
    assert again.frames == pads_out.frames and again.kinds() == []
    assert host.receive(pads_out.frames[0], 0).kinds() == ["session"]
    sid = host.session_id
    assert sid and ac.sessions[sid][0] == HOST
    padt = host.terminate().frames[0]
    assert ac.receive(padt, 0).kinds() == ["terminated"] and sid not in ac.sessions


def test_discovery_refusals():
    ac = f.AccessConcentrator(AC, b"pdsn", (b"internet",), rng(1))
    host = f.DiscoveryClient(HOST, b"internet", rng(2))
    pado = ac.receive(host.start(0).frames[0], 0).frames[0]
    padr = host.receive(pado, 0).frames[0]
    # a PADR with a forged cookie
    pkt = ppp.decode_frame(padr).packet
    forged = PppoeDiscovery(PADR, 0, tuple(Tag(t.type, bytes(16)) if t.type == TagType.AC_COOKIE
                                           else t for t in pkt.tags)).frame(AC, HOST)
    assert ac.receive(forged, 0).kinds() == ["dropped"]
    # an unknown service: no PADO
    other = f.DiscoveryClient(HOST, b"voice", rng(3))
    assert ac.receive(other.start(0).frames[0], 0).frames == []
    # a PADO for somebody else's Host-Uniq
    third = f.DiscoveryClient(HOST, b"internet", rng(4))
    third.start(0)
    assert third.receive(pado, 0).kinds() == ["dropped"]
    # PADS with Service-Name-Error
    err = PppoeDiscovery(PADS, 0, (Tag(TagType.SERVICE_NAME, b"internet"),
                                   Tag(TagType.SERVICE_NAME_ERROR),
                                   Tag(TagType.HOST_UNIQ, host.host_uniq))).frame(HOST, AC)
    assert host.receive(err, 0).kinds() == ["failed"]


def test_discovery_retransmission_doubles_then_fails():
    host = f.DiscoveryClient(HOST, b"", rng(2), timeout_s=1.0, attempts=3)
    host.start(0)
    times, t = [], 0.0
    while host.state == "padi-sent":
        t = host.deadline
        out = host.poll(t)
        if out.frames:
            times.append(t)
    assert times == [1.0, 3.0]                  # 1 s, then 2 s
    assert out.kinds() == ["failed"] and host.sent["PADI"] == 3


def test_chap_peer_answers_a_rechallenge():
    """RFC 1994 s4: the authenticator may challenge again during the Network phase."""
    peer = f.ChapPeer(b"mn1", b"s")
    for ident in (1, 2):
        out = peer.receive(ChapPacket(ChapCode.CHALLENGE, ident, bytes(16), b"pdsn").encode(), 0)
        assert ChapPacket.decode(out.packets[0][1]).identifier == ident
        ok = ChapPacket(ChapCode.SUCCESS, ident).encode()
        assert peer.receive(ok, 0).kinds() == ["chap-success"]
        assert peer.receive(ok, 0).kinds() == ["dropped"]           # a repeated Success
