"""The user-space Mobile IPv6 roles without sockets (orchestrator/agents/mipv6_dataplane.py):
packets handed from plane to plane as the kernels would, the decisions checked; the
planes fuzzed (only ProtocolError, which the runner turns into a drop); the stdlib
nfnetlink_queue messages byte for byte."""
from __future__ import annotations

import random
import socket
import struct
from ipaddress import IPv6Address

import pytest

from orchestrator.agents import nfqueue
from orchestrator.agents.mipv6_dataplane import (CorrespondentPlane, HomeAgentPlane,
                                                 MobileNodePlane)
from orchestrator.protocols import icmpv6, ipv6, mipv6
from orchestrator.protocols.errors import ProtocolError
from tests.protocols.test_fuzz_parsers import mutate

HOA, HA, COA, CN = "2001:db8:1::100", "2001:db8:1::1", "2001:db8:2::100", "2001:db8:3::100"
PREFIX = "2001:db8:1::/64"


def udp(src, dst, payload=b"data") -> bytes:
    body = struct.pack("!HHHH", 5000, 6000, 8 + len(payload), 0) + payload
    csum = ipv6.upper_layer_checksum(src, dst, 17, body) or 0xFFFF
    return ipv6.encode(ipv6.Ipv6Packet(src, dst, 17, body[:6] + struct.pack("!H", csum)
                                       + body[8:]))


class World:
    def __init__(self):
        self.mn = MobileNodePlane(HOA, HA, rnd=random.Random(1))
        self.ha = HomeAgentPlane(HA, [PREFIX])
        self.cn = CorrespondentPlane(CN, [PREFIX], kcn=bytes(20), rnd=random.Random(2))
        self.now = 10.0

    def register(self):
        bu = self.mn.home_registration(COA, self.now).send[0]
        d = self.ha.inbound(bu, self.now)
        assert not d.accept and d.actions == [("proxy_nd_add", HOA)]
        d = self.mn.inbound(d.send[0], self.now)
        assert not d.accept and [e["event"] for e in d.events] == ["ba_received",
                                                                     "home_registered"]

    def optimize(self):
        hoti_tunnelled, coti = self.mn.route_optimization(CN, self.now).send
        hoti = self.ha.inbound(hoti_tunnelled, self.now).payload       # decapsulated
        hot = self.cn.inbound(hoti, self.now).send[0]
        hot_tunnelled = self.ha.inbound(hot, self.now).payload          # to the CoA
        assert self.mn.inbound(hot_tunnelled, self.now).events[0]["accepted"]
        cot = self.cn.inbound(coti, self.now).send[0]
        d = self.mn.inbound(cot, self.now)
        bu = d.send[0]
        ba = self.cn.inbound(bu, self.now).send[0]
        d = self.mn.inbound(ba, self.now)
        assert d.events[-1]["event"] == "ro_registered"


def test_bidirectional_tunnel():
    w = World()
    up = udp(HOA, CN)
    d = w.mn.outbound(up, w.now)                      # at home: the kernel's routing
    assert d.accept and d.payload is None
    w.register()
    tunnelled = w.mn.outbound(up, w.now).payload
    outer, inner = ipv6.decapsulate(tunnelled)
    assert (outer.src, outer.dst, inner) == (IPv6Address(COA), IPv6Address(HA), up)
    assert w.ha.inbound(tunnelled, w.now).payload == up
    down = udp(CN, HOA)
    to_mn = w.ha.inbound(down, w.now).payload
    assert ipv6.decode(to_mn).dst == IPv6Address(COA)
    assert w.mn.inbound(to_mn, w.now).payload == down
    # s10.4.5: a reverse-tunnelled packet from another address than the CoA is dropped
    forged = ipv6.encapsulate("2001:db8:9::1", HA, up)
    assert not w.ha.inbound(forged, w.now).accept
    # Neighbor Discovery for the home address is the kernel's (proxy ND), not tunnelled
    ns = icmpv6.packet("2001:db8:1::2", HOA, icmpv6.NeighborSolicitation(HOA))
    d = w.ha.inbound(ns, w.now)
    assert d.accept and d.payload is None
    # a packet for a home address without a binding passes unchanged
    d = w.ha.inbound(udp(CN, "2001:db8:1::200"), w.now)
    assert d.accept and d.payload is None


def test_route_optimization_both_directions():
    w = World()
    w.register()
    w.optimize()
    up = udp(HOA, CN)
    with_hao = w.mn.outbound(up, w.now).payload
    assert ipv6.decode(with_hao).src == IPv6Address(COA)
    assert w.cn.inbound(with_hao, w.now).payload == up
    down = udp(CN, HOA)
    with_rh2 = w.cn.outbound(down, w.now).payload
    assert ipv6.decode(with_rh2).dst == IPv6Address(COA)
    assert w.mn.inbound(with_rh2, w.now).payload == down
    # traffic to another home address or after the binding expired goes the normal way
    assert w.cn.outbound(udp(CN, "2001:db8:1::200"), w.now).payload is None
    later = w.now + 421
    assert w.cn.outbound(down, later).payload is None
    assert ipv6.decode(w.mn.outbound(up, later).payload).next_header == ipv6.NH_IPV6


