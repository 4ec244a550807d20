"""The mobile node's handover: MPA's pre-switching, switching and post-switching (RFC 6252
s6.3 steps 4-6, s7.6.1, Appendix B), and the non-MPA baseline of C.5.1.

Who does what (the `MobileNode` role calls these; `media` is its SIP UA + RTP receiver):

MPA (`mpa_handover`), after pre-authentication, pre-configuration (an nCoA leased by DHCP,
s7.3.3, and its proactive handover tunnel) and the binding update over the tunnel (s7.5):
  step 4  pre-switching: with buffering, the MN asks the nAR's buffering module to hold
          what arrives for the nCoA (BUFFER_REQUEST over the tunnel, protocols.buffering);
          the nAR disables its end on acknowledging (buffers from then on, s6.3: "once the
          tunnel interface is deleted"), and the MN disables its end and caches the nCoA
          (s6.3 step 4: "delete or disable"; `pht="disable"`, the default: its route into
          the tunnel goes, the IKE_SA is forgotten after the move as without buffering, the
          nAR deletes its end on ATTACHED). `pht="delete"` deletes the tunnel by an IKEv2
          DELETE exchange from the oCoA before the move instead: charon takes 20-28 ms for
          it here, and the nAR's buffer holds that long more (with the RFC's 20 ms period
          that cost packets). Without buffering the tunnel stays up: it "can be deleted
          prior to or after the handover".
  step 5  switching: (re)association and 4-way handshake with the target AP (PSK_ap from
          the MPA-SA: no EAP after the move).
  step 6  post-switching: the cached nCoA goes onto the physical interface (IPv4 has no
          DAD in the kernel; the nAR did it before, Appendix A), default route via the nAR,
          the CTN's address resolution mappings learnt at discovery installed, a gratuitous
          ARP sent (Appendix B); then ATTACHED to the nAR (signed with the MN-AR key): the
          nAR deletes the tunnel if it is still up, stops proxy ARP and flushes its buffer
          to the MN (s7.6.1 "dynamic buffering signals from the MN").
Non-MPA (`nonmpa_handover`): switching first (association, full EAP-TLS, 4-way), then an
on-link DHCP acquisition (the server's own duplicate check, then the MN's DAD as
configured), address, gratuitous ARP, and the binding update (re-INVITE) straight to the
CN: every step after the move (C.5.1).

Events: pre_switching_start/done, pht_deleted, ncoa_cached (step 4); l2_handoff_* and the
802.1X events (step 5); post_switching_start/done, ncoa_assigned, gratuitous_arp,
neighbours_installed (step 6); binding_update_* from the UA.
"""
from __future__ import annotations

import ipaddress
import json
import subprocess
import time

from ..events import EventLog
from .control import CommandError
from .tunnel import ArpPort, run

# the buffering protocol's retransmission: 50, 100, 200, 400, 800 ms (1.55 s in all)
SIGNAL_RTO, SIGNAL_RETRIES = 0.05, 5


def interface_state(iface: str) -> dict:
    """The interface's IPv4 address (with prefix) and the default gateway through it."""
    addrs = json.loads(run(["ip", "-j", "-4", "addr", "show", "dev", iface]).stdout or "[]")
    address = next((f"{a['local']}/{a['prefixlen']}" for link in addrs
                    for a in link.get("addr_info", [])), None)
    routes = json.loads(run(["ip", "-j", "-4", "route", "show", "default", "dev", iface]).stdout
                        or "[]")
    return {"address": address, "gateway": next((r.get("gateway") for r in routes), None)}


def assign(nl, iface: str, address: str, gateway: str | None,
           neighbours: list[dict] = ()) -> None:
    """`address` (with prefix) becomes the interface's only IPv4 address, default route via
    `gateway`, then the target network's known neighbours (Appendix B: {address, mac}). In
    this order: removing the last address drops the interface's routes and neighbour
    entries. `nl` is an rtnl.Rtnl: in-process netlink, ~0.5 ms for all of it where forking
    `ip` cost 4-8 ms on this machine."""
    nl.addr_flush(iface)
    nl.addr_add(iface, address)
    if gateway:
        nl.route_replace("default", gateway=gateway, ifname=iface)
    for n in neighbours:
        nl.neigh_replace(iface, n["address"], n["mac"], "stale")


