"""Operations on a running testbed through its journal (what the CLI verbs call)."""
from __future__ import annotations

import subprocess
from pathlib import Path

from .controller.api import call
from .network.cleanup import leftovers, teardown
from .network.nsexec import netns_argv
from .network.state import Journal, deployed


def resolve(name: str | None) -> Journal:
    names = deployed()
    if name is None:
        if len(names) == 1:
            return Journal.load(names[0])
        raise LookupError("no testbed is deployed" if not names else
                          f"several testbeds are deployed ({', '.join(names)}): name one")
    return Journal.load(name)


def destroy(name: str | None) -> list[str]:
    journal = resolve(name)
    removed = teardown(journal)
    left = leftovers(journal)
    if left:
        raise RuntimeError("could not remove: " + ", ".join(left))
    return removed


def clean(name: str | None = None) -> list[str]:
    """Remove testbeds whatever state they are in (also half-deployed ones)."""
    names = [name] if name else deployed()
    removed = []
    for n in names:
        try:
            removed += teardown(Journal.load(n))
        except LookupError:
            pass
    return removed


def exec_argv(journal: Journal, node: str, argv: list[str]) -> list[str]:
    if node not in journal.nodes:
        from .model.errors import suggest
        raise LookupError(f"unknown node '{node}'{suggest(node, journal.nodes)}; nodes: "
                          + ", ".join(journal.nodes))
    return netns_argv(journal.nodes[node]["netns"], argv)


def controller_status(journal: Journal) -> dict:
    try:
        return call(journal.api_socket, {"op": "status"}, timeout=3)
    except OSError as exc:
        return {"error": f"controller unreachable: {exc}"}


def processes(journal: Journal) -> list[dict]:
    """Processes running in each node's namespace (what runs where)."""
    from .network.cleanup import pids_in_netns
    out = []
    for node, info in journal.nodes.items():
        for pid in pids_in_netns(info["netns"]):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            except OSError:
                continue
            out.append({"node": node, "pid": pid, "cmd": cmd})
    return out


def agent_health(journal: Journal) -> dict[str, dict]:
    """Each running agent's receive loops (agents/health.py), or {"error": ...} per node."""
    from .agents.control import AgentError
    from .deploy.remote import agent_client, has_agent
    out = {}
    for node in journal.nodes:
        if has_agent(journal, node):
            try:
                out[node] = agent_client(journal, node).call("health", timeout=2)
            except AgentError as exc:
                out[node] = {"error": str(exc)}
    return out


def run(journal: Journal, node: str, argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(exec_argv(journal, node, argv), **kw)
