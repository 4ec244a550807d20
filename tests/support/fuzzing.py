"""Seeded mutation fuzzing of every parser that reads bytes from the emulated wire.

One engine, one registry: each `Target` has a corpus of valid inputs (built with the codecs'
own encoders, or real captures), the function that a receive loop applies to a datagram or
frame (decode, then whatever the agent reads of the result), hostile tokens to splice in
(digit runs past Python's int-string limit, deep JSON, non-UTF-8, NUL), and for keyed
protocols a `resign` that makes a mutant authentic again so that it gets past the MAC.

The contract under test (README "Hostile input"): any bytes in -> a value or
`ProtocolError` (subclasses included), never another exception.

    campaign(TARGETS["sip"], 3000, seed=1)  -> Result (counts, exceptions by type, speed)

tests/protocols/test_fuzz_all.py runs a few thousand inputs per target in `make test`;
bench/fuzz.py runs long campaigns (>= 1,000,000 inputs per target).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
import struct
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Callable

from orchestrator.protocols.errors import ProtocolError

# -- the mutation engine ------------------------------------------------------------------

HOSTILE = (b"9" * 5000, b"[" * 3000, b"{\"a\":" * 2000, b"\xff\xfe", b"\xc3\x28", b"\x00",
           b"\r\n", b"\r", b"%", b"\\", b"\"", b"<", b">", b";", b":", b"=", b",",
           b"\xe0\xa5\xa8", b"-1", b"4294967296", b"1e999", b"NaN")


NUMBERS = (b"9" * 5000, b"0" * 4400 + b"1", b"4294967296", b"18446744073709551616", b"-1",
           b"0", b"65536", b"\xd9\xa3")        # ... and an Arabic-Indic digit
_DIGITS = re.compile(rb"[0-9]+")


def mutate(rnd: random.Random, data: bytes, dictionary: tuple[bytes, ...] = ()) -> bytes:
    """One random structural or bit-level mutation of ``data``."""
    b = bytearray(data)
    op = rnd.randrange(12 if dictionary else 9)
    if op == 0 and b:  # truncate
        del b[rnd.randrange(len(b)):]
    elif op == 1 and b:  # flip a few bits
        for _ in range(rnd.randint(1, 4)):
            b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8)
    elif op == 2 and b:  # overwrite bytes
        for _ in range(rnd.randint(1, 8)):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
    elif op == 3:  # insert bytes
        at = rnd.randrange(len(b) + 1)
        b[at:at] = rnd.randbytes(rnd.randint(1, 16))
    elif op == 4 and b:  # delete a slice
        at = rnd.randrange(len(b))
        del b[at:at + rnd.randint(1, 16)]
    elif op == 5 and len(b) >= 2:  # a 16-bit field set to an edge value
        at = rnd.randrange(len(b) - 1)
        value = rnd.choice([0, 1, 2, 3, 4, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000,
                            0xFFFF, len(b), len(b) - 4, len(b) + 1])
        b[at:at + 2] = struct.pack("!H", value % 0x10000)
    elif op == 6:  # random tail
        b += rnd.randbytes(rnd.randint(1, 64))
    elif op == 7:  # pure noise of a similar size
        b = bytearray(rnd.randbytes(rnd.randint(0, max(1, 2 * len(b)))))
    elif op == 8:  # several mutations stacked
        for _ in range(rnd.randint(2, 4)):
            b = bytearray(mutate(rnd, bytes(b), dictionary))
    elif op == 9:  # a dictionary token spliced in
        at = rnd.randrange(len(b) + 1)
        b[at:at] = rnd.choice(dictionary)
    elif op == 10:  # a dictionary token replacing a slice
        at = rnd.randrange(len(b) + 1)
        b[at:at + rnd.randint(1, 12)] = rnd.choice(dictionary)
    else:  # a run of ASCII digits (a number in a text protocol) made hostile
        runs = [m.span() for m in _DIGITS.finditer(b)]
        if runs:
            start, end = rnd.choice(runs)
            b[start:end] = rnd.choice(NUMBERS)
    return bytes(b)


def fix_length(rnd: random.Random, data: bytes, offset: int, base: int) -> bytes:
    """Half the time, make the 16-bit length field at ``offset`` agree with the data again,
    so that the mutant gets past the length check into the deeper parsing."""
    if rnd.random() < 0.5 or len(data) < offset + 2 or not 0 <= len(data) - base <= 0xFFFF:
        return data
    return data[:offset] + struct.pack("!H", len(data) - base) + data[offset + 2:]


def tolerate(fn, *args):
    """Call ``fn``; a ProtocolError means 'rejected' (None); anything else propagates."""
    try:
        return fn(*args)
    except ProtocolError as exc:
        assert isinstance(exc.reason, str) and exc.reason
        return None


@dataclass
class Target:
    name: str
    corpus: list[bytes]
    run: Callable[[bytes], object]
    dictionary: tuple[bytes, ...] = ()
    length_field: tuple[int, int] | None = None     # (offset, base) for fix_length
    resign: Callable[[bytes], bytes] | None = None  # a mutant made authentic again

    def inputs(self, rnd: random.Random):
        words = self.dictionary + HOSTILE
        while True:
            data = mutate(rnd, rnd.choice(self.corpus), words)
            if self.length_field is not None:
                data = fix_length(rnd, data, *self.length_field)
            if self.resign is not None and rnd.random() < 0.5:
                data = self.resign(data)
            yield data


@dataclass
class Result:
    target: str
    inputs: int = 0
    accepted: int = 0
    rejected: int = 0                 # ProtocolError
    seconds: float = 0.0
    slowest_ms: float = 0.0
    others: Counter = field(default_factory=Counter)     # exception type -> count
    examples: dict = field(default_factory=dict)          # exception type -> (input, traceback)

    @property
    def per_second(self) -> float:
        return self.inputs / self.seconds if self.seconds else 0.0


def campaign(target: Target, n: int, seed: int = 0) -> Result:
    """Feed ``n`` mutants of the target's corpus to it; count what comes out."""
    rnd = random.Random(f"{target.name}/{seed}")
    out = Result(target.name)
    gen = target.inputs(rnd)
    clock = time.perf_counter
    t_start = clock()
    for _ in range(n):
        data = next(gen)
        t0 = clock()
        try:
            target.run(data)
            out.accepted += 1
        except ProtocolError:
            out.rejected += 1
        except Exception as exc:  # noqa: BLE001 -- what the campaign counts
            name = type(exc).__name__
            out.others[name] += 1
            out.examples.setdefault(name, (data[:400], traceback.format_exc(limit=6)))
        out.slowest_ms = max(out.slowest_ms, (clock() - t0) * 1e3)
        out.inputs += 1
    out.seconds = clock() - t_start
    return out


