"""Mobile IPv6 and Router Advertisements inside the mpa-agent (issue 14).

Who does what:
- `PlaneRunner` serves one of agents/mipv6_dataplane.py's roles (MN, HA, CN: pure decisions
  per packet) in a thread of the agent: the NFQUEUE, the raw socket, the ip6tables rules and
  the timers of `DataPlane`, with the commands of the control channel applied under one lock.
  Every event of the plane goes to the agent's event log as `mipv6_<event>` (phase
  binding-update, orchestrator/events.py MIPV6), and can be awaited.
- `MobileIpv6Node` is the MN's part (RFC 6275 s11): the home address on the loopback, the
  home registration from the current care-of address (BU/BA with the HA, s11.7.1), return
  routability and route optimization with a correspondent (s11.6, s11.7.2).
- `RouterAdvertiser` is the gateway's part of RFC 4861 s6.2 on the networks whose YAML asks
  for it: unsolicited Router Advertisements every `interval` (with RFC 6275 s7.3's
  Advertisement Interval option, and s7.1's H flag on a home agent) and an immediate answer
  to a Router Solicitation, spaced by at least MIN_DELAY_BETWEEN_RAS.

The agent's role classes (agents/agent.py) are thin: they read the config and call these.
Standard library only, like the rest of the agent.
"""
from __future__ import annotations

import json
import os
import select
import socket
import struct
import subprocess
import threading
import time
from ipaddress import IPv6Address, IPv6Network

from ..protocols import icmpv6
from ..protocols.errors import ProtocolError
from .health import Loop
from .mipv6_dataplane import DEFAULT_MARK, CorrespondentPlane, DataPlane, HomeAgentPlane
from .mipv6_mpa import MpaMobileNodePlane, NextAccessRouterPlane, unsolicited_advertisement

# RFC 4861 s10 MIN_DELAY_BETWEEN_RAS is 3 s; RFC 6275 s7.5 lets routers serving mobile nodes
# go down to 30 ms (MinDelayBetweenRAs), which is what a handover needs
MIN_DELAY_BETWEEN_RAS = 0.03
ROUTER_LIFETIME = 1800                    # s, RFC 4861 s6.2.1 AdvDefaultLifetime (3 x 600)
# the MN re-solicits a Router Advertisement this often after a move until one comes (RFC 4861
# s10's RtrSolicitationInterval is 4 s; RFC 6275 s11.5.1 lets a mobile node go faster)
RS_INTERVAL = 0.5


def _end_loop(owner) -> None:
    """Stop `owner`'s receive loop (its `_stop` flag, the `_wake_w` end of its wake-up pipe,
    its health `loop`) and wait a little for its thread."""
    owner._stop = True
    os.write(owner._wake_w, b"s")
    owner.loop.stop()
    if owner.loop.thread is not None:
        owner.loop.thread.join(2.0)


