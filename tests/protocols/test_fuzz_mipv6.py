"""Seeded mutation fuzzing of the IPv6, Mobile IPv6 and Neighbor Discovery parsers, the
data plane's rewrites and the binding caches fed with whatever decodes. As for the other
protocols (test_fuzz_parsers.py): only `ProtocolError` may escape a parser; the caches
never raise; what decodes re-encodes to something that decodes to the same value."""
from __future__ import annotations

import random

import pytest

from orchestrator.protocols import icmpv6, ipv6, mipv6
from orchestrator.protocols.mipv6_state import (BindingUpdateList, CorrespondentBindings,
                                                CorrespondentRR, HomeAgentBindings)
from tests.protocols.test_fuzz_parsers import mutate, tolerate
from tests.protocols.test_mipv6_tshark import CN, COA, HA, HOA, _messages

SEED = 0x6275
CASES = 3000
PACKETS = [pkt for _, pkt, _ in _messages()]
MOBILITY = [pkt for pkt in PACKETS if tolerate(mipv6.parse_mobility_packet, pkt)]


def _mh(pkt: bytes) -> bytes:
    return ipv6.split(ipv6.decode(pkt)).upper


@pytest.mark.parametrize("parser", [ipv6.decode, lambda d: ipv6.split(ipv6.decode(d)),
                                    ipv6.decapsulate, icmpv6.parse_packet,
                                    mipv6.parse_mobility_packet,
                                    lambda d: mipv6.parse_mobility_packet(d, False),
                                    mipv6.apply_home_address_option,
                                    mipv6.apply_type2_routing_header,
                                    lambda d: mipv6.add_home_address_option(d, COA),
                                    lambda d: mipv6.add_type2_routing_header(d, COA)],
                         ids=["decode", "split", "decapsulate", "nd", "mh-packet",
                              "mh-packet-nocsum", "apply-hao", "apply-rh2", "add-hao",
                              "add-rh2"])
def test_fuzz_packet_parsers(parser):
    rnd = random.Random(SEED)
    accepted = 0
    for _ in range(CASES):
        if tolerate(parser, mutate(rnd, rnd.choice(PACKETS))) is not None:
            accepted += 1
    assert accepted < CASES                      # the mutants were not all harmless


def test_fuzz_mobility_header_decode_round_trip():
    rnd = random.Random(SEED + 1)
    decoded = 0
    for _ in range(CASES):
        mh = mutate(rnd, _mh(rnd.choice(MOBILITY)))
        if rnd.random() < 0.5 and len(mh) >= 8:  # keep Header Len consistent half the time
            mh = mh[:1] + bytes([max(1, -(-len(mh) // 8)) - 1]) + mh[2:]
            mh += bytes(-len(mh) % 8)
        msg = tolerate(mipv6.decode, mh)
        if msg is None or isinstance(msg, mipv6.UnknownMessage):
            continue
        decoded += 1
        again = tolerate(mipv6.encode, msg, HOA, CN)
        if again is not None:                    # options may not re-encode (BAD not last)
            assert mipv6.decode(again, HOA, CN) == msg
        tolerate(mipv6.verify_authorization, mh, bytes(20), COA, CN)
    assert decoded > 100


def test_fuzz_nd_options():
    rnd = random.Random(SEED + 2)
    nd = [_mh(p) for p in PACKETS if ipv6.decode(p).next_header == ipv6.NH_ICMPV6]
    for _ in range(CASES):
        tolerate(icmpv6.decode, mutate(rnd, rnd.choice(nd)))


def test_fuzz_binding_caches_never_raise():
    """Whatever a mutated BU decodes to, the HA's and the CN's caches answer or discard."""
    rnd = random.Random(SEED + 3)
    home = HomeAgentBindings(["2001:db8:1::/64"])
    cn = CorrespondentBindings(CN, CorrespondentRR(bytes(20), rnd=random.Random(1)))
    bul = BindingUpdateList(HOA, HA, rnd=random.Random(2))
    bus = [p for p in MOBILITY if isinstance(mipv6.parse_mobility_packet(p).message,
                                             mipv6.BindingUpdate)]
    bas = [p for p in MOBILITY if isinstance(mipv6.parse_mobility_packet(p).message,
                                             mipv6.BindingAck)]
    bul.home_registration(COA, 100, 0.0)
    handled = 0
    for i in range(CASES):
        pkt = tolerate(mipv6.parse_mobility_packet, mutate(rnd, rnd.choice(bus + bas)), False)
        if pkt is None:
            continue
        handled += 1
        now = float(i)
        if isinstance(pkt.message, mipv6.BindingUpdate):
            home.binding_update(pkt.message, pkt.home_address or pkt.src, pkt.src, now,
                                rnd.random() < 0.9)
            cn.binding_update(pkt.message, pkt.mh, pkt.home_address or pkt.src, pkt.src, now)
        elif isinstance(pkt.message, mipv6.BindingAck):
            bul.binding_ack(pkt.message, rnd.choice([HA, CN, pkt.src]), now, pkt.mh)
        bul.retransmissions(now)
        home.expire(now)
    assert handled > 100
