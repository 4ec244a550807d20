"""Mobile IPv6 in user space: the mobile node's, home agent's and correspondent node's
data plane and mobility signalling (RFC 6275), for kernels without ``CONFIG_IPV6_MIP6``.

What the kernel lacks and what replaces it. Such a kernel drops a packet carrying a Home
Address option or a type 2 routing header with an ICMPv6 Parameter Problem, has no handler
for the Mobility Header and no ip6ip6 tunnel device. Netfilter's PREROUTING hook runs
before the kernel parses extension headers for local delivery, and its LOCAL_OUT hook
before a locally sent packet is routed; an NFQUEUE rule there hands the packet to the
agent, whose verdict may carry a rewritten packet that the kernel then routes and delivers
as if it had arrived (or been sent) that way. The queue is spoken with the standard library
only (`nfqueue`); signalling leaves through one raw socket with IPV6_HDRINCL, marked
(SO_MARK) so that the agent's own packets bypass its LOCAL_OUT rule.

=====  ==========================================  =========================================
node   the kernel hands the agent (ip6tables)      what the agent does with it
=====  ==========================================  =========================================
MN     PREROUTING ``-p 41`` (tunnel from the HA)   s11.3.2: decapsulate, deliver the inner
                                                   packet (to the home address); MH inside
                                                   (HoT, BRR) is signalling
MN     PREROUTING ``-m rt --rt-type 2``            s11.3.3: home address to Destination,
                                                   header removed; a BA/BRR is signalling
MN     PREROUTING ``-p 135`` (CoT, BA, BE)         signalling
MN     LOCAL_OUT ``-s <home address>``             s11.3.1: with a route-optimized binding
                                                   to the destination: source = CoA and a
                                                   Home Address option; else reverse tunnel
                                                   to the HA (ip6ip6 from the CoA)
HA     PREROUTING ``-d <HA> -p 135`` (BU)          s10.3: binding cache, BA with RH2, proxy
                                                   Neighbor Discovery for the home address
HA     PREROUTING ``-d <HA> -p 41``                s10.4.5: decapsulate the reverse tunnel
                                                   (inner source must be bound to the outer
                                                   source), forward the inner packet
HA     PREROUTING ``-d <home prefix>``             s10.4.1: a bound home address' packets
                                                   are tunnelled to the care-of address
CN     PREROUTING ``-d <CN> -p 135``               s9.4-s9.5: HoT/CoT, BU, BA with RH2
CN     PREROUTING ``-m ipv6header --header dst``   s9.3.1: with a binding, home address to
                                                   Source, option removed; else Binding
                                                   Error status 1
CN     LOCAL_OUT ``-d <home prefix>``              s9.3.2: to a bound home address: to the
                                                   care-of address with a type 2 header
=====  ==========================================  =========================================

A Destination Options header is matched with ``-m ipv6header --soft --header dst``, not
``-m dst --dst-opts 201``: the opts match compares the listed option types with the
header's options in order from the first one, padding included, so the PadN that puts the
Home Address option at 8n+6 makes ``--dst-opts 201`` miss (``1,201`` matches; measured).

The role classes (`MobileNodePlane`, `HomeAgentPlane`, `CorrespondentPlane`) are pure:
``inbound``/``outbound`` take a packet and ``now`` and return a `Decision` (accept as is,
accept rewritten, or drop; packets to send; events; proxy-ND actions). `DataPlane` does
the I/O in the node's network namespace: queue, raw socket, rules, timers. Run a role from
a JSON config with ``python -m orchestrator.agents.mipv6_dataplane CONFIG.json``: it prints
``{"event": "ready"}`` and then one JSON event per line, and reads JSON commands from
stdin (``home_registration``, ``route_optimization``, ``stats``, ``stop``).

Limits: no IPsec between MN and HA (the kernel has no ESP transform; RFC 6275 s5.1 asks
for it: stated, not emulated); the HA runs duplicate address detection of a new home
address on the home link only when configured (``dad_timeout``, s10.3.1); no dynamic HA address discovery, mobile prefix
discovery or movement detection (the MN is told its care-of address); packets that grow
past the link MTU by the 24 (HAO, RH2) or 40 (tunnel) octets are fragmented by the sender.
"""
from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from ipaddress import IPv6Address, IPv6Network

