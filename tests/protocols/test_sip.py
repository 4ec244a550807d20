"""SIP codec and builders (RFC 3261), SDP offer/answer (RFC 4566, RFC 3264): vectors, the
binding-update re-INVITE, seeded fuzzing."""
from __future__ import annotations

import random

import pytest

from orchestrator.protocols import sip
from orchestrator.protocols.errors import ProtocolError
from orchestrator.protocols.sip import NameAddr, SessionDescription, SipUri, Via
from tests.protocols.test_fuzz_parsers import mutate, tolerate
from tests.support.fuzzing import RFC3261_F1, SDP_SIPP, SIPP_200, SIPP_INVITE, crlf  # noqa: F401

SEED = 0x3261
CASES = 3000


def test_decode_sipp_invite():
    m = sip.decode(SIPP_INVITE)
    assert (m.method, m.uri) == ("INVITE", "sip:service@127.0.0.1:5070")
    assert m.via == Via("127.0.0.1", 5061, (("branch", "z9hG4bK-4242-1-0"),))
    assert m.via.branch == "z9hG4bK-4242-1-0"
    assert m.from_.tag == "4242SIPpTag001" and m.from_.display == "sipp"
    assert m.to.tag is None and m.to.uri == SipUri("127.0.0.1", 5070, "service")
    assert m.call_id == "1-4242@127.0.0.1"
    assert m.cseq == sip.CSeq(1, "INVITE")
    assert m.contact.uri == SipUri("127.0.0.1", 5061, "sipp")      # addr-spec form
    assert m.content_type == "application/sdp" and m.body == SDP_SIPP
    sd = sip.sdp_decode(m.body)
    assert (sd.address, sd.port, sd.formats, sd.rtpmap) == ("127.0.0.1", 6000, (0,),
                                                           {0: "PCMU/8000"})


def test_decode_sipp_200_ok():
    m = sip.decode(SIPP_200)
    assert (m.status, m.reason, m.is_request) == (200, "OK", False)
    assert m.via.params == (("branch", "z9hG4bK1"), ("rport", None))
    assert m.to.tag == "4242SIPpTag011"
    assert m.contact.uri == SipUri("127.0.0.1", 5070, None, (("transport", "UDP"),))
    assert m.contact.uri.address() == ("127.0.0.1", 5070)


def test_compact_forms_and_folding():
    m = sip.decode(RFC3261_F1)
    assert m.get("Via") == "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8"
    assert m.via.port is None and m.via.host == "pc33.atlanta.com"
    assert m.from_.tag == "1928301774" and m.from_.uri.user == "alice"
    assert m.call_id == "a84b4c76e66710" and m.cseq.number == 314159
    assert m.contact.uri.host == "pc33.atlanta.com"
    assert m.content_type == "application/sdp" and len(m.body) == len(SDP_SIPP)


def test_comma_separated_via_and_header_names_are_case_insensitive():
    text = SIPP_200.replace(b"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK1;rport",
                            b"VIA: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa, "
                            b"SIP / 2.0 / UDP 10.0.0.2;branch=z9hG4bKb")
    m = sip.decode(text)
    assert [v.host for v in m.vias] == ["10.0.0.1", "10.0.0.2"]
    assert m.vias[1].branch == "z9hG4bKb"


def test_content_length():
    extra = sip.decode(SIPP_INVITE + b"trailing junk")          # s18.3: discarded
    assert extra.body == SDP_SIPP
    with pytest.raises(ProtocolError, match="exceeds"):
        sip.decode(SIPP_INVITE[:-5])
    no_length = SIPP_INVITE.replace(b"Content-Length: %d\r\n" % len(SDP_SIPP), b"")
    assert sip.decode(no_length).body == SDP_SIPP               # UDP: to the end


