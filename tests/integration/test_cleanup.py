"""Scoped cleanup: after destroy, and after kill -9 of a deploy + clean, nothing is left.

"Nothing" is checked two ways: the journal's own objects, and everything in the root
namespace that carries the testbed's name prefix (bridges, veth ends, namespaces).
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.network.build import deploy
from orchestrator.network.cleanup import leftovers, pids_in_netns
from orchestrator.network.state import Journal, deployed, state_root
from orchestrator.testbed import destroy
from tests.conftest import root_objects_with

REPO = Path(__file__).resolve().parents[2]
FIG9 = str(REPO / "topologies/fig9-l2-preauth-roaming.yaml")
pytestmark = [pytest.mark.root, pytest.mark.timeout(300)]


def _alive(pids):
    return [p for p in pids if Path(f"/proc/{p}").exists()
            and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]


def test_destroy_leaves_nothing(tmp_path):
    j = deploy(FIG9, name="t-destroy", results=str(tmp_path))
    pids = [p["pid"] for p in j.processes]
    netns = list(j.netns)
    assert root_objects_with(j.prefix)                  # it did create things
    destroy("t-destroy")
    assert leftovers(j) == []
    assert root_objects_with(j.prefix) == []
    assert _alive(pids) == []
    assert not any(Path(f"/run/netns/{n}").exists() for n in netns)
    assert "t-destroy" not in deployed()


def _journal_file(name):
    return state_root() / name / "state.json"


@pytest.mark.parametrize("kill_when", ["hosts", "links", "up"])
def test_kill_9_then_clean_leaves_nothing(tmp_path, kill_when):
    name = f"t-kill-{kill_when}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "deploy", FIG9,
                             "--name", name, "--results", str(tmp_path)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            state = json.loads(_journal_file(name).read_text())
        except (OSError, ValueError):
            state = {}
        if (kill_when == "hosts" and len(state.get("netns", [])) >= 3) or \
           (kill_when == "links" and len(state.get("links", [])) >= 8) or \
           (kill_when == "up" and proc.poll() is not None):
            break
        time.sleep(0.005)
    else:
        pytest.fail(f"deploy never reached '{kill_when}'")
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    j = Journal.load(name)
    assert j.prefix
    r = subprocess.run([sys.executable, "-m", "orchestrator.cli", "clean", name], cwd=REPO,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert leftovers(j) == []
    assert root_objects_with(j.prefix) == []
    assert _alive([p["pid"] for p in j.processes]) == []
    assert name not in deployed()
