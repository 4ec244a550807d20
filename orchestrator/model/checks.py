"""Semantic checks of a topology that pydantic's field types cannot express.

Each check yields (yaml path, message, point-at-key) and knows nothing of files; the loader
turns paths into file:line:col.
"""
from __future__ import annotations

from itertools import combinations
from typing import Iterator

from .errors import suggest
from .topology import ROUTING_KINDS, AccessPoint, MobileNode, Topology

Check = tuple[tuple, str, bool]


def check_topology(t: Topology) -> list[Check]:
    out: list[Check] = []
    for check in (_names, _domains, _networks, _links, _mobile_nodes, _access_points,
                  _unattached, _mobility_protocols):
        out.extend(check(t))
    return out


def _names(t: Topology) -> Iterator[Check]:
    for name in set(t.nodes) & set(t.networks):
        yield ("nodes", name), f"name '{name}' is used by a node and by a network", True
    for name in set(t.domains) & (set(t.nodes) | set(t.networks)):
        yield ("domains", name), f"name '{name}' is used by a domain and a node or network", True


def article(kind: str) -> str:
    """'an access_router', 'a router'."""
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _ref(t: Topology, path: tuple, name: str | None, what: str, pool) -> Iterator[Check]:
    if name is not None and name not in pool:
        yield path, f"unknown {what} '{name}'{suggest(name, pool)}", False


def _domains(t: Topology) -> Iterator[Check]:
    for dname, dom in t.domains.items():
        path = ("domains", dname, "aaa_server")
        if dom.aaa_server not in t.nodes:
            yield from _ref(t, path, dom.aaa_server, "node", t.nodes)
        elif "aaa_server" not in t.roles(dom.aaa_server):
            yield path, f"node '{dom.aaa_server}' is {article(t.nodes[dom.aaa_server].kind)}, not an aaa_server", False
        elif t.nodes[dom.aaa_server].domain != dname:
            yield path, f"AAA server '{dom.aaa_server}' belongs to domain " \
                        f"'{t.nodes[dom.aaa_server].domain}', not '{dname}'", False
    realms = {}
    for dname, dom in t.domains.items():
        if dom.realm in realms:
            yield ("domains", dname, "realm"), f"realm '{dom.realm}' is also the realm of " \
                                               f"domain '{realms[dom.realm]}'", False
        realms[dom.realm] = dname
    for name, node in t.nodes.items():
        yield from _ref(t, ("nodes", name, "domain"), node.domain, "domain", t.domains)
        if isinstance(node, MobileNode):
            yield from _ref(t, ("nodes", name, "home_domain"), node.home_domain, "domain", t.domains)
    for name, net in t.networks.items():
        yield from _ref(t, ("networks", name, "domain"), net.domain, "domain", t.domains)


def _networks(t: Topology) -> Iterator[Check]:
    for (a, na), (b, nb) in combinations(t.networks.items(), 2):
        if na.subnet.overlaps(nb.subnet):
            yield ("networks", b, "subnet"), f"subnet {nb.subnet} overlaps {na.subnet} of " \
                                             f"network '{a}'", False
    for name, net in t.networks.items():
        if net.gateway is None:
            continue
        path = ("networks", name, "gateway")
        if net.gateway not in t.nodes:
            yield from _ref(t, path, net.gateway, "node", t.nodes)
        elif not ROUTING_KINDS & t.roles(net.gateway):
            yield path, f"gateway '{net.gateway}' is {article(t.nodes[net.gateway].kind)}; " \
                        "expected a router or access_router", False
        elif name not in _attached_networks(t, net.gateway):
            yield path, f"gateway '{net.gateway}' has no link to network '{name}'", False


def _attached_networks(t: Topology, node: str) -> list[str]:
    out = []
    for link in t.links:
        names = [t.link_endpoint(e)[0] for e in link.endpoints]
        if node in names:
            out += [n for n in names if n in t.networks]
    return out


