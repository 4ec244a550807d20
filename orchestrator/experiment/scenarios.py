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

and the steps of C.5.2's inter-technology handover with both interfaces up, not yet a
registered flow (the scenario model names APs; a base station as `to:`, experiments/c52.yaml
and its analysis are issue 15's rest): `inter_technology_both_up`.

The flow `movement` (experiment/movement.py) has no `to`: the MN moves along a path and its
own policy chooses when to prepare and where to hand over (C.1, C.6).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..agents.control import AgentClient, AgentError
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
    topology: object = None         # the configuration's resolved Topology (movement flow)

    def agent(self, node: str) -> AgentClient:
        return AgentClient(str(Path(self.journal.dir) / "nodes" / node / "mpa-agent" / "control.sock"))

    def call(self, node: str, cmd: str, **args):
        return self.agent(node).call(cmd, timeout=self.timeout, **args)

    def check_health(self) -> None:
        """Every agent's receive loops still run (agents/health.py): a loop that died makes
        the repetition fail loudly (AgentError naming node, loop and cause)."""
        dead = []
        for node in self.journal.nodes:
            if not (Path(self.journal.dir) / "nodes" / node / "mpa-agent" / "control.sock").exists():
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


def clean_state(bed: Bed, mn: str, start_ap: str) -> None:
    """Back to the start AP with caches and sessions flushed (C.5.3: "initially connected");
    no call, the start network's address (after a handover of the SIP flows)."""
    for node in bed.nodes_with("access_point") + bed.nodes_with("authentication_agent"):
        bed.call(node, "flush")
    bed.call(mn, "reset", ap=start_ap)


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
    paa = bed.paa_for(to_ap)
    pre = bed.call(mn, "preauthenticate_mpa", paa=paa)
    identity = _identity(bed, mn)
    deadline = time.monotonic() + bed.timeout
    while True:                       # the MN moves once the PAA has installed PSK_ap
        try:
            tconf = bed.call(paa, "tconf_status", identity=identity)
            break
        except AgentError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    if tconf["status"] != "ok":
        raise AgentError(f"{paa}: key installation failed: {tconf['failed']}", "error", "tconf")
    return {"preauth": pre, "tconf": tconf, "paa": paa}


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


def _identity(bed: Bed, mn: str) -> str:
    import json
    conf = json.loads((Path(bed.journal.dir) / "nodes" / mn / "mpa-agent" / "agent.json").read_text())
    return conf["identity"]
