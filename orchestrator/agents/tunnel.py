"""The proactive handover tunnel (RFC 6252 s7.4) at both of its ends, around strongSwan.

The tunnel itself is an IKEv2 CHILD_SA in tunnel mode (outer address oCoA, inner address
nCoA), ESP in userspace through charon's kernel-libipsec TUN device, keyed from the MN-AR key
(agents/ike.py drives charon). What is around it:

- MN (`MnTunnelRouting`): only what the MN sends *from its nCoA* goes into the tunnel
  (s6.1 (iii)): one source rule per nCoA into a routing table whose default route is the TUN
  device; the nCoA is an address of that virtual interface, never of the physical one
  (s7.3.3: "should not be assigned to the physical interface but rather to a virtual
  interface"). `icmp_echo` checks that the tunnel carries traffic both ways.
- nAR (`TunnelEnd`): the MN-AR key becomes charon's PSK for the MN's identity and opens the
  DHCP filter for that station (s7.3.3: "the access router should be configured with a filter
  to block unicast DHCP messages sent to the remote DHCP server from mobile nodes that are not
  pre-authenticated"); on CHILD_SA up it checks the inner address, performs DAD for it on the
  CTN link on the MN's behalf (Appendix A), then answers ARP for it (proxy ARP, s7.4) and
  announces it; on CHILD_SA down it withdraws all that.
- The access router of a cellular network (C.5.2; `ctn["kind"]` cellular) ends tunnels
  whose inner address is the one the MN reserved at the packet data gateway through the WLAN
  (agents/cellular.py): the gateway's pool, no DHCP filter, no DAD (the gateway owns the
  pool) and no proxy ARP (it is itself the router of the radio network): charon's route
  into the tunnel (table 220) is all that steers the MN's traffic. When the MN's cellular
  interface carries the address, `to_link` stops tunnelling (the route goes: the data
  session's /32 on the radio link takes over) and, for a copy-and-forward period, sends
  a copy of what now leaves on the radio link through the tunnel (agents/copy_forward.py).
"""
from __future__ import annotations

import ipaddress
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from ipaddress import IPv4Address, IPv4Network

from ..events import EventLog
from ..protocols import arp
from ..protocols.checksum import internet_checksum
from .ike import Charon, EventListener, ViciError

PHASE = "pre-configuration"


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {(r.stderr or r.stdout).strip()}")
    return r


# -- MN side ----------------------------------------------------------------------------------
class MnTunnelRouting:
    """Source routing of the MN's nCoAs into charon's TUN device (table `table`)."""

    def __init__(self, tun: str, table: int):
        self.tun, self.table = tun, table

    def attach(self, ncoa: str) -> None:
        run(["ip", "addr", "replace", f"{ncoa}/32", "dev", self.tun])
        run(["ip", "route", "replace", "default", "dev", self.tun, "table", str(self.table)])
        rules = run(["ip", "rule", "show", "from", f"{ncoa}/32"]).stdout
        if f"lookup {self.table}" not in rules:
            run(["ip", "rule", "add", "from", f"{ncoa}/32", "lookup", str(self.table),
                 "pref", str(self.table)])

    def detach_fast(self, nl, ncoa: str) -> None:
        """`detach` through an open rtnl.Rtnl (within a handover: no `ip` to fork)."""
        for step in (lambda: nl.rule_del(f"{ncoa}/32", self.table),
                     lambda: nl.addr_del(self.tun, f"{ncoa}/32")):
            try:
                step()
            except OSError:
                pass                            # already gone

    def detach(self, ncoa: str, remove_address: bool = True) -> None:
        while "lookup" in run(["ip", "rule", "show", "from", f"{ncoa}/32"]).stdout:
            if run(["ip", "rule", "del", "from", f"{ncoa}/32", "lookup", str(self.table)],
                   check=False).returncode != 0:
                break
        if remove_address:
            run(["ip", "addr", "del", f"{ncoa}/32", "dev", self.tun], check=False)


