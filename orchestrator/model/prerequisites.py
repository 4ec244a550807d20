"""What a scenario needs of a topology, found by role, checked when the experiment is loaded.

The runner never looks a node up by a name the researcher chose: the mobile node is the
experiment's `mobile_node:` (default: the topology's only one), the correspondent the
scenario's `correspondent:` (default: the only one), and everything else follows from
roles and the topology (RFC 6252 s6.2 functional elements):

  every flow           both APs are IEEE 802.1X access points (the MN authenticates at the
                       start AP and opens the target AP's controlled port) of a domain whose
                       AAA server authenticates it
  dot11i-pre-authentication
                       both APs in one distribution system (IEEE 802.11-2016 s12.6.10.2:
                       pre-authentication frames cross the DS, not a router)
  mpa-l2-pre-authentication
                       a PAA (authentication_agent) on the target AP's network, of its domain
                       (it installs PSK_ap in the CTN's APs, C.5.3); the MN's address on the
                       start AP's network (PANA runs over IP, RFC 5873)
  sip-mpa              as MPA, and in the target network an access router (the tunnel's far
                       end, s7.4) and a DHCP server (configuration_agent, s7.3.3); an
                       information server (discovery, s7.1); a correspondent node; SIP
                       mobility in the target domain (s7.5)
  sip-non-mpa          a DHCP server for the target network, a correspondent node, SIP
                       mobility in the target domain; the MN's address on the start AP's
                       network (the call starts there), as for sip-mpa
  c52-*                (C.5.2, `to` a base station) the start AP as above; the MN's WLAN
                       address on its network; a cellular interface of the MN attached to
                       the base station (the scenario's `interface`, or the only one); a
                       correspondent node; SIP mobility in the base station's domain

Each unmet need is one problem at the scenario's line in the experiment file, naming what
is missing and where. `reference:` (which of the run's configurations or scenarios stand
beside which of the RFC's columns) is checked here too.
"""
from __future__ import annotations

from .errors import Problem, suggest
from .topology import AccessPoint, BaseStation, MobileNode, Topology

SIP_FLOWS = ("sip-mpa", "sip-non-mpa")
INTER_TECHNOLOGY_FLOWS = ("c52-reactive", "c52-mpa-both-up", "c52-mpa-activate-at-handover")
# (the reactive flow first: INTER_TECHNOLOGY_FLOWS[1:] are the MPA flavours)
CALL_FLOWS = SIP_FLOWS + INTER_TECHNOLOGY_FLOWS        # a call with a correspondent node
MIPV6_FLOWS = ("mipv6-mpa", "mipv6-non-mpa")


def _attached(t: Topology, node: str) -> set[str]:
    """Networks a node has a link to."""
    out = set()
    for link in t.links:
        names = [t.link_endpoint(e)[0] for e in link.endpoints]
        if node in names:
            out |= {n for n in names if n in t.networks}
    return out


def only_node(t: Topology, kind: str, wanted: str | None, what: str,
              key: str) -> tuple[str | None, str | None]:
    """(the node, None) or (None, why not): `wanted` if it has the role, else the topology's
    only node with it."""
    found = t.nodes_of(kind)
    if wanted is not None:
        if wanted in found:
            return wanted, None
        return None, (f"'{wanted}' is not {what} of this topology{suggest(wanted, found)}; "
                      f"its {what}s: {', '.join(found) or 'none'}")
    if len(found) == 1:
        return found[0], None
    if not found:
        return None, f"the topology has no {what} ({kind})"
    return None, (f"the topology has {len(found)} {what}s ({', '.join(found)}): say which "
                  f"with '{key}: <name>'")


def serves(t: Topology, agent: str, net: str) -> bool:
    """A configuration agent serves the access networks of its domain it is attached to,
    or all of them if it is attached to none (deploy/context.served_networks)."""
    dom = t.nodes[agent].domain
    access = {n for n, nw in t.networks.items() if nw.domain == dom
              and any(t.ap_network(a) == n for a in t.nodes_of("access_point"))}
    attached = _attached(t, agent) & access
    return net in (attached or access)


def paas_of(t: Topology, ap: str) -> list[str]:
    """The authentication agents on `ap`'s network and of its domain."""
    net = t.ap_network(ap)
    return [p for p in t.nodes_of("authentication_agent")
            if net in _attached(t, p) and t.nodes[p].domain == t.nodes[ap].domain]


