"""Inventory: which real machine plays which topology node, and how to reach it over SSH.

    # inventory.yaml (docs/real-hardware.md)
    defaults: {user: mpa, key: keys/mpa_ed25519, known_hosts: keys/known_hosts}
    nodes:
      mn:  {host: 192.0.2.10}
      nar: {host: 192.0.2.11, port: 2222}

A node's settings inherit from `defaults`; relative paths are relative to the inventory
file, `~` is expanded. Errors name file:line:col and the YAML path, like topology errors.
`mpa-testbed deploy <topology> --inventory inventory.yaml` runs the listed nodes' images on
those machines (deploy/remote.py); `Inventory.transport(node)` gives the SshTransport.

Every value that reaches the node (user, host, python, workdir) is checked against a
conservative pattern here, and reaches the node's shell only shell-quoted
(transport.SshTransport.command_line): a path a daemon's configuration embeds (workdir) must
also be one FreeRADIUS or strongSwan reads as one word.

Which nodes may be listed: wired nodes (AAA servers, access routers, PAAs, configuration
agents, correspondents, ...). Mobile nodes, access points and base stations stay emulated:
their radio (association, 802.1X port control, cellular attach) is emulated by the
controller, which has no real-hardware counterpart here (docs/real-hardware.md).

`rehearsal: true` rehearses an inventory on the emulator: each listed node's emulated host
plays the machine, running an OpenSSH server of its own (deploy/sshd.py) on `host:port`
(one of the node's addresses) that accepts the inventory's `key`; the hosts' keys go to a
known_hosts of the testbed (the inventory's `known_hosts` is not used). `via` names the
emulated node whose network namespace the SSH connections start in (an orchestrator that
reaches a machine through the emulated network).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, ValidationError,
                      field_validator)

from ..model.errors import ModelError, Problem, suggest
from ..model.topology import Name, Topology
from ..model.yamlsrc import SourceMap, load_yaml
from .transport import SshTransport

Port = Annotated[int, Field(ge=1, le=65535)]
# what may reach a node: checked here, and shell-quoted on the way there
User = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")]
HostName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.:-]{0,252}$")]
Program = Annotated[str, Field(pattern=r"^[A-Za-z0-9_./+-]{1,200}$")]
WorkDir = Annotated[str, Field(pattern=r"^(/[A-Za-z0-9_.+-]+)+/?$", max_length=60)]
PATTERN_HELP = {
    "user": "a login name (lower-case letters, digits, '_' and '-')",
    "host": "an IP address or a host name (letters, digits, '.', ':' and '-')",
    "python": "a program name or path (letters, digits, '_', '.', '/', '+', '-')",
    "workdir": "an absolute path of at most 60 characters, of letters, digits, '_', '.', "
               "'+' and '-' between '/' (daemons' configurations embed it; the agent's "
               "control socket below it must fit a Unix socket path)",
}
# kinds whose radio the controller emulates: never on a machine of the inventory
EMULATED_ONLY = ("mobile_node", "access_point", "base_station")


class InventoryError(ModelError):
    """An inventory file is invalid."""


class SshSettings(BaseModel):
    """How to log in; every field may be set in `defaults` or per node."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    user: User | None = Field(None, description="login user (default root)")
    port: Port | None = Field(None, description="sshd port (default 22)")
    key: str | None = Field(None, description="private key file (OpenSSH format); required")
    known_hosts: str | None = Field(None, description="known_hosts with the hosts' keys "
                                    "(default ~/.ssh/known_hosts); unknown hosts are refused")
    python: Program | None = Field(None, description="Python >= 3.11 on the host (default python3)")
    workdir: WorkDir | None = Field(None, description="where agents and configs are pushed, "
                                    "below <workdir>/<testbed>/ (default /var/tmp/mpa-testbed)")
    via: Name | None = Field(None, description="emulated node whose network namespace the "
                             "SSH connection starts in (default: the orchestrator's own)")

    @field_validator("workdir")
    @classmethod
    def _no_dot_components(cls, v: str | None) -> str | None:
        if v is not None and any(part in (".", "..") for part in v.split("/")):
            raise ValueError(f"expected a path without '.' or '..' components, not {v!r}")
        return v


class HostEntry(SshSettings):
    host: HostName = Field(description="address or name the orchestrator connects to")


class Inventory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rehearsal: bool = Field(False, description="the machines are the nodes' emulated hosts, "
                            "each running an sshd of its own (a rehearsal on the emulator)")
    defaults: SshSettings = Field(default_factory=SshSettings)
    nodes: dict[Name, HostEntry]
    _file: str = PrivateAttr("<string>")

    @property
    def file(self) -> str:
        return self._file

    def target(self, node: str) -> "Target":
        if node not in self.nodes:
            raise LookupError(f"node '{node}' is not in the inventory {self.file}"
                              f"{suggest(node, self.nodes)}; nodes: {', '.join(self.nodes)}")
        entry, d = self.nodes[node], self.defaults
        pick = lambda f, default=None: getattr(entry, f) or getattr(d, f) or default  # noqa: E731
        base = Path(self.file).parent
        return Target(node, entry.host, pick("port", 22), pick("user", "root"),
                      _path(pick("key"), base), _path(pick("known_hosts",
                                                           "~/.ssh/known_hosts"), base),
                      pick("python", "python3"), pick("workdir", "/var/tmp/mpa-testbed"),
                      pick("via"))

    def transport(self, node: str, netns: str | None = None) -> SshTransport:
        """`netns`: the namespace of the target's `via` node (an emulated testbed's)."""
        t = self.target(node)
        return SshTransport(t.host, t.port, t.user, t.key, t.known_hosts, netns=netns)


