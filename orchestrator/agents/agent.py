"""The mpa-agent: one process per node, playing its role(s), commanded over the control channel.

    python -m orchestrator.agents.agent --role ROLE[,ROLE] --node NODE --events FILE \\
        --control SOCKET [--config JSON|@FILE]

Roles are RFC 6252's functional elements (s6.2) and the nodes around them: mobile-node,
paa (authentication agent), access-point, access-router, correspondent,
information-server, packet-data-gateway (C.5.2's PDSN). A node with co-located roles
(C.5.3: the PAA on the nAR) runs one agent with several (`--role access-router,paa`).
Who does what:
- a role is a small class registered by name with `@role("name")`;
- a command is one method marked `@command(...)`; its keyword arguments are the command's
  arguments, its return value (JSON-able) the result, a `CommandError` the error;
- `Agent` dispatches control requests to the role(s) and writes each command, its result or
  its error to the event log (`command_start` / `command_done` / `command_failed`), plus
  `agent_started` / `agent_stopped`.

Protocol work (PANA, EAPOL, ...) arrives as further commands on these classes. The agent
imports only the standard library and this package, so it runs from a zipapp on any host
with Python >= 3.11 (deploy/mpa_agent.py).
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Callable, ClassVar

from ..events import EventLog
from .control import CommandError, ControlServer


ROLES: dict[str, type["Role"]] = {}


def role(name: str):
    """Class decorator: register a role under `name` (the --role value)."""
    def register(cls: type[Role]) -> type[Role]:
        cls.name = name
        ROLES[name] = cls
        return cls
    return register


def command(phase: str = "setup"):
    """Method decorator: expose the method as a control command. `phase` is the MPA phase
    the command serves (docs/events.md); its command_* events are recorded under "setup"."""
    def mark(fn: Callable) -> Callable:
        fn._command_phase = phase
        return fn
    return mark


class Role:
    """Commands every role answers. Subclasses add their own and may set CONFIG defaults."""
    name: ClassVar[str] = "base"
    CONFIG: ClassVar[dict[str, Any]] = {}
    agent_commands: tuple[str, ...] = ()   # every command of this agent (set by Agent)

    def __init__(self, node: str, config: dict, log: EventLog):
        self.node, self.log = node, log
        self.config = {**self.CONFIG, **{k: v for k, v in config.items() if k in self.CONFIG}}
        self.started_ns = time.perf_counter_ns()
        self.agent_roles = [self.name]         # all roles of this agent (set by Agent)

    @classmethod
    def commands(cls) -> dict[str, Callable]:
        return {name: fn for name, fn in inspect.getmembers(cls, callable)
                if hasattr(fn, "_command_phase")}

    @command()
    def hello(self) -> dict:
        """Readiness: who and where the agent is, and the health of its receive loops
        (`health.ok` is false once one has died; agents/health.py)."""
        from . import health
        return {"role": ",".join(self.agent_roles), "node": self.node, "pid": os.getpid(),
                "interfaces": interfaces(), "commands": sorted(self.agent_commands),
                "started_mono_ns": self.started_ns, "mono_ns": time.perf_counter_ns(),
                "health": health.report()}

    @command()
    def health(self) -> dict:
        """The receive loops of this agent: alive, malformed inputs dropped, deaths."""
        from . import health
        return health.report()

    @command()
    def ping(self) -> dict:
        """Liveness."""
        return {"mono_ns": time.perf_counter_ns()}

    def close(self) -> None:
        pass


class _RadioRole(Role):
    """A role that speaks emulated 802.11 management frames on one interface (agents/l2)."""
    CONFIG = {"iface": "eth0"}

    def __init__(self, node: str, config: dict, log: EventLog):
        super().__init__(node, config, log)
        self._port = None
        self._lock = threading.Lock()      # one outstanding management request at a time

    def port(self):
        from . import l2
        if self._port is None:
            iface = self.config["iface"]
            try:
                self._port = l2.L2Port(iface)
            except OSError as exc:
                raise CommandError(f"cannot open interface {iface!r} on {self.node}: "
                                   f"{exc.strerror}; set the role's 'iface' in --config "
                                   "to one of this host's interfaces (see hello)") from None
        return self._port


@role("mobile-node")
class MobileNode(_RadioRole):
    """The MN (RFC 6252 s6.3): moves between points of attachment; its 802.1X supplicant
    authenticates (EAP-TLS) at an AP, before the move by 802.11i pre-authentication, or
    holds a PMK from MPA pre-authentication (PSK_ap)."""
    CONFIG = {"iface": "wlan0", "identity": "", "cert": "", "key": "", "ca": "",
              "server_name": None, "tls_max_version": "1.2", "aps": {}, "paas": {},
              "paa_aps": {}, "pana_port": 716,
              # pre-configuration (agents/preconfig.py): station MAC, information server,
              # the MN's charon (VICI socket, IKE identity, TUN device, PHT routing table)
              "mac": "", "information_server": None, "ike": {}, "preconf_lifetime": 300.0,
              # SIP mobility and handover (agents/sip_ua.py, agents/handover.py)
              "correspondents": {}, "sip_port": 5060, "media_port": 4000,
              "buffering_port": 7012, "dad_probes": 0, "dad_interval": 1.0,
              "eap_fragment_size": 1398,
              # a multi-interface MN (agents/multi_interface.py, RFC 6252 C.5.2): cellular
              # interfaces by name (identity, CHAP secret, base station, emulated latencies);
              # the packet data gateways a PAA pre-authorizes them with (s7.6.2): PAA ->
              # [{iface, gateway, target_id}]
              "cellular": {}, "paa_pdgs": {}}

    def __init__(self, node: str, config: dict, log: EventLog):
        super().__init__(node, config, log)
        self._supplicant = None
        self.mpa_sas: dict = {}              # PAA -> MpaKeys of the MPA-SA (s6.3 step 1)
        self.pacs: dict = {}                 # PAA -> its PANA session (agents/pana.PaC)
        from .handover import Handover
        from .overtaken import Departures
        from .preconfig import PreConfiguration
        # the preparations under way end when the MN leaves their network (C.6)
        self.departures = Departures()
        self.preconf = PreConfiguration(node, self.config, log, self.mpa_sas, self.departures)
        self.handover = Handover(self)
        self.media = None                    # MobileNodeMedia, created by the first call
        self.cellular: dict = {}             # ifname -> multi_interface.CellularInterface
        self.previous_routes: dict = {}      # device -> gateway of a default route left
        self.bssid_now: str | None = None    # the AP of the last association
        self.reactive = None                 # the armed reactive handover (C.5.2), if any
        if self.config["identity"]:
            self.port()              # open them now, not within the first handoff's timing
            self.supplicant()

    def supplicant(self):
        from .dot1x import Supplicant
        if self._supplicant is None:
            c = self.config
            if not c["identity"]:
                raise CommandError("no identity/certificate configured for this MN")
            self._supplicant = Supplicant(c["iface"], c["identity"], c["cert"], c["key"], c["ca"],
                                          self.log, c["tls_max_version"], c["server_name"],
                                          fragment_size=c["eap_fragment_size"])
        return self._supplicant

    def _bssid(self, ap: str) -> str:
        """An AP's BSSID from its name (discovery, C.5.3: "the MN is able to retrieve ... all
        required information about AP1 and AP2"), or the BSSID itself."""
        return self.config["aps"].get(ap, ap)

    @command(phase="switching")
    def associate(self, ap_bssid: str, timeout: float = 5.0) -> dict:
        """(Re)associate with the AP `ap_bssid` (s6.3 step 5); emits l2_handoff_*."""
        from . import l2
        with self._lock:
            result = l2.associate(self.port(), self._bssid(ap_bssid), self.log, timeout)
        if result["status"] != "ok":
            raise CommandError(f"association with {ap_bssid} failed: {result['status']}")
        self.bssid_now = result["bssid"]
        return result

    @command(phase="switching")
    def connect(self, ap: str, timeout: float = 10.0) -> dict:
        """After association: EAP-TLS (unless a PMKSA is cached) and the 4-way handshake."""
        bssid = self._bssid(ap)
        result = self.supplicant().connect(bssid, timeout=timeout)
        if result["status"] != "ok":
            raise CommandError(f"802.1X at {ap} failed: {result.get('reason', result['status'])}")
        # as in 802.11, the station's port is open once it has sent message 4: the AP opened
        # its side before message 3 (agents/port_driver.py)
        self.log.emit("port_open", "switching", bssid=bssid)
        return result

    @command(phase="switching")
    def handoff(self, ap: str, timeout: float = 10.0) -> dict:
        """The move: (re)association, then 802.1X / 4-way with the new AP (Tassoc+4way, plus
        Tauth when nothing was pre-authenticated)."""
        assoc = self.associate(ap, timeout=timeout)
        conn = self.connect(ap, timeout=timeout)
        return {"association": assoc, "connect": conn}

    @command(phase="pre-authentication")
    def preauthenticate_80211i(self, ap: str, timeout: float = 10.0) -> dict:
        """IEEE 802.11i pre-authentication with `ap` through the current AP and the DS."""
        result = self.supplicant().eap_authenticate(self._bssid(ap), preauth=True, timeout=timeout,
                                                    phase="pre-authentication")
        if result["status"] != "ok":
            raise CommandError(f"802.11i pre-authentication with {ap} failed: {result['reason']}")
        return result

    @command(phase="pre-authentication")
    def preauthenticate_mpa(self, paa: str, timeout: float = 15.0) -> dict:
        """MPA pre-authentication (RFC 6252 s6.3 step 1): PANA with the PAA of the candidate
        target network, from the current network; then PSK_ap for each of its APs, derived
        from the MPA-SA exactly as the PAA derives the ones it installs."""
        from .dot1x import mac_bytes
        from .pana import PaC
        c = self.config
        if paa not in c["paas"]:
            raise CommandError(f"unknown PAA '{paa}'; known: {', '.join(c['paas'])}")
        pac = PaC(c["identity"], c["cert"], c["key"], c["ca"], c["paas"][paa], c["pana_port"],
                  self.log, tls_max_version=c["tls_max_version"], server_name=c["server_name"],
                  fragment_size=c["eap_fragment_size"])
        try:
            result = pac.pre_authenticate(timeout, overtaken=self.departures.current)
            if result["status"] != "ok":
                raise CommandError(f"PANA pre-authentication with {paa} failed: {result['reason']}")
            keys = pac.mpa_keys
            self.mpa_sas[paa] = keys         # MN-AR key for pre-configuration with that CTN
        except BaseException:
            pac.close()
            raise
        old = self.pacs.pop(paa, None)
        if old is not None:
            old.close()
        self.pacs[paa] = pac                 # the PANA session (MPA-SA) is kept: attach, C.2
        sup = self.supplicant()
        for ap in c["paa_aps"].get(paa, []):
            bssid = self._bssid(ap)
            sup.install_pmk(bssid, keys.psk_ap(mac_bytes(bssid)), "mpa")
        # s7.6.2, C.5.2: the cellular domain pre-authenticated through the WLAN; the CHAP
        # secret of each of its packet data gateways, as the PAA derives the one it installs
        for pdg in c["paa_pdgs"].get(paa, []):
            self._cellular(pdg["iface"]).preauthorize(
                keys.pdg_chap_key(mac_bytes(pdg["target_id"])), paa, pdg)
        return {k: v for k, v in result.items() if k not in ("msk", "pana_auth_key")} | {
            "psk_ap": c["paa_aps"].get(paa, []),
            "chap_key": [p["gateway"] for p in c["paa_pdgs"].get(paa, [])]}

    @command()
    def flush(self) -> dict:
        """Forget every PMKSA, MPA-SA and pre-configuration (a clean start for the next
        repetition)."""
        n = len(self.supplicant().pmksa) if self._supplicant else 0
        if self._supplicant:
            self._supplicant.pmksa.clear()
        released = [self.preconf.release(c, "flush") for c in list(self.preconf.active)]
        self.mpa_sas.clear()
        for pac in self.pacs.values():
            pac.close()
        self.pacs.clear()
        for cell in self.cellular.values():
            cell.preauthorized = None
        return {"flushed": n, "released": released}

    # -- the kept PANA sessions (RFC 5873 attach; RFC 6252 C.2 MPA-SA) ----------------------
    def _pac(self, paa: str):
        if paa not in self.pacs:
            raise CommandError(f"no PANA session with {paa}; known: "
                               f"{', '.join(self.pacs) or 'none (pre-authenticate first)'}")
        return self.pacs[paa]

    @command(phase="post-switching")
    def pana_attach(self, paa: str, source_address: str | None = None,
                    timeout: float = 5.0) -> dict:
        """In `paa`'s network: authenticated PNR [P] (RFC 5873 attach; on a return, the proof
        of possession that re-authorizes the MPA-SA, C.2)."""
        result = self._pac(paa).attach(timeout, source_address)
        if result["status"] != "ok":
            raise CommandError(f"PANA attach with {paa} failed: {result.get('reason')}")
        return result

    @command()
    def pana_detach(self, paa: str) -> dict:
        """The MN has left `paa`'s network and keeps the MPA-SA (C.2)."""
        result = self._pac(paa).detach()
        if result["status"] != "ok":
            raise CommandError(f"PANA detach from {paa}: {result['reason']}")
        return result

    @command()
    def pana_status(self) -> dict:
        return {paa: pac.session.state.value if pac.session else None
                for paa, pac in self.pacs.items()}

    # -- pre-configuration (RFC 6252 s6.3 step 2, s7.1-s7.4; agents/preconfig.py) ---------
    @command(phase="discovery")
    def discover(self, timeout: float = 3.0) -> dict:
        """Ask the information server about the candidate target networks (s7.1); cached."""
        return self.preconf.discover(timeout)

    @command(phase="pre-configuration")
    def preconfigure(self, ctn: str, method: str = "ikev2", lifetime: float | None = None,
                     timeout: float = 15.0) -> dict:
        """nCoA and proactive handover tunnel with a discovered CTN: method "ikev2" (s7.3.2)
        or "dhcp" (s7.3.3); the tunnel is released after `lifetime` seconds (s7.2)."""
        return self.preconf.preconfigure(ctn, method, lifetime or self.config["preconf_lifetime"],
                                         timeout)

    @command(phase="pre-configuration")
    def release(self, ctn: str) -> dict:
        """Give back a CTN's nCoA and tear its tunnel down."""
        return self.preconf.release(ctn, "released")

    @command(phase="pre-configuration")
    def commit(self, ctn: str) -> dict:
        """Keep the pre-configuration with `ctn`, release all others (C.4)."""
        return self.preconf.commit(ctn)

    @command()
    def preconfig_status(self) -> dict:
        return self.preconf.status() | {"mpa_sas": sorted(self.mpa_sas)}

    @command(phase="post-switching")
    def install_arp(self, ctn: str, iface: str | None = None) -> dict:
        """Install the CTN's address resolution mappings learnt at discovery (Appendix B)."""
        return self.preconf.install_arp(ctn, iface or self.config["iface"])

    def close(self) -> None:
        for pac in self.pacs.values():
            pac.close()
        self.preconf.close()
        if self.media is not None:
            self.media.close()
        for cell in self.cellular.values():
            cell.close()

    # -- a multi-interface MN (RFC 6252 s7, C.5.2; agents/multi_interface.py) ----------------
    def _cellular(self, iface: str | None):
        from .multi_interface import CellularInterface
        ifaces = self.config["cellular"]
        if not ifaces:
            raise CommandError(f"{self.node} has no cellular interface (topology: "
                               "interfaces: {<name>: {technology: cellular, attach: <bs>}})")
        iface = iface or next(iter(ifaces))
        if iface not in ifaces:
            raise CommandError(f"no cellular interface {iface!r}; this MN has "
                               + ", ".join(ifaces))
        if iface not in self.cellular:
            self.cellular[iface] = CellularInterface(iface, ifaces[iface], self.log)
        return self.cellular[iface]

    @command("pre-configuration")
    def cellular_up(self, iface: str | None = None, phase: str = "pre-configuration",
                    timeout: float = 15.0) -> dict:
        """Prepare the cellular interface (C.5.2): activate it if down, attach, and set up
        its data session (PPPoE, LCP, CHAP, IPCP), measured. `phase`: pre-configuration
        (both interfaces up before the move) or switching (at the move)."""
        result = self._cellular(iface).up(phase, timeout)
        if result["status"] != "ok":
            raise CommandError(f"cellular data session failed at {result.get('stage')}: "
                               f"{result.get('reason')}")
        return result

    @command("pre-configuration")
    def preconfigure_cellular(self, iface: str | None = None,
                              timeout: float | None = None) -> dict:
        """RFC 6252 s7.3, s7.6.2: after pre-authentication of the cellular domain, reserve
        the cellular interface's address at its packet data gateway through the current
        (WLAN) interface, authenticated with the pre-authorized CHAP secret; the data
        session's IPCP then asks for it and the gateway confirms it."""
        cell = self._cellular(iface)
        pre = cell.preauthorized
        if pre is None:
            raise CommandError(f"{cell.iface} is not pre-authorized: preauthenticate_mpa "
                               "with the cellular domain's PAA first")
        result = cell.preconfigure_address(timeout)
        if result["status"] != "ok":
            raise CommandError(f"address pre-configuration of {cell.iface} failed: "
                               f"{result['reason']}")
        return result

    @command("pre-configuration")
    def cellular_tunnel(self, iface: str | None = None, timeout: float = 10.0,
                        lifetime: float | None = None) -> dict:
        """RFC 6252 s7.4, C.5.2: the proactive handover tunnel into the cellular network,
        from the WLAN address to the access router of the base station's network (with the
        packet data gateway), inner address the cellular address reserved through the WLAN
        (`preconfigure_cellular`), keyed with the MN-AR key of the pre-authentication. What
        the MN sends from that address goes through it (the binding update, s7.5), and
        what the CN sends there comes back through it, over the WLAN, before the cellular
        interface carries anything."""
        cell = self._cellular(iface)
        pre = cell.preauthorized
        if pre is None or not pre.get("address"):
            raise CommandError(f"{cell.iface} has no address reserved through the WLAN: "
                               "preauthenticate_mpa and preconfigure_cellular first")
        end = pre["gateway"].get("tunnel_end")
        if not end:
            raise CommandError(f"no access router ends a tunnel into the network of "
                               f"{cell.config.get('base_station')}")
        keys = self.mpa_sas.get(pre["paa"])
        if keys is None:
            raise CommandError(f"no MPA-SA with {pre['paa']}")
        return self.preconf.tunnel_to(f"cellular-{cell.iface}", end, pre["address"][0],
                                      keys.mn_ar_key(),
                                      lifetime or self.config["preconf_lifetime"], timeout)

    @command("switching")
    def cellular_tunnel_down(self, iface: str | None = None) -> dict:
        """The switch (C.5.2): the MN's end of the tunnel into the cellular network goes
        (what it sends from the cellular address leaves on the cellular interface)."""
        cell = self._cellular(iface)
        return self.preconf.tunnel_down(f"cellular-{cell.iface}",
                                        "the cellular interface carries the address")

    @command("switching")
    def cellular_down(self, iface: str | None = None, power_off: bool = False) -> dict:
        """End the cellular data session; `power_off` also takes the interface down."""
        return self._cellular(iface).down(power_off)

    @command("switching")
    def use_interface(self, iface: str, gateway: str | None = None) -> dict:
        """Make `iface` the active interface (C.5.2): the default route through it, via
        `gateway`, else its data session's peer (cellular) or the gateway it had before."""
        from .multi_interface import make_active
        if gateway is None and iface in self.config["cellular"]:
            session = self._cellular(iface).status()["session"]
            if session is None:
                raise CommandError(f"{iface} has no data session: cellular_up first")
            gateway = session["peer"]
        gateway = gateway or self.previous_routes.get(iface)
        if gateway is None:
            raise CommandError(f"no gateway known for {iface}: give 'gateway'")
        result = make_active(iface, gateway, self.log, previous=self.previous_routes)
        if result["status"] != "ok":
            raise CommandError(f"cannot make {iface} the active interface: {result['reason']}")
        return result

    @command()
    def interfaces_status(self) -> dict:
        """Each cellular interface (up, session) and the default route's device."""
        from .multi_interface import default_route
        gw, dev = default_route()
        return {"active": dev, "gateway": gw,
                "cellular": {i: self._cellular(i).status() for i in self.config["cellular"]}}

    @command("switching")
    def arm_reactive_handover(self, iface: str | None = None, timeout: float = 60.0) -> dict:
        """RFC 6252 C.5.2's reactive (non-optimized) handover, armed: "the second interface
        comes up when the link to the first interface goes down". When the radio's link-down
        notification arrives (the AP's link lost, told after the interface's
        link_down_detection), the cellular interface is brought up (activation, attach, data
        session: phase switching), made the active interface, and the binding update
        (re-INVITE) leaves from its address. Returns once the MN listens for the link-down;
        `reactive_handover_result` waits for the outcome."""
        from .multi_interface import ReactiveHandover
        cell = self._cellular(iface)
        if self.reactive is not None and not self.reactive.done.is_set():
            raise CommandError("a reactive handover is already armed")
        self.reactive = ReactiveHandover(self.port(), self.config["iface"], self.log, steps=(
            lambda: self.cellular_up(cell.iface, phase="switching"),
            lambda: self.use_interface(cell.iface),
            lambda session: self.binding_update(address=session["address"])), lock=self._lock)
        return self.reactive.start(timeout)

    @command("switching")
    def reactive_handover_result(self, timeout: float = 60.0) -> dict:
        """The armed reactive handover's outcome (waits for it up to `timeout`)."""
        if self.reactive is None:
            raise CommandError("no reactive handover armed: arm_reactive_handover first")
        result = self.reactive.result(timeout)
        if result["status"] != "ok":
            raise CommandError(f"reactive handover failed: {result['reason']}")
        return result

    @command("switching")
    def release_interface(self, timeout: float = 5.0) -> dict:
        """Leave the WLAN after a make-before-break switch (C.5.2): disassociation from the
        AP of the last association; `interface_released` when the controller confirms."""
        from ..protocols import mgmt
        if self.bssid_now is None:
            raise CommandError("not associated with any AP")
        port = self.port()
        with self._lock:
            reply, _, t1 = port.request(self.bssid_now, mgmt.Mgmt(
                "disassoc_request", port.mac, self.bssid_now), "disassociated", timeout)
        if reply is None or reply.status != "ok":
            raise CommandError(f"disassociation from {self.bssid_now} failed: "
                               f"{reply.status if reply else 'timeout'}")
        self.log.emit("interface_released", "switching", mono_ns=t1, iface=self.config["iface"],
                      technology="wlan", bssid=self.bssid_now)
        bssid, self.bssid_now = self.bssid_now, None
        return {"status": "ok", "iface": self.config["iface"], "bssid": bssid}

    # -- SIP mobility (s7.5) and the handover (s6.3 steps 3-6; agents/handover.py) ----------
    def media_log(self) -> str:
        """The RTP receiver's log: <run>/media/<node>.rtp.jsonl (beside events/)."""
        return str(self.log.path.parent.parent / "media" / f"{self.node}.rtp.jsonl")

    @command()
    def call(self, cn: str, timeout: float = 5.0) -> dict:
        """Call the correspondent `cn` from the current address; its RTP stream is logged."""
        from .preconfig import current_address
        from .sip_ua import MobileNodeMedia, SipError
        if cn not in self.config["correspondents"]:
            raise CommandError(f"unknown correspondent '{cn}'; known: "
                               + (", ".join(self.config["correspondents"]) or "none"))
        self.handover.remember_home()
        if self.media is None:
            self.media = MobileNodeMedia(current_address(self.config["iface"]),
                                         self.config["sip_port"], self.config["media_port"],
                                         self.log, self.media_log(), user=self.node)
        try:
            return self.media.call((self.config["correspondents"][cn], self.config["sip_port"]),
                                   timeout=timeout) | {"rtp_log": self.media_log()}
        except SipError as exc:
            raise CommandError(f"call to {cn} failed: {exc}") from None

    @command(phase="binding-update")
    def binding_update(self, ctn: str | None = None, address: str | None = None,
                       timeout: float = 5.0, also: list | None = None) -> dict:
        """s6.3 step 3 / s7.5: re-INVITE from the nCoA of `ctn` (over its tunnel), or from
        `address`; the CN moves the stream there. `also`: further contact addresses that
        get transient copies of the stream (C.4's third scheme)."""
        from .sip_ua import SipError
        if self.media is None:
            raise CommandError("no call: call a correspondent first")
        if address is None:
            if ctn is None:
                raise CommandError("binding_update needs ctn= or address=")
            p = self.preconf.get(ctn)
            if p is None:
                raise CommandError(f"nothing is pre-configured with {ctn}")
            address = p.ncoa
        try:
            return self.media.binding_update(address, timeout=timeout, also=list(also or ()))
        except SipError as exc:
            raise CommandError(f"binding update from {address} failed: {exc}") from None

    @command()
    def hangup(self) -> dict:
        """BYE to the peer of the call (if there is one)."""
        from .sip_ua import SipError
        if self.media is None:
            return {"call": None}
        try:
            return self.media.hangup()
        except SipError as exc:
            return {"call": None, "reason": str(exc)}

    @command(phase="switching")
    def mpa_handover(self, ctn: str, ap: str, buffering_period_ms: float | None = None,
                     timeout: float = 10.0, pht: str = "disable") -> dict:
        """s6.3 steps 4-6 with the pre-configured `ctn`: pre-switching (with buffering at
        the nAR: the tunnel disabled, or with pht='delete' deleted by IKEv2, first),
        switching to `ap`, post-switching (nCoA on the interface, gratuitous ARP, ATTACHED
        to the nAR, which flushes its buffer)."""
        return self.handover.mpa(ctn, ap, buffering_period_ms, timeout, pht)

    @command(phase="switching")
    def switch_back(self, ap: str, address: str = "home", timeout: float = 10.0) -> dict:
        """Move to `ap` where context was kept (C.1 switch-back, C.2): association and the
        4-way handshake with the PMKSA held, then the address kept there ("home": the
        start network's; "kept": the nCoA of the last MPA handover)."""
        return self.handover.switch_back(ap, address, timeout)

    @command(phase="switching")
    def nonmpa_handover(self, ap: str, timeout: float = 30.0) -> dict:
        """C.5.1's baseline: move to `ap`, full EAP-TLS, DHCP on the new link (with the
        configured DAD); the binding update is a separate command (`binding_update`)."""
        return self.handover.nonmpa(ap, timeout)

    # -- movement: the handover policy fed by radio scans (agents/movement.py) -------------
    @command()
    def movement_start(self, params: dict, networks: dict, paas: dict, serving: str,
                       t0_ns: int, method: str = "dhcp", binding_update: str | None = None,
                       buffering_ms: float | None = None) -> dict:
        """Start a movement: the policy (PolicyParams fields), AP -> network, network ->
        PAA, the AP the MN is attached to, CLOCK_MONOTONIC ns of t = 0; in a call, when the
        binding updates go ("before" / "after" the move, at the "handover") and the cap of
        the target access router's buffering across the move (agents/movement.py)."""
        from .movement import PolicyDriver
        if getattr(self, "movement", None) is not None:
            self.movement.stop(wait=0.0)
        try:
            self.movement = PolicyDriver(self, params, networks, paas, serving, t0_ns, method,
                                         binding_update=binding_update,
                                         buffering_ms=buffering_ms)
        except (TypeError, ValueError) as exc:
            raise CommandError(f"bad movement parameters: {exc}") from None
        return {"serving": serving}

    @command()
    def radio(self, t: float, scan: dict, position: list | None = None) -> dict:
        """A scan of the MN's radio at movement time t: {AP: dBm} of the APs heard."""
        if getattr(self, "movement", None) is None:
            raise CommandError("no movement started (movement_start first)")
        return self.movement.radio(float(t), {str(k): float(v) for k, v in scan.items()},
                                   position)

    @command()
    def movement_stop(self, wait: float = 10.0) -> dict:
        """End the movement once its phases under way are over (at most `wait` s)."""
        driver, self.movement = getattr(self, "movement", None), None
        if driver is None:
            raise CommandError("no movement started")
        return driver.stop(wait)

    @command()
    def reset(self, ap: str) -> dict:
        """Back to the start: hang up, release the address of the last handover, the start
        network's address and route back, full authentication at `ap`."""
        if self.reactive is not None:          # an armed reactive handover stops waiting
            self.reactive.cancel()
        hung = self.hangup()
        released = self.handover.release()
        flushed = self.flush()
        home = self.handover.go_home()
        return {"hangup": hung, "released": released, "flushed": flushed, "home": home,
                "handoff": self.handoff(ap)}

    @command()
    def inject_pmk(self, ap: str, pmk_hex: str) -> dict:
        """Fault injection: hold `pmk_hex` as the PMKSA for `ap` (a wrong PMK must make the
        4-way handshake fail on the MIC)."""
        self.supplicant().install_pmk(self._bssid(ap), bytes.fromhex(pmk_hex), "injected")
        return {"ok": True}

    @command()
    def use_credentials(self, cert: str, key: str) -> dict:
        """Authenticate with another client certificate from now on (security tests)."""
        self.config["cert"], self.config["key"] = cert, key
        self._supplicant = None
        return {"ok": True}

    @command()
    def pmksa(self) -> dict:
        sup = self._supplicant
        return {b: p.source for b, p in (sup.pmksa.items() if sup else [])}