def cellular_interface(t: Topology, mn: str, station: str,
                       wanted: str | None) -> tuple[str | None, str | None]:
    """(the MN's cellular interface attached to base station `station`, None) or (None, why
    not): `wanted` if it is one, else the only one."""
    node = t.nodes[mn]
    radios = node.radios() if isinstance(node, MobileNode) else {}
    attached = [n for n, r in radios.items() if r.technology == "cellular" and r.attach == station]
    if wanted is not None:
        if wanted in attached:
            return wanted, None
        if wanted not in radios:
            return None, (f"mobile node '{mn}' has no interface '{wanted}'"
                          f"{suggest(wanted, radios)}; its interfaces: {', '.join(radios)}")
        return None, (f"interface '{wanted}' of '{mn}' is not a cellular interface attached to "
                      f"base station '{station}' ({radios[wanted].technology}"
                      + (f", attached to '{radios[wanted].attach}'" if radios[wanted].attach
                         else "") + ")")
    if len(attached) == 1:
        return attached[0], None
    if not attached:
        return None, (f"mobile node '{mn}' has no cellular interface attached to base station "
                      f"'{station}' (interfaces: {{<name>: {{technology: cellular, attach: "
                      f"{station}}}}})")
    return None, (f"mobile node '{mn}' has {len(attached)} cellular interfaces attached to "
                  f"'{station}' ({', '.join(attached)}): say which with 'interface: <name>'")


def _ap_needs(t: Topology, ap: str) -> list[str]:
    """An AP the flows authenticate at: IEEE 802.1X, in a domain."""
    out, node = [], t.nodes[ap]
    if isinstance(node, AccessPoint) and node.security != "ieee8021x":
        out.append(f"access point '{ap}' has security '{node.security}': the flows "
                   "authenticate with IEEE 802.1X (security: ieee8021x)")
    if node.domain is None:
        out.append(f"access point '{ap}' belongs to no domain, so no AAA server "
                   "authenticates the MN there (give it 'domain:')")
    return out


def _inter_technology_needs(t: Topology, flow: str, from_ap: str, to_bs: str, mn: str,
                            correspondent: str | None, interface: str | None) -> list[str]:
    """C.5.2: from a WLAN AP to a base station, in a call with a correspondent node."""
    out = _ap_needs(t, from_ap)
    net_from = t.ap_network(from_ap)
    m = t.nodes[mn]
    wlan = m.radio("wlan") if isinstance(m, MobileNode) else None
    address = wlan[1].address if wlan else None
    if address is None or net_from is None or address.ip not in t.networks[net_from].subnet:
        where = f"nodes.{mn}.interfaces.{wlan[0]}.address" if wlan and m.interfaces else \
            f"nodes.{mn}.address"
        out.append(f"mobile node '{mn}' needs its WLAN address ({where}) on network "
                   f"'{net_from}' of the start AP '{from_ap}': the call starts there")
    if interface is None:             # a named one is checked at its own line (check_experiment)
        _, err = cellular_interface(t, mn, to_bs, None)
        if err:
            out.append(err)
    if correspondent is None:
        out.append("no correspondent node to call")
    if flow != "c52-reactive" and net_from is not None and not [
            r for r in t.nodes_of("access_router") if net_from in _attached(t, r)]:
        out.append(f"no access_router on network '{net_from}' of '{from_ap}': copy-and-forward "
                   "(copy_forward:) runs at the MN's previous access router")
    bs = t.nodes[to_bs]
    dom = bs.domain if isinstance(bs, BaseStation) else None
    if dom is not None and t.domains[dom].mobility_protocol != "sip":
        out.append(f"domain '{dom}' of base station '{to_bs}' has mobility_protocol "
                   f"'{t.domains[dom].mobility_protocol}'; the c52-* flows bind with SIP")
    return out