from ..protocols import icmpv6, ipv6, mipv6
from ..protocols.errors import ProtocolError
from ..protocols.mipv6_state import (BindingUpdateList, CorrespondentBindings,
                                     CorrespondentRR, HomeAgentBindings, MobileRR)
from .nfqueue import HOOK_LOCAL_OUT, NfQueue
from .rtnl import (ACKED, NDA_DST, NDMSG, NLM_F_CREATE, NLM_F_EXCL, NUD_PERMANENT,
                   RTM_DELNEIGH, RTM_NEWNEIGH, Rtnl, RtnlError, nlmsg, rtattr)

__all__ = ["Decision", "MobileNodePlane", "HomeAgentPlane", "CorrespondentPlane",
           "DataPlane", "main"]

DEFAULT_MARK = 0x6275
ND_TYPES = range(133, 138)
NTF_PROXY = 0x08                         # <linux/neighbour.h>


def proxy_neigh_request(kind: int, flags: int, seq: int, index: int, address) -> bytes:
    """RTM_NEWNEIGH / RTM_DELNEIGH of an IPv6 proxy entry, as ``ip -6 neigh add|del proxy
    ADDRESS dev IF`` sends it: ndmsg(AF_INET6, ifindex, NUD_PERMANENT, NTF_PROXY), NDA_DST."""
    body = NDMSG.pack(socket.AF_INET6, index, NUD_PERMANENT, NTF_PROXY, 0)
    return nlmsg(kind, flags, seq, body + rtattr(NDA_DST, ipv6.address(address).packed))


class ProxyNeighbours(Rtnl):
    """The HA's proxy Neighbor Discovery entries over rtnetlink (RFC 6275 s10.4.1): the
    kernel answers NS for a registered home address with the HA's link-layer address."""

    def proxy(self, ifname: str, address, add: bool) -> None:
        what = f"proxy neighbour {'add' if add else 'del'} {address} dev {ifname}"
        index = self._index(ifname, what)
        kind, flags = ((RTM_NEWNEIGH, ACKED | NLM_F_CREATE | NLM_F_EXCL) if add
                       else (RTM_DELNEIGH, ACKED))
        self._request(lambda seq: proxy_neigh_request(kind, flags, seq, index, address), what)


@dataclass
class Decision:
    """What to do with one queued packet: ``accept`` it (``payload`` replaces it when not
    None) or drop it; ``send`` packets; ``events`` to log; ``actions`` for the runner
    (("proxy_nd_add" | "proxy_nd_del", home address))."""
    accept: bool = True
    payload: bytes | None = None
    send: list[bytes] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    actions: list[tuple[str, str]] = field(default_factory=list)


def _drop(event: str, **fields) -> Decision:
    return Decision(False, events=[{"event": event, **fields}])


def _is_nd(chain: ipv6.Chain) -> bool:
    return chain.upper_protocol == ipv6.NH_ICMPV6 and bool(chain.upper) \
        and chain.upper[0] in ND_TYPES


def _rule(chain: str, *match: str, queue: int) -> list[str]:
    """An ip6tables rule (argv, never a shell string) in the raw table: raw runs before
    connection tracking, which then sees the packet as rewritten."""
    return ["-t", "raw", "-A", chain, *match, "-j", "NFQUEUE", "--queue-num", str(queue),
            "--queue-bypass"]


