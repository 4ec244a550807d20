"""inventory.yaml: node -> SSH target, with file:line errors."""
from pathlib import Path

import pytest

from orchestrator.deploy.inventory import InventoryError, load_inventory, load_inventory_text
from orchestrator.model import load_topology

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fig9():
    return load_topology(REPO / "topologies/fig9-l2-preauth-roaming.yaml")


def test_nodes_inherit_defaults_and_paths_are_relative_to_the_file(tmp_path, fig9):
    f = tmp_path / "inventory.yaml"
    f.write_text("defaults: {user: mpa, key: keys/id_ed25519, known_hosts: keys/known_hosts}\n"
                 "nodes:\n"
                 "  cn:  {host: 192.0.2.10}\n"
                 "  nar: {host: 192.0.2.11, port: 2222, user: root, python: /usr/bin/python3}\n")
    inv = load_inventory(f, fig9)
    mn, nar = inv.target("cn"), inv.target("nar")
    assert (mn.host, mn.port, mn.user, mn.key) == ("192.0.2.10", 22, "mpa",
                                                  str(tmp_path / "keys/id_ed25519"))
    assert (nar.port, nar.user, nar.python) == (2222, "root", "/usr/bin/python3")
    assert mn.known_hosts == str(tmp_path / "keys/known_hosts")
    assert mn.workdir == "/var/tmp/mpa-testbed" and mn.python == "python3" and mn.via is None
    t = inv.transport("nar")
    assert (t.host, t.port, t.user) == ("192.0.2.11", 2222, "root")
    with pytest.raises(LookupError, match="node 'nra' is not in the inventory.*did you mean 'nar'"):
        inv.target("nra")


@pytest.mark.parametrize("text, message", [
    ("nodes:\n  mn: {host: h, prot: 22, key: k}\n",
     "inv.yaml:2:17: nodes.mn.prot: unknown key 'prot' (did you mean 'port'?)"),
    ("nodes:\n  mn: {host: h, port: 70000, key: k}\n",
     "inv.yaml:2:23: nodes.mn.port: expected a TCP port number 1-65535 (got 70000)"),
    ("nodes:\n  mn: {port: 22, key: k}\n", "inv.yaml:2:7: nodes.mn: missing required key 'host'"),
    ("nodes:\n  mn: {host: h}\n",
     "inv.yaml:2:7: nodes.mn: no SSH key: set 'key' here or in 'defaults' (passwords are not supported)"),
    ("defaults: {key: k}\nnodes:\n  nra: {host: h}\n",
     "inv.yaml:3:3: nodes.nra: node 'nra' is not in topology 'fig9-l2-preauth-roaming' (did you mean 'nar'?)"),
    ("defaults: {key: k, pasword: x}\nnodes: {}\n",
     "inv.yaml:1:20: defaults.pasword: unknown key 'pasword'"),
    ("- mn\n", "inv.yaml:1:1: expected a mapping with keys 'defaults' and 'nodes'"),
    ("nodes:\n  mn: {host: h, key: k}\n  mn: {host: g, key: k}\n",
     "inv.yaml:3:3: nodes.mn: duplicate key 'mn' (first defined at line 2)"),
    # the radio is emulated: its nodes stay emulated
    ("defaults: {key: k}\nnodes:\n  mn: {host: h}\n",
     "inv.yaml:3:3: nodes.mn: node 'mn' is a mobile node: its radio is emulated by the "
     "testbed's controller"),
    ("defaults: {key: k}\nnodes:\n  ap1: {host: h}\n", "inv.yaml:3:3: nodes.ap1: node 'ap1' is "
     "a access point"),
    # what reaches the node is checked before it gets there
    ("defaults: {key: k}\nnodes:\n  nar: {host: h, workdir: '/tmp/x;touch /tmp/p'}\n",
     "inv.yaml:3:27: nodes.nar.workdir: expected an absolute path of at most 60 characters"),
    ("defaults: {key: k}\nnodes:\n  nar: {host: h, workdir: /tmp/../etc}\n",
     "inv.yaml:3:27: nodes.nar.workdir: expected a path without '.' or '..' components"),
    ("defaults: {key: k, workdir: tmp/x}\nnodes: {}\n",
     "inv.yaml:1:29: defaults.workdir: expected an absolute path"),
    ("defaults: {key: k, user: 'root$(id)'}\nnodes: {}\n",
     "inv.yaml:1:26: defaults.user: expected a login name"),
    ("defaults: {key: k, python: 'python3 -c x'}\nnodes: {}\n",
     "inv.yaml:1:28: defaults.python: expected a program name or path"),
    ("defaults: {key: k}\nnodes:\n  nar: {host: 'h;id'}\n",
     "inv.yaml:3:15: nodes.nar.host: expected an IP address or a host name"),
    # via: an emulated node of the topology
    ("defaults: {key: k, via: gw-x}\nnodes: {}\n",
     "inv.yaml:1:25: defaults.via: 'via' names node 'gw-x', which is not in topology "
     "'fig9-l2-preauth-roaming' (did you mean"),
    ("defaults: {key: k}\nnodes:\n  cn: {host: h}\n  nar: {host: h, via: cn}\n",
     "inv.yaml:4:23: nodes.nar.via: 'via' names node 'cn', which is in the inventory"),
    # a rehearsal's machine is the node's emulated host
    ("rehearsal: true\ndefaults: {key: k}\nnodes:\n  aaa-h: {host: 10.9.0.10}\n",
     "inv.yaml:4:3: nodes.aaa-h: in a rehearsal the machines are emulated hosts, which the "
     "orchestrator's own namespace does not reach: set 'via'"),
    ("rehearsal: true\ndefaults: {key: k, via: cn}\nnodes:\n  aaa-h: {host: 10.0.0.10}\n",
     "inv.yaml:4:17: nodes.aaa-h.host: in a rehearsal the node's emulated host plays the "
     "machine: 'host' must be one of its addresses (10.9.0.10), not '10.0.0.10'"),
    ("rehearsl: true\nnodes: {}\n", "inv.yaml:1:1: rehearsl: unknown key 'rehearsl' (did you "
     "mean 'rehearsal'?)"),
])
def test_errors_name_the_place(fig9, text, message):
    with pytest.raises(InventoryError) as err:
        load_inventory_text(text, "inv.yaml", fig9)
    assert message in str(err.value)


def test_the_documented_example_is_valid(fig9):
    doc = (REPO / "docs/real-hardware.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    inv = load_inventory_text(example, str(REPO / "docs/inventory.yaml"), fig9)
    assert set(inv.nodes) <= set(fig9.nodes) and inv.nodes
