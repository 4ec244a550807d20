"""The event log: JSON lines with CLOCK_MONOTONIC nanosecond timestamps.

Every emitter (controller, agents) appends to its own file `<run>/events/<node>.jsonl`;
the runner merges them. `time.perf_counter_ns()` is CLOCK_MONOTONIC on Linux, the same
clock in every network namespace, so timestamps of different nodes are comparable.

A record: {"node", "role", "event", "phase", "mono_ns", "wall", "attrs"}.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Iterator

PHASES = ("discovery", "pre-authentication", "pre-configuration", "binding-update",
          "pre-switching", "switching", "post-switching", "setup")


class EventLog:
    def __init__(self, path: str | Path, node: str, role: str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.node, self.role = node, role
        # O_APPEND: one write() per record, so concurrent writers never interleave lines
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def emit(self, event: str, phase: str = "setup", mono_ns: int | None = None, **attrs) -> dict:
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; expected one of {PHASES}")
        record = {"node": self.node, "role": self.role, "event": event, "phase": phase,
                  "mono_ns": time.perf_counter_ns() if mono_ns is None else mono_ns,
                  "wall": time.time(), "attrs": attrs}
        os.write(self._fd, (json.dumps(record, separators=(",", ":")) + "\n").encode())
        return record

    def close(self) -> None:
        os.close(self._fd)


def read_events(run_dir: str | Path) -> list[dict]:
    """All records of a run, ordered by monotonic time."""
    records: list[dict] = []
    for path in sorted(Path(run_dir, "events").glob("*.jsonl")):
        records.extend(_read(path))
    return sorted(records, key=lambda r: r["mono_ns"])


def _read(path: Path) -> Iterator[dict]:
    with path.open() as fh:
        for line in fh:
            line = line.strip()
            if line:
                yield json.loads(line)
