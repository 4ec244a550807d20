"""The split testbed's pure parts: placement (ours and Mininet's SwitchBinPlacer), the
cluster edition's cleanup kept away, what deploy refuses, commands for another server."""
import shlex

import pytest

pytest.importorskip("mininet.examples.cluster")

from mininet import clean as mn_clean  # noqa: E402
from mininet.examples import cluster as mn_cluster  # noqa: E402

from orchestrator.model import load_topology_text  # noqa: E402
from orchestrator.model.plan import build_plan  # noqa: E402
from orchestrator.network.cluster import Cluster, ClusterError, placement  # noqa: E402
from orchestrator.network.state import Journal  # noqa: E402

BASE = """
name: t
domains: {d: {realm: d.example, aaa_server: aaa}}
networks:
  n1: {domain: d, subnet: 10.1.0.0/24, gateway: r}
  n2: {domain: d, subnet: 10.2.0.0/24, gateway: r}
  n3: {domain: d, subnet: 10.3.0.0/24, gateway: r}
  n4: {domain: d, subnet: 10.4.0.0/24, gateway: r}
nodes:
  r:   {kind: router, domain: d}
  aaa: {kind: aaa_server, domain: d}
  cn:  {kind: correspondent_node, domain: d}
  ap:  {kind: access_point, domain: d}
  mn:  {kind: mobile_node, home_domain: d, associate: ap, address: 10.3.0.100}
links:
  - {endpoints: [r, n1], addresses: {r: 10.1.0.1}}
  - {endpoints: [r, n2], addresses: {r: 10.2.0.1}}
  - {endpoints: [r, n3], addresses: {r: 10.3.0.1}}
  - {endpoints: [r, n4], addresses: {r: 10.4.0.1}}
  - {endpoints: [aaa, n2], addresses: {aaa: 10.2.0.10}}
  - {endpoints: [cn, n4], addresses: {cn: 10.4.0.20}}
  - {endpoints: [ap, n3], addresses: {ap: 10.3.0.2}}
"""


def _topo(placement_yaml: str):
    return load_topology_text(BASE + placement_yaml, "t.yaml")


def test_listed_nodes_go_where_listed_and_the_rest_stays_on_the_first_server():
    t = _topo("placement:\n  servers: {a: {}, b: {address: loopback}}\n"
              "  nodes: {n2: b, aaa: b}\n")
    where = placement(t.placement, build_plan(t))
    assert where["n2"] == where["aaa"] == "b"
    assert {n for n, s in where.items() if s == "b"} == {"n2", "aaa"}
    assert where["air"] == "a"


def test_auto_uses_mininets_switch_bins_and_hosts_follow_their_network():
    t = _topo("placement:\n  servers: {a: {}, b: {address: loopback}}\n  auto: true\n")
    plan = build_plan(t)
    where = placement(t.placement, plan)
    free = [s for s, sp in plan.switches.items() if sp.role == "network"]
    # the networks' switches exactly as Mininet's SwitchBinPlacer bins them (evenly, in order)
    assert {s: where[s] for s in free} == mn_cluster.SwitchBinPlacer.bin(free, ["a", "b"])
    assert sorted(where[s] for s in free).count("b") == len(free) // 2
    assert where["air"] == "a"                     # the controller reads its port here
    assert where["aaa"] == where["n2"] and where["cn"] == where["n4"]
    # an AP (its host and its bridge share its name) goes with its network, not the radio
    assert where["ap"] == where["n3"] == "b"
    assert set(where) == set(plan.hosts) | set(plan.switches)


def test_a_pinned_node_wins_over_auto():
    t = _topo("placement:\n  servers: {a: {}, b: {address: loopback}}\n  auto: true\n"
              "  nodes: {n4: a, cn: b}\n")
    where = placement(t.placement, build_plan(t))
    assert where["n4"] == "a" and where["cn"] == "b"


def test_the_cluster_editions_cleanup_is_never_registered():
    """ClusterCleanup.add would register `ssh <server> sudo mn -c` with mininet.clean."""
    before = list(mn_clean.Cleanup.callbacks)
    mn_cluster.ClusterCleanup.add(server="elsewhere", user="root")
    assert mn_clean.Cleanup.callbacks == before
    assert mn_cluster.ClusterCleanup.cleanup not in mn_clean.Cleanup.callbacks


def _journal(tmp_path):
    return Journal(name="t", prefix="mabc", topology_file="t.yaml", run_dir=str(tmp_path))


def test_deploy_refuses_servers_that_are_other_machines(tmp_path):
    t = _topo("placement:\n  servers: {a: {}, b: {address: 192.0.2.7}}\n  nodes: {n2: b}\n")
    with pytest.raises(ClusterError, match=r"placement.servers.b: only 'address: loopback'"):
        Cluster(_journal(tmp_path), t.placement, build_plan(t))


def test_commands_for_another_server_go_through_ssh_word_for_word(tmp_path):
    t = _topo("placement:\n  servers: {a: {}, b: {address: loopback}}\n  nodes: {n2: b}\n")
    c = Cluster(_journal(tmp_path), t.placement, build_plan(t))
    argv = ["ovs-vsctl", "--", "create", "Controller", 'target="tcp:127.0.0.1:1"', "a b;c"]
    assert c.on("a", argv) == argv
    remote = c.on("b", argv)
    assert remote[:5] == ["ssh", "-F", str(c.config), "-n", "mabc-b"]
    assert shlex.split(remote[5]) == argv          # the remote shell sees the same words


def test_a_link_between_two_other_servers_is_refused_before_anything_is_made(tmp_path):
    """A tunnel's ssh runs on the first server (ssh between two other servers would need
    keys there)."""
    t = _topo("placement:\n  servers: {a: {}, b: {address: loopback}, c: {address: loopback}}\n"
              "  nodes: {n2: b, aaa: c}\n")
    with pytest.raises(ClusterError, match=r"links\[4\] \(aaa - n2\) joins servers b and c"):
        Cluster(_journal(tmp_path), t.placement, build_plan(t))