# -- targets ----------------------------------------------------------------------------------

TARGETS: dict[str, Target] = {}


def target(name: str, **kw):
    """Register ``corpus() -> (list[bytes], run)`` under ``name``."""
    def register(fn):
        corpus, run = fn()
        TARGETS[name] = Target(name, corpus, run, **kw)
        return fn
    return register


AA, SPA = bytes.fromhex("02000000aa01"), bytes.fromhex("02000000cc01")
PMK, GTK = bytes(range(32)), bytes(range(16, 32))


def _rng(seed: int):
    return random.Random(seed).randbytes


def handshake_frames() -> list[bytes]:
    """The four EAPOL-Key messages of one 4-way handshake (seeded nonces)."""
    from orchestrator.protocols import eapol
    ap = eapol.Authenticator4Way(PMK, AA, SPA, GTK, rng=_rng(1))
    sta = eapol.Supplicant4Way(PMK, AA, SPA, rng=_rng(2))
    msg1 = ap.start()[0][0]
    msg2 = sta.receive(msg1)[0][0]
    msg3 = ap.receive(msg2)[0][0]
    msg4 = sta.receive(msg3)[0][0]
    return [msg1, msg2, msg3, msg4]


def _eap_corpus() -> list[bytes]:
    from orchestrator.protocols import eap
    from orchestrator.protocols.eap_tls import EapTlsMessage
    tls = eap.EapType.TLS
    return [eap.identity_request(1).encode(), eap.identity_response(2, "mn@home.example").encode(),
            eap.request(3, tls, EapTlsMessage(0x20).encode()).encode(),
            eap.response(4, tls, EapTlsMessage(0x80, 5, b"\x16\x03\x01\x00\x00").encode()).encode(),
            eap.request(5, tls, EapTlsMessage(0xC0, 3000, b"\x16" * 40).encode()).encode(),
            eap.nak_response(6, (tls,)).encode(), eap.success(7).encode(),
            eap.failure(8).encode(), eap.request(9, eap.EapType.NOTIFICATION, b"hi").encode()]


