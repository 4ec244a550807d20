"""MPA with Mobile IPv6 without sockets (orchestrator/agents/mipv6_mpa.py): the MN, the nAR,
the HA and the CN planes handing packets to each other as the kernels would, through the
proactive handover tunnel, the nAR's proactive DAD, its buffer and the MN's unsolicited
NA; the nAR plane fuzzed (only ProtocolError)."""
from __future__ import annotations

import random
from ipaddress import IPv6Address

import pytest

from orchestrator.agents.mipv6_dataplane import CorrespondentPlane, HomeAgentPlane
from orchestrator.agents.mipv6_mpa import (MAX_BUFFERED, MpaMobileNodePlane,
                                           NextAccessRouterPlane, unsolicited_advertisement)
from orchestrator.protocols import icmpv6, ipv6, mipv6
from tests.agents.test_mipv6_dataplane_units import fuzz_planes, udp

HOA, HA, CN = "2001:db8:1::100", "2001:db8:1::1", "2001:db8:3::100"
OCOA, NAR, NCOA = "2001:db8:2::100", "2001:db8:4::1", "2001:db8:4::100"
HOME, CTN = "2001:db8:1::/64", "2001:db8:4::/64"
MAC = "02:00:00:00:00:01"


class World:
    def __init__(self, dad_timeout: float = 1.0):
        self.mn = MpaMobileNodePlane(HOA, HA, rnd=random.Random(1))
        self.ha = HomeAgentPlane(HA, [HOME])
        self.cn = CorrespondentPlane(CN, [HOME], kcn=bytes(20), rnd=random.Random(2))
        self.nar = NextAccessRouterPlane(NAR, CTN, "eth0", dad_timeout=dad_timeout)
        self.now = 10.0
        bu = self.mn.home_registration(OCOA, self.now).send[0]           # from the oCoA
        self.mn.inbound(self.ha.inbound(bu, self.now).send[0], self.now)

    def tunnel(self):
        d = self.nar.open_tunnel(OCOA, NCOA, "walker", self.now)
        probe = icmpv6.parse_packet(d.send[0])
        assert probe[0].src == IPv6Address("::") and probe[1].target == IPv6Address(NCOA)
        assert self.nar.timers(self.now + 0.5).events == []              # still listening
        self.now += 1.0
        events = [e["event"] for e in self.nar.timers(self.now).events]
        assert events == ["dad_done", "pht_established"]
        self.mn.open_tunnel(NAR, NCOA, OCOA)

    def through(self, packet: bytes) -> bytes:
        """A packet the nAR receives from the core or from the MN: what it forwards."""
        d = self.nar.inbound(packet, self.now)
        assert d.accept
        return d.payload or packet


def test_proactive_binding_update_through_the_tunnel():
    w = World()
    w.tunnel()
    bu = w.mn.home_registration(NCOA, w.now).send[0]
    outer, inner = ipv6.decapsulate(bu)                  # in the tunnel from the oCoA
    assert (outer.src, outer.dst) == (IPv6Address(OCOA), IPv6Address(NAR))
    forwarded = w.through(bu)
    assert forwarded == inner and ipv6.decode(inner).src == IPv6Address(NCOA)
    ba = w.ha.inbound(forwarded, w.now).send[0]           # to the nCoA, with RH2
    tunnelled = w.through(ba)                             # the nAR tunnels it to the oCoA
    assert ipv6.decode(tunnelled).dst == IPv6Address(OCOA)
    d = w.mn.inbound(tunnelled, w.now)
    assert [e["event"] for e in d.events] == ["ba_received", "home_registered"]
    assert w.ha.bindings.lookup(IPv6Address(HOA), w.now).care_of_address == IPv6Address(NCOA)
    # data both ways: CN -> HA -> (HA tunnel to the nCoA) -> nAR tunnel -> MN
    down = w.ha.inbound(udp(CN, HOA), w.now).payload
    d = w.mn.inbound(w.through(down), w.now)
    assert d.accept and d.payload == udp(CN, HOA)
    up = w.mn.outbound(udp(HOA, CN), w.now).payload       # reverse tunnel inside the PHT
    assert ipv6.decode(up).dst == IPv6Address(NAR)
    assert w.ha.inbound(w.through(up), w.now).payload == udp(HOA, CN)