@role("access-point")
class AccessPoint(_RadioRole):
    """An AP's IEEE 802.1X authenticator (EAP pass-through to its domain's AAA server over
    RADIUS, 4-way handshake) which opens and closes stations' controlled ports; it accepts
    PMKs (PSK_ap) installed by a PAA of its domain (RFC 6252 C.5.3)."""
    CONFIG = {"iface": "eth0", "radius": None, "keyinstall_port": 7011, "keyinstall_peers": {},
              # an emulated AP's own switch (agents/port_driver.py); absent on real hardware
              "port_driver": None, "stations": {},
              # RFC 6252 C.2: the PAAs of this AP's network, told when a station leaves
              # (agents/departure.py): PAA address -> the secret shared with it
              "departure_port": None, "departure_peers": {}}

    def __init__(self, node: str, config: dict, log: EventLog):
        super().__init__(node, config, log)
        self.authenticator = None
        self.keyinstall = None
        self.port_driver = None
        self.port_driver_on = True
        self._controller_news: "queue.SimpleQueue | None" = None
        if self.config["port_driver"]:
            from .port_driver import PortDriver
            self.port_driver = PortDriver(self.config["port_driver"])
            import queue
            self._controller_news = queue.SimpleQueue()
            threading.Thread(target=self._tell_controller, daemon=True,
                             name="port-news").start()
        if self.config["radius"] is not None:
            self.port()              # open it now, not within the first handshake's timing
            self._start_authenticator()
        if self.config["keyinstall_peers"] and self.authenticator is not None:
            self.keyinstall = start_keyinstall_server(
                self.config, "access-point", self.authenticator.bssid,
                lambda sta, key: self.authenticator.install_pmk(sta, key, "mpa"), log)
        if self.config["departure_peers"] and self.authenticator is not None:
            from .departure import DepartureNotifier
            self.authenticator.on_departure = DepartureNotifier(
                self.authenticator.bssid, self.config["departure_peers"],
                self.config["departure_port"], log, self.authenticator.gone).departed

    def _start_authenticator(self) -> None:
        from .dot1x import Authenticator
        from .radius_client import RadiusClient
        r = self.config["radius"]
        radius = RadiusClient(r["server"], r["port"], r["secret"], r.get("nas_identifier", self.node))
        self.authenticator = Authenticator(self.config["iface"], radius, self.log,
                                           self._port_control, stations=self.config["stations"])
        self.authenticator.start()

    def _port_control(self, sta: str, authorized: bool) -> str:
        """Open or close `sta`'s controlled port: on this AP's own switch when it has one
        (agents/port_driver.py; the controller hears of it right after, for what depends on
        other stations), else by asking the controller and waiting for its answer."""
        driver = self.port_driver if self.port_driver_on else None
        if driver is not None and driver.knows(sta):
            try:
                (driver.open if authorized else driver.close)(sta)
            except (OSError, RuntimeError) as exc:     # the switch went away: ask the controller
                self.log.emit("port_driver_failed", "switching", sta=sta, reason=str(exc)[:200])
            else:
                self._controller_news.put((sta, authorized))
                return "ok"
        from . import l2
        with self._lock:
            return l2.set_port(self.port(), sta, authorized, self.log)["status"]

    @command()
    def port_control(self, mode: str) -> dict:
        """Who opens ports from now on: `ap` (this AP's own switch; needs a port driver) or
        `controller` (asked, answer awaited). For benchmarks that compare the two in one
        run, handoff by handoff (bench/l2_floor.py --port-control ap,controller)."""
        if mode not in ("ap", "controller"):
            raise CommandError(f"port control is 'ap' or 'controller', not {mode!r}")
        if mode == "ap" and self.port_driver is None:
            raise CommandError("this AP has no port driver (no emulated switch of its own)")
        self.port_driver_on = mode == "ap"
        self.log.emit("emulation_constants", **self.port_driver.constants()
                      if self.port_driver_on else {"port_control": {
                          "value": "controller (switched by the port_control command)",
                          "unit": "", "source": "agents/agent.py"}})
        return {"mode": mode}

    def _tell_controller(self) -> None:
        """The controller's part of opened/closed ports, off the handshake's path: broadcast
        to authorized stations at the radio, intra-BSS paths, pre-authentication through
        the DS, and its own state (controller/app.py `_authenticator_request`)."""
        from . import l2
        while True:
            sta, authorized = self._controller_news.get()
            try:
                with self._lock:
                    l2.set_port(self.port(), sta, authorized, self.log)
            except Exception as exc:                   # noqa: BLE001 - the loop goes on
                self.log.emit("port_driver_failed", "switching", sta=sta, reason=str(exc)[:200])

    @command()
    def flush(self) -> dict:
        """Forget PMKSAs and sessions (a clean start for the next repetition)."""
        if self.authenticator:
            self.authenticator.flush()
        return {"ok": True}

    @command()
    def pmksa(self) -> dict:
        a = self.authenticator
        return {sta: p.source for sta, p in (a.pmksa.items() if a else [])}

    def close(self) -> None:
        if self.keyinstall:
            self.keyinstall.stop()
        if self.authenticator:
            self.authenticator.stop()

    @command(phase="switching")
    def authorize(self, sta: str, timeout: float = 5.0) -> dict:
        return self._set_port(sta, True, timeout)

    @command(phase="switching")
    def deauthorize(self, sta: str, timeout: float = 5.0) -> dict:
        return self._set_port(sta, False, timeout)

    def _set_port(self, sta: str, authorized: bool, timeout: float) -> dict:
        from . import l2
        with self._lock:
            result = l2.set_port(self.port(), sta, authorized, self.log, timeout)
        if result["status"] != "ok":
            what = "authorize" if authorized else "deauthorize"
            raise CommandError(f"{what} {sta} failed: {result['status']}")
        return result