class PlaneRunner:
    """A `DataPlane` served by a thread of the agent (see the module docstring)."""

    def __init__(self, plane, log, *, queue: int, mark: int = DEFAULT_MARK,
                 home_link: str | None = None) -> None:
        self.log = log
        self.loop = Loop(f"mipv6-{plane.role}", log)
        self.dp = DataPlane(plane, queue=queue, mark=mark, home_link=home_link,
                            emit=self._emit)
        self._lock = threading.RLock()
        self._cond = threading.Condition()
        self._events: list[dict] = []
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._stop = False

    @property
    def plane(self):
        return self.dp.plane

    def _emit(self, ev: dict) -> None:
        ev = dict(ev)
        name = ev.pop("event")
        # MPA's own events (pht_*, buffering_*, proactive dad_*) keep their names (the
        # runner's analysis reads them for every mobility protocol); the rest are mipv6_*
        logged = name if name in getattr(self.dp.plane, "EVENTS_AS_IS", ()) else f"mipv6_{name}"
        record = self.log.emit(logged, **ev)
        with self._cond:
            self._events.append({"event": name, "mono_ns": record["mono_ns"], **ev})
            del self._events[:-1000]
            self._cond.notify_all()

    def start(self) -> "PlaneRunner":
        self.dp.start()
        self.loop.start(self._serve)
        return self

    def _serve(self) -> None:
        while not self._stop:
            with self._lock:
                timeout = self.dp.tick()
            ready, _, _ = select.select([self.dp.nfq, self._wake_r], [], [], timeout)
            if self.dp.nfq in ready:
                with self._lock:
                    self.dp.handle_queue()       # a packet that raises is dropped there
            if self._wake_r in ready:
                try:
                    while os.read(self._wake_r, 512):
                        pass
                except BlockingIOError:
                    pass

    def mark(self) -> int:
        """A position in the event history: wait_for(..., since=mark) sees what follows."""
        with self._cond:
            return len(self._events) and self._events[-1]["mono_ns"]

    def do(self, action) -> None:
        """Run `action(now)` under the plane's lock, apply the Decision it returns (if any),
        and wake the loop (its timers may have changed)."""
        with self._lock:
            decision = action(time.monotonic())
            if decision is not None:
                self.dp.apply(decision)
        os.write(self._wake_w, b"w")

    def wait_for(self, events: tuple[str, ...], since: int, timeout: float,
                 **match) -> dict | None:
        """The first of `events` recorded after `since` whose fields equal `match`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ev in self._events:
                    if ev["mono_ns"] > since and ev["event"] in events and \
                            all(ev.get(k) == v for k, v in match.items()):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def stats(self) -> dict:
        with self._lock:
            return dict(self.dp.stats)

    def stop(self) -> None:
        _end_loop(self)
        with self._lock:
            self.dp.stop()


def global_addresses(ifname: str) -> list[dict]:
    """The interface's global IPv6 addresses (iproute2's JSON): address, prefixlen,
    tentative (DAD not finished)."""
    out = subprocess.run(["ip", "-j", "-6", "addr", "show", "dev", ifname, "scope", "global"],
                         capture_output=True, text=True, timeout=5)
    if out.returncode != 0:
        return []
    try:
        links = json.loads(out.stdout or "[]")
    except ValueError:
        return []
    return [{"address": a["local"], "prefixlen": a["prefixlen"],
             "tentative": bool(a.get("tentative"))}
            for ln in links for a in ln.get("addr_info", []) if a.get("family") == "inet6"]


class MobileIpv6Node:
    """The MN's Mobile IPv6 (RFC 6275 s11): see the module docstring. `config` is the
    agent's `mipv6_mn`: home_address, home_agent, home_prefix, lifetime, queue, iface,
    correspondents {name: address}."""

    def __init__(self, config: dict, log) -> None:
        self.config, self.log = config, log
        self._forget: list[str] | None = None      # pre-switching -> post-switching
        self.home_address = str(IPv6Address(config["home_address"]))
        self.iface = config.get("iface", "wlan0")
        # s11.3.1: the home address stays the MN's own while away; on the loopback (a /128,
        # no DAD) applications bind it and the kernel owns it
        subprocess.run(["ip", "-6", "addr", "replace", f"{self.home_address}/128", "dev", "lo",
                        "nodad"], check=True, capture_output=True, timeout=5)
        plane = MpaMobileNodePlane(self.home_address, config["home_agent"],
                                lifetime=float(config.get("lifetime", 420.0)),
                                ro_lifetime=float(config.get("ro_lifetime", 420.0)))
        self.runner = PlaneRunner(plane, log, queue=int(config.get("queue", 63))).start()
        self.receiver = None
        if config.get("media_log"):
            # the correspondent's stream to the home address (C.5.1's 16 ms RTP), logged
            # like the SIP flows' receiver: experiment/media.py reads one format
            from .sip_ua import RtpReceiver
            self.receiver = RtpReceiver((self.home_address, int(config.get("media_port", 4000))),
                                        config["media_log"])

    def movement(self, timeout: float) -> dict:
        """After a layer-2 handoff (RFC 6275 s11.5.1, movement detection; RFC 4861 s6.3.7):
        forget what the previous link taught (its routers, its prefix and the address formed
        from it: unreachable from here), solicit a Router Advertisement, and wait until the
        kernel has formed an address from the advertised prefix and finished its duplicate
        address detection (RFC 4862 s5.4). Returns the new care-of address and the times."""
        t0 = time.perf_counter_ns()
        old = self.runner.plane.care_of_address
        forget_link(self.iface)
        self.log.emit("address_request", "post-switching", method="slaac", iface=self.iface,
                      previous=str(old) if old else None)
        prefix, t_ra = solicit_router(self.iface, timeout)
        if prefix is None:
            self.log.emit("address_failed", "post-switching", reason="no router advertisement")
            raise RuntimeError(f"no Router Advertisement on {self.iface} within {timeout:g}s")
        self.log.emit("dad_start", "post-switching", method="kernel", prefix=str(prefix))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [a for a in global_addresses(self.iface)
                     if IPv6Address(a["address"]) in prefix]
            if found and not found[0]["tentative"]:
                ncoa = found[0]["address"]
                t1 = time.perf_counter_ns()
                self.log.emit("dad_done", "post-switching", address=ncoa)
                self.log.emit("address_acquired", "post-switching", address=ncoa,
                              method="slaac", ra_ms=round((t_ra - t0) / 1e6, 3),
                              elapsed_ms=round((t1 - t0) / 1e6, 3))
                # (no `ncoa` attr: the stream arrives at the home address, so experiment/media.py
                # takes the first packet after the move as the L3 handoff's end)
                self.log.emit("ncoa_assigned", "post-switching", care_of_address=ncoa,
                              iface=self.iface)
                return {"ncoa": ncoa, "prefix": str(prefix), "ra_ms": round((t_ra - t0) / 1e6, 3),
                        "elapsed_ms": round((t1 - t0) / 1e6, 3)}
            time.sleep(0.005)
        self.log.emit("address_failed", "post-switching", reason="no address formed")
        raise RuntimeError(f"no address from {prefix} on {self.iface} within {timeout:g}s")

    def care_of_address(self, ifname: str | None = None) -> str | None:
        """A global, non-tentative address of the interface outside the home prefix."""
        home = IPv6Network(self.config["home_prefix"])
        for a in global_addresses(ifname or self.iface):
            if not a["tentative"] and IPv6Address(a["address"]) not in home:
                return a["address"]
        return None

    def register(self, care_of_address: str | None, timeout: float) -> dict:
        """s11.7.1: BU to the HA from the care-of address, until its BA (or `timeout`)."""
        coa = care_of_address or self.care_of_address()
        if coa is None:
            raise RuntimeError(f"no care-of address on {self.iface}: no global IPv6 address "
                               "outside the home prefix (yet)")
        since = self.runner.mark()
        t0 = time.perf_counter_ns()
        self.runner.do(lambda now: self.runner.plane.home_registration(coa, now))
        ba = self.runner.wait_for(("ba_received",), since, timeout,
                                  **{"from": self.runner.plane.home_agent.compressed})
        return self._outcome(ba, "home registration", coa, t0)

    def route_optimization(self, correspondent: str, timeout: float) -> dict:
        """s11.6-s11.7.2: HoTI (reverse tunnel) and CoTI, HoT and CoT, BU with its
        Authenticator to the CN, until the CN's BA."""
        cn = self.config.get("correspondents", {}).get(correspondent, correspondent)
        cn = str(IPv6Address(cn))
        plane = self.runner.plane
        if plane.care_of_address is None:
            raise RuntimeError("register with the home agent first (route optimization "
                               "starts from a care-of address, through the reverse tunnel)")
        since = self.runner.mark()
        t0 = time.perf_counter_ns()
        self.runner.do(lambda now: plane.route_optimization(cn, now))
        ba = self.runner.wait_for(("ba_received",), since, timeout, **{"from": cn})
        return self._outcome(ba, f"route optimization with {cn}", str(plane.care_of_address),
                             t0)

    def _outcome(self, ba: dict | None, what: str, coa: str, t0: int) -> dict:
        elapsed = (time.perf_counter_ns() - t0) / 1e6
        if ba is None:
            raise RuntimeError(f"{what} from {coa}: no Binding Acknowledgement")
        if ba["status"] >= 128:
            raise RuntimeError(f"{what} from {coa} rejected: BA status {ba['status']} "
                               f"({ba.get('reason')})")
        return {"care_of_address": coa, "status": ba["status"], "seq": ba["seq"],
                "elapsed_ms": round(elapsed, 3)}

    # -- MPA (RFC 6252 s6.3; agents/mipv6_mpa.py) -------------------------------------
    def _mac(self) -> str:
        with open(f"/sys/class/net/{self.iface}/address") as f:
            return f.read().strip()

    def preconfigure(self, prefix: str, nar: str) -> dict:
        """s7.3 with stateless autoconfiguration: the nCoA from the CTN's prefix (learnt by
        discovery) and the interface identifier; the MN's end of the proactive handover
        tunnel to the nAR from the current care-of address (the nAR's end and its DAD of the
        nCoA are the nAR's)."""
        plane = self.runner.plane
        if plane.care_of_address is None:
            raise RuntimeError("no current care-of address: register first")
        self.log.emit("address_request", "pre-configuration", method="slaac", prefix=prefix)
        ncoa = str(icmpv6.slaac_address(prefix, self._mac()))
        self.log.emit("address_acquired", "pre-configuration", address=ncoa, method="slaac",
                      dad="proactive, by the nAR")
        ocoa = str(plane.care_of_address)
        self.log.emit("pht_setup_start", "pre-configuration", nar=nar, ocoa=ocoa,
                      inner=ncoa)
        self.runner.do(lambda now: plane.open_tunnel(nar, ncoa, ocoa))
        self.log.emit("pht_established", "pre-configuration", nar=nar, ocoa=ocoa,
                      inner=ncoa, end="mn")
        return {"ncoa": ncoa, "ocoa": ocoa, "nar": nar}

    def pre_switching(self) -> dict:
        """s6.3 step 4: the MN's end of the tunnel goes (the nAR's went first, with its
        buffer armed); the nCoA stays the care-of address of both bindings."""
        self.log.emit("pre_switching_start", "pre-switching")
        plane = self.runner.plane
        self.runner.do(lambda now: plane.close_tunnel())
        # what the old link taught the interface, read now: post-switching on the new link
        # then runs one command (s6.3 step 4: the MN "caches" what it needs after the move)
        self._forget = forget_link_commands(self.iface)
        self.log.emit("pht_deleted", "pre-switching", end="mn")
        self.log.emit("pre_switching_done", "pre-switching")
        return {"care_of_address": str(plane.care_of_address)}

    def post_switching(self, router: str) -> dict:
        """s6.3 step 6 on the new link: the old link's addresses and routes go, the nCoA goes
        onto the interface without DAD (the nAR did it, s7.3), the nAR becomes the default
        router, and an unsolicited Neighbor Advertisement announces the nCoA (the nAR then
        flushes its buffer, RFC 5568 s6.4)."""
        t0 = time.perf_counter_ns()
        self.log.emit("post_switching_start", "post-switching")
        plane = self.runner.plane
        self.runner.do(lambda now: plane.forget_tunnel())
        ncoa, router = str(plane.care_of_address), str(IPv6Address(router))
        forget, self._forget = self._forget, None
        setup = [f"addr replace {ncoa}/64 dev {self.iface} nodad",
                 f"route replace default via {router} dev {self.iface}"]
        r = ip_batch([*(forget if forget is not None else forget_link_commands(self.iface)),
                      *setup])
        if r.returncode != 0:                  # a line failed: which one matters?
            r = ip_batch(setup)
            if r.returncode != 0:
                raise RuntimeError(f"post-switching on {self.iface}: {r.stderr.strip()}")
        index = socket.if_nametoindex(self.iface)
        with socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW) as s:
            s.sendto(unsolicited_advertisement(ncoa, self._mac()),
                     (str(icmpv6.ALL_NODES), 0, 0, index))
        self.log.emit("ncoa_assigned", "post-switching", care_of_address=ncoa,
                      iface=self.iface)
        self.log.emit("post_switching_done", "post-switching")
        return {"care_of_address": ncoa,
                "elapsed_ms": round((time.perf_counter_ns() - t0) / 1e6, 3)}

    def forget_correspondents(self) -> dict:
        """Testbed clean state between repetitions: the Binding Update List entries and
        return routability state of correspondents go (the home registration stays)."""
        plane = self.runner.plane
        with self.runner._lock:
            gone = [str(d) for d, e in plane.bul.entries.items() if not e.home_registration]
            for d in gone:
                del plane.bul.entries[IPv6Address(d)]
            plane.rr.clear()
            plane.forget_tunnel()                # a repetition that failed half-way
        return {"forgotten": gone}

    def status(self) -> dict:
        plane = self.runner.plane
        with self.runner._lock:
            bul = [{"destination": str(d), "home_registration": e.home_registration,
                    "care_of_address": str(e.care_of_address), "acked": e.acked_at is not None}
                   for d, e in plane.bul.entries.items()]
        return {"home_address": self.home_address,
                "care_of_address": str(plane.care_of_address) if plane.care_of_address else None,
                "binding_update_list": bul, "stats": self.runner.stats()}

    def close(self) -> None:
        if self.receiver is not None:
            self.receiver.stop()
        self.runner.stop()