class MobileNodePlane:
    """RFC 6275 s11: the mobile node away from home."""
    role = "mn"

    def __init__(self, home_address, home_agent, *, lifetime: float = 420.0,
                 ro_lifetime: float = 420.0, rnd=None) -> None:
        self.home_address = ipv6.address(home_address)
        self.home_agent = ipv6.address(home_agent)
        self.care_of_address: IPv6Address | None = None
        self.lifetime = lifetime
        self.ro_lifetime = ro_lifetime
        self.rnd = rnd
        self.bul = BindingUpdateList(self.home_address, self.home_agent, rnd=rnd)
        self.rr: dict[IPv6Address, MobileRR] = {}

    def rules(self, queue: int, mark: int) -> list[list[str]]:
        return [_rule("PREROUTING", "-p", "41", queue=queue),
                _rule("PREROUTING", "-m", "rt", "--rt-type", "2", queue=queue),
                _rule("PREROUTING", "-p", "135", queue=queue),
                _rule("OUTPUT", "-s", str(self.home_address), "-m", "mark", "!", "--mark",
                      str(mark), queue=queue)]

    # -- signalling the MN starts ------------------------------------------------------
    def home_registration(self, care_of_address, now: float) -> Decision:
        """s11.7.1: a BU to the HA from the new care-of address (the care-of address =
        the home address deregisters)."""
        self.care_of_address = ipv6.address(care_of_address)
        bu = self.bul.home_registration(self.care_of_address, self.lifetime, now)
        pkt = mipv6.mobility_packet(self.care_of_address, self.home_agent, bu,
                                    home_address=self.home_address)
        return Decision(send=[pkt], events=[{"event": "bu_sent", "to": str(self.home_agent),
                                             "seq": bu.sequence, "home": True}])

    def route_optimization(self, correspondent, now: float) -> Decision:
        """s11.6.1: HoTI through the reverse tunnel, CoTI directly from the CoA."""
        cn = ipv6.address(correspondent)
        rr = self.rr.setdefault(cn, MobileRR(cn, **({"rnd": self.rnd} if self.rnd else {})))
        hoti = mipv6.mobility_packet(self.home_address, cn, rr.home_test_init())
        coti = mipv6.mobility_packet(self.care_of_address, cn,
                                     rr.care_of_test_init(self.care_of_address))
        return Decision(send=[self._tunnel(hoti), coti],
                        events=[{"event": "rr_started", "cn": str(cn)}])

    def timers(self, now: float) -> Decision:
        out = Decision()
        for dest, bu in self.bul.retransmissions(now):
            out.send.append(mipv6.mobility_packet(self.care_of_address, dest, bu,
                                                  home_address=self.home_address))
            out.events.append({"event": "bu_retransmitted", "to": str(dest),
                               "seq": bu.sequence})
        return out

    def next_timer(self) -> float | None:
        return self.bul.next_timer()

    def _tunnel(self, packet: bytes) -> bytes:
        return ipv6.encapsulate(self.care_of_address, self.home_agent, packet)

    def _ro_binding(self, dst: IPv6Address, now: float) -> bool:
        e = self.bul.entries.get(dst)
        return (e is not None and not e.home_registration and e.acked_at is not None
                and e.expires_at is not None and now < e.expires_at
                and e.care_of_address == self.care_of_address)

    # -- packets the kernel hands over ------------------------------------------------
    def outbound(self, packet: bytes, now: float) -> Decision:
        """LOCAL_OUT, source = home address (s11.3.1)."""
        if self.care_of_address is None or self.care_of_address == self.home_address:
            return Decision()
        pkt = ipv6.decode(packet)
        if self._ro_binding(pkt.dst, now):
            return Decision(payload=mipv6.add_home_address_option(packet, self.care_of_address))
        if self.home_agent in self.bul.entries or self._home_registered(now):
            return Decision(payload=self._tunnel(packet))
        return _drop("dropped_no_binding", dst=str(pkt.dst))

    def own_care_of_addresses(self) -> set:
        """The care-of addresses packets may still be sent to: the current one (a subclass
        adds the one it is leaving while bindings move)."""
        return {self.care_of_address}

    def _home_registered(self, now: float) -> bool:
        return any(e.home_registration and e.acked_at is not None
                   for e in self.bul.entries.values())

    def inbound(self, packet: bytes, now: float) -> Decision:
        pkt = ipv6.decode(packet)
        chain = ipv6.split(pkt)
        if chain.upper_protocol == ipv6.NH_IPV6:                       # s11.3.2
            if pkt.src != self.home_agent or pkt.dst not in self.own_care_of_addresses():
                return _drop("tunnel_dropped", src=str(pkt.src))
            inner = ipv6.decode(chain.upper)
            if inner.dst != self.home_address:
                return _drop("tunnel_dropped", inner_dst=str(inner.dst))
            if ipv6.split(inner).upper_protocol == ipv6.NH_MH:
                return self._signalling(chain.upper, now, tunnelled=True)
            return Decision(payload=chain.upper)
        if any(mipv6.parse_type2_routing_header(h) for h in chain.headers):
            out, home, coa = mipv6.apply_type2_routing_header(packet)   # s11.3.3
            if home != self.home_address or coa not in self.own_care_of_addresses():
                return _drop("rh2_dropped", home=str(home), coa=str(coa))
            if chain.upper_protocol == ipv6.NH_MH:
                return self._signalling(packet, now)
            return Decision(payload=out)
        if chain.upper_protocol == ipv6.NH_MH:
            return self._signalling(packet, now)
        return Decision()

    def _signalling(self, packet: bytes, now: float, tunnelled: bool = False) -> Decision:
        mp = mipv6.parse_mobility_packet(packet)
        msg, src = mp.message, mp.src
        out = Decision(False)
        if isinstance(msg, mipv6.BindingAck):
            result = self.bul.binding_ack(msg, src, now, mp.mh)
            ev = {"event": "ba_received", "from": str(src), "status": msg.status,
                  "seq": msg.sequence, "action": result.action, "reason": result.reason}
            out.events.append(ev)
            if result.action == "resend":
                out.send.append(mipv6.mobility_packet(self.care_of_address, src, result.resend,
                                                      home_address=self.home_address))
            elif result.action == "rerun_rr" and src in self.rr:
                self.rr[src].forget(msg.status)
                out.send += self.route_optimization(src, now).send
            elif result.action == "registered":
                kind = "home_registered" if src == self.home_agent else "ro_registered"
                out.events.append({"event": kind, "peer": str(src),
                                   "lifetime": msg.lifetime_seconds})
        elif isinstance(msg, (mipv6.HomeTest, mipv6.CareOfTest)):
            rr = self.rr.get(src)
            home = isinstance(msg, mipv6.HomeTest)
            if rr is None or home != tunnelled:        # HoT through the HA, CoT direct
                return _drop("test_dropped", type=type(msg).__name__)
            ok = rr.home_test(msg, now) if home else rr.care_of_test(msg, now)
            out.events.append({"event": "hot_received" if home else "cot_received",
                               "cn": str(src), "accepted": ok})
            if ok and rr.ready(self.care_of_address, now):
                bu = self.bul.correspondent_registration(rr, self.care_of_address,
                                                         self.ro_lifetime, now)
                out.send.append(mipv6.mobility_packet(self.care_of_address, src, bu,
                                                      home_address=self.home_address))
                out.events.append({"event": "bu_sent", "to": str(src), "seq": bu.sequence,
                                   "home": False})
        elif isinstance(msg, mipv6.BindingRefreshRequest):
            out.events.append({"event": "brr_received", "from": str(src)})
            if src == self.home_agent:
                out.send += self.home_registration(self.care_of_address, now).send
            elif src in self.rr:
                out.send += self.route_optimization(src, now).send
        else:
            out.events.append({"event": "mh_received", "type": type(msg).__name__,
                               "from": str(src)})
        return out


