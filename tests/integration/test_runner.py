"""The experiment runner: records of every repetition, emulated parameters in every row,
and an interrupted run that --resume completes without repeating what was done."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from orchestrator.network.state import deployed

HERE = Path(__file__).parent
REPO = HERE.parents[1]
pytestmark = [pytest.mark.root, pytest.mark.timeout(600)]


def run_cli(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "orchestrator.cli", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_interrupted_run_resumes(tmp_path):
    exp = str(HERE / "experiments" / "mini.yaml")
    proc = run_cli("run", exp, "--results", str(tmp_path))
    progress = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = list((tmp_path / "mini").glob("*/progress.jsonl"))
        if runs and runs[0].read_text().count("\n") >= 1:
            progress = runs[0]
            break
        time.sleep(0.05)
    assert progress is not None, proc.communicate(timeout=60)
    proc.send_signal(signal.SIGINT)                     # Ctrl-C in the middle of the run
    proc.communicate(timeout=120)
    done_before = [json.loads(l) for l in progress.read_text().splitlines()]
    assert 1 <= len(done_before) < 3
    assert not [n for n in deployed() if n.startswith("mini")]   # the testbed was torn down
    r = run_cli("run", exp, "--results", str(tmp_path), "--resume")
    out, err = r.communicate(timeout=300)
    assert r.returncode == 0, err
    done = [json.loads(l) for l in progress.read_text().splitlines()]
    assert sorted(d["repetition"] for d in done) == [1, 2, 3]          # each exactly once
    assert all(d["status"] == "ok" for d in done), done
    df = pd.read_csv(progress.parent / "records.csv")
    assert sorted(df.repetition.unique()) == [1, 2, 3]
    assert set(df.phase) >= {"Tauth", "Tconf", "Tassoc", "T4way", "Tassoc+4way", "Total",
                             "Time affecting handover"}
    assert (df["param:kinds.access_point.association_latency"] == "5ms").all()
    for ap in ("ap0", "ap1", "ap2"):
        assert (df[f"emulated:nodes.{ap}.association_latency[ms]"] == 5.0).all()
    assert set(df.mobile_node) == {"mn"} and set(df.base_configuration) == {"non-roaming"}
    # the response leaves the configured latency after the request (one clock): never less;
    # how much more is the emulation's cost on a loaded machine (bench/l2_floor.py)
    tassoc = df[df.phase == "Tassoc"].ms
    assert (tassoc >= 5.0).all(), tassoc.tolist()
