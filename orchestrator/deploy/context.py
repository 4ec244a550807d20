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
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Callable

from ..model.plan import NetworkPlan, radio_indices
from ..model.topology import MobileNode, Topology
from .pki import Pki
from .secrets import Secrets

REPO = Path(__file__).resolve().parents[2]

# the agent role of a kind (orchestrator.agents), for the mpa-agent image
AGENT_ROLES = {"mobile_node": "mobile-node", "authentication_agent": "paa",
               "access_point": "access-point", "access_router": "access-router",
               "correspondent_node": "correspondent", "information_server": "information-server",
               "packet_data_gateway": "packet-data-gateway", "home_agent": "home-agent"}
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
    # model switch -> Open vSwitch bridge of an emulated testbed (an AP's own switch is named
    # after the AP); empty for real hardware
    bridges: dict[str, str] = field(default_factory=dict)
    images: dict[str, list[str]] | None = None   # node -> the images it runs (None: all)

    def runs(self, node: str, image: str) -> bool:
        return self.images is None or image in self.images.get(node, ())


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
        "agent_roles": ",".join([AGENT_ROLES[r] for r in roles if r in AGENT_ROLES]
                                + ipv6_agent_roles(f, node)),
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
        if t.nodes[other].domain in served and roles & {"access_point", "authentication_agent",
                                                         "packet_data_gateway"}:
            what = ", ".join(w for r, w in (
                ("authentication_agent", "authentication agent (PAA)"),
                ("access_point", "access point (802.1X authenticator)"),
                ("packet_data_gateway",
                 "packet data gateway (CHAP of the cellular data session, C.5.2)"))
                if r in roles)
        elif "aaa_server" in roles:
            what = "AAA server that proxies to this one (roaming, RFC 6252 Figure 9)"
        else:
            continue
        clients += _clients(f, node, other, what)
    standin = [c for m, n in t.nodes.items()
               if isinstance(n, MobileNode) and n.radio("wlan") and n.radio("wlan")[1].address
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
            "proxied_realms": proxied,
            "chap_users": [{"identity": t.identity(m), "password": chap_secret(f, m)}
                           for m in t.nodes_of("mobile_node")
                           if t.domains[t.nodes[m].home_domain].aaa_server == node
                           and t.nodes[m].radio("cellular")]}


def chap_secret(f: Facts, mn: str) -> str:
    """The CHAP secret of a mobile's cellular data session (RFC 1994), shared with its home
    AAA server (RFC 6252 C.5.2)."""
    home = f.topo.domains[f.topo.nodes[mn].home_domain].aaa_server
    return f.secrets.pair("chap", home, mn)


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
    served = served_networks(f, node)
    static = {i.address.ip for h in plan.hosts.values() for i in h.interfaces if i.address}
    ranges, routers = [], []
    for name in served:
        subnet = t.networks[name].subnet
        pool = pool_ranges(subnet, static)
        if not pool:          # dnsmasq would start without a range and never bind port 67
            raise ValueError(f"network '{name}': every address of its DHCP pool (host numbers "
                             f"{POOL_FIRST}-{POOL_LAST} of {subnet}) is assigned in the "
                             "topology; give some nodes (e.g. a count: of MNs) addresses "
                             "outside it")
        for first, last in pool:
            ranges.append({"network": name, "first": str(first), "last": str(last),
                           "netmask": str(subnet.netmask), "subnet": str(subnet)})
        gw = t.networks[name].gateway
        gw_addr = next((str(i.address.ip) for i in plan.hosts[gw].interfaces
                        if i.network == name and i.address), None) if gw else None
        if gw_addr:
            routers.append({"network": name, "router": gw_addr})
    return {**base(f, node, dest), "dhcp_ranges": ranges, "dhcp_routers": routers,
            "served_networks": ",".join(served),
            "conflict_check": "" if getattr(t.nodes[node], "conflict_check", True) else "no-ping"}


def served_networks(f: Facts, node: str) -> list[str]:
    """The access networks (with an AP) of the node's domain that a configuration agent
    serves: those it is attached to, or all of them if it is attached to none."""
    t, plan = f.topo, f.plan
    dom = t.nodes[node].domain
    access = [n for n, net in t.networks.items()
              if net.domain == dom and any(ap.network == n for ap in plan.aps.values())]
    attached = {i.network for i in plan.hosts[node].interfaces}
    return [n for n in access if n in attached] or access


