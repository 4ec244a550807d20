"""Handover flows of RFC 6252 C.5.3, driven through the agents' control channel.

Each flow starts from a clean state (every PMKSA and PANA session flushed, the MN associated
and authenticated at the scenario's `from` AP by a full EAP-TLS) and ends when the MN's port
at the `to` AP is open. The runner takes the events between `begin()` and the end.

  dot11i-post-authentication  move, then full EAP-TLS with the new AP (scenario 1)
  dot11i-pre-authentication   802.11i pre-authentication through the DS, then move (2)
  mpa-l2-pre-authentication   PANA pre-authentication with the CTN's PAA, PSK_ap installed
                              in the CTN's APs (Tconf), then move (3)

and of C.5.1 (Figure 7), in a SIP call with the CN whose RTP stream the MN logs:

  sip-mpa       discovery, PANA pre-authentication, nCoA by DHCP and the proactive handover
                tunnel, binding update (re-INVITE) over the tunnel, then pre-switching,
                switching and post-switching, with or without buffering at the nAR
  sip-non-mpa   move, full EAP-TLS, DHCP on the new link, then the binding update

and of C.5.2 (WLAN to cellular; `from` a WLAN AP, `to` a base station, `interface` the MN's
cellular interface attached to it), in a call with the CN, each starting with the cellular
interface powered off and the stream on the WLAN address:

  c52-reactive                 the WLAN link is lost (the radio's `detach`); the MN notices
                               after link_down_detection, then powers the cellular interface
                               up (activation, attach), sets up its data session (PPP: LCP,
                               CHAP, IPCP), makes it active and sends the binding update
                               (re-INVITE) from its address: break before make
  c52-mpa-both-up              pre-authentication of the cellular domain through the WLAN
                               (PANA with its PAA, which installs the CHAP secret in the
                               packet data gateway: s7.6.2) and pre-configuration (the
                               address reserved at the gateway through the WLAN, which
                               IPCP confirms: s7.3), the proactive handover tunnel to the
                               cellular network's access router with that address inside
                               and the binding update through it (s7.4, s7.5; unless
                               `binding_update: after-switch`), then the cellular interface is
                               prepared (powered, attached, data session checked by that
                               secret, no AAA) while the stream still flows over the WLAN,
                               both stay up for `stream`, then the switch: active
                               interface, the tunnel's end stops tunnelling (copy-and-
                               forward through the tunnel for `copy_forward:`) and deletes
                               it, the WLAN released (make before break); after-switch:
                               copy-and-forward at the WLAN's access router, active
                               interface, binding update, the WLAN released
  c52-mpa-activate-at-handover the same pre-authentication, pre-configuration, tunnel and
                               binding update through the WLAN; the cellular
                               interface is powered up only when the handover is about to
                               occur (C.5.2's battery flavour): activation, attach and the
                               data session (CHAP against the installed secret) are at the
                               handover (phase switching), the switch follows at once

The bare steps of the both-up flavour (no pre-authentication, no tunnel: the data session,
the switch, the re-INVITE) are also callable on their own, for the deployment test
(tests/integration/test_c52_deploy.py): `inter_technology_both_up`. bench/c52_handover.py
runs the flows themselves.

The flow `movement` (experiment/movement.py) has no `to`: the MN moves along a path and its
own policy chooses when to prepare and where to hand over (C.1, C.6).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..agents.control import AgentClient, AgentError
from ..model.experiment import MIPV6_FLOWS
from ..network.state import Journal

FLOWS: dict[str, Callable] = {}


def flow(name: str):
    def register(fn):
        FLOWS[name] = fn
        return fn
    return register


@dataclass
class Bed:
    """The agents of a deployed testbed, by node."""
    journal: Journal
    timeout: float = 60.0
    poll: float = 0.01          # s between questions about a PAA's key installation
    topology: object = None         # the configuration's resolved Topology (movement flow)

    def agent(self, node: str) -> AgentClient:
        """The node's agent: its control socket, or over SSH (a node of an inventory)."""
        from ..deploy.remote import agent_client
        return agent_client(self.journal, node)

    def fetch_events(self) -> None:
        """Copy the events (and logs) of the nodes on machines reached over SSH into the
        run directory, where the runner reads them (nothing to do without an inventory)."""
        if self.journal.remote:
            from ..deploy.remote import fetch
            fetch(self.journal)

    def call(self, node: str, cmd: str, **args):
        return self.agent(node).call(cmd, timeout=self.timeout, **args)

    def check_health(self) -> None:
        """Every agent's receive loops still run (agents/health.py): a loop that died makes
        the repetition fail loudly (AgentError naming node, loop and cause)."""
        dead = []
        from ..deploy.remote import has_agent
        for node in self.journal.nodes:
            if not has_agent(self.journal, node):
                continue
            report = self.call(node, "health")
            dead += [f"{node}: {name} ({report['loops'][name]['died']})" for name in report["dead"]]
        if dead:
            raise AgentError("receive loop(s) of agents died: " + "; ".join(dead), "error",
                             "health")

    def nodes_with(self, kind: str) -> list[str]:
        return [n for n, info in self.journal.nodes.items() if kind in info["roles"]]

    def network_of(self, node: str) -> str:
        return next(i["network"] for i in self.journal.nodes[node]["interfaces"] if i["network"])

    def wait_tunnel(self, ar: str, ncoa: str, timeout: float = 10.0) -> dict:
        """Until the nAR has done DAD for the nCoA and proxies ARP for it (its tunnel end)."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.call(ar, "pht_status")
            if st["tunnels"].get(ncoa, {}).get("state") == "up":
                return st
            if time.monotonic() > deadline:
                raise AgentError(f"{ar} never finished the tunnel for {ncoa}", "timeout",
                                 "pht_status")
            time.sleep(0.02)

    def paa_for(self, ap: str) -> str:
        """The PAA of the network `ap` belongs to (the CTN's authentication agent)."""
        net = next(i["network"] for i in self.journal.nodes[ap]["interfaces"] if i["network"])
        for paa in self.nodes_with("authentication_agent"):
            if any(i["network"] == net for i in self.journal.nodes[paa]["interfaces"]):
                return paa
        raise LookupError(f"no authentication agent on the network of {ap}")


def clean_state(bed: Bed, mn: str, start_ap: str, scenario=None) -> None:
    """Back to the start AP with caches and sessions flushed (C.5.3: "initially connected");
    no call, the start network's address (after a handover of the SIP flows). A Mobile IPv6
    flow's MN then registers from the start network (`mipv6_attach`): setup, not handover."""
    for node in bed.nodes_with("access_point") + bed.nodes_with("authentication_agent"):
        bed.call(node, "flush")
    bed.call(mn, "reset", ap=start_ap)
    if scenario is not None and scenario.flow in MIPV6_FLOWS:
        mipv6_attach(bed, mn, scenario)


@flow("dot11i-post-authentication")
def post_authentication(bed: Bed, mn: str, scenario) -> dict:
    return {"handoff": bed.call(mn, "handoff", ap=scenario.to_ap)}


@flow("dot11i-pre-authentication")
def pre_authentication(bed: Bed, mn: str, scenario) -> dict:
    pre = bed.call(mn, "preauthenticate_80211i", ap=scenario.to_ap)
    return {"preauth": pre, "handoff": bed.call(mn, "handoff", ap=scenario.to_ap)}


@flow("mpa-l2-pre-authentication")
def mpa(bed: Bed, mn: str, scenario) -> dict:
    pre = pre_authenticate(bed, mn, scenario.to_ap)
    return {**pre, "handoff": bed.call(mn, "handoff", ap=scenario.to_ap)}


def pre_authenticate(bed: Bed, mn: str, to_ap: str) -> dict:
    """PANA with the PAA of `to_ap`'s network, until that PAA has installed the keys (Tconf:
    PSK_ap in its APs, the MN-AR key in its AR)."""
    return _pre_authenticate_with(bed, mn, bed.paa_for(to_ap))


def _pre_authenticate_with(bed: Bed, mn: str, paa: str) -> dict:
    """PANA with `paa` from the MN's current network, then until the PAA has installed the
    keys it derives from the MPA-SA (Tconf)."""
    pre = bed.call(mn, "preauthenticate_mpa", paa=paa)
    identity = _identity(bed, mn)
    deadline = time.monotonic() + bed.timeout
    while True:                       # the MN moves once the PAA has installed its keys
        try:
            tconf = bed.call(paa, "tconf_status", identity=identity)
            break
        except AgentError:
            if time.monotonic() > deadline:
                raise
            time.sleep(bed.poll)
    if tconf["status"] != "ok":
        raise AgentError(f"{paa}: key installation failed: {tconf['failed']}", "error", "tconf")
    return {"preauth": pre, "tconf": tconf, "paa": paa}


def pre_authenticate_cellular(bed: Bed, mn: str, iface: str | None) -> dict:
    """RFC 6252 s7.6.2, C.5.2: "pre-authentication at the CDMA network can be performed via
    the WiFi interface": PANA (EAP-TLS) with the cellular domain's PAA over the WLAN, which
    then installs the CHAP secret of the MN's data session in the packet data gateway; the
    session set-up checks CHAP there, with no AAA round trip. The PAA is the one the MN's
    configuration names for its cellular interface `iface` (else its first one)."""
    paas = _agent_config(bed, mn).get("paa_pdgs", {})
    found = [p for p, pdgs in paas.items() if any(iface in (None, g["iface"]) for g in pdgs)]
    if not found:
        raise LookupError(f"no authentication agent pre-authorizes {mn}'s cellular interface "
                          f"{iface or ''} (a PAA on its base station's network)")
    return _pre_authenticate_with(bed, mn, found[0])


def _stream(scenario) -> None:
    """Let the CN's stream run: the steady state before and after the handover that the
    media metrics compare the handover with (not a stand-in for any exchange)."""
    time.sleep(scenario.stream)


@flow("sip-mpa")
def sip_mpa(bed: Bed, mn: str, scenario) -> dict:
    to_ap = scenario.to_ap
    call = bed.call(mn, "call", cn=scenario.correspondent)
    ctn = bed.network_of(to_ap)
    bed.call(mn, "discover")
    pre = pre_authenticate(bed, mn, to_ap)
    conf = bed.call(mn, "preconfigure", ctn=ctn, method="dhcp")
    bed.wait_tunnel(conf["ar"], conf["ncoa"])
    bu = bed.call(mn, "binding_update", ctn=ctn)
    _stream(scenario)                          # the stream now flows through the tunnel
    period = None if scenario.buffering is None else scenario.buffering * 1e3
    handover = bed.call(mn, "mpa_handover", ctn=ctn, ap=to_ap, buffering_period_ms=period)
    _stream(scenario)
    bed.call(mn, "hangup")
    return {**pre, "call": call, "preconfig": conf, "binding_update": bu, "handover": handover,
            "media": True}


@flow("sip-non-mpa")
def sip_non_mpa(bed: Bed, mn: str, scenario) -> dict:
    call = bed.call(mn, "call", cn=scenario.correspondent)
    _stream(scenario)
    handover = bed.call(mn, "nonmpa_handover", ap=scenario.to_ap)
    bu = bed.call(mn, "binding_update", address=handover["ncoa"])
    _stream(scenario)
    bed.call(mn, "hangup")
    return {"call": call, "handover": handover, "binding_update": bu, "media": True}


# -- Mobile IPv6 (issue 14; RFC 6275, RFC 6252 C.5.1's Figure 6) --------------------------

def mipv6_attach(bed: Bed, mn: str, scenario) -> dict:
    """The MN where the runner's clean state left it (at the start AP): movement detection
    and a care-of address there, the home registration from it, with route optimization
    the correspondent registration too; the correspondent streams to the home address.
    No route optimization state survives a repetition (both ends forget it first)."""
    bed.call(scenario.correspondent, "correspondent_flush")
    bed.call(mn, "mipv6_forget_correspondents")
    here = bed.call(mn, "mipv6_movement")
    reg = bed.call(mn, "mipv6_register", care_of_address=here["ncoa"])
    ro = (bed.call(mn, "mipv6_route_optimization", correspondent=scenario.correspondent)
          if scenario.route_optimization else None)
    home = bed.call(mn, "mipv6_status")["home_address"]
    stream = bed.call(scenario.correspondent, "stream_to", address=home)
    return {"start": here, "registration": reg, "route_optimization": ro, "stream": stream}


@flow("mipv6-non-mpa")
def mipv6_non_mpa(bed: Bed, mn: str, scenario) -> dict:
    """C.5.1's non-MPA handover with Mobile IPv6: the MN moves (association and EAP-TLS at
    the new AP), discovers the new router (RS/RA), autoconfigures its care-of address with
    the kernel's DAD, registers with the HA and, with route optimization, runs return
    routability and the correspondent registration after the move. (The clean state
    registered the MN from the start network and started the stream: `mipv6_attach`.)"""
    try:
        _stream(scenario)
        handoff = bed.call(mn, "handoff", ap=scenario.to_ap)
        moved = bed.call(mn, "mipv6_movement")
        reg = bed.call(mn, "mipv6_register", care_of_address=moved["ncoa"])
        ro = (bed.call(mn, "mipv6_route_optimization", correspondent=scenario.correspondent)
              if scenario.route_optimization else None)
        _stream(scenario)
    finally:
        bed.call(scenario.correspondent, "stream_pause")
    return {"handoff": handoff, "movement": moved, "binding_update": reg,
            "ro_after": ro, "media": True}


@flow("mipv6-mpa")
def mipv6_mpa(bed: Bed, mn: str, scenario) -> dict:
    """C.5.1's Figure 6: MPA with Mobile IPv6. Discovery of the CTN (its prefix and nAR),
    PANA pre-authentication with its PAA, the nCoA formed from the prefix with the nAR's
    proactive DAD and the proactive handover tunnel (IPv6-in-IPv6, oCoA to nAR), the binding
    update to the HA (and with route optimization return routability and the BU to the CN)
    through the tunnel; then pre-switching (the nAR's buffer armed if buffering is on, the
    tunnel disabled), the layer-2 handoff (PSK_ap from the pre-authentication) and
    post-switching (nCoA on the interface, the MN's unsolicited NA flushes the buffer).
    (The clean state registered the MN from the start network: `mipv6_attach`.)"""
    try:
        ctn = bed.network_of(scenario.to_ap)
        found = {c["name"]: c for c in bed.call(mn, "discover")["ctns"]}
        v6 = (found.get(ctn) or {}).get("ipv6")
        if not v6 or not v6["ars"]:
            raise AgentError(f"discovery told no IPv6 prefix and access router of {ctn}",
                             "error", "discover")
        nar = v6["ars"][0]
        pre = pre_authenticate(bed, mn, scenario.to_ap)
        conf = bed.call(mn, "mipv6_preconfigure", prefix=v6["prefix"], nar=nar["address"])
        tunnel = bed.call(nar["node"], "pht6_open", ocoa=conf["ocoa"], ncoa=conf["ncoa"], mn=mn)
        bu = bed.call(mn, "mipv6_register", care_of_address=conf["ncoa"])
        ro = (bed.call(mn, "mipv6_route_optimization", correspondent=scenario.correspondent)
              if scenario.route_optimization else None)
        _stream(scenario)                   # the stream now flows through the tunnel
        if scenario.buffering is not None:
            bed.call(nar["node"], "pht6_buffer", ncoa=conf["ncoa"],
                     period_ms=scenario.buffering * 1e3, mn=mn)
        bed.call(nar["node"], "pht6_close", ncoa=conf["ncoa"])
        presw = bed.call(mn, "mipv6_pre_switching")
        handoff = bed.call(mn, "handoff", ap=scenario.to_ap)
        post = bed.call(mn, "mipv6_post_switching", router=nar["address"])
        _stream(scenario)
    finally:
        bed.call(scenario.correspondent, "stream_pause")
    return {**pre, "preconfig": conf, "tunnel": tunnel, "binding_update": bu,
            "route_optimization_ctn": ro, "pre_switching": presw, "handoff": handoff,
            "post_switching": post, "media": True}


def inter_technology_both_up(bed: Bed, mn: str, cn: str, iface: str | None = None,
                             stream: float = 0.5) -> dict:
    """RFC 6252 C.5.2, MPA with both interfaces up: in a call over the current interface the
    second (cellular) interface is prepared (its data session: PPP LCP, CHAP, IPCP), made the
    active interface, and the binding update (re-INVITE, s7.5) leaves from its address; the
    CN's stream moves there. The MN is connected at its start AP (the caller's clean state).
    `start_ns`: before the call (the receiver log holds earlier calls too)."""
    start_ns = time.perf_counter_ns()
    call = bed.call(mn, "call", cn=cn)
    time.sleep(stream)                  # the steady state before (see _stream)
    session = bed.call(mn, "cellular_up", iface=iface, phase="pre-configuration")
    active = bed.call(mn, "use_interface", iface=session["iface"])
    bu = bed.call(mn, "binding_update", address=session["address"])
    time.sleep(stream)
    bed.call(mn, "hangup")
    return {"call": call, "cellular_session": session, "active_interface": active,
            "binding_update": bu, "media": True, "start_ns": start_ns}


def _radio_off(bed: Bed, mn: str, iface: str | None) -> None:
    """C.5.2's start: the cellular interface powered off (its data session closed), the WLAN
    the active interface (the caller's clean state put the MN back at its start AP), no
    CHAP secret left in a packet data gateway by an earlier pre-authentication."""
    bed.call(mn, "cellular_down", iface=iface, power_off=True)
    for gateway in bed.nodes_with("packet_data_gateway"):
        bed.call(gateway, "flush_preauthorized")


def _previous_access_router(bed: Bed, mn: str) -> tuple[str, str]:
    """(the access router on the subnet of the MN's WLAN address, that address)."""
    from ipaddress import ip_interface
    wlan = next((ip_interface(i["address"]) for i in bed.journal.nodes[mn]["interfaces"]
                 if i.get("technology", "wlan") == "wlan" and i["address"]), None)
    ar = None if wlan is None else next((
        r for r in bed.nodes_with("access_router") for i in bed.journal.nodes[r]["interfaces"]
        if i["address"] and wlan.ip in ip_interface(i["address"]).network), None)
    if ar is None:
        raise LookupError(f"no access router on the subnet of {mn}'s WLAN address ({wlan})")
    return ar, str(wlan.ip)


def _through_tunnel(scenario) -> bool:
    """The scenario's binding update goes through the proactive handover tunnel before the
    switch (`binding_update: tunnel`, the default), else after the switch."""
    return (scenario.binding_update or "tunnel") == "tunnel"


def _tunnel_and_bind(bed: Bed, mn: str, scenario) -> dict:
    """RFC 6252 s7.4, s7.5, C.5.2: the proactive handover tunnel from the WLAN address to
    the access router of the cellular network, inner address the cellular address reserved
    through the WLAN, then the binding update (re-INVITE) from that address, through it:
    the CN moves its stream to the cellular address, which still reaches the MN over the
    WLAN, through the tunnel."""
    tunnel = bed.call(mn, "cellular_tunnel", iface=scenario.interface)
    bu = bed.call(mn, "binding_update", address=tunnel["ncoa"])
    return {"tunnel": tunnel, "binding_update": bu}


def _switch_from_tunnel(bed: Bed, mn: str, scenario, session: dict, tunnel: dict) -> dict:
    """The switch after a binding update through the tunnel: the prepared interface made
    active, the tunnel's end in the cellular network stops tunnelling (the data session's
    route on the radio link takes over; with `copy_forward`, copies go on through the
    tunnel for that long) and deletes it, the MN's end goes, then the WLAN is released."""
    active = bed.call(mn, "use_interface", iface=session["iface"])
    to_link = bed.call(tunnel["ar"], "pht_to_link", ncoa=tunnel["ncoa"],
                       copy_forward_ms=(scenario.copy_forward * 1e3
                                        if scenario.copy_forward else None))
    down = bed.call(mn, "cellular_tunnel_down", iface=session["iface"])
    released = bed.call(mn, "release_interface")
    return {"active_interface": active, "tunnel_to_link": to_link, "tunnel_down": down,
            "released": released}


def _switch(bed: Bed, mn: str, scenario, session: dict) -> dict:
    """Make-before-break (C.5.2) with the binding update after the switch (`binding_update:
    after-switch`): copy-and-forward at the previous access router (when the scenario asks
    for it), the prepared interface made active, the binding update (re-INVITE, s7.5) from
    its address, then the WLAN released."""
    copying = None
    if scenario.copy_forward:
        ar, old = _previous_access_router(bed, mn)
        copying = bed.call(ar, "copy_forward", mn=mn, old=old, new=session["address"],
                           duration_ms=scenario.copy_forward * 1e3)
    active = bed.call(mn, "use_interface", iface=session["iface"])
    bu = bed.call(mn, "binding_update", address=session["address"])
    released = bed.call(mn, "release_interface")
    return {"copy_forward": copying, "active_interface": active, "binding_update": bu,
            "released": released}


@flow("c52-reactive")
def c52_reactive(bed: Bed, mn: str, scenario) -> dict:
    from ..controller.api import call as controller
    _radio_off(bed, mn, scenario.interface)
    call = bed.call(mn, "call", cn=scenario.correspondent)
    _stream(scenario)
    bed.call(mn, "arm_reactive_handover", iface=scenario.interface)
    lost = controller(bed.journal.api_socket, {"op": "detach", "sta": mn},
                      timeout=bed.timeout)        # the WLAN link is gone (out of range)
    if not lost.get("ok"):
        raise AgentError(f"the radio could not detach {mn}: {lost.get('error')}", "error",
                         "detach")
    handover = bed.call(mn, "reactive_handover_result")
    _stream(scenario)
    bed.call(mn, "hangup")
    return {"call": call, "link_lost": lost, "handover": handover, "media": True}


def _c52_mpa(bed: Bed, mn: str, scenario, power_up_phase: str) -> dict:
    """Both C.5.2 MPA flavours: pre-authentication and pre-configuration of the cellular
    domain through the WLAN, the tunnel and the binding update through it (unless
    `binding_update: after-switch`), the cellular interface prepared before
    (`pre-configuration`: both up) or at the handover (`switching`: the battery flavour),
    then the switch."""
    tunnelled = _through_tunnel(scenario)
    _radio_off(bed, mn, scenario.interface)
    call = bed.call(mn, "call", cn=scenario.correspondent)
    pre = pre_authenticate_cellular(bed, mn, scenario.interface)        # over the WLAN
    pre["cellular_preconfig"] = bed.call(mn, "preconfigure_cellular", iface=scenario.interface)
    bound = _tunnel_and_bind(bed, mn, scenario) if tunnelled else {}
    session = None
    if power_up_phase == "pre-configuration":
        session = bed.call(mn, "cellular_up", iface=scenario.interface, phase=power_up_phase)
    _stream(scenario)          # both up (or the WLAN only); the stream on the WLAN or tunnel
    if session is None:        # the handover starts: the prepared interface powered up
        session = bed.call(mn, "cellular_up", iface=scenario.interface, phase=power_up_phase)
    switch = (_switch_from_tunnel(bed, mn, scenario, session, bound["tunnel"]) if tunnelled
              else _switch(bed, mn, scenario, session))
    _stream(scenario)
    bed.call(mn, "hangup")
    return {"call": call, **pre, **bound, "cellular_session": session, **switch,
            "media": True}


@flow("c52-mpa-both-up")
def c52_mpa_both_up(bed: Bed, mn: str, scenario) -> dict:
    return _c52_mpa(bed, mn, scenario, "pre-configuration")


@flow("c52-mpa-activate-at-handover")
def c52_mpa_activate_at_handover(bed: Bed, mn: str, scenario) -> dict:
    return _c52_mpa(bed, mn, scenario, "switching")


def _agent_config(bed: Bed, node: str) -> dict:
    import json
    return json.loads((Path(bed.journal.dir) / "nodes" / node / "mpa-agent" / "agent.json")
                      .read_text())


def _identity(bed: Bed, mn: str) -> str:
    return _agent_config(bed, mn)["identity"]
