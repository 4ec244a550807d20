"""Scoped teardown: remove exactly what a testbed's journal says it created.

Order: nodes on machines reached over SSH (deploy/remote.py: their processes by PID, their
node-side files), processes we started (by PID, checked against their recorded start time), then any
process still inside one of *our* namespaces (it can only be ours), then OVS bridges, then
root-namespace veth ends, then the namespaces. Never Mininet's global cleanup, never kill by name.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .state import Journal, proc_start_time


def _alive(proc: dict) -> bool:
    start = proc_start_time(proc["pid"])
    return (start is not None and (proc.get("start") is None or start == proc["start"])
            and _exists(proc["pid"]))


def _netns_inode(name: str) -> int | None:
    try:
        return os.stat(f"/run/netns/{name}").st_ino
    except OSError:
        return None


def pids_in_netns(name: str) -> list[int]:
    """PIDs whose network namespace is the named one (ours)."""
    ino = _netns_inode(name)
    if ino is None:
        return []
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.stat(entry / "ns/net").st_ino == ino:
                    out.append(int(entry.name))
            except OSError:
                pass
    return out


def _terminate(pids: list[int], grace: float = 2.0) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    _wait_gone(pids, grace)
    for pid in pids:
        if _exists(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    _wait_gone(pids, grace)


def _wait_gone(pids: list[int], grace: float) -> None:
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_exists(p) for p in pids):
        time.sleep(0.02)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie child of ours counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def teardown(journal: Journal) -> list[str]:
    """Remove everything in the journal; returns what was removed (for the report)."""
    removed: list[str] = []
    if journal.remote:                 # first: over SSH, maybe through our namespaces
        from ..deploy.remote import teardown as remote_teardown
        removed += remote_teardown(journal)
    procs = [p for p in journal.processes if _alive(p)]
    _terminate([p["pid"] for p in procs])
    removed += [f"process {p['pid']} ({p['what']})" for p in procs]
    stray = [pid for ns in journal.netns for pid in pids_in_netns(ns) if pid != os.getpid()]
    _terminate(stray)
    removed += [f"process {pid} (in testbed namespace)" for pid in stray]
    for br in journal.bridges:
        r = subprocess.run(["ovs-vsctl", "--timeout=10", "--if-exists", "del-br", br],
                           capture_output=True, text=True)
        if r.returncode == 0:
            removed.append(f"bridge {br}")
    for link in journal.links:
        if Path(f"/sys/class/net/{link}").exists():
            subprocess.run(["ip", "link", "del", link], capture_output=True)
            removed.append(f"link {link}")
    for ns in journal.netns:
        if Path(f"/run/netns/{ns}").exists():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            removed.append(f"netns {ns}")
    shutil.rmtree(journal.dir, ignore_errors=True)
    return removed


def leftovers(journal: Journal) -> list[str]:
    """What of the journal still exists (empty after a good teardown)."""
    left = [f"process {p['pid']} ({p['what']})" for p in journal.processes if _alive(p)]
    left += [f"netns {ns}" for ns in journal.netns if Path(f"/run/netns/{ns}").exists()]
    left += [f"link {ln}" for ln in journal.links if Path(f"/sys/class/net/{ln}").exists()]
    if journal.bridges:
        r = subprocess.run(["ovs-vsctl", "--timeout=10", "list-br"], capture_output=True, text=True)
        have = set(r.stdout.split())
        left += [f"bridge {b}" for b in journal.bridges if b in have]
    return left
