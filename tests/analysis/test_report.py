"""report(): tables + figures + README.md; summary(): the latest run of every experiment."""
import re
import shutil

from orchestrator.analysis import report
from tests.analysis import synthetic


def _links(md: str) -> list[str]:
    return re.findall(r"\]\(([^)]+)\)", md)


def test_report_writes_a_readme_whose_links_resolve(reported):
    run, paths = reported
    readme = paths["README.md"].read_text()
    assert readme.startswith("# fig10, run 20261201-120000")
    assert readme.index("## Emulated parameters") < readme.index("| Operation |")
    links = _links(readme)
    assert "figures/fig10_bars.png" in links and "tables/checks.md" in links
    assert "figures/ladder/roaming--mpa.png" in links
    for link in links:
        assert (run / link).exists(), link
    assert "Structure checks: 11 ok, 0 failed" in readme


def test_summary_links_the_latest_run_of_each_experiment_newest_first(tmp_path):
    root = tmp_path / "results"
    old = synthetic.run_dir(root)                                     # fig10/20261201-120000
    newer = old.parent / "20261202-090000"
    shutil.copytree(old, newer, ignore=shutil.ignore_patterns("ladder"))
    other = root / "sweep" / "20261203-080000"
    shutil.copytree(old, other, ignore=shutil.ignore_patterns("ladder"))
    (root / "runs" / "fig9-20261127-102742").mkdir(parents=True)     # a deploy, not a run
    assert report.latest_runs(root) == [other, newer]
    assert report.main(["--all", "--results", str(root)]) == 0
    md = (root / "summary.md").read_text()
    assert md.index("## sweep: run 20261203-080000") < md.index("## fig10: run 20261202-090000")
    assert "20261201-120000" not in md
    for link in _links(md):
        assert (root / link).exists(), link
    assert (newer / "README.md").exists() and not (old / "README.md").exists()


def test_cli_reports_one_run_and_refuses_a_non_run(run, tmp_path, capsys):
    shutil.rmtree(run / "ladder")
    assert report.main([str(run)]) == 0
    assert (run / "README.md").exists() and (run / "tables" / "checks.md").exists()
    assert report.main([str(tmp_path)]) == 1
    assert "no records" in capsys.readouterr().err
