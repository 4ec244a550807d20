"""C.1's hysteresis and dwell sweep by simulation (mobility/pingpong.py): seeded and
repeatable, the ping-pong falls as the margin or the timer grows, and the time on a weaker
AP (their cost) rises; the summary, the table and the figure from a small grid."""
import math

import pytest

from orchestrator.mobility import pingpong
from orchestrator.mobility.pingpong import Border, run_one, summary, sweep

SMALL = dict(hystereses=(0.0, 3.0, 6.0), dwells=(0.0, 1.0), seeds=(1, 2))


@pytest.fixture(scope="module")
def table():
    return {(r["hysteresis_db"], r["dwell_s"]): r for r in summary(sweep(**SMALL))}


def test_one_run_is_fixed_by_its_seed():
    a, b = run_one(Border(), 0.0, 0.0, 1), run_one(Border(), 0.0, 0.0, 1)
    assert a == b and a["crossings"] == 6 and a["duration_s"] == pytest.approx(120.0)
    others = [run_one(Border(), 0.0, 0.0, s)["handovers"] for s in (2, 3, 4)]
    assert any(h != a["handovers"] for h in others)     # another street, other decisions


def test_without_shadowing_each_crossing_is_one_handover():
    """A smooth border: the relative condition flips once per crossing (at the midpoint,
    20 s apart: no return within the 5 s window is a ping-pong)."""
    r = run_one(Border(sigma=0.0), 0.0, 0.0, 1)
    assert (r["handovers"], r["ping_pongs"]) == (6, 0)
    fast = run_one(Border(sigma=0.0, speed=10.0), 0.0, 0.0, 1)     # 2 s legs
    assert (fast["handovers"], fast["ping_pongs"]) == (6, 5)        # each return counts


def test_margin_and_timer_avoid_the_ping_pong_and_cost_signal(table):
    base = table[(0.0, 0.0)]
    assert base["ping_pongs"] > 0 and base["ping_pongs_avoided"] == 0
    for h, d in table:
        assert table[(h, d)]["ping_pongs"] <= base["ping_pongs"]
    assert table[(3.0, 0.0)]["ping_pongs"] < base["ping_pongs"]
    assert table[(0.0, 1.0)]["ping_pongs"] < base["ping_pongs"]
    assert table[(3.0, 1.0)]["ping_pongs"] <= min(table[(3.0, 0.0)]["ping_pongs"],
                                                  table[(0.0, 1.0)]["ping_pongs"])
    assert table[(6.0, 1.0)]["ping_pongs"] == 0 and table[(6.0, 1.0)]["ping_pongs_avoided"] == 1
    # the cost: more time with an AP > 3 dB weaker than the best heard
    assert table[(6.0, 0.0)]["weaker_share"] > table[(0.0, 0.0)]["weaker_share"]
    assert table[(6.0, 1.0)]["weaker_share"] > table[(6.0, 0.0)]["weaker_share"]
    assert all(t["crossings"] == 12 and t["seeds"] == 2 for t in table.values())
    assert table[(0.0, 0.0)]["ping_pongs_per_crossing"] == pytest.approx(base["ping_pongs"] / 12)


def test_table_and_figure(tmp_path, table):
    lines = pingpong.markdown(list(table.values()), Border())
    assert lines[4] == "| hysteresis \\ dwell | 0 s | 1 s |"
    assert lines[6].startswith("| 0 dB | ") and "(0%)" in lines[6]
    paths = pingpong.figure(list(table.values()), tmp_path / "pp", Border())
    assert [p.name for p in paths] == ["pp.png", "pp.svg"] and all(p.stat().st_size for p in paths)


def test_the_command_writes_its_files_and_refuses_bad_arguments(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pingpong, "HYSTERESES", (0.0, 3.0))
    monkeypatch.setattr(pingpong, "DWELLS", (0.0,))
    assert pingpong.main(["--out", str(tmp_path), "--seeds", "1"]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"pingpong.csv", "pingpong.md",
                                                   "pingpong.png", "pingpong.svg"}
    assert (tmp_path / "pingpong.csv").read_text().count("\n") == 3     # header + 2 rows
    assert "| 3 dB |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        pingpong.main(["--seeds", "0"])
    with pytest.raises(SystemExit):
        pingpong.main(["--sigma", "nan"])