def start_keyinstall_server(config: dict, kind: str, target_id: str, on_install, log,
                            prefix: str = ""):
    """The target side of PAA key installation (protocols.keyinstall): every PAA peer, each
    checked with its own secret (`<prefix>keyinstall_peers`: PAA address -> secret) and
    Sequence, on `<prefix>keyinstall_port`."""
    from ..protocols import keyinstall as ki
    from .keyinstall import KeyInstallServer, mac_bytes, receivers_by_address
    kinds = {"access-point": ki.TargetKind.ACCESS_POINT,
             "access-router": ki.TargetKind.ACCESS_ROUTER,
             "packet-data-gateway": ki.TargetKind.PACKET_DATA_GATEWAY}
    receivers = receivers_by_address(config[prefix + "keyinstall_peers"], kinds[kind],
                                     mac_bytes(target_id))
    return KeyInstallServer("0.0.0.0", config[prefix + "keyinstall_port"], receivers,
                            on_install, log).start()


@role("paa")
class Paa(Role):
    """The PANA authentication agent (RFC 6252 s6.2; RFC 5191, RFC 5873): relays the MN's
    EAP to its domain's AAA server over RADIUS; on success derives PSK_ap for every AP of
    its network(s) and the MN-AR key, and installs them (Tconf, C.5.3)."""
    CONFIG = {"pana_port": 716, "pana_address": "0.0.0.0", "paa_radius": None, "stations": {},
              "ctn_aps": [], "ctn_ars": [],
              # C.5.2 / s7.6.2: packet data gateways of the cellular network(s) this PAA
              # serves, and identity -> MAC address of the MN's cellular interface there
              "ctn_pdgs": [], "cellular_stations": {},
              # RFC 6252 C.2: the APs' departure notices (agents/departure.py), and how long
              # an MPA-SA is kept unauthorized after its MN left (None: as long as the session)
              "departure_port": None, "mpa_sa_keep": 60.0}

    def __init__(self, node: str, config: dict, log: EventLog):
        super().__init__(node, config, log)
        self.paa = None
        self.departures = None
        self.mpa_sa_keep = self.config["mpa_sa_keep"]
        self.tconf: dict[str, dict] = {}          # identity -> last install_mpa_keys result
        if self.config["paa_radius"] is not None:
            from .pana import Paa as PanaAgent
            from .radius_client import RadiusClient
            r = self.config["paa_radius"]
            radius = RadiusClient(r["server"], r["port"], r["secret"], r.get("nas_identifier", node))
            self.paa = PanaAgent(self.config["pana_address"], self.config["pana_port"], radius, log,
                                 on_success=self._on_success).start()
            if self.config["departure_port"] is not None and self.config["ctn_aps"]:
                from .departure import DepartureServer
                self.departures = DepartureServer("0.0.0.0", self.config["departure_port"],
                                                  self.config["ctn_aps"], self.on_departure,
                                                  log).start()

    def on_departure(self, notice, ap: str) -> dict:
        """RFC 6252 C.2: an AP of this PAA's network says a station left it (authenticated
        Departure-Notice): if it left the network, its authorized sessions become
        unauthorized, the MPA-SA kept `mpa_sa_keep` seconds."""
        from .departure import departure_action
        from ..protocols import mgmt
        identities = {mac.lower(): i for i, mac in self.config["stations"].items()}
        bssids = {mgmt.mac_bytes(a["bssid"]) for a in self.config["ctn_aps"]}
        identity, why = departure_action(notice, bssids, identities)
        authorized = identity is not None and any(
            st["state"] == "open" for st in self.paa.states().get(identity, []))
        action = "unauthorize" if authorized else ("no authorized session" if identity else "none")
        # the notice first, then the transition it causes (the ladder reads in that order)
        self.log.emit("departure_notice", "switching", ap=ap, sta=mgmt.mac_str(notice.station),
                      identity=identity, reason=notice.reason.name, why=why, action=action,
                      new_bssid=mgmt.mac_str(notice.new_bssid) if any(notice.new_bssid) else None)
        moved = (self.paa.detach(identity, self.mpa_sa_keep, trigger=f"departure notice from {ap}")
                 if authorized else [])
        return {"identity": identity, "action": action, "moved": moved}

    @command()
    def mpa_sa_hold(self, keep: float | None) -> dict:
        """How long an MPA-SA is kept unauthorized after its MN left (s; None: as long as the
        PANA session lives), for the departures to come."""
        if keep is not None and not 0 <= keep <= 86400:
            raise CommandError(f"keep is 0 to 86400 s or None, not {keep!r}")
        self.mpa_sa_keep = keep
        return {"keep": keep}

    def _targets(self):
        from .keyinstall import ACCESS_POINT, ACCESS_ROUTER, PACKET_DATA_GATEWAY, KeyTarget
        aps = [KeyTarget(a["name"], ACCESS_POINT, a["address"], a["port"], a["secret"], a["bssid"])
               for a in self.config["ctn_aps"]]
        ars = [KeyTarget(r["name"], ACCESS_ROUTER, r["address"], r["port"], r["secret"],
                         r["target_id"]) for r in self.config["ctn_ars"]]
        pdgs = [KeyTarget(g["name"], PACKET_DATA_GATEWAY, g["address"], g["port"], g["secret"],
                          g["target_id"]) for g in self.config["ctn_pdgs"]]
        return aps + ars + pdgs

    def _on_success(self, session) -> None:
        from .keyinstall import install_mpa_keys
        sta = self.config["stations"].get(session.identity)
        if sta is None:
            self.log.emit("psk_install_failed", "pre-configuration", identity=session.identity,
                          reason="no station MAC known for this identity")
            return
        self.tconf[session.identity] = install_mpa_keys(
            session.mpa_keys, sta, self._targets(), self.log,
            cellular_sta=self.config["cellular_stations"].get(session.identity))

    @command(phase="pre-configuration")
    def tconf_status(self, identity: str) -> dict:
        """The key installation (Tconf) that followed `identity`'s last authentication."""
        result = self.tconf.get(identity)
        if result is None:
            raise CommandError(f"no key installation for {identity} yet")
        return result

    @command()
    def mpa_sa_detach(self, identity: str, keep: float | None = None) -> dict:
        """RFC 6252 C.2: the MN `identity` left this PAA's network: its authorized sessions
        become unauthorized, the MPA-SA kept (`keep` s at most). The command's path (events
        carry trigger "command"); the network's own is the APs' departure notice
        (`on_departure`)."""
        if self.paa is None:
            raise CommandError("this PAA has no PANA service (no paa_radius configured)")
        return {"moved": self.paa.detach(identity, keep)}

    @command()
    def mpa_sa_status(self) -> dict:
        """identity -> the states of its PANA sessions at this PAA."""
        return self.paa.states() if self.paa is not None else {}

    @command()
    def flush(self) -> dict:
        """Forget PANA sessions (a clean start for the next repetition)."""
        if self.paa is not None:
            with self.paa._lock:
                self.paa.sessions.clear()
                self.paa.established.clear()
                self.paa._handshakes.clear()
        self.tconf.clear()
        return {"ok": True}

    def close(self) -> None:
        if self.departures is not None:
            self.departures.stop()
        if self.paa is not None:
            self.paa.stop()


