"""`mpa-testbed report --summary`: only results/summary.md, from the runs' own reports (what
`make reproduce` ends with: every `run` already wrote its report)."""
from orchestrator.cli import main


def test_summary_only_writes_the_summary_and_touches_no_run(tmp_path, capsys):
    run = tmp_path / "fig10" / "20261207-000000"
    run.mkdir(parents=True)
    assert main(["report", "--summary", "--results", str(tmp_path)]) == 0
    text = (tmp_path / "summary.md").read_text()
    assert text.startswith("# Results: latest run of every experiment")
    assert list(run.iterdir()) == []            # no report was (re)built
    assert "summary:" in capsys.readouterr().out
