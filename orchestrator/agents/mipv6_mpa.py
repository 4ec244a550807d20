"""MPA with Mobile IPv6 (RFC 6252 s6.3, s7.3-s7.6, C.5.1's Figure 6): the proactive
handover tunnel over IPv6 and the next access router's part, in user space (pure planes,
run by agents/mipv6_dataplane.py's `DataPlane` in the agents; docs/mipv6.md).

Who does what:
- `NextAccessRouterPlane` (nAR, on the candidate target network): proactive duplicate address
  detection of the MN's nCoA on the CTN link before the MN is there (s7.3: "the nAR ... does
  DAD on behalf of the MN"; RFC 4862 s5.4.2's probe, `dad_timeout` of listening), the nAR end
  of the proactive handover tunnel (s7.4: IPv6-in-IPv6, RFC 2473, between the MN's oCoA and
  the nAR), the buffering module (s6.3 step 4: packets for the nCoA held once the tunnel is
  gone, for at most the buffering period) flushed when the MN announces itself on the CTN link
  with an unsolicited Neighbor Advertisement for its nCoA (RFC 5568 s6.4's UNA).
- `MpaMobileNodePlane` (MN) is the Mobile IPv6 MN of mipv6_dataplane.py with the MN end of the
  tunnel: while it is up, every packet it sends from the nCoA (the proactive binding update to
  the HA, return routability and the BU to the CN, the reverse-tunnelled data) is carried in
  the tunnel from the oCoA to the nAR, and what the nAR tunnels back is unwrapped first.

Pure: `inbound`/`outbound`/`timers` take packets and `now` and return a `Decision`.

Limits (stated, not emulated): the tunnel is IP-in-IP, not IPsec (the kernel has no ESP
transform; RFC 6252 s7.4 allows either); its set-up and the buffering request reach the nAR
through the agents' control channel, not a wire protocol (the IPv4 flows sign them with IKEv2
and the buffering protocol); the UNA that ends the buffering is the MN's real packet.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv6Address, IPv6Network

from ..protocols import icmpv6, ipv6
from .mipv6_dataplane import Decision, MobileNodePlane, _drop, _rule

MAX_BUFFERED = 1000           # packets per nCoA held at most (more are dropped, counted)


@dataclass
class Tunnel:
    ocoa: IPv6Address
    ncoa: IPv6Address
    mn: str
    state: str                      # "dad" (proactive DAD listening), "up", "failed"
    dad_until: float = 0.0


@dataclass
class Buffer:
    ncoa: IPv6Address
    mn: str
    period: float                   # s, the cap from the first packet held
    packets: list[bytes] = field(default_factory=list)
    first_at: float | None = None
    dropped: int = 0


class NextAccessRouterPlane:
    """The nAR's end of MPA for Mobile IPv6 (see the module docstring)."""
    role = "nar"
    EVENTS_AS_IS = ("dad_start", "dad_done", "dad_conflict", "pht_established", "pht_failed",
                    "pht_disabled", "buffering_start", "buffering_flushed")

    def __init__(self, address, prefix: str, ctn_iface: str, *, dad_timeout: float = 1.0):
        self.address = ipv6.address(address)
        self.prefix = IPv6Network(prefix)
        self.ctn_iface = ctn_iface
        self.dad_timeout = dad_timeout
        self.tunnels: dict[IPv6Address, Tunnel] = {}
        self.buffers: dict[IPv6Address, Buffer] = {}

    def rules(self, queue: int, mark: int) -> list[list[str]]:
        return [_rule("PREROUTING", "-d", str(self.address), "-p", "41", queue=queue),
                _rule("PREROUTING", "-d", str(self.prefix), "!", "-i", self.ctn_iface,
                      queue=queue),
                _rule("PREROUTING", "-i", self.ctn_iface, "-p", "icmpv6", "--icmpv6-type",
                      "neighbour-advertisement", queue=queue),
                _rule("PREROUTING", "-i", self.ctn_iface, "-p", "icmpv6", "--icmpv6-type",
                      "neighbour-solicitation", queue=queue)]

    # -- commands (the control channel) ----------------------------------------------
    def open_tunnel(self, ocoa, ncoa, mn: str, now: float) -> Decision:
        """s7.3-s7.4: DAD of the nCoA on the CTN link, then the tunnel is up."""
        ocoa, ncoa = ipv6.address(ocoa), ipv6.address(ncoa)
        if ncoa not in self.prefix:
            return Decision(events=[{"event": "pht_failed", "mn": mn, "ncoa": str(ncoa),
                                     "reason": f"nCoA outside {self.prefix}"}])
        self.tunnels[ncoa] = Tunnel(ocoa, ncoa, mn, "dad", now + self.dad_timeout)
        return Decision(send=[icmpv6.dad_probe(ncoa)],
                        events=[{"event": "dad_start", "mn": mn, "ncoa": str(ncoa),
                                 "method": "proactive", "timeout_ms": self.dad_timeout * 1e3}])

    def close_tunnel(self, ncoa, now: float) -> Decision:
        """s6.3 step 4: the tunnel is disabled; packets for the nCoA now go to the buffer
        if one is armed, else onto the CTN link."""
        t = self.tunnels.pop(ipv6.address(ncoa), None)
        if t is None:
            return Decision()
        return Decision(events=[{"event": "pht_disabled", "mn": t.mn, "ncoa": str(t.ncoa)}])

    def arm(self, ncoa, period: float, mn: str, now: float) -> Decision:
        """s7.6.1: hold packets for the nCoA (once its tunnel is disabled)."""
        ncoa = ipv6.address(ncoa)
        self.buffers[ncoa] = Buffer(ncoa, mn, period)
        return Decision(events=[{"event": "buffering_start", "mn": mn, "ncoa": str(ncoa),
                                 "period_ms": period * 1e3}])

    def flush(self, ncoa, reason: str, now: float) -> Decision:
        buf = self.buffers.pop(ipv6.address(ncoa), None)
        if buf is None:
            return Decision()
        held = 0.0 if buf.first_at is None else (now - buf.first_at) * 1e3
        return Decision(send=list(buf.packets),
                        events=[{"event": "buffering_flushed", "mn": buf.mn,
                                 "ncoa": str(buf.ncoa), "packets": len(buf.packets),
                                 "held_ms": round(held, 3), "dropped": buf.dropped,
                                 "reason": reason}])

    def status(self) -> dict:
        return {"tunnels": {str(n): {"ocoa": str(t.ocoa), "mn": t.mn, "state": t.state}
                            for n, t in self.tunnels.items()},
                "buffers": {str(n): {"mn": b.mn, "held": len(b.packets)}
                            for n, b in self.buffers.items()}}

    # -- packets ---------------------------------------------------------------------
    def outbound(self, packet: bytes, now: float) -> Decision:
        return Decision()

    def timers(self, now: float) -> Decision:
        out = Decision()
        for t in self.tunnels.values():
            if t.state == "dad" and t.dad_until <= now:        # nobody defended it
                t.state = "up"
                out.events += [{"event": "dad_done", "mn": t.mn, "ncoa": str(t.ncoa),
                                "method": "proactive"},
                               {"event": "pht_established", "mn": t.mn, "ncoa": str(t.ncoa),
                                "ocoa": str(t.ocoa), "end": "nar"}]
        for ncoa, buf in list(self.buffers.items()):
            if buf.first_at is not None and buf.first_at + buf.period <= now:
                flushed = self.flush(ncoa, "period expired", now)
                out.send += flushed.send
                out.events += flushed.events
        return out

    def next_timer(self) -> float | None:
        times = [t.dad_until for t in self.tunnels.values() if t.state == "dad"]
        times += [b.first_at + b.period for b in self.buffers.values() if b.first_at is not None]
        return min(times) if times else None

    def inbound(self, packet: bytes, now: float) -> Decision:
        pkt = ipv6.decode(packet)
        chain = ipv6.split(pkt)
        if chain.upper_protocol == ipv6.NH_ICMPV6 and chain.upper[:1] in (b"\x87", b"\x88"):
            return self._neighbor_discovery(packet, now)
        if pkt.dst == self.address and chain.upper_protocol == ipv6.NH_IPV6:   # from the MN
            inner = ipv6.decode(chain.upper)
            t = self.tunnels.get(inner.src)
            if t is None or t.state != "up" or t.ocoa != pkt.src:
                return _drop("pht_dropped", src=str(pkt.src), inner_src=str(inner.src))
            return Decision(payload=chain.upper)
        t = self.tunnels.get(pkt.dst)
        if t is not None and t.state == "up":                # to the MN through the tunnel
            return Decision(payload=ipv6.encapsulate(self.address, t.ocoa, packet))
        buf = self.buffers.get(pkt.dst)
        if buf is not None and t is None:                     # tunnel gone: hold it
            if len(buf.packets) >= MAX_BUFFERED:
                buf.dropped += 1
                return Decision(False)
            if buf.first_at is None:
                buf.first_at = now
            buf.packets.append(bytes(packet))
            return Decision(False)
        return Decision()

    def _neighbor_discovery(self, packet: bytes, now: float) -> Decision:
        """An NA for an nCoA under proactive DAD, or another node's DAD probe for it, is a
        conflict (RFC 4862 s5.4.3-s5.4.4); an unsolicited NA from an nCoA with a buffer is
        the MN announcing itself on the CTN link (RFC 5568 s6.4's UNA): flush."""
        pkt, msg = icmpv6.parse_packet(packet)
        target = getattr(msg, "target", None)
        out = Decision()
        t = self.tunnels.get(target)
        conflict = isinstance(msg, icmpv6.NeighborAdvertisement) or pkt.src.is_unspecified
        if t is not None and t.state == "dad" and conflict:
            t.state = "failed"
            out.events.append({"event": "dad_conflict", "mn": t.mn, "ncoa": str(target),
                               "defended_by": str(pkt.src)})
            out.events.append({"event": "pht_failed", "mn": t.mn, "ncoa": str(target),
                               "reason": "duplicate address"})
        if isinstance(msg, icmpv6.NeighborAdvertisement) and not msg.solicited \
                and target in self.buffers:
            flushed = self.flush(target, "attached", now)
            out.send += flushed.send
            out.events += flushed.events
        return out