def icmp_echo(src: str, dst: str, timeout: float = 1.0, attempts: int = 3) -> float | None:
    """Seconds until an ICMP echo from `src` to `dst` was answered, or None."""
    ident = os.getpid() & 0xFFFF
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
        s.bind((src, 0))
        for seq in range(1, attempts + 1):
            payload = struct.pack("!d", time.perf_counter())
            head = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
            pkt = struct.pack("!BBHHH", 8, 0, internet_checksum(head + payload), ident, seq) + payload
            t0 = time.perf_counter()
            s.sendto(pkt, (dst, 0))
            deadline = t0 + timeout / attempts
            while (left := deadline - time.perf_counter()) > 0:
                if not select.select([s], [], [], left)[0]:
                    break
                data, peer = s.recvfrom(2048)
                ihl = (data[0] & 0x0F) * 4
                if len(data) < ihl + 8 or peer[0] != dst:
                    continue
                typ, _code, _ck, rid, rseq = struct.unpack_from("!BBHHH", data, ihl)
                if typ == 0 and rid == ident and rseq == seq:
                    return time.perf_counter() - t0
    return None


# -- nAR side ---------------------------------------------------------------------------------
def _u32_for_chaddr(mac: str) -> str:
    """iptables u32 test: the DHCP chaddr (UDP payload octet 28) is `mac`."""
    raw = arp.mac_bytes(mac)
    hi, lo = int.from_bytes(raw[:4], "big"), int.from_bytes(raw[4:], "big")
    return f"0>>22&0x3C@36=0x{hi:08x}&&0>>22&0x3C@40>>16=0x{lo:04x}"


class DhcpFilter:
    """RFC 6252 s7.3.3: unicast DHCP from outside the CTN towards its server passes the nAR
    only for stations the PAA has pre-authenticated (their MN-AR key was installed here).
    The station is recognised by the DHCP client hardware address (chaddr)."""
    CHAIN = "MPA-PRECONF"

    def __init__(self, iface: str, server: str | None):
        """`server`: the CTN's DHCP server behind this AR, or None when it runs on the AR."""
        self.iface, self.server = iface, server
        # only requests *to the server* from outside the CTN link: DHCP replies that a
        # server elsewhere sends to a relay (to port 67 as well) pass untouched
        self.jump = (["INPUT", "!", "-i", iface] if server is None
                     else ["FORWARD", "!", "-i", iface, "-o", iface, "-d", server])
        self.jump += ["-p", "udp", "--dport", "67", "-j", self.CHAIN]
        self.allowed: set[str] = set()

    def setup(self) -> None:
        if run(["iptables", "-w", "-N", self.CHAIN], check=False).returncode != 0:
            run(["iptables", "-w", "-F", self.CHAIN])
        if run(["iptables", "-w", "-C", *self.jump], check=False).returncode != 0:
            run(["iptables", "-w", "-A", *self.jump])
        run(["iptables", "-w", "-A", self.CHAIN, "-j", "DROP"])

    def _rule(self, sta: str) -> list[str]:
        return [self.CHAIN, "-m", "u32", "--u32", _u32_for_chaddr(sta), "-m", "comment",
                "--comment", f"pre-authenticated {sta}", "-j", "ACCEPT"]

    def allow(self, sta: str) -> None:
        if sta not in self.allowed:
            run(["iptables", "-w", "-I", *self._rule(sta)])
            self.allowed.add(sta)

    def deny(self, sta: str) -> None:
        if sta in self.allowed:
            run(["iptables", "-w", "-D", *self._rule(sta)], check=False)
            self.allowed.discard(sta)

    def dropped(self) -> int:
        """Packets the final DROP rule has dropped so far."""
        out = run(["iptables", "-w", "-L", self.CHAIN, "-v", "-n", "-x"]).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) > 2 and parts[2] == "DROP":
                return int(parts[0])
        return 0


