"""The RFC's measured values, transcribed with their figure cited (see each CSV's header).

Each `<table>.csv` starts with '#' lines: the citation (first line), notes, a line naming the
RFC's columns and what an experiment maps onto them, and the field names:

    # columns (configurations): non-roaming, roaming
    # scheme,roaming,phase,ms

An experiment compares its own runs with the RFC only where it says so (`reference:` in the
experiment file, e.g. `{table: rfc6252_fig10, columns: {roaming: tri}}`: the RFC's roaming
column beside the configuration `tri`); `columns()` is what that mapping may name. Standard
library only: the experiment loader validates the mapping with it.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

HERE = Path(__file__).parent
_COLUMNS = re.compile(r"^# columns \((configurations|scenarios)\): ([^()]+)")


def tables() -> list[str]:
    """The reference tables there are (CSV file stems)."""
    return sorted(p.stem for p in HERE.glob("*.csv"))


def load(name: str) -> list[dict]:
    """Rows of reference/<name>.csv; '#' lines are the citation and the column header."""
    path = HERE / f"{name}.csv"
    lines = path.read_text().splitlines()
    header = next(l for l in lines if l.startswith("# ") and "," in l and " " not in l[2:].split(",")[0])
    fields = header[2:].split(",")
    rows = [l for l in lines if l and not l.startswith("#")]
    out = []
    for row in csv.DictReader(rows, fieldnames=fields):
        out.append({k: (float(v) if k == "ms" else v) for k, v in row.items()})
    return out


def columns(name: str) -> tuple[str, list[str]] | None:
    """(what the columns are matched with: 'configurations' or 'scenarios', the RFC's column
    names) of a reference table, or None if the table declares no columns."""
    path = HERE / f"{name}.csv"
    if not path.is_file():
        return None
    for line in path.read_text().splitlines():
        m = _COLUMNS.match(line)
        if m:
            return m.group(1), [c.strip() for c in m.group(2).split(",") if c.strip()]
    return None


def citation(name: str) -> str:
    return (HERE / f"{name}.csv").read_text().splitlines()[0].lstrip("# ")
