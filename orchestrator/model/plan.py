"""The network plan: what the network layer must create, derived purely from a Topology.

Hosts (one network namespace each), switches (one per network, one per access point, one
"air" switch that is the radio medium), veth links, addresses, routes and the per-AP
controller settings. No Mininet here: the plan is data, testable without root.

Layout of the layer-2 emulation (RFC 6252 C.5.3 testbeds):

    MN wlan0 --- [air] --- radio port  [AP switch]  uplink --- [network switch] --- ARs ...
                                       auth port
                                          |
                                     AP host (authenticator, RADIUS client; MAC = BSSID)

The os-ken controller manages `air` and every AP switch; network switches are standalone
learning switches.

A base station (RFC 6252 C.5.2) is no host and no switch of its own: each mobile's cellular
interface is one veth to its network's switch, carrying the radio link's emulated RTT (half
each way) and bandwidth, where the packet data gateway answers its data session set-up:

    MN cdma0 --- (link_rtt / 2, link_bandwidth) --- [network switch] --- packet data gateway
"""
from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field
from ipaddress import IPv4Interface, IPv4Network, IPv6Interface, IPv6Network

from .topology import ROUTING_KINDS, AccessPoint, BaseStation, LinkParams, MobileNode, Topology

AP_RADIO_PORT, AP_UPLINK_PORT, AP_AUTH_PORT = 1, 2, 3


@dataclass
class Interface:
    name: str
    mac: str
    address: IPv4Interface | None = None
    network: str | None = None          # attached network, if any
    peer: str | None = None             # peer node of a point-to-point link
    technology: str | None = None       # a mobile's radio: "wlan" | "cellular"
    start: str = "up"                   # "down": kept down until the MN activates it
    address6: IPv6Interface | None = None   # static IPv6 address (links' addresses6)
    ipv6: bool = False                  # on a network with an IPv6 prefix (or has address6)
    accept_ra: bool = False             # a host's interface on a network that advertises


@dataclass
class Route:
    prefix: str                          # "default" or a CIDR
    via: str
    dev: str

    @property
    def family(self) -> int:
        """4 or 6: the family of the next hop (a "default" route has no other)."""
        return 6 if ":" in self.via else 4


@dataclass
class HostPlan:
    name: str
    kind: str
    roles: list[str]
    interfaces: list[Interface] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    forwarding: bool = False

    @property
    def ipv6(self) -> bool:
        """IPv6 is switched on only on hosts the topology gives IPv6 (build.py)."""
        return any(i.ipv6 for i in self.interfaces)


@dataclass
class SwitchPlan:
    name: str                            # model name: network, AP or 'air'
    role: str                            # "network" | "access_point" | "air"
    dpid: int
    controlled: bool


@dataclass(frozen=True)
class End:
    """One side of a veth pair: a host interface (by name) or a switch port (by number)."""
    node: str
    is_switch: bool
    intf: str | None = None
    port: int | None = None


def H(node: str, intf: str) -> End:
    return End(node, False, intf=intf)


def S(switch: str, port: int) -> End:
    return End(switch, True, port=port)


@dataclass
class LinkPlan:
    """One veth pair, with the emulated properties of the YAML link it comes from."""
    a: End
    b: End
    params: LinkParams = field(default_factory=LinkParams)
    source: str = ""                     # YAML path of the link it comes from


@dataclass
class ApPlan:
    name: str
    bssid: str
    dpid: int
    air_port: int
    security: str
    association_latency: float
    network: str


@dataclass
class StationPlan:
    name: str
    mac: str
    air_port: int
    identity: str
    associate: str | None
    link_down_detection: float


@dataclass
class NetworkPlan:
    hosts: dict[str, HostPlan]
    switches: dict[str, SwitchPlan]
    links: list[LinkPlan]
    aps: dict[str, ApPlan]
    stations: dict[str, StationPlan]


def radio_indices(plan: NetworkPlan) -> tuple[dict[str, int], dict[str, int]]:
    """(AP name -> index, station name -> index), from 1 in plan order: the numbers the
    controller and the APs' own port drivers put in flow cookies."""
    return ({a: i for i, a in enumerate(plan.aps, start=1)},
            {s: i for i, s in enumerate(plan.stations, start=1)})


