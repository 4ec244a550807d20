"""Semantic checks of a topology that pydantic's field types cannot express.

Each check yields (yaml path, message, point-at-key) and knows nothing of files; the loader
turns paths into file:line:col. Every check is linear (or n log n) in the size of the
topology: lookups go through one `_Index` built per topology, subnet overlap is a sorted
sweep, and at most MAX_PROBLEMS problems are collected (a file with thousands of mistakes
is reported by its first ones, quickly).

Beyond references and types (README "Hostile input"): reserved names, interface names that
Linux accepts and that the testbed does not name itself, addresses that are neither
multicast, loopback, link-local, reserved nor a subnet's network or broadcast address,
unique across every node, prefix lengths equal to the subnet's, point-to-point subnets
disjoint from every network.
"""
from __future__ import annotations

import bisect
import re
from collections import defaultdict
from ipaddress import IPv4Address, IPv4Network
from itertools import chain, islice
from typing import Iterator

from .checks6 import ipv6_checks
from .errors import MAX_PROBLEMS, suggest
from .topology import ROUTING_KINDS, AccessPoint, BaseStation, MobileNode, Topology

Check = tuple[tuple, str, bool]

# 'air' is the radio medium's switch; 'controller' names the controller's event log and
# log file in every run directory (network/build.py): a node or network may be neither.
RESERVED_NAMES = ("air", "controller")
# Linux accepts 1-15 characters, not '/', ':' or white space (dev_valid_name); we take
# a strict subset. The testbed names interfaces eth<N> itself, and lo/wlan0 exist already.
IFNAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,14}\Z")
RESERVED_IFNAME = re.compile(r"(eth[0-9]+|lo|wlan0)\Z")
# blocks no emulated node may have an address in (RFC 6890): 'this network', loopback,
# link-local, multicast, reserved (and the limited broadcast address)
SPECIAL = {IPv4Network("0.0.0.0/8"): "'this network' (0.0.0.0/8)",
           IPv4Network("127.0.0.0/8"): "loopback (127.0.0.0/8)",
           IPv4Network("169.254.0.0/16"): "link-local (169.254.0.0/16)",
           IPv4Network("224.0.0.0/4"): "multicast (224.0.0.0/4)",
           IPv4Network("240.0.0.0/4"): "reserved (240.0.0.0/4)"}
MAX_NETWORK_PREFIX = 30          # a network holds an AP, a router and mobile nodes


def check_topology(t: Topology) -> list[Check]:
    idx = _Index(t)
    checks = (_names, _domains, _networks, _links, _mobile_nodes, _access_points, _unattached,
              _mobility_protocols, _base_stations, _gateways_of_base_stations,
              _radio_interfaces, ipv6_checks)
    return list(islice(chain.from_iterable(check(t, idx) for check in checks), MAX_PROBLEMS))


class _Index:
    """Who is linked to what, computed once (every check would otherwise scan the links)."""

    def __init__(self, t: Topology):
        self.links_of: dict[str, list[int]] = defaultdict(list)     # node -> link indexes
        self.networks_of: dict[str, list[str]] = defaultdict(list)  # node -> networks
        for i, link in enumerate(t.links):
            names = [t.link_endpoint(e)[0] for e in link.endpoints]
            nets = [n for n in names if n in t.networks]
            for n in set(names):
                self.links_of[n].append(i)
                if n not in t.networks:
                    self.networks_of[n] += nets
        # networks sorted by first address (they do not overlap once _networks passed)
        self.ranges = sorted((int(n.subnet.network_address), int(n.subnet.broadcast_address),
                              name) for name, n in t.networks.items() if n.subnet is not None)
        self.starts = [r[0] for r in self.ranges]

    def network_overlapping(self, subnet: IPv4Network) -> str | None:
        """A network whose subnet overlaps `subnet` (binary search), or None."""
        lo, hi = int(subnet.network_address), int(subnet.broadcast_address)
        at = bisect.bisect_right(self.starts, hi) - 1
        while at >= 0:
            start, end, name = self.ranges[at]
            if end >= lo:
                return name
            if at == 0 or self.ranges[at - 1][1] < lo:
                return None
            at -= 1
        return None