def pool_ranges(subnet: IPv4Network, static: set[IPv4Address]) -> list[tuple[IPv4Address, IPv4Address]]:
    """Contiguous address ranges of the pool of `subnet`, with `static` addresses cut out."""
    size = subnet.num_addresses - 2
    lo, hi = (POOL_FIRST, POOL_LAST) if size > POOL_LAST else (size // 2 + 1, size)
    return host_ranges(subnet, lo, hi, static)


def host_ranges(subnet: IPv4Network, first: int, last: int,
                static: set[IPv4Address]) -> list[tuple[IPv4Address, IPv4Address]]:
    """Contiguous ranges of host numbers first..last of `subnet`, `static` addresses cut out."""
    out: list[tuple[IPv4Address, IPv4Address]] = []
    for n in range(first, last + 1):
        a = subnet.network_address + n
        if a in static:
            continue
        if out and int(a) == int(out[-1][1]) + 1:
            out[-1] = (out[-1][0], a)
        else:
            out.append((a, a))
    return out


# -- ikev2: strongSwan as the access router's IKEv2 responder -------------------------------
def ikev2(f: Facts, node: str, dest: Path) -> dict:
    from .ctn import ikev2_context
    cn = server_cn(f.topo, node)
    return {**base(f, node, dest), "server_cn": cn, "server_cert": str(f.pki.servers[cn].cert),
            "server_key": str(f.pki.servers[cn].key), **ikev2_context(f, node)}


KEYINSTALL_PORT = 7011          # PAA -> AP/AR key installation (protocols.keyinstall)
PDG_KEYINSTALL_PORT = 7013      # PAA -> packet data gateway (C.5.2; its own: an AR may share the node)
PDG_ADDRESS_PORT = 7014         # MN -> packet data gateway through the WLAN (protocols.cellular_address)
PANA_PORT = 716                 # RFC 5191 s1.3 (IANA)
SIP_PORT = 5060                 # RFC 3261
MEDIA_PORT = 4000               # RTP of the MN and of the CN (SDP m= line)
BUFFERING_PORT = 7012           # MN <-> nAR buffering protocol (protocols.buffering)
DEPARTURE_PORT = 7015           # AP -> PAA departure notice (protocols.departure, RFC 6252 C.2)


def _aaa_of(f: Facts, node: str) -> tuple[str, str] | None:
    """(AAA server node, its first address) of the node's domain."""
    dom = f.topo.nodes[node].domain
    if not dom:
        return None
    aaa_node = f.topo.domains[dom].aaa_server
    addrs = addresses(f.plan, aaa_node)
    return (aaa_node, str(addrs[0][1])) if addrs else None


def _radius(f: Facts, node: str) -> dict | None:
    aaa_ = _aaa_of(f, node)
    if aaa_ is None:
        return None
    return {"server": aaa_[1], "port": 1812, "secret": f.secrets.pair("radius", aaa_[0], node),
            "nas_identifier": node}


def _networks_of(f: Facts, node: str) -> set[str]:
    return {i.network for i in f.plan.hosts[node].interfaces if i.network}


def agent_config(f: Facts, node: str, node_dir: Path | None = None) -> dict:
    """Settings of each of the node's agent roles (orchestrator.agents.agent --config).
    `node_dir` (the node's image directories) locates the node's charon VICI socket."""
    from . import ctn
    t, plan = f.topo, f.plan
    roles = t.roles(node)
    config: dict = {}
    if "mobile_node" in roles:
        identity = t.identity(node)
        home = t.domains[t.nodes[node].home_domain].aaa_server
        config.update({"iface": "wlan0", "identity": identity,
                       "cert": str(f.pki.clients[identity].cert),
                       "key": str(f.pki.clients[identity].key), "ca": str(f.pki.ca.cert),
                       "server_name": server_cn(t, home),
                       "aps": {a.name: a.bssid for a in plan.aps.values()},
                       "paas": {p: str(addresses(plan, p)[0][1]) for p in t.nodes_of("authentication_agent")
                                if addresses(plan, p)},
                       # the APs a PAA's network offers (discovery, C.5.3: "the MN is able
                       # to retrieve the PAA's IP address and all required information
                       # about AP1 and AP2")
                       "paa_aps": {p: [a.name for a in plan.aps.values()
                                       if a.network in _networks_of(f, p)]
                                   for p in t.nodes_of("authentication_agent")},
                       "pana_port": PANA_PORT,
                       # no charon (not started for this testbed's flows): no VICI socket
                       **ctn.mn_agent_config(f, node, node_dir if f.runs(
                           node, "ikev2-strongswan-mn") else None),
                       # SIP mobility (s7.5): the correspondents it may call
                       "correspondents": {c: str(addresses(plan, c)[0][1])
                                          for c in t.nodes_of("correspondent_node")
                                          if addresses(plan, c)},
                       "sip_port": SIP_PORT, "media_port": MEDIA_PORT,
                       "buffering_port": BUFFERING_PORT,
                       "dad_probes": t.nodes[node].dad_probes,
                       "dad_interval": t.nodes[node].dad_interval,
                       "eap_fragment_size": t.nodes[node].eap_fragment_size,
                       "cellular": cellular_config(f, node),
                       # the packet data gateways each PAA pre-authorizes this MN's cellular
                       # interfaces with (RFC 6252 s7.6.2, C.5.2)
                       # and the access router that ends a proactive handover tunnel
                       # into that network (C.5.2, s7.4: the binding update through it)
                       "paa_pdgs": {p: [{"iface": ifname, "gateway": g["name"],
                                         "target_id": g["target_id"],
                                         "address": g["address"],
                                         "address_port": PDG_ADDRESS_PORT,
                                         "tunnel_end": ctn.tunnel_end_of(
                                             f, t.nodes[g["base_station"]].network)}
                                        for g in paa_gateways(f, p)
                                        for ifname, bs in cellular_attachments(f, node)
                                        if bs == g["base_station"]]
                                    for p in t.nodes_of("authentication_agent")}})
    if "correspondent_node" in roles:
        config.update({"sip_address": str(addresses(plan, node)[0][1]), "sip_port": SIP_PORT,
                       "media_port": MEDIA_PORT, "rtp_interval": t.nodes[node].rtp_interval})
    if "information_server" in roles:
        config.update(ctn.information_server_config(f))
    if "access_router" in roles:
        paas = [p for p in t.nodes_of("authentication_agent")
                if _networks_of(f, p) & _networks_of(f, node)]
        config.update({"keyinstall_port": KEYINSTALL_PORT,
                       "keyinstall_peers": {str(a): f.secrets.pair("keyinstall", node, p)
                                            for p in paas for _, a in addresses(plan, p)},
                       "keyinstall_id": next((i.mac for i in plan.hosts[node].interfaces
                                              if any(i.network in _networks_of(f, p) for p in paas)),
                                             None),
                       # the buffering module (s6.3 step 4, s7.6.1): names stations in events
                       "buffering_port": BUFFERING_PORT,
                       "station_nodes": {plan.stations[m].mac: m for m in plan.stations},
                       **ctn.ar_agent_config(f, node, node_dir)})
    if "packet_data_gateway" in roles:
        config.update(packet_data_gateway_config(f, node))
        bs_nets = {t.nodes[b].network for b in t.nodes_of("base_station")
                   if t.nodes[b].packet_data_gateway == node}
        paas = [p for p in t.nodes_of("authentication_agent") if _networks_of(f, p) & bs_nets]
        config.update({"pdg_keyinstall_port": PDG_KEYINSTALL_PORT,
                       "pdg_keyinstall_peers": {str(a): f.secrets.pair("keyinstall", node, p)
                                                for p in paas for _, a in addresses(plan, p)},
                       "pdg_keyinstall_id": next((i.mac for i in plan.hosts[node].interfaces
                                                  if i.network in bs_nets), None),
                       "pdg_address_port": PDG_ADDRESS_PORT})
    config.update(ipv6_agent_config(f, node))
    if "access_point" in roles:
        paas = [p for p in t.nodes_of("authentication_agent")
                if t.nodes[p].domain == t.nodes[node].domain]
        config.update({"iface": "eth0", "radius": _radius(f, node),
                       "keyinstall_port": KEYINSTALL_PORT,
                       "keyinstall_peers": {str(a): f.secrets.pair("keyinstall", node, p)
                                            for p in paas for _, a in addresses(plan, p)},
                       "stations": {plan.stations[m].mac: m for m in plan.stations},
                       "port_driver": port_driver_config(f, node),
                       # the PAAs of its network, told when a station leaves (C.2)
                       "departure_port": DEPARTURE_PORT,
                       "departure_peers": {
                           str(next((i.address.ip for i in plan.hosts[p].interfaces
                                     if i.address is not None
                                     and i.network == plan.aps[node].network),
                                    addresses(plan, p)[0][1])):
                           f.secrets.pair("keyinstall", node, p)
                           for p in paas if plan.aps[node].network in _networks_of(f, p)}})
    if "authentication_agent" in roles:
        # the candidate target network(s): the PAA's networks that have access points
        nets = {a.network for a in plan.aps.values()} & _networks_of(f, node)
        targets = [a for a in plan.aps.values() if a.network in nets]
        # and its base stations' networks: their access router ends the proactive handover
        # tunnel into the cellular network with the MN-AR key (C.5.2, s7.4)
        tunnel_nets = nets | (set(ctn.cellular_networks(f)) & _networks_of(f, node))
        config.update({"pana_port": PANA_PORT, "paa_radius": _radius(f, node),
                       "departure_port": DEPARTURE_PORT,
                       # the address MNs are told (and the PAA answers from)
                       "pana_address": str(addresses(plan, node)[0][1]),
                       # identity -> station MAC: PANA runs over IP and does not tell the PAA
                       # the MN's link-layer address, which PSK_ap is installed for
                       "stations": {t.identity(m): plan.stations[m].mac for m in plan.stations},
                       "ctn_ars": [{"name": r, "address": str(addresses(plan, r)[0][1]),
                                    "port": KEYINSTALL_PORT,
                                    "secret": f.secrets.pair("keyinstall", r, node),
                                    "target_id": next(i.mac for i in plan.hosts[r].interfaces
                                                      if i.network in tunnel_nets)}
                                   for r in t.nodes_of("access_router")
                                   if _networks_of(f, r) & tunnel_nets],
                       "ctn_aps": [{"name": a.name, "bssid": a.bssid,
                                    "address": str(addresses(plan, a.name)[0][1]),
                                    "port": KEYINSTALL_PORT,
                                    "secret": f.secrets.pair("keyinstall", a.name, node)}
                                   for a in targets],
                       # C.5.2, s7.6.2: the packet data gateways of its cellular networks
                       "ctn_pdgs": [{k: g[k] for k in ("name", "address", "port", "secret",
                                                       "target_id")}
                                    for g in paa_gateways(f, node)],
                       "cellular_stations": {
                           t.identity(m): mac for m in t.nodes_of("mobile_node")
                           for ifname, bs in cellular_attachments(f, m)
                           for g in paa_gateways(f, node) if g["base_station"] == bs
                           for mac in [next(i.mac for i in plan.hosts[m].interfaces
                                            if i.name == ifname)]}})
    return config


def cellular_attachments(f: Facts, mn: str) -> list[tuple[str, str]]:
    """(interface, base station) of each cellular radio of the MN."""
    return [(ifname, radio.attach) for ifname, radio in f.topo.nodes[mn].radios().items()
            if radio.technology == "cellular"]


def paa_gateways(f: Facts, paa: str) -> list[dict]:
    """The packet data gateways a PAA pre-authorizes mobiles with (RFC 6252 s7.6.2, C.5.2):
    those of the base stations whose network the PAA is on, each with its base station,
    the MAC address its key is bound to (its interface on that network: the AC address the
    MN's PPPoE discovery finds), its address, port and the secret it shares with the PAA."""
    t, plan = f.topo, f.plan
    out = []
    for bs in t.nodes_of("base_station"):
        net, pdg = t.nodes[bs].network, t.nodes[bs].packet_data_gateway
        if net not in _networks_of(f, paa):
            continue
        iface = next(i for i in plan.hosts[pdg].interfaces if i.network == net)
        out.append({"name": pdg, "base_station": bs, "target_id": iface.mac,
                    "address": str(iface.address.ip), "port": PDG_KEYINSTALL_PORT,
                    "secret": f.secrets.pair("keyinstall", pdg, paa)})
    return out


def port_control_mode() -> str:
    """$MPA_PORT_CONTROL: `ap` (default: an emulated AP opens ports on its own switch) or
    `controller` (it asks the controller, as an AP without a driver of ours would; for
    comparison: bench/l2_floor.py --port-control ap,controller)."""
    import os
    value = os.environ.get("MPA_PORT_CONTROL", "ap")
    if value not in ("ap", "controller"):
        raise ValueError(f"$MPA_PORT_CONTROL must be 'ap' or 'controller', not {value!r}")
    return value


def port_driver_config(f: Facts, ap: str) -> dict | None:
    """What an emulated AP's authenticator needs to open ports on its own switch
    (agents/port_driver.py): the bridge, its index and BSSID, the stations' indices (the
    cookies the controller uses too). None without an emulated switch."""
    bridge = f.bridges.get(ap)
    if bridge is None or ap not in f.plan.aps or port_control_mode() == "controller":
        return None
    aps, stations = radio_indices(f.plan)
    return {"bridge": bridge,
            "ap": {"name": ap, "index": aps[ap], "bssid": f.plan.aps[ap].bssid},
            "stations": {f.plan.stations[s].mac: i for s, i in stations.items()}}
# -- IPv6 and Mobile IPv6 (issue 14; agents/mipv6_agent.py) ---------------------------------
MIPV6_QUEUES = {"mipv6_mn": 63, "mipv6_ha": 61, "mipv6_cn": 62,   # NFQUEUE numbers per role
                "pht6": 64}
# the nAR's proactive DAD of an nCoA listens this long (RFC 4862 s5.4: DupAddrDetectTransmits
# 1 x RetransTimer 1 s); before the move, so outside every handover time
PROACTIVE_DAD_TIMEOUT = 1.0


def _address6(f: Facts, node: str, network: str | None = None) -> str | None:
    """The node's first static IPv6 address (on `network` when given)."""
    return next((str(i.address6.ip) for i in f.plan.hosts[node].interfaces
                 if i.address6 is not None and (network is None or i.network == network)),
                None)


def _advertised(f: Facts, node: str) -> list[dict]:
    """The networks `node` is the gateway of whose YAML asks for Router Advertisements."""
    out = []
    for iface in f.plan.hosts[node].interfaces:
        net = f.topo.networks.get(iface.network) if iface.network else None
        if net is not None and net.gateway == node and net.ipv6 is not None \
                and net.ipv6.router_advertisements:
            out.append({"iface": iface.name, "prefix": str(net.ipv6.prefix),
                        "interval": net.ipv6.ra_interval,
                        "home_agent": "home_agent" in f.topo.roles(node)})
    return out


def _mipv6_mns(t: Topology) -> list[str]:
    return [n for n, x in t.nodes.items() if isinstance(x, MobileNode) and x.mipv6 is not None]


def ipv6_agent_roles(f: Facts, node: str) -> list[str]:
    """Agent roles a node has from its IPv6 settings rather than its kind."""
    from ..model.topology import MobileNode
    t, out = f.topo, []
    n = t.nodes[node]
    if isinstance(n, MobileNode) and n.mipv6 is not None:
        out.append("mipv6-mobile-node")
    if "correspondent_node" in t.roles(node) and _mipv6_mns(t) and _address6(f, node):
        out.append("mipv6-correspondent")
    if _advertised(f, node):
        out.append("router-advertiser")
        if "access_router" in t.roles(node) and _mipv6_mns(t):
            out.append("ipv6-access-router")       # a candidate target network's nAR
    return out


def ipv6_agent_config(f: Facts, node: str) -> dict:
    """The config of the roles of `ipv6_agent_roles` and of the home agent."""
    from ..model.checks6 import home_link
    t, plan = f.topo, f.plan
    roles, out = ipv6_agent_roles(f, node), {}
    if "mipv6-mobile-node" in roles:
        m, home = t.nodes[node].mipv6, home_link(t, node)
        out["mipv6_mn"] = {
            "home_address": str(m.home_address), "home_agent": _address6(f, m.home_agent, home),
            "home_prefix": str(t.networks[home].ipv6.prefix), "lifetime": m.lifetime,
            "iface": "wlan0", "queue": MIPV6_QUEUES["mipv6_mn"], "media_port": MEDIA_PORT,
            "media_log": str(f.run_dir / "media" / f"{node}.rtp.jsonl"),
            "correspondents": {c: _address6(f, c) for c in t.nodes_of("correspondent_node")
                               if _address6(f, c)}}
    if "home_agent" in t.roles(node):
        homes = [i for i in plan.hosts[node].interfaces
                 if i.address6 is not None and i.network is not None]
        served = {home_link(t, mn) for mn in _mipv6_mns(t)
                  if t.nodes[mn].mipv6.home_agent == node}
        link = next((i for i in homes if i.network in served), homes[0])
        out["mipv6_ha"] = {"address": str(link.address6.ip),
                           "home_prefixes": sorted({str(t.networks[i.network].ipv6.prefix)
                                                    for i in homes if i.network in served}
                                                   or [str(link.address6.network)]),
                           "home_link": link.name, "queue": MIPV6_QUEUES["mipv6_ha"]}
    if "mipv6-correspondent" in roles:
        out["mipv6_cn"] = {"address": _address6(f, node), "queue": MIPV6_QUEUES["mipv6_cn"],
                           "media_port": MEDIA_PORT, "rtp_interval": t.nodes[node].rtp_interval,
                           "mobile_prefixes": sorted({str(t.networks[home_link(t, mn)].ipv6.prefix)
                                                      for mn in _mipv6_mns(t)})}
    if "router-advertiser" in roles:
        out["router_advertisements"] = _advertised(f, node)
    if "ipv6-access-router" in roles:
        ctn = _advertised(f, node)[0]
        iface = next(i for i in plan.hosts[node].interfaces if i.name == ctn["iface"])
        out["pht6"] = {"address": str(iface.address6.ip), "prefix": ctn["prefix"],
                       "ctn_iface": iface.name, "queue": MIPV6_QUEUES["pht6"],
                       "dad_timeout": PROACTIVE_DAD_TIMEOUT}
    return out


def cellular_config(f: Facts, mn: str) -> dict:
    """The MN's cellular interfaces (RFC 6252 C.5.2; agents/multi_interface.py): the CHAP
    name (its NAI) and secret, the base station and what its radio costs (emulated)."""
    t = f.topo
    out = {}
    for ifname, radio in t.nodes[mn].radios().items():
        if radio.technology != "cellular":
            continue
        bs = t.nodes[radio.attach]
        out[ifname] = {"identity": t.identity(mn), "secret": chap_secret(f, mn),
                       "base_station": radio.attach, "attach_latency": bs.attach_latency,
                       "activation_latency": bs.activation_latency,
                       "link_down_detection": radio.link_down_detection}
    return out


def packet_data_gateway_config(f: Facts, node: str) -> dict:
    """The packet data gateway of the base stations naming `node` (C.5.2, the PDSN; they
    share one network, model/checks.py): its interface and address on that network, the
    network as the address pool (minus every address the topology assigns there), the
    domain's AAA server."""
    t, plan = f.topo, f.plan
    bs = next(n for n in t.nodes_of("base_station") if t.nodes[n].packet_data_gateway == node)
    net = t.nodes[bs].network
    iface = next(i for i in plan.hosts[node].interfaces if i.network == net)
    subnet = t.networks[net].subnet
    static = sorted({str(i.address.ip) for h in plan.hosts.values() for i in h.interfaces
                     if i.address is not None and i.address.ip in subnet})
    return {"pdg_iface": iface.name, "pdg_local": str(iface.address.ip),
            "pdg_pool": str(subnet), "pdg_reserved": static, "pdg_radius": _radius(f, node),
            "pdg_ac_name": node}


def agent(f: Facts, node: str, dest: Path) -> dict:
    import json
    return {**base(f, node, dest),
            "agent_config": json.dumps(agent_config(f, node, dest.parent), indent=1)}


CONTEXTS: dict[str, Callable[[Facts, str, Path], dict]] = {
    "base": base, "aaa": aaa, "dhcp": dhcp, "ikev2": ikev2, "agent": agent}


def pki_names(topo: Topology) -> tuple[list[str], list[str]]:
    """(server CNs, client identities) the testbed PKI must hold: a server certificate per
    AAA server and access router, a client certificate per MN identity (user@realm)."""
    servers = [server_cn(topo, n) for n in topo.nodes
               if topo.roles(n) & {"aaa_server", "access_router"}]
    clients = [topo.identity(n) for n, x in topo.nodes.items() if isinstance(x, MobileNode)]
    return servers, clients