def test_correspondent_without_binding_sends_binding_error():
    w = World()
    with_hao = mipv6.add_home_address_option(udp(HOA, CN), COA)
    d = w.cn.inbound(with_hao, w.now)
    assert not d.accept
    be = mipv6.parse_mobility_packet(d.send[0])
    assert isinstance(be.message, mipv6.BindingError) and be.dst == IPv6Address(COA)
    assert be.message.status == mipv6.BeStatus.UNKNOWN_BINDING_FOR_HOME_ADDRESS_OPTION
    assert be.message.home_address == IPv6Address(HOA)


def test_mobile_node_refuses_foreign_routing_headers_and_tunnels():
    w = World()
    w.register()
    other = mipv6.add_type2_routing_header(udp(CN, "2001:db8:1::200"), COA)
    assert not w.mn.inbound(other, w.now).accept
    not_from_ha = ipv6.encapsulate(CN, COA, udp(CN, HOA))
    assert not w.mn.inbound(not_from_ha, w.now).accept
    # a HoT that was not tunnelled (direct from the CN) is refused (s11.6.2)
    w.mn.route_optimization(CN, w.now)
    hot = mipv6.mobility_packet(CN, COA, mipv6.HomeTest(0, bytes(8), bytes(8)),
                                routed_home_address=HOA)
    assert not w.mn.inbound(hot, w.now).accept


def test_binding_update_retransmission_and_deregistration():
    w = World()
    w.mn.home_registration(COA, w.now)
    d = w.mn.timers(w.now + 1.5)                       # InitialBindackTimeoutFirstReg
    assert [e["event"] for e in d.events] == ["bu_retransmitted"]
    w.ha.inbound(d.send[0], w.now + 1.6)
    assert w.ha.bindings.lookup(HOA, w.now + 1.6) is not None
    dereg = w.mn.home_registration(HOA, w.now + 2).send[0]    # back home: CoA = HoA
    d = w.ha.inbound(dereg, w.now + 2)
    assert d.actions == [("proxy_nd_del", HOA)] and w.ha.bindings.lookup(HOA, w.now) is None
    assert ipv6.decode(d.send[0]).dst == IPv6Address(HOA)      # BA without RH2
    d = w.ha.timers(w.now + 5000)
    assert d.actions == []


@pytest.mark.parametrize("role", ["mn", "ha", "cn"])
def test_planes_raise_only_protocol_errors(role):
    """The runner drops a packet on ProtocolError; anything else would end the agent."""
    w = World()
    w.register()
    w.optimize()
    corpus = [udp(HOA, CN), udp(CN, HOA), w.mn.outbound(udp(HOA, CN), w.now).payload,
              w.cn.outbound(udp(CN, HOA), w.now).payload,
              ipv6.encapsulate(COA, HA, udp(HOA, CN)), ipv6.encapsulate(HA, COA, udp(CN, HOA)),
              *w.mn.route_optimization(CN, w.now).send,
              w.mn.home_registration(COA, w.now).send[0]]
    plane = {"mn": w.mn, "ha": w.ha, "cn": w.cn}[role]
    fuzz_planes((plane.inbound, plane.outbound), corpus, w.now, 0.01, 0x6275)


def fuzz_planes(handlers, corpus: list[bytes], now: float, step: float, seed: int,
                rounds: int = 3000, tick=None) -> None:
    """Mutated packets of `corpus` into every handler: a Decision or ProtocolError, and a
    rewritten packet that decodes; `tick(now)` after each round (timers)."""
    rnd = random.Random(seed)
    for i in range(rounds):
        data = mutate(rnd, rnd.choice(corpus))
        for handler in handlers:
            try:
                d = handler(data, now + i * step)
            except ProtocolError:
                continue
            assert isinstance(d.accept, bool)
            if d.payload is not None:
                ipv6.decode(d.payload)
        if tick is not None:
            tick(now + i * step)


# ---- nfnetlink_queue messages ------------------------------------------------------------