def _names(t: Topology, idx: _Index) -> Iterator[Check]:
    for name in set(t.nodes) & set(t.networks):
        yield ("nodes", name), f"name '{name}' is used by a node and by a network", True
    for name in set(t.domains) & (set(t.nodes) | set(t.networks)):
        yield ("domains", name), f"name '{name}' is used by a domain and a node or network", True
    for section in ("nodes", "networks"):
        for name in RESERVED_NAMES:
            if name in getattr(t, section):
                yield (section, name), f"name '{name}' is reserved by the testbed " \
                                       f"(reserved: {', '.join(RESERVED_NAMES)}); choose another", True


def article(kind: str) -> str:
    """'an access_router', 'a router'."""
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _ref(t: Topology, path: tuple, name: str | None, what: str, pool) -> Iterator[Check]:
    if name is not None and name not in pool:
        yield path, f"unknown {what} '{name}'{suggest(name, pool)}", False


def _domains(t: Topology, idx: _Index) -> Iterator[Check]:
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


def _special(subnet: IPv4Network) -> str | None:
    """The special-purpose block `subnet` (or an address as a /32) falls into, if any."""
    for block, what in SPECIAL.items():
        if subnet.overlaps(block):
            return what
    return None


def _networks(t: Topology, idx: _Index) -> Iterator[Check]:
    # sorted sweep: each subnet against the one reaching furthest among those before it
    order = sorted(((i, item) for i, item in enumerate(t.networks.items())
                    if item[1].subnet is not None),         # IPv6-only ones: checks6.py
                   key=lambda x: (int(x[1][1].subnet.network_address), x[0]))
    reach: tuple[int, str] | None = None
    for _, (name, net) in order:
        start, end = int(net.subnet.network_address), int(net.subnet.broadcast_address)
        if reach is not None and start <= reach[0]:
            other = reach[1]
            yield ("networks", name, "subnet"), f"subnet {net.subnet} overlaps " \
                                                f"{t.networks[other].subnet} of network '{other}'", False
        if reach is None or end > reach[0]:
            reach = (end, name)
    for name, net in t.networks.items():
        if net.subnet is None:
            continue
        path = ("networks", name, "subnet")
        special = _special(net.subnet)
        if special:
            yield path, f"subnet {net.subnet} is in the {special} block: use a private " \
                        "range such as 10.0.0.0/8", False
        elif net.subnet.prefixlen > MAX_NETWORK_PREFIX:
            yield path, f"subnet {net.subnet} is too small for a network (at most " \
                        f"/{MAX_NETWORK_PREFIX}: it needs room for an AP, a router and hosts)", False
    for name, net in t.networks.items():
        if net.gateway is None:
            continue
        path = ("networks", name, "gateway")
        if net.gateway not in t.nodes:
            yield from _ref(t, path, net.gateway, "node", t.nodes)
        elif not ROUTING_KINDS & t.roles(net.gateway):
            yield path, f"gateway '{net.gateway}' is {article(t.nodes[net.gateway].kind)}; " \
                        "expected a router or access_router", False
        elif name not in idx.networks_of.get(net.gateway, ()):
            yield path, f"gateway '{net.gateway}' has no link to network '{name}'", False


def _interface(name: str, ifname: str) -> str | None:
    """Why `ifname` cannot be an explicit interface name of `name`, or None."""
    if not IFNAME.match(ifname):
        return f"interface name '{ifname[:40]}' of '{name}' is not one Linux and the testbed " \
               "accept: a letter, then up to 14 letters, digits, '_', '.' or '-'"
    if RESERVED_IFNAME.match(ifname):
        return f"interface name '{ifname}' is reserved (the testbed names interfaces " \
               "eth0, eth1, ... itself; lo and wlan0 exist already): choose another"
    return None


def _address_problem(ip: IPv4Address) -> str | None:
    special = _special(IPv4Network(ip))
    return f"address {ip} is a {special} address: use a private unicast address" \
        if special else None


