"""Golden tests of experiment files (issue 13), as tests/topology/test_golden.py does for
topologies: valid/minimal.yaml loads; each errors/<case>.yaml (made by make_cases.py) gives
exactly the message in errors/<case>.expected, at the line the user wrote. To re-bless after
a deliberate message change: UPDATE_GOLDEN=1 pytest tests/experiment/test_golden.py
"""
import importlib.util
import os
from pathlib import Path

import pytest

from orchestrator.model.experiment import ExperimentError, load_experiment

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
    got = str(exc.value) + "\n"
    expected = path.with_suffix(".expected")
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(got)
    assert got == expected.read_text()


def test_error_cases_are_generated_from_the_base():
    spec = importlib.util.spec_from_file_location("make_cases", HERE / "make_cases.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert set(mod.CASES) == {p.stem for p in CASES}
    for name, edits in mod.CASES.items():
        assert (HERE / "errors" / f"{name}.yaml").read_bytes() == mod.render(edits), name