def test_route_optimization_through_the_tunnel():
    w = World()
    w.tunnel()
    w.mn.inbound(w.through(w.ha.inbound(w.through(
        w.mn.home_registration(NCOA, w.now).send[0]), w.now).send[0]), w.now)
    hoti, coti = w.mn.route_optimization(CN, w.now).send
    hot = w.cn.inbound(w.ha.inbound(w.through(hoti), w.now).payload, w.now).send[0]
    assert w.mn.inbound(w.through(w.ha.inbound(hot, w.now).payload), w.now).events[0]["accepted"]
    cot = w.cn.inbound(w.through(coti), w.now).send[0]
    bu = w.mn.inbound(w.through(cot), w.now).send[0]
    ba = w.cn.inbound(w.through(bu), w.now).send[0]
    assert w.mn.inbound(w.through(ba), w.now).events[-1]["event"] == "ro_registered"
    # the CN now sends to the nCoA with RH2: through the nAR's tunnel to the MN
    rh2 = w.cn.outbound(udp(CN, HOA), w.now).payload
    d = w.mn.inbound(w.through(rh2), w.now)
    assert d.accept and ipv6.decode(d.payload).dst == IPv6Address(HOA)


def test_buffering_after_the_tunnel_and_the_unsolicited_na_flush():
    w = World()
    w.tunnel()
    w.nar.arm(NCOA, 0.05, "walker", w.now)
    in_flight = w.through(udp(CN, NCOA, b"last"))          # into the tunnel just before...
    assert [e["event"] for e in w.nar.close_tunnel(NCOA, w.now).events] == ["pht_disabled"]
    w.mn.close_tunnel()                                     # ...both ends are disabled
    d = w.mn.inbound(in_flight, w.now)
    assert d.accept and d.payload == udp(CN, NCOA, b"last")   # still unwrapped
    assert ipv6.decode(w.mn.home_registration(NCOA, w.now).send[0]).dst == IPv6Address(HA)
    w.mn.forget_tunnel()
    assert not w.mn.inbound(in_flight, w.now).accept        # on the new link: nothing more
    held = [udp(CN, NCOA, bytes([i])) for i in range(3)]
    for p in held:
        assert not w.nar.inbound(p, w.now).accept       # stolen into the buffer
    d = w.nar.inbound(udp(CN, "2001:db8:4::7"), w.now)    # another host: untouched
    assert d.accept and d.payload is None
    w.now += 0.02
    d = w.nar.inbound(unsolicited_advertisement(NCOA, MAC), w.now)
    assert d.accept and d.send == held                    # in arrival order
    [flushed] = d.events
    assert (flushed["event"], flushed["packets"], flushed["reason"]) == \
        ("buffering_flushed", 3, "attached")
    assert flushed["held_ms"] == pytest.approx(20.0)
    assert w.nar.inbound(udp(CN, NCOA), w.now).payload is None     # on the link now


def test_buffer_period_cap_and_limit():
    w = World()
    w.nar.arm(NCOA, 0.05, "walker", w.now)
    assert w.nar.timers(w.now + 10).events == []          # nothing held: no timer
    for i in range(MAX_BUFFERED + 5):
        w.nar.inbound(udp(CN, NCOA, i.to_bytes(2, "big")), w.now)
    assert w.nar.next_timer() == pytest.approx(w.now + 0.05)
    d = w.nar.timers(w.now + 0.05)
    assert len(d.send) == MAX_BUFFERED and d.events[0]["dropped"] == 5
    assert d.events[0]["reason"] == "period expired"


def test_proactive_dad_conflict_and_foreign_tunnel_packets():
    w = World()
    w.nar.open_tunnel(OCOA, NCOA, "walker", w.now)
    defended = icmpv6.packet(NCOA, icmpv6.ALL_NODES,
                             icmpv6.NeighborAdvertisement(NCOA, override=True))
    d = w.nar.inbound(defended, w.now)
    assert [e["event"] for e in d.events] == ["dad_conflict", "pht_failed"]
    assert [e["event"] for e in w.nar.timers(w.now + 5).events] == []     # never up
    w2 = World()
    w2.tunnel()
    spoofed = ipv6.encapsulate("2001:db8:9::9", NAR, udp(NCOA, CN))      # not the oCoA
    assert not w2.nar.inbound(spoofed, w2.now).accept
    assert not w2.nar.inbound(ipv6.encapsulate(OCOA, NAR, udp("2001:db8:4::8", CN)),
                              w2.now).accept
    assert w2.nar.open_tunnel(OCOA, "2001:db8:9::1", "walker", w2.now).events[0]["event"] \
        == "pht_failed"


def test_nar_plane_raises_only_protocol_errors():
    w = World()
    w.tunnel()
    w.nar.arm(NCOA, 0.05, "walker", w.now)
    corpus = [udp(CN, NCOA), ipv6.encapsulate(OCOA, NAR, udp(NCOA, CN)),
              unsolicited_advertisement(NCOA, MAC), icmpv6.dad_probe(NCOA),
              w.mn.home_registration(NCOA, w.now).send[0],
              mipv6.mobility_packet(HA, NCOA, mipv6.BindingRefreshRequest())]
    fuzz_planes((w.nar.inbound, w.mn.inbound), corpus, w.now, 0.001, 0x6252,
                tick=w.nar.timers)
