"""Concurrent handovers as an experiment (issue 17), reduced: 5 MNs of fig9 pre-authenticate
with MPA and hand over at once, then 4 as a Poisson stream (tests/integration/experiments/
crowd-mini.yaml); every MN's handover is recorded, the report has percentiles and a CDF.
experiments/crowd.yaml is the 100-MN version (make crowd)."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from orchestrator.experiment.concurrent import ARRIVAL_PHASE, arrival_offsets
from orchestrator.network.state import deployed

HERE = Path(__file__).parent
REPO = HERE.parents[1]
pytestmark = [pytest.mark.root, pytest.mark.timeout(600)]


def test_five_mns_at_once_and_four_as_a_poisson_stream_each_recorded(tmp_path):
    r = subprocess.run([sys.executable, "-m", "orchestrator.cli", "run",
                        str(HERE / "experiments" / "crowd-mini.yaml"), "--results", str(tmp_path)],
                       cwd=REPO, capture_output=True, text=True, timeout=500)
    assert r.returncode == 0, r.stderr[-3000:]
    assert not [n for n in deployed() if n.startswith("crowd-mini")]
    [run] = list((tmp_path / "crowd-mini").glob("*/"))
    progress = [json.loads(line) for line in (run / "progress.jsonl").read_text().splitlines()]
    assert [(p["scenario"], p["status"], p["ok"]) for p in progress] == [
        ("at-once", "ok", 5), ("poisson", "ok", 4)], progress
    df = pd.read_csv(run / "records.csv")
    assert (df.status == "ok").all(), df[df.status != "ok"][["mobile_node", "error"]]
    for scen, mns in (("at-once", 5), ("poisson", 4)):
        s = df[df.scenario == scen]
        assert sorted(s.mobile_node.unique()) == sorted(f"mn{i}" for i in range(1, mns + 1))
        for phase in ("Tauth", "Tconf", "Tassoc", "T4way", "Time affecting handover", ARRIVAL_PHASE):
            assert len(s[s.phase == phase]) == mns, (scen, phase)   # one per MN
        assert (s["concurrent:mobile_nodes"] == mns).all()
    # each MN's Tconf is the PAA's installation for that MN's station: as many distinct
    # installations as MNs, each into both of network A's APs
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    done = [e for e in events if e["event"] == "tconf_done"]
    assert len({e["attrs"]["sta"] for e in done}) == 5 and len(done) == 9
    assert all(sorted(e["attrs"]["installed"]) == ["ap1", "ap2", "nar"] and not e["attrs"]["failed"]
               for e in done), done
    assert not [e for e in events if e["event"] == "keyinstall_rejected"]
    # the Poisson stream started when the seeded draws say (never before)
    p = df[(df.scenario == "poisson") & (df.phase == "Tauth")].sort_values("arrival_ms")
    expected = arrival_offsets(4, "poisson", 10.0, 3, "poisson", 1)
    assert p.arrival_ms.tolist() == pytest.approx([round(x * 1e3, 3) for x in expected])
    assert (p.started_ms >= p.arrival_ms - 1.0).all(), p[["arrival_ms", "started_ms"]]
    at_once = df[(df.scenario == "at-once") & (df.phase == "Tauth")]
    assert (at_once.arrival_ms == 0).all()
    # the layer-2 flows set up no tunnel: the MNs' charons were not started, the ARs' were
    [bed] = list((run / "testbeds" / "runs").glob("*/"))
    assert not list(bed.glob("logs/mn*/charon.log")) and (bed / "logs" / "nar" / "charon.log").exists()
    assert len(list(bed.glob("logs/mn*/mpa-agent.log"))) == 5
    readme = (run / "README.md").read_text()
    assert "## Concurrent handovers: percentiles over MNs" in readme
    assert (run / "figures" / "concurrency-cdf.png").exists()
    table = pd.read_csv(run / "tables" / "concurrency.csv")
    row = table[(table.scenario == "at-once") & (table.phase == "Time affecting handover")].iloc[0]
    assert row.ok == 5 and row.failed == 0 and row.p50 <= row.p90 <= row.p99 <= row["max"]
