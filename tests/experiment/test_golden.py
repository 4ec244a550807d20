"""Golden tests of experiment files (issue 13), as tests/topology/test_golden.py does for
topologies: valid/minimal.yaml loads; each errors/<case>.yaml (made by make_cases.py) gives
exactly the message in errors/<case>.expected, at the line the user wrote. To re-bless after
a deliberate message change: UPDATE_GOLDEN=1 pytest tests/experiment/test_golden.py
"""
from pathlib import Path

import pytest

from orchestrator.model.experiment import ExperimentError, load_experiment
from tests.support.golden import assert_generated, compare

HERE = Path(__file__).parent
CASES = sorted((HERE / "errors").glob("*.yaml"))


def test_the_base_loads():
    exp, confs = load_experiment(HERE / "valid" / "minimal.yaml")
    assert [c.name for c in confs] == ["base"] and exp.repetitions == 2


def test_there_are_enough_error_cases():
    assert len(CASES) >= 40


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_error_message(path, monkeypatch):
    monkeypatch.chdir(path.parent)
    with pytest.raises(ExperimentError) as exc:
        load_experiment(path.name)
    compare(path, str(exc.value) + "\n")


def test_error_cases_are_generated_from_the_base():
    assert_generated(HERE / "make_cases.py", HERE / "errors")