class HomeAgentPlane:
    """RFC 6275 s10: home registrations, proxy ND and the bidirectional tunnel."""
    role = "ha"

    def __init__(self, address, home_prefixes: list[str], *, dad_timeout: float = 0.0,
                 **binding_options) -> None:
        """``dad_timeout``: how long DAD of a new home address listens on the home link
        (RFC 4862: DupAddrDetectTransmits x RetransTimer, 1 x 1 s by default); 0 skips DAD
        (the BA then comes at once; stated with the results)."""
        self.address = ipv6.address(address)
        self.home_prefixes = [IPv6Network(p) for p in home_prefixes]
        self.bindings = HomeAgentBindings(self.home_prefixes, **binding_options)
        self.dad_timeout = dad_timeout
        # home address -> (BU, its care-of address, when DAD ends)
        self.pending: dict[IPv6Address, tuple[mipv6.BindingUpdate, IPv6Address, float]] = {}

    def rules(self, queue: int, mark: int) -> list[list[str]]:
        me = str(self.address)
        nd = [_rule("PREROUTING", "-p", "icmpv6", "--icmpv6-type", kind, queue=queue)
              for kind in ("neighbour-solicitation", "neighbour-advertisement")]
        rules = (nd if self.dad_timeout > 0 else []) + [
                 _rule("PREROUTING", "-d", me, "-p", "135", queue=queue),
                 _rule("PREROUTING", "-d", me, "-p", "41", queue=queue),
                 ["-t", "raw", "-A", "PREROUTING", "-d", me, "-j", "RETURN"]]
        return rules + [_rule("PREROUTING", "-d", str(p), queue=queue)
                        for p in self.home_prefixes]

    def outbound(self, packet: bytes, now: float) -> Decision:
        return Decision()

    def timers(self, now: float) -> Decision:
        gone = self.bindings.expire(now)
        out = Decision(events=[{"event": "binding_expired", "home": str(e.home_address)}
                               for e in gone],
                       actions=[("proxy_nd_del", str(e.home_address)) for e in gone])
        for home, (bu, coa, deadline) in list(self.pending.items()):
            if deadline <= now:                       # nobody defended it: DAD succeeded
                del self.pending[home]
                out.events.append({"event": "dad_succeeded", "home": str(home)})
                self._answer(out, bu, home, coa, now, dad_succeeded=True)
        return out

    def next_timer(self) -> float | None:
        times = [e.expires_at for e in self.bindings.entries.values()]
        times += [deadline for _, _, deadline in self.pending.values()]
        return min(times) if times else None

    def _neighbor_discovery(self, packet: bytes, now: float) -> Decision:
        """RFC 4862 s5.4.3-s5.4.4 for the home addresses under DAD: an NA for one, or
        another node's DAD probe (NS from ::) for one, is a conflict: BA status 134."""
        out = Decision()
        if not self.pending:
            return out
        try:
            pkt, msg = icmpv6.parse_packet(packet)
        except ProtocolError:
            return out
        conflict = isinstance(msg, icmpv6.NeighborAdvertisement) or (
            isinstance(msg, icmpv6.NeighborSolicitation) and pkt.src.is_unspecified)
        target = getattr(msg, "target", None)
        if conflict and target in self.pending:
            bu, coa, _ = self.pending.pop(target)
            out.events.append({"event": "dad_failed", "home": str(target),
                               "defended_by": str(pkt.src)})
            self._answer(out, bu, target, coa, now, dad_succeeded=False)
        return out

    def inbound(self, packet: bytes, now: float) -> Decision:
        pkt = ipv6.decode(packet)
        chain = ipv6.split(pkt)
        if _is_nd(chain):
            return self._neighbor_discovery(packet, now)
        if pkt.dst == self.address and chain.upper_protocol == ipv6.NH_MH:
            return self._binding_update(packet, now)
        if pkt.dst == self.address and chain.upper_protocol == ipv6.NH_IPV6:   # s10.4.5
            inner = ipv6.decode(chain.upper)
            entry = self.bindings.lookup(inner.src, now)
            if entry is None or entry.care_of_address != pkt.src:
                return _drop("reverse_tunnel_dropped", src=str(pkt.src),
                             inner_src=str(inner.src))
            return Decision(payload=chain.upper)
        entry = self.bindings.lookup(pkt.dst, now)                          # s10.4.1
        if entry is None:
            return Decision()
        return Decision(payload=ipv6.encapsulate(self.address, entry.care_of_address, packet))

    def _binding_update(self, packet: bytes, now: float) -> Decision:
        mp = mipv6.parse_mobility_packet(packet)
        if not isinstance(mp.message, mipv6.BindingUpdate) or mp.home_address is None:
            return _drop("mh_ignored", type=type(mp.message).__name__, src=str(mp.src))
        out = Decision(False)
        pending = self.pending.get(mp.home_address)
        if pending is not None:                   # a retransmission while DAD runs
            self.pending[mp.home_address] = (mp.message, mp.src, pending[2])
            return out
        dad = None if self.dad_timeout > 0 else True
        self._answer(out, mp.message, mp.home_address, mp.src, now, dad)
        return out

    def _answer(self, out: Decision, bu: mipv6.BindingUpdate, home: IPv6Address,
                src: IPv6Address, now: float, dad_succeeded: bool | None) -> None:
        """Run the BU through the cache; add the BA, the events and the proxy-ND action."""
        had = self.bindings.lookup(home, now) is not None
        outcome = self.bindings.binding_update(bu, home, src, now, dad_succeeded)
        out.events.append({"event": "bu_processed", "home": str(home), "coa": str(src),
                           "seq": bu.sequence, "status": outcome.status,
                           "reason": outcome.reason})
        if outcome.dad_pending:                   # RFC 4862 s5.4.2: probe, then listen
            self.pending[home] = (bu, src, now + self.dad_timeout)
            out.send.append(icmpv6.dad_probe(home))
            out.events.append({"event": "dad_started", "home": str(home)})
            return
        if outcome.ack is not None:
            coa = outcome.entry.care_of_address if outcome.entry else src
            routed = None if coa == home else home
            out.send.append(mipv6.mobility_packet(self.address, coa, outcome.ack,
                                                  routed_home_address=routed))
        if outcome.entry is not None and not had:
            out.actions.append(("proxy_nd_add", str(home)))
        elif outcome.entry is None and had and outcome.status == 0:
            out.actions.append(("proxy_nd_del", str(home)))


