"""Seeded mutation fuzzing of the PPPoE/PPP/CHAP/IPCP and RADIUS parsers and state machines.

Same mutator as test_fuzz_parsers.py (bit flips, overwrites, truncation, insertion, length
edges, noise) from a seeded `random.Random`, a few thousand inputs per parser. Parsers may
only raise `ProtocolError`; what they accept must re-encode to the same octets. The state
machines (discovery, the RFC 1661 automaton, CHAP, the link) must never raise at all.
"""
from __future__ import annotations

import random

from orchestrator.protocols import ppp, radius
from orchestrator.protocols import ppp_fsm as f
from tests.protocols.test_fuzz_parsers import SEED, fix_length, mutate, tolerate
from tests.protocols.test_ppp_dissectors import ALL, HOST, AC, rng

CASES = 3000
DISCOVERY = [fr for fr in ALL if fr[12:14] == b"\x88\x63"]
SESSION = [fr for fr in ALL if fr[12:14] == b"\x88\x64"]
PAYLOADS = [ppp.decode_frame(fr).packet for fr in SESSION]
CONTROL = [p.information for p in PAYLOADS if p.protocol in (ppp.PROTO_LCP, ppp.PROTO_IPCP)]
CHAP = [p.information for p in PAYLOADS if p.protocol == ppp.PROTO_CHAP]


def _pppoe(frame: bytes) -> bytes:
    return frame[14:]


def test_fuzz_frame_and_pppoe_decoders():
    rnd = random.Random(SEED)
    accepted = 0
    for _ in range(CASES):
        frame = mutate(rnd, rnd.choice(ALL))
        frame = fix_length(rnd, frame, 18, 20) if len(frame) > 20 else frame
        got = tolerate(ppp.decode_frame, frame)
        if got is not None:
            accepted += 1
            pkt = got.packet
            again = ppp.decode_frame(ppp.EthernetFrame(got.dst, got.src,
                                                       int.from_bytes(frame[12:14], "big"),
                                                       pkt.encode()).encode()).packet
            assert again == pkt
    assert accepted > CASES // 20          # the mutants reach past the first checks
    for corpus, decode in ((DISCOVERY, ppp.PppoeDiscovery.decode),
                           (SESSION, ppp.PppoeSession.decode)):
        for _ in range(CASES):
            tolerate(decode, mutate(rnd, _pppoe(rnd.choice(corpus))))


def test_fuzz_control_chap_and_option_decoders():
    rnd = random.Random(SEED + 1)
    for _ in range(CASES):
        data = fix_length(rnd, mutate(rnd, rnd.choice(CONTROL)), 2, 0)
        pkt = tolerate(ppp.ControlPacket.decode, data)
        if pkt is not None:
            length = int.from_bytes(data[2:4], "big")
            assert pkt.encode() == data[:length]
        tolerate(ppp.decode_options, mutate(rnd, rnd.choice(CONTROL))[4:])
    for _ in range(CASES):
        data = fix_length(rnd, mutate(rnd, rnd.choice(CHAP)), 2, 0)
        pkt = tolerate(ppp.ChapPacket.decode, data)
        if pkt is not None:
            assert pkt.encode() == data[:int.from_bytes(data[2:4], "big")]


def test_fuzz_radius_decoder_and_verifier():
    from tests.protocols.test_radius_chap import SECRET, our_request, pyrad_answer
    raw, authenticator = our_request()
    answers = [raw, pyrad_answer(raw, 2, framed="10.20.0.77"), pyrad_answer(raw, 3)]
    rnd = random.Random(SEED + 2)
    forged_ok = 0
    for _ in range(CASES):
        data = fix_length(rnd, mutate(rnd, rnd.choice(answers)), 2, 0)
        tolerate(radius.RadiusPacket.decode, data)
        got = tolerate(radius.verify_answer, data, 42, authenticator, SECRET)
        if got is not None and data not in answers:
            # only padding past Length may differ from a genuine answer
            length = int.from_bytes(data[2:4], "big")
            assert any(data[:length] == a[:length] for a in answers)
            forged_ok += 1
    assert forged_ok < CASES


def _opened_pair():
    gw = f.PppLink(f.LcpPolicy(rng(3), authenticate=True),
                   f.IpcpGatewayPolicy("10.20.0.1", ["10.20.0.53"]), rng(4),
                   authenticator=f.ChapAuthenticator(rng(5)))
    cl = f.PppLink(f.LcpPolicy(rng(6)), f.IpcpClientPolicy(), rng(7),
                   peer=f.ChapPeer(b"mn1", b"mn1-secret"))
    return gw, cl


def test_fuzz_state_machines_never_raise():
    rnd = random.Random(SEED + 3)
    ac = f.AccessConcentrator(AC, b"pdsn", (b"internet",), rng(1))
    hosts = [f.DiscoveryClient(HOST, b"internet", rng(2)) for _ in range(2)]
    hosts[0].start(0)
    pado = ac.receive(hosts[0].start(0).frames[0], 0).frames[0]
    hosts[1].start(0)
    hosts[1].receive(pado, 0)                   # waiting for a PADS
    links = []
    for stage in range(4):                      # fresh, LCP up, in authentication, opened
        gw, cl = _opened_pair()
        gq, cq = gw.lower_up(0).packets, cl.lower_up(0).packets
        for _ in range(stage * 2):
            ngq = [p for x in cq for p in gw.receive(*x, 0).packets]
            ncq = [p for x in gq for p in cl.receive(*x, 0).packets]
            gq, cq = ngq, ncq
        links += [gw, cl]
    t = 0.0
    for _ in range(CASES):
        t += rnd.random()
        frame = mutate(rnd, rnd.choice(ALL))
        for machine in (ac, *hosts):
            machine.receive(frame, t)
            if hasattr(machine, "poll"):
                machine.poll(t)
        payload = tolerate(ppp.decode_frame, frame)
        link = rnd.choice(links)
        if payload is not None and isinstance(payload.packet, ppp.PppoeSession):
            out = link.receive(payload.packet.protocol, payload.packet.information, t)
        else:
            proto = rnd.choice([ppp.PROTO_LCP, ppp.PROTO_IPCP, ppp.PROTO_CHAP, ppp.PROTO_IPV4,
                                0x8057, rnd.randrange(0x10000)])
            out = link.receive(proto, mutate(rnd, rnd.choice(CONTROL + CHAP)), t)
        for ev in out.events:
            if ev.kind == "chap-response":
                link.chap_verdict(rnd.random() < 0.5, t, "10.20.0.9")
        link.poll(t)
        assert all(isinstance(p, int) and isinstance(i, bytes) for p, i in out.packets)
