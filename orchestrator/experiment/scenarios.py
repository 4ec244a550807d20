"""Handover flows of RFC 6252 C.5.3, driven through the agents' control channel.

Each flow starts from a clean state (every PMKSA and PANA session flushed, the MN associated
and authenticated at the scenario's `from` AP by a full EAP-TLS) and ends when the MN's port
at the `to` AP is open. The runner takes the events between `begin()` and the end.

  dot11i-post-authentication  move, then full EAP-TLS with the new AP (scenario 1)
  dot11i-pre-authentication   802.11i pre-authentication through the DS, then move (2)
  mpa-l2-pre-authentication   PANA pre-authentication with the CTN's PAA, PSK_ap installed
                              in the CTN's APs (Tconf), then move (3)
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

    def agent(self, node: str) -> AgentClient:
        return AgentClient(str(Path(self.journal.dir) / "nodes" / node / "mpa-agent" / "control.sock"))

    def call(self, node: str, cmd: str, **args):
        return self.agent(node).call(cmd, timeout=self.timeout, **args)

    def nodes_with(self, kind: str) -> list[str]:
        return [n for n, info in self.journal.nodes.items() if kind in info["roles"]]

    def paa_for(self, ap: str) -> str:
        """The PAA of the network `ap` belongs to (the CTN's authentication agent)."""
        net = next(i["network"] for i in self.journal.nodes[ap]["interfaces"] if i["network"])
        for paa in self.nodes_with("authentication_agent"):
            if any(i["network"] == net for i in self.journal.nodes[paa]["interfaces"]):
                return paa
        raise LookupError(f"no authentication agent on the network of {ap}")


def clean_state(bed: Bed, mn: str, start_ap: str) -> None:
    """Back to the start AP with caches and sessions flushed (C.5.3: "initially connected")."""
    for node in bed.nodes_with("access_point") + bed.nodes_with("authentication_agent") + [mn]:
        bed.call(node, "flush")
    bed.call(mn, "handoff", ap=start_ap)


@flow("dot11i-post-authentication")
def post_authentication(bed: Bed, mn: str, to_ap: str) -> dict:
    return {"handoff": bed.call(mn, "handoff", ap=to_ap)}


@flow("dot11i-pre-authentication")
def pre_authentication(bed: Bed, mn: str, to_ap: str) -> dict:
    pre = bed.call(mn, "preauthenticate_80211i", ap=to_ap)
    return {"preauth": pre, "handoff": bed.call(mn, "handoff", ap=to_ap)}


@flow("mpa-l2-pre-authentication")
def mpa(bed: Bed, mn: str, to_ap: str) -> dict:
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
    return {"preauth": pre, "tconf": tconf, "handoff": bed.call(mn, "handoff", ap=to_ap),
            "paa": paa}


def _identity(bed: Bed, mn: str) -> str:
    import json
    conf = json.loads((Path(bed.journal.dir) / "nodes" / mn / "mpa-agent" / "agent.json").read_text())
    return conf["identity"]