def scenario_needs(t: Topology, flow: str, from_ap: str, to_ap: str | None, mn: str,
                   correspondent: str | None, interface: str | None = None) -> list[str]:
    """What the topology lacks for one scenario (empty: it can run)."""
    if flow in INTER_TECHNOLOGY_FLOWS:
        return _inter_technology_needs(t, flow, from_ap, to_ap, mn, correspondent, interface)
    out = [need for ap in dict.fromkeys((from_ap, to_ap)) for need in _ap_needs(t, ap)]
    net_from, net_to = t.ap_network(from_ap), t.ap_network(to_ap)
    if flow == "dot11i-pre-authentication" and net_from != net_to:
        out.append(f"802.11i pre-authentication needs both APs in one distribution system: "
                   f"'{from_ap}' is on network '{net_from}', '{to_ap}' on '{net_to}'")
    if flow in ("mpa-l2-pre-authentication", "sip-mpa", "mipv6-mpa"):
        if not paas_of(t, to_ap):
            out.append(f"no authentication_agent (PAA) on network '{net_to}' of '{to_ap}' in "
                       f"domain '{t.nodes[to_ap].domain}': MPA pre-authenticates with the "
                       "target network's PAA (add one, or 'colocated: [authentication_agent]' "
                       "on its access router)")
    if flow in ("mpa-l2-pre-authentication", "mipv6-mpa", *SIP_FLOWS):
        address = t.nodes[mn].address if isinstance(t.nodes[mn], MobileNode) else None
        subnet = t.networks[net_from].subnet if net_from else None
        if address is None or subnet is None or address.ip not in subnet:
            out.append(f"mobile node '{mn}' needs its address (nodes.{mn}.address) on network "
                       f"'{net_from}' of the start AP '{from_ap}': {flow} signals over IP from "
                       "the current network")
    if flow in SIP_FLOWS:
        dom = t.networks[net_to].domain if net_to else None
        if not [c for c in t.nodes_of("configuration_agent") if serves(t, c, net_to)]:
            out.append(f"no configuration_agent (DHCP) serves network '{net_to}' of '{to_ap}'")
        if correspondent is None:
            out.append("no correspondent node to call")
        if dom is not None and t.domains[dom].mobility_protocol != "sip":
            out.append(f"domain '{dom}' of network '{net_to}' has mobility_protocol "
                       f"'{t.domains[dom].mobility_protocol}'; the SIP flows need 'sip'")
    if flow in MIPV6_FLOWS:
        out += _mipv6_needs(t, mn, from_ap, to_ap, correspondent, net_from, net_to, flow)
    if flow == "sip-mpa":
        if not [r for r in t.nodes_of("access_router") if net_to in _attached(t, r)]:
            out.append(f"no access_router on network '{net_to}' of '{to_ap}': the proactive "
                       "handover tunnel ends there (s7.4)")
        if not t.nodes_of("information_server"):
            out.append("no information_server: the MN discovers the target network's PAA, "
                       "DHCP server and access router from it (s7.1)")
    return out


def concurrent_mobile_nodes(t: Topology, concurrent) -> tuple[list[str], str | None]:
    """The MNs of a concurrent scenario: the first `mobile_nodes` of the topology in its
    order (counted MNs in their numbers' order), or all; (MNs, None) or ([], why not)."""
    found = t.nodes_of("mobile_node")
    if concurrent.mobile_nodes == "all":
        return (found, None) if found else ([], "the topology has no mobile node")
    if concurrent.mobile_nodes > len(found):
        return [], (f"concurrent.mobile_nodes is {concurrent.mobile_nodes}, but the topology "
                    f"has {len(found)} mobile node(s) (give a group 'count:' or use 'all')")
    return found[:concurrent.mobile_nodes], None


def _mipv6_needs(t, mn, from_ap, to_ap, cn, net_from, net_to, flow) -> list[str]:
    """The Mobile IPv6 flows (issue 14): the MN's home agent and home address, both
    networks advertising an IPv6 prefix (the MN autoconfigures its care-of addresses), a
    correspondent with an IPv6 address, a home domain whose mobility protocol is mipv6."""
    from .checks6 import addresses6_on
    out = []
    node = t.nodes[mn]
    if not isinstance(node, MobileNode) or node.mipv6 is None:
        return [f"mobile node '{mn}' has no Mobile IPv6 settings (nodes.{mn}.mipv6: "
                "{home_address: ..., home_agent: ...})"]
    if t.domains[node.home_domain].mobility_protocol != "mipv6":
        out.append(f"the home domain '{node.home_domain}' of '{mn}' has mobility_protocol "
                   f"'{t.domains[node.home_domain].mobility_protocol}'; the mipv6 flows need "
                   "'mipv6'")
    for ap, net in ((from_ap, net_from), (to_ap, net_to)):
        ipv6 = t.networks[net].ipv6 if net else None
        if ipv6 is None or not ipv6.router_advertisements:
            out.append(f"network '{net}' of '{ap}' does not advertise an IPv6 prefix "
                       "(ipv6: {prefix: ..., router_advertisements: true}): the MN "
                       "autoconfigures its care-of address there")
    if flow == "mipv6-mpa":
        if not [r for r in t.nodes_of("access_router") if net_to in _attached(t, r)
                and addresses6_on(t, r, net_to)]:
            out.append(f"no access_router with an IPv6 address on network '{net_to}' of "
                       f"'{to_ap}': the proactive handover tunnel ends there (s7.4)")
        if not t.nodes_of("information_server"):
            out.append("no information_server: the MN discovers the target network's prefix, "
                       "PAA and access router from it (s7.1)")
    if cn is None:
        out.append("no correspondent node to stream from")
    elif not any(addresses6_on(t, cn, n) for n in t.networks):
        out.append(f"correspondent node '{cn}' has no IPv6 address (addresses6)")
    return out


