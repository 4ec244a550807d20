"""Candidate target networks (CTNs) as the information server describes them, and what the
access routers and mobile nodes need for pre-configuration: pure functions of the topology.

RFC 6252 s6.3 step 1: the MN "obtains the IP addresses of an authentication agent, a
configuration agent, and an access router in the CTN"; s7.1: from an information server
(IEEE 802.21-style) that knows the neighbouring networks; C.5.3: also "all required
information about AP1 and AP2"; Appendix B: the link-layer addresses of the nodes the MN
will talk to in the target network, so that it need not resolve them after the move.

A CTN here is an access network (a network with at least one AP). Its record::

    {"name": "acc-a", "domain": "dom-a", "realm": "a.example", "subnet": "10.1.0.0/24",
     "router": "10.1.0.1",                                   # default router (gateway)
     "paas": [{"node", "address"}], "cas": [{"node", "address"}],
     "ars": [{"node", "address", "mac", "ike_id_cp", "ike_id_pht"}],
     "aps": [{"name", "bssid"}], "arp": [{"node", "address", "mac"}]}

IKEv2 identities (s7.3.2, s7.4): the MN is `<station MAC without colons>.sta.mpa` (the access
router knows the MN-AR key by station MAC); an access router answers as `cp.<its
certificate name>` for IKEv2-assisted address acquisition (the nCoA in the configuration
payload) and as `pht.<...>` for a tunnel whose inner address the MN acquired otherwise
(DHCP, s7.3.3). The two names select its two PSK connections (node_images/ikev2-strongswan).
"""
from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from .context import Facts, addresses, host_ranges, pool_ranges, server_cn, served_networks

INFO_PORT = 4551          # IANA "mih" (RFC 5677); the answers are JSON, not MIH frames
STA_ID_DOMAIN = "sta.mpa"
AR_POOL = (200, 249)      # an AR's own nCoA pool when no separate DHCP server can serve it
PHT_TABLE = 221           # MN: routing table of what the nCoAs send (into the tunnel device)
TUN_DEVICE = "ipsec0"     # kernel-libipsec's TUN device


def sta_ike_id(mac: str) -> str:
    return f"{mac.replace(':', '').lower()}.{STA_ID_DOMAIN}"


def ar_ike_ids(f: Facts, ar: str) -> dict:
    cn = server_cn(f.topo, ar)
    return {"ike_id_cp": f"cp.{cn}", "ike_id_pht": f"pht.{cn}"}


def access_networks(f: Facts) -> list[str]:
    with_ap = {a.network for a in f.plan.aps.values()}
    return [n for n in f.topo.networks if n in with_ap]


def cellular_networks(f: Facts) -> list[str]:
    """Networks of base stations (C.5.2): the MNs' cellular interfaces and the packet data
    gateway's radio-network side."""
    with_bs = {f.topo.nodes[b].network for b in f.topo.nodes_of("base_station")}
    return [n for n in f.topo.networks if n in with_bs]


def _iface(f: Facts, node: str, net: str):
    return next((i for i in f.plan.hosts[node].interfaces
                 if i.network == net and i.address is not None), None)


def _addr_on(f: Facts, node: str, net: str) -> str | None:
    i = _iface(f, node, net)
    if i is not None:
        return str(i.address.ip)
    addrs = addresses(f.plan, node)
    return str(addrs[0][1]) if addrs else None


def _static(f: Facts) -> set[IPv4Address]:
    return {i.address.ip for h in f.plan.hosts.values() for i in h.interfaces if i.address}


def configuration_agents(f: Facts, net: str) -> list[str]:
    return [c for c in f.topo.nodes_of("configuration_agent") if net in served_networks(f, c)]