@target("eapol", length_field=(2, 4))
def _eapol():
    from orchestrator.protocols import eap, eapol
    corpus = handshake_frames() + [
        eapol.EapolFrame(1, eapol.PacketType.START).encode(),
        eapol.EapolFrame(2, eapol.PacketType.LOGOFF).encode()] + [
        eapol.EapolFrame(2, eapol.PacketType.EAP_PACKET, p).encode() for p in _eap_corpus()]

    def run(data: bytes):
        frame = eapol.EapolFrame.decode(data)
        if frame.packet_type == eapol.PacketType.EAP_PACKET:
            _eap_run(frame.body)
        elif frame.packet_type == eapol.PacketType.KEY:
            _, key = eapol.decode_eapol_key(data)
            eapol.parse_key_data(key.key_data)
    return corpus, run


def _eap_run(data: bytes):
    from orchestrator.protocols import eap
    from orchestrator.protocols.eap_tls import EapTlsMessage, Reassembler
    packet = eap.EapPacket.decode(data)
    if packet.type == eap.EapType.IDENTITY:
        return eap.identity_of(packet)
    if packet.type == eap.EapType.NAK:
        return eap.nak_desired_types(packet)
    if packet.type == eap.EapType.TLS:
        return Reassembler().add(EapTlsMessage.decode(packet.type_data))
    return packet


@target("eap", length_field=(2, 0), dictionary=(b"\xff", b"@", b"\x00\x00\x00\x00"))
def _eap():
    return _eap_corpus(), _eap_run


@target("eapol-4way", length_field=(2, 4))
def _fourway():
    from orchestrator.protocols import eapol
    frames = handshake_frames()

    def run(data: bytes):
        """What the authenticator and the supplicant do with a frame in a handshake."""
        ap = eapol.Authenticator4Way(PMK, AA, SPA, GTK, rng=_rng(1))
        ap.start()
        ap.receive(data)
        sta = eapol.Supplicant4Way(PMK, AA, SPA, rng=_rng(2))
        sta.receive(data)
        sta.receive(frames[0])
        sta.receive(data)
    return frames, run


@target("eap-peer", length_field=(2, 0))
def _eap_peer():
    """The MN's EAP layer: what an authenticator (untrusted) sends it."""
    from orchestrator.protocols import eap
    from orchestrator.protocols.eap_tls import EapPeer, EapTlsPeer
    state = {"peer": None, "uses": 0}

    def run(data: bytes):
        if state["peer"] is None or state["uses"] >= 50:
            state["peer"] = EapPeer(EapTlsPeer("mn@home.example", *_credentials()))
            state["peer"].handle(eap.request(1, eap.EapType.TLS, b"\x20").encode())
            state["uses"] = 0
        state["uses"] += 1
        return state["peer"].handle(data)
    return [p for p in _eap_corpus() if p[0] in (1, 3, 4)], run