class ArpPort:
    """Raw ARP on one interface: DAD probes and announcements (protocols.arp)."""

    def __init__(self, iface: str):
        self.iface = iface
        with open(f"/sys/class/net/{iface}/address") as fh:
            self.mac = arp.mac_bytes(fh.read().strip())
        self._tx: socket.socket | None = None   # kept open: see `announce`

    def _socket(self) -> socket.socket:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(arp.ETH_P_ARP))
        s.bind((self.iface, arp.ETH_P_ARP))
        return s

    def dad(self, address: str, probes: int, interval: float,
            owner: str | None = None) -> tuple[bool, str | None]:
        """RFC 5227 probing: (unique, MAC of the conflicting host).

        `owner`: the MAC of the host the probing is done for (the nAR probes on the MN's
        behalf, Appendix A). Its ARP claiming the address is the owner arriving on the link
        (the MN moved before the probes ended and announced its nCoA), not a conflict:
        probing ends there with (True, owner)."""
        own = arp.mac_bytes(owner) if owner else None
        with self._socket() as s:
            frame = arp.encode(arp.probe(self.mac, address))
            deadline = time.perf_counter()
            for _ in range(max(probes, 1)):
                s.send(frame)
                deadline += interval
                while (left := deadline - time.perf_counter()) > 0:
                    if not select.select([s], [], [], left)[0]:
                        break
                    try:
                        pkt = arp.decode(s.recv(2048))
                    except arp.ProtocolError:
                        continue
                    if own is not None and pkt.sha == own and pkt.spa == IPv4Address(address):
                        return True, owner
                    if arp.is_conflict(pkt, address, self.mac):
                        return False, arp.mac_str(pkt.sha)
        return True, None

    def announce(self, address: str) -> None:
        """A gratuitous ARP (RFC 5227 announcement) for `address`. The send-only socket
        stays open: opening and closing a packet socket waits for an RCU grace period
        (8-16 ms measured here), which must not fall inside a handover."""
        self.sender().send(arp.encode(arp.announcement(self.mac, address)))

    def sender(self) -> socket.socket:
        """The send-only packet socket (opened once)."""
        if self._tx is None:
            self._tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            self._tx.bind((self.iface, 0))
        return self._tx

    def close(self) -> None:
        if self._tx is not None:
            self._tx.close()
            self._tx = None


def _sta_of(ike_id: str) -> str | None:
    """Station MAC from the MN's IKE identity '<12 hex digits>.sta.mpa'."""
    head = ike_id.split(".", 1)[0]
    if len(head) != 12 or not ike_id.endswith(".sta.mpa"):
        return None
    try:
        int(head, 16)
    except ValueError:
        return None
    return ":".join(head[i:i + 2] for i in range(0, 12, 2))


def _in_ranges(address: IPv4Address, ranges: list[list[str]]) -> bool:
    return any(IPv4Address(a) <= address <= IPv4Address(b) for a, b in ranges)


