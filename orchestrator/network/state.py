"""The testbed's journal: everything it creates is recorded *before* it is created.

`destroy` and `clean` read the journal and remove exactly those objects, so that a
`kill -9` of the orchestrator in the middle of a deploy leaves nothing that `clean` cannot
find. Nothing here ever removes an object by pattern or kills a process by name.

State lives in $MPA_STATE_DIR (default /run/mpa-testbed), one directory per testbed:
  state.json   the journal (rewritten atomically on every change)
  api.sock     the controller's API socket
"""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path


def state_root() -> Path:
    return Path(os.environ.get("MPA_STATE_DIR", "/run/mpa-testbed"))


def proc_start_time(pid: int) -> int | None:
    """Start time of a process (clock ticks since boot), to tell a PID from its reuse."""
    try:
        return stat_start_time(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return None


def stat_start_time(stat: str) -> int | None:
    """Field 22 (starttime) of a /proc/<pid>/stat text (also one read on another machine);
    None for an empty or garbled one."""
    try:
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return None


@dataclass
class Journal:
    name: str
    prefix: str
    topology_file: str
    run_dir: str
    status: str = "deploying"
    netns: list[str] = field(default_factory=list)
    bridges: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)          # root-namespace veth ends
    processes: list[dict] = field(default_factory=list)     # {pid, start, what, node}
    nodes: dict[str, dict] = field(default_factory=dict)    # node -> {netns, kind, ...}
    switches: dict[str, dict] = field(default_factory=dict)  # model name -> {bridge, dpid}
    controller: dict = field(default_factory=dict)
    emulation: dict = field(default_factory=dict)          # report of delays, verification
    servers: dict = field(default_factory=dict)            # split testbeds: server -> {alias, sshd}
    # node -> SSH target and node-side root of a node on a machine (deploy/remote.py)
    remote: dict[str, dict] = field(default_factory=dict)
    created_at: float = 0.0

    @property
    def dir(self) -> Path:
        return state_root() / self.name

    @property
    def api_socket(self) -> str:
        return str(self.dir / "api.sock")

    def save(self) -> None:
        """Written before each thing is created (hundreds of times for 100 MNs): the fields
        as they are (asdict's deep copy was 6 of the 11 ms a save took at 110 hosts) and
        compact JSON (`mpa-testbed inspect --json` prints it readably)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / "state.json.tmp"
        with open(tmp, "w") as fh:
            json.dump({f.name: getattr(self, f.name) for f in fields(self)}, fh,
                      separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.dir / "state.json")

    # record-then-create helpers
    def will_create_netns(self, name: str) -> None:
        self.netns.append(name)
        self.save()

    def will_create_bridge(self, name: str) -> None:
        self.bridges.append(name)
        self.save()

    def will_create_link(self, name: str) -> None:
        self.links.append(name)
        self.save()

    def started(self, pid: int, what: str, node: str | None = None) -> None:
        self.processes.append({"pid": pid, "start": proc_start_time(pid), "what": what,
                               "node": node})
        self.save()

    @classmethod
    def load(cls, name: str) -> "Journal":
        path = state_root() / name / "state.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise LookupError(f"no testbed named '{name}' is deployed "
                              f"(no {path}); see 'mpa-testbed inspect --all'") from None
        return cls(**data)


def deployed() -> list[str]:
    root = state_root()
    if not root.is_dir():
        return []
    return sorted(p.parent.name for p in root.glob("*/state.json"))


def new_prefix() -> str:
    """A short prefix, unique among deployed testbeds, for names in the root namespace."""
    taken = set()
    for name in deployed():
        try:
            taken.add(Journal.load(name).prefix)
        except (LookupError, ValueError, TypeError):
            pass
    while True:
        prefix = "m" + secrets.token_hex(2)[:3]
        if prefix not in taken:
            return prefix
