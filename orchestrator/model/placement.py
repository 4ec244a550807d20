"""Where each node of a topology runs when one emulated network is split across servers.

`placement:` in a topology names the servers and puts nodes (hosts) and networks (switches)
on them; the network layer builds the split with Mininet's cluster edition (network/
cluster.py): nodes on another server are made there over SSH, and every link whose two ends
are on different servers becomes an SSH Ethernet tunnel (`ssh -w`, OpenSSH's tap tunnel)
between the servers.

    placement:
      servers:
        main: {}                        # the first server: where mpa-testbed runs
        second: {address: loopback}     # this machine through an sshd the testbed starts
      nodes: {core: second, aaa: second}
      auto: false                       # unlisted nodes: on the first server (true: Mininet's
                                        # SwitchBinPlacer spreads the networks, hosts follow)

Pure data and checks; no Mininet here (the placer that needs it is in network/cluster.py).
"""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from .errors import suggest

ServerName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,19}$",
                                  description="lower-case letters, digits and '-', at most 20 chars")]
LOOPBACK = "loopback"
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\Z")


def check_server_address(value: str) -> str:
    """'loopback', an IPv4 address or a DNS name (it goes into an ssh configuration)."""
    if value != LOOPBACK and not _HOST.match(value):
        raise ValueError(f"server address {value[:80]!r} must be 'loopback', an IPv4 address "
                         "or a DNS name (letters, digits, '.' and '-')")
    return value


ServerAddress = Annotated[str, Field(strict=True), AfterValidator(check_server_address)]


class Server(BaseModel):
    """One server of a split testbed: the first is the machine mpa-testbed runs on (no
    address); any other is reached over SSH as root with a key (no password)."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    address: ServerAddress | None = Field(
        None, description="'loopback': this machine through an sshd the testbed starts on a "
                          "loopback address (a stand-in for a real server, as Mininet's own "
                          "cluster tests use localhost); otherwise the server's address")
    port: Annotated[int, Field(strict=True, ge=1, le=65535)] | None = Field(
        None, description="its sshd's port (default 22; chosen by the testbed for loopback)")
    user: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")] = Field(
        "root", description="the SSH user; it must be root or able to make namespaces")


class Placement(BaseModel):
    """Which server each node and network runs on."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    servers: Annotated[dict[ServerName, Server], Field(min_length=2)] = Field(
        description="the servers in order; the first is this machine")
    nodes: dict[Annotated[str, Field(max_length=64)], ServerName] = Field(
        default_factory=dict, description="node or network name -> server")
    auto: bool = Field(False, description="place the nodes not listed with Mininet's "
                                          "SwitchBinPlacer (networks spread evenly, hosts with "
                                          "their network) instead of on the first server")

    @property
    def first(self) -> str:
        return next(iter(self.servers))


def check_placement(t) -> list[tuple[tuple, str, bool]]:
    """(YAML path, message, on key) of every problem with `t.placement` (a Topology)."""
    p = t.placement
    if p is None:
        return []
    out = []
    names = list(p.servers)
    if p.servers[p.first].address is not None:
        out.append((("placement", "servers", p.first, "address"),
                    f"the first server ('{p.first}') is the machine mpa-testbed runs on: give "
                    "it no address (list it first with {}, and the others after it)", False))
    for name in names[1:]:
        if p.servers[name].address is None:
            out.append((("placement", "servers", name),
                        f"server '{name}' needs an 'address' (or 'address: loopback' for this "
                        "machine reached over SSH)", False))
    placeable = [n for n, node in t.nodes.items() if node.kind != "base_station"]
    placeable += [*t.networks, *t.counted]
    for node, server in p.nodes.items():
        if node in t.nodes and t.nodes[node].kind == "base_station":
            out.append((("placement", "nodes", node), f"'{node}' is a base station, which is "
                        "not a host (its radio link is); place its network instead", True))
        elif node not in placeable:
            out.append((("placement", "nodes", node), f"unknown node or network '{node}'"
                        f"{suggest(node, placeable)}", True))
        if server not in p.servers:
            out.append((("placement", "nodes", node), f"unknown server '{server}'"
                        f"{suggest(server, names)}; servers: {', '.join(names)}", False))
    return out
