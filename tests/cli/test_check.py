"""`mpa-testbed check EXPERIMENT` and `run --dry-run` (issue 13): validate without root and
print the plan; mistakes are reported at the experiment's lines, exit status 1."""
from pathlib import Path

from orchestrator.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_check_prints_the_plan_with_every_emulated_parameter(capsys):
    assert main(["check", str(REPO / "experiments" / "fig10.yaml")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == ("plan: 2 configuration(s) x 3 scenario(s) x 10 repetition(s) = "
                      "60 handovers, seed 6252")
    assert ("    * links.wan.delay = 40 ms  (experiment configurations.roaming.parameters: "
            "links.wan.delay)") in out                     # set by the experiment
    assert ("    * nodes.ap1.association_latency = 4 ms  (experiment parameters: "
            "kinds.access_point.association_latency)") in out
    assert "      nodes.cn.rtp_interval = 16 ms  (default)" in out
    assert "  scenario mpa: mpa-l2-pre-authentication ap0 -> ap1" in out
    assert "      nodes.nar.conflict_check = on  (default)" in out      # dnsmasq pings first


def test_a_switch_set_in_kinds_is_shown_off_with_its_source(capsys):
    """c6-corridor turns its DHCP servers' conflict check off in kinds: (the nAR's DAD
    checks a pre-configured nCoA); the plan and the report say 'off' and where."""
    assert main(["check", str(REPO / "experiments" / "c6.yaml")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "      nodes.ca-a.conflict_check = off  (topology kinds.configuration_agent)" in out


def test_run_dry_run_is_check_and_runs_nothing(capsys, tmp_path):
    exp = REPO / "tests" / "experiment" / "valid" / "minimal.yaml"
    assert main(["run", "--dry-run", "--results", str(tmp_path), str(exp)]) == 0
    assert "plan: 1 configuration(s) x 1 scenario(s) x 2 repetition(s)" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_check_reports_problems_at_the_experiments_line(capsys, monkeypatch):
    errors = REPO / "tests" / "experiment" / "errors"
    monkeypatch.chdir(errors)
    assert main(["check", "override-beyond-limit.yaml", "repetitions-true.yaml"]) == 1
    err = capsys.readouterr().err
    assert (errors / "override-beyond-limit.expected").read_text() in err
    assert (errors / "repetitions-true.expected").read_text() in err