@dataclass(frozen=True)
class Target:
    node: str
    host: str
    port: int
    user: str
    key: str
    known_hosts: str
    python: str
    workdir: str
    via: str | None = None


def _path(value: str | None, base: Path) -> str:
    if not value:
        return ""
    p = Path(os.path.expanduser(value))
    return str(p if p.is_absolute() else (base / p).resolve())


def load_inventory(path: str | Path, topology: Topology | None = None) -> Inventory:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise InventoryError([Problem(str(path), 1, 1, "", f"cannot read: {exc.strerror}")]) from None
    return load_inventory_text(text, str(path), topology)


def load_inventory_text(text: str, file: str = "<string>",
                        topology: Topology | None = None) -> Inventory:
    try:
        data, smap = load_yaml(text, file)
    except ModelError as exc:
        raise InventoryError(exc.problems) from None
    if not isinstance(data, dict):
        raise InventoryError([smap.problem((), "expected a mapping with keys 'defaults' and "
                                           "'nodes' (node -> {host, port, user, key})")])
    try:
        inv = Inventory.model_validate(data)
    except ValidationError as exc:
        raise InventoryError([_problem(e, smap) for e in exc.errors()]) from None
    inv._file = file
    problems = []
    for node, entry in inv.nodes.items():
        if not (entry.key or inv.defaults.key):
            problems.append(smap.problem(("nodes", node), "no SSH key: set 'key' here or in "
                                         "'defaults' (passwords are not supported)"))
        if topology is not None:
            problems += _topology_problems(inv, node, topology, smap)
    if topology is not None and inv.defaults.via is not None:
        problems += _via_problems(inv, inv.defaults.via, ("defaults", "via"), topology, smap)
    if problems:
        raise InventoryError(problems)
    return inv


def _topology_problems(inv: Inventory, node: str, topology: Topology,
                       smap: SourceMap) -> list[Problem]:
    """What a node's entry must agree on with the topology it is deployed with."""
    if node not in topology.nodes:
        return [smap.problem(("nodes", node), f"node '{node}' is not in topology "
                             f"'{topology.name}'{suggest(node, topology.nodes)}", key=True)]
    emulated = sorted(topology.roles(node) & set(EMULATED_ONLY))
    if emulated:
        return [smap.problem(("nodes", node), f"node '{node}' is a {emulated[0].replace('_', ' ')}: "
                             "its radio is emulated by the testbed's controller, which has no "
                             "real-hardware counterpart yet; leave it out of the inventory "
                             "(it stays emulated)", key=True)]
    entry, out = inv.nodes[node], []
    if entry.via is not None:
        out += _via_problems(inv, entry.via, ("nodes", node, "via"), topology, smap)
    if inv.rehearsal:
        from ..model.plan import build_plan
        mine = [str(i.address.ip) for i in build_plan(topology).hosts[node].interfaces
                if i.address is not None]
        if entry.via is None and inv.defaults.via is None:
            out.append(smap.problem(("nodes", node), "in a rehearsal the machines are emulated "
                                    "hosts, which the orchestrator's own namespace does not "
                                    "reach: set 'via' (here or in 'defaults') to an emulated "
                                    "node on their network, e.g. a correspondent node", key=True))
        if entry.host not in mine:
            out.append(smap.problem(("nodes", node, "host"), "in a rehearsal the node's "
                                    "emulated host plays the machine: 'host' must be one of "
                                    f"its addresses ({', '.join(mine) or 'it has none'}), "
                                    f"not {entry.host!r}"))
    return out


def _via_problems(inv: Inventory, via: str, path: tuple, topology: Topology,
                  smap: SourceMap) -> list[Problem]:
    if via not in topology.nodes:
        return [smap.problem(path, f"'via' names node '{via}', which is not in topology "
                             f"'{topology.name}'{suggest(via, topology.nodes)}")]
    if via in inv.nodes:
        return [smap.problem(path, f"'via' names node '{via}', which is in the inventory: "
                             "name an emulated node (its namespace is where SSH starts)")]
    return []


def _problem(err: dict, smap: SourceMap) -> Problem:
    loc = tuple(p for p in err["loc"] if p != "[key]")
    if err["type"] == "extra_forbidden":
        allowed = list(HostEntry.model_fields if loc[:1] == ("nodes",) else
                       SshSettings.model_fields if loc[:1] == ("defaults",) else
                       ("rehearsal", "defaults", "nodes"))
        return smap.problem(loc, f"unknown key '{loc[-1]}'{suggest(str(loc[-1]), allowed)}; "
                            f"expected one of {', '.join(allowed)}", key=True)
    if err["type"] == "missing":
        return smap.problem(loc[:-1], f"missing required key '{loc[-1]}'")
    if loc[-1:] == ("port",):
        return smap.problem(loc, f"expected a TCP port number 1-65535 (got {err['input']!r})")
    if err["type"] in ("string_pattern_mismatch", "string_too_long") and loc[-1] in PATTERN_HELP:
        return smap.problem(loc, f"expected {PATTERN_HELP[loc[-1]]}, not {err['input']!r}")
    if err["type"] == "string_pattern_mismatch" and loc[-1:] == ("via",):
        return smap.problem(loc, f"invalid node name {err['input']!r}")
    if err["type"] == "string_pattern_mismatch":
        return smap.problem(loc, f"invalid node name '{err['input']}': expected lower-case "
                            "letters, digits and '-', starting with a letter", key=True)
    return smap.problem(loc, err["msg"].removeprefix("Value error, "))