_CREDS: list = []


def _credentials() -> tuple[str, str, str]:
    """A throw-away CA and client certificate (cert, key, ca paths)."""
    if not _CREDS:
        import tempfile
        from pathlib import Path

        from orchestrator.deploy.pki import issue_client_cert, make_ca, write_pem
        d = Path(tempfile.mkdtemp(prefix="fuzz-pki-"))
        ca = make_ca("fuzz CA")
        client = issue_client_cert(ca, "mn@home.example")
        mn = write_pem(d, "mn", client.cert, client.key)
        ca_files = write_pem(d, "ca", ca.cert, ca.key)
        _CREDS.extend([str(mn.cert), str(mn.key), str(ca_files.cert)])
    return tuple(_CREDS)


PANA_KEY = bytes(range(20))


def pana_corpus() -> list[bytes]:
    from orchestrator.protocols import pana
    from orchestrator.protocols.pana import Avp, AvpCode, PanaMessage
    par = PanaMessage(pana.MessageType.AUTH, pana.FLAG_R | pana.FLAG_S | pana.FLAG_E, 7, 100, (
        Avp.unsigned32(AvpCode.PRF_ALGORITHM, pana.PRF_HMAC_SHA1),
        Avp.unsigned32(AvpCode.INTEGRITY_ALGORITHM, pana.AUTH_HMAC_SHA1_160)))
    pan = PanaMessage(pana.MessageType.AUTH, pana.FLAG_C, 7, 103, (
        Avp(AvpCode.EAP_PAYLOAD, bytes.fromhex("0205000d")),
        Avp(AvpCode.NONCE, bytes(range(20))),
        Avp.unsigned32(AvpCode.KEY_ID, 1),
        Avp(0x77, b"vendor!", vendor_id=9)))
    ptr = PanaMessage(pana.MessageType.TERMINATION, pana.FLAG_R, 7, 104, (
        Avp.unsigned32(AvpCode.TERMINATION_CAUSE, pana.TerminationCause.LOGOUT),))
    return [PanaMessage(pana.MessageType.CLIENT_INITIATION).encode(), par.encode(),
            pana.sign(pan, PANA_KEY), pana.sign(ptr, PANA_KEY)]


@target("pana", length_field=(2, 0))
def _pana():
    from orchestrator.protocols import pana

    def run(data: bytes):
        msg = pana.PanaMessage.decode(data)
        pana.verify_auth(PANA_KEY, data)
        return msg
    return pana_corpus(), run


@target("pana-paa", length_field=(2, 0))
def _pana_paa():
    """The PAA's session state machine after a PCI (what agents/pana.Paa feeds it)."""
    from orchestrator.protocols.pana_fsm import PaaSession
    corpus = pana_corpus()

    def run(data: bytes):
        fsm = PaaSession(7, rng=_rng(3))
        fsm.start(corpus[0])
        fsm.receive(data)
        fsm.poll()
    return corpus, run


@target("pana-pac", length_field=(2, 0))
def _pana_pac():
    """The PaC's session state machine waiting for the PAA (agents/pana.PaC)."""
    from orchestrator.protocols import eap
    from orchestrator.protocols.pana_fsm import PacSession

    class Peer:   # an EAP peer that answers every request with an identity
        msk, failure_reason = None, None

        def handle(self, req: bytes) -> bytes:
            return eap.identity_response(eap.EapPacket.decode(req).identifier, "mn").encode()
    corpus = pana_corpus()

    def run(data: bytes):
        fsm = PacSession(Peer, preauth=True, rng=_rng(4))
        fsm.start()
        fsm.receive(data)
        fsm.receive(corpus[1])
        fsm.receive(data)
    return corpus, run


