"""What the templates of an image see: model facts of one node, as template variables.

Pure functions of the topology, its plan, the PKI and the secrets (no I/O besides making a
secret the first time it is asked for). An image names its context in image.yaml
(`context: aaa`); every context extends `base`. Lists feed `fragments` (one rendering per
item); everything else is a string. docs/images.md lists every variable.

RFC 6252 s6.2 names the functional elements these daemons play: AAA (home and visited,
Figure 9), the configuration agent (DHCP) and the access router.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Callable

from ..model.plan import NetworkPlan
from ..model.topology import MobileNode, Topology
from .pki import Pki
from .secrets import Secrets

REPO = Path(__file__).resolve().parents[2]

# the agent role of a kind (orchestrator.agents), for the mpa-agent image
AGENT_ROLES = {"mobile_node": "mobile-node", "authentication_agent": "paa",
               "access_point": "access-point", "access_router": "access-router",
               "correspondent_node": "correspondent", "information_server": "information-server"}
POOL_FIRST, POOL_LAST = 100, 199     # DHCP pool: host numbers .100-.199 of each subnet


@dataclass
class Facts:
    """Everything a context may draw on, for one testbed."""
    topo: Topology
    plan: NetworkPlan
    pki: Pki
    secrets: Secrets
    netns: dict[str, str]         # node -> netns name
    run_dir: Path


def server_cn(topo: Topology, node: str) -> str:
    """Certificate name of a server node: '<node>.<realm>' (or '<node>' outside a domain)."""
    dom = topo.nodes[node].domain
    return f"{node}.{topo.domains[dom].realm}" if dom else node


def addresses(plan: NetworkPlan, node: str) -> list[tuple[str, IPv4Address]]:
    """(interface, address) of a node, in interface order."""
    return [(i.name, i.address.ip) for i in plan.hosts[node].interfaces if i.address is not None]


def base(f: Facts, node: str, dest: Path) -> dict:
    n = f.topo.nodes[node]
    addrs = addresses(f.plan, node)
    roles = sorted(f.topo.roles(node))
    return {
        "node": node, "kind": n.kind, "roles": ",".join(roles),
        "agent_role": AGENT_ROLES.get(n.kind, ""),
        "agent_roles": ",".join(AGENT_ROLES[r] for r in roles if r in AGENT_ROLES),
        "domain": n.domain or "", "realm": f.topo.domains[n.domain].realm if n.domain else "",
        "address": str(addrs[0][1]) if addrs else "",
        "addresses": ",".join(str(a) for _, a in addrs),
        "listen_addresses": [{"address": str(a), "interface": i} for i, a in addrs],
        "dir": str(dest), "run_dir": str(f.run_dir), "log_dir": str(f.run_dir / "logs" / node),
        "events": str(f.run_dir / "events" / f"{node}.jsonl"),
        "netns": f.netns[node], "python": sys.executable, "repo": str(REPO),
        "ca_cert": str(f.pki.ca.cert), "topology": f.topo.name,
    }


# -- aaa: FreeRADIUS as home AAA of its domain(s) and visited AAA proxying foreign realms ------
def aaa(f: Facts, node: str, dest: Path) -> dict:
    t = f.topo
    served = [d for d, dom in t.domains.items() if dom.aaa_server == node]
    cn = server_cn(t, node)
    clients = []
    for other in t.nodes:
        roles = t.roles(other)
        if other == node:
            continue
        if t.nodes[other].domain in served and roles & {"access_point", "authentication_agent"}:
            what = ("authentication agent (PAA)" if "authentication_agent" in roles
                    else "access point (802.1X authenticator)")
        elif "aaa_server" in roles:
            what = "AAA server that proxies to this one (roaming, RFC 6252 Figure 9)"
        else:
            continue
        clients += _clients(f, node, other, what)
    standin = [c for m, n in t.nodes.items() if isinstance(n, MobileNode) and n.address
               for c in _clients(f, node, m, "stand-in NAS: eapol_test run on the MN")]
    proxied = []
    for d, dom in t.domains.items():
        if dom.aaa_server != node and dom.aaa_server not in served:
            (_, home_addr), *_ = addresses(f.plan, dom.aaa_server)
            proxied.append({"realm": dom.realm, "home_server": dom.aaa_server,
                            "home_address": str(home_addr),
                            "home_secret": f.secrets.pair("radius", dom.aaa_server, node)})
    return {**base(f, node, dest),
            "server_cn": cn, "server_cert": str(f.pki.servers[cn].cert),
            "server_key": str(f.pki.servers[cn].key),
            "radius_clients": clients, "standin_clients": standin,
            "local_realms": [{"realm": t.domains[d].realm} for d in served],
            "proxied_realms": proxied}


def _clients(f: Facts, server: str, client: str, what: str) -> list[dict]:
    secret = f.secrets.pair("radius", server, client)
    return [{"client": client, "client_name": f"{client}-{ifname}", "client_address": str(a),
             "secret": secret, "what": what} for ifname, a in addresses(f.plan, client)]


# -- dhcp: dnsmasq as the configuration agent (RFC 6252 s6.2) ----------------------------------
def dhcp(f: Facts, node: str, dest: Path) -> dict:
    """Pools on the access networks (those with an AP) of the node's domain that the node is
    attached to, or on all of them if it is attached to none; each pool is host numbers
    .100-.199 (the upper half of smaller subnets) minus every statically assigned address."""
    t, plan = f.topo, f.plan
    dom = t.nodes[node].domain
    access = [n for n, net in t.networks.items()
              if net.domain == dom and any(ap.network == n for ap in plan.aps.values())]
    attached = {i.network for i in plan.hosts[node].interfaces}
    served = [n for n in access if n in attached] or access
    static = {i.address.ip for h in plan.hosts.values() for i in h.interfaces if i.address}
    ranges, routers = [], []
    for name in served:
        subnet = t.networks[name].subnet
        for first, last in pool_ranges(subnet, static):
            ranges.append({"network": name, "first": str(first), "last": str(last),
                           "netmask": str(subnet.netmask), "subnet": str(subnet)})
        gw = t.networks[name].gateway
        gw_addr = next((str(i.address.ip) for i in plan.hosts[gw].interfaces
                        if i.network == name and i.address), None) if gw else None
        if gw_addr:
            routers.append({"network": name, "router": gw_addr})
    return {**base(f, node, dest), "dhcp_ranges": ranges, "dhcp_routers": routers,
            "served_networks": ",".join(served)}


def pool_ranges(subnet: IPv4Network, static: set[IPv4Address]) -> list[tuple[IPv4Address, IPv4Address]]:
    """Contiguous address ranges of the pool of `subnet`, with `static` addresses cut out."""
    size = subnet.num_addresses - 2
    lo, hi = (POOL_FIRST, POOL_LAST) if size > POOL_LAST else (size // 2 + 1, size)
    hosts = [subnet.network_address + i for i in range(lo, hi + 1)]
    out: list[tuple[IPv4Address, IPv4Address]] = []
    for a in hosts:
        if a in static:
            continue
        if out and int(a) == int(out[-1][1]) + 1:
            out[-1] = (out[-1][0], a)
        else:
            out.append((a, a))
    return out


# -- ikev2: strongSwan as the access router's IKEv2 responder -------------------------------
def ikev2(f: Facts, node: str, dest: Path) -> dict:
    cn = server_cn(f.topo, node)
    return {**base(f, node, dest), "server_cn": cn, "server_cert": str(f.pki.servers[cn].cert),
            "server_key": str(f.pki.servers[cn].key)}


CONTEXTS: dict[str, Callable[[Facts, str, Path], dict]] = {
    "base": base, "aaa": aaa, "dhcp": dhcp, "ikev2": ikev2}


def pki_names(topo: Topology) -> tuple[list[str], list[str]]:
    """(server CNs, client identities) the testbed PKI must hold: a server certificate per
    AAA server and access router, a client certificate per MN identity (user@realm)."""
    servers = [server_cn(topo, n) for n in topo.nodes
               if topo.roles(n) & {"aaa_server", "access_router"}]
    clients = [topo.identity(n) for n, x in topo.nodes.items() if isinstance(x, MobileNode)]
    return servers, clients
