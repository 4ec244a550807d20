"""The RFC's measured values, transcribed with their figure cited (see each CSV's header)."""
from __future__ import annotations

import csv
from pathlib import Path

HERE = Path(__file__).parent


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


def citation(name: str) -> str:
    return (HERE / f"{name}.csv").read_text().splitlines()[0].lstrip("# ")
