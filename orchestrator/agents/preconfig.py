"""The mobile node's pre-configuration (RFC 6252 s6.3 step 2): discovery cache, proactive
nCoA acquisition, proactive handover tunnels, with one or more CTNs at a time.

Who does what:
- `PreConfiguration.discover` asks the information server (agents/discovery.py, s7.1) and
  caches the CTNs it names;
- `preconfigure(ctn, method)` obtains an nCoA and a tunnel to the CTN's access router:
  * ``ikev2`` (s7.3.2): IKEv2 with the MN-AR key as PSK; the nCoA arrives in the
    configuration payload (the nAR's strongSwan relays to the CTN's DHCP server); the
    CHILD_SA is the tunnel;
  * ``dhcp`` (s7.3.3): unicast DHCP to the CTN's server from the oCoA, the MN acting as its
    own relay agent (`RelayedDhcpClient`); then IKEv2 with the nCoA as inner address;
- every pre-configuration is time-bound (s7.2): released when its lifetime ends, when the MN
  commits to another CTN (`commit`, C.4) or on `release`;
- `install_arp` puts the CTN's address resolution mappings learnt at discovery into the
  neighbour table (Appendix B), for use when the MN attaches there.

Concurrency (C.4, several CTNs): operations on one CTN (pre-configure, release, expiry,
hand over) are serialised by that CTN's lock; operations on different CTNs are independent
and may run in parallel, so an MPA handover into A never waits for a pre-configuration of C
still under way. What they share is protected or per-CTN by construction: the CTN cache and
the table of active pre-configurations (`_lock`, held only for lookups and updates, never
across a network exchange); charon (one VICI connection per command; each IKE_SA and PSK is
named after its CTN); the routing of each nCoA (rules per address); the DHCP relay port
(each client's socket is connected to its CTN's server, so each server's answers reach the
socket that asked, RFC 6252 s7.3.3).

Events: discovery_start/done/failed (Tdisc), address_request/acquired/failed (Taddr),
pht_setup_start/established/failed (Ttunnel), pht_released, address_released,
neighbours_installed; all with CLOCK_MONOTONIC timestamps (events.py).
"""
from __future__ import annotations

import json
import os
import re
import select
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field

from ..events import EventLog
from ..protocols import dhcp
from .control import CommandError
from .discovery import query
from .ike import Charon, ViciError
from .overtaken import Departures, Overtaken
from .tunnel import MnTunnelRouting, icmp_echo, run

PHASE = "pre-configuration"
METHODS = ("ikev2", "dhcp")
CHILD = "pht"


def current_address(iface: str) -> str:
    """The interface's (first) IPv4 address: the oCoA."""
    out = subprocess.run(["ip", "-j", "-4", "addr", "show", "dev", iface], capture_output=True,
                         text=True, timeout=5).stdout
    for link in json.loads(out or "[]"):
        for a in link.get("addr_info", []):
            return a["local"]
    raise CommandError(f"{iface} has no IPv4 address: the MN has no current care-of address")


# The relayed DHCP of a pre-configuration retransmits after 0.25 s, then 0.5, 1, 2, 4 s
# (RFC 2131 s4.1's first), 8 s, ... (a plain client starts at 4 s). The PAA installs the MN-AR key,
# which opens the nAR's DHCP filter (s7.3.3), after PANA's last message (Tconf follows
# Tauth), so the MN's first DISCOVER can reach the nAR 1-15 ms before the key under load and
# is dropped; with 4 s the 5 s preparation window of a movement ran out (C.6 runs). A
# retransmission that fired shows in `address_acquired`'s `sent`.
RELAYED_DHCP_FIRST_RETRANSMISSION = 0.25