def candidate_target_network(f: Facts, net: str) -> dict:
    t = f.topo
    on = [n for n in f.plan.hosts if _iface(f, n, net) is not None]
    paas = [p for p in t.nodes_of("authentication_agent") if p in on]
    ars = [r for r in t.nodes_of("access_router") if r in on]
    cas = configuration_agents(f, net)
    gw = t.networks[net].gateway
    dom = t.networks[net].domain
    return {
        "name": net, "domain": dom or "", "realm": t.domains[dom].realm if dom else "",
        "subnet": str(t.networks[net].subnet),
        "router": _addr_on(f, gw, net) if gw else None,
        "paas": [{"node": p, "address": _addr_on(f, p, net)} for p in paas],
        "cas": [{"node": c, "address": _addr_on(f, c, net)} for c in cas],
        "ars": [{"node": r, "address": _addr_on(f, r, net), "mac": _iface(f, r, net).mac,
                 **ar_ike_ids(f, r)} for r in ars],
        "aps": [{"name": a.name, "bssid": a.bssid} for a in f.plan.aps.values()
                if a.network == net],
        # IPv6 (issue 14): the prefix the MN forms its nCoA from (s7.3, stateless), the
        # access routers' IPv6 addresses there (the nAR ends the proactive handover tunnel)
        "ipv6": None if t.networks[net].ipv6 is None else {
            "prefix": str(t.networks[net].ipv6.prefix),
            "ars": [{"node": r, "address": str(_iface(f, r, net).address6.ip)}
                    for r in ars if _iface(f, r, net).address6 is not None]},
        # Appendix B: address resolution mappings of the nodes the MN talks to there
        "arp": [{"node": n, "address": str(_iface(f, n, net).address.ip),
                 "mac": _iface(f, n, net).mac}
                for n in dict.fromkeys([*ars, *paas, *[c for c in cas if c in on]])],
    }


def information_server_config(f: Facts) -> dict:
    return {"info_port": INFO_PORT,
            "networks": [candidate_target_network(f, n) for n in access_networks(f)]}


def information_server_of(f: Facts) -> dict | None:
    servers = f.topo.nodes_of("information_server")
    if not servers:
        return None
    addrs = addresses(f.plan, servers[0])
    return {"node": servers[0], "address": str(addrs[0][1]), "port": INFO_PORT} if addrs else None


def ar_ctn(f: Facts, ar: str) -> dict | None:
    """The CTN an access router serves (its first access network) and how it gets nCoAs:
    the strongSwan dhcp plugin relays to the network's DHCP server (s7.3.2) unless that
    server runs on the AR itself, in which case the AR hands out its own pool.

    An access router on a base station's network instead (C.5.2: the cellular domain's
    access router, with the packet data gateway) ends proactive handover tunnels whose inner
    address is the one the MN reserved at the gateway through the WLAN (`kind` cellular:
    the gateway's pool, no DHCP, no DAD or proxy ARP on the radio network, agents/tunnel.py)."""
    nets = [n for n in access_networks(f) if _iface(f, ar, n) is not None]
    if not nets:
        return _cellular_ctn(f, ar)
    net = nets[0]
    i = _iface(f, ar, net)
    subnet = f.topo.networks[net].subnet
    cas = configuration_agents(f, net)
    remote_ca = next((c for c in cas if c != ar), None)
    static = _static(f)
    dhcp_pool = pool_ranges(subnet, static)
    own_pool = [] if remote_ca else ar_pool_ranges(subnet, static)
    return {"network": net, "iface": i.name, "subnet": str(subnet), "address": str(i.address.ip),
            "mac": i.mac,
            "ca": _addr_on(f, remote_ca, net) if remote_ca else None,
            "ca_local": bool(cas) and remote_ca is None,
            # the addresses an nCoA may have: the DHCP pool (and the AR's own pool)
            "pool": [[str(a), str(b)] for a, b in [*(dhcp_pool if cas else []), *own_pool]],
            "own_pool": [[str(a), str(b)] for a, b in own_pool], "kind": "access"}