def forget_link_commands(ifname: str) -> list[str]:
    """`ip -batch` lines that make the interface forget what its link taught it: its global
    addresses, the on-link prefix routes of Router Advertisements (the kernel keeps those
    after the address is gone: the old prefix would stay "on-link" and its router unreachable
    through it) and the default routes learnt from them. Link-local addresses and routes
    stay. (Addresses and prefixes are the kernel's, never YAML text.)"""
    lines = [f"addr del {a['address']}/{a['prefixlen']} dev {ifname}"
             for a in global_addresses(ifname)]
    out = subprocess.run(["ip", "-j", "-6", "route", "show", "dev", ifname],
                         capture_output=True, text=True, timeout=5)
    try:
        routes = json.loads(out.stdout or "[]")
    except ValueError:
        routes = []
    for r in routes:
        dst = r.get("dst", "")
        if dst == "default" or not dst.startswith("fe80:"):
            lines.append(f"route del {dst} dev {ifname}"
                         + (f" via {r['gateway']}" if r.get("gateway") else ""))
    return lines


def ip_batch(lines: list[str]) -> subprocess.CompletedProcess:
    """Every IPv6 line in one `ip -6 -force -batch -` (one process: each `ip` costs
    milliseconds)."""
    return subprocess.run(["ip", "-6", "-force", "-batch", "-"], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, timeout=5)


