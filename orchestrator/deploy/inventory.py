"""Inventory: which real machine plays which topology node, and how to reach it over SSH.

    # inventory.yaml (docs/real-hardware.md)
    defaults: {user: mpa, key: keys/mpa_ed25519, known_hosts: keys/known_hosts}
    nodes:
      mn:  {host: 192.0.2.10}
      nar: {host: 192.0.2.11, port: 2222}

A node's settings inherit from `defaults`; relative paths are relative to the inventory
file, `~` is expanded. Errors name file:line:col and the YAML path, like topology errors.
Not yet wired into `deploy`: `Inventory.transport(node)` gives the SshTransport the
lifecycle would use.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from ..model.errors import ModelError, Problem, suggest
from ..model.topology import Name, Topology
from ..model.yamlsrc import SourceMap, load_yaml
from .transport import SshTransport

Port = Annotated[int, Field(ge=1, le=65535)]


class InventoryError(ModelError):
    """An inventory file is invalid."""


class SshSettings(BaseModel):
    """How to log in; every field may be set in `defaults` or per node."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    user: str | None = Field(None, description="login user (default root)")
    port: Port | None = Field(None, description="sshd port (default 22)")
    key: str | None = Field(None, description="private key file (OpenSSH format); required")
    known_hosts: str | None = Field(None, description="known_hosts with the hosts' keys "
                                    "(default ~/.ssh/known_hosts); unknown hosts are refused")
    python: str | None = Field(None, description="Python >= 3.11 on the host (default python3)")
    workdir: str | None = Field(None, description="where agents and configs are pushed "
                                "(default /var/tmp/mpa-testbed)")


class HostEntry(SshSettings):
    host: str = Field(description="address or name the orchestrator connects to")


class Inventory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
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
                      pick("python", "python3"), pick("workdir", "/var/tmp/mpa-testbed"))

    def transport(self, node: str) -> SshTransport:
        t = self.target(node)
        return SshTransport(t.host, t.port, t.user, t.key, t.known_hosts)


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
        if topology is not None and node not in topology.nodes:
            problems.append(smap.problem(("nodes", node), f"node '{node}' is not in topology "
                                         f"'{topology.name}'{suggest(node, topology.nodes)}",
                                         key=True))
    if problems:
        raise InventoryError(problems)
    return inv


def _problem(err: dict, smap: SourceMap) -> Problem:
    loc = tuple(p for p in err["loc"] if p != "[key]")
    if err["type"] == "extra_forbidden":
        allowed = list(HostEntry.model_fields if loc[:1] == ("nodes",) else
                       SshSettings.model_fields if loc[:1] == ("defaults",) else ("defaults", "nodes"))
        return smap.problem(loc, f"unknown key '{loc[-1]}'{suggest(str(loc[-1]), allowed)}; "
                            f"expected one of {', '.join(allowed)}", key=True)
    if err["type"] == "missing":
        return smap.problem(loc[:-1], f"missing required key '{loc[-1]}'")
    if loc[-1:] == ("port",):
        return smap.problem(loc, f"expected a TCP port number 1-65535 (got {err['input']!r})")
    if err["type"] == "string_pattern_mismatch":
        return smap.problem(loc, f"invalid node name '{err['input']}': expected lower-case "
                            "letters, digits and '-', starting with a letter", key=True)
    return smap.problem(loc, err["msg"].removeprefix("Value error, "))