def _cellular_ctn(f: Facts, ar: str) -> dict | None:
    nets = [n for n in cellular_networks(f) if _iface(f, ar, n) is not None]
    if not nets:
        return None
    i = _iface(f, ar, nets[0])
    subnet = f.topo.networks[nets[0]].subnet
    return {"network": nets[0], "iface": i.name, "subnet": str(subnet),
            "address": str(i.address.ip), "mac": i.mac, "ca": None, "ca_local": False,
            # what the packet data gateway hands out (deploy/context.py
            # packet_data_gateway_config): every host of the subnet minus the static ones
            "pool": [[str(a), str(b)] for a, b in host_ranges(
                subnet, 1, subnet.num_addresses - 2, _static(f))],
            "own_pool": [], "kind": "cellular",
            # the tunnel's outer end: the AR's first address off the radio network (the
            # MN's cellular interface has a host route to the radio-network address once
            # its data session is up; the tunnel must stay on the WLAN until the switch)
            "outer": next((str(j.address.ip) for j in f.plan.hosts[ar].interfaces
                           if j.address is not None and j.network != nets[0]),
                          str(i.address.ip))}


def tunnel_end_of(f: Facts, net: str) -> dict | None:
    """The access router that ends proactive handover tunnels into the cellular network
    `net` (found by role: an access router on it), its tunnel's outer address and IKE
    identity; None when there is none."""
    for r in f.topo.nodes_of("access_router"):
        c = ar_ctn(f, r)
        if c is not None and c["network"] == net:
            return {"node": r, "address": c.get("outer", c["address"]),
                    "ike_id_pht": ar_ike_ids(f, r)["ike_id_pht"]}
    return None


def ar_pool_ranges(subnet: IPv4Network, static: set[IPv4Address]) -> list[tuple]:
    size = subnet.num_addresses - 2
    if size < AR_POOL[1]:
        return []
    return host_ranges(subnet, AR_POOL[0], AR_POOL[1], static)


def ar_agent_config(f: Facts, ar: str, node_dir: Path | None) -> dict:
    c = ar_ctn(f, ar)
    out = {"ctn": c, "ike": {"tun": TUN_DEVICE, **ar_ike_ids(f, ar)}}
    if c is not None and c["kind"] == "cellular":
        # C.5.2: each MN's WLAN station -> its cellular interfaces on this radio network
        bss = {b for b in f.topo.nodes_of("base_station") if f.topo.nodes[b].network == c["network"]}
        out["cellular_macs"] = {
            f.plan.stations[m].mac: [i.mac for i in f.plan.hosts[m].interfaces
                                     if i.name in {n for n, r in f.topo.nodes[m].radios().items()
                                                   if r.technology == "cellular"
                                                   and r.attach in bss}]
            for m in f.topo.nodes_of("mobile_node") if m in f.plan.stations}
    if node_dir is not None:
        out["ike"]["vici"] = str(node_dir / "ikev2-strongswan" / "run" / "charon.vici")
    return out


def mn_agent_config(f: Facts, mn: str, node_dir: Path | None) -> dict:
    mac = f.plan.stations[mn].mac
    ike = {"id": sta_ike_id(mac), "tun": TUN_DEVICE, "table": PHT_TABLE}
    if node_dir is not None:
        ike["vici"] = str(node_dir / "ikev2-strongswan-mn" / "run" / "charon.vici")
    return {"mac": mac, "information_server": information_server_of(f), "ike": ike}


def ikev2_context(f: Facts, ar: str) -> dict:
    """Template variables of the AR's strongSwan (node_images/ikev2-strongswan)."""
    ctn = ar_ctn(f, ar)
    ids = ar_ike_ids(f, ar)
    services, relays, pools, pht = [], [], [], []
    tunnel = {**ids, "ctn_subnet": ctn["subnet"], "ctn_network": ctn["network"]} if ctn else {}
    if ctn and ctn["kind"] == "cellular":
        pht.append(tunnel)          # the inner address is reserved at the gateway: no pool
    if ctn and ctn["kind"] == "access":
        if ctn["ca"]:
            relays.append({"dhcp_server": ctn["ca"]})
            ike_pools = "dhcp"
        elif ctn["own_pool"]:
            pools.append({"pool_name": "ctn", "pool_addrs": ",".join(
                f"{a}-{b}" for a, b in ctn["own_pool"])})
            ike_pools = "ctn"
        else:
            ike_pools = ""
        if ike_pools:
            services.append({**tunnel, "ike_pools": ike_pools})
            pht.append(tunnel)
    return {**ids, "ctn_services": services, "pht_services": pht, "dhcp_relays": relays,
            "address_pools": pools}