def forget_link(ifname: str) -> None:
    """See `forget_link_commands`."""
    lines = forget_link_commands(ifname)
    if lines:
        ip_batch(lines)


def solicit_router(ifname: str, timeout: float) -> tuple[IPv6Network | None, int]:
    """Send a Router Solicitation on `ifname` (RFC 4861 s6.3.7; the kernel sends its own
    only when the link comes up, and an emulated handoff keeps the link up) and wait for a
    Router Advertisement with an autonomous prefix: (prefix, its arrival ns), or (None, 0)."""
    index = socket.if_nametoindex(ifname)
    with socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) as s:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, icmpv6.ND_HOP_LIMIT)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
        # the RS leaves from the unspecified address (no link-local yet is fine, s6.3.7):
        # the kernel fills in a source; the checksum too (ICMPv6 raw sockets)
        with open(f"/sys/class/net/{ifname}/address") as f:
            mac = f.read().strip()
        rs = icmpv6.RouterSolicitation(options=(icmpv6.SourceLinkLayerAddress(mac),))
        body = icmpv6.encode(rs, "::", icmpv6.ALL_ROUTERS)
        deadline = time.monotonic() + timeout
        next_rs = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() >= next_rs:
                try:
                    s.sendto(body, (str(icmpv6.ALL_ROUTERS), 0, 0, index))
                except OSError:
                    pass
                next_rs = time.monotonic() + RS_INTERVAL
            ready, _, _ = select.select([s], [], [], min(0.1, max(0.0, deadline - time.monotonic())))
            if not ready:
                continue
            data, _ = s.recvfrom(2048)
            if not data or data[0] != icmpv6.IcmpType.ROUTER_ADVERTISEMENT:
                continue
            try:
                ra = icmpv6.decode(data)
            except ProtocolError:
                continue
            for opt in ra.options:
                if isinstance(opt, icmpv6.PrefixInformation) and opt.autonomous \
                        and opt.prefix_length == 64:
                    return opt.network, time.perf_counter_ns()
    return None, 0


