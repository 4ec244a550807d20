"""Golden tests: shipped topologies validate; each invalid file gives its exact message.

errors/<case>.yaml is made by make_cases.py from valid/minimal.yaml; errors/<case>.expected
holds the message. To re-bless after a deliberate message change:
    UPDATE_GOLDEN=1 pytest tests/topology/test_golden.py   (then review the diff)
"""
from pathlib import Path

import jsonschema
import pytest
import yaml

from orchestrator.model import TopologyError, load_topology
from orchestrator.model.topology import topology_json_schema
from tests.support.golden import assert_generated, compare

HERE = Path(__file__).parent
REPO = HERE.parents[1]
SHIPPED = sorted((REPO / "topologies").glob("*.yaml"))
CASES = sorted((HERE / "errors").glob("*.yaml"))


def test_there_are_enough_error_cases():
    assert len(CASES) >= 80


@pytest.mark.parametrize("path", SHIPPED + [HERE / "valid" / "minimal.yaml"], ids=lambda p: p.name)
def test_valid_topologies_load(path):
    topo = load_topology(path)
    assert topo.nodes and topo.domains


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_topologies_cite_the_rfc(path):
    head = path.read_text().splitlines()[0]
    assert head.startswith("# RFC 6252"), head


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_topologies_match_the_json_schema(path):
    jsonschema.validate(yaml.safe_load(path.read_text()), topology_json_schema())


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_error_message(path, monkeypatch):
    monkeypatch.chdir(path.parent)
    with pytest.raises(TopologyError) as exc:
        load_topology(path.name)
    compare(path, str(exc.value) + "\n")


def test_error_cases_are_generated_from_the_base():
    """errors/ is exactly what make_cases.py writes (no hand edits drift)."""
    assert_generated(HERE / "make_cases.py", HERE / "errors")


def test_committed_schema_is_current():
    """topologies/schema.json (for editors) is what `mpa-testbed schema` prints."""
    import json
    committed = json.loads((REPO / "topologies" / "schema.json").read_text())
    assert committed == topology_json_schema(), "run `make schema`"
