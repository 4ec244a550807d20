"""Our PPPoE / LCP / CHAP / IPCP frames against two independent implementations:
Wireshark's dissectors (tshark on a pcap of every frame type, no malformed packet, no expert
error, every field read back) and scapy's (each frame parsed by scapy, and frames built by
scapy parsed by us).

The frames come from the real automata (a complete session between a `PppLink` gateway and
client, discovery included, then echo, rejects and termination), plus the frames no
successful session produces (Configure-Nak/Reject, Code-Reject, CHAP Failure, PADS error).
"""
from __future__ import annotations

import random
import shutil
import subprocess
from ipaddress import IPv4Address

import pytest

from orchestrator.protocols import ppp
from orchestrator.protocols import ppp_fsm as f
from orchestrator.protocols.ppp import (PROTO_CHAP, PROTO_IPCP, PROTO_LCP, ChapCode,
                                        ChapPacket, ControlPacket, IpcpOption, LcpCode,
                                        LcpOption, Option, PppoeDiscovery, Tag, TagType)
from tests.analysis.synthetic import write_pcap

HOST, AC = bytes.fromhex("020000000002"), bytes.fromhex("020000000001")


def rng(seed):
    return random.Random(seed).randbytes


def session_frames() -> list[bytes]:
    """Every frame of a session set-up and tear-down, in order, as on the wire."""
    frames: list[bytes] = []
    ac = f.AccessConcentrator(AC, b"pdsn", (b"internet",), rng(1))
    host = f.DiscoveryClient(HOST, b"internet", rng(2))

    def disc(out, to):
        frames.extend(out.frames)
        return [x for fr in out.frames for x in [to.receive(fr, 0)]]

    (o1,) = disc(host.start(0), ac)
    (o2,) = disc(o1, host)
    (o3,) = disc(o2, ac)
    disc(o3, host)
    sid = host.session_id
    gw = f.PppLink(f.LcpPolicy(rng(3), authenticate=True),
                   f.IpcpGatewayPolicy("10.20.0.1", ["10.20.0.53"]), rng(4),
                   authenticator=f.ChapAuthenticator(rng(5)))
    cl = f.PppLink(f.LcpPolicy(rng(6)), f.IpcpClientPolicy(), rng(7),
                   peer=f.ChapPeer(b"mn1", b"mn1-secret"))

    def wire(src, dst, packets):
        for proto, info in packets:
            frames.append(f.session_frame(dst, src, sid, proto, info))

    gq, cq = gw.lower_up(0).packets, cl.lower_up(0).packets
    for _ in range(20):
        wire(AC, HOST, gq)
        wire(HOST, AC, cq)
        ngq, ncq = [], []
        for p, i in cq:
            out = gw.receive(p, i, 0)
            ngq += out.packets
            for e in out.events:
                if e.kind == "chap-response":
                    ngq += gw.chap_verdict(True, 0, "10.20.0.7", b"welcome").packets
        for p, i in gq:
            ncq += cl.receive(p, i, 0).packets
        gq, cq = ngq, ncq
        if not gq and not cq:
            break
    assert cl.ipcp.state == f.State.OPENED
    echo = cl.echo(0).packets
    wire(HOST, AC, echo)
    wire(AC, HOST, gw.receive(*echo[0], 0).packets)
    wire(HOST, AC, [(PROTO_LCP, ControlPacket(LcpCode.DISCARD_REQUEST, 9,
                                              ppp.u32(cl.lcp_policy.magic) + b"x").encode())])
    wire(AC, HOST, gw.receive(0x8057, bytes.fromhex("01010004"), 0).packets)   # Protocol-Reject
    term = cl.close(1.0, b"mobile leaves").packets
    wire(HOST, AC, term)
    wire(AC, HOST, gw.receive(*term[0], 1.0).packets)
    frames.extend(host.terminate().frames)
    return frames