class MediaStream:
    """The correspondent's RTP stream to a mobile's home address (C.5.1: one packet every
    16 ms), from its IPv6 address: agents/sip_ua.py's sender, moved by no SIP."""

    def __init__(self, address: str, port: int, interval: float, log_path: str | None) -> None:
        from .sip_ua import RtpSender
        self.sender = RtpSender((address, port), interval=interval, log_path=log_path)

    def start(self, dest: str, port: int) -> dict:
        self.sender.move((str(IPv6Address(dest)), port))
        return {"to": f"{dest}:{port}", "interval_s": self.sender.interval}

    def pause(self) -> dict:
        self.sender.move(None)
        return {"sent": self.sender.sent}

    def close(self) -> None:
        self.sender.stop()


class NextAccessRouter:
    """The nAR's end of MPA for Mobile IPv6 (agents/mipv6_mpa.py) in the agent (`pht6`:
    address, prefix, ctn_iface, queue, dad_timeout)."""

    def __init__(self, config: dict, log) -> None:
        plane = NextAccessRouterPlane(config["address"], config["prefix"], config["ctn_iface"],
                                      dad_timeout=float(config.get("dad_timeout", 1.0)))
        self.runner = PlaneRunner(plane, log, queue=int(config.get("queue", 64)),
                                  home_link=config["ctn_iface"]).start()

    def open(self, ocoa: str, ncoa: str, mn: str, timeout: float) -> dict:
        plane = self.runner.plane
        since = self.runner.mark()
        t0 = time.perf_counter_ns()
        self.runner.do(lambda now: plane.open_tunnel(ocoa, ncoa, mn, now))
        ev = self.runner.wait_for(("pht_established", "pht_failed"), since, timeout,
                                  ncoa=str(IPv6Address(ncoa)))
        if ev is None or ev["event"] == "pht_failed":
            raise RuntimeError(f"tunnel for {ncoa}: {ev.get('reason') if ev else 'timeout'}")
        return {"ncoa": ev["ncoa"], "ocoa": ocoa, "dad_ms": round((ev["mono_ns"] - t0) / 1e6, 3)}

    def close(self, ncoa: str) -> dict:
        self.runner.do(lambda now: self.runner.plane.close_tunnel(ncoa, now))
        return {"ncoa": ncoa}

    def buffer(self, ncoa: str, period_ms: float, mn: str) -> dict:
        self.runner.do(lambda now: self.runner.plane.arm(ncoa, period_ms / 1e3, mn, now))
        return {"ncoa": ncoa, "period_ms": period_ms}

    def status(self) -> dict:
        with self.runner._lock:
            return {**self.runner.plane.status(), "stats": dict(self.runner.dp.stats)}

    def stop(self) -> None:
        self.runner.stop()