@pytest.mark.parametrize("old, new, reason", [
    (b"Call-ID: 1-4242@127.0.0.1\r\n", b"", "0 Call-ID headers"),
    (b"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-1-0\r\n", b"", "no Via"),
    (b"CSeq: 1 INVITE", b"CSeq: 1 BYE", "differs from the request's INVITE"),
    (b"CSeq: 1 INVITE", b"CSeq: 2147483648 INVITE", "below 2\\*\\*31"),
    (b"CSeq: 1 INVITE", b"CSeq: one INVITE", "bad CSeq"),
    (b"Via: SIP/2.0/UDP", b"Via: SIP/3.0/UDP", "sent-protocol"),
    (b"127.0.0.1:5061;branch", b"127.0.0.1:99999;branch", "port 99999"),
    (b"To: service <sip", b"To: service sip", "unbalanced|bad"),
    (b"INVITE sip:service@127.0.0.1:5070 SIP/2.0", b"INVITE sip:service@127.0.0.1:5070", "Request-Line"),
    (b"INVITE sip:", b"INV(TE sip:", "bad method"),
    (b"Subject: Performance Test", b"Subject Performance Test", "bad header line"),
    (b"\r\n\r\nv=0", b"\r\nv=0", "no empty line"),
    (b"\r\n\r\nv=0", b"\r\nbad line\r\n\r\nv=0", "bad header line"),
])
def test_malformed_messages(old, new, reason):
    assert old in SIPP_INVITE
    with pytest.raises(ProtocolError, match=reason):
        sip.decode(SIPP_INVITE.replace(old, new, 1))


def test_bad_status_line_and_empty_datagram():
    with pytest.raises(ProtocolError, match="Status-Line"):
        sip.decode(SIPP_200.replace(b"SIP/2.0 200 OK", b"SIP/2.0 2000 OK"))
    with pytest.raises(ProtocolError, match="keep-alive"):
        sip.decode(b"\r\n\r\n")
    with pytest.raises(ProtocolError, match="no empty line"):
        sip.decode(SIPP_INVITE.split(b"\r\n\r\n")[0])


# ---- builders: the call and the binding update ----

MN, CN = ("10.2.0.100", 5060), ("10.0.0.20", 5060)
NCOA = "10.1.0.100"


def _invite() -> sip.SipMessage:
    offer = SessionDescription(MN[0], 4000, session_id=7, version=1, username="mn")
    return sip.request(
        "INVITE", SipUri(CN[0], CN[1], "cn"), via=Via(MN[0], MN[1], (("branch", "z9hG4bKx1"),)),
        from_=NameAddr(SipUri(MN[0], MN[1], "mn"), params=(("tag", "mntag"),)),
        to=NameAddr(SipUri(CN[0], CN[1], "cn")), call_id="call-1", cseq=1,
        contact=NameAddr(SipUri(MN[0], MN[1], "mn")), body=sip.sdp_encode(offer))


def test_request_wire_format():
    wire = sip.encode(_invite())
    head, body = wire.split(b"\r\n\r\n")
    assert head.split(b"\r\n") == [
        b"INVITE sip:cn@10.0.0.20:5060 SIP/2.0",
        b"Via: SIP/2.0/UDP 10.2.0.100:5060;branch=z9hG4bKx1",
        b"Max-Forwards: 70",
        b"From: <sip:mn@10.2.0.100:5060>;tag=mntag",
        b"To: <sip:cn@10.0.0.20:5060>",
        b"Call-ID: call-1",
        b"CSeq: 1 INVITE",
        b"Contact: <sip:mn@10.2.0.100:5060>",
        b"Content-Type: application/sdp",
        b"Content-Length: %d" % len(body)]
    assert body.split(b"\r\n") == [
        b"v=0", b"o=mn 7 1 IN IP4 10.2.0.100", b"s=-", b"c=IN IP4 10.2.0.100", b"t=0 0",
        b"m=audio 4000 RTP/AVP 0", b"a=rtpmap:0 PCMU/8000", b"a=sendrecv", b""]
    assert sip.decode(wire) == sip.decode(sip.encode(sip.decode(wire)))