class CorrespondentPlane:
    """RFC 6275 s9: return routability and route optimization at a correspondent node."""
    role = "cn"

    def __init__(self, address, mobile_prefixes: list[str], *, kcn: bytes | None = None,
                 rnd=None, **binding_options) -> None:
        self.address = ipv6.address(address)
        self.mobile_prefixes = [IPv6Network(p) for p in mobile_prefixes]
        self.rr = CorrespondentRR(kcn, rnd=rnd)
        self.bindings = CorrespondentBindings(self.address, self.rr, **binding_options)

    def rules(self, queue: int, mark: int) -> list[list[str]]:
        return ([_rule("PREROUTING", "-d", str(self.address), "-p", "135", queue=queue),
                 _rule("PREROUTING", "-m", "ipv6header", "--soft", "--header", "dst",
                       queue=queue)]
                + [_rule("OUTPUT", "-d", str(p), "-m", "mark", "!", "--mark", str(mark),
                         queue=queue) for p in self.mobile_prefixes])

    def timers(self, now: float) -> Decision:
        return Decision(events=[{"event": "binding_expired", "home": str(e.home_address)}
                                for e in self.bindings.expire(now)])

    def next_timer(self) -> float | None:
        times = [e.expires_at for e in self.bindings.entries.values()]
        return min(times) if times else None

    def outbound(self, packet: bytes, now: float) -> Decision:
        """s9.3.2: to a bound home address, via the care-of address with a type 2 header."""
        pkt = ipv6.decode(packet)
        entry = self.bindings.lookup(pkt.dst, now)
        if entry is None:
            return Decision()
        return Decision(payload=mipv6.add_type2_routing_header(packet, entry.care_of_address))

    def inbound(self, packet: bytes, now: float) -> Decision:
        pkt = ipv6.decode(packet)
        chain = ipv6.split(pkt)
        if chain.upper_protocol == ipv6.NH_MH and pkt.dst == self.address:
            return self._signalling(packet, now)
        if not any(mipv6.find_home_address(h) for h in chain.headers
                   if h.kind == ipv6.NH_DSTOPTS):
            return Decision()
        out, home, coa = mipv6.apply_home_address_option(packet)            # s9.3.1
        entry = self.bindings.lookup(home, now)
        if entry is None or entry.care_of_address != coa:
            be = mipv6.BindingError(mipv6.BeStatus.UNKNOWN_BINDING_FOR_HOME_ADDRESS_OPTION, home)
            return Decision(False, send=[mipv6.mobility_packet(self.address, coa, be)],
                            events=[{"event": "be_sent", "home": str(home), "to": str(coa)}])
        return Decision(payload=out)

    def _signalling(self, packet: bytes, now: float) -> Decision:
        mp = mipv6.parse_mobility_packet(packet)
        msg, out = mp.message, Decision(False)
        if isinstance(msg, (mipv6.HomeTestInit, mipv6.CareOfTestInit)):
            if mp.home_address is not None:                 # s9.4.1/s9.4.2: discard
                return _drop("test_init_dropped", src=str(mp.src))
            home = isinstance(msg, mipv6.HomeTestInit)
            reply = (self.rr.home_test(msg, mp.src, now) if home
                     else self.rr.care_of_test(msg, mp.src, now))
            out.send.append(mipv6.mobility_packet(self.address, mp.src, reply))
            out.events.append({"event": "hot_sent" if home else "cot_sent", "to": str(mp.src),
                               "nonce_index": reply.nonce_index})
        elif isinstance(msg, mipv6.BindingUpdate) and mp.home_address is not None:
            outcome = self.bindings.binding_update(msg, mp.mh, mp.home_address, mp.src, now)
            out.events.append({"event": "bu_processed", "home": str(mp.home_address),
                               "coa": str(mp.src), "seq": msg.sequence,
                               "status": outcome.status, "reason": outcome.reason})
            if outcome.ack is not None:
                if mp.src == mp.home_address:
                    out.send.append(mipv6.mobility_packet(self.address, mp.src, outcome.ack))
                else:
                    out.send.append(mipv6.mobility_packet(
                        self.address, mp.src, outcome.ack, routed_home_address=mp.home_address))
        else:
            out.events.append({"event": "mh_ignored", "type": type(msg).__name__})
        return out