def _links(t: Topology) -> Iterator[Check]:
    names: dict[str, int] = {}
    for i, link in enumerate(t.links):
        if link.name is not None:
            if link.name in names:
                yield ("links", i, "name"), f"link name '{link.name}' is also the name of " \
                                            f"links[{names[link.name]}]", False
            names.setdefault(link.name, i)
    used_ifnames: dict[tuple[str, str], int] = {}
    seen_addr: dict[str, tuple] = {}
    for i, link in enumerate(t.links):
        ends = [t.link_endpoint(e) for e in link.endpoints]
        ok = True
        for j, (name, ifname) in enumerate(ends):
            path = ("links", i, "endpoints", j)
            if name in t.networks and ifname is None:
                continue
            if name in t.networks:
                yield path, f"network '{name}' has no interfaces: write '{name}', not " \
                            f"'{name}:{ifname}'", False
                ok = False
            elif name not in t.nodes:
                yield path, f"unknown endpoint '{name}': not a node or network" \
                            f"{suggest(name, list(t.nodes) + list(t.networks))}", False
                ok = False
            elif isinstance(t.nodes[name], MobileNode):
                yield path, f"mobile node '{name}' attaches by radio ('associate: <ap>'), " \
                            "not by a link", False
                ok = False
            elif ifname is not None:
                if (name, ifname) in used_ifnames:
                    yield path, f"interface '{name}:{ifname}' is already used by " \
                                f"links[{used_ifnames[(name, ifname)]}]", False
                    ok = False
                used_ifnames[(name, ifname)] = i
        if not ok:
            continue
        names = [n for n, _ in ends]
        if names[0] == names[1]:
            yield ("links", i, "endpoints"), f"link connects '{names[0]}' to itself", False
            continue
        if all(n in t.networks for n in names):
            yield ("links", i, "endpoints"), "a link must have a node at one end at least " \
                                             f"('{names[0]}' and '{names[1]}' are networks)", False
            continue
        nets = [n for n in names if n in t.networks]
        nodes = [n for n in names if n not in t.networks]
        for key in link.addresses:
            if key not in nodes:
                yield ("links", i, "addresses", key), f"'{key}' is not a node endpoint of " \
                                                      f"this link{suggest(key, nodes)}", True
        for node in nodes:
            addr = link.addresses.get(node)
            if addr is None:
                if isinstance(t.nodes[node], AccessPoint) or nets:
                    yield ("links", i), f"missing address for endpoint '{node}' " \
                                        f"(add 'addresses: {{{node}: <ip>}}')", False
                continue
            apath = ("links", i, "addresses", node)
            if nets:
                subnet = t.networks[nets[0]].subnet
                if addr.ip not in subnet:
                    yield apath, f"address {addr.ip} is outside subnet {subnet} of " \
                                 f"network '{nets[0]}'", False
                    continue
                if "/" in str(addr) and addr.network.prefixlen != subnet.prefixlen and \
                        addr.network.prefixlen != 32:
                    yield apath, f"prefix length /{addr.network.prefixlen} differs from " \
                                 f"subnet {subnet}", False
                if addr.ip in (subnet.network_address, subnet.broadcast_address):
                    yield apath, f"address {addr.ip} is the network or broadcast address " \
                                 f"of {subnet}", False
            if str(addr.ip) in seen_addr:
                yield apath, f"address {addr.ip} is already used at " \
                             f"{_fmt(seen_addr[str(addr.ip)])}", False
            seen_addr[str(addr.ip)] = apath
        if not nets and len(nodes) == 2:
            a, b = (link.addresses.get(n) for n in nodes)
            if a is not None and b is not None and a.network != b.network:
                yield ("links", i, "addresses"), f"the two ends are in different subnets " \
                                                 f"({a.network} and {b.network})", False
            if (a is None) != (b is None):
                yield ("links", i, "addresses"), "give an address to both ends of a " \
                                                 "point-to-point link, or to neither", False
    for name, node in t.nodes.items():
        if isinstance(node, MobileNode) and node.address is not None:
            if str(node.address.ip) in seen_addr:
                yield ("nodes", name, "address"), f"address {node.address.ip} is already used " \
                                                  f"at {_fmt(seen_addr[str(node.address.ip)])}", False


def _fmt(path: tuple) -> str:
    from .errors import format_path
    return format_path(path)


def _mobile_nodes(t: Topology) -> Iterator[Check]:
    for name, node in t.nodes.items():
        if not isinstance(node, MobileNode):
            continue
        if node.associate is None:
            if node.address is not None:
                yield ("nodes", name, "address"), "an address needs 'associate: <ap>' to say " \
                                                  "which network it is in", False
            continue
        path = ("nodes", name, "associate")
        if node.associate not in t.nodes:
            yield from _ref(t, path, node.associate, "access point", t.nodes_of("access_point"))
            continue
        if not isinstance(t.nodes[node.associate], AccessPoint):
            yield path, f"'{node.associate}' is {article(t.nodes[node.associate].kind)}, not an " \
                        "access_point", False
            continue
        net = t.ap_network(node.associate)
        if node.address is not None and net is not None:
            subnet = t.networks[net].subnet
            if node.address.ip not in subnet:
                yield ("nodes", name, "address"), f"address {node.address.ip} is outside " \
                                                  f"subnet {subnet} of network '{net}' " \
                                                  f"(the network of {node.associate})", False


def _access_points(t: Topology) -> Iterator[Check]:
    for name, node in t.nodes.items():
        if not isinstance(node, AccessPoint):
            continue
        uplinks = [i for i, link in enumerate(t.links)
                   if name in [t.link_endpoint(e)[0] for e in link.endpoints]]
        nets = _attached_networks(t, name)
        if len(uplinks) != 1 or len(nets) != 1:
            yield ("nodes", name), f"access point '{name}' needs exactly one link, to the " \
                                   f"network of its distribution system (has {len(uplinks)})", True


def _unattached(t: Topology) -> Iterator[Check]:
    linked = {t.link_endpoint(e)[0] for link in t.links for e in link.endpoints}
    for name, node in t.nodes.items():
        if not isinstance(node, (MobileNode, AccessPoint)) and name not in linked:
            yield ("nodes", name), f"node '{name}' has no link", True


# mobility protocols the handover flows implement (RFC 6252 s7.5); a domain may name another
# one only once a flow honours it (experiment/scenarios.py), never to be silently ignored
MOBILITY_PROTOCOLS = ("sip", "none")


def _mobility_protocols(t: Topology) -> Iterator[Check]:
    for name, dom in t.domains.items():
        if dom.mobility_protocol not in MOBILITY_PROTOCOLS:
            yield ("domains", name, "mobility_protocol"), (
                f"mobility protocol '{dom.mobility_protocol}' is not implemented by this "
                "testbed: its handovers use SIP mobility (RFC 6252 s7.5); write 'sip', or "
                "'none' for a domain without mobility management"), False
