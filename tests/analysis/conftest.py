"""Fixtures: a synthetic run directory (see synthetic.py); nothing here needs root."""
import pytest

from tests.analysis import synthetic


@pytest.fixture
def run(tmp_path):
    return synthetic.run_dir(tmp_path / "results")


@pytest.fixture
def records():
    return synthetic.records()


@pytest.fixture(scope="session")
def reported(tmp_path_factory):
    """(run directory, report()'s paths): one full report shared by the tests."""
    from orchestrator.analysis import report
    run = synthetic.run_dir(tmp_path_factory.mktemp("results"))
    return run, report.report(run)