def test_nfqueue_messages():
    bind = nfqueue.config_bind(7, seq=3)
    length, kind, flags, seq, _ = struct.unpack_from("=IHHII", bind)
    assert (length, kind, seq) == (len(bind), 3 << 8 | 2, 3) and flags == 0x05
    assert bind[16:20] == bytes([socket.AF_UNSPEC, 0, 0, 7])             # nfgenmsg
    assert bind[20:28] == struct.pack("=HH", 8, 1) + bytes([1, 0, 0, socket.AF_INET6])
    v = nfqueue.verdict(7, 0x01020304, True, b"\x60abc")
    assert struct.unpack_from("=HH", v, 16 + 4) == (12, 2)
    assert v[24:32] == struct.pack("!II", 1, 0x01020304)
    assert struct.unpack_from("=HH", v, 32) == (8, 10) and v[36:40] == b"\x60abc"
    drop = nfqueue.verdict(7, 9, False)
    assert drop[24:32] == struct.pack("!II", 0, 9) and len(drop) == 32


def test_nfqueue_packet_parsing():
    hdr = struct.pack("=HH", 11, 1) + struct.pack("!IHB", 42, 0x86DD, 3) + b"\0"
    mark = struct.pack("=HH", 8, 3) + struct.pack("!I", 0x6275)
    payload = struct.pack("=HH", 4 + 5, 10) + b"\x60pkt!" + b"\0\0\0"
    body = struct.pack("!BBH", socket.AF_INET6, 0, 7) + hdr + mark + payload
    pkt = nfqueue.parse_packet(body)
    assert pkt == nfqueue.QueuedPacket(7, 42, nfqueue.HOOK_LOCAL_OUT, b"\x60pkt!", 0x6275)
    assert nfqueue.parse_packet(body[:4]) is None and nfqueue.parse_packet(b"") is None


def test_proxy_neighbour_request_is_what_iproute2_sends():
    # strace of `ip -6 neigh add proxy 2001:db8:1::100 dev X` (iproute2 6.1): 48 octets,
    # NLM_F_REQUEST|ACK|EXCL|CREATE, ndmsg AF_INET6 / NUD_PERMANENT / NTF_PROXY, NDA_DST 20
    from orchestrator.agents import rtnl
    from orchestrator.agents.mipv6_dataplane import proxy_neigh_request
    req = proxy_neigh_request(rtnl.RTM_NEWNEIGH, 0x605, 9, 4, HOA)
    length, kind, flags, seq, pid = struct.unpack_from("=IHHII", req)
    assert (length, kind, flags, seq, pid) == (48, rtnl.RTM_NEWNEIGH, 0x605, 9, 0)
    family, index, state, ntf, ntype = rtnl.NDMSG.unpack_from(req, 16)
    assert (family, index, state, ntf, ntype) == (socket.AF_INET6, 4, 0x80, 0x08, 0)
    assert struct.unpack_from("=HH", req, 28) == (20, rtnl.NDA_DST)
    assert req[32:48] == IPv6Address(HOA).packed


def test_home_agent_duplicate_address_detection():
    """s10.3.1 with RFC 4862 s5.4: a new home address is probed on the home link first."""
    mn = MobileNodePlane(HOA, HA, rnd=random.Random(1))
    ha = HomeAgentPlane(HA, [PREFIX], dad_timeout=1.0)
    bu = mn.home_registration(COA, 10.0).send[0]
    d = ha.inbound(bu, 10.0)
    pkt, ns = icmpv6.parse_packet(d.send[0])
    assert pkt.src.is_unspecified and ns.target == IPv6Address(HOA) and not d.accept
    assert ha.bindings.lookup(HOA, 10.0) is None and ha.next_timer() == 11.0
    assert ha.inbound(bu, 10.2).send == []              # a retransmission waits too
    assert ha.timers(10.9).send == []
    d = ha.timers(11.0)                                  # nobody answered: accepted
    assert [e["event"] for e in d.events] == ["dad_succeeded", "bu_processed"]
    assert d.actions == [("proxy_nd_add", HOA)]
    assert mn.inbound(d.send[0], 11.0).events[-1]["event"] == "home_registered"

    # the address is in use on the home link: the owner's NA is a conflict -> 134
    mn = MobileNodePlane(HOA, HA, rnd=random.Random(2))
    ha = HomeAgentPlane(HA, [PREFIX], dad_timeout=1.0)
    ha.inbound(mn.home_registration(COA, 10.0).send[0], 10.0)
    na = icmpv6.packet("2001:db8:1::2", "ff02::1", icmpv6.NeighborAdvertisement(
        HOA, override=True, options=(icmpv6.TargetLinkLayerAddress("02:00:00:00:00:02"),)))
    d = ha.inbound(na, 10.3)
    assert d.accept and d.payload is None                # the kernel sees it as well
    assert d.events[0] == {"event": "dad_failed", "home": HOA, "defended_by": "2001:db8:1::2"}
    result = mn.inbound(d.send[0], 10.3).events[0]
    assert result["status"] == mipv6.BaStatus.DUPLICATE_ADDRESS_DETECTION_FAILED
    assert result["action"] == "failed" and ha.timers(20.0).send == []