CHARON_TABLE = 220         # strongSwan's routing table for installed CHILD_SAs (its default)


@role("access-router")
class AccessRouter(Role):
    """Access router (s6.2): receives the MN-AR key from the PAA (s6.3 step 1) and makes it
    the IKEv2 PSK of the MN and its pass for unicast DHCP into the CTN; the nAR end of
    proactive handover tunnels, with DAD and proxy ARP for the nCoA (s7.3, s7.4, Appendix A;
    agents/tunnel.py)."""
    CONFIG = {"keyinstall_port": 7011, "keyinstall_peers": {}, "keyinstall_id": None,
              "ike": {}, "ctn": None,
              # DAD for an nCoA on the CTN link (RFC 5227 probes; its 1-2 s spacing shortened)
              "dad_probes": 3, "dad_interval": 0.2,
              # the buffering module (s6.3 step 4, s7.6.1; agents/buffering.py); station
              # MAC -> node name, to name the MN in its events
              "buffering_port": 7012, "station_nodes": {},
              # C.5.2: WLAN station MAC -> the MACs of that MN's cellular interfaces on this
              # router's radio network (the tunnel's inner address must be theirs)
              "cellular_macs": {}}
    # C.5.2 (pht_to_link): how long the tunnel into a cellular network stays after it is
    # disabled, before it is deleted: what was routed into it just before must still be
    # encrypted (kernel-libipsec reads the TUN device in user space) and cross the WLAN to
    # the MN, whose own end goes after this. Deleting at once lost 1 packet in 1 of 3
    # bench repetitions (bench/c52_handover.py, under load)
    PHT_DRAIN_S = 0.1

    def __init__(self, node: str, config: dict, log: EventLog):
        super().__init__(node, config, log)
        self.mn_ar_keys: dict[str, bytes] = {}
        self.keyinstall = None
        self.tunnel_end = None
        self.tunnel_error = "no candidate target network or no charon configured"
        if self.config["ctn"] and self.config["ike"].get("vici"):
            from .tunnel import TunnelEnd
            try:
                self.tunnel_end = TunnelEnd(self.config["ike"], self.config["ctn"],
                                            {"probes": self.config["dad_probes"],
                                             "interval": self.config["dad_interval"]}, log,
                                            address_check=self._reserved_here)
            except (OSError, RuntimeError) as exc:     # e.g. no iptables: keys still work
                self.tunnel_error = f"cannot set up the tunnel end: {exc}"
                log.emit("pht_failed", "pre-configuration", reason=self.tunnel_error)
        if self.config["keyinstall_peers"] and self.config["keyinstall_id"]:
            self.keyinstall = start_keyinstall_server(
                self.config, "access-router", self.config["keyinstall_id"],
                self._on_mn_ar_key, log)
        self.buffering = self.buffering_server = None
        if self.tunnel_end is not None and self.config["ctn"].get("kind") != "cellular":
            self._start_buffering()      # (a cellular network's tunnel end buffers nothing)

    def _reserved_here(self, sta: str, ncoa: str) -> bool | None:
        """C.5.2: is `ncoa` the address the packet data gateway on this node reserved (or
        leased) for a cellular interface of the MN whose WLAN station is `sta`? None when
        this node has no gateway to ask (the pool check alone then)."""
        gateway = next((r.gateway for r in getattr(self, "co_located", ())
                        if isinstance(r, PacketDataGatewayRole)
                        and getattr(r, "gateway", None) is not None), None)
        if gateway is None:
            return None
        hosts = self.config["cellular_macs"].get(sta, [])
        return any(gateway.holds(bytes(int(x, 16) for x in mac.split(":")), ncoa)
                   for mac in hosts)

    def _start_buffering(self) -> None:
        from .buffering import BufferingModule, BufferingServer
        iface = self.config["ctn"]["iface"]
        try:
            self.buffering = BufferingModule(iface, self.log)
        except OSError as exc:
            self.log.emit("pht_failed", "pre-configuration",
                          reason=f"no buffering module: {exc}")
            return
        # Appendix B: a gratuitous ARP from the MN (re)creates its neighbour entry here
        with open(f"/proc/sys/net/ipv4/conf/{iface}/arp_accept", "w") as fh:
            fh.write("1")
        self.buffering_server = BufferingServer(
            "0.0.0.0", self.config["buffering_port"], self.mn_ar_keys.get, self._on_buffer,
            self._on_attached, self.log).start()

    def _mn(self, sta: str) -> str:
        return self.config["station_nodes"].get(sta, sta)

    def _tunnel_of(self, sta: str, ncoa: str) -> dict | None:
        with self.tunnel_end._lock:
            t = self.tunnel_end.tunnels.get(ncoa)
        return t if t is not None and t["sta"] == sta else None

    def _on_buffer(self, sta: str, ncoa: str, period_ms: int):
        """BUFFER_REQUEST: hold what arrives for `ncoa` from now on. Once the ACK is out
        (through the tunnel), the tunnel is disabled for new packets (s6.3 step 4: "delete
        or disable"): its route goes, so nothing enters the tunnel that the MN's DELETE
        could strand between charon removing the SA and the route."""
        from ..protocols.buffering import Status
        from .buffering import BufferingRefused
        if self._tunnel_of(sta, ncoa) is None:
            raise BufferingRefused(Status.NOT_TUNNELLED, f"{ncoa} is in no tunnel of {sta}")
        self.buffering.arm(ncoa, period_ms, sta, mn=self._mn(sta))
        return lambda: self._disable_tunnel(ncoa, sta, "buffering requested")

    def _disable_tunnel(self, ncoa: str, sta: str, why: str) -> None:
        from .rtnl import Rtnl
        try:
            with Rtnl() as nl:
                nl.route_del(f"{ncoa}/32", table=CHARON_TABLE)
        except OSError:
            return                                     # charon removed it already
        self.log.emit("pht_disabled", "pre-switching", mn=self._mn(sta), sta=sta, ncoa=ncoa,
                      reason=why)

    def _on_attached(self, sta: str, ncoa: str) -> int:
        """ATTACHED (the MN is on the CTN link with its nCoA): delete the tunnel if it is
        still up (s7.4: "a link-layer trigger ... to delete or disable the tunnel"), stop
        proxy ARP, flush the buffer to the MN; returns the packets flushed."""
        t = self._tunnel_of(sta, ncoa)
        if t is not None:
            # first stop routing into the tunnel (charon's route in table 220, in-process
            # netlink: well under a millisecond), then let charon delete the SAs
            self._disable_tunnel(ncoa, sta, "the MN attached")
            try:
                self.tunnel_end.charon.terminate(ike_id=t["ike_uniqueid"], timeout=0.001,
                                                 force=True)
            except Exception as exc:               # noqa: BLE001 -- charon's words, logged
                self.log.emit("pht_failed", "post-switching", sta=sta, ncoa=ncoa,
                              reason=f"cannot delete the tunnel: {exc}")
            self.tunnel_end._down(ncoa, "the MN attached to the CTN link")
        return self.buffering.flush(ncoa, "MN attached")["packets"]

    def _on_mn_ar_key(self, sta: str, key: bytes) -> None:
        self.mn_ar_keys[sta] = key
        if self.tunnel_end is not None:
            try:
                self.tunnel_end.authorize(sta, key)
            except Exception as exc:                 # charon down: the key is still held
                self.log.emit("pht_failed", "pre-configuration", sta=sta,
                              reason=f"cannot load the MN-AR key into charon: {exc}")

    @command(phase="pre-configuration")
    def forget_mn(self, sta: str) -> dict:
        """Withdraw a station's pre-authorization: MN-AR key, PSK, DHCP pass, tunnels."""
        self.mn_ar_keys.pop(sta, None)
        if self.tunnel_end is None:
            return {"sta": sta}
        return self.tunnel_end.forget(sta)

    @command("switching")
    def copy_forward(self, mn: str, old: str, new: str, duration_ms: float) -> dict:
        """RFC 6252 C.5.2's copy-and-forward (agents/copy_forward.py): for `duration_ms`,
        every packet this router forwards to the MN's `old` address is also sent, as a copy,
        to its `new` one. Returns once copying runs."""
        from ipaddress import IPv4Address
        from .copy_forward import CopyForward
        try:
            old, new = str(IPv4Address(old)), str(IPv4Address(new))
            window = CopyForward(mn, old, new, float(duration_ms) / 1e3, self.log)
        except (ValueError, TypeError, OSError) as exc:
            self.log.emit("copy_forward_failed", "switching", mn=mn, reason=str(exc))
            raise CommandError(f"copy-and-forward for {mn}: {exc}") from None
        return window.start()

    @command("switching")
    def pht_to_link(self, ncoa: str, copy_forward_ms: float | None = None,
                    timeout: float = 10.0) -> dict:
        """C.5.2's switch at the access router of a cellular network: the MN's cellular
        interface carries `ncoa` now (its data session's /32 on the radio link), so stop
        tunnelling it (charon's route goes: the radio link takes over; s7.4 "delete or
        disable"). With `copy_forward_ms`, for that long each packet that leaves on the
        radio link for `ncoa` is also sent through the tunnel (copy-and-forward, the
        packets then arrive twice). Then, at least PHT_DRAIN_S after disabling it, the
        tunnel is deleted. Returns once it is."""
        from .copy_forward import CopyForward
        if self.tunnel_end is None:
            raise CommandError(f"{self.node}: {self.tunnel_error}")
        with self.tunnel_end._lock:
            t = dict(self.tunnel_end.tunnels.get(ncoa) or {})
        if not t:
            raise CommandError(f"{ncoa} is in no proactive handover tunnel here")
        mn, window = self._mn(t["sta"]), None
        if copy_forward_ms:
            try:
                window = CopyForward(mn, ncoa, ncoa, float(copy_forward_ms) / 1e3, self.log,
                                     leaving=self.config["ctn"]["iface"],
                                     via=self.config["ike"].get("tun", "ipsec0"))
            except (ValueError, TypeError, OSError) as exc:
                raise CommandError(f"copy-and-forward for {mn}: {exc}") from None
            window.start()
        t0 = time.perf_counter_ns()
        self._disable_tunnel(ncoa, t["sta"], "the MN's cellular interface carries it")
        t1 = time.perf_counter_ns()
        if window is not None:
            window.done.wait(timeout)
        time.sleep(max(0.0, self.PHT_DRAIN_S - (time.perf_counter_ns() - t1) / 1e9))
        try:
            self.tunnel_end.charon.terminate(ike_id=t["ike_uniqueid"], timeout=0.001,
                                             force=True)
        except Exception as exc:               # noqa: BLE001 -- charon's words, logged
            self.log.emit("pht_failed", "switching", sta=t["sta"], ncoa=ncoa,
                          reason=f"cannot delete the tunnel: {exc}")
        self.tunnel_end._down(ncoa, "the MN's cellular interface carries it")
        return {"ncoa": ncoa, "mn": mn, "disable_ms": (t1 - t0) / 1e6,
                "copies": window.copies if window else None,
                "copy_forward_ms": copy_forward_ms}

    @command()
    def pht_status(self) -> dict:
        """Tunnels, proxy ARP entries, authorized stations, DHCP filter counters."""
        if self.tunnel_end is None:
            raise CommandError(f"{self.node}: {self.tunnel_error}")
        return self.tunnel_end.status()

    @command()
    def mn_ar_key(self, sta: str) -> dict:
        """Whether (and which, by fingerprint) an MN-AR key is installed for `sta`."""
        import hashlib
        key = self.mn_ar_keys.get(sta)
        return {"installed": key is not None,
                "fingerprint": hashlib.sha256(key).hexdigest()[:16] if key else None}

    @command()
    def buffering_status(self) -> dict:
        """The buffering module: armed nCoAs, packets held."""
        if self.buffering is None:
            raise CommandError(f"{self.node}: no buffering module")
        return self.buffering.status()

    def close(self) -> None:
        if self.keyinstall:
            self.keyinstall.stop()
        if self.buffering_server:
            self.buffering_server.stop()
        if self.buffering:
            self.buffering.close()
        if self.tunnel_end:
            self.tunnel_end.close()


