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


@pytest.fixture
def fig7_run(tmp_path):
    return synthetic.fig7_run_dir(tmp_path / "results")


@pytest.fixture(scope="session")
def fig7_reported(tmp_path_factory):
    """(Figure 7 run directory, report()'s paths): one full report shared by the tests."""
    from orchestrator.analysis import report
    run = synthetic.fig7_run_dir(tmp_path_factory.mktemp("results"))
    return run, report.report(run)
