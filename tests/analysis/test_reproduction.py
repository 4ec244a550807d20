"""Reproductions are plug-ins: each module of analysis/reproductions/ registers itself for a
reference table, imports no sibling, and a new one is picked up by dropping in a file."""
import ast
import importlib
import sys
from pathlib import Path

import pytest

from orchestrator.analysis import report, reproduction
from orchestrator.analysis import reproductions as package
from orchestrator.analysis.records import RunData
from tests.analysis import synthetic

HERE = Path(package.__file__).parent
MODULES = sorted(p for p in HERE.glob("*.py") if p.name != "__init__.py")


def test_every_module_registers_a_reproduction_of_a_reference_table():
    registered = reproduction.registered()
    assert {"rfc6252_fig10", "rfc6252_fig7"} <= set(registered)
    for table, r in registered.items():
        assert r.table == table and r._checks and r._readme and r._summary


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_reproduction_imports_a_sibling(path):
    siblings = {p.stem for p in MODULES} - {path.stem}
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            assert node.level == 0, f"{path.name}: relative import"
        for name in names:
            parts = name.split(".")
            assert not (len(parts) >= 4 and parts[:3] == ["orchestrator", "analysis", "reproductions"]
                        and parts[3] in siblings), f"{path.name} imports {name}"


def test_no_dispatch_on_a_figure_elsewhere():
    """The pipeline asks the registry; no `is_fig7` style branches."""
    analysis = Path(reproduction.__file__).parent
    for path in [*analysis.glob("*.py"), *MODULES]:
        text = path.read_text()
        assert "is_fig" not in text, path.name


NEW_MODULE = '''
"""A reproduction added by a test: one file, nothing else edited."""
from orchestrator.analysis.reproduction import Reproduction, check

FIG6 = Reproduction("rfc6252_fig6", "RFC 6252 Figure 6 (test)")


@FIG6.checks
def checks(run):
    return [check("x", "the run has records", float(len(run.records)), None, len(run.records) > 0,
                  "counted")]


@FIG6.tables
def tables(run):
    return {"fig6.md": "# Figure 6\\n"}


@FIG6.readme
def readme(run, checks):
    return ["## Figure 6 (test)", "", f"{len(checks)} check(s)", ""]


@FIG6.summary
def summary(run, checks):
    return ["Figure 6 (test)"]
'''


def test_a_new_module_is_picked_up_without_editing_anything(tmp_path, monkeypatch):
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "fig6_test.py").write_text(NEW_MODULE)
    # the real Figure 6 reproduction (issue 14) steps aside for the one this test adds
    real = reproduction.registered().pop("rfc6252_fig6", None)
    monkeypatch.setattr(package, "__path__", [*package.__path__, str(extra)])
    try:
        assert "rfc6252_fig6" in reproduction.registered()
        df = synthetic.records(repetitions=2)
        spec = {**synthetic.SPEC, "reference": {"table": "rfc6252_fig6", "columns": {}}}
        run_dir = synthetic.run_dir(tmp_path, df, spec=spec, name="six")
        assert reproduction.for_run(RunData.load(run_dir)).title == "RFC 6252 Figure 6 (test)"
        paths = report.report(run_dir)
        assert "tables/fig6.md" in paths
        readme = paths["README.md"].read_text()
        assert "## Figure 6 (test)" in readme and "1 check(s)" in readme
        assert "the run has records" in (run_dir / "tables" / "checks.md").read_text()
    finally:
        reproduction.REPRODUCTIONS.pop("rfc6252_fig6", None)
        sys.modules.pop("orchestrator.analysis.reproductions.fig6_test", None)
        if real is not None:
            reproduction.REPRODUCTIONS["rfc6252_fig6"] = real


def test_one_table_one_reproduction():
    with pytest.raises(ValueError, match="already reproduced"):
        reproduction.Reproduction("rfc6252_fig10", "again")
    importlib.import_module("orchestrator.analysis.reproductions.fig10")