@role("packet-data-gateway")
class PacketDataGatewayRole(Role):
    """The base station's packet data gateway (RFC 6252 C.5.2, the PDSN): PPPoE access
    concentrator, CHAP authenticator checking the MN's response with the domain's AAA
    server over RADIUS, IPCP address server (agents/cellular.py PacketDataGateway)."""
    CONFIG = {"pdg_iface": "eth0", "pdg_local": "", "pdg_pool": "", "pdg_reserved": [],
              "pdg_radius": None, "pdg_ac_name": "pdsn",
              # CHAP secrets installed by the PAAs of its networks (RFC 6252 s7.6.2; a port
              # of its own: an access router on the same node has the usual one)
              "pdg_keyinstall_port": 7013, "pdg_keyinstall_peers": {},
              "pdg_keyinstall_id": None,
              # where pre-authorized mobiles reserve their address through the WLAN
              # (protocols/cellular_address.py)
              "pdg_address_port": 7014}
    PREAUTHORIZED_S = 3600.0   # how long an installed secret stays usable (the PAA's lifetime)

    def __init__(self, node: str, config: dict, log: EventLog):
        super().__init__(node, config, log)
        from .cellular import PacketDataGateway, RadiusNas
        c = self.config
        if not c["pdg_radius"]:
            raise CommandError(f"{node}: no AAA server for the packet data gateway")
        r = c["pdg_radius"]
        nas = RadiusNas(r["server"], r["port"], r["secret"], r["nas_identifier"])
        from .health import Loop
        self.gateway = PacketDataGateway(c["pdg_iface"], c["pdg_local"], c["pdg_pool"], nas,
                                         log, c["pdg_ac_name"], reserved=tuple(c["pdg_reserved"]))
        self.loop = Loop("packet-data-gateway", log)      # its health is in `hello`
        self.gateway._thread = self.loop.start(self.gateway.serve_forever)
        self.keyinstall = None
        if c["pdg_keyinstall_peers"] and c["pdg_keyinstall_id"]:
            self.keyinstall = start_keyinstall_server(
                c, "packet-data-gateway", c["pdg_keyinstall_id"],
                lambda sta, key: self.gateway.preauthorize(sta, key, self.PREAUTHORIZED_S),
                log, prefix="pdg_")
        from .cellular import AddressServer
        # on the address MNs are told (their connected socket takes answers from it only)
        self.address_server = AddressServer(c["pdg_local"], c["pdg_address_port"],
                                            self.gateway, int(self.PREAUTHORIZED_S),
                                            log).start()

    @command()
    def preauthorized(self) -> dict:
        """The mobiles (by interface MAC) holding a CHAP secret installed by a PAA."""
        from .cellular import _mac_str
        return {"stations": sorted(_mac_str(h) for h in list(self.gateway.preauthorized))}

    @command()
    def flush_preauthorized(self) -> dict:
        """Forget every installed CHAP secret and address reserved with it (a clean start
        for the next repetition)."""
        return {"flushed": self.gateway.forget_preauthorized()}

    @command()
    def sessions(self) -> dict:
        """The data sessions: mobile, address, session id; completed and dropped counts."""
        g = self.gateway
        return {"sessions": [{"mn": s.user, "address": s.address, "session_id": s.session_id}
                             for s in list(g.sessions.values())],
                "completed": g.completed, "dropped": g.counters.dropped}

    def close(self) -> None:
        if self.keyinstall:
            self.keyinstall.stop()
        self.address_server.stop()
        self.loop.stop()
        self.gateway.stop()


