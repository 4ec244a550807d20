"""Semantic checks of a topology's IPv6 and Mobile IPv6 settings (issue 14).

Like model/checks.py: each check yields (yaml path, message, point-at-key); the loader turns
paths into file:line:col. Linear in the topology (prefix overlap is a sorted sweep).

IPv6 (RFC 8200, RFC 4291): prefixes are global or unique-local unicast, never multicast,
link-local, loopback or unspecified, and do not overlap; an address is inside its network's
prefix with the prefix's length, not the Subnet-Router anycast address (RFC 4291 s2.6.1), and
unique; Router Advertisements need a /64 (RFC 4862 s5.5.3: an interface identifier of 64
bits) and a gateway that runs the testbed's agent (it sends them, agents/router_adv.py).
Mobile IPv6 (RFC 6275): the home agent carries the role and has an address on the home link,
the home address is in that link's prefix, the MN starts away from home.
"""
from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network
from typing import Iterator

from .topology import AccessPoint, BaseStation, MobileNode, Topology

Check = tuple[tuple, str, bool]

# blocks no prefix or address of an emulated node may be in (RFC 4291 s2.4, RFC 6890)
SPECIAL6 = {IPv6Network("::/8"): "unspecified/loopback/IPv4-compatible (::/8)",
            IPv6Network("fe80::/10"): "link-local (fe80::/10)",
            IPv6Network("ff00::/8"): "multicast (ff00::/8)"}
SLAAC_PREFIX = 64
# roles whose node runs the mpa-agent, which sends Router Advertisements (deploy/lifecycle.py)
ADVERTISING_ROLES = {"access_router", "home_agent"}


def _special6(net: IPv6Network) -> str | None:
    return next((what for block, what in SPECIAL6.items() if net.overlaps(block)), None)


def _address6_problem(ip: IPv6Address, prefix: IPv6Network | None, where: str,
                      prefixlen: int) -> str | None:
    special = _special6(IPv6Network(ip))
    if special:
        return f"address {ip} is a {special} address: use a global or unique-local address"
    if prefix is None:
        return None
    if ip not in prefix:
        return f"address {ip} is outside prefix {prefix} of {where}"
    if prefixlen not in (prefix.prefixlen, 128):
        return f"prefix length /{prefixlen} differs from prefix {prefix} of {where}"
    if ip == prefix.network_address:
        return f"address {ip} is the Subnet-Router anycast address of {prefix} " \
               "(RFC 4291 s2.6.1)"
    return None


# roles whose protocols run over IPv4 in this testbed (RADIUS, PANA, DHCP, the key
# installation, discovery, PPP's IPCP): their networks need an IPv4 subnet
IPV4_ROLES = ("access_point", "authentication_agent", "configuration_agent", "aaa_server",
              "information_server", "packet_data_gateway")


def ipv6_checks(t: Topology, idx) -> Iterator[Check]:
    yield from _ipv6_only(t, idx)
    yield from _prefixes(t)
    yield from _addresses6(t)
    yield from _gateways6(t, idx)
    yield from _mobile_ipv6(t, idx)


def _ipv6_only(t: Topology, idx) -> Iterator[Check]:
    """An IPv6-only network holds no node whose protocols run over IPv4 here."""
    for name in t.nodes:
        roles = [r for r in IPV4_ROLES if r in t.roles(name)]
        if not roles:
            continue
        for net in idx.networks_of.get(name, ()):
            if t.networks[net].subnet is None:
                yield ("networks", net), f"network '{net}' is IPv6-only, but '{name}' " \
                    f"({', '.join(roles)}) speaks IPv4 here (RADIUS, PANA, DHCP, key " \
                    "installation, discovery): give the network an IPv4 'subnet'", True
    for name, node in t.nodes.items():
        if isinstance(node, BaseStation) and node.network in t.networks \
                and t.networks[node.network].subnet is None:
            yield ("nodes", name, "network"), f"network '{node.network}' of base station " \
                f"'{name}' is IPv6-only: the data sessions' IPCP gives IPv4 addresses", False