def _links(t: Topology, idx: _Index) -> Iterator[Check]:
    names: dict[str, int] = {}
    for i, link in enumerate(t.links):
        if link.name is not None:
            if link.name in names:
                yield ("links", i, "name"), f"link name '{link.name}' is also the name of " \
                                            f"links[{names[link.name]}]", False
            names.setdefault(link.name, i)
    used_ifnames: dict[tuple[str, str], int] = {}
    seen_addr: dict[str, tuple] = {}
    p2p: list[tuple[int, int, int]] = []          # (first, last address, link index)
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
                yield path, f"unknown endpoint '{name[:40]}': not a node or network" \
                            f"{suggest(name, list(t.nodes) + list(t.networks))}", False
                ok = False
            elif isinstance(t.nodes[name], MobileNode):
                yield path, f"mobile node '{name}' attaches by radio ('associate: <ap>'), " \
                            "not by a link", False
                ok = False
            elif isinstance(t.nodes[name], BaseStation):
                yield path, f"base station '{name}' has no links: its mobiles are on its " \
                            "'network:', its gateway is its 'packet_data_gateway:'", False
                ok = False
            elif ifname is not None:
                bad = _interface(name, ifname)
                if bad:
                    yield path, bad, False
                    ok = False
                elif (name, ifname) in used_ifnames:
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
        v4 = not nets or t.networks[nets[0]].subnet is not None
        for node in nodes:
            addr = link.addresses.get(node)
            if addr is None:
                if isinstance(t.nodes[node], AccessPoint) or (nets and v4):
                    yield ("links", i), f"missing address for endpoint '{node}' " \
                                        f"(add 'addresses: {{{node}: <ip>}}')", False
                elif nets and node not in link.addresses6:
                    yield ("links", i), f"missing address for endpoint '{node}' on the " \
                        f"IPv6-only network '{nets[0]}' (add 'addresses6: {{{node}: <ip>}}')", False
                continue
            if not v4:
                yield ("links", i, "addresses", node), f"network '{nets[0]}' has no IPv4 " \
                    f"subnet: give '{node}' an IPv6 address (addresses6) there, or the " \
                    "network a 'subnet'", False
                continue
            apath = ("links", i, "addresses", node)
            bad = _address_problem(addr.ip)
            if bad:
                yield apath, bad, False
                continue
            if nets:
                subnet = t.networks[nets[0]].subnet
                problem = _in_subnet(addr, subnet, f"network '{nets[0]}'")
                if problem:
                    yield apath, problem, False
                    if "outside" in problem:
                        continue
            elif addr.network.prefixlen <= 30 and addr.ip in (addr.network.network_address,
                                                               addr.network.broadcast_address):
                yield apath, f"address {addr.ip} is the network or broadcast address of " \
                             f"{addr.network}", False
            if str(addr.ip) in seen_addr:
                yield apath, f"address {addr.ip} is already used at " \
                             f"{_fmt(seen_addr[str(addr.ip)])}", False
            seen_addr[str(addr.ip)] = apath
        if not nets and len(nodes) == 2:
            a, b = (link.addresses.get(n) for n in nodes)
            if a is not None and b is not None and a.network != b.network:
                yield ("links", i, "addresses"), f"the two ends are in different subnets " \
                                                 f"({a.network} and {b.network})", False
            elif a is not None and b is not None:
                net = idx.network_overlapping(a.network)
                if net is not None:
                    yield ("links", i, "addresses"), f"point-to-point subnet {a.network} " \
                        f"overlaps {t.networks[net].subnet} of network '{net}'", False
                else:
                    p2p.append((int(a.network.network_address),
                                int(a.network.broadcast_address), i))
            if (a is None) != (b is None):
                yield ("links", i, "addresses"), "give an address to both ends of a " \
                                                 "point-to-point link, or to neither", False
    reach: tuple[int, int] | None = None            # sorted sweep over p2p subnets
    for start, end, i in sorted(p2p):
        if reach is not None and start <= reach[0]:
            yield ("links", i, "addresses"), f"point-to-point subnet " \
                f"{next(iter(t.links[i].addresses.values())).network} overlaps the one of " \
                f"links[{reach[1]}]", False
        if reach is None or end > reach[0]:
            reach = (end, i)
    for name, node in t.nodes.items():
        if not isinstance(node, MobileNode):
            continue
        wlan = _wlan(name, node)
        if wlan is not None and wlan[1].address is not None:
            path, address = (*wlan[2], "address"), wlan[1].address
            bad = _address_problem(address.ip)
            if bad:
                yield path, bad, False
            elif str(address.ip) in seen_addr:
                yield path, f"address {address.ip} is already used " \
                            f"at {_fmt(seen_addr[str(address.ip)])}", False
            else:
                seen_addr[str(address.ip)] = path