def home_agent(config: dict, log) -> PlaneRunner:
    """s10: the HA's plane on its home link (`mipv6_ha`: address, home_prefixes, home_link,
    queue, dad_timeout)."""
    plane = HomeAgentPlane(config["address"], config["home_prefixes"],
                           dad_timeout=float(config.get("dad_timeout", 0.0)))
    return PlaneRunner(plane, log, queue=int(config.get("queue", 61)),
                       home_link=config["home_link"]).start()


def correspondent(config: dict, log) -> PlaneRunner:
    """s9: the CN's plane (`mipv6_cn`: address, mobile_prefixes, queue)."""
    plane = CorrespondentPlane(config["address"], config["mobile_prefixes"])
    return PlaneRunner(plane, log, queue=int(config.get("queue", 62))).start()


def forget_bindings(runner: PlaneRunner) -> dict:
    """Testbed clean state between repetitions: the binding cache emptied (a binding left
    from the last repetition would send the stream to a care-of address of the past)."""
    with runner._lock:
        entries = runner.plane.bindings.entries
        gone = [str(h) for h in entries]
        entries.clear()
    return {"forgotten": gone}


def bindings(runner: PlaneRunner) -> list[dict]:
    """A binding cache (HA s10.1, CN s9.1) as JSON."""
    with runner._lock:
        cache = runner.plane.bindings
        entries = getattr(cache, "entries", {})
        now = time.monotonic()
        return [{"home_address": str(h), "care_of_address": str(e.care_of_address),
                 "sequence": e.sequence, "lifetime": e.lifetime,
                 "remaining": round(e.remaining(now), 3)}
                for h, e in entries.items()]


# -- Router Advertisements (RFC 4861 s6.2) ------------------------------------------------

def link_local(ifname: str) -> IPv6Address | None:
    """The interface's non-tentative link-local address, or None."""
    out = subprocess.run(["ip", "-j", "-6", "addr", "show", "dev", ifname, "scope", "link"],
                         capture_output=True, text=True, timeout=5)
    try:
        links = json.loads(out.stdout or "[]")
    except ValueError:
        return None
    for ln in links:
        for a in ln.get("addr_info", []):
            if a.get("family") == "inet6" and not a.get("tentative"):
                return IPv6Address(a["local"])
    return None