def _prefixes(t: Topology) -> Iterator[Check]:
    order = sorted((int(n.ipv6.prefix.network_address), name) for name, n in t.networks.items()
                   if n.ipv6 is not None)
    reach: tuple[int, str] | None = None
    for start, name in order:
        prefix = t.networks[name].ipv6.prefix
        path = ("networks", name, "ipv6", "prefix")
        if reach is not None and start <= reach[0]:
            yield path, f"prefix {prefix} overlaps {t.networks[reach[1]].ipv6.prefix} of " \
                        f"network '{reach[1]}'", False
        end = int(prefix.broadcast_address)
        if reach is None or end > reach[0]:
            reach = (end, name)
        special = _special6(prefix)
        if special:
            yield path, f"prefix {prefix} is in the {special} block: use a global or " \
                        "unique-local prefix such as 2001:db8:1::/64 or fd00:1::/64", False
        elif prefix.prefixlen > 126:
            yield path, f"prefix {prefix} is too small for a network (at most /126)", False
        ipv6 = t.networks[name].ipv6
        if ipv6.router_advertisements and prefix.prefixlen != SLAAC_PREFIX:
            yield ("networks", name, "ipv6", "router_advertisements"), \
                f"router advertisements with prefix {prefix}: stateless address " \
                f"autoconfiguration needs a /{SLAAC_PREFIX} (RFC 4862 s5.5.3)", False


def _addresses6(t: Topology) -> Iterator[Check]:
    seen: dict[IPv6Address, tuple] = {}

    def unique(ip: IPv6Address, path: tuple) -> Iterator[Check]:
        if ip in seen:
            from .errors import format_path
            yield path, f"address {ip} is already used at {format_path(seen[ip])}", False
        else:
            seen[ip] = path

    for i, link in enumerate(t.links):
        names = [t.link_endpoint(e)[0] for e in link.endpoints]
        nets = [n for n in names if n in t.networks]
        nodes = [n for n in names if n not in t.networks]
        for node, addr in link.addresses6.items():
            path = ("links", i, "addresses6", node)
            if node not in nodes:
                yield path, f"'{node}' is not a node endpoint of this link", True
                continue
            if nets:
                ipv6 = t.networks[nets[0]].ipv6
                if ipv6 is None:
                    yield path, f"network '{nets[0]}' has no IPv6 prefix: add 'ipv6: " \
                                "{prefix: <prefix>}' to it", False
                    continue
                bad = _address6_problem(addr.ip, ipv6.prefix, f"network '{nets[0]}'",
                                        addr.network.prefixlen)
            else:
                bad = _address6_problem(addr.ip, None, "", addr.network.prefixlen)
                if bad is None and addr.network.prefixlen == 128:
                    bad = f"address {addr.ip} of a point-to-point link needs a prefix " \
                          "length, like '2001:db8:ff::1/64'"
            if bad:
                yield path, bad, False
                continue
            yield from unique(addr.ip, path)
        if not nets and len(nodes) == 2 and len(link.addresses6) == 2:
            a, b = (link.addresses6.get(n) for n in nodes)
            if a is not None and b is not None and a.network != b.network:
                yield ("links", i, "addresses6"), f"the two ends are in different prefixes " \
                                                  f"({a.network} and {b.network})", False
    for name, node in t.nodes.items():
        if isinstance(node, MobileNode) and node.address6 is not None:
            path = ("nodes", name, "address6")
            net = _start_network(t, node)
            if node.interfaces is not None:
                yield path, "address6 is for the single-radio form (associate/address)", False
            elif net is None:
                yield path, "an IPv6 address needs 'associate: <ap>' to say which network " \
                            "it is in", False
            elif t.networks[net].ipv6 is None:
                yield path, f"network '{net}' (the network of {node.associate}) has no " \
                            "IPv6 prefix", False
            else:
                bad = _address6_problem(node.address6.ip, t.networks[net].ipv6.prefix,
                                        f"network '{net}' (the network of {node.associate})",
                                        node.address6.network.prefixlen)
                if bad:
                    yield path, bad, False
                else:
                    yield from unique(node.address6.ip, path)
        if isinstance(node, MobileNode) and node.mipv6 is not None:
            yield from unique(node.mipv6.home_address, ("nodes", name, "mipv6", "home_address"))


def _start_network(t: Topology, node: MobileNode) -> str | None:
    ap = node.associate
    if ap is None or ap not in t.nodes or not isinstance(t.nodes[ap], AccessPoint):
        return None
    return t.ap_network(ap)