def movement_needs(t: Topology, from_ap: str, mn: str, pre_configures: bool = False,
                   path=None) -> list[str]:
    """A movement (model/movement.py): every AP on the map, the MN's address on the start
    AP's network (it pre-authenticates over IP from there), another network with a PAA
    to pre-authenticate with, and for pre-configuration an information server (the MN
    learns the CTN's DHCP server and access router from it, s7.1). A `path` that follows
    the APs (`across`) must name placed APs and stay within the movement time limit."""
    out = scenario_needs(t, "dot11i-post-authentication", from_ap, from_ap, mn, None)
    aps = t.nodes_of("access_point")
    unplaced = [ap for ap in aps if getattr(t.nodes[ap], "position", None) is None]
    if unplaced:
        out.append(f"access point(s) {', '.join(unplaced)} have no position: a movement needs "
                   "every AP on the map (nodes.<ap>.position: [x, y], e.g. [0m, 20m])")
    if path is not None and path.across is not None:
        from .movement import MAX_MOVEMENT_TIME
        anchors = {ap: tuple(t.nodes[ap].position) for ap in aps if ap not in unplaced}
        try:
            duration = path.to_path(anchors).duration
        except ValueError as exc:
            out.append(str(exc))
        else:
            if duration > MAX_MOVEMENT_TIME:
                out.append(f"the path takes {duration:.0f} s; a movement runs at real speed "
                           f"and may take at most {MAX_MOVEMENT_TIME:.0f} s")
    net_from = t.ap_network(from_ap)
    address = t.nodes[mn].address if isinstance(t.nodes[mn], MobileNode) else None
    if address is None or net_from is None or address.ip not in t.networks[net_from].subnet:
        out.append(f"mobile node '{mn}' needs its address (nodes.{mn}.address) on network "
                   f"'{net_from}' of the start AP '{from_ap}': MPA signals over IP from there")
    if not any(paas_of(t, ap) for ap in aps if t.ap_network(ap) != net_from):
        out.append(f"no other network than '{net_from}' has an authentication_agent (PAA): "
                   "a movement pre-authenticates with the candidate target network's PAA")
    if pre_configures and not t.nodes_of("information_server"):
        out.append("no information_server: a policy that pre-configures (pre_configure_below "
                   "not 'none') learns the CTN's DHCP server and access router from it (s7.1)")
    return out


