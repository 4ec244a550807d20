"""A movement on the real emulated network (issue 16): the MN walks along a corridor, its
radio reports scans, its policy pre-authenticates with the yard's PAA and hands over; at a
jog MPA finishes before the handover (PSK_ap: no EAP after the move), at 100 m/s it does not
(EAP-TLS after the move). The topology is the test's own (tests/integration/topologies/
corridor.yaml): nothing is found by a name the runner assumed."""
import json
from pathlib import Path

import pandas as pd
import pytest

from orchestrator.events import read_events
from orchestrator.experiment.movement import plot_repetition
from orchestrator.experiment.runner import execute, new_run

HERE = Path(__file__).parent
pytestmark = [pytest.mark.root, pytest.mark.timeout(600)]


def test_a_walk_and_a_dash_along_the_corridor(tmp_path):
    run = new_run(str(HERE / "experiments" / "corridor-walk.yaml"), results=str(tmp_path))
    execute(run)
    progress = [json.loads(l) for l in (run.dir / "progress.jsonl").read_text().splitlines()]
    assert [p["status"] for p in progress] == ["ok", "ok"], progress
    df = pd.read_csv(run.dir / "records.csv")
    v = {(r.scenario, r.phase): r.value for r in df.itertuples()}
    assert set(df.mobile_node) == {"walker"}
    # the jog: prepared in time, the handover used the PSK_ap of the MPA-SA
    assert v[("jog", "mpa_completed")] == 1.0
    assert v[("jog", "Tauth")] > 0 and v[("jog", "Tpsk")] > 0
    assert 3.0 < v[("jog", "D")] < 15.0           # link-going-down (14.7 m) to hand over (~21.6 m)
    assert v[("jog", "speed")] == pytest.approx(4.0)
    # the dash: the handover came before MPA could finish
    assert v[("dash", "mpa_completed")] == 0.0
    for name in ("jog", "dash"):
        rep = json.loads((run.dir / "movement" / "c" / name / "rep1.json").read_text())
        hos = rep["movement"]["handovers"]
        assert [(h["source"], h["ap"], h["status"]) for h in hos] == [("west", "east", "ok")]
        assert hos[0]["pmksa"] == ("mpa" if name == "jog" else "eap")
        assert rep["samples"][-1]["serving"] == "east"
        assert len(rep["samples"]) == len(rep["plan"]["distance_at"])
        out = plot_repetition(run.dir / "movement" / "c" / name / "rep1.json",
                              tmp_path / f"map-{name}")
        assert all(Path(p).stat().st_size > 1000 for p in out)
    # positions and signals are in the MN's events, and the PAA pre-authenticated it
    events = [json.loads(l) for l in (run.dir / "events.jsonl").read_text().splitlines()]
    samples = [e for e in events if e["event"] == "radio_sample"]
    assert len(samples) >= 90 and all(e["node"] == "walker" for e in samples)
    assert {tuple(e["attrs"]["scan"]) for e in samples} >= {("west", "east")}
    assert [e for e in events if e["node"] == "r-yard" and e["event"] == "tconf_done"]