@role("correspondent")
class Correspondent(Role):
    """Correspondent node (s7.5): a SIP UA that answers calls and streams RTP (RFC 3550,
    one packet every `rtp_interval`, C.5.1: 16 ms) to the address in the peer's SDP; a
    re-INVITE from the MN (the binding update) moves the stream (agents/sip_ua.py)."""
    CONFIG = {"sip_address": None, "sip_port": 5060, "media_port": 4000, "rtp_interval": 0.016}

    def __init__(self, node: str, config: dict, log: EventLog):
        super().__init__(node, config, log)
        self.cn = None
        if self.config["sip_address"]:
            from .sip_ua import CorrespondentNode
            self.cn = CorrespondentNode(self.config["sip_address"], self.config["sip_port"],
                                        self.config["media_port"], log,
                                        interval=float(self.config["rtp_interval"]),
                                        user=node)

    @command()
    def calls(self) -> dict:
        """The CN's calls and where its stream goes."""
        if self.cn is None:
            raise CommandError("no SIP address configured")
        s = self.cn.sender
        return {"calls": [c.summary() for c in self.cn.ua.calls.values()],
                "stream_to": f"{s.dest[0]}:{s.dest[1]}" if s.dest else None, "sent": s.sent,
                "interval_s": s.interval}

    @command()
    def bicast(self, period: float) -> dict:
        """RFC 6252 C.1: after each move of the stream, keep a copy going to the address left
        for `period` seconds (0: off)."""
        if self.cn is None:
            raise CommandError("no SIP address configured")
        self.cn.sender.bicast = max(0.0, float(period))
        return {"bicast_s": self.cn.sender.bicast}

    def close(self) -> None:
        if self.cn is not None:
            self.cn.close()


@role("information-server")
class InformationServer(Role):
    """Discovery (s7.1): tells the MN about candidate target networks: their PAA,
    configuration agent, access router, APs and address resolution mappings
    (agents/discovery.py; records from deploy/ctn.py)."""
    CONFIG = {"info_port": 4551, "info_address": "0.0.0.0", "networks": []}

    def __init__(self, node: str, config: dict, log: EventLog):
        super().__init__(node, config, log)
        from .discovery import InformationServer as Server
        self.server = Server(self.config["info_address"], self.config["info_port"],
                             self.config["networks"], log).start()

    @command(phase="discovery")
    def networks(self) -> dict:
        """What the server tells MNs (every access network it knows)."""
        return {"networks": self.config["networks"]}

    def close(self) -> None:
        self.server.stop()