class RouterAdvertiser:
    """RFC 4861 s6.2 on the links of `config` (the agent's `router_advertisements`: a list
    of {iface, prefix, interval, home_agent})."""

    def __init__(self, links: list[dict], log) -> None:
        self.log = log
        self.links = {}
        for link in links:
            index = socket.if_nametoindex(link["iface"])
            with open(f"/sys/class/net/{link['iface']}/address") as f:
                mac = f.read().strip()
            self.links[index] = {**link, "mac": mac, "src": None, "last": 0.0, "next": 0.0,
                                 "sent": 0, "solicited": 0}
        self.out = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.out.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        self.inp = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        self.inp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        self.inp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                            icmpv6.ALL_ROUTERS.packed + struct.pack("@I", 0))
        for index in self.links:
            try:
                self.inp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                                    icmpv6.ALL_ROUTERS.packed + struct.pack("@I", index))
            except OSError:
                pass                    # a router joins ff02::2 on its own when forwarding
        self.loop = Loop("router-advertiser", log)
        self._stop = False
        self._wake_r, self._wake_w = os.pipe()

    def start(self) -> "RouterAdvertiser":
        self.loop.start(self._serve)
        return self

    def advertisement(self, link: dict) -> bytes:
        prefix = IPv6Network(link["prefix"])
        interval_ms = round(float(link["interval"]) * 1000)
        ra = icmpv6.RouterAdvertisement(
            home_agent=bool(link.get("home_agent")), router_lifetime=ROUTER_LIFETIME,
            options=(icmpv6.SourceLinkLayerAddress(link["mac"]),
                     icmpv6.PrefixInformation(prefix.network_address, prefix.prefixlen),
                     icmpv6.AdvertisementInterval(interval_ms)))
        return icmpv6.packet(link["src"], icmpv6.ALL_NODES, ra)

    def _send(self, index: int, link: dict, solicited: bool) -> None:
        if link["src"] is None:
            link["src"] = link_local(link["iface"])
            if link["src"] is None:
                return                                    # not yet: the next tick tries
        now = time.monotonic()
        try:
            self.out.sendto(self.advertisement(link), (str(icmpv6.ALL_NODES), 0, 0, index))
        except OSError as exc:
            self.loop.malformed_input(f"router advertisement on {link['iface']}: {exc}")
            return
        link["last"] = now
        link["sent"] += 1
        link["solicited"] += solicited
        if solicited or link["sent"] == 1:
            self.log.emit("router_advertisement_sent", "setup", iface=link["iface"],
                          prefix=link["prefix"], solicited=solicited)

    def _serve(self) -> None:
        while not self._stop:
            now = time.monotonic()
            for index, link in self.links.items():
                if now >= link["next"]:
                    self._send(index, link, False)
                    link["next"] = now + (float(link["interval"]) if link["src"] else 0.1)
            wait = max(0.0, min(l["next"] for l in self.links.values()) - time.monotonic())
            ready, _, _ = select.select([self.inp, self._wake_r], [], [], wait)
            if self.inp in ready:
                self.loop.guard(self._receive)

    def _receive(self) -> None:
        data, anc, _, src = self.inp.recvmsg(2048, socket.CMSG_SPACE(20))
        if not data or data[0] != icmpv6.IcmpType.ROUTER_SOLICITATION:
            return
        index = next((struct.unpack("@I", d[16:20])[0] for lvl, kind, d in anc
                      if lvl == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO
                      and len(d) >= 20), None)
        link = self.links.get(index)
        if link is None:
            return
        icmpv6.decode(data)                  # the kernel checked the checksum; RS well formed
        self.log.emit("router_solicitation_received", "setup", iface=link["iface"],
                      source=src[0].split("%")[0])
        if time.monotonic() - link["last"] >= MIN_DELAY_BETWEEN_RAS:
            self._send(index, link, True)

    def status(self) -> dict:
        return {l["iface"]: {"prefix": l["prefix"], "sent": l["sent"],
                             "solicited": l["solicited"],
                             "source": str(l["src"]) if l["src"] else None}
                for l in self.links.values()}

    def close(self) -> None:
        _end_loop(self)
        self.out.close()
        self.inp.close()


__all__ = ["PlaneRunner", "MobileIpv6Node", "RouterAdvertiser", "home_agent",
           "correspondent", "bindings", "global_addresses"]
