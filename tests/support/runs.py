"""Running an experiment as a user does (`mpa-testbed run`) into a temporary results folder,
for the integration tests that check a whole run."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_experiment(results: Path, experiment: str, name: str, *options: str,
                   timeout: float = 560) -> Path:
    """The run directory of `experiment` (path relative to the repository) run into
    `results`; the experiment's `name` is its folder there."""
    r = subprocess.run([sys.executable, "-m", "orchestrator.cli", "run", experiment,
                        *options, "--results", str(results)], cwd=REPO, capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    [new] = (results / name).glob("*")
    return new