class MpaMobileNodePlane(MobileNodePlane):
    """The Mobile IPv6 MN with the MN's end of the proactive handover tunnel (s7.4)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pht: tuple[IPv6Address, IPv6Address, IPv6Address] | None = None  # nAR, nCoA, oCoA
        self.pht_sending = False

    def open_tunnel(self, nar, ncoa, ocoa) -> None:
        self.pht = (ipv6.address(nar), ipv6.address(ncoa), ipv6.address(ocoa))
        self.pht_sending = True

    def close_tunnel(self) -> None:
        """s6.3 step 4, "delete or disable": nothing more goes into the tunnel, but what the
        nAR sent into it before it disabled its end is still unwrapped (packets in flight
        when both ends close within a millisecond), until the MN leaves the link."""
        self.pht_sending = False

    def forget_tunnel(self) -> None:
        """On the new link (post-switching) nothing comes through the old tunnel any more."""
        self.pht, self.pht_sending = None, False

    def own_care_of_addresses(self) -> set:
        """While the tunnel is up, the oCoA still receives what the HA and the CN sent
        before their bindings moved to the nCoA."""
        return super().own_care_of_addresses() | ({self.pht[2]} if self.pht else set())

    def _wrap(self, decision: Decision, payload: bool = False) -> Decision:
        """Every packet from the nCoA into the tunnel while it is up (outer: oCoA -> nAR)."""
        if self.pht is None or not self.pht_sending:
            return decision
        nar, ncoa, ocoa = self.pht

        def wrap(p: bytes) -> bytes:
            return ipv6.encapsulate(ocoa, nar, p) if ipv6.decode(p).src == ncoa else p
        decision.send = [wrap(p) for p in decision.send]
        if payload and decision.payload is not None:
            decision.payload = wrap(decision.payload)
        return decision

    def home_registration(self, care_of_address, now: float) -> Decision:
        return self._wrap(super().home_registration(care_of_address, now))

    def route_optimization(self, correspondent, now: float) -> Decision:
        return self._wrap(super().route_optimization(correspondent, now))

    def timers(self, now: float) -> Decision:
        return self._wrap(super().timers(now))

    def outbound(self, packet: bytes, now: float) -> Decision:
        return self._wrap(super().outbound(packet, now), payload=True)

    def inbound(self, packet: bytes, now: float) -> Decision:
        if self.pht is not None:
            pkt = ipv6.decode(packet)
            nar, _, ocoa = self.pht
            if pkt.src == nar and pkt.dst == ocoa and pkt.next_header == ipv6.NH_IPV6:
                _, inner = ipv6.decapsulate(packet)
                out = self._wrap(super().inbound(inner, now))
                if out.accept and out.payload is None:
                    out.payload = inner
                return out
        return self._wrap(super().inbound(packet, now))


def unsolicited_advertisement(ncoa, mac: str) -> bytes:
    """RFC 4861 s7.2.6 / RFC 5568 s6.4: the MN's NA for its nCoA to all-nodes, Override
    set, with its link-layer address: the nAR learns it and flushes its buffer."""
    return icmpv6.proxy_advertisement(ncoa, ncoa, mac)