def _in_subnet(addr, subnet: IPv4Network, where: str) -> str | None:
    """Problems of an address that belongs to `subnet`: outside it, another prefix
    length (none given means the subnet's), its network or broadcast address."""
    if addr.ip not in subnet:
        return f"address {addr.ip} is outside subnet {subnet} of {where}"
    if addr.network.prefixlen not in (subnet.prefixlen, 32):
        return f"prefix length /{addr.network.prefixlen} differs from subnet {subnet}"
    if addr.ip in (subnet.network_address, subnet.broadcast_address):
        return f"address {addr.ip} is the network or broadcast address of {subnet}"
    return None


def _fmt(path: tuple) -> str:
    from .errors import format_path
    return format_path(path)


def _wlan(name: str, node: MobileNode):
    """The MN's WLAN interface as (ifname, interface, YAML path of its settings), or None;
    the single-radio form's settings are the node's own keys."""
    found = node.radio("wlan")
    if found is None:
        return None
    path = ("nodes", name) if node.interfaces is None else ("nodes", name, "interfaces", found[0])
    return (*found, path)


def _mobile_nodes(t: Topology, idx: _Index) -> Iterator[Check]:
    for name, node in t.nodes.items():
        if not isinstance(node, MobileNode):
            continue
        wlan = _wlan(name, node)
        if wlan is None:
            continue
        _, radio, at = wlan
        if radio.associate is None:
            if radio.address is not None:
                yield (*at, "address"), "an address needs 'associate: <ap>' to say " \
                                        "which network it is in", False
            continue
        path = (*at, "associate")
        if radio.associate not in t.nodes:
            yield from _ref(t, path, radio.associate, "access point", t.nodes_of("access_point"))
            continue
        if not isinstance(t.nodes[radio.associate], AccessPoint):
            yield path, f"'{radio.associate}' is {article(t.nodes[radio.associate].kind)}, not an " \
                        "access_point", False
            continue
        nets = [n for n in idx.networks_of.get(radio.associate, [])
                if t.networks[n].subnet is not None]
        if radio.address is not None and nets and not _special(IPv4Network(radio.address.ip)):
            subnet = t.networks[nets[0]].subnet
            problem = _in_subnet(radio.address, subnet, f"network '{nets[0]}' (the network "
                                                        f"of {radio.associate})")
            if problem:
                yield (*at, "address"), problem, False


def _access_points(t: Topology, idx: _Index) -> Iterator[Check]:
    for name, node in t.nodes.items():
        if not isinstance(node, AccessPoint):
            continue
        uplinks = idx.links_of.get(name, [])
        nets = idx.networks_of.get(name, [])
        if len(uplinks) != 1 or len(nets) != 1:
            yield ("nodes", name), f"access point '{name}' needs exactly one link, to the " \
                                   f"network of its distribution system (has {len(uplinks)})", True


def _unattached(t: Topology, idx: _Index) -> Iterator[Check]:
    for name, node in t.nodes.items():
        if not isinstance(node, (MobileNode, AccessPoint, BaseStation)) and name not in idx.links_of:
            yield ("nodes", name), f"node '{name}' has no link", True


# mobility protocols the handover flows implement (RFC 6252 s7.5); a domain may name another
# one only once a flow honours it (experiment/scenarios.py), never to be silently ignored
MOBILITY_PROTOCOLS = ("sip", "mipv6", "none")


def _mobility_protocols(t: Topology, idx: _Index) -> Iterator[Check]:
    for name, dom in t.domains.items():
        if dom.mobility_protocol not in MOBILITY_PROTOCOLS:
            yield ("domains", name, "mobility_protocol"), (
                f"mobility protocol '{dom.mobility_protocol}' is not implemented by this "
                "testbed: its handovers use SIP mobility (RFC 6252 s7.5) or Mobile IPv6 "
                "(RFC 6275); write 'sip', 'mipv6', or 'none' for a domain without mobility "
                "management"), False