def odd_frames(sid: int = 0x1234) -> list[bytes]:
    """Frames a successful session does not produce."""
    s = lambda proto, pkt: f.session_frame(AC, HOST, sid, proto, pkt.encode())  # noqa: E731
    nak = ControlPacket.configure(LcpCode.CONFIGURE_NAK, 3, [Option(LcpOption.MRU,
                                                                    ppp.u16(1492))])
    rej = ControlPacket.configure(LcpCode.CONFIGURE_REJECT, 4, [Option(LcpOption.ACFC)])
    code_rej = ControlPacket(LcpCode.CODE_REJECT, 5, bytes.fromhex("2a010004"))
    ipcp_rej = ControlPacket.configure(LcpCode.CONFIGURE_REJECT, 6,
                                       [Option(IpcpOption.SECONDARY_DNS, bytes(4))])
    failure = ChapPacket(ChapCode.FAILURE, 7, b"", b"authentication failed")
    pads_err = PppoeDiscovery(ppp.PADS, 0, (Tag(TagType.SERVICE_NAME, b"voice"),
                                            Tag(TagType.SERVICE_NAME_ERROR, b"no voice")))
    return [s(PROTO_LCP, nak), s(PROTO_LCP, rej), s(PROTO_LCP, code_rej), s(PROTO_IPCP, ipcp_rej),
            s(PROTO_CHAP, failure), pads_err.frame(HOST, AC)]


def expected(frame: bytes) -> tuple[str, str]:
    """(layer, code) our decoder reads from a frame: ("pppoed", "9"), ("lcp", "1"), ..."""
    pkt = ppp.decode_frame(frame).packet
    if isinstance(pkt, ppp.PppoeDiscovery):
        return "pppoed", str(pkt.code)
    layer = {PROTO_LCP: "lcp", PROTO_CHAP: "chap", PROTO_IPCP: "ipcp"}[pkt.protocol]
    return layer, str(pkt.information[0])


ALL = session_frames() + odd_frames()


