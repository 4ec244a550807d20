"""IPv6 in the plan, the host configuration and the agents' configuration (issue 14), from
the shipped Figure 6 topology and the Mobile IPv6 test topology: addresses, static routes of
both families, IPv6 switched on only where the topology asks, Router Advertisements and the
Mobile IPv6 roles configured by role (never by name)."""
from pathlib import Path

import pytest

from orchestrator.deploy.context import Facts, ipv6_agent_config, ipv6_agent_roles
from orchestrator.model import load_topology
from orchestrator.model.checks6 import home_link
from orchestrator.model.plan import build_plan
from orchestrator.network.build import ipv6_sysctls

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", params=["topologies/c51-mipv6-intra-domain.yaml",
                                        "tests/integration/topologies/mipv6-small.yaml"])
def bed(request):
    t = load_topology(REPO / request.param)
    return t, build_plan(t)


def by_role(t, role):
    return [n for n in t.nodes if role in t.roles(n)]


def test_routers_route_every_ipv6_prefix(bed):
    t, plan = bed
    prefixes = {str(n.ipv6.prefix) for n in t.networks.values() if n.ipv6}
    for name, host in plan.hosts.items():
        if not host.forwarding:
            continue
        direct = {str(i.address6.network) for i in host.interfaces if i.address6}
        routed = {r.prefix for r in host.routes if r.family == 6}
        assert direct | routed == prefixes, name
        assert all(":" in r.via for r in host.routes if r.family == 6)


def test_hosts_default_route_only_with_a_static_address(bed):
    t, plan = bed
    [mn] = by_role(t, "mobile_node")
    # the MN autoconfigures: its default router comes from Router Advertisements
    assert [r.family for r in plan.hosts[mn].routes] == [4]
    [cn] = by_role(t, "correspondent_node")
    assert sorted(r.family for r in plan.hosts[cn].routes) == [4, 6]


def test_ipv6_is_switched_on_only_where_the_topology_asks(bed, tmp_path):
    t, plan = bed
    [mn] = by_role(t, "mobile_node")
    cmds = [" ".join(c) for c in ipv6_sysctls(plan.hosts[mn])]
    assert "sysctl -qw net.ipv6.conf.all.disable_ipv6=0" in cmds
    assert "sysctl -qw net/ipv6/conf/wlan0/accept_ra=1" in cmds
    router = next(h for h in plan.hosts.values() if h.forwarding)
    assert "sysctl -qw net.ipv6.conf.all.forwarding=1" in [" ".join(c) for c in ipv6_sysctls(router)]
    v4 = build_plan(load_topology(REPO / "topologies" / "c51-sip-intra-domain.yaml"))
    assert all(ipv6_sysctls(h) == [["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]]
               for h in v4.hosts.values())


def test_agents_get_their_ipv6_roles_by_role(bed):
    t, plan = bed
    f = Facts(t, plan, None, None, {}, Path("/run"))
    [mn] = by_role(t, "mobile_node")
    [ha] = by_role(t, "home_agent")
    [cn] = by_role(t, "correspondent_node")
    assert ipv6_agent_roles(f, mn) == ["mipv6-mobile-node"]
    assert ipv6_agent_roles(f, cn) == ["mipv6-correspondent"]
    home = home_link(t, mn)
    mn_conf = ipv6_agent_config(f, mn)["mipv6_mn"]
    assert mn_conf["home_address"] == str(t.nodes[mn].mipv6.home_address)
    assert mn_conf["home_prefix"] == str(t.networks[home].ipv6.prefix)
    ha_conf = ipv6_agent_config(f, ha)["mipv6_ha"]
    assert ha_conf["address"] == mn_conf["home_agent"]
    assert ha_conf["home_prefixes"] == [mn_conf["home_prefix"]]
    assert ipv6_agent_config(f, cn)["mipv6_cn"]["mobile_prefixes"] == [mn_conf["home_prefix"]]
    advertisers = [n for n in plan.hosts if "router-advertiser" in ipv6_agent_roles(f, n)]
    assert sorted(advertisers) == sorted(n.gateway for n in t.networks.values()
                                         if n.ipv6 and n.ipv6.router_advertisements)
    for ar in advertisers:
        pht = ipv6_agent_config(f, ar)["pht6"]
        assert pht["prefix"] in {str(n.ipv6.prefix) for n in t.networks.values() if n.ipv6}