def check_experiment(exp, confs, smap) -> list[Problem]:
    """Resolve each configuration's mobile node and check every scenario's prerequisites on
    every configuration's topology, and the `reference:` mapping. Sets `mobile_node` on the
    resolved configurations. Problems point at the experiment file."""
    from pathlib import Path
    problems = []
    for rc in confs:
        conf = exp.configurations[rc.configuration]
        wanted = conf.mobile_node or exp.mobile_node
        where = (("configurations", rc.configuration, "mobile_node") if conf.mobile_node
                 else ("mobile_node",) if exp.mobile_node else ("configurations", rc.configuration))
        topo_name = Path(rc.topology_file).name
        mn, err = only_node(rc.topology, "mobile_node", wanted, "mobile node", "mobile_node")
        if err and wanted is None and all(s.concurrent for s in exp.scenarios):
            # no single MN moves: the first of the crowd is the one captured for the ladder
            mn, err = (rc.topology.nodes_of("mobile_node") or [None])[0], None
        if err or mn is None:
            problems.append(smap.problem(where, f"{topo_name}: {err or 'no mobile node'}"))
            continue
        rc.mobile_node = mn
        for i, s in enumerate(exp.scenarios):
            if s.concurrent is not None:
                problems += _concurrent_problems(rc, s, i, smap, topo_name)
                continue
            cn = None
            if s.flow in (*CALL_FLOWS, *MIPV6_FLOWS):
                cn, err = only_node(rc.topology, "correspondent_node", s.correspondent,
                                    "correspondent node", "correspondent")
                if err:
                    problems.append(smap.problem(("scenarios", i), f"{topo_name}: {err}"))
                    continue
            if s.flow in INTER_TECHNOLOGY_FLOWS and s.interface is not None:
                _, err = cellular_interface(rc.topology, mn, s.to_ap, s.interface)
                if err:
                    problems.append(smap.problem(("scenarios", i, "interface"),
                                                 f"{topo_name} ({rc.name}): {err}"))
            if s.flow == "movement":
                needs = movement_needs(rc.topology, s.from_ap, mn,
                                       s.movement.policy.pre_configure_below is not None,
                                       s.movement.path)
            elif s.flow == "switch-back":      # MPA with pre-configuration, with no call
                needs = scenario_needs(rc.topology, "sip-mpa", s.from_ap, s.to_ap, mn,
                                       correspondent="(no call)")
            else:
                needs = scenario_needs(rc.topology, s.flow, s.from_ap, s.to_ap, mn, cn,
                                       s.interface)
            for need in needs:
                problems.append(smap.problem(("scenarios", i), f"{s.flow} on {topo_name} "
                                             f"({rc.name}): {need}"))
    return problems + reference_problems(exp, smap)


def _concurrent_problems(rc, s, i: int, smap, topo_name: str) -> list[Problem]:
    """A concurrent scenario: enough MNs, and each one meets the flow's needs (the first
    MN's unmet needs reported, with how many others share them)."""
    mns, err = concurrent_mobile_nodes(rc.topology, s.concurrent)
    if err:
        return [smap.problem(("scenarios", i, "concurrent", "mobile_nodes"), f"{topo_name}: {err}")]
    needs: dict[str, list[str]] = {}
    for mn in mns:
        for need in scenario_needs(rc.topology, s.flow, s.from_ap, s.to_ap, mn, None):
            needs.setdefault(need.replace(f"'{mn}'", "'{mn}'").replace(f".{mn}.", ".{mn}."),
                             []).append(mn)
    out = []
    for need, who in needs.items():
        also = f" (and {len(who) - 1} other MN(s) of the scenario)" if len(who) > 1 else ""
        out.append(smap.problem(("scenarios", i), f"{s.flow} on {topo_name} ({rc.name}): "
                                f"{need.replace('{mn}', who[0])}{also}"))
    return out


def reference_problems(exp, smap) -> list[Problem]:
    """The `reference:` table exists and declares columns; the mapping names columns of that
    table and configurations (or scenarios, as the table says) of this experiment."""
    ref = exp.reference
    if ref is None:
        return []
    from ..analysis import reference as tables
    table, path = ref.table, ("reference", "table")
    known = tables.tables()
    if table not in known:
        return [smap.problem(path, f"unknown reference table '{table}'{suggest(table, known)}; "
                                   f"known: {', '.join(known)}")]
    cols = tables.columns(table)
    if cols is None:
        return [smap.problem(path, f"reference table '{table}' declares no columns to compare with")]
    if ref.columns is None:
        return []                                  # columns matched by name
    axis, names = cols
    pool = list(exp.configurations) if axis == "configurations" else [s.name for s in exp.scenarios]
    out = []
    for col, mapped in ref.columns.items():
        if col not in names:
            out.append(smap.problem(("reference", "columns", col), f"'{col}' is not a column "
                                    f"of {table}{suggest(col, names)}; its columns: "
                                    f"{', '.join(names)}", key=True))
            continue
        for j, name in enumerate([mapped] if isinstance(mapped, str) else mapped):
            if name not in pool:
                where = ("reference", "columns", col) + (() if isinstance(mapped, str) else (j,))
                out.append(smap.problem(where, f"'{name}' is not one of this experiment's "
                                        f"{axis}{suggest(name, pool)} ({', '.join(pool)}): "
                                        f"{table}'s columns are compared with {axis}"))
    return out