def test_response_copies_the_request_headers():
    inv = sip.decode(sip.encode(_invite()))
    trying = sip.response(inv, 100)
    assert trying.to.tag is None and trying.reason == "Trying"
    ok = sip.response(inv, 200, to_tag="cntag", contact=NameAddr(SipUri(CN[0], CN[1], "cn")))
    assert ok.get_all("Via") == inv.get_all("Via")
    assert ok.get("From") == inv.get("From") and ok.get("CSeq") == inv.get("CSeq")
    assert ok.get("To") == inv.get("To") + ";tag=cntag"
    assert sip.encode(ok).startswith(b"SIP/2.0 200 OK\r\n")


def test_dialogs_and_the_binding_update_reinvite():
    """RFC 6252 s7.5: the MN re-INVITEs from its nCoA; the CN's dialog learns the new target."""
    inv = sip.decode(sip.encode(_invite()))
    ok = sip.decode(sip.encode(sip.response(
        inv, 200, to_tag="cntag", contact=NameAddr(SipUri(CN[0], CN[1], "cn")),
        body=sip.sdp_encode(SessionDescription(CN[0], 5004, session_id=9, version=1)))))
    mn = sip.Dialog.for_uac(inv, ok)
    cn = sip.Dialog.for_uas(inv, "cntag", SipUri(CN[0], CN[1], "cn"))
    assert (mn.remote_tag, cn.remote_tag) == ("cntag", "mntag")

    ack = mn.request("ACK", Via(MN[0], MN[1], (("branch", "z9hG4bKack"),)))
    assert ack.cseq == sip.CSeq(1, "ACK") and ack.uri == "sip:cn@10.0.0.20:5060"
    assert ack.via.branch != inv.via.branch                      # s13.2.2.4: new transaction
    assert cn.matches(sip.decode(sip.encode(ack)))

    mn.local_contact = SipUri(NCOA, 5060, "mn")
    offer = sip.sdp_decode(inv.body).next_version(address=NCOA, origin_address=NCOA)
    reinvite = sip.decode(sip.encode(mn.request(
        "INVITE", Via(NCOA, 5060, (("branch", "z9hG4bKre"),)), body=sip.sdp_encode(offer))))
    assert reinvite.cseq == sip.CSeq(2, "INVITE")
    assert (reinvite.from_.tag, reinvite.to.tag, reinvite.call_id) == ("mntag", "cntag", "call-1")
    assert reinvite.via.host == NCOA and reinvite.contact.uri.host == NCOA
    sd = sip.sdp_decode(reinvite.body)
    assert (sd.address, sd.port, sd.version, sd.session_id) == (NCOA, 4000, 2, 7)
    assert cn.matches(reinvite)

    ack2 = mn.request("ACK", Via(NCOA, 5060, (("branch", "z9hG4bKack2"),)))
    bye = mn.request("BYE", Via(NCOA, 5060, (("branch", "z9hG4bKbye"),)))
    assert ack2.cseq == sip.CSeq(2, "ACK") and bye.cseq == sip.CSeq(3, "BYE")
    assert bye.contact is None


def test_ack_for_an_error_response_is_in_the_invite_transaction():
    inv = sip.decode(sip.encode(_invite()))
    busy = sip.decode(sip.encode(sip.response(inv, 486, to_tag="t")))
    ack = sip.ack_for_error(inv, busy)
    assert ack.via == inv.via and ack.uri == inv.uri
    assert ack.to.tag == "t" and ack.cseq == sip.CSeq(1, "ACK")


# ---- SDP ----

RFC4566_EXAMPLE = crlf("""v=0
o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5
s=SDP Seminar
i=A Seminar on the session description protocol
u=http://www.example.com/seminars/sdp.pdf
e=j.doe@example.com (Jane Doe)
c=IN IP4 224.2.17.12/127
t=2873397496 2873404696
a=recvonly
m=audio 49170 RTP/AVP 0
m=video 51372 RTP/AVP 99
a=rtpmap:99 h263-1998/90000
""")