class TunnelEnd:
    """The nAR's end of the proactive handover tunnels (see the module docstring)."""

    def __init__(self, ike: dict, ctn: dict, dad: dict, log: EventLog,
                 address_check=None):
        """`address_check(sta, ncoa)`: for a cellular network, whether the packet data
        gateway reserved `ncoa` for that MN (None: it cannot tell; the pool check alone)."""
        self.ike, self.ctn, self.dad_cfg, self.log = ike, ctn, dad, log
        self.address_check = address_check
        self.charon = Charon(ike["vici"])
        self.keys: dict[str, bytes] = {}                 # station MAC -> MN-AR key (PSK)
        self.tunnels: dict[str, dict] = {}               # nCoA -> {sta, outer, ike_id, ...}
        self._lock = threading.Lock()
        self.filter = DhcpFilter(ctn["iface"], ctn["ca"]) if (ctn["ca"] or ctn["ca_local"]) \
            else None
        self.arp = ArpPort(ctn["iface"])
        if self.filter:
            self.filter.setup()
        # the nAR answers ARP for an nCoA at once, not after the kernel's random proxy delay
        with open(f"/proc/sys/net/ipv4/neigh/{ctn['iface']}/proxy_delay", "w") as fh:
            fh.write("0")
        self.listener_error: str | None = None
        self.listener = EventListener(ike["vici"], ("child-updown",), self._on_event,
                                      on_error=self._listener_error)
        self.listener.start()

    def _listener_error(self, message: str) -> None:
        self.listener_error = message             # shown by status(); charon may just be
        print(f"tunnel end: {message}", file=sys.stderr, flush=True)     # stopping

    # MN-AR key from the PAA (keyinstall callback) -----------------------------------------
    @staticmethod
    def psk_name(sta: str) -> str:
        return "mn-ar-" + sta.replace(":", "")

    def authorize(self, sta: str, key: bytes) -> dict:
        t0 = time.perf_counter()
        self.keys[sta] = key
        self.charon.load_shared(self.psk_name(sta), key,
                                [f"{sta.replace(':', '')}.sta.mpa"])
        if self.filter:
            self.filter.allow(sta)
        elapsed = (time.perf_counter() - t0) * 1000
        self.log.emit("mn_ar_key_loaded", PHASE, sta=sta, ike_psk=self.psk_name(sta),
                      dhcp_filter_open=self.filter is not None, elapsed_ms=elapsed)
        return {"sta": sta, "elapsed_ms": elapsed}

    def forget(self, sta: str) -> dict:
        """Withdraw a station's pre-authorization: PSK, DHCP filter entry, its tunnels."""
        self.keys.pop(sta, None)
        try:
            self.charon.unload_shared(self.psk_name(sta))
        except ViciError:
            pass
        if self.filter:
            self.filter.deny(sta)
        with self._lock:
            ike_ids = {t["ike_uniqueid"] for t in self.tunnels.values() if t["sta"] == sta}
        for uid in ike_ids:
            self.charon.terminate(ike_id=uid)
        self.log.emit("mn_ar_key_withdrawn", PHASE, sta=sta, tunnels=len(ike_ids))
        return {"sta": sta, "tunnels_terminated": len(ike_ids)}

    # CHILD_SA events -----------------------------------------------------------------------
    def _on_event(self, name: str, msg: dict, mono_ns: int) -> None:
        up = msg.pop("up", "no") == "yes"
        for ike_name, sa in msg.items():
            if not isinstance(sa, dict) or ike_name not in ("mpa-cp", "mpa-pht"):
                continue
            for child in (sa.get("child-sas") or {}).values():
                for ts in child.get("remote-ts", []):
                    net = IPv4Network(ts, strict=False)
                    if net.prefixlen != 32:
                        continue
                    ncoa = str(net.network_address)
                    if up:
                        threading.Thread(target=self._up, args=(ike_name, sa, ncoa, mono_ns),
                                         daemon=True).start()
                    else:
                        self._down(ncoa, "CHILD_SA deleted")

    def _up(self, conn: str, sa: dict, ncoa: str, mono_ns: int) -> None:
        sta = _sta_of(sa.get("remote-id", ""))
        attrs = {"sta": sta, "ncoa": ncoa, "outer": sa.get("remote-host"), "conn": conn,
                 "ike_uniqueid": sa.get("uniqueid")}
        reason = self._refusal(sta, ncoa)
        if reason:
            self.log.emit("pht_failed", PHASE, reason=reason, **attrs)
            self.charon.terminate(ike_id=sa.get("uniqueid"))
            return
        if self.ctn.get("kind") == "cellular":
            with self._lock:
                self.tunnels[ncoa] = {**attrs, "state": "up", "up_mono_ns": mono_ns,
                                      "dad_ms": 0.0}
            checked = None if self.address_check is None else self.address_check(sta, ncoa)
            self.log.emit("pht_established", PHASE, proxy_arp=False, dad_ms=0.0,
                          since_child_up_ms=(time.perf_counter_ns() - mono_ns) / 1e6,
                          network="cellular", reserved_for_mn=checked, **attrs)
            return
        with self._lock:
            self.tunnels[ncoa] = {**attrs, "state": "dad", "up_mono_ns": mono_ns}
        # Appendix A: DAD by the nAR on the MN's behalf, at tunnel establishment
        t0 = time.perf_counter()
        self.log.emit("dad_start", PHASE, probes=self.dad_cfg["probes"],
                      interval_s=self.dad_cfg["interval"], iface=self.ctn["iface"], **attrs)
        unique, by = self.arp.dad(ncoa, self.dad_cfg["probes"], self.dad_cfg["interval"],
                                  owner=sta)
        dad_ms = (time.perf_counter() - t0) * 1000
        if not unique:
            self.log.emit("dad_conflict", PHASE, by=by, elapsed_ms=dad_ms, **attrs)
            self.log.emit("pht_failed", PHASE, reason=f"duplicate address (ARP from {by})",
                          **attrs)
            with self._lock:
                self.tunnels.pop(ncoa, None)
            self.charon.terminate(ike_id=sa.get("uniqueid"))
            return
        if by is not None:
            # the MN itself announced the nCoA on the CTN link: it moved while the nAR was
            # still probing (the MN does not wait for the nAR's DAD: its tunnel carries
            # traffic from CHILD_SA up). No proxy ARP for an address its owner now holds on
            # the link; the MN's ATTACHED (or the CHILD_SA's deletion) releases the tunnel.
            self.log.emit("dad_done", PHASE, unique=True, elapsed_ms=dad_ms,
                          ended_by="the MN's own ARP: it attached before the probes ended",
                          **attrs)
            with self._lock:
                t = self.tunnels.get(ncoa)
                if t is not None and t["ike_uniqueid"] == attrs["ike_uniqueid"]:
                    t.update(state="owner-on-link", dad_ms=dad_ms)
            return
        self.log.emit("dad_done", PHASE, unique=True, elapsed_ms=dad_ms, **attrs)
        # s7.4: proxy ARP for the nCoA; charon routes it into the tunnel (table 220)
        with self._lock:
            t = self.tunnels.get(ncoa)
            if t is None or t["ike_uniqueid"] != attrs["ike_uniqueid"]:
                return                              # torn down during DAD
            run(["ip", "neigh", "replace", "proxy", ncoa, "dev", self.ctn["iface"]])
            t.update(state="up", dad_ms=dad_ms)
        self.arp.announce(ncoa)
        self.log.emit("pht_established", PHASE, proxy_arp=True, dad_ms=dad_ms,
                      since_child_up_ms=(time.perf_counter_ns() - mono_ns) / 1e6, **attrs)

    def _refusal(self, sta: str | None, ncoa: str) -> str | None:
        if sta is None:
            return "the peer's identity names no station"
        address = IPv4Address(ncoa)
        if address not in IPv4Network(self.ctn["subnet"]):
            return f"inner address {ncoa} is not in {self.ctn['subnet']}"
        if not _in_ranges(address, self.ctn["pool"]):
            return f"inner address {ncoa} is not one the CTN hands out"
        if self.ctn.get("kind") == "cellular" and self.address_check is not None \
                and self.address_check(sta, ncoa) is False:
            return f"inner address {ncoa} is not reserved for {sta} at the packet data gateway"
        with self._lock:
            other = self.tunnels.get(ncoa)
        if other and other["sta"] != sta:
            return f"inner address {ncoa} is in a tunnel of {other['sta']}"
        return None

    def _down(self, ncoa: str, reason: str) -> None:
        with self._lock:
            t = self.tunnels.pop(ncoa, None)
            if t is None:
                return
            if self.ctn.get("kind") != "cellular":
                run(["ip", "neigh", "del", "proxy", ncoa, "dev", self.ctn["iface"]],
                    check=False)
        self.log.emit("pht_released", PHASE, reason=reason, sta=t["sta"], ncoa=ncoa,
                      outer=t["outer"], conn=t["conn"])

    def status(self) -> dict:
        with self._lock:                        # one snapshot of tunnels and proxy entries
            proxies = run(["ip", "neigh", "show", "proxy", "dev", self.ctn["iface"]],
                          check=False).stdout.split()
            tunnels = {k: dict(v) for k, v in self.tunnels.items()}
        return {"tunnels": tunnels, "authorized": sorted(self.keys),
                "charon_events": self.listener_error or "ok",
                "proxy_arp": [p for p in proxies if _is_ip(p)],
                "dhcp_filter": {"allowed": sorted(self.filter.allowed),
                                "dropped": self.filter.dropped()} if self.filter else None}

    def close(self) -> None:
        self.listener.stop()


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False