def mac_for(*parts: str) -> str:
    """A stable locally administered unicast MAC for a named interface."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


def build_plan(t: Topology) -> NetworkPlan:
    hosts: dict[str, HostPlan] = {}
    for name, node in t.nodes.items():
        if isinstance(node, BaseStation):
            continue                     # no host: see the module docstring
        hosts[name] = HostPlan(name, node.kind, sorted(t.roles(name)),
                               forwarding=bool(ROUTING_KINDS & t.roles(name)))
    switches: dict[str, SwitchPlan] = {"air": SwitchPlan("air", "air", 1, True)}
    for i, net in enumerate(t.networks, start=1):
        switches[net] = SwitchPlan(net, "network", 0x100 + i, False)
    links: list[LinkPlan] = []
    aps: dict[str, ApPlan] = {}
    stations: dict[str, StationPlan] = {}
    next_if = {name: 0 for name in hosts}
    air_port = 0
    net_port = {net: 0 for net in t.networks}

    def new_if(node: str, explicit: str | None) -> str:
        if explicit:
            return explicit
        while True:
            name = f"eth{next_if[node]}"
            next_if[node] += 1
            if all(i.name != name for i in hosts[node].interfaces):
                return name

    for ap_index, (name, node) in enumerate(
            ((n, x) for n, x in t.nodes.items() if isinstance(x, AccessPoint)), start=1):
        air_port += 1
        bssid = mac_for(t.name, name, "bssid")
        dpid = 0x200 + ap_index
        switches[name] = SwitchPlan(name, "access_point", dpid, True)
        aps[name] = ApPlan(name, bssid, dpid, air_port, node.security,
                           node.association_latency, t.ap_network(name) or "")
        links.append(LinkPlan(S("air", air_port), S(name, AP_RADIO_PORT), source=f"nodes.{name}"))
    for name, node in t.nodes.items():
        if not isinstance(node, MobileNode):
            continue
        for ifname, radio in node.radios().items():
            source = f"nodes.{name}" + (f".interfaces.{ifname}" if node.interfaces else "")
            mac = mac_for(t.name, name, ifname)
            if radio.technology == "cellular":
                bs = t.nodes[radio.attach]
                net_port[bs.network] += 1
                hosts[name].interfaces.append(Interface(
                    ifname, mac, network=bs.network, technology="cellular", start=radio.start))
                radio_link = LinkParams.model_construct(
                    delay=bs.link_rtt / 2, jitter=0.0, loss=0.0, bandwidth=bs.link_bandwidth)
                links.append(LinkPlan(H(name, ifname), S(bs.network, net_port[bs.network]),
                                      params=radio_link, source=source))
                continue
            air_port += 1
            net = t.ap_network(radio.associate) if radio.associate else None
            address = _with_prefix(radio.address, t.networks[net].subnet) if net else radio.address
            ipv6 = t.networks[net].ipv6 if net else None
            hosts[name].interfaces.append(Interface(
                ifname, mac, address, technology="wlan", start=radio.start,
                address6=_with_prefix6(node.address6, ipv6.prefix if ipv6 else None)
                if node.interfaces is None else None,
                ipv6=ipv6 is not None or node.mipv6 is not None,
                accept_ra=bool(ipv6 and ipv6.router_advertisements)))
            stations[name] = StationPlan(name, mac, air_port, t.identity(name), radio.associate,
                                         radio.link_down_detection)
            links.append(LinkPlan(H(name, ifname), S("air", air_port), source=source))

    for i, link in enumerate(t.links):
        ends = [t.link_endpoint(e) for e in link.endpoints]
        params = LinkParams.model_construct(**{k: getattr(link, k) for k in LinkParams.model_fields})
        (n1, if1), (n2, if2) = ends
        if n1 in t.networks:
            (n1, if1), (n2, if2) = (n2, if2), (n1, if1)
        src = f"links[{i}]"
        if n2 in t.networks:
            net_port[n2] += 1
            addr = _with_prefix(link.addresses.get(n1), t.networks[n2].subnet)
            ipv6 = t.networks[n2].ipv6
            v6 = {"address6": _with_prefix6(link.addresses6.get(n1), ipv6.prefix if ipv6 else None),
                  "ipv6": ipv6 is not None,
                  "accept_ra": bool(ipv6 and ipv6.router_advertisements
                                    and not ROUTING_KINDS & t.roles(n1))}
            if n1 in aps:
                # the AP host's interface hangs off the AP switch's auth port; the AP switch's
                # uplink goes to the network
                iface = Interface(new_if(n1, if1), aps[n1].bssid, addr, network=n2, **v6)
                hosts[n1].interfaces.append(iface)
                links.append(LinkPlan(H(n1, iface.name), S(n1, AP_AUTH_PORT), source=src))
                links.append(LinkPlan(S(n1, AP_UPLINK_PORT), S(n2, net_port[n2]),
                                      params=params, source=src))
            else:
                iface = Interface(new_if(n1, if1), mac_for(t.name, n1, str(i)), addr, network=n2,
                                  **v6)
                hosts[n1].interfaces.append(iface)
                links.append(LinkPlan(H(n1, iface.name), S(n2, net_port[n2]),
                                      params=params, source=src))
        else:
            i1 = Interface(new_if(n1, if1), mac_for(t.name, n1, str(i)), link.addresses.get(n1),
                           peer=n2, address6=link.addresses6.get(n1),
                           ipv6=n1 in link.addresses6)
            i2 = Interface(new_if(n2, if2), mac_for(t.name, n2, str(i)), link.addresses.get(n2),
                           peer=n1, address6=link.addresses6.get(n2),
                           ipv6=n2 in link.addresses6)
            hosts[n1].interfaces.append(i1)
            hosts[n2].interfaces.append(i2)
            links.append(LinkPlan(H(n1, i1.name), H(n2, i2.name), params=params, source=src))
    plan = NetworkPlan(hosts, switches, links, aps, stations)
    _add_routes(t, plan)
    return plan


def _with_prefix(addr: IPv4Interface | None, subnet: IPv4Network | None) -> IPv4Interface | None:
    if addr is None or subnet is None:
        return addr
    if addr.network.prefixlen == 32:
        return IPv4Interface(f"{addr.ip}/{subnet.prefixlen}")
    return addr


def _with_prefix6(addr: IPv6Interface | None, prefix: IPv6Network | None) -> IPv6Interface | None:
    if addr is None or prefix is None or addr.network.prefixlen != 128:
        return addr
    return IPv6Interface(f"{addr.ip}/{prefix.prefixlen}")


def _v4(iface: Interface):
    return iface.address


def _v6(iface: Interface):
    return iface.address6


def _segments(plan: NetworkPlan, family=_v4) -> dict[str, list[tuple[str, Interface]]]:
    """Subnet CIDR -> the (host, interface) pairs on it (IPv4, or IPv6 with `_v6`)."""
    seg: dict[str, list[tuple[str, Interface]]] = {}
    for host in plan.hosts.values():
        for iface in host.interfaces:
            if family(iface) is not None:
                seg.setdefault(str(family(iface).network), []).append((host.name, iface))
    return seg


def _add_routes(t: Topology, plan: NetworkPlan) -> None:
    """Static routes, for IPv4 and for IPv6 where the topology has it."""
    _add_family_routes(t, plan, _v4)
    _add_family_routes(t, plan, _v6)


def _add_family_routes(t: Topology, plan: NetworkPlan, family) -> None:
    """Static routes: routers know every subnet (shortest path), hosts use their gateway."""
    seg = _segments(plan, family)
    routers = [h for h in plan.hosts.values() if h.forwarding]
    # router adjacency over shared subnets
    adj: dict[str, list[tuple[str, str, str]]] = {r.name: [] for r in routers}
    for cidr, members in seg.items():
        rs = [(h, i) for h, i in members if plan.hosts[h].forwarding]
        for h, i in rs:
            for h2, i2 in rs:
                if h2 != h:
                    adj[h].append((h2, str(family(i2).ip), i.name))
    for r in routers:
        direct = {str(family(i).network) for i in r.interfaces if family(i) is not None}
        # BFS from r: first hop towards each router
        first: dict[str, tuple[str, str]] = {}
        queue = deque()
        for nbr, via, dev in adj[r.name]:
            if nbr not in first:
                first[nbr] = (via, dev)
                queue.append(nbr)
        while queue:
            cur = queue.popleft()
            for nbr, _, _ in adj[cur]:
                if nbr != r.name and nbr not in first:
                    first[nbr] = first[cur]
                    queue.append(nbr)
        for cidr, members in seg.items():
            if cidr in direct:
                continue
            owners = [h for h, _ in members if h in first]
            if owners:
                via, dev = first[min(owners, key=lambda h: list(first).index(h))]
                r.routes.append(Route(cidr, via, dev))
    for host in plan.hosts.values():
        if host.forwarding:
            continue
        gw = _gateway_for(t, plan, host, family)
        if gw:
            host.routes.append(Route("default", *gw))


def _gateway_for(t: Topology, plan: NetworkPlan, host: HostPlan,
                 family=_v4) -> tuple[str, str] | None:
    if host.name in plan.stations:
        ap = plan.stations[host.name].associate
        net = plan.aps[ap].network if ap else None
        dev = "wlan0"
    else:
        net, dev = next(((i.network, i.name) for i in host.interfaces
                         if i.network and i.technology != "cellular"), (None, None))
    if not net:
        return None
    gw = t.networks[net].gateway
    if gw is None:
        return None
    # an IPv6 host without a static address on that interface learns its default router
    # from Router Advertisements (and the gateway is not on-link before it autoconfigures)
    if family is _v6 and not any(i.name == dev and i.address6 is not None
                                 for i in host.interfaces):
        return None
    for iface in plan.hosts[gw].interfaces:
        if iface.network == net and family(iface) is not None:
            return str(family(iface).ip), dev
    return None