def test_sdp_rfc4566_example():
    sd = sip.sdp_decode(RFC4566_EXAMPLE)
    assert (sd.address, sd.port, sd.formats) == ("224.2.17.12", 49170, (0,))
    assert (sd.session_id, sd.version, sd.origin_address) == (2890844526, 2890842807, "10.47.16.5")
    assert sd.direction == "recvonly"                              # session-level attribute


def test_sdp_answer():
    offer = SessionDescription("10.2.0.100", 4000, formats=(8, 0, 18), direction="sendonly")
    answer = sip.sdp_answer(offer, "10.0.0.20", 5004, session_id=3, version=1)
    assert answer.formats == (0,) and answer.direction == "recvonly"
    assert sip.sdp_decode(sip.sdp_encode(answer)) == answer
    with pytest.raises(ProtocolError, match="no common payload type"):
        sip.sdp_answer(SessionDescription("10.2.0.100", 4000, formats=(8,)), "10.0.0.20", 1, 1, 1)


@pytest.mark.parametrize("old, new, reason", [
    (b"v=0", b"v=1", "v=0"),
    (b"c=IN IP4 127.0.0.1", b"c=IN IP4 host.example", "not an IP address"),
    (b"c=IN IP4 127.0.0.1\r\n", b"", "no c= line"),
    (b"m=audio 6000", b"m=video 6000", "no audio"),
    (b"m=audio 6000", b"m=audio 99999", "out of range"),
    (b"RTP/AVP 0", b"udp 0", "not RTP"),
    (b"RTP/AVP 0", b"RTP/AVP x", "bad RTP payload types"),
    (b"o=user1 53655765", b"o=user1 x", "bad SDP o="),
    (b"s=-\r\n", b"s-\r\n", "bad SDP line"),
])
def test_malformed_sdp(old, new, reason):
    with pytest.raises(ProtocolError, match=reason):
        sip.sdp_decode(SDP_SIPP.replace(old, new))


# ---- fuzzing ----

def _bases() -> list[bytes]:
    inv = _invite()
    ok = sip.response(inv, 200, to_tag="t", contact=NameAddr(SipUri(CN[0], CN[1], "cn")),
                      body=sip.sdp_encode(SessionDescription(CN[0], 5004)))
    return [SIPP_INVITE, SIPP_200, RFC3261_F1, sip.encode(inv), sip.encode(ok),
            sip.encode(sip.ack_for_error(inv, ok))]


_SPECIAL = [b":", b";", b",", b"<", b">", b'"', b"@", b" ", b"\r\n", b"\r\n ", b"=", b"/",
            b"[", b"]", b"\\", b"\x00", b"\xff", b"9" * 12, b"sip:", b"tag="]


def _mutate_text(rnd: random.Random, data: bytes) -> bytes:
    lines = data.split(b"\r\n")
    op = rnd.randrange(4)
    if op == 0 and len(lines) > 1:                       # drop a line
        del lines[rnd.randrange(len(lines))]
    elif op == 1:                                        # duplicate a line
        i = rnd.randrange(len(lines))
        lines.insert(rnd.randrange(len(lines) + 1), lines[i])
    elif op == 2:                                        # swap two lines
        i, j = rnd.randrange(len(lines)), rnd.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    else:                                                # a syntax character somewhere
        b = b"\r\n".join(lines)
        at = rnd.randrange(len(b) + 1)
        return b[:at] + rnd.choice(_SPECIAL) + b[at + rnd.randrange(2):]
    return b"\r\n".join(lines)


def _exercise(m: sip.SipMessage) -> None:
    """Every accessor of a decoded message raises ProtocolError or nothing."""
    for get in (lambda: m.vias, lambda: m.via, lambda: m.from_, lambda: m.to,
                lambda: m.contact, lambda: m.cseq, lambda: m.call_id, lambda: m.content_type):
        tolerate(get)
    if m.body:
        sd = tolerate(sip.sdp_decode, m.body)
        if sd is not None:
            tolerate(sip.sdp_answer, sd, "10.0.0.1", 1, 1, 1)
            assert sip.sdp_decode(sip.sdp_encode(sd)).address == sd.address
    wire = sip.encode(m)
    assert sip.encode(sip.decode(wire)) == wire             # a fixpoint after one round


