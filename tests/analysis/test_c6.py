"""RFC 6252 C.6 (analysis/reproductions/c6.py) from a synthetic run directory whose runs
behave like the formula: MPA finishes iff D / v exceeds the measured budget."""
import math

import pytest

from orchestrator.analysis.records import RunData
from orchestrator.analysis.reproduction import registered
from tests.analysis import synthetic

D, TDISC, TAUTH, TPSK, TCONF = 7.0, 5.0, 200.0, 10.0, 100.0
SPEEDS = (5, 10, 20, 40, 80)


def _run(tmp_path, flip: bool = False) -> RunData:
    records, scen = {}, {"pre-authentication": [], "pre-configuration": []}
    for depth, budget in (("pre-authentication", TDISC + TAUTH + TPSK),
                          ("pre-configuration", TDISC + TAUTH + TPSK + TCONF)):
        for v in SPEEDS:
            name = f"{depth[4:8]}-{v}"
            scen[depth].append(name)
            for rep in (1, 2):
                done = (D / v * 1e3 > budget) != flip
                values = {"speed": (v, "m/s"), "mpa_completed": (float(done), "bool"),
                          "handover_delay": (15.0 if done else 60.0, "ms"), "D": (D, "m"),
                          "Tdisc": (TDISC, "ms"), "Tauth": (TAUTH, "ms"), "Tpsk": (TPSK, "ms")}
                if depth == "pre-configuration":
                    values["Tconf"] = (TCONF, "ms")
                records[(name, rep)] = values
    spec = {"name": "c6", "repetitions": 2,
            "reference": {"table": "rfc6252_c6", "columns": scen},
            "scenarios": [{"name": n, "flow": "movement"} for names in scen.values() for n in names]}
    synthetic.write_run(tmp_path, "c6", "movement", records, spec)
    return RunData.load(tmp_path)


def test_the_limit_comes_from_the_measured_times(tmp_path):
    c6 = registered()["rfc6252_c6"]
    run = _run(tmp_path)
    tables = {k: v for f in c6._tables for k, v in f(run).items()}
    lim = tables["c6_limits.csv"].set_index("depth")
    assert lim.loc["pre-authentication", "predicted_limit_mps"] == pytest.approx(D / 0.215)
    assert lim.loc["pre-configuration", "predicted_limit_mps"] == pytest.approx(D / 0.315)
    assert lim.loc["pre-authentication", "fastest_all_completed_mps"] == 20
    assert lim.loc["pre-authentication", "slowest_not_completed_mps"] == 40
    assert lim.loc["pre-configuration", "fastest_all_completed_mps"] == 20
    ok = tables["c6_success.csv"]
    assert list(ok[ok.depth == "pre-configuration"].success_rate) == [1, 1, 1, 0, 0]
    assert "476.2 ft/s (the RFC prints ~500)" in tables["c6.md"]
    checks = c6.run_checks(run)
    assert all(c["ok"] for c in checks), [c for c in checks if not c["ok"]]
    assert [c["id"] for c in checks] == ["a", "b", "a", "b", "c", "d", "d"]
    figs = c6.write_figures(run, tmp_path / "figures")
    assert [p.suffix for p in figs] == [".png", ".svg"]


def test_runs_that_contradict_the_formula_fail_the_checks(tmp_path):
    c6 = registered()["rfc6252_c6"]
    checks = c6.run_checks(_run(tmp_path, flip=True))
    verdict = {(c["id"], c["check"].split("[")[-1]): c["ok"] for c in checks}
    assert verdict[("a", "pre-authentication only, rtt]")] is False
    assert verdict[("b", "pre-authentication only, rtt]")] is False
    assert math.isclose(next(c["measured"] for c in checks if c["id"] == "d"), 100 / 0.21)