def mgmt_corpus() -> list[bytes]:
    from orchestrator.protocols import mgmt
    sta, ap = "02:00:00:00:00:01", "02:00:00:00:00:aa"
    return [mgmt.encode(ap, sta, mgmt.Mgmt("assoc_request", sta, ap, 3, attrs={"t_sent_ns": 5})),
            mgmt.encode(ap, sta, mgmt.Mgmt("sta_associated", sta, ap, 4)),
            mgmt.encode(ap, ap, mgmt.Mgmt("port_status", sta, ap, 9, "ok", {"authorized": True})),
            mgmt.encode(sta, ap, mgmt.Mgmt("disassociated", sta, ap, 0, "link_lost"))]


@target("mgmt", dictionary=(b'"sta":[]', b'"seq":true', b'"attrs":[', b'"type":"authorize"',
                            b'"sta":"zz:00:00:00:00:01"', b"1e400", b'"seq":1.5'))
def _mgmt():
    from orchestrator.protocols import mgmt
    return mgmt_corpus(), mgmt.decode


@target("dhcp", dictionary=(b"\x35\x01\x05", b"\x01\x04\xff\x00\xff\x00", b"\x34\x01\x03",
                            b"\xff", b"\x00" * 8))
def _dhcp():
    from orchestrator.protocols import dhcp
    ack = bytes.fromhex(
        "0201060108e8423500000000000000000a0100880a0100060a02006402a3d69a6a59" + "00" * 10
        + "00" * 192 + "63825363"
        "35010536040a010006330400000e1076040a0100003a04000007083b0400000c4e0104ffffff00"
        "1c040a0100ff03040a010001ff0000000000000000")
    mac = bytes.fromhex("02a3d69a6a59")
    corpus = [ack, dhcp.encode(dhcp.discover(mac, 7, "10.2.0.100", "10.1.0.0/24")),
              dhcp.encode(dhcp.discover_onlink(mac, 8, "10.1.0.5"))]

    def run(data: bytes):
        msg = dhcp.decode(data)
        if msg.message_type == dhcp.MessageType.ACK:
            lease = dhcp.lease_from_ack(msg)
            return lease.network
        return msg
    return corpus, run


@target("dhcp-frame")
def _dhcp_frame():
    from orchestrator.protocols import dhcp
    mac = bytes.fromhex("02a3d69a6a59")
    payload = dhcp.encode(dhcp.discover_onlink(mac, 8, "10.1.0.5"))
    frame = dhcp.udp_frame(payload, mac)

    def run(data: bytes):
        _port, body = dhcp.parse_udp_frame(data)
        return dhcp.decode(body)
    return [frame], run


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


SDP_SIPP = crlf("""v=0
o=user1 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 6000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
""")

# sipp's built-in uac scenario (`sipp -sd uac`) with its keywords filled in
SIPP_INVITE = crlf("""INVITE sip:service@127.0.0.1:5070 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-1-0
From: sipp <sip:sipp@127.0.0.1:5061>;tag=4242SIPpTag001
To: service <sip:service@127.0.0.1:5070>
Call-ID: 1-4242@127.0.0.1
CSeq: 1 INVITE
Contact: sip:sipp@127.0.0.1:5061
Max-Forwards: 70
Subject: Performance Test
Content-Type: application/sdp
Content-Length: %d

""" % len(SDP_SIPP)) + SDP_SIPP

# sipp's built-in uas scenario: its 200 OK (no Max-Forwards, Contact with transport)
SIPP_200 = crlf("""SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK1;rport
From: <sip:mn@127.0.0.1:5061>;tag=aaa
To: <sip:service@127.0.0.1:5070>;tag=4242SIPpTag011
Call-ID: c1@127.0.0.1
CSeq: 1 INVITE
Contact: <sip:127.0.0.1:5070;transport=UDP>
Content-Type: application/sdp
Content-Length: %d

""" % len(SDP_SIPP)) + SDP_SIPP