@role("mipv6-mobile-node")
class MobileIpv6NodeRole(Role):
    """The MN's Mobile IPv6 (RFC 6275 s11, agents/mipv6_agent.py): home address, home
    registration with the HA, return routability and route optimization with a CN."""
    CONFIG = {"mipv6_mn": None}

    def __init__(self, node: str, config: dict, log: EventLog):
        super().__init__(node, config, log)
        from .mipv6_agent import MobileIpv6Node
        if not self.config["mipv6_mn"]:
            raise ValueError("mipv6-mobile-node needs 'mipv6_mn' in its config")
        self.mn = MobileIpv6Node(self.config["mipv6_mn"], log)

    @command(phase="binding-update")
    def mipv6_register(self, care_of_address: str | None = None, timeout: float = 5.0) -> dict:
        """Binding Update to the home agent from `care_of_address` (default: the radio
        interface's global address outside the home prefix) until its Binding Ack."""
        self.log.emit("binding_update_start", mobility="mipv6", peer="home_agent",
                      care_of_address=care_of_address)
        try:
            out = self.mn.register(care_of_address, timeout)
        except (RuntimeError, ValueError) as exc:
            self.log.emit("binding_update_failed", mobility="mipv6", peer="home_agent",
                          error=str(exc))
            raise CommandError(str(exc)) from None
        self.log.emit("binding_update_done", mobility="mipv6", peer="home_agent", **out)
        return out

    @command(phase="binding-update")
    def mipv6_route_optimization(self, correspondent: str, timeout: float = 5.0) -> dict:
        """Return routability and a Binding Update to `correspondent` (a CN's node name or
        address) until its Binding Ack."""
        self.log.emit("binding_update_start", mobility="mipv6", peer=correspondent)
        try:
            out = self.mn.route_optimization(correspondent, timeout)
        except (RuntimeError, ValueError) as exc:
            self.log.emit("binding_update_failed", mobility="mipv6", peer=correspondent,
                          error=str(exc))
            raise CommandError(str(exc)) from None
        self.log.emit("binding_update_done", mobility="mipv6", peer=correspondent, **out)
        return out

    @command(phase="post-switching")
    def mipv6_movement(self, timeout: float = 10.0) -> dict:
        """After a layer-2 handoff: router solicitation, stateless autoconfiguration of the
        new care-of address with the kernel's DAD (the non-MPA handover's address step)."""
        try:
            return self.mn.movement(timeout)
        except (RuntimeError, ValueError, OSError) as exc:
            raise CommandError(str(exc)) from None

    @command(phase="pre-configuration")
    def mipv6_preconfigure(self, prefix: str, nar: str) -> dict:
        """MPA (s7.3-s7.4): the nCoA from the CTN's `prefix` (stateless) and the MN's end
        of the proactive handover tunnel to the nAR's address `nar`."""
        try:
            return self.mn.preconfigure(prefix, nar)
        except (RuntimeError, ValueError) as exc:
            raise CommandError(str(exc)) from None

    @command(phase="pre-switching")
    def mipv6_pre_switching(self) -> dict:
        """MPA s6.3 step 4: the MN's end of the tunnel goes."""
        return self.mn.pre_switching()

    @command(phase="post-switching")
    def mipv6_post_switching(self, router: str) -> dict:
        """MPA s6.3 step 6: the nCoA onto the interface, `router` (the nAR) as the default
        router, an unsolicited Neighbor Advertisement for the nCoA."""
        try:
            return self.mn.post_switching(router)
        except (RuntimeError, ValueError, OSError) as exc:
            raise CommandError(str(exc)) from None

    @command()
    def mipv6_forget_correspondents(self) -> dict:
        """Clean state: the route optimization state of every correspondent goes."""
        return self.mn.forget_correspondents()

    @command()
    def mipv6_status(self) -> dict:
        """Home address, care-of address, Binding Update List, data plane counters."""
        return self.mn.status()

    def close(self) -> None:
        self.mn.close()


@role("home-agent")
class HomeAgentRole(Role):
    """The home agent (RFC 6275 s10, agents/mipv6_agent.py): binding cache, proxy ND on the
    home link, the bidirectional tunnel."""
    CONFIG = {"mipv6_ha": None}

    def __init__(self, node: str, config: dict, log: EventLog):
        super().__init__(node, config, log)
        from .mipv6_agent import home_agent
        if not self.config["mipv6_ha"]:
            raise ValueError("home-agent needs 'mipv6_ha' in its config")
        self.runner = home_agent(self.config["mipv6_ha"], log)

    @command()
    def home_bindings(self) -> dict:
        """The binding cache and the data plane's counters."""
        from .mipv6_agent import bindings
        return {"bindings": bindings(self.runner), "stats": self.runner.stats()}

    def close(self) -> None:
        self.runner.stop()


@role("mipv6-correspondent")
class MobileIpv6CorrespondentRole(Role):
    """A correspondent node's Mobile IPv6 (RFC 6275 s9, agents/mipv6_agent.py): return
    routability, binding cache, HAO and type 2 routing header."""
    CONFIG = {"mipv6_cn": None}

    def __init__(self, node: str, config: dict, log: EventLog):
        super().__init__(node, config, log)
        from .mipv6_agent import MediaStream, correspondent
        c = self.config["mipv6_cn"]
        if not c:
            raise ValueError("mipv6-correspondent needs 'mipv6_cn' in its config")
        self.runner = correspondent(c, log)
        self.stream = MediaStream(c["address"], int(c.get("media_port", 4000)),
                                  float(c.get("rtp_interval", 0.016)), c.get("send_log"))

    @command()
    def stream_to(self, address: str, port: int = 4000) -> dict:
        """Stream RTP (every rtp_interval) to a mobile's home address."""
        return self.stream.start(address, port)

    @command()
    def stream_pause(self) -> dict:
        """Stop sending (RTP time runs on)."""
        return self.stream.pause()

    @command()
    def correspondent_flush(self) -> dict:
        """Clean state: the binding cache emptied."""
        from .mipv6_agent import forget_bindings
        return forget_bindings(self.runner)

    @command()
    def correspondent_bindings(self) -> dict:
        """The binding cache and the data plane's counters."""
        from .mipv6_agent import bindings
        return {"bindings": bindings(self.runner), "stats": self.runner.stats()}

    def close(self) -> None:
        self.stream.close()
        self.runner.stop()


@role("ipv6-access-router")
class Ipv6AccessRouterRole(Role):
    """The nAR's end of MPA with Mobile IPv6 (RFC 6252 s7.3-s7.6, agents/mipv6_mpa.py):
    proactive DAD of an nCoA, the proactive handover tunnel over IPv6, the buffering module
    flushed by the MN's unsolicited Neighbor Advertisement."""
    CONFIG = {"pht6": None}

    def __init__(self, node: str, config: dict, log: EventLog):
        super().__init__(node, config, log)
        from .mipv6_agent import NextAccessRouter
        if not self.config["pht6"]:
            raise ValueError("ipv6-access-router needs 'pht6' in its config")
        self.nar = NextAccessRouter(self.config["pht6"], log)

    @command(phase="pre-configuration")
    def pht6_open(self, ocoa: str, ncoa: str, mn: str, timeout: float = 5.0) -> dict:
        """Proactive DAD of `ncoa` on the CTN link, then the tunnel to `ocoa` is up."""
        try:
            return self.nar.open(ocoa, ncoa, mn, timeout)
        except (RuntimeError, ValueError) as exc:
            raise CommandError(str(exc)) from None

    @command(phase="pre-switching")
    def pht6_close(self, ncoa: str) -> dict:
        """The tunnel for `ncoa` is disabled (s6.3 step 4)."""
        return self.nar.close(ncoa)

    @command(phase="pre-switching")
    def pht6_buffer(self, ncoa: str, period_ms: float, mn: str) -> dict:
        """Hold packets for `ncoa` once its tunnel is disabled, for at most `period_ms`."""
        return self.nar.buffer(ncoa, period_ms, mn)

    @command()
    def pht6_status(self) -> dict:
        """Tunnels, buffers and the data plane's counters."""
        return self.nar.status()

    def close(self) -> None:
        self.nar.stop()


@role("router-advertiser")
class RouterAdvertiserRole(Role):
    """Router Advertisements on the gateway's advertising networks (RFC 4861 s6.2,
    agents/mipv6_agent.py)."""
    CONFIG = {"router_advertisements": []}

    def __init__(self, node: str, config: dict, log: EventLog):
        super().__init__(node, config, log)
        from .mipv6_agent import RouterAdvertiser
        self.advertiser = RouterAdvertiser(self.config["router_advertisements"], log).start()

    @command()
    def router_advertisements(self) -> dict:
        """Per interface: prefix, RAs sent (of them solicited), source address."""
        return self.advertiser.status()

    def close(self) -> None:
        self.advertiser.close()


class Agent:
    """Dispatches control requests to the role(s) and logs every command."""

    def __init__(self, roles: list[Role], log: EventLog):
        self.roles, self.log = roles, log
        self.name = ",".join(r.name for r in roles)
        self._commands: dict[str, tuple[Role, Callable]] = {}
        for r in roles:
            for cmd, fn in r.commands().items():
                have = self._commands.get(cmd)
                if have and have[1] is not fn:
                    raise ValueError(f"roles {have[0].name} and {r.name} both define command "
                                     f"'{cmd}'; they cannot share one agent")
                self._commands.setdefault(cmd, (r, fn))
        for r in roles:
            r.agent_roles = [x.name for x in roles]
            r.co_located = list(roles)        # the roles of this node (one process)
            r.agent_commands = tuple(sorted(self._commands))

    def dispatch(self, cmd: str, args: dict, req_id: str) -> Any:
        if cmd not in self._commands:
            self.log.emit("command_failed", cmd=cmd, id=req_id, error="unknown command")
            raise CommandError(f"unknown command '{cmd}' for role {self.name}; known: "
                               + ", ".join(sorted(self._commands)))
        role_obj, fn = self._commands[cmd]
        try:
            inspect.signature(fn).bind(role_obj, **args)
        except TypeError as exc:
            self.log.emit("command_failed", cmd=cmd, id=req_id, error=str(exc))
            raise CommandError(f"{cmd}: {exc}; usage: {cmd}{_usage(fn)}") from None
        self.log.emit("command_start", cmd=cmd, id=req_id, args=args,
                      serves=fn._command_phase)
        t0 = time.perf_counter_ns()
        try:
            result = fn(role_obj, **args)
        except Exception as exc:
            self.log.emit("command_failed", cmd=cmd, id=req_id, error=str(exc),
                          elapsed_ms=(time.perf_counter_ns() - t0) / 1e6)
            raise
        self.log.emit("command_done", cmd=cmd, id=req_id,
                      elapsed_ms=(time.perf_counter_ns() - t0) / 1e6)
        return result

    def close(self) -> None:
        for r in self.roles:
            r.close()


def make_roles(names: list[str], node: str, config: dict, log: EventLog) -> list[Role]:
    """Role objects for `names`; every config key must belong to one of them."""
    unknown_roles = [n for n in names if n not in ROLES]
    if unknown_roles:
        raise ValueError(f"unknown role(s) {', '.join(unknown_roles)}; known: "
                         + ", ".join(sorted(ROLES)))
    known = {k for n in names for k in ROLES[n].CONFIG}
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(f"unknown config key(s) {', '.join(unknown)} for role "
                         f"{','.join(names)} (known: {', '.join(sorted(known)) or 'none'})")
    return [ROLES[n](node, config, log) for n in names]


def _usage(fn: Callable) -> str:
    params = list(inspect.signature(fn).parameters.values())[1:]
    return "(" + ", ".join(p.name if p.default is p.empty else f"{p.name}={p.default!r}"
                           for p in params) + ")"


def interfaces() -> list[dict]:
    """This host's interfaces with their MAC and IPv4 addresses (iproute2's JSON)."""
    try:
        out = subprocess.run(["ip", "-j", "addr", "show"], capture_output=True, text=True,
                             timeout=5).stdout
        links = json.loads(out or "[]")
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return [{"name": n} for _, n in socket.if_nameindex()]
    return [{"name": ln["ifname"], "mac": ln.get("address"),
             "up": "UP" in ln.get("flags", []),
             "addresses": [f"{a['local']}/{a['prefixlen']}" for a in ln.get("addr_info", [])
                           if a.get("family") == "inet"]}
            for ln in links if ln.get("ifname") != "lo"]