# ---- I/O -------------------------------------------------------------------------------


class DataPlane:
    """A role's queue, raw socket and rules in the current network namespace."""

    def __init__(self, plane, *, queue: int, mark: int = DEFAULT_MARK,
                 home_link: str | None = None, emit=None) -> None:
        self.plane, self.queue, self.mark = plane, queue, mark
        self.home_link = home_link
        self.emit = emit or (lambda ev: None)
        self.rules = plane.rules(queue, mark)
        self.nfq: NfQueue | None = None
        self.raw: socket.socket | None = None
        self.installed: list[list[str]] = []
        self.rtnl: ProxyNeighbours | None = None
        self.stats = {"queued": 0, "rewritten": 0, "dropped": 0, "sent": 0, "errors": 0,
                      "busy_ns": 0}

    def start(self) -> None:
        self.nfq = NfQueue([self.queue])
        self.raw = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.raw.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, self.mark)
        # our own DAD probes must not come back as another node's (RFC 4862 s5.4.3)
        self.raw.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        if self.home_link:
            self.rtnl = ProxyNeighbours()
            with open(f"/proc/sys/net/ipv6/conf/{self.home_link}/proxy_ndp", "w") as f:
                f.write("1")
            with open(f"/proc/sys/net/ipv6/neigh/{self.home_link}/proxy_delay", "w") as f:
                f.write("0")
        for rule in self.rules:
            subprocess.run(["ip6tables", "-w", *rule], check=True, capture_output=True)
            self.installed.append(rule)

    def stop(self) -> None:
        for rule in reversed(self.installed):
            delete = [("-D" if a == "-A" else a) for a in rule]
            subprocess.run(["ip6tables", "-w", *delete], capture_output=True)
        self.installed.clear()
        if self.nfq:
            self.nfq.close()
        if self.raw:
            self.raw.close()
        if self.rtnl:
            self.rtnl.close()

    def apply(self, decision: Decision) -> None:
        """Send, log and act on a Decision's side effects."""
        for pkt in decision.send:
            self.send(pkt)
        for ev in decision.events:
            self.emit(ev)
        for action, home in decision.actions:
            self._proxy_nd(action, home)

    def send(self, packet: bytes) -> None:
        dst = ipv6.decode(packet).dst
        scope = 0
        if dst.is_multicast or dst.is_link_local:
            scope = socket.if_nametoindex(self.home_link) if self.home_link else 0
        try:
            self.raw.sendto(packet, (str(dst), 0, 0, scope))
            self.stats["sent"] += 1
        except OSError as exc:
            self.stats["errors"] += 1
            self.emit({"event": "send_failed", "dst": str(dst), "error": str(exc)})

    def _proxy_nd(self, action: str, home: str) -> None:
        """s10.4.1: answer NS for the home address on the home link (kernel proxy ND),
        and announce it with an unsolicited NA (Override set)."""
        if not self.home_link:
            return
        verb = "add" if action == "proxy_nd_add" else "del"
        try:
            self.rtnl.proxy(self.home_link, home, verb == "add")
        except RtnlError as exc:
            self.stats["errors"] += 1
            self.emit({"event": "proxy_nd_failed", "home": home, "error": str(exc)})
            return
        if verb == "add":
            with open(f"/sys/class/net/{self.home_link}/address") as f:
                mac = f.read().strip()
            self.send(icmpv6.proxy_advertisement(home, self.plane.address, mac))
        self.emit({"event": f"proxy_nd_{verb}", "home": home})

    def handle_queue(self) -> None:
        for qp in self.nfq.receive():
            t0 = time.perf_counter_ns()
            self.stats["queued"] += 1
            now = time.monotonic()
            try:
                if qp.hook == HOOK_LOCAL_OUT:
                    decision = self.plane.outbound(qp.payload, now)
                else:
                    decision = self.plane.inbound(qp.payload, now)
            except ProtocolError as exc:
                decision = _drop("malformed", reason=exc.reason)
                self.stats["errors"] += 1
            except Exception as exc:  # noqa: BLE001 -- no packet may stop the data plane
                decision = _drop("malformed", reason=f"{type(exc).__name__}: {exc}")
                self.stats["errors"] += 1
            self.nfq.verdict(qp, decision.accept, decision.payload)
            if not decision.accept:
                self.stats["dropped"] += 1
            elif decision.payload is not None:
                self.stats["rewritten"] += 1
            self.stats["busy_ns"] += time.perf_counter_ns() - t0
            self.apply(decision)

    def tick(self) -> float:
        """Run due timers; seconds until the next one (capped at 1 s)."""
        now = time.monotonic()
        self.apply(self.plane.timers(now))
        nxt = self.plane.next_timer()
        return 1.0 if nxt is None else max(0.0, min(1.0, nxt - now))