# RFC 3261 s24.2 F1 (Alice's SDP replaced by ours), with compact forms and a folded line
RFC3261_F1 = crlf("""INVITE sip:bob@biloxi.com SIP/2.0
v: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8
Max-Forwards: 70
t: Bob <sip:bob@biloxi.com>
f: Alice <sip:alice@atlanta.com>
 ;tag=1928301774
i: a84b4c76e66710
CSeq: 314159 INVITE
m: <sip:alice@pc33.atlanta.com>
c: application/sdp
l: %d

""" % len(SDP_SIPP)) + SDP_SIPP


def sip_corpus() -> list[bytes]:
    """Real messages (tests/protocols/test_sip.py decodes them field by field) and a BYE
    with compact headers, an IPv6 Via and quoted-pair escapes."""
    bye = crlf("""BYE sip:mn@10.1.0.5:5060 SIP/2.0
v: SIP/2.0/UDP [::1]:5060;branch=z9hG4bKx
f: "Alice \\"A\\"" <sip:a@h>;tag=1
t: <sip:b@h>;tag=2
i: x
CSeq: 2 BYE
l: 0

""")
    return [SIPP_INVITE, SIPP_200, RFC3261_F1, bye]


@target("sip", dictionary=(b"CSeq: ", b"Content-Length: ", b":5060", b";branch=", b"<sip:",
                           b"\r\n ", b"SIP/2.0/UDP ", b"[", b"]", b"@", b"\t"))
def _sip():
    from orchestrator.protocols import sip

    def run(data: bytes):
        msg = sip.decode(data)
        msg.vias, msg.via, msg.from_, msg.to, msg.contact, msg.cseq, msg.call_id
        msg.via.branch, msg.from_.tag, msg.content_type
        if msg.contact is not None:
            msg.contact.uri.address()
        if msg.content_type == "application/sdp":
            offer = sip.sdp_decode(msg.body)
            sip.sdp_answer(offer, "10.0.0.1", 4000, 1, 1)
        if msg.is_request and msg.method == "INVITE" and msg.to.tag is None:
            sip.response(msg, 200, to_tag="t", body=b"")
            sip.Dialog.for_uas(msg, "t", sip.SipUri("10.0.0.1", 5060, "cn"))
        elif not msg.is_request and msg.to.tag is not None:
            sip.Dialog.for_uac(sip.decode(sip_corpus()[0]), msg)
    return sip_corpus(), run


@target("sdp", dictionary=(b"m=audio ", b"c=IN IP4 ", b"o=", b" 0 ", b"99999999999",
                           b"a=rtpmap:"))
def _sdp():
    from orchestrator.protocols import sip

    def run(data: bytes):
        return sip.sdp_answer(sip.sdp_decode(data), "10.0.0.1", 4000, 1, 1)
    return [SDP_SIPP], run


@target("rtp")
def _rtp():
    from orchestrator.protocols import rtp
    return [bytes.fromhex("80001234" "11223344" "deadbeef" "ffffffff"),
            bytes.fromhex("b2e0ffff" "00000000" "00000001" "00000002" "00000003"
                          "00000004" "bede0001" "01020304" "aa" "000002")], rtp.decode


@target("arp")
def _arp():
    from orchestrator.protocols import arp
    mac = bytes.fromhex("02c5eec641d7")
    return [arp.encode(arp.probe(mac, "10.1.0.165")),
            arp.encode(arp.announcement(mac, "10.1.0.165"))], arp.decode


BUFFERING_KEY = bytes(range(32))


@target("buffering", resign=lambda d: d[:-16] + _hmac16(BUFFERING_KEY, d[:-16]))
def _buffering():
    from orchestrator.protocols import buffering as b
    sta, ncoa = bytes.fromhex("020000000001"), IPv4Address("10.1.2.77")
    msgs = [b.BufferRequest(sta, ncoa, 500, 0x01020304), b.Attached(sta, ncoa, 7),
            b.Ack(sta, 7, b.MessageType.ATTACHED, b.Status.OK, 42)]
    corpus = [b.encode(m, BUFFERING_KEY) for m in msgs] + [
        b.encode(b.Ack(sta, 8, b.MessageType.BUFFER_REQUEST, b.Status.UNKNOWN_STATION), None)]

    def run(data: bytes):
        b.peek(data)
        try:
            return b.decode(data, BUFFERING_KEY)
        except ProtocolError:
            return b.decode_reject(data)
    return corpus, run


