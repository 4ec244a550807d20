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
                 "  mn:  {host: 192.0.2.10}\n"
                 "  nar: {host: 192.0.2.11, port: 2222, user: root, python: /usr/bin/python3}\n")
    inv = load_inventory(f, fig9)
    mn, nar = inv.target("mn"), inv.target("nar")
    assert (mn.host, mn.port, mn.user, mn.key) == ("192.0.2.10", 22, "mpa",
                                                  str(tmp_path / "keys/id_ed25519"))
    assert (nar.port, nar.user, nar.python) == (2222, "root", "/usr/bin/python3")
    assert mn.known_hosts == str(tmp_path / "keys/known_hosts")
    assert mn.workdir == "/var/tmp/mpa-testbed" and mn.python == "python3"
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