def test_the_corpus_covers_every_frame_type():
    seen = {expected(fr) for fr in ALL}
    assert {("pppoed", str(c)) for c in (ppp.PADI, ppp.PADO, ppp.PADR, ppp.PADS, ppp.PADT)} <= seen
    assert {("lcp", str(c)) for c in range(1, 12)} <= seen
    assert {("chap", str(c)) for c in range(1, 5)} <= seen
    assert {("ipcp", str(c)) for c in range(1, 5)} <= seen


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_dissects_every_frame(tmp_path):
    pcap = tmp_path / "ppp.pcap"
    write_pcap(pcap, [(1_795_000_000 + i / 1000, fr) for i, fr in enumerate(ALL)])

    def tshark(*args):
        done = subprocess.run(["tshark", "-n", "-r", str(pcap), *args], capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return [line.split("\t") for line in done.stdout.splitlines()]

    assert tshark("-Y", "_ws.malformed || _ws.expert.severity >= error") == []
    rows = tshark("-T", "fields", "-e", "frame.protocols", "-e", "pppoe.code",
                  "-e", "ppp.code", "-e", "chap.code", "-e", "pppoe.session_id")
    assert len(rows) == len(ALL)
    for frame, (protocols, pppoe_code, ppp_code, chap_code, sid) in zip(ALL, rows):
        layer, code = expected(frame)
        assert layer in protocols.split(":"), (protocols, layer)
        got = {"pppoed": pppoe_code, "lcp": ppp_code, "ipcp": ppp_code, "chap": chap_code}[layer]
        assert int(got.split(",")[0], 0) == int(code)     # a Protocol-Reject nests a packet
        assert int(sid, 0) == ppp.decode_frame(frame).packet.session_id
    # option values as Wireshark reads them
    ipcp = tshark("-Y", "ipcp && ppp.code == 2", "-T", "fields", "-e", "ipcp.opt.ip_address")
    assert {r[0] for r in ipcp} == {"10.20.0.7", "10.20.0.1"}
    mru = tshark("-Y", "lcp.opt.mru", "-T", "fields", "-e", "ppp.code", "-e", "lcp.opt.mru")
    assert {tuple(r) for r in mru} == {("1", "1492"), ("2", "1492"), ("3", "1492")}
    names = tshark("-Y", "chap.code == 2", "-T", "fields", "-e", "chap.name")
    assert names == [["mn1"]]
    tags = tshark("-Y", "pppoe.code == 0x07", "-T", "fields", "-e", "pppoed.tags.ac_name")
    assert tags == [["pdsn"]]


scapy = pytest.importorskip("scapy.layers.ppp")
from scapy.layers.l2 import Ether  # noqa: E402


def test_scapy_reads_our_frames():
    for frame in ALL:
        pkt = Ether(frame)
        layer, code = expected(frame)
        if layer == "pppoed":
            assert pkt[scapy.PPPoED].code == int(code)
            continue
        ours = ppp.decode_frame(frame).packet
        assert pkt[scapy.PPPoE].sessionid == ours.session_id
        assert pkt[scapy.PPPoE].len == len(ours.information) + 2
        assert pkt[scapy.PPP].proto == ours.protocol
        inner = pkt[scapy.PPP].payload           # PPP_LCP_Configure, PPP_LCP_Echo, ...
        prefix = {"lcp": "PPP_LCP", "ipcp": "PPP_IPCP", "chap": "PPP_CHAP"}[layer]
        assert type(inner).__name__.startswith(prefix), pkt.summary()
        assert inner.code == int(code)
    chap = [Ether(fr) for fr in ALL if expected(fr) == ("chap", "2")][0]
    resp = chap[scapy.PPP_CHAP_ChallengeResponse]
    challenge = next(ppp.ChapPacket.decode(ppp.decode_frame(fr).packet.information).value
                     for fr in ALL if expected(fr) == ("chap", "1"))
    assert resp.value == ppp.chap_md5_response(resp.id, b"mn1-secret", challenge)
    assert resp.optional_name == b"mn1"


def test_we_read_scapy_frames():
    padi = Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:00:02", type=0x8863) / \
        scapy.PPPoED(code=0x09) / scapy.PPPoED_Tags(tag_list=[scapy.PPPoETag(tag_type=0x0101,
                                                                             tag_value=b"")])
    got = ppp.decode_frame(bytes(padi)).packet
    assert got.code == ppp.PADI and got.tag(TagType.SERVICE_NAME) == b""
    lcp = Ether(dst="02:00:00:00:00:01", src="02:00:00:00:00:02", type=0x8864) / \
        scapy.PPPoE(sessionid=0x42) / scapy.PPP(proto=0xC021) / scapy.PPP_LCP_Configure(
            code=1, id=3, options=[scapy.PPP_LCP_MRU_Option(max_recv_unit=1492),
                                   scapy.PPP_LCP_Magic_Number_Option(magic_number=0xCAFE),
                                   scapy.PPP_LCP_Auth_Protocol_Option(auth_protocol=0xC223,
                                                                      algorithm=5)])
    got = ppp.decode_frame(bytes(lcp)).packet
    req = ControlPacket.decode(got.information)
    assert got.session_id == 0x42 and req.identifier == 3
    assert req.options == (Option(LcpOption.MRU, ppp.u16(1492)),
                           Option(LcpOption.MAGIC_NUMBER, ppp.u32(0xCAFE)),
                           Option(LcpOption.AUTH_PROTOCOL, bytes.fromhex("c22305")))
    # our automaton accepts scapy's request as a peer's
    pol = f.LcpPolicy(rng(1))
    assert pol.judge(req.options)[0] == LcpCode.CONFIGURE_ACK
    ipcp = Ether(dst="02:00:00:00:00:01", src="02:00:00:00:00:02", type=0x8864) / \
        scapy.PPPoE(sessionid=0x42) / scapy.PPP(proto=0x8021) / scapy.PPP_IPCP(
            code=3, id=8, options=[scapy.PPP_IPCP_Option_IPAddress(data="10.20.0.7"),
                                   scapy.PPP_IPCP_Option_DNS1(data="10.20.0.53")])
    nak = ControlPacket.decode(ppp.decode_frame(bytes(ipcp)).packet.information)
    client = f.IpcpClientPolicy()
    client.naked(nak.options)
    assert client.address == IPv4Address("10.20.0.7") and client.dns == IPv4Address("10.20.0.53")
    challenge = Ether(dst="02:00:00:00:00:02", src="02:00:00:00:00:01", type=0x8864) / \
        scapy.PPPoE(sessionid=0x42) / scapy.PPP(proto=0xC223) / \
        scapy.PPP_CHAP_ChallengeResponse(code=1, id=0x11, value=bytes(range(16)),
                                         optional_name=b"pdsn")
    peer = f.ChapPeer(b"mn1", b"mn1-secret")
    out = peer.receive(ppp.decode_frame(bytes(challenge)).packet.information, 0)
    resp = ChapPacket.decode(out.packets[0][1])
    assert resp.identifier == 0x11
    assert resp.value == ppp.chap_md5_response(0x11, b"mn1-secret", bytes(range(16)))