def test_fuzz_decode_raises_only_protocol_error():
    rnd = random.Random(SEED)
    bases = _bases()
    accepted = 0
    for _ in range(CASES):
        base = rnd.choice(bases)
        data = _mutate_text(rnd, base) if rnd.random() < 0.5 else mutate(rnd, base)
        m = tolerate(sip.decode, data)
        if m is not None:
            accepted += 1
            _exercise(m)
    assert 0 < accepted < CASES


def test_fuzz_sdp_raises_only_protocol_error():
    rnd = random.Random(SEED + 1)
    for _ in range(CASES):
        base = rnd.choice([SDP_SIPP, RFC4566_EXAMPLE])
        data = _mutate_text(rnd, base) if rnd.random() < 0.5 else mutate(rnd, base)
        tolerate(sip.sdp_decode, data)


# ---- several contact addresses (RFC 6252 C.4) ----

C4_REINVITE = (
    b"INVITE sip:cn@10.0.0.20:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.1.0.50:5060;branch=z9hG4bKc4;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: <sip:mn@10.2.0.100:5060>;tag=mntag\r\n"
    b"To: <sip:cn@10.0.0.20:5060>;tag=cntag\r\n"
    b"Call-ID: c4@10.2.0.100\r\n"
    b"CSeq: 2 INVITE\r\n"
    b"Contact: <sip:mn@10.1.0.50:5060>, <sip:mn@10.3.0.50:5060>\r\n"
    b"m: <sip:mn@10.4.0.50:5060>\r\n"
    b"Content-Length: 0\r\n\r\n")


def test_several_contacts_comma_separated_and_on_several_lines():
    m = sip.decode(C4_REINVITE)
    assert [c.uri.host for c in m.contacts] == ["10.1.0.50", "10.3.0.50", "10.4.0.50"]
    assert m.contact.uri.host == "10.1.0.50"                     # the remote target
    assert sip.decode(sip.encode(m)).contacts == m.contacts
    one = sip.decode(C4_REINVITE.replace(b", <sip:mn@10.3.0.50:5060>", b"")
                     .replace(b"m: <sip:mn@10.4.0.50:5060>\r\n", b""))
    assert len(one.contacts) == 1
    bad = C4_REINVITE.replace(b"<sip:mn@10.3.0.50:5060>", b"<sip:mn@10.3.0.500:5060>")
    with pytest.raises(ProtocolError, match="bad IPv4"):
        sip.decode(bad)                               # every contact is checked, not the first


def test_dialog_reinvite_names_further_contacts_after_its_own():
    d = sip.Dialog("c4@x", "mt", "ct", NameAddr(SipUri("10.2.0.100", 5060, "mn")),
                   NameAddr(SipUri("10.0.0.20", 5060, "cn")), SipUri("10.1.0.50", 5060, "mn"),
                   SipUri("10.0.0.20", 5060, "cn"), 1)
    inv = d.request("INVITE", Via("10.1.0.50", 5060, (("branch", sip.new_branch()),)),
                    also=(SipUri("10.3.0.50", 5060, "mn"), SipUri("10.4.0.50", 5060, "mn")))
    wire = sip.encode(inv)
    assert (b"Contact: <sip:mn@10.1.0.50:5060>, <sip:mn@10.3.0.50:5060>, "
            b"<sip:mn@10.4.0.50:5060>\r\n") in wire
    assert [c.uri.host for c in sip.decode(wire).contacts] == ["10.1.0.50", "10.3.0.50",
                                                                 "10.4.0.50"]
    final = d.request("INVITE", Via("10.1.0.50", 5060, (("branch", sip.new_branch()),)))
    assert len(sip.decode(sip.encode(final)).contacts) == 1 and final.cseq.number == 3
    assert d.request("BYE", Via("10.1.0.50", 5060)).contacts == []