def _load_config(text: str | None) -> dict:
    if not text:
        return {}
    if text.startswith("@"):
        with open(text[1:]) as fh:
            text = fh.read()
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise SystemExit(f"mpa-agent: --config is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise SystemExit("mpa-agent: --config must be a JSON mapping")
    return config


def agent_constants(roles: list[str], agent) -> dict:
    """The timers of this agent's protocols that shape measured intervals when they fire
    (reported beside results from the `emulation_constants` event; the retransmissions that
    did fire are events of their own: `*_retransmitted`)."""
    import importlib

    def module(name):          # only what the roles use: some need `cryptography`
        try:
            return importlib.import_module(name, __package__)
        except ImportError:
            return None
    rs = set(roles)
    dot1x = module(".dot1x") if {"mobile-node", "access-point"} & rs else None
    pana_fsm = module("..protocols.pana_fsm") if {"mobile-node", "paa"} & rs else None
    dhcp_client = module(".dhcp_client") if "mobile-node" in rs else None
    handover = module(".handover") if "mobile-node" in rs else None
    preconfig = module(".preconfig") if "mobile-node" in rs else None

    def c(value, unit, source):
        return {"value": value, "unit": unit, "source": source}
    config = {k: v for r in agent.roles for k, v in r.config.items()}
    out = {}
    if dot1x is not None:
        out["eapol_start_period"] = c(dot1x.START_PERIOD * 1e3, "ms", "agents/dot1x.py (802.1X startPeriod)")
        if "mobile-node" in roles:
            out["fourway_start_reminder"] = c(dot1x.FOURWAY_REMINDER * 1e3, "ms",
                                              "agents/dot1x.py (the AP's resends of message 1)")
    driver = next((getattr(r, "port_driver", None) for r in agent.roles
                   if getattr(r, "port_driver", None) is not None), None)
    if driver is not None:
        out.update(driver.constants())
    elif "access-point" in roles:
        out["port_control"] = c("controller (the AP asks it before message 3 and waits for its "
                                "answer)", "", "no port driver: $MPA_PORT_CONTROL=controller or "
                                "no emulated AP switch")
    if "access-point" in roles and dot1x is not None:
        out["fourway_msg1_timeout"] = c(dot1x.MSG1_TIMEOUT * 1e3, "ms", "agents/dot1x.py (as hostapd)")
        out["fourway_msg1_timeout_later"] = c(dot1x.MSG1_TIMEOUT_SUBSEQ * 1e3, "ms",
                                              "agents/dot1x.py (as hostapd)")
        out["fourway_msg1_retries"] = c(dot1x.MSG1_RETRIES, "", "agents/dot1x.py (as hostapd: 4 sends)")
    if {"access-point", "paa"} & set(roles):
        radius_client = module(".radius_client")
        if radius_client is not None:
            out["radius_timeout"] = c(radius_client.TIMEOUT_S * 1e3, "ms", "agents/radius_client.py")
            out["radius_retries"] = c(radius_client.RETRIES, "", "agents/radius_client.py")
    if {"mobile-node", "paa"} & set(roles) and pana_fsm is not None:
        out["pana_req_irt"] = c(pana_fsm.REQ_TIMER.irt * 1e3, "ms", "RFC 5191 s9 REQ_IRT")
        out["pana_pci_irt"] = c(pana_fsm.PCI_TIMER.irt * 1e3, "ms", "RFC 5191 s9 PCI_IRT")
    # RFC 6252 C.2: the AP's departure notice to the PAA, and what the PAA keeps after it
    if "access-point" in roles and config.get("departure_peers"):
        from . import departure
        out["departure_notice_timeout"] = c(departure.NOTICE_TIMEOUT * 1e3, "ms",
                                            "agents/departure.py (doubling)")
        out["departure_notice_retries"] = c(departure.NOTICE_RETRIES, "",
                                            "agents/departure.py")
    if "paa" in roles and config.get("departure_port") is not None:
        keep = config.get("mpa_sa_keep", 60.0)
        out["mpa_sa_keep"] = c(None if keep is None else keep * 1e3, "ms",
                               "PAA mpa_sa_keep (the flow's mpa_sa_hold overrides it)")
    if "mobile-node" in roles:
        out["eap_fragment_size"] = c(config.get("eap_fragment_size"), "octets",
                                     "eap_fragment_size of the mobile_node (topology, experiment)")
        if dhcp_client is not None:
            out["dhcp_first_retransmission"] = c(dhcp_client.FIRST_RETRANSMISSION * 1e3, "ms",
                                                 "RFC 2131 s4.1")
        if preconfig is not None:
            out["relayed_dhcp_first_retransmission"] = c(
                preconfig.RELAYED_DHCP_FIRST_RETRANSMISSION * 1e3, "ms",
                "agents/preconfig.py (pre-configuration's DHCP, doubling; the nAR's filter "
                "opens with the MN-AR key, after PANA)")
        out["dad_probes"] = c(config.get("dad_probes"), "", "dad_probes of the mobile_node (topology, experiment)")
        out["dad_interval"] = c(config.get("dad_interval", 0) * 1e3, "ms",
                                "dad_interval of the mobile_node (topology, experiment)")
        if handover is not None:
            out["handover_signal_rto"] = c(handover.SIGNAL_RTO * 1e3, "ms",
                                           "agents/handover.py (buffering protocol, doubling)")
    # Mobile IPv6 (issue 14): the kernel's DAD of an autoconfigured care-of address (the
    # non-MPA handover waits for it) and the MN's Router Solicitation resend interval
    if "mipv6-mobile-node" in roles:
        iface = (config.get("mipv6_mn") or {}).get("iface", "wlan0")
        for key, name, unit, scale in (("dad_transmits", "ipv6_dad_transmits", "", 1),
                                       ("retrans_time_ms", "ipv6_retrans_timer", "ms", 1)):
            where = "neigh" if key == "retrans_time_ms" else "conf"
            try:
                with open(f"/proc/sys/net/ipv6/{where}/{iface}/{key}") as fh:
                    out[name] = c(int(fh.read()) * scale, unit,
                                  f"kernel net.ipv6.{where}.{iface}.{key} (RFC 4862 s5.4)")
            except (OSError, ValueError):
                pass
        mipv6_agent = module(".mipv6_agent")
        if mipv6_agent is not None:
            out["router_solicitation_interval"] = c(
                mipv6_agent.RS_INTERVAL * 1e3, "ms", "agents/mipv6_agent.py (RFC 6275 s11.5.1)")
    # the cellular data session (C.5.2): what fires when a PPPoE frame or a RADIUS answer
    # is lost, on the mobile with a cellular interface and on the packet data gateway
    if "packet-data-gateway" in roles or config.get("cellular"):
        ppp_fsm = module("..protocols.ppp_fsm")
        out["ppp_restart_timer"] = c(ppp_fsm.RESTART_S * 1e3, "ms", "RFC 1661 s4.6 Restart timer")
        out["ppp_max_configure"] = c(ppp_fsm.MAX_CONFIGURE, "", "RFC 1661 s4.6 Max-Configure")
        out["pppoe_discovery_timeout"] = c(ppp_fsm.DISCOVERY_TIMEOUT_S * 1e3, "ms",
                                           "protocols/ppp_fsm.py (doubling; RFC 2516 leaves it open)")
    if config.get("cellular"):
        cellular = module(".cellular")
        out["cellular_address_timeout"] = c(
            cellular.ADDRESS_TIMEOUT_S * 1e3, "ms",
            "agents/cellular.py request_address (first wait, doubling; MPA pre-configuration)")
        out["cellular_address_retries"] = c(cellular.ADDRESS_RETRIES, "",
                                            "agents/cellular.py request_address")
    if "packet-data-gateway" in roles:
        cellular = module(".cellular")
        out["pdg_preauthorized_lifetime"] = c(
            PacketDataGatewayRole.PREAUTHORIZED_S * 1e3, "ms",
            "agents/agent.py: how long a PAA-installed CHAP secret is accepted")
        out["pdg_radius_timeout"] = c(cellular.RADIUS_TIMEOUT_S * 1e3, "ms",
                                      "agents/cellular.py RadiusNas (fixed, unchanged request: RFC 5080 s2.2.1)")
        out["pdg_radius_retries"] = c(cellular.RADIUS_RETRIES, "", "agents/cellular.py RadiusNas")
    if "access-router" in roles and (config.get("ctn") or {}).get("kind") == "cellular":
        out["pht_drain"] = c(AccessRouter.PHT_DRAIN_S * 1e3, "ms",
                             "agents/agent.py pht_to_link: the tunnel into the cellular "
                             "network disabled, then deleted (with copy-and-forward: after "
                             "its period, if longer)")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="mpa-agent", description=__doc__.split("\n\n")[0])
    ap.add_argument("--role", required=True,
                    help="one or more of " + ", ".join(sorted(ROLES)) + ", comma-separated")
    ap.add_argument("--node", required=True)
    ap.add_argument("--events", required=True, help="event log file (JSON lines)")
    ap.add_argument("--control", required=True, help="control socket path")
    ap.add_argument("--config", help="role settings as JSON, or @file")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.role.split(",") if n.strip()]
    log = EventLog(args.events, args.node, ",".join(names))
    try:
        agent = Agent(make_roles(names, args.node, _load_config(args.config), log), log)
    except ValueError as exc:
        ap.exit(2, f"mpa-agent: {exc}\n")
    stop = threading.Event()
    reason: list[str] = []

    def on_signal(signum, _frame):
        reason.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        server = ControlServer(args.control, agent.dispatch).start()
    except (ValueError, OSError) as exc:
        ap.exit(2, f"mpa-agent: cannot serve control socket {args.control}: {exc}\n")
    log.emit("agent_started", pid=os.getpid(), control=args.control,
             config={k: v for r in agent.roles for k, v in r.config.items()},
             python=sys.version.split()[0])
    log.emit("emulation_constants", **agent_constants(names, agent))
    print(f"mpa-agent {agent.name} on {args.node}: pid {os.getpid()}, control {args.control}",
          flush=True)
    while not stop.wait(1.0):
        pass
    server.close()
    agent.close()
    log.emit("agent_stopped", reason=reason[0] if reason else "stop")
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