def build_plane(config: dict):
    role = config["role"]
    if role == "mn":
        return MobileNodePlane(config["home_address"], config["home_agent"],
                               lifetime=config.get("lifetime", 420.0),
                               ro_lifetime=config.get("ro_lifetime", 420.0))
    if role == "ha":
        return HomeAgentPlane(config["address"], config["home_prefixes"],
                              dad_timeout=config.get("dad_timeout", 0.0),
                              max_lifetime=config.get("max_lifetime", 3600.0))
    if role == "cn":
        return CorrespondentPlane(config["address"], config["mobile_prefixes"])
    raise ValueError(f"unknown role {role!r}: mn, ha or cn")


def _command(dp: DataPlane, cmd: dict) -> bool:
    op, now, plane = cmd.get("op"), time.monotonic(), dp.plane
    if op == "home_registration" and isinstance(plane, MobileNodePlane):
        dp.apply(plane.home_registration(cmd["care_of_address"], now))
    elif op == "route_optimization" and isinstance(plane, MobileNodePlane):
        dp.apply(plane.route_optimization(cmd["correspondent"], now))
    elif op == "stats":
        dp.emit({"event": "stats", **dp.stats})
    elif op == "stop":
        return False
    else:
        dp.emit({"event": "bad_command", "command": cmd})
    return True