class RelayedDhcpClient:
    """DHCPv4 from the MN's current network to the CTN's server (s7.3.3), as its own relay
    agent: from oCoA port 67, giaddr = oCoA, Subnet Selection = the CTN's subnet."""

    def __init__(self, ocoa: str, mac: bytes, server: str, subnet: str,
                 overtaken: Overtaken | None = None):
        """`overtaken`: the MN's departure from the oCoA's network ends the exchange (the
        answers go to a network it has left; agents/overtaken.py)."""
        self.ocoa, self.mac, self.server, self.subnet = ocoa, mac, server, subnet
        self.overtaken = overtaken

    port = dhcp.SERVER_PORT                # ours and the server's (a relay agent's port)

    def _socket(self) -> socket.socket:
        """The relay port, shared by the pre-configurations of several CTNs under way at
        once: connected to this CTN's server, the socket gets that server's answers (the
        kernel prefers the connected socket matching the sender over the others bound to
        the same port)."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.ocoa, self.port))
        s.connect((self.server, self.port))
        return s

    def _exchange(self, s, msg: dhcp.DhcpMessage, expect: set, deadline: float,
                  timings: dict) -> dhcp.DhcpMessage:
        wait = RELAYED_DHCP_FIRST_RETRANSMISSION        # then doubling (above)
        while time.perf_counter() < deadline:
            s.send(dhcp.encode(msg))
            timings["sent"] = timings.get("sent", 0) + 1
            until = min(deadline, time.perf_counter() + wait)
            while (left := until - time.perf_counter()) > 0:
                if self.overtaken is not None:
                    if self.overtaken.is_set():
                        raise CommandError(self.overtaken.reason)
                    left = self.overtaken.slice(left)
                if not select.select([s], [], [], left)[0]:
                    continue
                try:
                    data = s.recv(4096)
                except ConnectionRefusedError:          # an ICMP port unreachable: no server
                    continue
                try:
                    reply = dhcp.decode(data)
                except dhcp.ProtocolError:
                    continue
                if reply.op == dhcp.BOOTREPLY and reply.xid == msg.xid and \
                        reply.message_type in expect:
                    return reply
            wait *= 2
        raise TimeoutError(f"no DHCP answer from {self.server} ({timings['sent']} sent)")

    def acquire(self, timeout: float) -> tuple[dhcp.Lease, dict]:
        deadline = time.perf_counter() + timeout
        xid = int.from_bytes(os.urandom(4), "big")
        t = {}
        with self._socket() as s:
            t0 = time.perf_counter()
            offer = self._exchange(s, dhcp.discover(self.mac, xid, self.ocoa, self.subnet), {
                dhcp.MessageType.OFFER}, deadline, t)
            t1 = time.perf_counter()
            ack = self._exchange(s, dhcp.request(offer, self.mac, self.ocoa, self.subnet), {
                dhcp.MessageType.ACK, dhcp.MessageType.NAK}, deadline, t)
            t2 = time.perf_counter()
        if ack.message_type == dhcp.MessageType.NAK:
            raise CommandError(f"DHCPNAK from {self.server}")
        return dhcp.lease_from_ack(ack), {"offer_ms": (t1 - t0) * 1000,
                                          "ack_ms": (t2 - t1) * 1000, "sent": t["sent"]}

    def release(self, lease: dhcp.Lease) -> None:
        xid = int.from_bytes(os.urandom(4), "big")
        with self._socket() as s:
            s.send(dhcp.encode(dhcp.release(lease, self.mac, xid, self.ocoa, self.subnet)))


def mn_connection(ocoa: str, ar_address: str, my_id: str, ar_id: str, ncoa: str | None,
                  lifetime: float) -> dict:
    """The MN's IKEv2 connection to a CTN's access router (pure): with a configuration
    payload request (`ncoa` None, s7.3.2) or with a known nCoA as inner address (s7.3.3)."""
    conn = {"version": "2", "local_addrs": [ocoa], "remote_addrs": [ar_address],
            "rekey_time": "0", "reauth_time": "0", "mobike": "no",
            "local": {"auth": "psk", "id": my_id},
            "remote": {"auth": "psk", "id": ar_id},
            "children": {CHILD: {
                "local_ts": ["dynamic" if ncoa is None else f"{ncoa}/32"],
                "remote_ts": ["0.0.0.0/0"], "mode": "tunnel", "rekey_time": "0",
                # time-bound (s7.2): charon deletes it itself if the agent does not first
                "life_time": str(int(lifetime) + 30), "start_action": "none"}}}
    if ncoa is None:
        conn["vips"] = ["0.0.0.0"]
    return conn


# charon's log lines that mark the steps of the IKEv2 exchange (initiator side)
_MARKS = {"ike_sa_init_sent": re.compile(r"sending packet"),
          "ike_sa_init_done": re.compile(r"parsed IKE_SA_INIT response"),
          "ike_auth_done": re.compile(r"parsed IKE_AUTH response"),
          "vip_installed": re.compile(r"installing new virtual IP"),
          "child_sa_up": re.compile(r"CHILD_SA \S+ established")}


@dataclass
class Preconfig:
    ctn: str
    method: str
    ocoa: str
    ar: dict
    conn: str
    ncoa: str | None = None
    router: str | None = None
    lease: dhcp.Lease | None = None
    dhcp_server: str | None = None
    subnet: str = ""
    lifetime: float = 0.0
    expires_mono: float = 0.0
    timer: threading.Timer | None = field(default=None, repr=False)
    times: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {"ctn": self.ctn, "method": self.method, "ncoa": self.ncoa, "oCoA": self.ocoa,
                "router": self.router, "ar": self.ar["node"], "conn": self.conn,
                "lease_time": self.lease.lease_time if self.lease else None,
                "expires_in_s": round(self.expires_mono - time.monotonic(), 3),
                "times_ms": self.times}


class PreConfiguration:
    def __init__(self, node: str, config: dict, log: EventLog, mpa_sas: dict,
                 departures: Departures | None = None):
        self.node, self.c, self.log, self.mpa_sas = node, config, log, mpa_sas
        self.departures = departures or Departures()      # the MN's (agents/overtaken.py)
        self.ctns: dict[str, dict] = {}
        self.active: dict[str, Preconfig] = {}
        self._lock = threading.RLock()        # the state (ctns, active, _ops): lookups only
        self._ops: dict[str, threading.RLock] = {}   # per CTN: one operation on it at a time
        ike = config.get("ike") or {}
        self.charon = Charon(ike["vici"]) if ike.get("vici") else None
        self.routing = MnTunnelRouting(ike.get("tun", "ipsec0"), ike.get("table", 221))

    # -- discovery (s7.1) ---------------------------------------------------------------------
    def discover(self, timeout: float) -> dict:
        server = self.c.get("information_server")
        if not server:
            raise CommandError("no information server in this topology (a node of kind "
                               "information_server); discovery needs one")
        ocoa = current_address(self.c["iface"])
        self.log.emit("discovery_start", "discovery", server=server["address"], address=ocoa)
        try:
            reply = query((server["address"], server["port"]), self.node, ocoa, timeout)
        except (TimeoutError, OSError) as exc:
            self.log.emit("discovery_failed", "discovery", reason=str(exc))
            raise CommandError(f"discovery failed: {exc}") from None
        if reply.get("type") != "answer" or not reply.get("ctns"):
            reason = reply.get("reason") or "the information server knows no candidate network"
            self.log.emit("discovery_failed", "discovery", reason=reason)
            raise CommandError(f"discovery failed: {reason}")
        with self._lock:
            self.ctns = {c["name"]: c for c in reply["ctns"]}
        self.log.emit("discovery_done", "discovery", ctns=sorted(self.ctns),
                      arp_mappings=sum(len(c.get("arp", [])) for c in self.ctns.values()))
        return {"ctns": reply["ctns"]}

    def ctn(self, name: str) -> dict:
        """A cached CTN by network name, or by domain name when it has one access network."""
        with self._lock:
            if name in self.ctns:
                return self.ctns[name]
            by_domain = [c for c in self.ctns.values() if c["domain"] == name]
            known = ", ".join(sorted(self.ctns)) or "none (run discover first)"
        if len(by_domain) == 1:
            return by_domain[0]
        raise CommandError(f"unknown candidate target network '{name}'; discovered: {known}")

    def _mn_ar_key(self, ctn: dict) -> bytes:
        for p in ctn["paas"]:
            keys = self.mpa_sas.get(p["node"])
            if keys is not None:
                return keys.mn_ar_key()
        raise CommandError(f"no MPA-SA with {ctn['name']}: pre-authenticate with its PAA "
                           f"({', '.join(p['node'] for p in ctn['paas']) or 'none known'}) first")

    # -- pre-configuration (s7.3, s7.4) -----------------------------------------------------------
    def preconfigure(self, name: str, method: str, lifetime: float, timeout: float) -> dict:
        if method not in METHODS:
            raise CommandError(f"unknown method '{method}'; known: {', '.join(METHODS)}")
        if self.charon is None:
            raise CommandError("no charon on this MN (image ikev2-strongswan-mn)")
        ctn = self.ctn(name)
        if not ctn["ars"]:
            raise CommandError(f"{ctn['name']} has no access router to tunnel to")
        with self._op(ctn["name"]):
            if ctn["name"] in self.active:
                self._release(ctn["name"], "pre-configured again")
            ar = ctn["ars"][0]
            p = Preconfig(ctn["name"], method, current_address(self.c["iface"]), ar,
                          f"mpa-{ctn['name']}", subnet=ctn["subnet"], router=ctn["router"],
                          lifetime=lifetime)
            if method == "ikev2":
                self._tunnel(p, self._mn_ar_key(ctn), timeout)
            else:
                self._dhcp_address(p, ctn, timeout)
                try:
                    key = self._mn_ar_key(ctn)
                except CommandError as exc:
                    self.log.emit("pht_failed", PHASE, ctn=p.ctn, ar=ar["node"], reason=str(exc))
                    self._release_lease(p)
                    raise
                try:
                    self._tunnel(p, key, timeout)
                except CommandError:
                    self._release_lease(p)
                    raise
            return self._keep(p, lifetime)

    def _keep(self, p: Preconfig, lifetime: float) -> dict:
        """`p` is pre-configured, for `lifetime` (s7.2: time-bound): released when it ends."""
        p.expires_mono = time.monotonic() + lifetime
        p.timer = threading.Timer(lifetime, self._expire, args=(p,))
        p.timer.daemon = True
        p.timer.start()
        with self._lock:
            self.active[p.ctn] = p
        return p.summary()

    def tunnel_to(self, name: str, ar: dict, ncoa: str, key: bytes, lifetime: float,
                  timeout: float) -> dict:
        """The proactive handover tunnel (s7.4) to the access router `ar` ({node, address,
        ike_id_pht}) of a network the information server does not describe, with an inner
        address the MN already holds: RFC 6252 C.5.2, the cellular network, whose packet
        data gateway reserved `ncoa` for the MN through the WLAN. Keyed with the MN-AR key
        from pre-authentication; time-bound like any pre-configuration (s7.2)."""
        if self.charon is None:
            raise CommandError("no charon on this MN (image ikev2-strongswan-mn)")
        with self._op(name):
            if name in self.active:
                self._release(name, "pre-configured again")
            p = Preconfig(name, "reserved", current_address(self.c["iface"]),
                          {"ike_id_cp": ar["ike_id_pht"], **ar}, f"mpa-{name}", ncoa=ncoa,
                          lifetime=lifetime)
            self._tunnel(p, key, timeout)
            return self._keep(p, lifetime)

    def tunnel_down(self, name: str, reason: str) -> dict:
        """The MN's end of a `tunnel_to` tunnel goes at the switch (C.5.2): nothing more
        from the inner address into it (the source rule and the address on the virtual
        interface go, by rtnetlink: no `ip` to fork), then charon forgets it without waiting
        for the access router (which ends its side itself)."""
        from .rtnl import Rtnl
        with self._op(name):
            with self._lock:
                p = self.active.pop(name, None)
            if p is None:
                raise CommandError(f"no proactive handover tunnel {name}")
            if p.timer:
                p.timer.cancel()
            t0 = time.perf_counter_ns()
            with Rtnl() as nl:
                self.routing.detach_fast(nl, p.ncoa)
            t1 = time.perf_counter_ns()
            self._undo_charon(p, force=True)
            self.log.emit("pht_released", "switching", mono_ns=t1, ctn=p.ctn, ar=p.ar["node"],
                          ncoa=p.ncoa, reason=reason, detach_ms=(t1 - t0) / 1e6)
            return {"ctn": p.ctn, "ncoa": p.ncoa, "reason": reason,
                    "detach_ms": (t1 - t0) / 1e6}

    def _dhcp_address(self, p: Preconfig, ctn: dict, timeout: float) -> None:
        if not ctn["cas"]:
            raise CommandError(f"{ctn['name']} has no configuration agent (DHCP server)")
        p.dhcp_server = ctn["cas"][0]["address"]
        mac = bytes(int(x, 16) for x in self.c["mac"].split(":"))
        self.log.emit("address_request", PHASE, ctn=p.ctn, ca=p.dhcp_server, method="dhcp",
                      ocoa=p.ocoa)
        client = RelayedDhcpClient(p.ocoa, mac, p.dhcp_server, ctn["subnet"],
                                   self.departures.current)
        try:
            lease, t = client.acquire(timeout)
        except (TimeoutError, OSError, CommandError, dhcp.ProtocolError) as exc:
            self.log.emit("address_failed", PHASE, ctn=p.ctn, method="dhcp", reason=str(exc))
            raise CommandError(f"no nCoA from {p.ctn} by DHCP: {exc}") from None
        p.lease, p.ncoa = lease, str(lease.address)
        p.router = str(lease.router) if lease.router else p.router
        p.times.update(t)
        self.log.emit("address_acquired", PHASE, ctn=p.ctn, ncoa=p.ncoa, router=p.router,
                      method="dhcp", lease_time=lease.lease_time, server=str(lease.server_id),
                      **t)

    def _tunnel(self, p: Preconfig, key: bytes, timeout: float) -> None:
        ar, ikev2 = p.ar, p.method == "ikev2"
        ar_id = ar["ike_id_cp"] if ikev2 else ar["ike_id_pht"]
        try:
            self.charon.load_shared(p.conn, key, [ar["ike_id_cp"], ar["ike_id_pht"]])
            self.charon.load_conn(p.conn, mn_connection(p.ocoa, ar["address"], self.c["ike"]["id"],
                                                        ar_id, p.ncoa, p.lifetime))
        except ViciError as exc:
            self.log.emit("pht_failed", PHASE, ctn=p.ctn, ar=ar["node"],
                          reason=f"cannot configure charon: {exc}")
            raise CommandError(f"cannot configure charon: {exc}") from None
        if ikev2:
            self.log.emit("address_request", PHASE, ctn=p.ctn, ca=ar["address"], method="ikev2",
                          ocoa=p.ocoa)
        self.log.emit("pht_setup_start", PHASE, ctn=p.ctn, ar=ar["node"], outer=p.ocoa,
                      inner=p.ncoa, method=p.method)
        if not ikev2:
            # the nCoA on the virtual interface first: charon's route into the TUN device
            # takes it as source address (with ikev2, charon installs the address itself)
            self.routing.attach(p.ncoa)
        marks: dict[str, int] = {}
        lines: list[str] = []

        def on_log(_name, msg, mono_ns):
            text = msg.get("msg", "")
            lines.append(text)
            for mark, rx in _MARKS.items():
                if mark not in marks and rx.search(text):
                    marks[mark] = mono_ns

        t0 = time.perf_counter_ns()
        try:
            reply = self.charon.initiate(p.conn, CHILD, timeout, on_log)
        except ViciError as exc:
            reply = {"success": "no", "errmsg": str(exc)}
        if reply.get("success") != "yes":
            reason = _ike_failure(reply.get("errmsg", "failed"), lines)
            self._undo_charon(p)
            if p.ncoa:
                self.routing.detach(p.ncoa)
            if ikev2:
                self.log.emit("address_failed", PHASE, ctn=p.ctn, method="ikev2", reason=reason)
            self.log.emit("pht_failed", PHASE, ctn=p.ctn, ar=ar["node"], reason=reason)
            raise CommandError(f"no proactive handover tunnel to {ar['node']}: {reason}")
        sa = self.charon.list_sas(p.conn).get(p.conn, {})
        p.times.update({k: round((v - t0) / 1e6, 3) for k, v in marks.items()})
        if ikev2:
            vips = sa.get("local-vips", [])
            if not vips:
                self._undo_charon(p)
                self.log.emit("address_failed", PHASE, ctn=p.ctn, method="ikev2",
                              reason="no address in the configuration payload")
                raise CommandError(f"{ar['node']} assigned no address")
            p.ncoa = vips[0]
            self.log.emit("address_acquired", PHASE, mono_ns=marks.get("vip_installed"),
                          ctn=p.ctn, ncoa=p.ncoa, router=p.router, method="ikev2",
                          **{f"{k}_ms": p.times[k] for k in marks})
            self.routing.attach(p.ncoa)        # (the dhcp method attached it before)
        rtt = icmp_echo(p.ncoa, ar["address"], timeout=min(timeout, 3.0))
        if rtt is None:
            self.routing.detach(p.ncoa)
            self._undo_charon(p)
            self.log.emit("pht_failed", PHASE, ctn=p.ctn, ar=ar["node"],
                          reason="no echo through the tunnel")
            raise CommandError(f"the tunnel to {ar['node']} carries no traffic")
        p.times["probe_rtt_ms"] = rtt * 1000
        child = next(iter(sa.get("child-sas", {}).values()), {})
        self.log.emit("pht_established", PHASE, ctn=p.ctn, ar=ar["node"], outer=p.ocoa,
                      inner=p.ncoa, method=p.method, probe_rtt_ms=rtt * 1000,
                      tun=self.routing.tun,
                      spi_in=child.get("spi-in"), spi_out=child.get("spi-out"),
                      encap=child.get("encap"),
                      **{f"{k}_ms": p.times[k] for k in marks})

    def _undo_charon(self, p: Preconfig, force: bool = False) -> None:
        """Tunnel down (an IKEv2 DELETE exchange; `force`: do not wait for the peer's
        answer), connection and key unloaded."""
        terminate = {"timeout": 0.001, "force": True} if force else {}
        for step in (lambda: self.charon.terminate(ike=p.conn, **terminate),
                     lambda: self.charon.unload_conn(p.conn),
                     lambda: self.charon.unload_shared(p.conn)):
            try:
                step()
            except ViciError:
                pass

    # -- release (s7.2, C.4) ----------------------------------------------------------------
    def _op(self, ctn: str) -> threading.RLock:
        """The lock of one CTN's operations (created on first use)."""
        with self._lock:
            return self._ops.setdefault(ctn, threading.RLock())

    def _name(self, name: str) -> str:
        """A CTN's network name: `name` itself if pre-configured, else the cache's."""
        with self._lock:
            if name in self.active:
                return name
        return self.ctn(name)["name"]

    def get(self, name: str) -> Preconfig | None:
        """The active pre-configuration with `name` (None if there is none)."""
        with self._lock:
            return self.active.get(name) or self.active.get(self.ctn(name)["name"])

    def _expire(self, p: Preconfig) -> None:
        with self._op(p.ctn):
            if self.active.get(p.ctn) is p:
                self._release(p.ctn, "expired")

    def release(self, name: str, reason: str = "released", force: bool = False) -> dict:
        """Give back the CTN's nCoA and tunnel; waits for an operation on that CTN under
        way, never for one on another CTN. `force`: the MN has left the network the tunnel
        starts from, so its end is forgotten without waiting for the nAR's answer to the
        IKEv2 DELETE."""
        name = self._name(name)
        with self._op(name):
            return self._release(name, reason, force)

    def _release(self, name: str, reason: str, force: bool = False) -> dict:
        with self._lock:
            p = self.active.pop(name, None)
        if p is None:
            raise CommandError(f"nothing is pre-configured with {name}")
        if p.timer:
            p.timer.cancel()
        self._undo_charon(p, force=force)
        if p.ncoa:
            self.routing.detach(p.ncoa)
        self.log.emit("pht_released", PHASE, ctn=p.ctn, ar=p.ar["node"], ncoa=p.ncoa,
                      reason=reason)
        if p.method == "dhcp":
            how = self._release_lease(p)
        elif p.method == "reserved":
            how = "kept: reserved at the packet data gateway"
        else:
            how = "DHCPRELEASE by the nAR's relay when the IKE_SA is deleted"
        self.log.emit("address_released", PHASE, ctn=p.ctn, ncoa=p.ncoa, method=p.method,
                      reason=reason, how=how)
        return {"ctn": p.ctn, "ncoa": p.ncoa, "reason": reason}

    def _release_lease(self, p: Preconfig) -> str:
        if p.lease is None:
            return "no lease"
        try:
            RelayedDhcpClient(p.ocoa, bytes(int(x, 16) for x in self.c["mac"].split(":")),
                              p.dhcp_server, p.subnet).release(p.lease)
            return "DHCPRELEASE from the MN"
        except OSError as exc:
            return f"DHCPRELEASE not sent: {exc}"

    # -- handover (s6.3 steps 4 and 6; agents/handover.py) ------------------------------------
    def hand_over(self, name: str, delete_tunnel: bool) -> Preconfig:
        """The MN moves to `name`: its pre-configuration stops being time-bound and the nCoA
        is kept (no DHCPRELEASE). With `delete_tunnel` the tunnel is deleted now by an IKEv2
        DELETE exchange from the oCoA (pre-switching), else later by `drop_tunnel`."""
        name = self._name(name)
        with self._op(name):
            with self._lock:
                p = self.active.pop(name, None)
            if p is None:
                raise CommandError(f"nothing is pre-configured with {name}")
            if p.timer:
                p.timer.cancel()
            if delete_tunnel:
                self._undo_charon(p)
                self.routing.detach(p.ncoa)
            return p

    def drop_tunnel(self, p: Preconfig) -> None:
        """After the move: forget the MN's end of the tunnel (its outer address is gone, so
        the nAR cannot answer a DELETE; the nAR deletes its end on the MN's ATTACHED)."""
        self._undo_charon(p, force=True)

    def commit(self, name: str) -> dict:
        """Keep the pre-configuration with `name`, release every other one (C.4)."""
        keep = self._name(name)
        with self._lock:
            p = self.active.get(keep)
            others = [c for c in self.active if c != keep]
        if p is None:
            raise CommandError(f"nothing is pre-configured with {keep}")
        released = []
        for c in others:                     # each under its own lock, one after the other
            try:
                released.append(self.release(c, f"committed to {keep}"))
            except CommandError:
                pass                         # released meanwhile (expired, or by its caller)
        return {"kept": p.summary(), "released": released}

    def status(self) -> dict:
        with self._lock:
            return {"ctns": sorted(self.ctns),
                    "preconfigured": {k: p.summary() for k, p in self.active.items()}}

    def names(self) -> list[str]:
        """The CTNs pre-configured now."""
        with self._lock:
            return list(self.active)

    # -- Appendix B -------------------------------------------------------------------------
    def install_arp(self, name: str, iface: str) -> dict:
        ctn = self.ctn(name)
        entries = ctn.get("arp", [])
        for e in entries:
            run(["ip", "neigh", "replace", e["address"], "lladdr", e["mac"], "dev", iface,
                 "nud", "stale"])
        self.log.emit("neighbours_installed", "post-switching", ctn=ctn["name"], iface=iface,
                      entries=len(entries))
        return {"installed": entries}

    def close(self) -> None:
        with self._lock:
            for p in self.active.values():
                if p.timer:
                    p.timer.cancel()


def _ike_failure(errmsg: str, lines: list[str]) -> str:
    """The most telling line of charon's log of a failed exchange."""
    for pattern in ("AUTHENTICATION_FAILED", "no shared key", "TS_UNACCEPTABLE",
                    "NO_PROPOSAL_CHOSEN", "INTERNAL_ADDRESS_FAILURE", "FAILED_CP_REQUIRED",
                    "unable to install", "error installing", "retransmit", "giving up"):
        for line in lines:
            if pattern in line:
                return f"{errmsg} ({line.strip()})"
    return errmsg