def _hmac16(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()[:16]


KEYINSTALL_SECRET = b"paa-ap1-shared-secret"


def _keyinstall_resign(data: bytes) -> bytes:
    from orchestrator.protocols import keyinstall as ki
    _kek, mac_key = ki._keys(KEYINSTALL_SECRET)
    return data[:-32] + ki._mac(mac_key, data[:-32])


@target("keyinstall", resign=_keyinstall_resign)
def _keyinstall():
    from orchestrator.protocols import keyinstall as ki
    ap = bytes.fromhex("02000000aa01")
    req = ki.InstallRequest(ki.TargetKind.ACCESS_POINT, 5, bytes(16), 3600,
                            bytes.fromhex("020000000001"), ap, 1, 2, bytes(32))
    corpus = [ki.encode_request(KEYINSTALL_SECRET, req),
              ki.encode_answer(KEYINSTALL_SECRET, ki.InstallAnswer(
                  ki.TargetKind.ACCESS_POINT, ki.Status.INSTALLED, 5, bytes(16)))]

    def run(data: bytes):
        receiver = ki.Receiver(KEYINSTALL_SECRET, ki.TargetKind.ACCESS_POINT, ap)
        receipt = receiver.handle(data)
        try:
            ki.decode_answer(KEYINSTALL_SECRET, data)
        except ProtocolError:
            pass
        return receipt
    return corpus, run


def _departure_resign(data: bytes) -> bytes:
    from orchestrator.protocols import departure as dn
    return data[:-32] + hmac.new(dn._mac_key(KEYINSTALL_SECRET), data[:-32],
                                 hashlib.sha256).digest()


@target("departure", resign=_departure_resign)
def _departure():
    from orchestrator.protocols import departure as dn
    ap = bytes.fromhex("02000000aa01")
    notice = dn.DepartureNotice(dn.Reason.REASSOCIATED, 5, bytes.fromhex("020000000001"), ap,
                                bytes.fromhex("02000000aa02"))
    corpus = [dn.encode_notice(KEYINSTALL_SECRET, notice),
              dn.encode_ack(KEYINSTALL_SECRET, notice)]

    def run(data: bytes):
        receipt = dn.Receiver(KEYINSTALL_SECRET, ap).handle(data)
        try:
            dn.decode_ack(KEYINSTALL_SECRET, data)
        except ProtocolError:
            pass
        return receipt
    return corpus, run


@target("vici")
def _vici():
    from orchestrator.protocols import vici
    body = vici.encode_packet(vici.EVENT, "child-updown",
                              {"up": "yes", "sa": {"child": {"name": "x", "ts": ["a", "b"]}}})[4:]
    resp = vici.encode_packet(vici.CMD_RESPONSE, None, {"success": "yes", "n": "3"})[4:]

    def run(data: bytes):
        _type, _name, msg = vici.decode_packet(data)
        return vici.text(msg)
    return [body, resp], run


@target("rtnl")
def _rtnl():
    from orchestrator.agents import rtnl
    attr = rtnl.RTATTR.pack(8, rtnl.IFA_LOCAL) + bytes([10, 1, 0, 5])
    body = rtnl.IFADDRMSG.pack(2, 24, 0, 0, 3) + attr
    msg = rtnl.NLMSGHDR.pack(rtnl.NLMSGHDR.size + len(body), 20, 0, 1, 0) + body

    def run(data: bytes):
        out = []
        for m in rtnl.parse_messages(data):
            out.append(rtnl.parse_attrs(m.body))
            out.append(rtnl.parse_ifaddr(m.body))
        return out
    return [msg, msg + msg], run


@target("discovery", dictionary=(b'"address":', b'"10.1.0.5"', b"[]", b"{}", b"null"))
def _discovery():
    from orchestrator.agents import discovery
    networks = [{"name": "net-a", "subnet": "10.1.0.0/24", "aps": []}]
    q = json.dumps({"type": "query", "id": 7, "mn": "mn", "address": "10.2.0.100"}).encode()

    def run(data: bytes):
        return json.dumps(discovery.answer(networks, discovery.decode_query(data)))
    return [q], run


@target("control", dictionary=(b'"args":', b'"cmd":', b"[]", b"{}", b"null", b"\n"))
def _control():
    """The agent's control channel: a request line must get an answer, never an exception
    (a ProtocolError would be one too, so none is expected here)."""
    from orchestrator.agents.control import CommandError, ControlServer

    def handler(cmd: str, args: dict, req_id: str):
        if cmd == "fail":
            raise CommandError("failed")
        return {"cmd": cmd, "args": args}
    server = ControlServer.__new__(ControlServer)
    server.handler, server.loop = handler, None
    lines = [json.dumps({"id": "1", "cmd": "hello", "args": {}}).encode() + b"\n",
             json.dumps({"id": "2", "cmd": "fail", "args": {"a": [1, 2]}}).encode() + b"\n"]

    def run(data: bytes):
        reply = server._answer(data)
        json.dumps(reply, default=str)
        if not isinstance(reply, dict) or "ok" not in reply:
            raise AssertionError(f"control reply without 'ok': {reply!r}")
    return lines, run


# -- parsers of issues 14 (IPv6, Mobile IPv6, ND) and 15 (PPPoE/PPP, RADIUS) --------------------
@target("ipv6-mipv6")
def _ipv6():
    """What the MIPv6 data plane reads off NFQUEUE: IPv6 with extension headers, ND, the
    Mobility Header (corpus: the messages tests/protocols/test_mipv6_tshark.py builds)."""
    from orchestrator.protocols import icmpv6, ipv6, mipv6
    from tests.protocols.test_mipv6_tshark import _messages

    def run(data: bytes):
        packet = ipv6.decode(data)
        upper = ipv6.split(packet)
        if packet.next_header == ipv6.NH_ICMPV6:
            icmpv6.parse_packet(data)
        try:
            ipv6.decapsulate(data)
        except ProtocolError:
            pass
        return upper, mipv6.parse_mobility_packet(data, False)
    return [pkt for _, pkt, _ in _messages()], run


@target("ppp", length_field=(18, 20))
def _ppp():
    """The PPPoE frames the cellular gateway and the mobile read (issue 15)."""
    from orchestrator.protocols import ppp
    from tests.protocols.test_ppp_dissectors import ALL

    def run(data: bytes):
        frame = ppp.decode_frame(data)
        packet = frame.packet
        info = getattr(packet, "information", None)
        if info is not None and getattr(packet, "protocol", None) in (ppp.PROTO_LCP,
                                                                     ppp.PROTO_IPCP):
            ppp.decode_options(ppp.ControlPacket.decode(info).data)
        return frame
    return list(ALL), run


@target("radius", length_field=(2, 0))
def _radius():
    """A RADIUS answer as the cellular gateway's CHAP client reads it."""
    from orchestrator.protocols import radius
    secret, authenticator = b"secret", bytes(16)
    request = radius.access_request(7, authenticator, [(1, b"mn@home.example")], secret)
    accept = radius.RadiusPacket(radius.ACCESS_ACCEPT, 7, authenticator,
                                 ((8, bytes([10, 9, 0, 5])), (18, b"welcome"))).encode()

    def run(data: bytes):
        packet = radius.RadiusPacket.decode(data)
        try:
            radius.verify_answer(data, 7, authenticator, secret)
        except ProtocolError:
            pass
        return radius.framed_ip_address(packet)
    return [request, accept], run