class Handover:
    """The MN's handover steps; `mn` is the MobileNode role (config, log, preconf, media,
    associate/connect)."""

    def __init__(self, mn):
        self.mn = mn
        self.log: EventLog = mn.log
        self.c = mn.config
        self.home: dict | None = None         # the start network's address and gateway
        self.attached: dict | None = None     # the lease in use after a handover
        self.arp: ArpPort | None = None
        self.nl = None                        # rtnl.Rtnl, opened with the ARP port

    def remember_home(self) -> None:
        """Note the start network's address; open the ARP port ahead of any handover."""
        if self.home is None:
            state = interface_state(self.c["iface"])
            if state["address"]:
                self.home = state
        if self.arp is None:
            from .rtnl import Rtnl
            self.arp = ArpPort(self.c["iface"])
            self.arp.sender()
            self.nl = Rtnl()

    # -- MPA ------------------------------------------------------------------------------
    def mpa(self, ctn: str, ap: str, buffering_period_ms: float | None, timeout: float,
            pht: str = "disable") -> dict:
        from ..protocols import buffering as bp
        from .buffering import request
        self.remember_home()
        preconf = self.mn.preconf
        p = preconf.get(ctn)
        if p is None:
            raise CommandError(f"nothing is pre-configured with {ctn}: pre-configure first")
        if p.method != "dhcp" or p.lease is None:
            raise CommandError(
                "an MPA handover needs an nCoA leased by DHCP (preconfigure method 'dhcp', "
                "s7.3.3): with IKEv2 the address belongs to the IKE_SA, and the nAR's relay "
                "releases it when the tunnel is deleted")
        key = preconf._mn_ar_key(preconf.ctn(ctn))
        sta, iface = self.c["mac"], self.c["iface"]
        nar = (p.ar["address"], self.c["buffering_port"])
        buffering = buffering_period_ms is not None
        if pht not in ("disable", "delete"):
            raise CommandError(f"pht must be 'disable' or 'delete' (s6.3 step 4), not {pht!r}")
        deleted = buffering and pht == "delete"
        times: dict[str, float] = {}

        # step 4: pre-switching
        t0 = time.perf_counter_ns()
        self.log.emit("pre_switching_start", "pre-switching", ctn=p.ctn, ncoa=p.ncoa,
                      buffering=buffering, buffering_period_ms=buffering_period_ms)
        if buffering:
            ack = request(nar, p.ncoa, sta, p.ncoa, key, bp.MessageType.BUFFER_REQUEST,
                          period_ms=int(buffering_period_ms), timeout=SIGNAL_RTO,
                          retries=SIGNAL_RETRIES)
            if ack.status != bp.Status.OK:
                raise CommandError(f"the nAR refused to buffer for {p.ncoa}: {ack.status.name}")
            preconf.hand_over(p.ctn, delete_tunnel=deleted)
            if deleted:
                self.log.emit("pht_deleted", "pre-switching", ctn=p.ctn, ncoa=p.ncoa,
                              ar=p.ar["node"], how="IKEv2 DELETE from the oCoA")
            else:
                preconf.routing.detach_fast(self.nl, p.ncoa)
                self.log.emit("pht_disabled", "pre-switching", ctn=p.ctn, ncoa=p.ncoa,
                              ar=p.ar["node"], reason="pre-switching (route into the tunnel "
                                                        "removed; IKE_SA forgotten after the move)")
        else:
            preconf.hand_over(p.ctn, delete_tunnel=False)
        self.log.emit("ncoa_cached", "pre-switching", ctn=p.ctn, ncoa=p.ncoa)
        self.log.emit("pre_switching_done", "pre-switching", ctn=p.ctn)
        times["pre_switching_ms"] = (time.perf_counter_ns() - t0) / 1e6

        # step 5: switching
        switch = self.mn.handoff(ap, timeout=timeout)

        # step 6: post-switching
        t1 = time.perf_counter_ns()
        self.log.emit("post_switching_start", "post-switching", ctn=p.ctn, ncoa=p.ncoa)
        if not buffering:                      # the nCoA off the tunnel's virtual interface
            preconf.routing.detach_fast(self.nl, p.ncoa)
        prefix = ipaddress.ip_network(p.subnet).prefixlen
        neighbours = preconf.ctn(p.ctn).get("arp", [])
        try:
            assign(self.nl, iface, f"{p.ncoa}/{prefix}", p.router, neighbours)
        except OSError as exc:
            raise CommandError(f"cannot put {p.ncoa} on {iface}: {exc}") from None
        self.log.emit("ncoa_assigned", "post-switching", ncoa=p.ncoa, iface=iface,
                      router=p.router, dad="none (done by the nAR before the move)")
        self.log.emit("neighbours_installed", "post-switching", ctn=p.ctn, iface=iface,
                      entries=len(neighbours))
        self.arp.announce(p.ncoa)
        self.log.emit("gratuitous_arp", "post-switching", address=p.ncoa, iface=iface)
        ack = request(nar, p.ncoa, sta, p.ncoa, key, bp.MessageType.ATTACHED, timeout=SIGNAL_RTO,
                      retries=SIGNAL_RETRIES)
        if ack.status != bp.Status.OK:
            raise CommandError(f"the nAR did not take the attachment signal: {ack.status.name}")
        self.log.emit("post_switching_done", "post-switching", ctn=p.ctn, ncoa=p.ncoa,
                      buffered_packets=ack.packets)
        times["post_switching_ms"] = (time.perf_counter_ns() - t1) / 1e6
        if not deleted:
            preconf.drop_tunnel(p)             # the MN's end: nothing left to say to the nAR
        self.attached = {"ncoa": p.ncoa, "server": p.dhcp_server, "lease": p.lease,
                         "method": "mpa", "ctn": p.ctn, "subnet": p.subnet,
                         "router": p.router, "neighbours": neighbours}
        return {"ncoa": p.ncoa, "buffering": buffering, "pht": pht if buffering else "kept",
                "buffered_packets": ack.packets,
                "switching": switch, **times}

    # -- non-MPA ----------------------------------------------------------------------------
    def nonmpa(self, ap: str, timeout: float) -> dict:
        from .dhcp_client import OnLinkDhcpClient
        self.remember_home()
        iface = self.c["iface"]
        switch = self.mn.handoff(ap, timeout=timeout)          # association + EAP-TLS + 4-way
        t1 = time.perf_counter_ns()
        self.log.emit("post_switching_start", "post-switching", ap=ap)
        self.nl.addr_flush(iface)                              # the oCoA is of no use here
        client = OnLinkDhcpClient(iface, self.c["mac"], self.log)
        try:
            lease = client.acquire(timeout=timeout, dad_probes=int(self.c["dad_probes"]),
                                   dad_interval=float(self.c["dad_interval"]))
        except (CommandError, OSError) as exc:
            raise CommandError(f"no address by DHCP after the move: {exc}") from None
        address = lease["address"]
        if lease["prefixlen"] is None:
            raise CommandError(f"the DHCP server {lease['server']} sent no subnet mask")
        assign(self.nl, iface, f"{address}/{lease['prefixlen']}", lease.get("router"))
        self.log.emit("ncoa_assigned", "post-switching", ncoa=address, iface=iface,
                      router=lease.get("router"), dad=f"{self.c['dad_probes']} probes")
        self.arp.announce(address)
        self.log.emit("gratuitous_arp", "post-switching", address=address, iface=iface)
        self.log.emit("post_switching_done", "post-switching", ncoa=address)
        post_ms = (time.perf_counter_ns() - t1) / 1e6
        self.attached = {"ncoa": address, "server": lease.get("server"), "lease": lease,
                         "method": "dhcp-on-link", "client": client}
        return {"ncoa": address, "lease": {k: v for k, v in lease.items()},
                "switching": switch, "post_switching_ms": post_ms}

    # -- switch-back (RFC 6252 C.1, C.2) ------------------------------------------------------
    def switch_back(self, ap: str, address: str, timeout: float) -> dict:
        """Move to `ap` with the context kept there: `address` "home" (the start network's
        address and route, kept since the MN left it) or "kept" (the nCoA of the last MPA
        handover, its lease and the router kept by the network it returns to, C.2). The
        (re)association uses the PMKSA held for `ap` (PSK_ap of the kept MPA-SA, or the
        start AP's), so no EAP runs when the context is there."""
        self.remember_home()
        iface = self.c["iface"]
        t0 = time.perf_counter_ns()
        switch = self.mn.handoff(ap, timeout=timeout)
        t1 = time.perf_counter_ns()
        self.log.emit("post_switching_start", "post-switching", ap=ap, context=address)
        if address == "home":
            if self.home is None:
                raise CommandError("no start-network address to go back to")
            assign(self.nl, iface, self.home["address"], self.home["gateway"])
            ip = self.home["address"].split("/")[0]
        elif address == "kept":
            a = self.attached
            if a is None or a.get("method") != "mpa":
                raise CommandError("no address kept from an MPA handover to return to")
            prefix = ipaddress.ip_network(a["subnet"]).prefixlen
            assign(self.nl, iface, f"{a['ncoa']}/{prefix}", a["router"], a.get("neighbours", []))
            ip = a["ncoa"]
        else:
            raise CommandError(f"address must be 'home' or 'kept', not {address!r}")
        self.arp.announce(ip)
        self.log.emit("gratuitous_arp", "post-switching", address=ip, iface=iface)
        self.log.emit("post_switching_done", "post-switching", address=ip, context=address)
        done = time.perf_counter_ns()
        return {"address": ip, "switching": switch, "post_switching_ms": (done - t1) / 1e6,
                "delay_ms": (done - t0) / 1e6}

    # -- back to the start ----------------------------------------------------------------
    def release(self) -> dict | None:
        """Give back the address in use after a handover (DHCPRELEASE from it, on link)."""
        a, self.attached = self.attached, None
        if a is None:
            return None
        try:
            if a["method"] == "mpa":
                from .dhcp_client import OnLinkDhcpClient
                lease = a["lease"]
                OnLinkDhcpClient(self.c["iface"], self.c["mac"], self.log).release({
                    "address": str(lease.address), "server": str(lease.server_id or a["server"])})
            else:
                a["client"].release(a["lease"])
            how = "DHCPRELEASE"
        except (OSError, RuntimeError, KeyError, subprocess.SubprocessError) as exc:
            how = f"DHCPRELEASE not sent: {exc}"
        self.log.emit("address_released", "post-switching", ncoa=a["ncoa"], how=how,
                      reason="back to the start network")
        return {"ncoa": a["ncoa"], "how": how}

    def go_home(self) -> dict:
        """The start network's address and route back on the radio interface."""
        if self.home is None:
            return {"address": None}
        assign(self.nl, self.c["iface"], self.home["address"], self.home["gateway"])
        return dict(self.home)
