"""Shared fixtures. Tests marked `root` build real testbeds (Mininet, Open vSwitch)."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0 and shutil.which("ovs-vsctl"):
        return
    skip = pytest.mark.skip(reason="needs root and Open vSwitch (run `make test` as root)")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _isolated_state(tmp_path_factory):
    """Each test session keeps its testbed journals apart from any deployed by hand."""
    state = tmp_path_factory.mktemp("mpa-state")
    os.environ["MPA_STATE_DIR"] = str(state)
    yield state


def root_objects_with(prefix: str) -> list[str]:
    """Anything in the root namespace whose name starts with a testbed's prefix."""
    out = []
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    out += [ln.split(":")[1].strip().split("@")[0] for ln in links.splitlines()
            if ln.split(":")[1].strip().startswith(prefix)]
    brs = subprocess.run(["ovs-vsctl", "list-br"], capture_output=True, text=True).stdout.split()
    out += [b for b in brs if b.startswith(prefix)]
    nss = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    out += [n.split()[0] for n in nss.splitlines() if n.startswith(f"mpa-{prefix}-")]
    return out