def _base_stations(t: Topology, idx: _Index) -> Iterator[Check]:
    """A base station (RFC 6252 C.5.2) belongs to a domain, its network to that domain, and
    its packet data gateway carries the role and is on that network."""
    for name, node in t.nodes.items():
        if not isinstance(node, BaseStation):
            continue
        if node.domain is None:
            yield ("nodes", name), f"base station '{name}' needs 'domain:' (the cellular " \
                                   "domain whose AAA server authorizes its data sessions)", True
        path = ("nodes", name, "network")
        if node.network not in t.networks:
            yield from _ref(t, path, node.network, "network", t.networks)
        elif node.domain is not None and t.networks[node.network].domain != node.domain:
            yield path, f"network '{node.network}' belongs to domain " \
                        f"'{t.networks[node.network].domain}', not '{node.domain}'", False
        path = ("nodes", name, "packet_data_gateway")
        gw = node.packet_data_gateway
        if gw not in t.nodes:
            yield from _ref(t, path, gw, "node", t.nodes_of("packet_data_gateway") or t.nodes)
        elif "packet_data_gateway" not in t.roles(gw):
            yield path, f"'{gw}' is {article(t.nodes[gw].kind)} without the packet_data_gateway " \
                        f"role: add 'colocated: [packet_data_gateway]' to it", False
        elif node.network in t.networks and node.network not in idx.networks_of.get(gw, ()):
            yield path, f"packet data gateway '{gw}' has no link to network '{node.network}'", False


def _gateways_of_base_stations(t: Topology, idx: _Index) -> Iterator[Check]:
    """Every packet data gateway serves base stations, all on one network (one pool)."""
    named: dict[str, str] = {}                       # gateway -> network of its first BS
    for name, node in t.nodes.items():
        if not isinstance(node, BaseStation):
            continue
        first = named.setdefault(node.packet_data_gateway, node.network)
        if first != node.network:
            yield ("nodes", name, "network"), f"packet data gateway " \
                f"'{node.packet_data_gateway}' already serves network '{first}': the base " \
                "stations of one gateway share one network (its address pool)", False
    for name, node in t.nodes.items():
        if "packet_data_gateway" in node.colocated and name not in named:
            yield ("nodes", name, "colocated"), f"'{name}' is a packet data gateway that no " \
                "base station names: add a base_station with 'packet_data_gateway: " \
                f"{name}', or remove the role", False


def _radio_interfaces(t: Topology, idx: _Index) -> Iterator[Check]:
    """A multi-interface MN (RFC 6252 s7): at most one interface per technology, the WLAN
    one named wlan0 (the radio medium's station), each technology's own keys."""
    for name, node in t.nodes.items():
        if not isinstance(node, MobileNode) or node.interfaces is None:
            continue
        for key in ("associate", "address"):
            if getattr(node, key) is not None:
                yield ("nodes", name, key), f"'{key}' goes into the WLAN interface of " \
                                            "'interfaces:' when the node has one", True
        if not node.interfaces:
            yield ("nodes", name, "interfaces"), "no interfaces: give at least one", False
        seen: dict[str, str] = {}
        for ifname, radio in node.interfaces.items():
            at = ("nodes", name, "interfaces", ifname)
            if radio.technology in seen:
                yield (*at, "technology"), f"'{seen[radio.technology]}' is already the " \
                    f"{radio.technology} interface of '{name}': one interface per technology", False
            seen.setdefault(radio.technology, ifname)
            if radio.technology == "wlan":
                if radio.start == "down" and radio.associate is not None:
                    yield (*at, "start"), "a WLAN interface that starts down cannot be " \
                        "associated at start: drop 'associate' (and 'address')", False
                if ifname != "wlan0":
                    yield at, f"the WLAN interface is named wlan0 by the testbed (the radio " \
                              f"medium's station), not '{ifname[:40]}'", True
                for key in ("attach",):
                    if getattr(radio, key) is not None:
                        yield (*at, key), "'attach' is for a cellular interface; a WLAN " \
                                          "interface has 'associate: <access point>'", True
                continue
            bad = _interface(name, ifname)
            if bad:
                yield at, bad, True
            for key, why in (("associate", "'associate' is for a WLAN interface; a cellular "
                                           "interface has 'attach: <base station>'"),
                             ("address", "a cellular interface's address comes from its data "
                                         "session (IPCP), not from the topology")):
                if getattr(radio, key) is not None:
                    yield (*at, key), why, True
            if radio.attach is None:
                yield at, f"cellular interface '{ifname}' needs 'attach: <base station>'", False
            elif radio.attach not in t.nodes:
                yield from _ref(t, (*at, "attach"), radio.attach, "base station",
                                t.nodes_of("base_station"))
            elif not isinstance(t.nodes[radio.attach], BaseStation):
                yield (*at, "attach"), f"'{radio.attach}' is " \
                    f"{article(t.nodes[radio.attach].kind)}, not a base_station", False