def main(argv: list[str] | None = None) -> int:
    """``python -m orchestrator.agents.mipv6_dataplane CONFIG.json`` (see the docstring)."""
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0]) as f:
        config = json.load(f)

    def emit(ev: dict) -> None:
        sys.stdout.write(json.dumps({"t_ns": time.perf_counter_ns(), **ev}) + "\n")
        sys.stdout.flush()

    dp = DataPlane(build_plane(config), queue=config["queue"],
                   mark=config.get("mark", DEFAULT_MARK), home_link=config.get("home_link"),
                   emit=emit)
    dp.start()
    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)
    pending = b""
    try:
        emit({"event": "ready", "role": dp.plane.role, "rules": len(dp.installed)})
        running = True
        while running:
            readable, _, _ = select.select([dp.nfq, stdin], [], [], dp.tick())
            if dp.nfq in readable:
                dp.handle_queue()
            if stdin in readable:
                chunk = os.read(stdin, 65536)
                if not chunk:
                    break
                pending += chunk
                while b"\n" in pending and running:
                    line, pending = pending.split(b"\n", 1)
                    if line.strip():
                        try:
                            running = _command(dp, json.loads(line))
                        except (ValueError, KeyError, ProtocolError) as exc:
                            emit({"event": "bad_command", "error": str(exc)})
    finally:
        dp.stop()
        emit({"event": "stopped", **dp.stats})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