def addresses6_on(t: Topology, node: str, network: str) -> list:
    """The IPv6 interface addresses `node` has on `network` (links' addresses6)."""
    out = []
    for link in t.links:
        names = [t.link_endpoint(e)[0] for e in link.endpoints]
        if node in names and network in names and node in link.addresses6:
            out.append(link.addresses6[node])
    return out


def _gateways6(t: Topology, idx) -> Iterator[Check]:
    for name, net in t.networks.items():
        if net.ipv6 is None:
            continue
        if net.gateway is not None and net.gateway in t.nodes \
                and name in idx.networks_of.get(net.gateway, ()) \
                and not addresses6_on(t, net.gateway, name):
            yield ("networks", name, "gateway"), f"gateway '{net.gateway}' has no IPv6 " \
                f"address on network '{name}' (add 'addresses6: {{{net.gateway}: ...}}' to " \
                "its link): IPv6 hosts route through it", False
        if net.ipv6.router_advertisements:
            path = ("networks", name, "ipv6", "router_advertisements")
            if net.gateway is None:
                yield path, "router advertisements are sent by the network's gateway: give " \
                            "the network a 'gateway:'", False
            elif net.gateway in t.nodes and not ADVERTISING_ROLES & t.roles(net.gateway):
                yield path, f"router advertisements are sent by the gateway's mpa-agent: " \
                            f"'{net.gateway}' runs none; make it an access_router or " \
                            "colocate a home_agent on it", False


def _mobile_ipv6(t: Topology, idx) -> Iterator[Check]:
    for name, node in t.nodes.items():
        if "home_agent" in t.roles(name):
            homes = [n for n in idx.networks_of.get(name, ())
                     if t.networks[n].ipv6 is not None and addresses6_on(t, name, n)]
            if not homes:
                yield ("nodes", name, "colocated"), f"home agent '{name}' has no IPv6 " \
                    "address on any network with an ipv6 prefix: it needs a home link", False
        if not isinstance(node, MobileNode):
            continue
        dom = t.domains.get(node.home_domain)
        if node.mipv6 is None:
            if dom is not None and dom.mobility_protocol == "mipv6":
                yield ("nodes", name), f"the home domain '{node.home_domain}' of '{name}' " \
                    "uses Mobile IPv6: give the node 'mipv6: {home_address: ..., " \
                    "home_agent: ...}'", True
            continue
        m = node.mipv6
        path = ("nodes", name, "mipv6")
        if m.home_agent not in t.nodes:
            from .errors import suggest
            yield (*path, "home_agent"), f"unknown node '{m.home_agent}'" \
                f"{suggest(m.home_agent, t.nodes_of('home_agent'))}", False
            continue
        if "home_agent" not in t.roles(m.home_agent):
            yield (*path, "home_agent"), f"node '{m.home_agent}' is no home agent (add " \
                "'colocated: [home_agent]' to it)", False
            continue
        home = home_link(t, name)
        if home is None:
            yield (*path, "home_address"), f"home address {m.home_address} is in the prefix " \
                f"of no network of home agent '{m.home_agent}'", False
            continue
        if m.home_address == t.networks[home].ipv6.prefix.network_address:
            yield (*path, "home_address"), f"home address {m.home_address} is the " \
                "Subnet-Router anycast address of the home prefix", False
        if _start_network(t, node) == home:
            yield ("nodes", name, "associate"), f"the mobile node starts on its home link " \
                f"'{home}': start it on a foreign link (registration from home, RFC 6275 " \
                "s11.5.4, is not implemented)", False
        if node.interfaces is None and node.address6 is None \
                and not _advertised(t, _start_network(t, node)):
            yield path, "a Mobile IPv6 node needs a care-of address: give it 'address6' or " \
                        "start it on a network whose gateway sends router advertisements", False


def _advertised(t: Topology, net: str | None) -> bool:
    return bool(net and t.networks[net].ipv6 and t.networks[net].ipv6.router_advertisements)


def home_link(t: Topology, mn: str) -> str | None:
    """The network of the MN's home agent whose prefix holds the MN's home address."""
    m = t.nodes[mn].mipv6
    for link in t.links:
        names = [t.link_endpoint(e)[0] for e in link.endpoints]
        if m.home_agent in names and m.home_agent in link.addresses6:
            for n in names:
                if n in t.networks and t.networks[n].ipv6 is not None \
                        and m.home_address in t.networks[n].ipv6.prefix:
                    return n
    return None
